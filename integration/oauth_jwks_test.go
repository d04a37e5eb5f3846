package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"samsa/embed"
)

// testIdP is an OAuth identity provider for tests: signing keys, the
// JWKS endpoint publishing their public halves, and a client_credentials
// token endpoint.
type testIdP struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	published []jose.JSONWebKey // public keys the JWKS endpoint serves
	down      bool              // JWKS endpoint answers 503

	jwksGets atomic.Int32
	tokens   atomic.Int32
}

type signingKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key any // private key
}

func newRSAKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, alg: jose.RS256, key: k}
}

func newECKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, alg: jose.ES256, key: k}
}

func (k signingKey) public() jose.JSONWebKey {
	var pub any
	switch p := k.key.(type) {
	case *rsa.PrivateKey:
		pub = &p.PublicKey
	case *ecdsa.PrivateKey:
		pub = &p.PublicKey
	}
	return jose.JSONWebKey{Key: pub, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// sign makes a compact JWS of claims with the key, its kid in the header.
func (k signingKey) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.key, KeyID: k.kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// newTestIdP serves /jwks (the published keys) and /token (client
// credentials "samsa"/"secret" get tokenFor's JWT).
func newTestIdP(t *testing.T, tokenFor func() string, keys ...signingKey) *testIdP {
	idp := &testIdP{t: t}
	for _, k := range keys {
		idp.published = append(idp.published, k.public())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		idp.jwksGets.Add(1)
		idp.mu.Lock()
		down := idp.down
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), idp.published...)}
		idp.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || !ok || id != "samsa" || secret != "secret" || r.PostForm.Get("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		idp.tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tokenFor(), "token_type": "Bearer", "expires_in": 3600})
	})
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	return idp
}

func (idp *testIdP) publish(k signingKey) {
	idp.mu.Lock()
	idp.published = append(idp.published, k.public())
	idp.mu.Unlock()
}

func (idp *testIdP) setDown(down bool) {
	idp.mu.Lock()
	idp.down = down
	idp.mu.Unlock()
}

// oauthLogin runs SaslHandshake v1 and SaslAuthenticate v1 with token on
// a raw connection. A refused token gets the error JSON as a challenge;
// the ^A that follows gets SASL_AUTHENTICATION_FAILED (second) and the
// connection closes.
func oauthLogin(t *testing.T, addr, token string) (first, second *kmsg.SASLAuthenticateResponse) {
	t.Helper()
	conn := dialRaw(t, addr)
	defer conn.Close()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "OAUTHBEARER"
	writeRequest(t, conn, 1, hs)
	readFrame(t, conn)
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.Version, au.SASLAuthBytes = 1, []byte("n,,\x01auth=Bearer "+token+"\x01\x01")
	writeRequest(t, conn, 2, au)
	first = kmsg.NewPtrSASLAuthenticateResponse()
	first.Version = 1
	if err := first.ReadFrom(readFrame(t, conn)[4:]); err != nil {
		t.Fatal(err)
	}
	if first.ErrorCode != 0 || len(first.SASLAuthBytes) == 0 {
		return first, nil // refused outright, or logged in
	}
	au.SASLAuthBytes = []byte{1}
	writeRequest(t, conn, 3, au)
	second = kmsg.NewPtrSASLAuthenticateResponse()
	second.Version = 1
	if err := second.ReadFrom(readFrame(t, conn)[4:]); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, conn)
	return first, second
}

// refusedLikeKafka reports whether a login was refused as Kafka's
// OAuthBearerSaslServer refuses an invalid token: the challenge
// {"status":"invalid_token"}, then SASL_AUTHENTICATION_FAILED with it.
func refusedLikeKafka(first, second *kmsg.SASLAuthenticateResponse) bool {
	const want = `{"status":"invalid_token"}`
	return first.ErrorCode == 0 && string(first.SASLAuthBytes) == want && second != nil &&
		second.ErrorCode == kerr.SaslAuthenticationFailed.Code && second.ErrorMessage != nil && *second.ErrorMessage == want
}

const (
	testIssuer   = "https://idp.test/realms/kafka"
	testAudience = "kafka-broker"
)

// logBuffer collects a broker's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startJWKSBroker(t *testing.T, jwksURL string, logs *logBuffer, extra ...string) *embed.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	b, err := embed.Start(ctx, embed.Config{
		Logger:    logger,
		Listeners: "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		Properties: append([]string{
			"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
			"super.users=User:ANONYMOUS",
			"sasl.enabled.mechanisms=OAUTHBEARER",
			"listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
			"listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
			"listener.name.sasl_plaintext.oauthbearer.sasl.oauthbearer.jwks.endpoint.url=" + jwksURL,
			"sasl.oauthbearer.expected.issuer=" + testIssuer,
			// The listener's oauthbearer override wins over the
			// broker-wide value, as in Kafka's ConfigurationUtils.
			"sasl.oauthbearer.expected.audience=someone-else",
			"listener.name.sasl_plaintext.oauthbearer.sasl.oauthbearer.expected.audience=other," + testAudience,
		}, extra...),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestOAuthBearerJWKS: KIP-768's OAuthBearerValidatorCallbackHandler.
// franz-go clients present tokens signed by an RSA and an EC key of the
// JWKS; the principal is the sub claim (an ACL for User:alice lets alice
// write, bob is refused); tokens with a wrong key, expired, not yet
// valid, for another audience or issuer, without iat, unsigned or garbage
// are refused as Kafka refuses them; a key added to the JWKS is picked up
// without a restart, once per unknown kid; a JWKS endpoint failing later
// keeps the keys the broker has.
func TestOAuthBearerJWKS(t *testing.T) {
	rsa1, ec1 := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1")
	idp := newTestIdP(t, func() string { return "" }, rsa1, ec1)
	logs := &logBuffer{}
	b := startJWKSBroker(t, idp.srv.URL+"/jwks", logs, "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms=300")
	plainAddr, saslAddr := b.Addrs()[0], b.Addrs()[1]
	ctx := ctxT(t)

	admin := kadm.NewClient(newClient(t, plainAddr))
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "jwks-orders"); err != nil {
		t.Fatal(err)
	}
	res, err := admin.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("jwks-orders").
		Operations(kadm.OpWrite, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(res) == 0 || res[0].Err != nil {
		t.Fatalf("create ACL: %v %+v", err, res)
	}

	now := time.Now().Unix()
	claims := func(sub string, mods ...func(map[string]any)) map[string]any {
		c := map[string]any{"sub": sub, "iss": testIssuer, "aud": []string{testAudience}, "iat": now, "nbf": now, "exp": now + 3600, "scope": "kafka"}
		for _, m := range mods {
			m(c)
		}
		return c
	}
	produceAs := func(token string) error {
		cl := newClient(t, saslAddr, kgo.SASL(oauth.Auth{Token: token}.AsMechanism()), kgo.DefaultProduceTopic("jwks-orders"), kgo.RetryTimeout(2*time.Second))
		defer cl.Close()
		return cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr()
	}
	if err := produceAs(rsa1.sign(t, claims("alice"))); err != nil {
		t.Fatalf("alice, RSA-signed token: %v", err)
	}
	if err := produceAs(ec1.sign(t, claims("alice"))); err != nil {
		t.Fatalf("alice, EC-signed token: %v", err)
	}
	if err := produceAs(rsa1.sign(t, claims("bob"))); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("bob (no ACL): %v, want TOPIC_AUTHORIZATION_FAILED: the principal must be User:bob", err)
	}

	// The session lives as long as the token.
	first, _ := oauthLogin(t, saslAddr, rsa1.sign(t, claims("alice", func(c map[string]any) { c["exp"] = now + 20 })))
	if first.ErrorCode != 0 || first.SessionLifetimeMillis <= 0 || first.SessionLifetimeMillis > 20000 {
		t.Errorf("session lifetime %d ms (error %d), want the token's remaining life (<= 20 s)", first.SessionLifetimeMillis, first.ErrorCode)
	}

	stranger := newRSAKey(t, "rsa-1") // the JWKS's kid, another key
	for name, token := range map[string]string{
		"wrong key":      stranger.sign(t, claims("alice")),
		"expired":        rsa1.sign(t, claims("alice", func(c map[string]any) { c["exp"] = now - 31; c["iat"] = now - 100; c["nbf"] = now - 100 })),
		"not yet valid":  rsa1.sign(t, claims("alice", func(c map[string]any) { c["nbf"] = now + 120 })),
		"wrong audience": rsa1.sign(t, claims("alice", func(c map[string]any) { c["aud"] = "someone-else" })),
		"no audience":    rsa1.sign(t, claims("alice", func(c map[string]any) { delete(c, "aud") })),
		"wrong issuer":   ec1.sign(t, claims("alice", func(c map[string]any) { c["iss"] = "https://evil.test" })),
		"no iat":         rsa1.sign(t, claims("alice", func(c map[string]any) { delete(c, "iat") })),
		"no sub":         rsa1.sign(t, claims("", func(c map[string]any) { delete(c, "sub") })),
		"unsecured":      unsecuredJWT(claims("alice")),
		"garbage":        "garbage",
		"two sections":   "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0",
	} {
		first, second := oauthLogin(t, saslAddr, token)
		if !refusedLikeKafka(first, second) {
			t.Errorf("%s: challenge %q then %+v, want Kafka's invalid_token refusal", name, first.SASLAuthBytes, second)
		}
	}
	// Each refusal is logged with its reason, never with the token.
	for _, want := range []string{"Issuer (iss) claim value (https://evil.test) doesn't match", "Audience (aud) claim", "JWS signature is invalid", "No Issued At (iat) claim present"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log has no line with %q", want)
		}
	}
	if tok := stranger.sign(t, claims("alice")); strings.Contains(logs.String(), tok[:strings.LastIndexByte(tok, '.')]) || strings.Contains(logs.String(), "eyJ") {
		t.Error("a token (or a part of one) was logged")
	}

	// Within the clock skew (30 s by default) a just-expired token passes.
	if first, _ := oauthLogin(t, saslAddr, rsa1.sign(t, claims("alice", func(c map[string]any) { c["exp"] = now - 5; c["iat"] = now - 100; c["nbf"] = now - 100 }))); first.ErrorCode != 0 || len(first.SASLAuthBytes) != 0 {
		t.Errorf("token expired 5 s ago (within the skew): challenge %q error %d", first.SASLAuthBytes, first.ErrorCode)
	}

	// Key rotation: the IdP publishes rsa-2; the broker, which fetched
	// the JWKS at start-up, refuses the first token naming the unknown
	// kid and refreshes at once; the client's retry succeeds.
	gets := idp.jwksGets.Load()
	rsa2 := newRSAKey(t, "rsa-2")
	idp.publish(rsa2)
	rotated := rsa2.sign(t, claims("alice"))
	first, second := oauthLogin(t, saslAddr, rotated)
	if !refusedLikeKafka(first, second) {
		t.Fatalf("first token with the new kid: challenge %q then %+v, want a refusal that triggers a refresh", first.SASLAuthBytes, second)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if first, _ := oauthLogin(t, saslAddr, rotated); first.ErrorCode == 0 && len(first.SASLAuthBytes) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rotated key was not picked up within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := produceAs(rotated); err != nil {
		t.Fatalf("produce with the rotated key: %v", err)
	}
	if g := idp.jwksGets.Load() - gets; g != 1 {
		t.Errorf("%d JWKS fetches for one new kid, want 1", g)
	}
	// An unknown kid asks for one refresh a minute, not one per token.
	gets = idp.jwksGets.Load()
	unknown := newRSAKey(t, "never-published")
	for range 3 {
		if first, second := oauthLogin(t, saslAddr, unknown.sign(t, claims("alice"))); !refusedLikeKafka(first, second) {
			t.Fatalf("unknown kid: challenge %q then %+v", first.SASLAuthBytes, second)
		}
	}
	waitFor(t, "a JWKS refresh", 5*time.Second, func() bool { return idp.jwksGets.Load()-gets >= 1 })
	time.Sleep(200 * time.Millisecond)
	if g := idp.jwksGets.Load() - gets; g != 1 {
		t.Errorf("%d JWKS fetches for three tokens naming one unknown kid, want 1", g)
	}

	// The endpoint fails: the refresh retries (backoff up to 300 ms)
	// and keeps the keys the broker has.
	idp.setDown(true)
	gets = idp.jwksGets.Load()
	other := newRSAKey(t, "other-unknown")
	oauthLogin(t, saslAddr, other.sign(t, claims("alice")))
	waitFor(t, "JWKS refresh retries", 5*time.Second, func() bool { return idp.jwksGets.Load()-gets >= 2 })
	time.Sleep(400 * time.Millisecond)
	if err := produceAs(rsa1.sign(t, claims("alice"))); err != nil {
		t.Fatalf("after a failed JWKS refresh: %v", err)
	}
}

// TestOAuthBearerJWKSStartup: as Kafka's broker, Samsa does not start
// when the JWKS endpoint cannot be read at start-up (RefreshingHttpsJwks's
// init failure), nor with a missing or bad URL; the error names the key.
func TestOAuthBearerJWKSStartup(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String() + "/jwks"
	ln.Close()
	base := []string{
		"sasl.enabled.mechanisms=OAUTHBEARER",
		"listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler",
	}
	for _, c := range []struct {
		props []string
		want  []string
	}{
		{[]string{"sasl.oauthbearer.jwks.endpoint.url=" + deadURL}, []string{"sasl.oauthbearer.jwks.endpoint.url", "Could not refresh JWKS"}},
		{nil, []string{"sasl.oauthbearer.jwks.endpoint.url", "requires"}},
		{[]string{"sasl.oauthbearer.jwks.endpoint.url=ftp://x/jwks"}, []string{"invalid protocol (ftp)"}},
		{[]string{"sasl.oauthbearer.jwks.endpoint.url=file:///nonexistent/jwks.json"}, []string{"doesn't exist"}},
		{[]string{"sasl.oauthbearer.jwks.endpoint.url=" + deadURL, "sasl.oauthbearer.jwks.endpoint.refresh.ms=0"}, []string{"sasl.oauthbearer.jwks.endpoint.refresh.ms"}},
		{[]string{"listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class=com.example.Custom"}, []string{"oauthbearer.sasl.server.callback.handler.class", "com.example.Custom"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		b, err := embed.Start(ctx, embed.Config{Listeners: "SASL_PLAINTEXT://127.0.0.1:0", Properties: append(append([]string{}, base...), c.props...)})
		cancel()
		if err == nil {
			b.Close()
			t.Errorf("%v: started", c.props)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q, want it to mention %q", c.props, err, w)
			}
		}
	}
}

// TestOAuthBearerJWKSJavaClient: Kafka's own Java client (the console
// producer and consumer of compat-tests/bin) logs in with
// OAuthBearerLoginCallbackHandler, which fetches a JWT from the test
// IdP's client_credentials token endpoint; Samsa validates it against
// the IdP's JWKS and authorizes the token's sub, User:java-client, by
// its ACLs. Kafka 4.x clients refuse a token endpoint not listed in the
// org.apache.kafka.sasl.oauthbearer.allowed.urls system property, so the
// test sets it through KAFKA_OPTS.
func TestOAuthBearerJWKSJavaClient(t *testing.T) {
	producer := kafkaTool(t, "kafka-console-producer.sh")
	consumer := kafkaTool(t, "kafka-console-consumer.sh")
	rsa1 := newRSAKey(t, "rsa-java")
	idp := newTestIdP(t, func() string {
		now := time.Now().Unix()
		return rsa1.sign(t, map[string]any{"sub": "java-client", "iss": testIssuer, "aud": testAudience, "iat": now, "exp": now + 3600, "scope": "kafka"})
	}, rsa1)
	b := startJWKSBroker(t, idp.srv.URL+"/jwks", nil)
	plainAddr, saslAddr := b.Addrs()[0], b.Addrs()[1]
	ctx := ctxT(t)
	admin := kadm.NewClient(newClient(t, plainAddr))
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "jwks-java"); err != nil {
		t.Fatal(err)
	}
	res, err := admin.CreateACLs(ctx, kadm.NewACLs().Allow("User:java-client").Topics("jwks-java").
		Operations(kadm.OpWrite, kadm.OpRead, kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(res) == 0 || res[0].Err != nil {
		t.Fatalf("create ACL: %v %+v", err, res)
	}
	tokenURL := idp.srv.URL + "/token"
	props := filepath.Join(t.TempDir(), "client.properties")
	if err := os.WriteFile(props, []byte(strings.Join([]string{
		"security.protocol=SASL_PLAINTEXT",
		"sasl.mechanism=OAUTHBEARER",
		"sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
		"sasl.oauthbearer.token.endpoint.url=" + tokenURL,
		`sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="samsa" clientSecret="secret";`,
	}, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KAFKA_OPTS", "-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls="+tokenURL)
	runTool(t, "one\ntwo\nthree\n", producer, "--bootstrap-server", saslAddr, "--topic", "jwks-java", "--command-config", props)
	out := runTool(t, "", consumer, "--bootstrap-server", saslAddr, "--topic", "jwks-java", "--partition", "0", "--offset", "earliest",
		"--max-messages", "3", "--timeout-ms", "20000", "--command-config", props)
	if got := strings.Fields(out); strings.Join(got, ",") != "one,two,three" {
		t.Fatalf("consumed %q, want one two three", out)
	}
	if idp.tokens.Load() < 2 {
		t.Errorf("%d tokens issued, want one per client at least", idp.tokens.Load())
	}
}
