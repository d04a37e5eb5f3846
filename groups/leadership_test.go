package groups

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/coordinator"
)

// TestManagedLeadership: in cluster mode a coordinator serves a group only
// while it leads the group's __consumer_offsets partition. Before the
// election: NOT_COORDINATOR; after it, the partition's committed offsets
// and group are loaded from the log; after the resignation a parked
// JoinGroup is answered NOT_COORDINATOR, heartbeats, commits and fetches
// get NOT_COORDINATOR; a new election loads the log again, writes go
// through the Appender in the elected epoch.
func TestManagedLeadership(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var epochs []int32
	var failAppend atomic.Bool
	appender := func(p, epoch int32, fn func(int32) (int64, error)) error {
		mu.Lock()
		epochs = append(epochs, epoch)
		mu.Unlock()
		if failAppend.Load() {
			return kerr.NotLeaderForPartition
		}
		_, err := fn(epoch)
		return err
	}
	open := func() *Coordinator {
		c, err := Open(Options{Dir: dir, Config: testConfig(), NumPartitions: 1, Managed: true, Append: appender})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := open()
	defer c.Close()
	tp := TopicPartition{Topic: "t", Partition: 0}
	commit := func(off int64) int16 {
		code, _ := c.Commit(CommitRequest{Group: "g", Generation: -1, Offsets: []OffsetCommit{{TopicPartition: tp, Offset: off, LeaderEpoch: -1}}})
		return code
	}
	wantCode(t, "commit before election", commit(1), kerr.NotCoordinator.Code)
	code, _ := c.Fetch("g", []TopicPartition{tp}, false)
	wantCode(t, "fetch before election", code, kerr.NotCoordinator.Code)

	c.OnElection(0, 5)
	c.WaitLoads()
	code, errs := c.Commit(CommitRequest{Group: "g", Generation: -1, Offsets: []OffsetCommit{{TopicPartition: tp, Offset: 42, LeaderEpoch: -1}}})
	if code != 0 || errs[0] != 0 {
		t.Fatalf("commit after election: %s %v", codeName(code), errs)
	}
	mu.Lock()
	got := append([]int32(nil), epochs...)
	mu.Unlock()
	if len(got) != 1 || got[0] != 5 {
		t.Fatalf("appends in epochs %v, want [5]", got)
	}

	// A failed append through leadership: NOT_COORDINATOR, nothing applied.
	failAppend.Store(true)
	code, errs = c.Commit(CommitRequest{Group: "g", Generation: -1, Offsets: []OffsetCommit{{TopicPartition: tp, Offset: 50, LeaderEpoch: -1}}})
	if code == 0 && errs[0] != kerr.NotCoordinator.Code {
		t.Fatalf("commit with leadership lost: %s %v, want NOT_COORDINATOR", codeName(code), errs)
	}
	failAppend.Store(false)
	_, offs := c.Fetch("g", []TopicPartition{tp}, false)
	if offs[0].Offset != 42 {
		t.Fatalf("offset after a failed commit = %d, want 42", offs[0].Offset)
	}

	// A member parked in a join phase is answered when the partition goes.
	stableGroup(t, c, "h", 1, protos("t"))
	jr := joinReq("h", "", protos("t"))
	parked := joinAsync(c, jr)
	c.OnResignation(0, 6)
	c.WaitLoads()
	if r := recvJoin(t, parked); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("parked join after resignation: %s", codeName(r.ErrorCode))
	}
	wantCode(t, "heartbeat after resignation", c.Heartbeat("h", "x", nil, 1), kerr.NotCoordinator.Code)
	wantCode(t, "commit after resignation", commit(43), kerr.NotCoordinator.Code)
	code, _ = c.Fetch("g", []TopicPartition{tp}, false)
	wantCode(t, "fetch after resignation", code, kerr.NotCoordinator.Code)

	// A stale election (older epoch than the resignation) is ignored.
	c.OnElection(0, 6)
	c.WaitLoads()
	// Elected again in a newer epoch: the log is loaded again.
	c.OnElection(0, 7)
	c.WaitLoads()
	code, offs = c.Fetch("g", []TopicPartition{tp}, false)
	if code != 0 || offs[0].Offset != 42 {
		t.Fatalf("fetch after re-election: %s %+v, want offset 42", codeName(code), offs)
	}
	if err := c.rt.Status(0); err != nil {
		t.Fatalf("status after re-election: %v", err)
	}
	if !errors.Is(coordinator.ErrLoadInProgress, kerr.CoordinatorLoadInProgress) {
		t.Fatal("ErrLoadInProgress does not unwrap to COORDINATOR_LOAD_IN_PROGRESS")
	}
}
