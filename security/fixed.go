package security

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// fixedSession is the session of an SSL listener: authenticated by the
// TLS handshake, with nothing left to do.
type fixedSession string

func (s fixedSession) Principal() string          { return string(s) }
func (fixedSession) RawToken() bool               { return false }
func (fixedSession) Token([]byte) ([]byte, error) { return nil, nil }
func (fixedSession) Gate(int16) error             { return nil }
func (fixedSession) MaxReceive() int32            { return 0 }
func (fixedSession) Intercept(*protocol.Request) (kmsg.Response, bool, error) {
	return nil, false, nil
}
