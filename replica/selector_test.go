package replica

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestParseReplicaSelector(t *testing.T) {
	for class, want := range map[string]ReplicaSelector{
		"":                            SelectorNone,
		LeaderSelectorClass:           SelectorLeader,
		RackAwareReplicaSelectorClass: SelectorRackAware,
	} {
		if got, err := ParseReplicaSelector(class); err != nil || got != want {
			t.Errorf("ParseReplicaSelector(%q) = %v, %v; want %v", class, got, err, want)
		}
	}
	if _, err := ParseReplicaSelector("com.example.MySelector"); err == nil {
		t.Error("an unknown class was accepted")
	}
}

// TestPreferredReadReplica follows Kafka's findPreferredReadReplica with
// RackAwareReplicaSelector on leader 1 (rack a) of replicas 1-5, ISR
// 1-4: broker 2, 3 and 4 are in rack c, 5 (out of sync) too, and 4 is
// not live.
func TestPreferredReadReplica(t *testing.T) {
	m, clock := testManager(t, 10_000)
	m.cfg.ReplicaSelector = SelectorRackAware
	m.LeaderAndIsr(leaderAndIsr(1, "t", 1, 5, []int32{1, 2, 3, 4}, []int32{1, 2, 3, 4, 5}, 7))
	p := m.Get("t", 0)
	appendN(t, p, 10)
	racks := map[int32]string{1: "a", 2: "c", 3: "c", 5: "c"}
	rackOf := func(id int32) (string, bool) { r, ok := racks[id]; return r, ok }
	fetch := func(id int32, off int64) {
		t.Helper()
		if _, err := p.FollowerFetch(id, 11, 5, off, 0, -1, func() (int, error) { return 0, nil }); err != nil {
			t.Fatal(err)
		}
	}
	pick := func(rack string, off int64) int32 { return p.PreferredReadReplica(rack, off, rackOf) }

	if got := pick("c", 0); got != -1 {
		t.Errorf("no follower fetched yet: %d, want the leader (-1)", got)
	}
	fetch(2, 5)
	fetch(3, 10)
	fetch(4, 10) // not live: never picked
	fetch(5, 10) // not in the ISR: never picked
	if got := pick("c", 0); got != 3 {
		t.Errorf("rack c at 0: %d, want 3 (largest log end offset)", got)
	}
	if got := pick("c", 6); got != 3 {
		t.Errorf("rack c at 6: %d, want 3 (2 ends at 5)", got)
	}
	if got := pick("c", 11); got != -1 {
		t.Errorf("rack c past every follower: %d, want -1", got)
	}
	// Same log end offset: the most recently caught up wins.
	clock.Add(1000)
	fetch(2, 10)
	if got := pick("c", 0); got != 2 {
		t.Errorf("rack c, 2 caught up later than 3: %d, want 2", got)
	}
	// Same log end offset and catch-up time: the highest id.
	fetch(3, 10)
	if got := pick("c", 0); got != 3 {
		t.Errorf("rack c, a tie: %d, want 3", got)
	}
	// KIP-392's log start check: 3 deleted up to 8 (its log start offset
	// from its fetch), so a consumer at 5 goes to 2, one at 8 to 3; an
	// unknown log start offset (-1) does not exclude.
	if _, err := p.FollowerFetch(3, 11, 5, 10, 8, -1, func() (int, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	if got := pick("c", 5); got != 2 {
		t.Errorf("rack c at 5, 3 starting at 8: %d, want 2", got)
	}
	if got := pick("c", 8); got != 3 {
		t.Errorf("rack c at 8, 3 starting at 8: %d, want 3", got)
	}
	if _, err := p.FollowerFetch(2, 11, 5, 10, 9, -1, func() (int, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	if got := pick("c", 5); got != -1 {
		t.Errorf("rack c at 5, every follower starting later: %d, want the leader", got)
	}
	if _, err := p.FollowerFetch(3, 11, 5, 10, -1, -1, func() (int, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	if got := pick("c", 5); got != 3 {
		t.Errorf("rack c at 5, 3's log start unknown: %d, want 3", got)
	}
	for _, rack := range []string{"", "a", "b"} {
		if got := pick(rack, 0); got != -1 {
			t.Errorf("rack %q: %d, want the leader", rack, got)
		}
	}
	for _, sel := range []ReplicaSelector{SelectorNone, SelectorLeader} {
		m.cfg.ReplicaSelector = sel
		if got := pick("c", 0); got != -1 {
			t.Errorf("selector %d: %d, want the leader", sel, got)
		}
	}
	m.cfg.ReplicaSelector = SelectorRackAware

	if err := p.CheckReplica(-1); err != nil {
		t.Errorf("CheckReplica as leader: %v", err)
	}
	if err := p.CheckReplica(4); !errors.Is(err, kerr.FencedLeaderEpoch) {
		t.Errorf("CheckReplica with an older epoch: %v", err)
	}
	// As a follower: served to consumers v11+, never a preferred replica.
	m.LeaderAndIsr(leaderAndIsr(1, "t", 2, 6, []int32{1, 2, 3, 4}, []int32{1, 2, 3, 4, 5}, 8))
	if err := p.CheckReplica(6); err != nil {
		t.Errorf("CheckReplica as follower: %v", err)
	}
	if err := p.CheckLeader(6); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Errorf("CheckLeader as follower: %v", err)
	}
	if got := pick("c", 0); got != -1 {
		t.Errorf("as follower: %d, want -1", got)
	}
}
