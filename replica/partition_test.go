package replica

import (
	"errors"
	"github.com/twmb/franz-go/pkg/kerr"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/batchtest"
	"samsa/logstore"
)

// testManager returns a manager of broker 1 with an injected clock and a
// log for topic t partition 0, opened but not started (no goroutines: the
// test drives the ISR logic and reads proposals from alterCh).
func testManager(t *testing.T, lagMs int64) (*Manager, *atomic.Int64) {
	t.Helper()
	dir := t.TempDir()
	logs, err := logstore.Open(logstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	clock := &atomic.Int64{}
	clock.Store(1_000_000)
	m := New(Config{BrokerID: 1, ReplicaLagTimeMaxMs: lagMs}, Deps{
		Logs: logs,
		OpenLog: func(topic string, _ [16]byte, partition int32) (*logstore.Partition, error) {
			if p, ok := logs.Partition(topic, partition); ok {
				return p, nil
			}
			return logs.CreatePartition(topic, partition, logstore.PartitionConfig{})
		},
		Now: func() time.Time { return time.UnixMilli(clock.Load()) },
	})
	return m, clock
}

func leaderAndIsr(controllerEpoch int32, topic string, leader, epoch int32, isr, replicas []int32, zkVersion int32) *kmsg.LeaderAndISRRequest {
	req := kmsg.NewPtrLeaderAndISRRequest()
	req.Version = 7
	req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = 100, controllerEpoch, -1
	ts := kmsg.NewLeaderAndISRRequestTopicState()
	ts.Topic = topic
	ts.TopicID = [16]byte{1}
	ps := kmsg.NewLeaderAndISRRequestTopicPartition()
	ps.Partition, ps.ControllerEpoch, ps.Leader, ps.LeaderEpoch = 0, controllerEpoch, leader, epoch
	ps.ISR, ps.Replicas, ps.ZKVersion = isr, replicas, zkVersion
	ts.PartitionStates = append(ts.PartitionStates, ps)
	req.TopicStates = append(req.TopicStates, ts)
	return req
}

func appendN(t *testing.T, p *Partition, n int) (term int32) {
	t.Helper()
	b := batchtest.Batch{Records: batchtest.Simple(n, 8)}.Bytes()
	h, err := logstore.ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	term, err = p.AppendAsLeader(1, 1, func(epoch int32) error {
		logstore.SetPartitionLeaderEpoch(b, epoch)
		_, err := p.log.Append(b, h)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return term
}

func TestISRShrinkAndExpandDecisions(t *testing.T) {
	m, clock := testManager(t, 10_000)
	resp := m.LeaderAndIsr(leaderAndIsr(1, "t", 1, 5, []int32{1, 2, 3}, []int32{1, 2, 3}, 7))
	if c := resp.Topics[0].Partitions[0].ErrorCode; c != 0 {
		t.Fatalf("LeaderAndIsr error %d", c)
	}
	p := m.Get("t", 0)
	appendN(t, p, 10) // leader LEO 10
	read := func() (int, error) { return 0, nil }
	fetch := func(id int32, off int64) {
		t.Helper()
		if _, err := p.FollowerFetch(id, 11, 5, off, 0, -1, read); err != nil {
			t.Fatal(err)
		}
	}
	// Follower 2 catches up; 3 fetches but stays behind.
	fetch(2, 10)
	fetch(3, 4)
	if hw := p.log.HighWatermark(); hw != 4 {
		t.Fatalf("hw %d, want the smallest ISR log end 4", hw)
	}
	// Within the lag time nobody is out of sync (3 was caught up when
	// this broker became leader).
	clock.Add(9_000)
	p.maybeShrinkISR(clock.Load())
	if len(m.alterCh) != 0 {
		t.Fatal("shrink proposed within replica.lag.time.max.ms")
	}
	clock.Add(2_000)
	fetch(2, 10) // 2 keeps up
	p.maybeShrinkISR(clock.Load())
	it := <-m.alterCh
	if got := memberIDs(it.isr); !reflect.DeepEqual(got, []int32{1, 2}) {
		t.Fatalf("proposed ISR %v, want [1 2]", got)
	}
	if it.leaderEpoch != 5 || it.partitionEpoch != 7 || it.isr[1].brokerEpoch != 11 {
		t.Fatalf("proposal %+v", it)
	}
	// While the change is in flight the high watermark still waits for 3.
	if hw := p.log.HighWatermark(); hw != 4 {
		t.Fatalf("hw %d during a pending shrink", hw)
	}
	// The controller's answer applies; the watermark moves to 10.
	if retry := p.applyAlterResult(5, 0, 5, []int32{1, 2}, 8, 0); retry {
		t.Fatal("retry after success")
	}
	if st := p.State(); !reflect.DeepEqual(st.ISR, []int32{1, 2}) || st.PartitionEpoch != 8 {
		t.Fatalf("state %+v", st)
	}
	if hw := p.log.HighWatermark(); hw != 10 {
		t.Fatalf("hw %d after the shrink, want 10", hw)
	}
	// 3 catches up: an expansion is proposed, and counts for the high
	// watermark at once.
	fetch(3, 10)
	p.mu.Lock()
	p.maybeExpandISRLocked()
	p.mu.Unlock()
	it = <-m.alterCh
	if got := memberIDs(it.isr); !reflect.DeepEqual(got, []int32{1, 2, 3}) || it.partitionEpoch != 8 {
		t.Fatalf("proposed %v epoch %d", got, it.partitionEpoch)
	}
	// An answer for an older leader epoch is ignored.
	p.applyAlterResult(4, 0, 4, []int32{1, 2, 3}, 9, 0)
	if st := p.State(); len(st.ISR) != 2 {
		t.Fatalf("stale answer applied: %v", st.ISR)
	}
	// A newer LeaderAndIsr deposes this leader: appends are refused at once.
	m.LeaderAndIsr(leaderAndIsr(1, "t", 2, 6, []int32{2, 3}, []int32{1, 2, 3}, 9))
	if _, err := p.AppendAsLeader(1, 1, func(int32) error { t.Fatal("appended as a deposed leader"); return nil }); err == nil {
		t.Fatal("deposed leader accepted an append")
	}
	// A stale leader epoch and a stale controller epoch are refused.
	if c := m.LeaderAndIsr(leaderAndIsr(1, "t", 1, 6, []int32{1}, []int32{1, 2, 3}, 9)).Topics[0].Partitions[0].ErrorCode; c != 11 {
		t.Fatalf("same leader epoch answered %d, want STALE_CONTROLLER_EPOCH", c)
	}
	m.mu.Lock()
	m.controllerEpoch = 3
	m.mu.Unlock()
	if c := m.LeaderAndIsr(leaderAndIsr(2, "t", 1, 9, []int32{1}, []int32{1, 2, 3}, 9)).ErrorCode; c != 11 {
		t.Fatalf("stale controller epoch answered %d", c)
	}
	m.Close()
}

func TestMinISRAndWaitReplicated(t *testing.T) {
	m, _ := testManager(t, 10_000)
	m.LeaderAndIsr(leaderAndIsr(1, "t", 1, 1, []int32{1}, []int32{1, 2, 3}, 0))
	p := m.Get("t", 0)
	if _, err := p.AppendAsLeader(-1, 2, func(int32) error { return nil }); err == nil {
		t.Fatal("acks=all with ISR 1 < min.insync.replicas 2 accepted")
	}
	// min.insync.replicas above the replication factor is capped at it.
	m.LeaderAndIsr(leaderAndIsr(1, "t", 1, 2, []int32{1}, []int32{1}, 1))
	term := appendN(t, p, 3)
	if err := p.WaitReplicated(t.Context(), term, 3, 3, time.Now().Add(time.Second)); err != nil {
		t.Fatalf("single-replica acks=all: %v", err)
	}
	// A follower that does not fetch makes acks=all time out.
	m.LeaderAndIsr(leaderAndIsr(1, "t", 1, 3, []int32{1, 2}, []int32{1, 2}, 2))
	term = appendN(t, p, 1)
	start := time.Now()
	err := p.WaitReplicated(t.Context(), term, 4, 1, time.Now().Add(100*time.Millisecond))
	if err == nil || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("wait returned %v after %v", err, time.Since(start))
	}
	m.Close()
}

// TestEpochBumpOfStayingLeader: a LeaderAndIsr that only bumps the
// leader epoch of a broker that stays leader (the ZooKeeper controller
// shrinking the ISR after a follower died) does not fail delayed acks=all
// produces (Kafka's isNewLeader false): they complete once the remaining
// follower has fetched again; a real change of leadership fails them.
func TestEpochBumpOfStayingLeader(t *testing.T) {
	m, _ := testManager(t, 10_000)
	m.LeaderAndIsr(leaderAndIsr(1, "t", 1, 5, []int32{1, 2, 3}, []int32{1, 2, 3}, 0))
	p := m.Get("t", 0)
	fetch := func(id int32, epoch int32, off int64) {
		t.Helper()
		if _, err := p.FollowerFetch(id, 11, epoch, off, 0, -1, func() (int, error) { return 0, nil }); err != nil {
			t.Fatal(err)
		}
	}
	appendN(t, p, 5)
	fetch(2, 5, 5)
	fetch(3, 5, 5)
	term := appendN(t, p, 3) // log end 8
	done := make(chan error, 1)
	go func() { done <- p.WaitReplicated(t.Context(), term, 8, 2, time.Now().Add(5*time.Second)) }()
	fetch(2, 5, 8) // 2 has everything; 3 (about to die) does not
	if hw := p.log.HighWatermark(); hw != 5 {
		t.Fatalf("hw %d, want 5 (3 is at 5)", hw)
	}
	// The controller drops 3 from the ISR and bumps the epoch; 1 leads
	// on, and 2 fetches again in the new epoch.
	m.LeaderAndIsr(leaderAndIsr(1, "t", 1, 6, []int32{1, 2}, []int32{1, 2, 3}, 1))
	fetch(2, 6, 8)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("acks=all after an epoch bump of the same leader: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("acks=all still waiting after the follower fetched everything")
	}
	if hw := p.log.HighWatermark(); hw != 8 {
		t.Fatalf("hw %d after the bump, want 8", hw)
	}
	// Leadership moves away and back: a wait from the old term fails.
	term = appendN(t, p, 1)
	m.LeaderAndIsr(leaderAndIsr(1, "t", 2, 7, []int32{2, 1}, []int32{1, 2, 3}, 2))
	m.LeaderAndIsr(leaderAndIsr(1, "t", 1, 8, []int32{1, 2}, []int32{1, 2, 3}, 3))
	if err := p.WaitReplicated(t.Context(), term, 9, 1, time.Now().Add(time.Second)); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("wait across a change of leader: %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
	m.Close()
}

func memberIDs(ms []isrMember) []int32 {
	out := make([]int32, len(ms))
	for i, m := range ms {
		out[i] = m.id
	}
	return out
}

func TestClusterModeUnassignedPartition(t *testing.T) {
	m := New(Config{BrokerID: 1, ClusterMode: true}, Deps{})
	if _, err := m.Lookup("t", 0); err == nil {
		t.Fatal("cluster mode served a partition no LeaderAndIsr assigned")
	}
	single := New(Config{BrokerID: 1}, Deps{})
	if p, err := single.Lookup("t", 0); p != nil || err != nil {
		t.Fatalf("single node: %v, %v", p, err)
	}
}

// appendEpochs appends one single-record batch per entry, stamped with
// that leader epoch.
func appendEpochs(t *testing.T, lg *logstore.Partition, epochs ...int32) {
	t.Helper()
	for _, e := range epochs {
		b := batchtest.Batch{Records: batchtest.Simple(1, 4)}.Bytes()
		h, err := logstore.ParseBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		logstore.SetPartitionLeaderEpoch(b, e)
		h.PartitionLeaderEpoch = e
		if _, err := lg.Append(b, h); err != nil {
			t.Fatal(err)
		}
	}
}

func repeat(e int32, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = e
	}
	return out
}

// TestTruncationNeedsTwoRounds follows AbstractFetcherThread's
// truncation when the leader answers with an epoch the follower never
// had: the follower first cuts to the end of its own earlier epoch, then
// asks again and cuts to where the leader's copy of that epoch ends.
func TestTruncationNeedsTwoRounds(t *testing.T) {
	logs, err := logstore.Open(logstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	leader, _ := logs.CreatePartition("l", 0, logstore.PartitionConfig{})
	follower, _ := logs.CreatePartition("f", 0, logstore.PartitionConfig{})
	// Leader: epoch 1 at 0-4, epoch 2 at 5-11, epoch 4 at 12-19.
	appendEpochs(t, leader, append(append(repeat(1, 5), repeat(2, 7)...), repeat(4, 8)...)...)
	// Follower: epoch 1 at 0-9 (it led epoch 1 longer), epoch 3 at 10-14.
	appendEpochs(t, follower, append(repeat(1, 10), repeat(3, 5)...)...)
	fp := &Partition{log: follower}
	var rounds int
	for done := false; !done; rounds++ {
		if rounds > 3 {
			t.Fatal("truncation does not converge")
		}
		eps, _ := follower.LeaderEpochs()
		le, end, err := leader.EndOffsetForEpoch(eps[len(eps)-1].Epoch)
		if err != nil {
			t.Fatal(err)
		}
		var off int64
		off, done = truncationOffset(fp, le, end)
		if _, err := follower.TruncateTo(off); err != nil {
			t.Fatal(err)
		}
	}
	if rounds != 2 || follower.LogEndOffset() != 5 {
		t.Fatalf("after %d rounds the follower ends at %d, want 2 rounds and 5", rounds, follower.LogEndOffset())
	}
	// A follower whose epochs the leader has all: one round, cut at the
	// end of the shared epoch on the leader.
	f2, _ := logs.CreatePartition("f2", 0, logstore.PartitionConfig{})
	appendEpochs(t, f2, append(repeat(1, 5), repeat(2, 9)...)...) // epoch 2 at 5-13 diverges after 11
	le, end, _ := leader.EndOffsetForEpoch(2)
	off, done := truncationOffset(&Partition{log: f2}, le, end)
	if !done || off != 12 {
		t.Fatalf("truncate to %d (done %v), want 12", off, done)
	}
}

// TestLeaderRecoveryState: a follower keeps the LeaderRecoveryState
// LeaderAndIsr gives it; a leader elected uncleanly (RECOVERING) marks the
// partition RECOVERED at once and its next AlterPartition carries RECOVERED,
// so that the controller records the end of recovery (Kafka 3.9's
// Partition.makeLeader, KIP-704). An answer with an invalid state is sent
// again.
func TestLeaderRecoveryState(t *testing.T) {
	m, _ := testManager(t, 10_000)
	req := leaderAndIsr(1, "t", 2, 3, []int32{2}, []int32{1, 2}, 4)
	req.TopicStates[0].PartitionStates[0].LeaderRecoveryState = 1
	if c := m.LeaderAndIsr(req).Topics[0].Partitions[0].ErrorCode; c != 0 {
		t.Fatalf("LeaderAndIsr error %d", c)
	}
	p := m.Get("t", 0)
	if st := p.State(); st.Role != RoleFollower || st.LeaderRecoveryState != 1 {
		t.Fatalf("follower state %+v, want RECOVERING", st)
	}
	m.removeFromFetchers(p.TP)
	req = leaderAndIsr(1, "t", 1, 4, []int32{1}, []int32{1, 2}, 5)
	req.TopicStates[0].PartitionStates[0].LeaderRecoveryState = 1
	m.LeaderAndIsr(req)
	if st := p.State(); st.Role != RoleLeader || st.LeaderRecoveryState != 0 {
		t.Fatalf("leader state %+v, want RECOVERED", st)
	}
	if _, err := p.FollowerFetch(2, 11, 4, 0, 0, -1, func() (int, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	var it alterItem
	select {
	case it = <-m.alterCh:
	case <-time.After(5 * time.Second):
		t.Fatal("no ISR expansion proposed")
	}
	if got := memberIDs(it.isr); !reflect.DeepEqual(got, []int32{1, 2}) || it.leaderRecoveryState != 0 {
		t.Fatalf("proposal ISR %v recovery %d, want [1 2] RECOVERED", got, it.leaderRecoveryState)
	}
	if retry := p.applyAlterResult(4, 0, 4, []int32{1, 2}, 6, 7); !retry {
		t.Fatal("an invalid leader recovery state in the answer was accepted")
	}
	if st := p.State(); len(st.ISR) != 1 {
		t.Fatalf("ISR %v applied from an invalid answer", st.ISR)
	}
	if retry := p.applyAlterResult(4, 0, 4, []int32{1, 2}, 6, 0); retry {
		t.Fatal("retry after success")
	}
	if st := p.State(); !reflect.DeepEqual(st.ISR, []int32{1, 2}) || st.LeaderRecoveryState != 0 || st.PartitionEpoch != 6 {
		t.Fatalf("state %+v", st)
	}
	m.Close()
}
