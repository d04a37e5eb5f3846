package replica

import (
	"fmt"
	"slices"
)

// ReplicaSelector is replica.selector.class (KIP-392): which replica the
// leader tells a consumer to fetch from (Fetch v11+'s
// preferred_read_replica).
type ReplicaSelector int8

// The selectors Samsa implements, by Kafka class.
const (
	// SelectorNone: replica.selector.class unset, Kafka's default. The
	// leader never names a preferred read replica.
	SelectorNone ReplicaSelector = iota
	// SelectorLeader: org.apache.kafka.common.replica.LeaderSelector,
	// KIP-392's default implementation; always the leader, so the same
	// answers as SelectorNone.
	SelectorLeader
	// SelectorRackAware:
	// org.apache.kafka.common.replica.RackAwareReplicaSelector.
	SelectorRackAware
)

// Kafka's class names for replica.selector.class.
const (
	LeaderSelectorClass           = "org.apache.kafka.common.replica.LeaderSelector"
	RackAwareReplicaSelectorClass = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
)

// ParseReplicaSelector maps replica.selector.class to a selector: empty
// is SelectorNone; a class Samsa does not implement is an error (Kafka
// fails to start when it cannot load the class).
func ParseReplicaSelector(class string) (ReplicaSelector, error) {
	switch class {
	case "":
		return SelectorNone, nil
	case LeaderSelectorClass:
		return SelectorLeader, nil
	case RackAwareReplicaSelectorClass:
		return SelectorRackAware, nil
	}
	return SelectorNone, fmt.Errorf("replica.selector.class %q is not implemented (use %s or %s)", class, RackAwareReplicaSelectorClass, LeaderSelectorClass)
}

// SelectsFollowers reports whether the configured selector can name a
// replica other than the leader, so the fetch path looks one up only
// then.
func (m *Manager) SelectsFollowers() bool {
	return m != nil && m.cfg.ReplicaSelector == SelectorRackAware
}

// PreferredReadReplica is Kafka's ReplicaManager.findPreferredReadReplica
// with RackAwareReplicaSelector, for a consumer's Fetch (v11+) with
// rack_id clientRack at fetchOffset: the id of the replica the consumer
// should fetch from instead of this leader, or -1 to be served here.
//
// Only a leader answers one. Candidates are the leader and the followers
// that are in the ISR and whose log end offset (from their last fetch)
// is at or past fetchOffset and log start offset at or below it. rackOf
// gives a broker's rack and whether the broker is known (alive with an
// endpoint; unknown brokers are skipped, as Kafka's Node.noNode). The leader is kept when the client's rack is
// empty, when no candidate is in that rack or when the leader itself is;
// otherwise the most caught-up candidate of the rack wins (largest log
// end offset, then most recently caught up, then highest broker id:
// ReplicaView.comparator). A follower also needs its log start offset
// (the LogStartOffset of its last Fetch; -1, unknown, passes as in
// Kafka) at or below fetchOffset, so a consumer is never sent to a
// replica that has deleted the records it wants.
func (p *Partition) PreferredReadReplica(clientRack string, fetchOffset int64, rackOf func(id int32) (rack string, ok bool)) int32 {
	if clientRack == "" || p.m.cfg.ReplicaSelector != SelectorRackAware {
		return -1
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.role != RoleLeader {
		return -1
	}
	self := p.m.cfg.BrokerID
	if r, ok := rackOf(self); ok && r == clientRack {
		return -1
	}
	now := p.m.nowMs()
	best := int32(-1)
	var bestLEO, bestLag int64
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	for _, id := range p.replicas {
		if id == self || !slices.Contains(p.isr, id) {
			continue
		}
		st := p.followers[id]
		if st == nil || st.leo < 0 || st.leo < fetchOffset || st.logStart > fetchOffset {
			continue
		}
		if r, ok := rackOf(id); !ok || r != clientRack {
			continue
		}
		lag := now - st.lastCaughtUpMs
		if best < 0 || st.leo > bestLEO || (st.leo == bestLEO && (lag < bestLag || (lag == bestLag && id > best))) {
			best, bestLEO, bestLag = id, st.leo, lag
		}
	}
	return best
}

// CheckReplica returns nil when this broker holds a replica of the
// partition, leader or follower, in the given current leader epoch (-1:
// any): Kafka's Partition.localLogWithEpochOrThrow without
// fetchOnlyFromLeader, used for consumer fetches v11+ (KIP-392), which a
// follower serves up to its high watermark. Errors: FENCED_LEADER_EPOCH,
// UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER (no replica here).
func (p *Partition) CheckReplica(currentLeaderEpoch int32) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if err := p.checkEpochLocked(currentLeaderEpoch); err != nil {
		return err
	}
	if p.role == RoleNone {
		return p.notLeaderLocked()
	}
	return nil
}
