package zkcontroller

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/zkdata"
)

// Election types of ElectLeaders (KIP-460's ElectionType).
const (
	ElectionPreferred int8 = 0
	ElectionUnclean   int8 = 1
)

// autoRebalanceFirstDelay is how long after its election the controller
// first checks leader imbalance (onControllerFailover schedules the
// task after 5 seconds).
const autoRebalanceFirstDelay = 5 * time.Second

type shutdownResult struct {
	remaining []tp
	err       error
}

// electResult is one partition's outcome of an election: code 0 with the
// new leader, or Kafka's error code with its message.
type electResult struct {
	code   int16
	msg    *string
	leader int32
}

// electWith changes a partition's leader (and ISR) to what choose makes
// of the current state, written conditionally on the partition epoch and
// retried when another write got there first. ok false from choose means
// no candidate: nothing is written and electWith returns false.
func (c *Controller) electWith(tc *topicCtx, p int32, choose func(cur zkdata.PartitionState) (zkdata.PartitionState, bool)) (bool, error) {
	for attempt := 0; attempt < 3; attempt++ {
		pc := tc.parts[p]
		if pc == nil {
			return false, nil
		}
		st, ok := choose(pc.st)
		if !ok {
			return false, nil
		}
		st.LeaderEpoch = pc.st.LeaderEpoch + 1
		err := c.writeState(tc, p, st)
		if errors.Is(err, zk.ErrBadVersion) {
			continue
		}
		if err != nil {
			return false, err
		}
		return true, nil
	}
	return false, fmt.Errorf("partition %s-%d changed concurrently three times", tc.name, p)
}

// choosePreferred is PreferredReplicaPartitionLeaderElectionStrategy: the
// first assigned replica, if it is live and in the ISR; the ISR stays.
func (c *Controller) choosePreferred(tc *topicCtx, p int32) func(zkdata.PartitionState) (zkdata.PartitionState, bool) {
	return func(cur zkdata.PartitionState) (zkdata.PartitionState, bool) {
		rs := tc.replicas[p]
		if len(rs) == 0 || !c.isLive(rs[0]) || !slices.Contains(cur.ISR, rs[0]) {
			return cur, false
		}
		st := cur
		st.Leader, st.ISR = rs[0], slices.Clone(cur.ISR)
		return st, true
	}
}

// chooseControlledShutdown is ControlledShutdownPartitionLeaderElection
// Strategy: the first assigned replica that is registered, in the ISR
// and not shutting down; the shutting-down brokers leave the ISR.
func (c *Controller) chooseControlledShutdown(tc *topicCtx, p int32) func(zkdata.PartitionState) (zkdata.PartitionState, bool) {
	return func(cur zkdata.PartitionState) (zkdata.PartitionState, bool) {
		leader := int32(-1)
		for _, r := range tc.replicas[p] {
			if c.isRegistered(r) && slices.Contains(cur.ISR, r) && !c.shuttingDown[r] {
				leader = r
				break
			}
		}
		if leader < 0 {
			return cur, false
		}
		st := cur
		st.Leader = leader
		st.ISR = []int32{}
		for _, r := range cur.ISR {
			if !c.shuttingDown[r] {
				st.ISR = append(st.ISR, r)
			}
		}
		return st, true
	}
}

// chooseUnclean is OfflinePartitionLeaderElectionStrategy with
// allowUnclean (an admin's unclean election): the first assigned replica
// that is live and in the ISR, keeping the live ISR; else the first live
// replica, alone in the ISR, with leader_recovery_state RECOVERING
// (KIP-704, as Election.leaderForOffline: the new leader was not in the
// ISR); the leader's first AlterPartition makes it RECOVERED again.
func (c *Controller) chooseUnclean(tc *topicCtx, p int32) func(zkdata.PartitionState) (zkdata.PartitionState, bool) {
	return func(cur zkdata.PartitionState) (zkdata.PartitionState, bool) {
		st := cur
		for _, r := range tc.replicas[p] {
			if c.isLive(r) && slices.Contains(cur.ISR, r) {
				st.Leader, st.ISR = r, filterLive(cur.ISR, c.isLive)
				return st, true
			}
		}
		for _, r := range tc.replicas[p] {
			if c.isLive(r) {
				c.log.Warn("controller: unclean leader election", "topic", tc.name, "partition", p, "leader", r)
				c.cfg.Stats.UncleanLeaderElection()
				st.Leader, st.ISR = r, []int32{r}
				st.LeaderRecoveryState = zkdata.LeaderRecovering
				return st, true
			}
		}
		return cur, false
	}
}

// controlledShutdown is KafkaController.doControlledShutdown, on the
// event goroutine. Errors are kerr values: NOT_CONTROLLER,
// STALE_BROKER_EPOCH for an epoch older than the broker's registration,
// BROKER_NOT_AVAILABLE for an unregistered broker. It returns the
// partitions the broker still leads (replication factor above 1), which
// are those with no other live ISR member.
func (c *Controller) controlledShutdown(id int32, epoch int64) ([]tp, error) {
	if !c.active {
		return nil, kerr.NotController
	}
	b, ok := c.live[id]
	if !ok {
		return nil, kerr.BrokerNotAvailable
	}
	if epoch != -1 && epoch < b.epoch {
		c.log.Info("controller: controlled shutdown from an old broker epoch refused", "broker", id, "broker_epoch", epoch, "current", b.epoch)
		return nil, kerr.StaleBrokerEpoch
	}
	c.log.Info("controller: shutting down broker", "broker", id)
	c.shuttingDown[id] = true
	var led, followed, changed []tp
	for _, x := range c.partitionsOn(id) {
		tc := c.topics[x.topic]
		if len(tc.replicas[x.part]) <= 1 {
			continue
		}
		if tc.parts[x.part].st.Leader == id {
			led = append(led, x)
		} else {
			followed = append(followed, x)
		}
	}
	for _, x := range led {
		tc := c.topics[x.topic]
		did, err := c.electWith(tc, x.part, c.chooseControlledShutdown(tc, x.part))
		if err != nil {
			return nil, err
		}
		if did {
			st := tc.parts[x.part].st
			c.log.Info("controller: moved leadership for controlled shutdown", "topic", x.topic, "partition", x.part,
				"leader", st.Leader, "leader_epoch", st.LeaderEpoch, "isr", st.ISR)
			changed = append(changed, x)
		} else {
			c.log.Warn("controller: no other in-sync replica to lead; the shutting-down broker keeps leading", "topic", x.topic, "partition", x.part)
		}
	}
	// LeaderAndIsr to the replicas (the shutting-down one included, which
	// becomes a follower), UpdateMetadata to every broker.
	c.sendLeaderAndIsrFor(changed)
	if len(changed) > 0 {
		c.sendUpdateMetadata(c.liveIDs())
	}
	// The broker stops following (StopReplica without delete), then
	// leaves the ISRs it is in (ReplicaStateMachine's OfflineReplica);
	// the other replicas and every broker hear of the change.
	c.sendStopReplicaKeep(id, followed)
	var shrunk []tp
	for _, x := range followed {
		tc := c.topics[x.topic]
		did, err := c.removeFromISR(tc, x.part, map[int32]bool{id: true})
		if err != nil {
			return nil, err
		}
		if did {
			shrunk = append(shrunk, x)
		}
	}
	if len(shrunk) > 0 {
		for _, r := range c.liveIDs() {
			if r == id {
				continue
			}
			var ps []tp
			for _, x := range shrunk {
				if slices.Contains(c.topics[x.topic].replicas[x.part], r) {
					ps = append(ps, x)
				}
			}
			c.sendLeaderAndIsr(r, ps, nil)
		}
		c.sendUpdateMetadata(c.liveIDs())
	}
	var remaining []tp
	for _, x := range c.partitionsOn(id) {
		if len(c.topics[x.topic].replicas[x.part]) > 1 && c.topics[x.topic].parts[x.part].st.Leader == id {
			remaining = append(remaining, x)
		}
	}
	c.log.Info("controller: controlled shutdown handled", "broker", id, "leaders_moved", len(changed),
		"isrs_left", len(shrunk), "partitions_remaining", len(remaining))
	return remaining, nil
}

// electLeaders is processReplicaLeaderElection for an admin's
// ElectLeaders, on the event goroutine: NOT_CONTROLLER everywhere when
// not the controller; UNKNOWN_TOPIC_OR_PARTITION for a partition the
// controller does not know; ELECTION_NOT_NEEDED when the preferred
// replica already leads (preferred) or the leader is live (unclean);
// PREFERRED_LEADER_NOT_AVAILABLE / ELIGIBLE_LEADERS_NOT_AVAILABLE when no
// candidate qualifies; else the new leader.
func (c *Controller) electLeaders(typ int8, parts []tp) map[tp]electResult {
	out := make(map[tp]electResult, len(parts))
	if !c.active {
		for _, x := range parts {
			out[x] = electResult{code: kerr.NotController.Code}
		}
		return out
	}
	var changed []tp
	for _, x := range parts {
		if _, dup := out[x]; dup {
			continue
		}
		tc := c.topics[x.topic]
		if tc == nil || tc.replicas[x.part] == nil {
			out[x] = electResult{code: kerr.UnknownTopicOrPartition.Code, msg: strPtr("The partition does not exist.")}
			continue
		}
		pc := tc.parts[x.part]
		failCode, strategy := kerr.PreferredLeaderNotAvailable.Code, "PreferredReplicaPartitionLeaderElectionStrategy"
		if typ == ElectionUnclean {
			failCode, strategy = kerr.EligibleLeadersNotAvailable.Code, "OfflinePartitionLeaderElectionStrategy(true)"
		}
		if pc == nil {
			out[x] = electResult{code: failCode, msg: strPtr(fmt.Sprintf("LeaderAndIsr information doesn't exist for partition %s-%d", x.topic, x.part))}
			continue
		}
		needed := pc.st.Leader != tc.replicas[x.part][0]
		if typ == ElectionUnclean {
			needed = pc.st.Leader < 0 || !c.isLive(pc.st.Leader)
		}
		if !needed {
			out[x] = electResult{code: kerr.ElectionNotNeeded.Code, msg: strPtr(kerr.ElectionNotNeeded.Description)}
			continue
		}
		choose := c.choosePreferred(tc, x.part)
		if typ == ElectionUnclean {
			choose = c.chooseUnclean(tc, x.part)
		}
		did, err := c.electWith(tc, x.part, choose)
		switch {
		case errors.Is(err, errControllerMoved):
			c.log.Warn("controller: another broker became controller during ElectLeaders; resigning")
			c.resign()
			c.post(evElect{})
			out[x] = electResult{code: kerr.NotController.Code}
		case err != nil:
			c.log.Error("controller: election failed", "topic", x.topic, "partition", x.part, "err", err)
			out[x] = electResult{code: kerr.UnknownServerError.Code, msg: strPtr(err.Error())}
		case !did:
			out[x] = electResult{code: failCode, msg: strPtr(fmt.Sprintf("Failed to elect leader for partition %s-%d under strategy %s", x.topic, x.part, strategy))}
		default:
			st := tc.parts[x.part].st
			c.log.Info("controller: elected leader on request", "topic", x.topic, "partition", x.part, "leader", st.Leader,
				"leader_epoch", st.LeaderEpoch, "election_type", typ)
			out[x] = electResult{leader: st.Leader}
			changed = append(changed, x)
		}
		if !c.active {
			// Resigned: the rest cannot be elected here.
			for _, y := range parts {
				if _, ok := out[y]; !ok {
					out[y] = electResult{code: kerr.NotController.Code}
				}
			}
			return out
		}
	}
	if len(changed) > 0 {
		c.sendLeaderAndIsrFor(changed)
		c.sendUpdateMetadata(c.liveIDs())
	}
	return out
}

func strPtr(s string) *string { return &s }

// scheduleAutoRebalance posts the leader imbalance check 5 s after the
// election and then every LeaderImbalanceCheckInterval, until the term
// ends.
func (c *Controller) scheduleAutoRebalance(gen int, termStop <-chan struct{}) {
	interval := c.cfg.LeaderImbalanceCheckInterval
	if interval <= 0 {
		interval = 300 * time.Second
	}
	go func() {
		t := time.NewTimer(autoRebalanceFirstDelay)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				c.post(evAutoRebalance{gen})
				t.Reset(interval)
			case <-termStop:
				return
			case <-c.stop:
				return
			}
		}
	}()
}

// autoRebalance is checkAndTriggerAutoLeaderRebalance: partitions are
// grouped by preferred replica (the first assigned); for each such
// broker, the share of its partitions led by another broker is its
// imbalance, and above leader.imbalance.per.broker.percentage those
// whose preferred replica is live and in the ISR get a preferred
// election.
func (c *Controller) autoRebalance() error {
	c.log.Info("controller: processing automatic preferred replica leader election")
	byPreferred := map[int32][]tp{}
	for _, name := range c.sortedTopics() {
		tc := c.topics[name]
		for p, rs := range tc.replicas {
			if len(rs) > 0 {
				byPreferred[rs[0]] = append(byPreferred[rs[0]], tp{name, p})
			}
		}
	}
	var changed []tp
	for _, pref := range sortedKeys(byPreferred) {
		all := byPreferred[pref]
		var notPreferred []tp
		for _, x := range all {
			if pc := c.topics[x.topic].parts[x.part]; pc != nil && pc.st.Leader != pref {
				notPreferred = append(notPreferred, x)
			}
		}
		ratio := float64(len(notPreferred)) / float64(len(all))
		if ratio <= float64(c.cfg.LeaderImbalancePerBrokerPercentage)/100 {
			continue
		}
		c.log.Info("controller: leader imbalance; electing preferred leaders", "broker", pref,
			"imbalance_ratio", ratio, "partitions", len(notPreferred))
		for _, x := range notPreferred {
			tc := c.topics[x.topic]
			did, err := c.electWith(tc, x.part, c.choosePreferred(tc, x.part))
			if err != nil {
				if errors.Is(err, errControllerMoved) {
					return err
				}
				c.log.Error("controller: preferred election failed", "topic", x.topic, "partition", x.part, "err", err)
				continue
			}
			if did {
				changed = append(changed, x)
			}
		}
	}
	if len(changed) > 0 {
		c.sendLeaderAndIsrFor(changed)
		c.sendUpdateMetadata(c.liveIDs())
	}
	return nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// sendStopReplicaKeep sends StopReplica v4 without delete for parts to broker
// id, each with the partition's current leader epoch
// (addStopReplicaRequestForBrokers with deletePartition false).
func (c *Controller) sendStopReplicaKeep(id int32, parts []tp) {
	if len(parts) == 0 || !c.isRegistered(id) {
		return
	}
	req := kmsg.NewPtrStopReplicaRequest()
	req.Version, req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = 4, c.id, c.epoch, c.live[id].epoch
	idx := map[string]int{}
	for _, x := range parts {
		i, ok := idx[x.topic]
		if !ok {
			t := kmsg.NewStopReplicaRequestTopic()
			t.Topic = x.topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			idx[x.topic] = i
		}
		s := kmsg.NewStopReplicaRequestTopicPartitionState()
		s.Partition, s.LeaderEpoch, s.Delete = x.part, c.topics[x.topic].parts[x.part].st.LeaderEpoch, false
		req.Topics[i].PartitionStates = append(req.Topics[i].PartitionStates, s)
	}
	c.enqueue(id, req)
}
