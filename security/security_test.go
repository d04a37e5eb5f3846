package security

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/config"
	"samsa/internal/testcerts"
	"samsa/protocol"
)

func TestParseJAAS(t *testing.T) {
	in := `org.apache.kafka.common.security.plain.PlainLoginModule required
	  username="admin" password='admin-secret' // a comment
	  user_admin="admin-secret" /* another */ user_alice="a\"b\\c\n" user_x-y$z=word;`
	got, err := ParseJAAS(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []JAASEntry{{LoginModule: "org.apache.kafka.common.security.plain.PlainLoginModule", Flag: "REQUIRED",
		Options: map[string]string{"username": "admin", "password": "admin-secret", "user_admin": "admin-secret",
			"user_alice": "a\"b\\c\n", "user_x-y$z": "word"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	two, err := ParseJAAS("a.B optional; c.D sufficient k=v;")
	if err != nil || len(two) != 2 || two[1].Flag != "SUFFICIENT" || two[1].Options["k"] != "v" {
		t.Errorf("two entries: %+v %v", two, err)
	}
	for in, want := range map[string]string{
		"":                          "login module not specified",
		"m":                         "control flag not specified",
		"m maybe;":                  "invalid login module control flag 'maybe'",
		"m required k=v":            "not terminated by semi-colon",
		"m required k;":             "value not specified for key 'k'",
		"m required k=123;":         "value not specified for key 'k'",
		`m required user_a="secret`: "not terminated by semi-colon",
	} {
		_, err := ParseJAAS(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseJAAS(%q) = %v, want %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks a value: %v", err)
		}
	}
}

func TestParsePlain(t *testing.T) {
	m, err := ParsePlain([]byte("\x00alice\x00pw"))
	if err != nil || m != (PlainMessage{"", "alice", "pw"}) {
		t.Errorf("%+v %v", m, err)
	}
	for in, want := range map[string]string{
		"alice\x00pw":           "Invalid SASL/PLAIN response: expected 3 tokens, got 2",
		"a\x00b\x00c\x00d":      "Invalid SASL/PLAIN response: expected 3 tokens, got 4",
		"\x00\x00pw":            "Authentication failed: username not specified",
		"\x00alice\x00":         "Authentication failed: password not specified",
		"":                      "Invalid SASL/PLAIN response: expected 3 tokens, got 1",
		"a\x00b\x00c\x00d\x00e": "Invalid SASL/PLAIN response: expected 3 tokens, got 4",
	} {
		if _, err := ParsePlain([]byte(in)); err == nil || err.Error() != want {
			t.Errorf("ParsePlain(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestPrincipalMapping(t *testing.T) {
	dn := "CN=Alice Smith,OU=eng,O=acme,C=US"
	for _, c := range []struct{ rules, want string }{
		{"", dn},
		{"DEFAULT", dn},
		{"RULE:^CN=(.*?),OU=(.*?),O=(.*?),C=(.*?)$/$1@$3/L, DEFAULT", "alice smith@acme"},
		{"RULE:^CN=(.*?),OU=(.*?),.*$/$2/U", "ENG"},
		{"RULE:^CN=nobody,.*$/x/, DEFAULT", dn},
		{`RULE:^CN=([^,]*),.*$/cost \$1 $1/`, "cost $1 Alice Smith"},
		{"RULE:^CN=(.*?),.*$/$12/", "Alice Smith2"},
	} {
		pm, err := ParsePrincipalMappingRules(c.rules)
		if err != nil {
			t.Errorf("%q: %v", c.rules, err)
			continue
		}
		if got, err := pm.Name(dn); err != nil || got != c.want {
			t.Errorf("%q: %q %v, want %q", c.rules, got, err, c.want)
		}
	}
	pm, _ := ParsePrincipalMappingRules("RULE:^CN=x$/y/")
	if _, err := pm.Name(dn); err == nil {
		t.Error("no rule applies: want an error")
	}
	for _, bad := range []string{"RULE:^CN=(x/y/Q", "RULE:(/x/"} {
		if _, err := ParsePrincipalMappingRules(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func build(t *testing.T, props ...string) (*Listeners, error) {
	t.Helper()
	cfg, _, err := config.Load("", append([]string{"log.dirs=" + t.TempDir()}, props...))
	if err != nil {
		t.Fatal(err)
	}
	return Build(Options{Config: cfg})
}

func TestBuildErrors(t *testing.T) {
	ca := testcerts.NewCA(t)
	server := ca.Issue(t, pkix.Name{CommonName: "b"})
	p12 := ca.WritePKCS12(t, server, "s.p12", "right")
	jks := t.TempDir() + "/ks.jks"
	os.WriteFile(jks, []byte{0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2}, 0o600)
	for _, c := range []struct {
		props []string
		key   string
		want  string
	}{
		{[]string{"listeners=SSL://:0"}, "ssl.keystore.location", "needs a keystore"},
		{[]string{"listeners=SSL://:0", "ssl.keystore.location=" + jks}, "ssl.keystore.location", "JKS keystores are not supported"},
		{[]string{"listeners=SSL://:0", "ssl.keystore.location=" + p12, "ssl.keystore.password=wrong"}, "ssl.keystore.location", "PKCS12"},
		{[]string{"listeners=SSL://:0", "listener.name.ssl.ssl.keystore.location=" + p12, "ssl.keystore.password=right", "ssl.client.auth=maybe"}, "ssl.client.auth", "required, requested or none"},
		{[]string{"listeners=SSL://:0", "ssl.keystore.location=" + p12, "ssl.keystore.password=right", "ssl.enabled.protocols=SSLv3"}, "ssl.enabled.protocols", "SSLv3"},
		{[]string{"listeners=SSL://:0", "ssl.keystore.location=" + p12, "ssl.keystore.password=right", "ssl.cipher.suites=TLS_FOO"}, "ssl.cipher.suites", "TLS_FOO"},
		{[]string{"listeners=SSL://:0", "ssl.keystore.location=" + p12, "ssl.keystore.password=right", "ssl.client.auth=required"}, "ssl.truststore.location", "needs a truststore"},
		{[]string{"listeners=SASL_PLAINTEXT://:0"}, "sasl.enabled.mechanisms", "GSSAPI is not supported"},
		{[]string{"listeners=SASL_PLAINTEXT://:0", "sasl.enabled.mechanisms=PLAIN"}, "listener.name.sasl_plaintext.plain.sasl.jaas.config", "no JAAS configuration"},
		{[]string{"listeners=SASL_PLAINTEXT://:0", "sasl.enabled.mechanisms=PLAIN", `sasl.jaas.config=x required user_a="topsecret"`}, "sasl.jaas.config", "semi-colon"},
		{[]string{"listeners=SASL_PLAINTEXT://:0", "sasl.enabled.mechanisms=SCRAM-SHA-256", "inter.broker.listener.name=SASL_PLAINTEXT"}, "sasl.mechanism.inter.broker.protocol", "GSSAPI must be included"},
		{[]string{"listeners=SASL_PLAINTEXT://:0", "sasl.enabled.mechanisms=SCRAM-SHA-256", "sasl.mechanism.inter.broker.protocol=PLAIN"}, "sasl.mechanism.inter.broker.protocol", "PLAIN must be included"},
	} {
		_, err := build(t, c.props...)
		var ve *config.ValueError
		if !errors.As(err, &ve) || ve.Key != c.key || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want key %s: %q", c.props, err, c.key, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "right")) {
			t.Errorf("error shows a secret: %v", err)
		}
	}
}

// TestSSLPrincipalAndReload handshakes over real sockets: the client
// certificate's DN, mapped, is the session's principal; replacing the
// keystore file serves the new certificate without a restart.
func TestSSLPrincipalAndReload(t *testing.T) {
	ca := testcerts.NewCA(t)
	server := ca.Issue(t, pkix.Name{CommonName: "first"})
	ks := ca.WritePEM(t, server, "ks.pem")
	ls, err := build(t, "listeners=SSL://127.0.0.1:0", "ssl.keystore.type=PEM", "ssl.keystore.location="+ks,
		"ssl.truststore.type=PEM", "ssl.truststore.location="+ca.PEMFile, "ssl.client.auth=requested",
		"ssl.principal.mapping.rules=RULE:^CN=([^,]+),O=acme$/$1/L")
	if err != nil {
		t.Fatal(err)
	}
	sec := ls.For("SSL")
	handshake := func(client *tls.Config) (string, string, error) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		type res struct {
			sess protocol.Session
			err  error
		}
		ch := make(chan res, 1)
		go func() {
			_, s, err := sec.Accept(a, testLogger(t))
			ch <- res{s, err}
		}()
		c := tls.Client(b, client)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		herr := c.Handshake()
		r := <-ch
		if herr != nil || r.err != nil {
			return "", "", errors.Join(herr, r.err)
		}
		return r.sess.Principal(), c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
	}
	p, cn, err := handshake(ca.ClientTLS(ca.Issue(t, pkix.Name{CommonName: "Alice", Organization: []string{"acme"}})))
	if err != nil || p != "User:alice" || cn != "first" {
		t.Fatalf("principal %q server CN %q err %v", p, cn, err)
	}
	p, _, err = handshake(ca.ClientTLS(nil))
	if err != nil || p != protocol.AnonymousPrincipal {
		t.Fatalf("no client certificate: %q %v", p, err)
	}
	if _, _, err := handshake(ca.ClientTLS(ca.Issue(t, pkix.Name{CommonName: "x", Organization: []string{"other"}}))); err == nil {
		t.Fatal("a DN no rule maps was accepted")
	}
	// Replace the keystore; the next handshake after the check interval
	// serves the new certificate.
	os.WriteFile(ks, []byte(ca.Issue(t, pkix.Name{CommonName: "second"}).KeystorePEM), 0o600)
	future := time.Now().Add(2 * time.Second)
	os.Chtimes(ks, future, future)
	time.Sleep(reloadCheckInterval + 100*time.Millisecond)
	if _, cn, err := handshake(ca.ClientTLS(nil)); err != nil || cn != "second" {
		t.Fatalf("after reload: CN %q %v", cn, err)
	}
	// A broken file keeps the last good certificate.
	os.WriteFile(ks, []byte("garbage"), 0o600)
	future = future.Add(2 * time.Second)
	os.Chtimes(ks, future, future)
	time.Sleep(reloadCheckInterval + 100*time.Millisecond)
	if _, cn, err := handshake(ca.ClientTLS(nil)); err != nil || cn != "second" {
		t.Fatalf("after a broken reload: CN %q %v", cn, err)
	}
}

// TestSASLStateMachine drives a session directly through Kafka's states.
func TestSASLStateMachine(t *testing.T) {
	ls, err := build(t, "listeners=SASL_PLAINTEXT://127.0.0.1:0", "sasl.enabled.mechanisms=PLAIN",
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="pw";`)
	if err != nil {
		t.Fatal(err)
	}
	old := failedAuthDelay
	failedAuthDelay = 0
	defer func() { failedAuthDelay = old }()
	s := &saslSession{l: ls.byName["SASL_PLAINTEXT"]}
	if err := s.Gate(kmsg.Metadata.Int16()); err == nil || err.Error() != "Unexpected Kafka request of type METADATA during SASL handshake." {
		t.Errorf("metadata first: %v", err)
	}
	if err := s.Gate(kmsg.ApiVersions.Int16()); err != nil {
		t.Fatal(err)
	}
	s.Intercept(&protocol.Request{Body: kmsg.NewPtrApiVersionsRequest()})
	if err := s.Gate(kmsg.ApiVersions.Int16()); err == nil {
		t.Error("second ApiVersions accepted")
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "SCRAM-SHA-256"
	resp, handled, err := s.Intercept(&protocol.Request{Body: hs})
	if !handled || err == nil || resp.(*kmsg.SASLHandshakeResponse).ErrorCode != 33 || !reflect.DeepEqual(resp.(*kmsg.SASLHandshakeResponse).SupportedMechanisms, []string{"PLAIN"}) {
		t.Errorf("unsupported mechanism: %+v %v %v", resp, handled, err)
	}
	hs.Mechanism = "PLAIN"
	if _, _, err := s.Intercept(&protocol.Request{Body: hs}); err != nil {
		t.Fatal(err)
	}
	if s.RawToken() {
		t.Error("v1 handshake must use SaslAuthenticate framing")
	}
	if err := s.Gate(kmsg.Produce.Int16()); err == nil || !strings.Contains(err.Error(), "during SASL authentication") {
		t.Errorf("produce mid-authentication: %v", err)
	}
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.Version, au.SASLAuthBytes = 1, []byte("\x00alice\x00pw")
	resp, _, err = s.Intercept(&protocol.Request{Body: au})
	if err != nil || resp.(*kmsg.SASLAuthenticateResponse).ErrorCode != 0 || s.Principal() != "User:alice" {
		t.Fatalf("login: %+v %v %q", resp, err, s.Principal())
	}
	if err := s.Gate(kmsg.Produce.Int16()); err != nil {
		t.Fatal(err)
	}
	// Re-authentication with another mechanism fails at the next token.
	hs.Mechanism = "PLAIN"
	if _, handled, _ := s.Intercept(&protocol.Request{Body: hs}); !handled {
		t.Fatal("v1 client's handshake after login must start re-authentication")
	}
	au.SASLAuthBytes = []byte("\x00alice\x00wrong")
	resp, _, err = s.Intercept(&protocol.Request{Body: au})
	if err == nil || *resp.(*kmsg.SASLAuthenticateResponse).ErrorMessage != "Authentication failed: Invalid username or password" {
		t.Errorf("bad re-authentication: %v", err)
	}
}
