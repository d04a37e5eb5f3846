package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"samsa/embed"
)

// unsecuredJWT is an unsecured JWS (alg "none", empty signature) as
// Kafka's OAuthBearerUnsecuredLoginCallbackHandler makes them.
func unsecuredJWT(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "none"}) + "." + enc(claims) + "."
}

// TestOAuthBearerUnsecured: SASL/OAUTHBEARER with Kafka's default
// validator of unsecured tokens; franz-go logs in and produces; an expired
// token or one without the required scope gets the RFC 7628 error JSON,
// then SASL_AUTHENTICATION_FAILED; the session lifetime is the token's.
func TestOAuthBearerUnsecured(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embed.Start(ctx, embed.Config{
		Listeners: "SASL_PLAINTEXT://127.0.0.1:0",
		Properties: []string{
			"sasl.enabled.mechanisms=OAUTHBEARER",
			`listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredValidatorRequiredScope="kafka";`,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	now := float64(time.Now().Unix())
	good := unsecuredJWT(map[string]any{"sub": "alice", "exp": now + 3600, "iat": now, "scope": "kafka other"})
	cl := newClient(t, b.Addr(), kgo.SASL(oauth.Auth{Token: good}.AsMechanism()), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("oauth"))
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce with a valid token: %v", err)
	}

	login := func(token string) (first, second *kmsg.SASLAuthenticateResponse) {
		conn := dialRaw(t, b.Addr())
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
		if first.ErrorCode != 0 || first.SessionLifetimeMillis > 0 {
			return first, nil
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
	for _, c := range []struct {
		token, want string
	}{
		{unsecuredJWT(map[string]any{"sub": "alice", "exp": now - 10}), `{"status":"invalid_token"}`},
		{unsecuredJWT(map[string]any{"sub": "alice", "exp": now + 60, "scope": "other"}), `{"status":"insufficient_scope", "scope":"[kafka]"}`},
		{unsecuredJWT(map[string]any{"exp": now + 60, "scope": "kafka"}), `{"status":"invalid_token"}`},
		{good[:len(good)-1] + "c2ln", `{"status":"invalid_token"}`}, // a signature
	} {
		first, second := login(c.token)
		if string(first.SASLAuthBytes) != c.want || second == nil || second.ErrorCode != kerr.SaslAuthenticationFailed.Code ||
			second.ErrorMessage == nil || *second.ErrorMessage != c.want {
			t.Errorf("token %s: challenge %q then %+v, want %s", c.token, first.SASLAuthBytes, second, c.want)
		}
	}
	short := unsecuredJWT(map[string]any{"sub": "alice", "exp": now + 5, "scope": "kafka"})
	first, _ := login(short)
	if first.ErrorCode != 0 || first.SessionLifetimeMillis <= 0 || first.SessionLifetimeMillis > 5000 {
		t.Errorf("session lifetime %d ms, want the token's remaining life (<= 5 s)", first.SessionLifetimeMillis)
	}
}
