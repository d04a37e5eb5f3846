package security

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/xdg-go/scram"

	"samsa/controller"
)

// authError is a failed SASL exchange. clientMsg is what the client is
// told in SaslAuthenticate's error_message (Kafka's wording); it never
// holds a password and, for SCRAM, not even whether the user exists.
type authError struct {
	clientMsg string
}

func (e *authError) Error() string { return e.clientMsg }

// mechServer is one SASL exchange on one connection (Kafka's SaslServer).
type mechServer interface {
	// Step evaluates a client token. done is true once the client is
	// authenticated; reply (possibly empty) goes back to the client.
	Step(token []byte) (reply []byte, done bool, err error)
	// User is the authenticated user once done.
	User() string
}

// PlainMessage is a decoded SASL/PLAIN message (RFC 4616):
// [authzid] NUL authcid NUL passwd.
type PlainMessage struct {
	AuthzID, User, Password string
}

// ParsePlain splits a SASL/PLAIN message as Kafka's PlainSaslServer does:
// exactly three NUL-separated tokens, a non-empty user and password.
// Errors carry Kafka's messages, never the password.
func ParsePlain(b []byte) (PlainMessage, error) {
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	s := string(b)
	tokens := strings.SplitN(s, "\x00", 4)
	if len(tokens) != 3 {
		return PlainMessage{}, &authError{"Invalid SASL/PLAIN response: expected 3 tokens, got " + itoa(len(tokens))}
	}
	m := PlainMessage{AuthzID: tokens[0], User: tokens[1], Password: tokens[2]}
	if m.User == "" {
		return PlainMessage{}, &authError{"Authentication failed: username not specified"}
	}
	if m.Password == "" {
		return PlainMessage{}, &authError{"Authentication failed: password not specified"}
	}
	return m, nil
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// plainServer checks a PLAIN message against the users of the listener's
// JAAS line (user_<name>="<password>", Kafka's
// PlainServerCallbackHandler), comparing in constant time.
type plainServer struct {
	users map[string]string
	user  string
}

func (p *plainServer) Step(token []byte) ([]byte, bool, error) {
	m, err := ParsePlain(token)
	if err != nil {
		return nil, false, err
	}
	want, ok := p.users[m.User]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(m.Password)) != 1 {
		return nil, false, &authError{"Authentication failed: Invalid username or password"}
	}
	if m.AuthzID != "" && m.AuthzID != m.User {
		return nil, false, &authError{"Authentication failed: Client requested an authorization id that is different from username"}
	}
	p.user = m.User
	return []byte{}, true, nil
}

func (p *plainServer) User() string { return p.user }

// CredentialStore holds SCRAM credentials. It is defined here, where it is
// consumed; controller.Single implements it with its Pebble store.
type CredentialStore interface {
	ScramCredential(user string, mechanism controller.ScramMechanism) (controller.ScramCredential, bool)
}

// minScramIterations is Kafka's ScramMechanism.minIterations (4096 for
// both mechanisms); a stored credential below it fails authentication.
const minScramIterations = 4096

// scramServer runs a SCRAM exchange with github.com/xdg-go/scram: the
// client-first message, the server-first with a fresh server nonce, the
// client-final whose nonce must be the client's plus ours and whose proof
// must match the stored key. A failure of any kind answers Kafka's
// generic message, so that a client cannot learn whether a user exists.
type scramServer struct {
	mech    controller.ScramMechanism
	conv    *scram.ServerConversation
	step    int
	generic string
}

func newScramServer(store CredentialStore, mech controller.ScramMechanism, reauth bool) (*scramServer, error) {
	hash := scram.SHA256
	if mech == controller.ScramSHA512 {
		hash = scram.SHA512
	}
	what := "authentication"
	if reauth {
		what = "re-authentication"
	}
	srv, err := hash.NewServer(func(user string) (scram.StoredCredentials, error) {
		if store == nil {
			return scram.StoredCredentials{}, errors.New("no credential store")
		}
		c, ok := store.ScramCredential(user, mech)
		if !ok || c.Iterations < minScramIterations {
			return scram.StoredCredentials{}, errors.New("invalid user credentials")
		}
		return scram.StoredCredentials{
			KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: int(c.Iterations)},
			StoredKey:  c.StoredKey,
			ServerKey:  c.ServerKey,
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return &scramServer{mech: mech, conv: srv.NewConversation(),
		generic: "Authentication failed during " + what + " due to invalid credentials with SASL mechanism " + mech.Name()}, nil
}

func (s *scramServer) Step(token []byte) ([]byte, bool, error) {
	s.step++
	if s.step > 2 {
		return nil, false, &authError{s.generic}
	}
	reply, err := s.conv.Step(string(token))
	if err != nil {
		return nil, false, &authError{s.generic}
	}
	if s.step == 1 {
		if az := s.conv.AuthzID(); az != "" && az != s.conv.Username() {
			return nil, false, &authError{"Authentication failed: Client requested an authorization id that is different from username"}
		}
		return []byte(reply), false, nil
	}
	if !s.conv.Valid() {
		return nil, false, &authError{s.generic}
	}
	return []byte(reply), true, nil
}

func (s *scramServer) User() string { return s.conv.Username() }
