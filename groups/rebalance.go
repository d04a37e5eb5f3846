package groups

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// This file holds the rebalance machinery shared by the request paths and
// the timers: Kafka's prepareRebalance, DelayedJoin/InitialDelayedJoin,
// onCompleteJoin, DelayedSync and DelayedHeartbeat. Everything here runs
// with the group's mu held.

// scheduleHeartbeat (re)starts m's expiration d from now: Kafka's
// completeAndScheduleNextExpiration. The timer is created once per member
// and then only reset.
func (c *Coordinator) scheduleHeartbeat(g *group, m *member, d time.Duration) {
	m.hbDeadline = time.Now().Add(d)
	if m.hbTimer == nil {
		m.hbTimer = time.AfterFunc(d, func() { c.onHeartbeatTimer(g, m) })
		return
	}
	m.hbTimer.Reset(d)
}

// onHeartbeatTimer is Kafka's onExpireHeartbeat. A member with a parked
// JoinGroup or SyncGroup counts as alive (the rebalance and sync timeouts
// take care of it) unless it is new, in which case its join timeout runs.
func (c *Coordinator) onHeartbeatTimer(g *group, m *member) {
	if !c.lockLive(g) {
		return
	}
	defer g.mu.Unlock()
	if g.byID[m.id] != m {
		return // removed, or a stale timer of a replaced member
	}
	if left := time.Until(m.hbDeadline); left > 0 {
		m.hbTimer.Reset(left) // a heartbeat moved the deadline
		return
	}
	if !m.isNew && (m.awaitingJoin() || m.awaitingSync()) {
		return
	}
	c.log.Info("member session expired, removing it", "group", g.id, "member", m.id)
	c.removeMemberAndUpdateGroup(g, m)
}

// addPendingMember registers a member id handed out with
// MEMBER_ID_REQUIRED; it is dropped if it does not join within the
// session timeout.
func (c *Coordinator) addPendingMember(g *group, id string, sessionTimeout time.Duration) {
	g.pending[id] = time.AfterFunc(sessionTimeout, func() {
		if !c.lockLive(g) {
			return
		}
		defer g.mu.Unlock()
		if g.isPending(id) {
			c.log.Info("pending member expired", "group", g.id, "member", id)
			c.removePendingMemberAndUpdateGroup(g, id)
		}
	})
}

// removeMemberAndUpdateGroup removes m (answering a parked JoinGroup with
// UNKNOWN_MEMBER_ID) and moves the group on: a rebalance from Stable or
// CompletingRebalance, a completion check in PreparingRebalance.
func (c *Coordinator) removeMemberAndUpdateGroup(g *group, m *member) {
	g.remove(m.id)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		c.maybePrepareRebalance(g, "member removed")
	case statePreparingRebalance:
		c.tryCompleteJoin(g)
	}
}

func (c *Coordinator) removePendingMemberAndUpdateGroup(g *group, id string) {
	g.remove(id)
	if g.is(statePreparingRebalance) {
		c.tryCompleteJoin(g)
	}
}

func (c *Coordinator) maybePrepareRebalance(g *group, reason string) {
	if g.canRebalance() {
		c.prepareRebalance(g, reason)
	}
}

// prepareRebalance enters PreparingRebalance. Members parked in SyncGroup
// are told REBALANCE_IN_PROGRESS. A group coming from Empty waits
// group.initial.rebalance.delay.ms (extended while members keep arriving,
// up to the rebalance timeout) so that a starting consumer fleet lands in
// one generation instead of one per member; otherwise the join phase ends
// when every member has rejoined or the rebalance timeout expires.
func (c *Coordinator) prepareRebalance(g *group, reason string) {
	if g.is(stateCompletingRebalance) {
		c.resetAndPropagateAssignmentError(g, kerr.RebalanceInProgress.Code)
	}
	c.removeSyncExpiration(g)
	op := &joinOp{}
	var d time.Duration
	if g.is(stateEmpty) {
		delay := c.cfg.InitialRebalanceDelay
		op.initial, op.delay, op.remaining = true, delay, max(g.rebalanceTimeout()-delay, 0)
		d = delay
	} else {
		d = g.rebalanceTimeout()
	}
	g.transitionTo(statePreparingRebalance, c.nowMs())
	c.log.Info("preparing to rebalance", "group", g.id, "generation", g.generation, "reason", reason)
	c.startJoinOp(g, op, d)
	if !op.initial {
		c.tryCompleteJoin(g)
	}
}

func (c *Coordinator) startJoinOp(g *group, op *joinOp, d time.Duration) {
	if g.join != nil {
		g.join.timer.Stop()
	}
	g.join = op
	op.timer = time.AfterFunc(d, func() { c.onJoinTimer(g, op) })
}

// tryCompleteJoin completes the join phase early once everyone expected
// has joined. The initial delay is never cut short.
func (c *Coordinator) tryCompleteJoin(g *group) {
	op := g.join
	if op == nil || op.initial || !g.hasAllMembersJoined() {
		return
	}
	op.timer.Stop()
	g.join = nil
	c.onCompleteJoin(g)
}

// onJoinTimer ends a join phase (or one step of the initial delay).
func (c *Coordinator) onJoinTimer(g *group, op *joinOp) {
	if !c.lockLive(g) {
		return
	}
	defer g.mu.Unlock()
	if g.join != op {
		return
	}
	g.join = nil
	if op.initial && g.newMemberAdded && op.remaining != 0 {
		// Kafka's InitialDelayedJoin.onComplete, including its arithmetic:
		// the next step is the configured delay capped by what remains,
		// and what remains shrinks by the step just finished.
		g.newMemberAdded = false
		next := &joinOp{
			initial:   true,
			delay:     min(c.cfg.InitialRebalanceDelay, op.remaining),
			remaining: max(op.remaining-op.delay, 0),
		}
		c.startJoinOp(g, next, next.delay)
		return
	}
	c.onCompleteJoin(g)
}

// onCompleteJoin is Kafka's onCompleteJoin: dynamic members that did not
// rejoin are dropped (static ones stay, to be expired by their session
// timeout), the generation advances, and every parked JoinGroup is
// answered; the leader gets the member list.
func (c *Coordinator) onCompleteJoin(g *group) {
	for _, m := range append([]*member(nil), g.members...) {
		if !m.awaitingJoin() && m.instanceID == nil {
			c.log.Info("removing member that did not rejoin", "group", g.id, "member", m.id)
			g.remove(m.id)
		}
	}
	if !g.maybeElectNewJoinedLeader() && len(g.members) > 0 {
		// Only static members that did not rejoin are left: wait for
		// their sessions to expire.
		c.log.Warn("no member rejoined, postponing rebalance", "group", g.id)
		c.startJoinOp(g, &joinOp{}, g.rebalanceTimeout())
		return
	}
	g.initNextGeneration(c.nowMs())
	if g.is(stateEmpty) {
		c.log.Info("group is now empty", "group", g.id, "generation", g.generation)
		// A failed write is only logged, as in Kafka: an empty generation
		// has no members that could act on the stale one.
		_ = c.storeGroup(g, nil)
		return
	}
	c.log.Info("group stabilizing", "group", g.id, "generation", g.generation, "members", len(g.members), "protocol", *g.protocolName)
	for _, m := range g.members {
		resp := JoinResponse{
			MemberID:     m.id,
			Generation:   g.generation,
			ProtocolType: cloneStr(g.protocolType),
			ProtocolName: cloneStr(g.protocolName),
			LeaderID:     g.leader,
		}
		if g.isLeader(m.id) {
			resp.Members = g.currentMemberMetadata()
		}
		g.maybeInvokeJoin(m, resp)
		c.scheduleHeartbeat(g, m, m.sessionTimeout)
		m.isNew = false
		g.pendingSync[m.id] = true
	}
	c.schedulePendingSync(g)
}

// schedulePendingSync starts Kafka's DelayedSync for the new generation.
func (c *Coordinator) schedulePendingSync(g *group) {
	if g.sync != nil {
		g.sync.timer.Stop()
	}
	op := &syncOp{generation: g.generation}
	g.sync = op
	op.timer = time.AfterFunc(g.rebalanceTimeout(), func() { c.onSyncTimer(g, op) })
}

// removeSyncExpiration forgets who still owes a SyncGroup.
func (c *Coordinator) removeSyncExpiration(g *group) {
	clear(g.pendingSync)
	c.maybeCompleteSyncExpiration(g)
}

func (c *Coordinator) removePendingSyncMember(g *group, id string) {
	delete(g.pendingSync, id)
	c.maybeCompleteSyncExpiration(g)
}

// maybeCompleteSyncExpiration cancels the DelayedSync once it has nothing
// left to do (Kafka's tryCompletePendingSync).
func (c *Coordinator) maybeCompleteSyncExpiration(g *group) {
	op := g.sync
	if op == nil {
		return
	}
	if op.generation != g.generation || len(g.pendingSync) == 0 ||
		!(g.is(stateCompletingRebalance) || g.is(stateStable)) {
		op.timer.Stop()
		g.sync = nil
	}
}

// onSyncTimer removes members that never sent SyncGroup for this
// generation and starts another rebalance without them.
func (c *Coordinator) onSyncTimer(g *group, op *syncOp) {
	if !c.lockLive(g) {
		return
	}
	defer g.mu.Unlock()
	if g.sync != op {
		return
	}
	g.sync = nil
	if op.generation != g.generation || !(g.is(stateCompletingRebalance) || g.is(stateStable)) || len(g.pendingSync) == 0 {
		return
	}
	var ids []string
	for id := range g.pendingSync {
		ids = append(ids, id)
	}
	for _, id := range ids {
		g.remove(id)
	}
	c.log.Info("removed members that did not send SyncGroup", "group", g.id, "members", ids)
	c.prepareRebalance(g, "pending sync expired")
}

// resetAndPropagateAssignmentError clears every assignment and answers
// parked SyncGroups with code.
func (c *Coordinator) resetAndPropagateAssignmentError(g *group, code int16) {
	for _, m := range g.members {
		m.assignment = nil
	}
	c.propagateAssignment(g, code)
}

// setAndPropagateAssignment installs the leader's assignment and answers
// every parked SyncGroup.
func (c *Coordinator) setAndPropagateAssignment(g *group, assignment map[string][]byte) {
	for _, m := range g.members {
		m.assignment = assignment[m.id]
	}
	c.propagateAssignment(g, 0)
}

func (c *Coordinator) propagateAssignment(g *group, code int16) {
	for _, m := range g.members {
		resp := SyncResponse{ErrorCode: code}
		if code == 0 {
			resp.ProtocolType = cloneStr(g.protocolType)
			resp.ProtocolName = cloneStr(g.protocolName)
			resp.Assignment = m.assignment
		}
		if g.maybeInvokeSync(m, resp) {
			// The member may have "expired" while parked; its next
			// heartbeat is due a session timeout from now.
			c.scheduleHeartbeat(g, m, m.sessionTimeout)
		}
	}
}
