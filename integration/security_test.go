package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"samsa/embed"
	"samsa/internal/testcerts"
)

// secureBroker is an in-process broker with one listener of each security
// protocol: PLAINTEXT, SASL_PLAINTEXT (PLAIN and both SCRAMs), SASL_SSL
// (SCRAM-SHA-512 and PLAIN, PEM keystore) and SSL (client certificates
// required, PKCS12 keystore and truststore, a principal mapping rule).
type secureBroker struct {
	b                              *embed.Broker
	plain, saslPlain, saslSSL, ssl string
	ca                             *testcerts.CA
	dataDir                        string
	props                          []string
}

func startSecureBroker(t *testing.T, dataDir string, ca *testcerts.CA, extra ...string) *secureBroker {
	t.Helper()
	server := ca.Issue(t, pkix.Name{CommonName: "samsa-broker"})
	props := []string{
		"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		`listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret" user_bob="bob-secret";`,
		"listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN",
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_carol="carol-secret";`,
		"listener.name.sasl_ssl.ssl.keystore.type=PEM",
		"listener.name.sasl_ssl.ssl.keystore.location=" + ca.WritePEM(t, server, "server.pem"),
		"listener.name.ssl.ssl.keystore.type=PKCS12",
		"listener.name.ssl.ssl.keystore.location=" + ca.WritePKCS12(t, server, "server.p12", "ks-pass"),
		"listener.name.ssl.ssl.keystore.password=ks-pass",
		"ssl.truststore.type=PKCS12",
		"ssl.truststore.location=" + ca.WriteTrustPKCS12(t, "trust.p12", "ts-pass"),
		"ssl.truststore.password=ts-pass",
		"ssl.client.auth=required",
		"ssl.principal.mapping.rules=RULE:^CN=([^,]+),OU=eng,.*$/$1/L,DEFAULT",
		"inter.broker.listener.name=PLAINTEXT",
	}
	props = append(props, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embed.Start(ctx, embed.Config{
		DataDir:    dataDir,
		Listeners:  "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0,SSL://127.0.0.1:0",
		Properties: props,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	a := b.Addrs()
	return &secureBroker{b: b, plain: a[0], saslPlain: a[1], saslSSL: a[2], ssl: a[3], ca: ca, dataDir: dataDir, props: props}
}

// secRoundTrip produces one record and reads it back through cl.
func secRoundTrip(t *testing.T, cl *kgo.Client, topic, value string) {
	t.Helper()
	ctx := ctxT(t)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("create %s: %v", topic, err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", topic, err)
	}
	cl.AddConsumeTopics(topic)
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("fetch %s: %v", topic, err)
		}
		var got []string
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		for _, g := range got {
			if g == value {
				return
			}
		}
	}
}

func TestSecurityListeners(t *testing.T) {
	ca := testcerts.NewCA(t)
	sb := startSecureBroker(t, t.TempDir(), ca)
	ctx := ctxT(t)

	// SCRAM users are made over PLAINTEXT, as kafka-configs does.
	adm := newAdmin(t, sb.plain)
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "alice-scram"},
		{User: "dave", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "dave-scram"},
	})
	if err != nil || res.Error() != nil {
		t.Fatalf("AlterUserSCRAMs: %v %v", err, res.Error())
	}
	desc, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := desc["dave"]; len(d.CredInfos) != 1 || d.CredInfos[0].Mechanism != kadm.ScramSha512 || d.CredInfos[0].Iterations != 8192 {
		t.Errorf("describe dave = %+v", d)
	}
	if d, _ := adm.DescribeUserSCRAMs(ctx, "nobody"); !errors.Is(d["nobody"].Err, kerr.ResourceNotFound) {
		t.Errorf("describe unknown user: %v, want RESOURCE_NOT_FOUND", d["nobody"].Err)
	}
	tooFew, _ := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "x", Mechanism: kadm.ScramSha256, Iterations: 4096, Salt: []byte("s"), SaltedPassword: []byte("p")},
		{User: "x", Mechanism: kadm.ScramSha512, Iterations: 4096, Salt: []byte("s"), SaltedPassword: []byte("p")}})
	if err := tooFew["x"].Err; !errors.Is(err, kerr.DuplicateResource) {
		t.Errorf("same user twice: %v, want DUPLICATE_RESOURCE", err)
	}

	tlsCfg := ca.ClientTLS(nil)
	for _, c := range []struct {
		name string
		addr string
		opts []kgo.Opt
	}{
		{"SASL_PLAINTEXT PLAIN", sb.saslPlain, []kgo.Opt{kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism())}},
		{"SASL_PLAINTEXT SCRAM-SHA-256", sb.saslPlain, []kgo.Opt{kgo.SASL(scram.Auth{User: "alice", Pass: "alice-scram"}.AsSha256Mechanism())}},
		{"SASL_SSL SCRAM-SHA-512", sb.saslSSL, []kgo.Opt{kgo.DialTLSConfig(tlsCfg), kgo.SASL(scram.Auth{User: "dave", Pass: "dave-scram"}.AsSha512Mechanism())}},
		{"SASL_SSL PLAIN from sasl.jaas.config", sb.saslSSL, []kgo.Opt{kgo.DialTLSConfig(tlsCfg), kgo.SASL(plain.Auth{User: "carol", Pass: "carol-secret"}.AsMechanism())}},
		{"SSL client certificate", sb.ssl, []kgo.Opt{kgo.DialTLSConfig(ca.ClientTLS(ca.Issue(t, pkix.Name{CommonName: "Eve", OrganizationalUnit: []string{"eng"}, Organization: []string{"acme"}})))}},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic := "sec-" + strings.NewReplacer(" ", "-", "_", "-", ".", "-").Replace(strings.ToLower(c.name))
			secRoundTrip(t, newClient(t, c.addr, c.opts...), topic, "v-"+topic)
		})
	}

	t.Run("wrong passwords", func(t *testing.T) {
		for _, c := range []struct {
			addr string
			mech sasl.Mechanism
			opts []kgo.Opt
			want string
		}{
			{sb.saslPlain, plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism(), nil, "Authentication failed: Invalid username or password"},
			{sb.saslPlain, plain.Auth{User: "nobody", Pass: "x"}.AsMechanism(), nil, "Authentication failed: Invalid username or password"},
			{sb.saslPlain, scram.Auth{User: "alice", Pass: "wrong"}.AsSha256Mechanism(), nil,
				"Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"},
			{sb.saslPlain, scram.Auth{User: "nobody", Pass: "x"}.AsSha256Mechanism(), nil,
				"Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"},
			// alice has no SCRAM-SHA-512 credential.
			{sb.saslSSL, scram.Auth{User: "alice", Pass: "alice-scram"}.AsSha512Mechanism(), []kgo.Opt{kgo.DialTLSConfig(tlsCfg)},
				"Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"},
		} {
			cl := newClient(t, c.addr, append(c.opts, kgo.SASL(c.mech), kgo.RetryTimeout(time.Second))...)
			err := cl.Ping(ctxT(t))
			if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want SASL_AUTHENTICATION_FAILED %q", c.mech.Name(), err, c.want)
			}
		}
		// A mechanism the listener does not enable.
		cl := newClient(t, sb.saslSSL, kgo.DialTLSConfig(tlsCfg), kgo.SASL(scram.Auth{User: "alice", Pass: "alice-scram"}.AsSha256Mechanism()), kgo.RetryTimeout(time.Second))
		if err := cl.Ping(ctxT(t)); !errors.Is(err, kerr.UnsupportedSaslMechanism) {
			t.Errorf("disabled mechanism: %v, want UNSUPPORTED_SASL_MECHANISM", err)
		}
	})

	t.Run("unauthenticated request closes the connection", func(t *testing.T) {
		conn := dialRaw(t, sb.saslPlain)
		writeRequest(t, conn, 1, kmsg.NewPtrMetadataRequest())
		expectClosed(t, conn)
		// ApiVersions first is allowed, then only SaslHandshake.
		conn = dialRaw(t, sb.saslPlain)
		writeRequest(t, conn, 1, kmsg.NewPtrApiVersionsRequest())
		readFrame(t, conn)
		writeRequest(t, conn, 2, kmsg.NewPtrListGroupsRequest())
		expectClosed(t, conn)
	})

	t.Run("truncated and garbage SASL", func(t *testing.T) {
		// Handshake v1, then a SaslAuthenticate with a PLAIN message of
		// two tokens: Kafka's message, then closed.
		conn := dialRaw(t, sb.saslPlain)
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, "PLAIN"
		writeRequest(t, conn, 1, hs)
		readFrame(t, conn)
		au := kmsg.NewPtrSASLAuthenticateRequest()
		au.Version, au.SASLAuthBytes = 1, []byte("\x00alice")
		writeRequest(t, conn, 2, au)
		resp := kmsg.NewPtrSASLAuthenticateResponse()
		resp.Version = 1
		if err := resp.ReadFrom(readFrame(t, conn)[4:]); err != nil {
			t.Fatal(err)
		}
		if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil || *resp.ErrorMessage != "Invalid SASL/PLAIN response: expected 3 tokens, got 2" {
			t.Errorf("got %d %v", resp.ErrorCode, resp.ErrorMessage)
		}
		expectClosed(t, conn)

		// SCRAM client-first, then a client-final with a made-up nonce.
		conn = dialRaw(t, sb.saslPlain)
		hs.Mechanism = "SCRAM-SHA-256"
		writeRequest(t, conn, 1, hs)
		readFrame(t, conn)
		au.SASLAuthBytes = []byte("n,,n=alice,r=abcdefgh")
		writeRequest(t, conn, 2, au)
		readFrame(t, conn)
		au.SASLAuthBytes = []byte("c=biws,r=abcdefghXXXX,p=AAAA")
		writeRequest(t, conn, 3, au)
		if err := resp.ReadFrom(readFrame(t, conn)[4:]); err != nil {
			t.Fatal(err)
		}
		if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
			t.Errorf("nonce mismatch: error %d", resp.ErrorCode)
		}
		expectClosed(t, conn)

		// A frame above sasl.server.max.receive.size (512 KiB) before
		// authentication closes the connection before it is read.
		conn = dialRaw(t, sb.saslPlain)
		conn.Write([]byte{0, 0x10, 0, 0}) // 1 MiB
		expectClosed(t, conn)

		// A legacy (v0 handshake) bare token that is cut short.
		conn = dialRaw(t, sb.saslPlain)
		hs.Version, hs.Mechanism = 0, "PLAIN"
		writeRequest(t, conn, 1, hs)
		readFrame(t, conn)
		conn.Write([]byte{0, 0, 0, 20, 0, 'a'})
		conn.(*net.TCPConn).CloseWrite()
		expectClosed(t, conn)
	})

	t.Run("legacy v0 framing", func(t *testing.T) {
		conn := dialRaw(t, sb.saslPlain)
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 0, "PLAIN"
		writeRequest(t, conn, 1, hs)
		readFrame(t, conn)
		tok := []byte("\x00bob\x00bob-secret")
		conn.Write(binary.BigEndian.AppendUint32(nil, uint32(len(tok))))
		conn.Write(tok)
		if f := readFrame(t, conn); len(f) != 0 {
			t.Fatalf("PLAIN success token %q, want empty", f)
		}
		writeRequest(t, conn, 2, kmsg.NewPtrMetadataRequest())
		if f := readFrame(t, conn); binary.BigEndian.Uint32(f) != 2 {
			t.Fatalf("metadata after v0 login: correlation %d", binary.BigEndian.Uint32(f))
		}
		// SaslHandshake after authentication: ILLEGAL_SASL_STATE.
		hs.Version = 1
		writeRequest(t, conn, 3, hs)
		r := kmsg.NewPtrSASLHandshakeResponse()
		r.Version = 1
		if err := r.ReadFrom(readFrame(t, conn)[4:]); err != nil || r.ErrorCode != kerr.IllegalSaslState.Code {
			t.Fatalf("handshake after login: %v %d", err, r.ErrorCode)
		}
	})

	t.Run("garbage TLS handshake", func(t *testing.T) {
		for _, addr := range []string{sb.ssl, sb.saslSSL} {
			conn := dialRaw(t, addr)
			conn.Write([]byte("GET / HTTP/1.0\r\n\r\n this is not a TLS client hello"))
			expectClosed(t, conn)
		}
		// A client without a certificate on the client-auth listener.
		_, err := tls.Dial("tcp", sb.ssl, ca.ClientTLS(nil))
		if err == nil {
			c, _ := tls.Dial("tcp", sb.ssl, ca.ClientTLS(nil))
			if c != nil {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				_, err = c.Read(make([]byte, 1))
			}
		}
		if err == nil {
			t.Error("TLS without a client certificate was accepted")
		}
		// The listeners still serve.
		secRoundTrip(t, newClient(t, sb.saslSSL, kgo.DialTLSConfig(tlsCfg), kgo.SASL(plain.Auth{User: "carol", Pass: "carol-secret"}.AsMechanism())), "after-garbage", "ok")
	})
}

// TestScramCredentialsPersist restarts a broker on the same data dir: the
// SCRAM users made before still log in; a deleted one does not.
func TestScramCredentialsPersist(t *testing.T) {
	ca := testcerts.NewCA(t)
	dir := t.TempDir()
	sb := startSecureBroker(t, dir, ca)
	adm := newAdmin(t, sb.plain)
	ctx := ctxT(t)
	if _, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "keep", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "k"},
		{User: "gone", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "g"},
	}); err != nil {
		t.Fatal(err)
	}
	if res, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "gone", Mechanism: kadm.ScramSha256}}, nil); err != nil || res.Error() != nil {
		t.Fatalf("delete: %v %v", err, res)
	}
	if res, _ := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "gone", Mechanism: kadm.ScramSha256}}, nil); !errors.Is(res["gone"].Err, kerr.ResourceNotFound) {
		t.Errorf("second delete: %v, want RESOURCE_NOT_FOUND", res["gone"].Err)
	}
	sb.b.Close()
	sb = startSecureBroker(t, dir, ca)
	ok := newClient(t, sb.saslPlain, kgo.SASL(scram.Auth{User: "keep", Pass: "k"}.AsSha512Mechanism()))
	if err := ok.Ping(ctxT(t)); err != nil {
		t.Errorf("kept user after restart: %v", err)
	}
	gone := newClient(t, sb.saslPlain, kgo.SASL(scram.Auth{User: "gone", Pass: "g"}.AsSha256Mechanism()), kgo.RetryTimeout(time.Second))
	if err := gone.Ping(ctxT(t)); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("deleted user after restart: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
}

// TestSASLReauthentication: with connections.max.reauth.ms, franz-go is
// told the session lifetime and re-authenticates on the same connection
// before it ends; a client that does not (a raw v0 login) has its
// connection closed at its next request after expiry.
func TestSASLReauthentication(t *testing.T) {
	ca := testcerts.NewCA(t)
	sb := startSecureBroker(t, t.TempDir(), ca, "listener.name.sasl_plaintext.connections.max.reauth.ms=1500")
	cl := newClient(t, sb.saslPlain, kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()))
	secRoundTrip(t, cl, "reauth", "one")
	time.Sleep(2 * time.Second)
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "reauth", Value: []byte("two")}).FirstErr(); err != nil {
		t.Fatalf("produce after the session lifetime: %v", err)
	}

	conn := dialRaw(t, sb.saslPlain)
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = "PLAIN"
	writeRequest(t, conn, 1, hs)
	readFrame(t, conn)
	tok := []byte("\x00bob\x00bob-secret")
	conn.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...))
	readFrame(t, conn)
	writeRequest(t, conn, 2, kmsg.NewPtrMetadataRequest())
	readFrame(t, conn)
	time.Sleep(1600 * time.Millisecond)
	writeRequest(t, conn, 3, kmsg.NewPtrMetadataRequest())
	expectClosed(t, conn)
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(15 * time.Second))
	return c
}

func writeRequest(t *testing.T, c net.Conn, corr int32, req kmsg.Request) {
	t.Helper()
	body := req.AppendTo(nil)
	var h []byte
	h = binary.BigEndian.AppendUint16(h, uint16(req.Key()))
	h = binary.BigEndian.AppendUint16(h, uint16(req.GetVersion()))
	h = binary.BigEndian.AppendUint32(h, uint32(corr))
	h = binary.BigEndian.AppendUint16(h, uint16(len("sec-test")))
	h = append(h, "sec-test"...)
	if req.IsFlexible() {
		h = append(h, 0)
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(h)+len(body)))
	if _, err := c.Write(append(append(frame, h...), body...)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readFrame reads one size-prefixed frame and returns its payload.
func readFrame(t *testing.T, c net.Conn) []byte {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read frame body: %v", err)
	}
	return b
}

// TestSASLNeverAuthenticates: a client that connects to a SASL listener
// and never finishes authenticating is closed after
// connections.max.idle.ms, as Kafka's Selector closes any idle channel
// (Kafka has no separate authentication timeout).
func TestSASLNeverAuthenticates(t *testing.T) {
	sb := startSecureBroker(t, t.TempDir(), testcerts.NewCA(t), "connections.max.idle.ms=500")
	conn := dialRaw(t, sb.saslPlain)
	writeRequest(t, conn, 1, kmsg.NewPtrApiVersionsRequest())
	readFrame(t, conn)
	start := time.Now()
	expectClosed(t, conn)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v, want about 500ms", d)
	}
	// A TLS client that stops after connecting is cut too.
	tlsConn := dialRaw(t, sb.saslSSL)
	expectClosed(t, tlsConn)
}

// TestKcatSASLSSL: kcat (librdkafka) produces and consumes over SASL_SSL
// with PLAIN and with SCRAM-SHA-512, verifying the broker certificate
// against the test CA.
func TestKcatSASLSSL(t *testing.T) {
	kcat := requireTool(t, "kcat")
	ca := testcerts.NewCA(t)
	sb := startSecureBroker(t, t.TempDir(), ca)
	ctx := ctxT(t)
	if _, err := newAdmin(t, sb.plain).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "dave", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "dave-scram"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := newAdmin(t, sb.plain).CreateTopic(ctx, 1, 1, nil, "kcat-sasl"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ mech, user, pass string }{{"PLAIN", "carol", "carol-secret"}, {"SCRAM-SHA-512", "dave", "dave-scram"}} {
		args := []string{"-b", sb.saslSSL, "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=" + c.mech,
			"-X", "sasl.username=" + c.user, "-X", "sasl.password=" + c.pass, "-X", "ssl.ca.location=" + ca.PEMFile}
		cmd := exec.CommandContext(ctx, kcat, append(args, "-P", "-t", "kcat-sasl")...)
		cmd.Stdin = strings.NewReader("from-" + c.user + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P %s: %v\n%s", c.mech, err, out)
		}
		out, err := exec.CommandContext(ctx, kcat, append(args, "-C", "-t", "kcat-sasl", "-o", "beginning", "-e", "-q")...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "from-"+c.user) {
			t.Fatalf("kcat -C %s: %v\n%s", c.mech, err, out)
		}
	}
	// A wrong password fails.
	out, err := exec.CommandContext(ctx, kcat, "-b", sb.saslSSL, "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=carol", "-X", "sasl.password=wrong", "-X", "ssl.ca.location="+ca.PEMFile, "-L", "-m", "2").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Invalid username or password") {
		t.Errorf("kcat with a wrong password: %v\n%s", err, out)
	}
}
