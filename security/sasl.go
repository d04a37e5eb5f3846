package security

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/protocol"
)

// saslState is where a connection is in Kafka's SaslServerAuthenticator
// state machine; doc.go draws it.
type saslState int

const (
	stateHandshakeOrVersions saslState = iota // first request
	stateHandshake                            // ApiVersions answered
	stateAuthenticate                         // handshake done, tokens expected
	stateComplete                             // authenticated
	stateReauthBadMechanism                   // re-authentication asked for another mechanism
)

func (s saslState) String() string {
	switch s {
	case stateHandshakeOrVersions:
		return "HANDSHAKE_OR_VERSIONS_REQUEST"
	case stateHandshake:
		return "HANDSHAKE_REQUEST"
	case stateAuthenticate:
		return "AUTHENTICATE"
	case stateComplete:
		return "COMPLETE"
	}
	return "REAUTH_BAD_MECHANISM"
}

// failedAuthDelay is Kafka's connection.failed.authentication.delay.ms
// default: the answer to a failed authentication, and the close after it,
// wait this long, which slows down password guessing.
var failedAuthDelay = 100 * time.Millisecond

// saslSession is one connection on a SASL listener. The read loop calls
// its methods one at a time, so its fields need no lock.
type saslSession struct {
	l     *listenerSecurity
	state saslState
	// headers is KIP-152 framing (SaslHandshake v1+): tokens come in
	// SaslAuthenticate requests. Without it tokens are bare frames.
	headers bool
	mech    string
	server  mechServer

	principal string // "" until the first authentication completes
	// reauthOK: the client sent SaslAuthenticate v1+, so it knows
	// KIP-368 and may re-authenticate with a new SaslHandshake.
	reauthOK    bool
	reauth      bool          // a re-authentication is in progress
	badMechMsg  string        // stateReauthBadMechanism's message
	expires     time.Time     // zero: the session never expires
	sessionLife time.Duration // connections.max.reauth.ms
	lifetime    time.Duration // of the current session, for session_lifetime_ms
}

func (s *saslSession) Principal() string {
	return s.principal
}

// MaxReceive limits frames to sasl.server.max.receive.size until the
// first authentication completes (Kafka applies it to every frame its
// SaslServerAuthenticator reads: "Failing SASL authentication due to
// invalid receive size").
func (s *saslSession) MaxReceive() int32 {
	if s.principal == "" || s.state != stateComplete {
		return s.l.maxReceive
	}
	return 0
}

func (s *saslSession) RawToken() bool {
	return s.state == stateAuthenticate && !s.headers
}

func (s *saslSession) Gate(key int16) error {
	switch s.state {
	case stateComplete:
		if !s.expires.IsZero() && time.Now().After(s.expires) && key != kmsg.SASLHandshake.Int16() {
			return fmt.Errorf("SASL session expired (connections.max.reauth.ms %d) and the client did not re-authenticate", s.sessionLife.Milliseconds())
		}
		return nil
	case stateHandshakeOrVersions:
		if key == kmsg.ApiVersions.Int16() || key == kmsg.SASLHandshake.Int16() {
			return nil
		}
		return fmt.Errorf("Unexpected Kafka request of type %s during SASL handshake.", apiName(key))
	case stateHandshake:
		if key == kmsg.SASLHandshake.Int16() {
			return nil
		}
		if key == kmsg.ApiVersions.Int16() {
			return fmt.Errorf("Unexpected ApiVersions request received during SASL authentication state %s", s.state)
		}
		return fmt.Errorf("Unexpected Kafka request of type %s during SASL handshake.", apiName(key))
	case stateAuthenticate:
		if key == kmsg.SASLAuthenticate.Int16() {
			return nil
		}
		return fmt.Errorf("Unexpected Kafka request of type %s during SASL authentication.", apiName(key))
	default:
		return errors.New(s.badMechMsg)
	}
}

// apiName is Kafka's ApiKeys enum name, e.g. METADATA.
func apiName(key int16) string {
	n := kmsg.NameForKey(key)
	if n == "" {
		return fmt.Sprintf("UNKNOWN(%d)", key)
	}
	var out []byte
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c >= 'A' && c <= 'Z' && i > 0 {
			out = append(out, '_')
		}
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		out = append(out, c)
	}
	return string(out)
}

func (s *saslSession) Intercept(r *protocol.Request) (kmsg.Response, bool, error) {
	switch req := r.Body.(type) {
	case *kmsg.ApiVersionsRequest:
		if s.state == stateHandshakeOrVersions {
			s.state = stateHandshake
		}
		return nil, false, nil
	case *kmsg.SASLHandshakeRequest:
		if s.state == stateComplete {
			if !s.reauthOK {
				return nil, false, nil // KafkaApis answers ILLEGAL_SASL_STATE
			}
			s.reauth = true
		}
		return s.handshake(req)
	case *kmsg.SASLAuthenticateRequest:
		if s.state != stateAuthenticate {
			return nil, false, nil // after authentication: ILLEGAL_SASL_STATE
		}
		return s.authenticate(req)
	}
	return nil, false, nil
}

func (s *saslSession) handshake(req *kmsg.SASLHandshakeRequest) (kmsg.Response, bool, error) {
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.SupportedMechanisms = slices.Clone(s.l.mechanisms)
	if !slices.Contains(s.l.mechanisms, req.Mechanism) {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		return resp, true, fmt.Errorf("Unsupported SASL mechanism %s", req.Mechanism)
	}
	s.headers = req.Version >= 1
	if s.reauth && req.Mechanism != s.mech {
		s.badMechMsg = fmt.Sprintf("SASL mechanism '%s' requested by client is not supported for re-authentication of mechanism '%s'", req.Mechanism, s.mech)
		s.state = stateReauthBadMechanism
		return resp, true, nil
	}
	srv, err := s.l.newMechServer(req.Mechanism, s.reauth)
	if err != nil {
		return nil, true, err
	}
	s.mech, s.server, s.state = req.Mechanism, srv, stateAuthenticate
	return resp, true, nil
}

func (s *saslSession) authenticate(req *kmsg.SASLAuthenticateRequest) (kmsg.Response, bool, error) {
	if req.Version > 0 {
		s.reauthOK = true
	}
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	reply, done, err := s.step(req.SASLAuthBytes)
	if err != nil {
		time.Sleep(failedAuthDelay)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(err.Error())
		return resp, true, fmt.Errorf("SASL %s failed: %s", s.what(), logText(err))
	}
	resp.SASLAuthBytes = reply
	if done {
		resp.SessionLifetimeMillis = s.lifetime.Milliseconds()
	}
	return resp, true, nil
}

// Token evaluates a bare token (SaslHandshake v0 framing).
func (s *saslSession) Token(frame []byte) ([]byte, error) {
	reply, _, err := s.step(frame)
	if err != nil {
		time.Sleep(failedAuthDelay)
		return nil, fmt.Errorf("SASL %s failed: %s", s.what(), logText(err))
	}
	return reply, nil
}

func (s *saslSession) what() string {
	if s.reauth {
		return "re-authentication"
	}
	return "authentication"
}

// step feeds one token to the mechanism and completes the session when
// the mechanism is done.
func (s *saslSession) step(token []byte) ([]byte, bool, error) {
	reply, done, err := s.server.Step(token)
	if err != nil {
		return nil, false, err
	}
	if !done {
		return reply, false, nil
	}
	principal := "User:" + s.server.User()
	if s.reauth && principal != s.principal {
		return nil, false, &authError{clientMsg: fmt.Sprintf("Cannot change principals during re-authentication from %s: %s",
			userDot(s.principal), userDot(principal))}
	}
	s.principal = principal
	// The session ends at connections.max.reauth.ms, or when the
	// credential (an OAUTHBEARER token) expires if that is sooner.
	s.expires, s.lifetime = time.Time{}, 0
	now := time.Now()
	if s.sessionLife > 0 {
		s.expires, s.lifetime = now.Add(s.sessionLife), s.sessionLife
	}
	if e, ok := s.server.(interface{ Expiry() time.Time }); ok && !e.Expiry().IsZero() && (s.expires.IsZero() || e.Expiry().Before(s.expires)) {
		s.expires, s.lifetime = e.Expiry(), max(e.Expiry().Sub(now), 0)
	}
	s.state, s.reauth, s.server = stateComplete, false, nil
	if reply == nil {
		reply = []byte{}
	}
	return reply, true, nil
}

// userDot renders "User:alice" as Kafka's re-authentication message does,
// "User.alice".
func userDot(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == ':' {
			return p[:i] + "." + p[i+1:]
		}
	}
	return p
}

func (l *listenerSecurity) newMechServer(mech string, reauth bool) (mechServer, error) {
	if mech == "PLAIN" {
		return &plainServer{users: l.plainUsers}, nil
	}
	if mech == "OAUTHBEARER" {
		return newOAuthServer(l.oauth, reauth), nil
	}
	if m, ok := controller.ScramMechanismByName(mech); ok {
		return newScramServer(l.store, m, reauth)
	}
	return nil, fmt.Errorf("SASL mechanism %s is not implemented", mech)
}
