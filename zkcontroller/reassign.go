package zkcontroller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/zkdata"
)

// assignment is Kafka's ReplicaAssignment (ControllerContext.scala): the
// replica set RS with the replicas being added (AR) and removed (RR) by
// a reassignment in progress. ORS = RS - AR, TRS = RS - RR.
type assignment struct {
	replicas, adding, removing []int32
}

// diff is Scala's Seq.diff for lists without duplicates: a without the
// members of b, in a's order.
func diff(a, b []int32) []int32 {
	out := []int32{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func (a assignment) origin() []int32   { return diff(a.replicas, a.adding) }
func (a assignment) target() []int32   { return diff(a.replicas, a.removing) }
func (a assignment) reassigning() bool { return len(a.adding) > 0 || len(a.removing) > 0 }

// reassignTo is ReplicaAssignment.reassignTo: RS = distinct(TRS ++ ORS),
// AR = RS - ORS, RR = RS - TRS. Target replicas come first, so the
// preferred leader of the target is RS's first replica.
func (a assignment) reassignTo(target []int32) assignment {
	orig := a.origin()
	full := []int32{}
	for _, r := range append(slices.Clone(target), orig...) {
		if !slices.Contains(full, r) {
			full = append(full, r)
		}
	}
	return assignment{replicas: full, adding: diff(full, orig), removing: diff(full, target)}
}

func (a assignment) equal(b assignment) bool {
	return slices.Equal(a.replicas, b.replicas) && slices.Equal(a.adding, b.adding) && slices.Equal(a.removing, b.removing)
}

func (c *Controller) assignmentOf(tc *topicCtx, p int32) assignment {
	return assignment{replicas: slices.Clone(tc.replicas[p]), adding: slices.Clone(tc.adding[p]), removing: slices.Clone(tc.removing[p])}
}

// setAssignment updates the in-memory assignment of one partition
// (ControllerContext.updatePartitionFullReplicaAssignment).
func (tc *topicCtx) setAssignment(p int32, a assignment) {
	tc.replicas[p] = slices.Clone(a.replicas)
	if len(a.adding) > 0 {
		tc.adding[p] = slices.Clone(a.adding)
	} else {
		delete(tc.adding, p)
	}
	if len(a.removing) > 0 {
		tc.removing[p] = slices.Clone(a.removing)
	} else {
		delete(tc.removing, p)
	}
}

// reassigning lists the partitions being reassigned
// (partitionsBeingReassigned), in order.
func (c *Controller) reassigning() []tp {
	var out []tp
	for _, name := range c.sortedTopics() {
		tc := c.topics[name]
		for _, p := range sortedKeys(tc.replicas) {
			if c.assignmentOf(tc, p).reassigning() {
				out = append(out, tp{name, p})
			}
		}
	}
	return out
}

// Events of reassignments.
type (
	evAlterReassignments struct {
		// targets holds nil for a cancellation (a null replica list).
		order   []tp
		targets map[tp][]int32
		allowRF bool
		reply   chan map[tp]reassignResult
	}
	evListReassignments struct {
		parts []tp // nil: every partition being reassigned
		reply chan listResult
	}
	// evZkReassignment: the /admin/reassign_partitions watch fired;
	// created tells a creation (acted on, as Kafka's
	// PartitionReassignmentHandler.handleCreation) from other changes
	// (the controller's own rewrites and deletes: the watch is only set
	// again).
	evZkReassignment struct {
		gen     int
		created bool
	}
)

// watchZkReassignment sets the exists watch on /admin/reassign_partitions
// and reports whether the znode exists.
func (c *Controller) watchZkReassignment() (bool, error) {
	ok, _, ch, err := c.conn.ExistsW(c.p(zkdata.ReassignPartitionsPath))
	if err != nil {
		return false, fmt.Errorf("watch %s: %w", zkdata.ReassignPartitionsPath, err)
	}
	gen := c.gen
	go func() {
		select {
		case ev := <-ch:
			c.post(evZkReassignment{gen: gen, created: ev.Type == zk.EventNodeCreated})
		case <-c.stop:
		}
	}()
	return ok, nil
}

type reassignResult struct {
	code int16
	msg  *string
}

type listResult struct {
	ok    bool // false: not the controller
	parts []tp
	as    []assignment
}

// alterReassignments is processApiPartitionReassignment on the event
// goroutine: each partition's target is validated (validateReplicas),
// turned into a full assignment (maybeBuildReassignment), taken out of
// any /admin/reassign_partitions reassignment (the latest request wins)
// and started (maybeTriggerPartitionReassignment).
func (c *Controller) alterReassignments(e evAlterReassignments) map[tp]reassignResult {
	out := make(map[tp]reassignResult, len(e.order))
	if !c.active {
		return nil
	}
	build := map[tp]assignment{}
	var start []tp
	for _, x := range e.order {
		target := e.targets[x]
		if target != nil {
			if r, bad := c.validateReplicas(x, target); bad {
				out[x] = r
				continue
			}
		}
		tc := c.topics[x.topic]
		var cur assignment
		if tc != nil {
			cur = c.assignmentOf(tc, x.part)
		}
		switch {
		case cur.reassigning():
			if target == nil {
				target = cur.origin()
			}
		case target == nil:
			out[x] = reassignResult{code: kerr.NoReassignmentInProgress.Code, msg: strPtr(kerr.NoReassignmentInProgress.Description)}
			continue
		}
		if !e.allowRF && target != nil && len(cur.replicas) > 0 && len(target) != len(cur.origin()) {
			// KIP-860 (AlterPartitionReassignments v1).
			out[x] = reassignResult{code: kerr.InvalidReplicationFactor.Code, msg: strPtr(fmt.Sprintf(
				"The replication factor is changed from %d to %d but allowReplicationFactorChange is false.", len(cur.origin()), len(target)))}
			continue
		}
		build[x] = cur.reassignTo(target)
		start = append(start, x)
	}
	if err := c.removeFromZkReassignment(func(x tp, _ []int32) bool { _, ok := build[x]; return ok }); err != nil {
		if errors.Is(err, errControllerMoved) {
			return nil
		}
		c.log.Error("controller: updating /admin/reassign_partitions failed", "err", err)
	}
	for x, r := range c.triggerReassignments(start, build) {
		out[x] = r
	}
	if !c.active {
		return nil
	}
	return out
}

// validateReplicas is KafkaController.validateReplicas.
func (c *Controller) validateReplicas(x tp, target []int32) (reassignResult, bool) {
	bad := func(msg string) (reassignResult, bool) {
		return reassignResult{code: kerr.InvalidReplicaAssignment.Code, msg: strPtr(msg)}, true
	}
	seen := map[int32]bool{}
	dup := false
	neg := false
	for _, r := range target {
		dup = dup || seen[r]
		neg = neg || r < 0
		seen[r] = true
	}
	switch {
	case len(target) == 0:
		return bad("Empty replica list specified in partition reassignment.")
	case dup:
		return bad(fmt.Sprintf("Duplicate replica ids in partition reassignment replica list: %s", scalaList(target)))
	case neg:
		return bad(fmt.Sprintf("Invalid broker id in replica list: %s", scalaList(target)))
	}
	var cur assignment
	if tc := c.topics[x.topic]; tc != nil {
		cur = c.assignmentOf(tc, x.part)
	}
	next := cur.reassignTo(target)
	for _, r := range next.adding {
		if !c.isLive(r) {
			var live []int32
			for _, id := range c.liveIDs() {
				if c.isLive(id) {
					live = append(live, id)
				}
			}
			return bad(fmt.Sprintf("Replica assignment has brokers that are not alive. Replica list: %s, live broker list: %s",
				scalaList(next.adding), scalaSet(live)))
		}
	}
	return reassignResult{}, false
}

// scalaList and scalaSet print ids as Kafka's messages do (Scala's
// Seq.toString / Set.toString).
func scalaList(ids []int32) string {
	s := "ArrayBuffer("
	for i, id := range ids {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(id)
	}
	return s + ")"
}

func scalaSet(ids []int32) string {
	s := "Set("
	for i, id := range ids {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(id)
	}
	return s + ")"
}

// triggerReassignments is maybeTriggerPartitionReassignment: a partition
// of a topic being deleted, or unknown, is UNKNOWN_TOPIC_OR_PARTITION;
// the others start (onPartitionReassignment). Partitions changed are then
// announced with one UpdateMetadata.
func (c *Controller) triggerReassignments(order []tp, build map[tp]assignment) map[tp]reassignResult {
	out := map[tp]reassignResult{}
	unknown := reassignResult{code: kerr.UnknownTopicOrPartition.Code, msg: strPtr("The partition does not exist.")}
	for _, x := range order {
		if !c.active {
			out[x] = reassignResult{code: kerr.NotController.Code}
			continue
		}
		if c.deleting[x.topic] != nil {
			c.log.Info("controller: skipping reassignment of a topic being deleted", "topic", x.topic, "partition", x.part)
			out[x] = unknown
			continue
		}
		tc := c.topics[x.topic]
		if tc == nil || len(tc.replicas[x.part]) == 0 {
			out[x] = unknown
			continue
		}
		err := c.onPartitionReassignment(tc, x.part, build[x])
		switch {
		case errors.Is(err, errControllerMoved):
			c.log.Warn("controller: another broker became controller during a reassignment; resigning")
			c.resign()
			c.elect()
			out[x] = reassignResult{code: kerr.NotController.Code}
		case err != nil:
			c.log.Error("controller: reassignment failed", "topic", x.topic, "partition", x.part, "err", err)
			out[x] = reassignResult{code: kerr.UnknownServerError.Code}
		default:
			out[x] = reassignResult{}
		}
	}
	return out
}

// onPartitionReassignment is KafkaController.onPartitionReassignment;
// see the package documentation for the steps (U1-U3, A1-A2, B1-B8).
func (c *Controller) onPartitionReassignment(tc *topicCtx, p int32, ra assignment) error {
	// U1-U3.
	cur := c.assignmentOf(tc, p)
	if !cur.equal(ra) {
		if err := c.writeAssignment(tc, p, ra); err != nil {
			return err
		}
		c.log.Info("controller: reassigning partition", "topic", tc.name, "partition", p,
			"replicas", ra.replicas, "adding", ra.adding, "removing", ra.removing)
		if unneeded := diff(cur.replicas, ra.replicas); len(unneeded) > 0 {
			if err := c.stopRemovedReplicas(tc, p, unneeded); err != nil {
				return err
			}
		}
	}
	if !c.reassignmentComplete(tc, p, ra) {
		// A1 (A2's LeaderAndIsr to the new replicas is part of it).
		return c.bumpEpochAndSend(tc, p, ra)
	}
	// B2: RS = TRS in memory.
	done := assignment{replicas: ra.target()}
	tc.setAssignment(p, done)
	// B3.
	if err := c.moveReassignedLeader(tc, p, done); err != nil {
		return err
	}
	// B4, B5.
	if err := c.stopRemovedReplicas(tc, p, ra.removing); err != nil {
		return err
	}
	// B6.
	if err := c.writeAssignment(tc, p, done); err != nil {
		return err
	}
	// B7.
	if err := c.removeFromZkReassignment(func(x tp, rs []int32) bool {
		return x == (tp{tc.name, p}) && slices.Equal(rs, done.replicas)
	}); err != nil {
		return err
	}
	// B8.
	c.sendUpdateMetadata(c.liveIDs())
	c.log.Info("controller: reassignment completed", "topic", tc.name, "partition", p, "replicas", done.replicas,
		"leader", tc.parts[p].st.Leader, "isr", tc.parts[p].st.ISR)
	// A deletion of the topic that waited for the reassignment resumes
	// (resumeDeletionForTopics).
	if !c.topicReassigning(tc) {
		if ok, _, err := c.conn.Exists(c.p(zkdata.DeleteTopicPath(tc.name))); err == nil && ok {
			return c.onDeleteTopics()
		}
	}
	return nil
}

// topicReassigning reports whether a partition of tc is being reassigned.
func (c *Controller) topicReassigning(tc *topicCtx) bool {
	for p := range tc.replicas {
		if c.assignmentOf(tc, p).reassigning() {
			return true
		}
	}
	return false
}

// reassignmentComplete is isReassignmentComplete: not reassigning, or
// every target replica in the ISR.
func (c *Controller) reassignmentComplete(tc *topicCtx, p int32, a assignment) bool {
	if !a.reassigning() {
		return true
	}
	pc := tc.parts[p]
	if pc == nil {
		return false
	}
	for _, r := range a.target() {
		if !slices.Contains(pc.st.ISR, r) {
			return false
		}
	}
	return true
}

// writeAssignment writes the topic znode with partition p's assignment
// replaced, conditionally on this controller's epoch
// (updateReplicaAssignmentForPartition / setTopicAssignmentRaw), then
// updates memory.
func (c *Controller) writeAssignment(tc *topicCtx, p int32, a assignment) error {
	t := zkdata.Topic{ID: tc.id, Replicas: map[int32][]int32{}, Adding: map[int32][]int32{}, Removing: map[int32][]int32{}}
	for q, rs := range tc.replicas {
		t.Replicas[q] = rs
	}
	for q, rs := range tc.adding {
		t.Adding[q] = rs
	}
	for q, rs := range tc.removing {
		t.Removing[q] = rs
	}
	t.Replicas[p] = a.replicas
	delete(t.Adding, p)
	delete(t.Removing, p)
	if len(a.adding) > 0 {
		t.Adding[p] = a.adding
	}
	if len(a.removing) > 0 {
		t.Removing[p] = a.removing
	}
	res, err := c.conn.Multi(
		&zk.CheckVersionRequest{Path: c.p(zkdata.ControllerEpochPath), Version: c.epochVersion},
		&zk.SetDataRequest{Path: c.p(zkdata.TopicPath(tc.name)), Data: zkdata.EncodeTopic(t), Version: -1},
	)
	if err != nil {
		if len(res) > 0 && errors.Is(res[0].Error, zk.ErrBadVersion) {
			return errControllerMoved
		}
		return fmt.Errorf("write assignment of %s-%d: %w", tc.name, p, err)
	}
	tc.setAssignment(p, a)
	return nil
}

// bumpEpochAndSend is updateLeaderEpochAndSendRequest: the leader epoch
// goes up by one (same leader and ISR), and LeaderAndIsr with the full
// assignment goes to ORS (isNew false) and AR (isNew true).
func (c *Controller) bumpEpochAndSend(tc *topicCtx, p int32, a assignment) error {
	did, err := c.electWith(tc, p, func(cur zkdata.PartitionState) (zkdata.PartitionState, bool) {
		return cur, true
	})
	if err != nil {
		return err
	}
	if !did {
		c.log.Error("controller: no partition state to send a reassignment with", "topic", tc.name, "partition", p)
		return nil
	}
	x := tp{tc.name, p}
	for _, r := range a.origin() {
		c.sendLeaderAndIsr(r, []tp{x}, nil)
	}
	for _, r := range a.adding {
		c.sendLeaderAndIsr(r, []tp{x}, map[tp]bool{x: true})
	}
	return nil
}

// moveReassignedLeader is moveReassignedPartitionLeaderIfRequired: a
// leader outside the new replicas, or dead, is replaced by the first
// target replica that is live and in the ISR
// (ReassignPartitionLeaderElectionStrategy); otherwise the epoch is
// bumped so the leader learns the smaller replica set.
func (c *Controller) moveReassignedLeader(tc *topicCtx, p int32, done assignment) error {
	pc := tc.parts[p]
	if pc == nil {
		return nil
	}
	leader := pc.st.Leader
	if slices.Contains(done.replicas, leader) && c.isLive(leader) {
		return c.bumpEpochAndSend(tc, p, done)
	}
	did, err := c.electWith(tc, p, func(cur zkdata.PartitionState) (zkdata.PartitionState, bool) {
		for _, r := range done.replicas {
			if c.isLive(r) && slices.Contains(cur.ISR, r) {
				st := cur
				st.Leader = r
				return st, true
			}
		}
		return cur, false
	})
	if err != nil {
		return err
	}
	if !did {
		c.log.Error("controller: no live in-sync target replica to lead the reassigned partition", "topic", tc.name, "partition", p,
			"replicas", done.replicas, "isr", pc.st.ISR)
		return nil
	}
	c.log.Info("controller: moved leadership of a reassigned partition", "topic", tc.name, "partition", p,
		"leader", tc.parts[p].st.Leader, "leader_epoch", tc.parts[p].st.LeaderEpoch)
	c.sendLeaderAndIsrFor([]tp{{tc.name, p}})
	return nil
}

// stopRemovedReplicas is stopRemovedReplicasOfReassignedPartition: the
// replicas go offline (StopReplica without delete, out of the ISR with
// LeaderAndIsr to the remaining replicas), then are deleted (StopReplica
// with delete). As in Kafka, a broker that is down keeps its copy.
func (c *Controller) stopRemovedReplicas(tc *topicCtx, p int32, removed []int32) error {
	if len(removed) == 0 {
		return nil
	}
	x := tp{tc.name, p}
	for _, r := range removed {
		c.sendStopReplicaKeep(r, []tp{x})
	}
	dead := map[int32]bool{}
	for _, r := range removed {
		dead[r] = true
	}
	if pc := tc.parts[p]; pc != nil && !dead[pc.st.Leader] {
		did, err := c.removeFromISR(tc, p, dead)
		if err != nil {
			return err
		}
		if did {
			for _, r := range diff(tc.replicas[p], removed) {
				c.sendLeaderAndIsr(r, []tp{x}, nil)
			}
		}
	}
	for _, r := range removed {
		c.sendStopReplicaDelete(r, x)
	}
	return nil
}

// sendStopReplicaDelete sends StopReplica v4 with delete for one
// partition to broker id, with the partition's current leader epoch
// (ReplicaDeletionStarted outside topic deletion).
func (c *Controller) sendStopReplicaDelete(id int32, x tp) {
	if !c.isRegistered(id) {
		return
	}
	req := kmsg.NewPtrStopReplicaRequest()
	req.Version, req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = 4, c.id, c.epoch, c.live[id].epoch
	t := kmsg.NewStopReplicaRequestTopic()
	t.Topic = x.topic
	s := kmsg.NewStopReplicaRequestTopicPartitionState()
	s.Partition, s.LeaderEpoch, s.Delete = x.part, -1, true
	if pc := c.topics[x.topic].parts[x.part]; pc != nil {
		s.LeaderEpoch = pc.st.LeaderEpoch
	}
	t.PartitionStates = append(t.PartitionStates, s)
	req.Topics = append(req.Topics, t)
	c.enqueue(id, req)
}

// maybeCompleteReassignment is KafkaController.maybeCompleteReassignment,
// run after an accepted AlterPartition of a partition being reassigned.
func (c *Controller) maybeCompleteReassignment(x tp) error {
	tc := c.topics[x.topic]
	if tc == nil {
		return nil
	}
	a := c.assignmentOf(tc, x.part)
	if !a.reassigning() || !c.reassignmentComplete(tc, x.part, a) {
		return nil
	}
	c.log.Info("controller: target replicas caught up with the leader", "topic", x.topic, "partition", x.part, "target", a.target())
	return c.onPartitionReassignment(tc, x.part, a)
}

// resumeReassignments is maybeResumeReassignments: onPartitionReassignment
// again for every partition being reassigned that should resume.
func (c *Controller) resumeReassignments(should func(x tp, a assignment) bool) error {
	for _, x := range c.reassigning() {
		tc := c.topics[x.topic]
		a := c.assignmentOf(tc, x.part)
		if !should(x, a) {
			continue
		}
		if err := c.onPartitionReassignment(tc, x.part, a); err != nil {
			if errors.Is(err, errControllerMoved) {
				return err
			}
			c.log.Error("controller: resuming reassignment failed", "topic", x.topic, "partition", x.part, "err", err)
		}
	}
	return nil
}

// initReassignments is initializePartitionReassignments, at failover:
// /admin/reassign_partitions first (it supersedes API reassignments of
// the same partitions), then every other partition being reassigned.
func (c *Controller) initReassignments() error {
	zkStarted, err := c.processZkReassignment()
	if err != nil {
		return err
	}
	return c.resumeReassignments(func(x tp, _ assignment) bool { return !zkStarted[x] })
}

// processZkReassignment is processZkPartitionReassignment: watch
// /admin/reassign_partitions and start what it asks for; partitions that
// fail are taken out of it. It returns the partitions started.
func (c *Controller) processZkReassignment() (map[tp]bool, error) {
	ok, err := c.watchZkReassignment()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	data, _, err := c.conn.Get(c.p(zkdata.ReassignPartitionsPath))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rs, err := zkdata.DecodeReassignments(data)
	if err != nil {
		// Kafka fails the event; the znode stays until an operator fixes
		// or removes it.
		c.log.Error("controller: unreadable /admin/reassign_partitions; ignoring it", "err", err)
		return nil, nil
	}
	results := map[tp]reassignResult{}
	build := map[tp]assignment{}
	var order []tp
	for _, r := range rs {
		x := tp{r.Topic, r.Partition}
		var cur assignment
		if tc := c.topics[x.topic]; tc != nil {
			cur = c.assignmentOf(tc, x.part)
		}
		build[x] = cur.reassignTo(r.Replicas)
		order = append(order, x)
	}
	for x, r := range c.triggerReassignments(order, build) {
		results[x] = r
	}
	if !c.active {
		return nil, errControllerMoved
	}
	started := map[tp]bool{}
	failed := map[tp]bool{}
	for x, r := range results {
		if r.code == 0 {
			started[x] = true
		} else {
			failed[x] = true
		}
	}
	if len(failed) > 0 {
		c.log.Warn("controller: reassignments through zookeeper failed", "partitions", len(failed))
		if err := c.removeFromZkReassignment(func(x tp, _ []int32) bool { return failed[x] }); err != nil {
			return started, err
		}
	}
	if len(started) > 0 {
		c.sendUpdateMetadata(c.liveIDs())
	}
	return started, nil
}

// removeFromZkReassignment is maybeRemoveFromZkReassignment: the entries
// of /admin/reassign_partitions that match leave it; the znode is deleted
// when none is left (and watched again for the next one).
func (c *Controller) removeFromZkReassignment(match func(x tp, replicas []int32) bool) error {
	data, st, err := c.conn.Get(c.p(zkdata.ReassignPartitionsPath))
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	rs, err := zkdata.DecodeReassignments(data)
	if err != nil {
		return nil
	}
	keep := []zkdata.Reassignment{}
	for _, r := range rs {
		if !match(tp{r.Topic, r.Partition}, r.Replicas) {
			keep = append(keep, r)
		}
	}
	if len(keep) == len(rs) {
		return nil
	}
	if len(keep) == 0 {
		c.log.Info("controller: no more partitions to reassign through zookeeper; deleting " + zkdata.ReassignPartitionsPath)
		if err := c.deleteConditional(c.p(zkdata.ReassignPartitionsPath)); err != nil {
			return err
		}
		return nil
	}
	res, err := c.conn.Multi(
		&zk.CheckVersionRequest{Path: c.p(zkdata.ControllerEpochPath), Version: c.epochVersion},
		&zk.SetDataRequest{Path: c.p(zkdata.ReassignPartitionsPath), Data: zkdata.EncodeReassignments(keep), Version: st.Version},
	)
	if err != nil && len(res) > 0 && errors.Is(res[0].Error, zk.ErrBadVersion) {
		return errControllerMoved
	}
	return err
}

// listReassignments is processListPartitionReassignments.
func (c *Controller) listReassignments(parts []tp) listResult {
	if !c.active {
		return listResult{}
	}
	if parts == nil {
		parts = c.reassigning()
	}
	r := listResult{ok: true}
	seen := map[tp]bool{}
	for _, x := range parts {
		tc := c.topics[x.topic]
		if tc == nil || seen[x] {
			continue
		}
		seen[x] = true
		if a := c.assignmentOf(tc, x.part); a.reassigning() {
			r.parts, r.as = append(r.parts, x), append(r.as, a)
		}
	}
	return r
}

// AlterPartitionReassignments serves AlterPartitionReassignments (key 45,
// KIP-455; v1 adds KIP-860's allowReplicationFactorChange) as Kafka
// 3.9's ZooKeeper-mode controller does: NOT_CONTROLLER at the top on any
// other broker, REQUEST_TIMED_OUT at the top when the request's timeout
// passes before the controller processed it, otherwise one result per
// partition (INVALID_REPLICA_ASSIGNMENT, NO_REASSIGNMENT_IN_PROGRESS for
// a cancellation of nothing, UNKNOWN_TOPIC_OR_PARTITION, ...). The
// answer comes once the reassignment started, not when it completes.
func (c *Controller) AlterPartitionReassignments(ctx context.Context, req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	allowRF := req.Version < 1 || req.AllowReplicationFactorChange
	resp.AllowReplicationFactorChange = allowRF
	if req.TimeoutMillis > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond)
		defer cancel()
	}
	ev := evAlterReassignments{targets: map[tp][]int32{}, allowRF: allowRF}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			x := tp{t.Topic, p.Partition}
			if _, dup := ev.targets[x]; !dup {
				ev.order = append(ev.order, x)
			}
			ev.targets[x] = p.Replicas
		}
	}
	r, code := call(c, ctx, func(reply chan map[tp]reassignResult) any { ev.reply = reply; return ev })
	if code == 0 && r == nil {
		code = kerr.NotController.Code
	}
	if code != 0 {
		resp.ErrorCode = code
		resp.ErrorMessage = strPtr(kerr.ErrorForCode(code).(*kerr.Error).Description)
		return resp
	}
	idx := map[string]int{}
	for _, x := range ev.order {
		i, ok := idx[x.topic]
		if !ok {
			rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			rt.Topic = x.topic
			resp.Topics = append(resp.Topics, rt)
			i = len(resp.Topics) - 1
			idx[x.topic] = i
		}
		rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
		rp.Partition, rp.ErrorCode, rp.ErrorMessage = x.part, r[x].code, r[x].msg
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return resp
}

// ListPartitionReassignments serves ListPartitionReassignments (key 46):
// the partitions asked for (every one when Topics is null) that are being
// reassigned, with their replicas, adding and removing replicas; others
// are left out. NOT_CONTROLLER at the top on any other broker.
func (c *Controller) ListPartitionReassignments(ctx context.Context, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	var parts []tp
	if req.Topics != nil {
		parts = []tp{}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, tp{t.Topic, p})
			}
		}
	}
	r, code := call(c, ctx, func(reply chan listResult) any { return evListReassignments{parts, reply} })
	if code == 0 && !r.ok {
		code = kerr.NotController.Code
	}
	if code != 0 {
		resp.ErrorCode = code
		resp.ErrorMessage = strPtr(kerr.ErrorForCode(code).(*kerr.Error).Description)
		return resp
	}
	idx := map[string]int{}
	for i, x := range r.parts {
		j, ok := idx[x.topic]
		if !ok {
			rt := kmsg.NewListPartitionReassignmentsResponseTopic()
			rt.Topic = x.topic
			resp.Topics = append(resp.Topics, rt)
			j = len(resp.Topics) - 1
			idx[x.topic] = j
		}
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition = x.part
		rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas = r.as[i].replicas, r.as[i].adding, r.as[i].removing
		if rp.AddingReplicas == nil {
			rp.AddingReplicas = []int32{}
		}
		if rp.RemovingReplicas == nil {
			rp.RemovingReplicas = []int32{}
		}
		resp.Topics[j].Partitions = append(resp.Topics[j].Partitions, rp)
	}
	return resp
}
