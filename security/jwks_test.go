package security

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testSigner is an EC P-256 key published in a JWKS file.
type testSigner struct {
	key *ecdsa.PrivateKey
	kid string
}

func newTestSigner(t testing.TB, kid string) testSigner {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testSigner{k, kid}
}

func (s testSigner) sign(t testing.TB, alg jose.SignatureAlgorithm, claims map[string]any) string {
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: s.key, KeyID: s.kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := sg.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// jwksFile writes a JWKS with the signer's public key, an unknown key
// type (skipped, as jose4j skips it) and an HMAC key (skipped too:
// Samsa verifies asymmetric signatures only).
func jwksFile(t testing.TB, s testSigner) string {
	pub, _ := json.Marshal(jose.JSONWebKey{Key: &s.key.PublicKey, KeyID: s.kid, Use: "sig"})
	doc := `{"keys":[` + string(pub) + `,{"kty":"XYZ","kid":"odd"},{"kty":"oct","kid":"hmac","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}`
	p := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestJWKSValidatorFile: a file: JWKS, the sasl.oauthbearer.* keys with
// their listener overrides, and the claim checks of Kafka's
// BrokerJwtValidator and ClaimValidationUtils.
func TestJWKSValidatorFile(t *testing.T) {
	s := newTestSigner(t, "k1")
	path := jwksFile(t, s)
	v, err := buildJWKSValidator(map[string]string{
		"sasl.oauthbearer.jwks.endpoint.url":                               "file://" + path,
		"listener.name.sasl.oauthbearer.sasl.oauthbearer.sub.claim.name":   "client_id",
		"listener.name.sasl.sasl.oauthbearer.sub.claim.name":               "ignored",
		"sasl.oauthbearer.clock.skew.seconds":                              "10",
		"listener.name.sasl.sasl.oauthbearer.expected.issuer":              "iss-1",
		"listener.name.other.oauthbearer.sasl.oauthbearer.expected.issuer": "not-this-listener",
	}, "SASL", nil, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer v.keys.close()
	if len(v.keys.current()) != 1 || v.sub != "client_id" || v.issuer != "iss-1" || v.skew != 10*time.Second || v.scope != "scope" {
		t.Fatalf("settings %+v, %d keys", v.jwtSettings, len(v.keys.current()))
	}
	now := time.Unix(1_800_000_000, 0)
	n := now.Unix()
	base := func(mods ...func(map[string]any)) map[string]any {
		c := map[string]any{"client_id": "svc", "iss": "iss-1", "iat": n, "exp": n + 60}
		for _, m := range mods {
			m(c)
		}
		return c
	}
	p, exp, status, _, reason := v.validate(s.sign(t, jose.ES256, base()), now)
	if status != "" || p != "svc" || !exp.Equal(time.Unix(n+60, 0)) {
		t.Fatalf("valid token: %q %v %q %s", p, exp, status, reason)
	}
	if p, _, status, _, _ := v.validate(s.sign(t, jose.ES256, base(func(c map[string]any) { c["exp"] = n - 9; c["iat"] = n - 100 })), now); status != "" || p != "svc" {
		t.Errorf("expired within the 10 s skew: %q", status)
	}
	hmacTok := func() string {
		sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: []byte("secret-secret-secret-secret-secret"), KeyID: "hmac"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(base())
		jws, _ := sg.Sign(b)
		out, _ := jws.CompactSerialize()
		return out
	}()
	for name, tok := range map[string]string{
		"expired beyond the skew": s.sign(t, jose.ES256, base(func(c map[string]any) { c["exp"] = n - 10; c["iat"] = n - 100 })),
		"nbf beyond the skew":     s.sign(t, jose.ES256, base(func(c map[string]any) { c["nbf"] = n + 11 })),
		"wrong issuer":            s.sign(t, jose.ES256, base(func(c map[string]any) { c["iss"] = "iss-2" })),
		"no principal claim":      s.sign(t, jose.ES256, base(func(c map[string]any) { delete(c, "client_id") })),
		"blank principal":         s.sign(t, jose.ES256, base(func(c map[string]any) { c["client_id"] = "  " })),
		"principal not a string":  s.sign(t, jose.ES256, base(func(c map[string]any) { c["client_id"] = 7 })),
		"duplicate scopes":        s.sign(t, jose.ES256, base(func(c map[string]any) { c["scope"] = []string{"a", "a"} })),
		"empty scope":             s.sign(t, jose.ES256, base(func(c map[string]any) { c["scope"] = "" })),
		"exp before iat":          s.sign(t, jose.ES256, base(func(c map[string]any) { c["iat"] = n + 61 })),
		"exp before nbf":          s.sign(t, jose.ES256, base(func(c map[string]any) { c["nbf"] = n + 61 })),
		"no exp":                  s.sign(t, jose.ES256, base(func(c map[string]any) { delete(c, "exp") })),
		"exp not a number":        s.sign(t, jose.ES256, base(func(c map[string]any) { c["exp"] = "soon" })),
		"HMAC with an oct key":    hmacTok,
		"unknown kid":             newTestSigner(t, "k2").sign(t, jose.ES256, base()),
		"kid of another key":      newTestSigner(t, "k1").sign(t, jose.ES256, base()),
		"empty":                   "",
		"four sections":           "a.b.c.d",
		"empty signature":         "a.b.",
	} {
		p, _, status, _, reason := v.validate(tok, now)
		if status != "invalid_token" || p != "" || reason == "" {
			t.Errorf("%s: principal %q status %q reason %q", name, p, status, reason)
		}
		if tok != "" && len(tok) > 20 && strings.Contains(reason, tok) {
			t.Errorf("%s: the reason quotes the token", name)
		}
	}
	// iat in the future is no reason to refuse (jose4j's default).
	if _, _, status, _, reason := v.validate(s.sign(t, jose.ES256, base(func(c map[string]any) { c["iat"] = n + 50 })), now); status != "" {
		t.Errorf("iat in the future: %q %s", status, reason)
	}
	// Without a kid every key of the JWKS is tried (jose4j's
	// VerificationJwkSelector).
	if p, _, status, _, reason := v.validate(testSigner{s.key, ""}.sign(t, jose.ES256, base()), now); status != "" || p != "svc" {
		t.Errorf("token without kid: %q %s", status, reason)
	}
	// A scope string is one scope (BrokerJwtValidator does not split it).
	if _, _, status, _, _ := v.validate(s.sign(t, jose.ES256, base(func(c map[string]any) { c["scope"] = "a a" })), now); status != "" {
		t.Errorf("scope string with a repeated word: %q", status)
	}
}

// TestJWKSValidatorConfigErrors: bad sasl.oauthbearer.* values name the
// key as set, with Kafka's message.
func TestJWKSValidatorConfigErrors(t *testing.T) {
	path := jwksFile(t, newTestSigner(t, "k"))
	for _, c := range []struct {
		values  map[string]string
		key, in string
	}{
		{map[string]string{}, "sasl.oauthbearer.jwks.endpoint.url", "requires"},
		{map[string]string{"listener.name.l.oauthbearer.sasl.oauthbearer.jwks.endpoint.url": "nope"}, "listener.name.l.oauthbearer.sasl.oauthbearer.jwks.endpoint.url", "missing the protocol"},
		{map[string]string{"sasl.oauthbearer.jwks.endpoint.url": "file://" + filepath.Dir(path)}, "sasl.oauthbearer.jwks.endpoint.url", "directory"},
		{map[string]string{"sasl.oauthbearer.jwks.endpoint.url": "file://" + path, "sasl.oauthbearer.clock.skew.seconds": "-1"}, "sasl.oauthbearer.clock.skew.seconds", "at least 0"},
		{map[string]string{"sasl.oauthbearer.jwks.endpoint.url": "file://" + path, "listener.name.l.sasl.oauthbearer.sub.claim.name": " "}, "listener.name.l.sasl.oauthbearer.sub.claim.name", "whitespace"},
		{map[string]string{"sasl.oauthbearer.jwks.endpoint.url": "http://127.0.0.1:1/jwks", "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms": "50", "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms": "10"}, "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", "less than"},
	} {
		_, err := buildJWKSValidator(c.values, "L", nil, discard)
		ke, ok := err.(*keyError)
		if !ok || ke.key != c.key || !strings.Contains(ke.reason, c.in) {
			t.Errorf("%v: %v, want key %s with %q", c.values, err, c.key, c.in)
		}
	}
}

// BenchmarkJWKSValidate: one OAUTHBEARER login's token check (ES256
// signature and claims) against a file JWKS.
func BenchmarkJWKSValidate(b *testing.B) {
	s := newTestSigner(b, "k1")
	v, err := buildJWKSValidator(map[string]string{"sasl.oauthbearer.jwks.endpoint.url": "file://" + jwksFile(b, s)}, "L", nil, discard)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	tok := s.sign(b, jose.ES256, map[string]any{"sub": "svc", "iat": now.Unix(), "exp": now.Unix() + 60})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, status, _, reason := v.validate(tok, now); status != "" {
			b.Fatal(reason)
		}
	}
}

// TestJWKSHTTPSTruststore: an https JWKS endpoint signed by a private CA
// is trusted through the ssl.truststore.* options of the listener's
// OAUTHBEARER JAAS line (Kafka's JaasOptionsUtils); without them the
// start fails on the unknown authority.
func TestJWKSHTTPSTruststore(t *testing.T) {
	s := newTestSigner(t, "k1")
	pub, _ := json.Marshal(jose.JSONWebKey{Key: &s.key.PublicKey, KeyID: s.kid})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"keys":[` + string(pub) + `]}`))
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"sasl.oauthbearer.jwks.endpoint.url": srv.URL + "/jwks"}
	if _, err := buildJWKSValidator(values, "L", nil, discard); err == nil || !strings.Contains(err.Error(), "Could not refresh JWKS") {
		t.Fatalf("without a truststore: %v, want the start-up failure", err)
	}
	v, err := buildJWKSValidator(values, "L", map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": ca}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer v.keys.close()
	if len(v.keys.current()) != 1 {
		t.Fatalf("%d keys", len(v.keys.current()))
	}
	if _, err := buildJWKSValidator(values, "L", map[string]string{"ssl.truststore.type": "PEM", "ssl.truststore.location": "/nonexistent"}, discard); err == nil || !strings.Contains(err.Error(), "JAAS option ssl.truststore.location") {
		t.Fatalf("bad truststore: %v", err)
	}
}
