package security

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/config"
	"samsa/controller"
	"samsa/protocol"
)

// FuzzParseJAAS: any JAAS line parses or fails with an error, and an
// error never repeats an option value (a password).
func FuzzParseJAAS(f *testing.F) {
	f.Add(`org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="pw";`)
	f.Add(`a required k='v\n\101' /* c */ k2=w // x` + "\n;")
	f.Add("a b; c d e=;")
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := ParseJAAS(s)
		if err == nil && len(entries) == 0 {
			t.Fatal("no entries and no error")
		}
		for _, e := range entries {
			if e.LoginModule == "" && !strings.Contains(s, `""`) && !strings.Contains(s, `''`) {
				t.Fatalf("empty login module from %q", s)
			}
		}
	})
}

// FuzzParsePlain: any SASL/PLAIN message parses into three tokens with a
// user and a password, or fails with one of Kafka's messages.
func FuzzParsePlain(f *testing.F) {
	f.Add([]byte("\x00alice\x00pw"))
	f.Add([]byte("a\x00b"))
	f.Add([]byte("\xff\x00\xfe\x00\xfd"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParsePlain(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "Invalid SASL/PLAIN response") && !strings.HasPrefix(err.Error(), "Authentication failed") {
				t.Fatalf("unexpected error %q", err)
			}
			return
		}
		if m.User == "" || m.Password == "" {
			t.Fatalf("empty user or password accepted: %+v", m)
		}
	})
}

// FuzzPrincipalMappingRules: any rule string parses or fails, and a parsed
// mapper maps any DN without panicking.
func FuzzPrincipalMappingRules(f *testing.F) {
	f.Add("RULE:^CN=(.*?),OU=(.*?)$/$1@$2/L,DEFAULT", "CN=a,OU=b")
	f.Add(`RULE:^(.*)$/\$$1$9/U`, "CN=x")
	f.Add(",,DEFAULT,", "")
	f.Fuzz(func(t *testing.T, rules, dn string) {
		pm, err := ParsePrincipalMappingRules(rules)
		if err != nil {
			return
		}
		_, _ = pm.Name(dn)
	})
}

// FuzzSASLSession drives a SASL session with arbitrary requests and bare
// tokens (PLAIN and SCRAM enabled): whatever arrives, the session answers
// or refuses without panicking, and only a correct PLAIN login
// authenticates.
func FuzzSASLSession(f *testing.F) {
	f.Add([]byte{0, 1, 'P', 'L', 'A', 'I', 'N', 1, 1, 0, 'a', 0, 'p', 'w'})
	f.Add([]byte{0, 1, 'S', 'C', 'R', 'A', 'M', '-', 'S', 'H', 'A', '-', '2', '5', '6', 1, 1, 'n', ',', ',', 'n', '=', 'a', ',', 'r', '=', 'x'})
	f.Add([]byte{0, 0, 'P', 'L', 'A', 'I', 'N', 2, 1, 0, 'a', 0, 'p', 'w', 3, 0})
	f.Fuzz(func(t *testing.T, script []byte) {
		ls, err := buildFuzz()
		if err != nil {
			t.Fatal(err)
		}
		old := failedAuthDelay
		failedAuthDelay = 0
		defer func() { failedAuthDelay = old }()
		s := &saslSession{l: ls.byName["SASL_PLAINTEXT"]}
		// Each step: an op byte, a version byte, then bytes up to the
		// next 0xff as the payload.
		for len(script) >= 2 {
			op, ver := script[0]%4, int16(script[1]%3)
			script = script[2:]
			end := len(script)
			for i, b := range script {
				if b == 0xff {
					end = i
					break
				}
			}
			payload := script[:end]
			if end < len(script) {
				end++
			}
			script = script[end:]
			if s.RawToken() {
				if _, err := s.Token(payload); err != nil {
					return
				}
				continue
			}
			var req kmsg.Request
			switch op {
			case 0:
				hs := kmsg.NewPtrSASLHandshakeRequest()
				hs.Version, hs.Mechanism = min(ver, 1), string(payload)
				req = hs
			case 1:
				au := kmsg.NewPtrSASLAuthenticateRequest()
				au.Version, au.SASLAuthBytes = ver, payload
				req = au
			case 2:
				req = kmsg.NewPtrApiVersionsRequest()
			default:
				req = kmsg.NewPtrMetadataRequest()
			}
			if err := s.Gate(req.Key()); err != nil {
				return
			}
			if _, _, err := s.Intercept(&protocol.Request{Body: req}); err != nil {
				return
			}
			if p := s.Principal(); p != "" && p != "User:a" {
				t.Fatalf("authenticated as %q", p)
			}
		}
	})
}

var fuzzListeners *Listeners

func buildFuzz() (*Listeners, error) {
	if fuzzListeners != nil {
		return fuzzListeners, nil
	}
	cfg, _, err := config.Load("", []string{"log.dirs=/nonexistent-fuzz", "listeners=SASL_PLAINTEXT://127.0.0.1:0",
		"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256",
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_a="pw";`})
	if err != nil {
		return nil, err
	}
	ls, err := Build(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	fuzzListeners = ls
	return ls, err
}

// FuzzOAuthBearer: any OAUTHBEARER client message is accepted only with a
// well-formed unsecured token whose principal is a non-empty string, or
// refused with the error JSON or Kafka's message; never a panic.
func FuzzOAuthBearer(f *testing.F) {
	f.Add([]byte("n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjo0MTAyNDQ0ODAwfQ.\x01\x01"))
	f.Add([]byte("n,a=x,\x01auth=bearer a.b.\x01k=v\x01\x01"))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, msg []byte) {
		o := newOAuthServer(oauthOptions{principalClaim: "sub", scopeClaim: "scope"}, false)
		reply, done, err := o.Step(msg)
		if done && (err != nil || o.User() == "" || len(reply) != 0) {
			t.Fatalf("done with %q %v %q", reply, err, o.User())
		}
		if !done && err == nil && !strings.HasPrefix(string(reply), `{"status":"`) {
			t.Fatalf("neither done nor refused: %q", reply)
		}
		if !done && err == nil {
			if _, _, err := o.Step([]byte{1}); err == nil {
				t.Fatal("^A after an error did not fail")
			}
		}
	})
}

// FuzzScramClientFinal: after a real client-first, any client-final
// message is refused with Kafka's generic message unless it carries the
// right proof; never a panic.
func FuzzScramClientFinal(f *testing.F) {
	f.Add("c=biws,r=abc,p=AAAA")
	f.Add("c=biws,r=,p=")
	f.Add(",p=")
	f.Fuzz(func(t *testing.T, final string) {
		store := credStore{"alice/SCRAM-SHA-256": {Salt: []byte("salt"), StoredKey: make([]byte, 32), ServerKey: make([]byte, 32), Iterations: 4096}}
		s, err := newScramServer(store, controller.ScramSHA256, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, done, err := s.Step([]byte("n,,n=alice,r=clientnonce")); err != nil || done {
			t.Fatalf("client-first: %v", err)
		}
		// An all-zero stored key has no proof that hashes to it.
		if _, done, err := s.Step([]byte(final)); err == nil || done {
			t.Fatalf("client-final %q accepted", final)
		}
	})
}

// FuzzParseJWKS: any document decodes to valid keys or fails; never a
// panic.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"oct","k":""},7,null]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := ParseJWKS(doc)
		if err != nil && keys != nil {
			t.Fatal("keys and an error")
		}
		for _, k := range keys {
			if !k.Valid() {
				t.Fatalf("invalid key returned: %+v", k)
			}
		}
	})
}

// FuzzJWKSToken: any bearer token is refused with invalid_token and a
// reason, or accepted with a principal, by the JWKS validator; never a
// panic, and a signed valid token stays valid.
func FuzzJWKSToken(f *testing.F) {
	s := newTestSigner(f, "k1")
	path := jwksFile(f, s)
	v, err := buildJWKSValidator(map[string]string{"sasl.oauthbearer.jwks.endpoint.url": "file://" + path}, "L", nil, discard)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Add(s.sign(f, jose.ES256, map[string]any{"sub": "a", "iat": now.Unix(), "exp": now.Unix() + 60}))
	f.Add(s.sign(f, jose.ES256, map[string]any{"sub": 1, "iat": -1, "exp": 1e300, "scope": []any{1}}))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		p, _, status, _, reason := v.validate(tok, now)
		switch {
		case status == "" && strings.TrimSpace(p) == "":
			t.Fatalf("accepted without a principal: %q", tok)
		case status != "" && (status != "invalid_token" || reason == "" || p != ""):
			t.Fatalf("refusal %q %q %q", status, reason, p)
		}
	})
}
