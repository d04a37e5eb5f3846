package security

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/xdg-go/scram"

	"samsa/controller"
	"samsa/protocol"
)

type credStore map[string]controller.ScramCredential

func (c credStore) ScramCredential(user string, m controller.ScramMechanism) (controller.ScramCredential, bool) {
	cr, ok := c[user+"/"+m.Name()]
	return cr, ok
}

// TestScramExchangeAndReplay logs in with xdg-go's SCRAM client through a
// session, then replays the captured client messages on a new session:
// the server nonce differs, so the replayed proof is refused with Kafka's
// generic message.
func TestScramExchangeAndReplay(t *testing.T) {
	client, err := scram.SHA512.NewClient("alice", "pw", "")
	if err != nil {
		t.Fatal(err)
	}
	kf := scram.KeyFactors{Salt: "0123456789abcdef", Iters: 4096}
	sc := client.GetStoredCredentials(kf)
	store := credStore{"alice/SCRAM-SHA-512": {Salt: []byte(kf.Salt), StoredKey: sc.StoredKey, ServerKey: sc.ServerKey, Iterations: 4096}}
	ls, err := build(t, "listeners=SASL_PLAINTEXT://127.0.0.1:0", "sasl.enabled.mechanisms=SCRAM-SHA-512")
	if err != nil {
		t.Fatal(err)
	}
	ls.SetCredentials(store)
	old := failedAuthDelay
	failedAuthDelay = 0
	defer func() { failedAuthDelay = old }()
	newSession := func() *saslSession {
		s := &saslSession{l: ls.byName["SASL_PLAINTEXT"]}
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, "SCRAM-SHA-512"
		if _, _, err := s.Intercept(&protocol.Request{Body: hs}); err != nil {
			t.Fatal(err)
		}
		return s
	}
	step := func(s *saslSession, msg string) (*kmsg.SASLAuthenticateResponse, error) {
		au := kmsg.NewPtrSASLAuthenticateRequest()
		au.Version, au.SASLAuthBytes = 1, []byte(msg)
		resp, _, err := s.Intercept(&protocol.Request{Body: au})
		return resp.(*kmsg.SASLAuthenticateResponse), err
	}
	conv := client.NewConversation()
	first, _ := conv.Step("")
	s := newSession()
	r1, err := step(s, first)
	if err != nil {
		t.Fatal(err)
	}
	final, err := conv.Step(string(r1.SASLAuthBytes))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := step(s, final)
	if err != nil || s.Principal() != "User:alice" {
		t.Fatalf("login: %v %q", err, s.Principal())
	}
	if _, err := conv.Step(string(r2.SASLAuthBytes)); err != nil || !conv.Valid() {
		t.Fatalf("client rejects the server signature: %v", err)
	}

	replay := newSession()
	if _, err := step(replay, first); err != nil {
		t.Fatal(err)
	}
	resp, err := step(replay, final)
	want := "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
	if err == nil || resp.ErrorCode != 58 || *resp.ErrorMessage != want || replay.Principal() != "" {
		t.Fatalf("replayed client-final: %v %+v", err, resp)
	}
	// A third message after completion, or garbage first, fails the same way.
	garbage := newSession()
	if resp, err := step(garbage, "not a scram message"); err == nil || !strings.Contains(*resp.ErrorMessage, "SCRAM-SHA-512") {
		t.Fatalf("garbage: %v", err)
	}
}
