package replica

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/logstore"
)

// Role is a partition replica's state in this broker's state machine
// (see doc.go).
type Role int8

// The roles.
const (
	// RoleNone: no LeaderAndIsr names this broker for the partition (or
	// StopReplica removed it). Handlers treat such a partition as a single
	// node does.
	RoleNone Role = iota
	// RoleLeader: this broker is the partition's leader.
	RoleLeader
	// RoleFollower: this broker copies the partition from the leader.
	RoleFollower
)

func (r Role) String() string {
	switch r {
	case RoleLeader:
		return "leader"
	case RoleFollower:
		return "follower"
	}
	return "none"
}

// TP names a topic partition.
type TP struct {
	Topic     string
	Partition int32
}

func (tp TP) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// followerState is what the leader knows of one follower (Kafka's
// Replica/ReplicaState): its log end offset from its last fetch and when
// it was last caught up.
type followerState struct {
	leo                int64 // -1: unknown (no fetch since this broker became leader)
	lastCaughtUpMs     int64
	lastFetchLeaderLEO int64
	lastFetchMs        int64
	brokerEpoch        int64 // from the follower's Fetch ReplicaState (-1 unknown)
	// logStart is the follower's log start offset from its last Fetch
	// (the partition's LogStartOffset field; -1 unknown, Kafka's
	// UnifiedLog.UnknownOffset), which RackAwareReplicaSelector needs at
	// or below a consumer's fetch offset (KIP-392).
	logStart int64
}

// Partition is this broker's replica of one partition (Kafka's
// cluster.Partition).
//
// Locking: mu is Kafka's leaderIsrUpdateLock. LeaderAndIsr, StopReplica
// and the controller's AlterPartition answers take it for writing;
// appends as leader and the follower fetcher's appends hold it for
// reading, so a leadership change waits for appends in progress and no
// append starts under a stale epoch. stateMu guards the followers' fetch
// state, updated by follower fetches that hold mu for reading; order mu,
// then stateMu, then the log's own locks.
type Partition struct {
	TP
	m   *Manager
	log *logstore.Partition

	mu              sync.RWMutex
	topicID         [16]byte
	role            Role
	leader          int32
	leaderEpoch     int32
	partitionEpoch  int32 // the ZooKeeper version of the partition state (LeaderAndIsr ZKVersion)
	controllerEpoch int32
	replicas        []int32
	isr             []int32
	// adding and removing are LeaderAndIsr's AddingReplicas and
	// RemovingReplicas: while either is non-empty the partition is being
	// reassigned (Kafka's OngoingReassignmentState).
	adding, removing []int32
	// leaderRecoveryState is KIP-704's LeaderRecoveryState
	// (zkdata.LeaderRecovered 0, LeaderRecovering 1): as a follower the
	// one LeaderAndIsr carries; as leader always RECOVERED (Kafka 3.9's
	// Partition.makeLeader marks a RECOVERING partition RECOVERED at
	// once, there being no recovery to do), then what the controller's
	// AlterPartition answers say. It goes out with every AlterPartition,
	// which is how the controller learns RECOVERED.
	leaderRecoveryState int8
	// pendingISR is the ISR of an AlterPartition in flight (nil: none).
	// While it is in flight the high watermark counts the larger of the
	// two sets (Kafka's maximalIsr) and no other change is proposed.
	pendingISR []int32
	// leaderEpochStartOffset is the log end offset when this broker
	// became leader: a follower rejoins the ISR only past it.
	leaderEpochStartOffset int64
	// leaderTerm counts this broker's terms as leader: it moves only
	// when the role changes to leader (Kafka's isNewLeader), not when the
	// controller bumps the leader epoch of a leader that stays (an ISR
	// shrink in ZooKeeper mode). Delayed acks=all produces wait on it, so
	// such a bump does not fail them; losing and regaining leadership
	// (possibly with a truncated log) does.
	leaderTerm int32

	stateMu   sync.Mutex
	followers map[int32]*followerState
}

// Log is the partition's log.
func (p *Partition) Log() *logstore.Partition { return p.log }

// reassigningLocked is Kafka's Partition.isReassigning: the last
// LeaderAndIsr named adding or removing replicas. mu is held.
func (p *Partition) reassigningLocked() bool { return len(p.adding) > 0 || len(p.removing) > 0 }

// IsAddingReplica is Kafka's Partition.isAddingReplica: id is one of the
// replicas a reassignment in progress adds. Its fetches count as
// ReassignmentBytesOutPerSec on the leader.
func (p *Partition) IsAddingReplica(id int32) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Contains(p.adding, id)
}

// State is a snapshot of a partition's replication state.
type State struct {
	Role           Role
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas, ISR  []int32
	TopicID        [16]byte
	// LeaderRecoveryState is KIP-704's state (0 RECOVERED, 1 RECOVERING).
	LeaderRecoveryState int8
}

// State returns a snapshot (copies of the lists).
func (p *Partition) State() State {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return State{Role: p.role, Leader: p.leader, LeaderEpoch: p.leaderEpoch, PartitionEpoch: p.partitionEpoch,
		Replicas: slices.Clone(p.replicas), ISR: slices.Clone(p.isr), TopicID: p.topicID,
		LeaderRecoveryState: p.leaderRecoveryState}
}

// checkEpochLocked applies Kafka's fencing of a request's current leader
// epoch (-1: not given): older is FENCED_LEADER_EPOCH, newer is
// UNKNOWN_LEADER_EPOCH. mu must be held.
func (p *Partition) checkEpochLocked(current int32) error {
	switch {
	case current < 0 || current == p.leaderEpoch:
		return nil
	case current < p.leaderEpoch:
		return fmt.Errorf("%s: leader epoch %d is older than %d: %w", p.TP, current, p.leaderEpoch, kerr.FencedLeaderEpoch)
	default:
		return fmt.Errorf("%s: leader epoch %d is newer than %d: %w", p.TP, current, p.leaderEpoch, kerr.UnknownLeaderEpoch)
	}
}

// notLeaderLocked is the error of a request this broker cannot serve as
// leader: NOT_LEADER_OR_FOLLOWER (errors.As finds a *NotLeaderError with
// the current leader for KIP-951's hints).
func (p *Partition) notLeaderLocked() error {
	return &NotLeaderError{TP: p.TP, Leader: p.leader, LeaderEpoch: p.leaderEpoch}
}

// NotLeaderError is NOT_LEADER_OR_FOLLOWER with the leader this broker
// knows (-1: none), for KIP-951's current-leader fields of Produce v10+
// and Fetch v12+.
type NotLeaderError struct {
	TP          TP
	Leader      int32
	LeaderEpoch int32
}

func (e *NotLeaderError) Error() string {
	return fmt.Sprintf("%s: this broker is not the leader (leader %d, epoch %d): %v", e.TP, e.Leader, e.LeaderEpoch, kerr.NotLeaderForPartition)
}

// Unwrap makes errors.Is/As see kerr.NotLeaderForPartition.
func (e *NotLeaderError) Unwrap() error { return kerr.NotLeaderForPartition }

// effectiveMinISR caps min.insync.replicas at the replication factor
// (Kafka 3.7+, KAFKA-15583).
func effectiveMinISR(minISR int, replicas int) int {
	return max(1, min(minISR, replicas))
}

// AppendAsLeader runs appendFn while this broker leads the partition,
// holding leadership for its duration (Kafka's
// Partition.appendRecordsToLeader): NOT_LEADER_OR_FOLLOWER when it does
// not lead (fenced at once when a LeaderAndIsr deposed it), and for
// acks=all NOT_ENOUGH_REPLICAS when the ISR is smaller than
// min.insync.replicas capped at the replication factor, before anything
// is appended. appendFn gets the leader epoch to stamp in the batch. It
// returns the leadership term the append was made in, for WaitReplicated.
func (p *Partition) AppendAsLeader(acks int16, minISR int, appendFn func(leaderEpoch int32) error) (int32, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.role != RoleLeader {
		return 0, p.notLeaderLocked()
	}
	if acks == -1 {
		if need := effectiveMinISR(minISR, len(p.replicas)); len(p.isr) < need {
			return 0, fmt.Errorf("%s: in-sync replicas %v below min.insync.replicas %d: %w", p.TP, p.isr, need, kerr.NotEnoughReplicas)
		}
	}
	if err := appendFn(p.leaderEpoch); err != nil {
		return 0, err
	}
	p.maybeIncrementHWLocked()
	return p.leaderTerm, nil
}

// WaitReplicated waits, for an acks=all produce appended in leadership
// term (AppendAsLeader's answer), until
// the high watermark reaches offset (one past the batch's last offset),
// as Kafka's DelayedProduce with Partition.checkEnoughReplicasReachOffset:
// nil once it does with the ISR at least min.insync.replicas (capped),
// NOT_ENOUGH_REPLICAS_AFTER_APPEND when it does with a smaller ISR,
// NOT_LEADER_OR_FOLLOWER when leadership moved meanwhile (a new leader
// epoch of a broker that stays leader is not a move), and
// REQUEST_TIMED_OUT at deadline (the produce's timeout) or when ctx ends.
func (p *Partition) WaitReplicated(ctx context.Context, term int32, offset int64, minISR int, deadline time.Time) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		ch := p.log.Wait()
		p.mu.RLock()
		if p.role != RoleLeader || p.leaderTerm != term {
			err := p.notLeaderLocked()
			p.mu.RUnlock()
			return err
		}
		if p.log.HighWatermark() >= offset {
			// Kafka's checkEnoughReplicasReachOffset counts the maximal
			// ISR (an expansion in flight included).
			need := effectiveMinISR(minISR, len(p.replicas))
			n := len(p.maximalISRLocked())
			p.mu.RUnlock()
			if n < need {
				return fmt.Errorf("%s: in-sync replicas %d below min.insync.replicas %d after append: %w", p.TP, n, need, kerr.NotEnoughReplicasAfterAppend)
			}
			return nil
		}
		p.mu.RUnlock()
		d := time.Until(deadline)
		if d <= 0 {
			return fmt.Errorf("%s: high watermark did not reach %d in time: %w", p.TP, offset, kerr.RequestTimedOut)
		}
		if timer == nil {
			timer = time.NewTimer(d)
		}
		select {
		case <-ch:
		case <-timer.C:
			timer = nil
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", p.TP, kerr.RequestTimedOut)
		}
	}
}

// CheckLeader returns nil when this broker leads the partition in the
// given current leader epoch (-1: any), else NOT_LEADER_OR_FOLLOWER,
// FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH, in Kafka's order
// (Partition.getLocalLog: epoch first, then leadership).
func (p *Partition) CheckLeader(currentLeaderEpoch int32) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if err := p.checkEpochLocked(currentLeaderEpoch); err != nil {
		return err
	}
	if p.role != RoleLeader {
		return p.notLeaderLocked()
	}
	return nil
}

// LeaderEpoch is the partition's current leader epoch.
func (p *Partition) LeaderEpoch() int32 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.leaderEpoch
}

// FollowerFetch checks and records a follower's fetch (Kafka's
// Partition.fetchRecords for a replica, then updateFollowerFetchState):
// the leader serves the log up to its end, the follower's log end offset
// is the fetch offset, and after the read the ISR may grow and the high
// watermark move. read does the log read and returns the bytes it read;
// it is not called when the leader quota throttles the follower (the
// caller then answers no records). Errors: NOT_LEADER_OR_FOLLOWER,
// FENCED/UNKNOWN_LEADER_EPOCH, REPLICA_NOT_AVAILABLE for a broker that is
// not a replica.
func (p *Partition) FollowerFetch(replicaID int32, brokerEpoch int64, currentLeaderEpoch int32, fetchOffset, logStartOffset int64, lastFetchedEpoch int32, read func() (int, error)) (*Diverging, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if err := p.checkEpochLocked(currentLeaderEpoch); err != nil {
		return nil, err
	}
	if p.role != RoleLeader {
		return nil, p.notLeaderLocked()
	}
	if !slices.Contains(p.replicas, replicaID) || replicaID == p.m.cfg.BrokerID {
		return nil, fmt.Errorf("%s: broker %d is not a follower (replicas %v): %w", p.TP, replicaID, p.replicas, kerr.ReplicaNotAvailable)
	}
	if lastFetchedEpoch >= 0 {
		// KIP-320: a follower whose last fetched epoch ends earlier here
		// (or is unknown) has diverged; it is told where, and nothing is
		// read or recorded (Partition.fetchRecords).
		e, end, err := p.log.EndOffsetForEpoch(lastFetchedEpoch)
		if err != nil {
			return nil, err
		}
		if e < lastFetchedEpoch || end < fetchOffset {
			return &Diverging{Epoch: e, EndOffset: end}, nil
		}
	}
	leaderLEO := p.log.LogEndOffset()
	// ReplicaManager.shouldLeaderThrottle: a follower outside the ISR
	// fetching a throttled partition gets no records while the leader
	// quota is exceeded; what throttled partitions send is recorded.
	q := p.m.leaderQuota
	throttled := q.IsThrottled(p.Topic, p.Partition) && !slices.Contains(p.isr, replicaID)
	if !throttled || !q.Exceeded() {
		n, err := read()
		if err != nil {
			return nil, err
		}
		if q.IsThrottled(p.Topic, p.Partition) {
			q.Record(n)
		}
	}
	now := p.m.nowMs()
	p.stateMu.Lock()
	st := p.followers[replicaID]
	if st == nil {
		st = &followerState{leo: -1, logStart: -1}
		p.followers[replicaID] = st
	}
	updateFollowerFetchState(st, fetchOffset, logStartOffset, leaderLEO, now, brokerEpoch)
	expand := p.pendingISR == nil && !slices.Contains(p.isr, replicaID) && p.inSyncLocked(st)
	p.stateMu.Unlock()
	p.maybeIncrementHWLocked()
	if expand {
		// Proposing changes the partition state: under the write lock,
		// after this read lock is released.
		go func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.role == RoleLeader {
				p.maybeExpandISRLocked()
			}
		}()
	}
	return nil, nil
}

// Diverging is a Fetch response's diverging epoch (KIP-320): the largest
// epoch at or below the follower's last fetched one and where it ends on
// the leader.
type Diverging struct {
	Epoch     int32
	EndOffset int64
}

// inSyncLocked is Kafka's isFollowerInSync: the follower's log end is at
// or past the high watermark and the start of this leader's epoch.
// stateMu is held.
func (p *Partition) inSyncLocked(st *followerState) bool {
	return st.leo >= p.log.HighWatermark() && st.leo >= p.leaderEpochStartOffset
}

// updateFollowerFetchState is Kafka's Replica.updateFetchStateOrThrow: a
// follower fetching at or past the leader's log end is caught up now; one
// fetching at or past the leader's log end of its previous fetch was
// caught up at that previous fetch.
func updateFollowerFetchState(st *followerState, fetchOffset, logStartOffset, leaderLEO, nowMs, brokerEpoch int64) {
	if fetchOffset >= leaderLEO {
		st.lastCaughtUpMs = max(st.lastCaughtUpMs, nowMs)
	} else if fetchOffset >= st.lastFetchLeaderLEO {
		st.lastCaughtUpMs = max(st.lastCaughtUpMs, st.lastFetchMs)
	}
	st.leo = fetchOffset
	st.logStart = logStartOffset
	st.lastFetchLeaderLEO = leaderLEO
	st.lastFetchMs = nowMs
	st.brokerEpoch = brokerEpoch
}

// maximalISRLocked is the ISR the high watermark must wait for: the
// larger of the current ISR and the one in flight (Kafka's maximalIsr).
func (p *Partition) maximalISRLocked() []int32 {
	if p.pendingISR == nil || len(p.pendingISR) < len(p.isr) {
		return p.isr
	}
	return p.pendingISR
}

// maybeIncrementHWLocked raises the high watermark to the smallest log
// end offset of the maximal ISR (Kafka's maybeIncrementLeaderHW). mu is
// held (read or write).
func (p *Partition) maybeIncrementHWLocked() {
	if p.role != RoleLeader {
		return
	}
	hw := p.log.LogEndOffset()
	p.stateMu.Lock()
	for _, id := range p.maximalISRLocked() {
		if id == p.m.cfg.BrokerID {
			continue
		}
		st := p.followers[id]
		if st == nil || st.leo < 0 {
			p.stateMu.Unlock()
			return // an ISR member not heard from yet holds the watermark
		}
		hw = min(hw, st.leo)
	}
	p.stateMu.Unlock()
	p.log.MaybeIncrementHighWatermark(hw)
}

// maybeExpandISRLocked proposes adding caught-up followers to the ISR
// (Kafka's maybeExpandIsr / isFollowerInSync): a follower whose log end
// is at or past the high watermark and past the start of this leader's
// epoch. One change is in flight at a time. mu is held for writing.
func (p *Partition) maybeExpandISRLocked() {
	if p.pendingISR != nil {
		return
	}
	var add []int32
	p.stateMu.Lock()
	for _, id := range p.replicas {
		if id == p.m.cfg.BrokerID || slices.Contains(p.isr, id) {
			continue
		}
		if st := p.followers[id]; st != nil && p.inSyncLocked(st) {
			add = append(add, id)
		}
	}
	p.stateMu.Unlock()
	if len(add) == 0 {
		return
	}
	isr := append(slices.Clone(p.isr), add...)
	slices.Sort(isr)
	p.proposeISRLocked(isr)
}

// outOfSyncLocked lists the ISR followers that are behind the leader's
// log end and have not caught up for more than lagMaxMs (Kafka's
// getOutOfSyncReplicas / isFollowerOutOfSync).
func (p *Partition) outOfSyncLocked(nowMs, lagMaxMs int64) []int32 {
	leo := p.log.LogEndOffset()
	var out []int32
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	for _, id := range p.isr {
		if id == p.m.cfg.BrokerID {
			continue
		}
		st := p.followers[id]
		if st == nil {
			continue
		}
		if st.leo != leo && nowMs-st.lastCaughtUpMs > lagMaxMs {
			out = append(out, id)
		}
	}
	return out
}

// maybeShrinkISR is the leader's periodic ISR check (Kafka's
// maybeShrinkIsr, run every replica.lag.time.max.ms / 2).
func (p *Partition) maybeShrinkISR(nowMs int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.role != RoleLeader || p.pendingISR != nil {
		return
	}
	out := p.outOfSyncLocked(nowMs, p.m.cfg.ReplicaLagTimeMaxMs)
	if len(out) == 0 {
		return
	}
	isr := slices.DeleteFunc(slices.Clone(p.isr), func(id int32) bool { return slices.Contains(out, id) })
	p.m.log.Info("replica: shrinking ISR", "partition", p.TP.String(), "isr", p.isr, "new_isr", isr, "out_of_sync", out)
	p.proposeISRLocked(isr)
}

// proposeISRLocked sends isr to the controller with AlterPartition; it
// takes effect when the controller's answer comes back (see
// Manager.alterPartition). A shrink counts the old ISR for the high
// watermark meanwhile; an expansion already counts the new member.
func (p *Partition) proposeISRLocked(isr []int32) {
	p.pendingISR = isr
	p.stateMu.Lock()
	members := make([]isrMember, len(isr))
	for i, id := range isr {
		members[i] = isrMember{id: id, brokerEpoch: -1}
		if id == p.m.cfg.BrokerID {
			members[i].brokerEpoch = p.m.brokerEpoch()
		} else if st := p.followers[id]; st != nil {
			members[i].brokerEpoch = st.brokerEpoch
		}
	}
	p.stateMu.Unlock()
	p.m.enqueueAlter(alterItem{p: p, topicID: p.topicID, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch,
		leaderRecoveryState: p.leaderRecoveryState, isr: members})
}

// applyAlterResult applies the controller's answer to an AlterPartition
// (Kafka's Partition.handleAlterPartitionUpdate / handleAlterPartitionError):
// the answer's ISR and partition epoch when it is for the current leader
// epoch; errors drop the proposal (the controller will send LeaderAndIsr,
// or the next check proposes again). retry reports a proposal to send
// again. An answer with a leader recovery state other than 0 or 1 counts
// as UNKNOWN_SERVER_ERROR (AlterPartitionManager), so it is sent again.
func (p *Partition) applyAlterResult(leaderEpoch int32, errCode int16, respLeaderEpoch int32, isr []int32, partitionEpoch int32, recovery int8) (retry bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.role != RoleLeader || p.leaderEpoch != leaderEpoch || p.pendingISR == nil {
		return false
	}
	if errCode == 0 && recovery != 0 && recovery != 1 {
		p.m.log.Error("replica: controller answered an invalid leader recovery state", "partition", p.TP.String(), "leader_recovery_state", recovery)
		errCode = kerr.UnknownServerError.Code
	}
	if errCode != 0 {
		if errCode == kerr.OperationNotAttempted.Code || errCode == kerr.UnknownServerError.Code {
			return true
		}
		p.m.log.Warn("replica: controller refused ISR change", "partition", p.TP.String(), "isr", p.pendingISR, "err", kerr.ErrorForCode(errCode))
		p.pendingISR = nil
		return false
	}
	if respLeaderEpoch != p.leaderEpoch || partitionEpoch < p.partitionEpoch {
		p.pendingISR = nil
		return false
	}
	p.isr = isr
	p.partitionEpoch = partitionEpoch
	p.leaderRecoveryState = recovery
	p.pendingISR = nil
	p.m.log.Info("replica: ISR updated", "partition", p.TP.String(), "isr", isr, "partition_epoch", partitionEpoch)
	p.maybeIncrementHWLocked()
	p.log.Notify()
	return false
}
