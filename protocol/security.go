package protocol

import (
	"log/slog"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// AnonymousPrincipal is the principal of a connection on a PLAINTEXT
// listener, Kafka's KafkaPrincipal.ANONYMOUS.
const AnonymousPrincipal = "User:ANONYMOUS"

// Security secures the connections of one listener: TLS for SSL and
// SASL_SSL, SASL for SASL_PLAINTEXT and SASL_SSL. It is defined here,
// where it is consumed; package security implements it. A listener served
// without one is PLAINTEXT.
type Security interface {
	// Accept runs on the connection's own goroutine before any frame is
	// read. It returns the connection to read and write (nc itself, or a
	// *tls.Conn over it once the TLS handshake is done) and the
	// connection's Session. An error closes the connection; Accept has
	// logged it (one line, never a secret).
	Accept(nc net.Conn, log *slog.Logger) (net.Conn, Session, error)
}

// Session is one connection's authentication state (Kafka's
// Authenticator and the KafkaChannel around it). The read loop calls it
// for every frame, one at a time, so an implementation needs no lock for
// state only these methods touch.
type Session interface {
	// Principal is the authenticated principal, e.g. "User:alice" or
	// "User:CN=client,O=acme"; "" until authentication completes.
	Principal() string
	// RawToken reports whether the next frame is a bare SASL token
	// (after SaslHandshake v0, without KIP-152's SaslAuthenticate
	// framing) rather than a request.
	RawToken() bool
	// Token evaluates a bare SASL token. reply, when not nil, is sent as
	// a size-prefixed frame; an error closes the connection (after reply).
	Token(frame []byte) (reply []byte, err error)
	// Gate sees each request's API key before its body is decoded. An
	// error closes the connection without an answer: a request other
	// than ApiVersions or SaslHandshake before authentication, as Kafka's
	// SaslServerAuthenticator does, or any request once the session has
	// expired (KIP-368) other than the SaslHandshake that starts
	// re-authentication.
	Gate(key int16) error
	// MaxReceive is the largest frame accepted now, in bytes: Kafka's
	// sasl.server.max.receive.size (512 KiB) until a SASL connection has
	// authenticated, 0 (socket.request.max.bytes alone) afterwards. A
	// larger frame closes the connection before it is read.
	MaxReceive() int32
	// Intercept sees each decoded request before the handler. When
	// handled, resp (if not nil) is the answer and the handler is not
	// called; an error closes the connection after resp is sent.
	Intercept(r *Request) (resp kmsg.Response, handled bool, err error)
}
