package groups

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testConfig is a configuration with short timeouts and no initial delay.
func testConfig() Config {
	return Config{
		MinSessionTimeout:             10 * time.Millisecond,
		MaxSessionTimeout:             time.Minute,
		OffsetsRetention:              time.Hour,
		OffsetsRetentionCheckInterval: time.Hour,
	}
}

func openTest(t testing.TB, dir string, cfg Config, now func() time.Time) *Coordinator {
	t.Helper()
	c, err := Open(Options{Dir: dir, Config: cfg, Now: now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// fakeClock is a settable Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 1
	m.Topics = topics
	return m.AppendTo(nil)
}

func protos(topics ...string) []Protocol {
	return []Protocol{{Name: "range", Metadata: consumerMeta(topics...)}}
}

func joinReq(group, memberID string, ps []Protocol) JoinRequest {
	return JoinRequest{
		Group:            group,
		MemberID:         memberID,
		ProtocolType:     "consumer",
		Protocols:        ps,
		SessionTimeout:   10 * time.Second,
		RebalanceTimeout: 10 * time.Second,
		ClientID:         "client",
		ClientHost:       "/127.0.0.1",
	}
}

func strp(s string) *string { return &s }

// joinAsync runs Join in a goroutine.
func joinAsync(c *Coordinator, req JoinRequest) <-chan JoinResponse {
	ch := make(chan JoinResponse, 1)
	go func() { ch <- c.Join(context.Background(), req) }()
	return ch
}

func syncAsync(c *Coordinator, req SyncRequest) <-chan SyncResponse {
	ch := make(chan SyncResponse, 1)
	go func() { ch <- c.Sync(context.Background(), req) }()
	return ch
}

func recvJoin(t testing.TB, ch <-chan JoinResponse) JoinResponse {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("JoinGroup did not return")
		return JoinResponse{}
	}
}

func recvSync(t testing.TB, ch <-chan SyncResponse) SyncResponse {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("SyncGroup did not return")
		return SyncResponse{}
	}
}

// pending asserts that ch has not produced a response yet.
func notYet[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s returned early: %+v", what, r)
	case <-time.After(50 * time.Millisecond):
	}
}

func wantCode(t testing.TB, what string, got, want int16) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %s, want %s", what, codeName(got), codeName(want))
	}
}

func codeName(c int16) string {
	if c == 0 {
		return "NONE"
	}
	if e := kerr.ErrorForCode(c); e != nil {
		return e.Error()
	}
	return "?"
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stableGroup brings n dynamic members into a new group and completes
// the sync; the leader assigns "a-<member id>" to everyone. The first
// member forms generation 1 alone, the others join, and then it rejoins,
// which completes the join phase with everyone. It returns the member ids
// (leader first) and the generation.
func stableGroup(t testing.TB, c *Coordinator, group string, n int, ps []Protocol) ([]string, int32) {
	t.Helper()
	first := recvJoin(t, joinAsync(c, joinReq(group, "", ps)))
	wantCode(t, "first join", first.ErrorCode, 0)
	if n == 1 {
		r := c.Sync(context.Background(), SyncRequest{Group: group, MemberID: first.MemberID, Generation: first.Generation,
			Assignments: map[string][]byte{first.MemberID: []byte("a-" + first.MemberID)}})
		wantCode(t, "sync", r.ErrorCode, 0)
		return []string{first.MemberID}, first.Generation
	}
	chans := []<-chan JoinResponse{nil}
	for i := 1; i < n; i++ {
		chans = append(chans, joinAsync(c, joinReq(group, "", ps)))
	}
	waitFor(t, "members to join", func() bool { return len(c.Describe(group).Members) == n })
	chans[0] = joinAsync(c, joinReq(group, first.MemberID, ps))
	resps := make([]JoinResponse, n)
	for i, ch := range chans {
		resps[i] = recvJoin(t, ch)
		wantCode(t, "join", resps[i].ErrorCode, 0)
	}
	gen := resps[0].Generation
	var leader JoinResponse
	for _, r := range resps {
		if r.Generation != gen {
			t.Fatalf("generations differ: %d vs %d", r.Generation, gen)
		}
		if r.LeaderID == r.MemberID {
			leader = r
		}
	}
	if leader.MemberID == "" || len(leader.Members) != n {
		t.Fatalf("leader %q got %d members", leader.MemberID, len(leader.Members))
	}
	ids := []string{leader.MemberID}
	for _, r := range resps {
		if r.MemberID != leader.MemberID {
			ids = append(ids, r.MemberID)
		}
	}
	assign := map[string][]byte{}
	for _, m := range leader.Members {
		assign[m.MemberID] = []byte("a-" + m.MemberID)
	}
	var syncs []<-chan SyncResponse
	for _, id := range ids {
		req := SyncRequest{Group: group, MemberID: id, Generation: gen}
		if id == leader.MemberID {
			req.Assignments = assign
		}
		syncs = append(syncs, syncAsync(c, req))
	}
	for i, ch := range syncs {
		r := recvSync(t, ch)
		wantCode(t, "sync", r.ErrorCode, 0)
		if string(r.Assignment) != "a-"+ids[i] {
			t.Fatalf("member %s got assignment %q", ids[i], r.Assignment)
		}
	}
	return ids, gen
}
