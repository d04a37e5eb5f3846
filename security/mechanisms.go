package security

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
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
	// detail is why, for the broker's log only (an OAUTHBEARER token's
	// validation failure); never a secret.
	detail string
}

func (e *authError) Error() string { return e.clientMsg }

// logText is the error as logged: the client's message and the detail.
func logText(err error) string {
	var ae *authError
	if errors.As(err, &ae) && ae.detail != "" {
		return ae.clientMsg + ": " + ae.detail
	}
	return err.Error()
}

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
		return PlainMessage{}, &authError{clientMsg: "Invalid SASL/PLAIN response: expected 3 tokens, got " + itoa(len(tokens))}
	}
	m := PlainMessage{AuthzID: tokens[0], User: tokens[1], Password: tokens[2]}
	if m.User == "" {
		return PlainMessage{}, &authError{clientMsg: "Authentication failed: username not specified"}
	}
	if m.Password == "" {
		return PlainMessage{}, &authError{clientMsg: "Authentication failed: password not specified"}
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
		return nil, false, &authError{clientMsg: "Authentication failed: Invalid username or password"}
	}
	if m.AuthzID != "" && m.AuthzID != m.User {
		return nil, false, &authError{clientMsg: "Authentication failed: Client requested an authorization id that is different from username"}
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

// scramServer runs a SCRAM exchange. github.com/xdg-go/scram parses the
// client-first message (gs2 header, user name with =2C/=3D, authzid) and
// makes the server-first message with a fresh server nonce; the
// client-final message is checked here as Kafka's ScramSaslServer does:
// its nonce must end with the server-first nonce (Kafka's rule, which
// librdkafka's client relies on: it repeats its own nonce in front, which
// xdg-go's exact comparison refuses), the channel binding must be the gs2
// header, and the proof must match the stored key (constant time). A
// failure of any kind answers Kafka's generic message, so that a client
// cannot learn whether a user exists.
type scramServer struct {
	mech    controller.ScramMechanism
	conv    *scram.ServerConversation
	hash    func() hash.Hash
	step    int
	generic string

	cred        controller.ScramCredential // found by the lookup in step 1
	serverFinal string
	gs2, bare   string // client-first: gs2 header, the rest
	serverFirst string
	nonce       string
}

func newScramServer(store CredentialStore, mech controller.ScramMechanism, reauth bool) (*scramServer, error) {
	hashGen, h := scram.SHA256, sha256.New
	if mech == controller.ScramSHA512 {
		hashGen, h = scram.SHA512, sha512.New
	}
	what := "authentication"
	if reauth {
		what = "re-authentication"
	}
	s := &scramServer{mech: mech, hash: h,
		generic: "Authentication failed during " + what + " due to invalid credentials with SASL mechanism " + mech.Name()}
	srv, err := hashGen.NewServer(func(user string) (scram.StoredCredentials, error) {
		if store == nil {
			return scram.StoredCredentials{}, errors.New("no credential store")
		}
		c, ok := store.ScramCredential(user, mech)
		if !ok || c.Iterations < minScramIterations {
			return scram.StoredCredentials{}, errors.New("invalid user credentials")
		}
		s.cred = c
		return scram.StoredCredentials{
			KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: int(c.Iterations)},
			StoredKey:  c.StoredKey,
			ServerKey:  c.ServerKey,
		}, nil
	})
	if err != nil {
		return nil, err
	}
	s.conv = srv.NewConversation()
	return s, nil
}

func (s *scramServer) Step(token []byte) ([]byte, bool, error) {
	s.step++
	switch s.step {
	case 1:
		reply, err := s.conv.Step(string(token))
		if err != nil {
			return nil, false, &authError{clientMsg: s.generic}
		}
		if az := s.conv.AuthzID(); az != "" && az != s.conv.Username() {
			return nil, false, &authError{clientMsg: "Authentication failed: Client requested an authorization id that is different from username"}
		}
		msg := string(token)
		i := strings.IndexByte(msg, ',')
		j := -1
		if i >= 0 {
			j = strings.IndexByte(msg[i+1:], ',')
		}
		if j < 0 || !strings.HasPrefix(reply, "r=") {
			return nil, false, &authError{clientMsg: s.generic}
		}
		s.gs2, s.bare = msg[:i+1+j+1], msg[i+1+j+1:]
		s.serverFirst = reply
		s.nonce, _, _ = strings.Cut(reply[2:], ",")
		return []byte(reply), false, nil
	case 2:
		if err := s.verifyFinal(string(token)); err != nil {
			return nil, false, &authError{clientMsg: s.generic}
		}
		return []byte(s.serverFinal), true, nil
	}
	return nil, false, &authError{clientMsg: s.generic}
}

// verifyFinal checks client-final-message = channel-binding "," nonce
// ["," extensions] "," proof (RFC 5802) and sets serverFinal.
func (s *scramServer) verifyFinal(msg string) error {
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return errors.New("no proof")
	}
	withoutProof := msg[:i]
	proof, err := base64.StdEncoding.DecodeString(msg[i+3:])
	if err != nil {
		return err
	}
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return errors.New("malformed client-final message")
	}
	if cb, err := base64.StdEncoding.DecodeString(attrs[0][2:]); err != nil || string(cb) != s.gs2 {
		return errors.New("channel binding mismatch")
	}
	if !strings.HasSuffix(attrs[1][2:], s.nonce) {
		return errors.New("invalid client nonce in the final client message")
	}
	authMsg := []byte(s.bare + "," + s.serverFirst + "," + withoutProof)
	mac := func(key []byte) []byte {
		m := hmac.New(s.hash, key)
		m.Write(authMsg)
		return m.Sum(nil)
	}
	sig := mac(s.cred.StoredKey)
	if len(proof) != len(sig) {
		return errors.New("proof length")
	}
	clientKey := make([]byte, len(sig))
	for k := range sig {
		clientKey[k] = proof[k] ^ sig[k]
	}
	h := s.hash()
	h.Write(clientKey)
	if subtle.ConstantTimeCompare(h.Sum(nil), s.cred.StoredKey) != 1 {
		return errors.New("invalid client credentials")
	}
	s.serverFinal = "v=" + base64.StdEncoding.EncodeToString(mac(s.cred.ServerKey))
	return nil
}

func (s *scramServer) User() string { return s.conv.Username() }
