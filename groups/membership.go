package groups

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Join handles a JoinGroup. It returns at once for errors and for members
// that can be answered from the current generation; otherwise the member
// is parked until the join phase completes, ctx ends or the coordinator
// closes (both answered COORDINATOR_NOT_AVAILABLE, which makes clients
// retry). A parked member stays in the join phase even if ctx ends, as in
// Kafka, where the response would go to a closed connection.
func (c *Coordinator) Join(ctx context.Context, req JoinRequest) JoinResponse {
	if req.Group == "" {
		return joinError(req.MemberID, kerr.InvalidGroupID.Code)
	}
	if c.closed.Load() {
		return joinError(req.MemberID, kerr.CoordinatorNotAvailable.Code)
	}
	if req.SessionTimeout < c.cfg.MinSessionTimeout || req.SessionTimeout > c.cfg.MaxSessionTimeout {
		return joinError(req.MemberID, kerr.InvalidSessionTimeout.Code)
	}
	// The group is created by a member without id; a member that claims
	// an id in a group that does not exist is unknown.
	g, code := c.lockGroup(req.Group, req.MemberID == "")
	if g == nil {
		if code == 0 {
			code = kerr.UnknownMemberID.Code
		}
		return joinError(req.MemberID, code)
	}
	ch, resp := c.join(g, req)
	if g.is(statePreparingRebalance) {
		c.tryCompleteJoin(g)
	}
	g.mu.Unlock()
	if ch == nil {
		return resp
	}
	return await(ctx, c.closing, ch, joinError(req.MemberID, kerr.CoordinatorNotAvailable.Code))
}

// await returns what ch delivers to a parked Join or Sync, or fallback when
// ctx ends or the coordinator closes first. A response that raced with the
// cancellation is preferred to the fallback.
func await[T any](ctx context.Context, closing <-chan struct{}, ch <-chan T, fallback T) T {
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
	case <-closing:
	}
	select {
	case r := <-ch:
		return r
	default:
		return fallback
	}
}

// acceptJoiningMember is Kafka's group.max.size rule. While preparing a
// rebalance it counts members that have rejoined, so that when the limit
// was lowered the last members to rejoin are the ones turned away.
func (c *Coordinator) acceptJoiningMember(g *group, id string) bool {
	switch g.state {
	case statePreparingRebalance:
		if m := g.byID[id]; m != nil && m.awaitingJoin() {
			return true
		}
		return g.numAwaiting < c.cfg.MaxSize
	case stateCompletingRebalance, stateStable:
		return g.has(id) || len(g.members) < c.cfg.MaxSize
	default:
		return true
	}
}

// join decides a JoinGroup under g.mu. It returns either a channel the
// member is parked on or the immediate response.
func (c *Coordinator) join(g *group, req JoinRequest) (chan JoinResponse, JoinResponse) {
	if !c.acceptJoiningMember(g, req.MemberID) {
		g.remove(req.MemberID)
		return nil, joinError("", kerr.GroupMaxSizeReached.Code)
	}
	if req.MemberID == "" {
		return c.joinNewMember(g, req)
	}
	return c.joinCurrentMember(g, req)
}

func (c *Coordinator) joinNewMember(g *group, req JoinRequest) (chan JoinResponse, JoinResponse) {
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		return nil, joinError("", kerr.InconsistentGroupProtocol.Code)
	}
	newID := newMemberID(req.ClientID, req.InstanceID)
	if req.InstanceID != nil {
		if oldID, ok := g.static[*req.InstanceID]; ok {
			c.log.Info("static member rejoins with a new member id", "group", g.id,
				"instance", *req.InstanceID, "old", oldID, "new", newID, "state", g.state)
			return c.updateStaticMemberAndRebalance(g, oldID, newID, req)
		}
		return c.addMemberAndRebalance(g, newID, req), JoinResponse{}
	}
	if req.RequireKnownMember {
		// The member must come back with this id: a client that times
		// out and retries then cannot leave orphaned members behind.
		c.addPendingMember(g, newID, req.SessionTimeout)
		return nil, joinError(newID, kerr.MemberIDRequired.Code)
	}
	return c.addMemberAndRebalance(g, newID, req), JoinResponse{}
}

func (c *Coordinator) joinCurrentMember(g *group, req JoinRequest) (chan JoinResponse, JoinResponse) {
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		return nil, joinError(req.MemberID, kerr.InconsistentGroupProtocol.Code)
	}
	if g.isPending(req.MemberID) && req.InstanceID == nil {
		return c.addMemberAndRebalance(g, req.MemberID, req), JoinResponse{}
	}
	if code := validateMember(g, req.MemberID, req.InstanceID); code != 0 {
		return nil, joinError(req.MemberID, code)
	}
	m := g.byID[req.MemberID]
	switch g.state {
	case statePreparingRebalance:
		return c.updateMemberAndRebalance(g, m, req), JoinResponse{}
	case stateCompletingRebalance:
		if m.matches(req.Protocols) {
			// The member probably missed its JoinGroup response: repeat it.
			c.scheduleHeartbeat(g, m, m.sessionTimeout)
			resp := c.currentJoinResponse(g, m.id, g.leader)
			if g.isLeader(m.id) {
				resp.Members = g.currentMemberMetadata()
			}
			return nil, resp
		}
		return c.updateMemberAndRebalance(g, m, req), JoinResponse{}
	case stateStable:
		// A rejoining leader forces a rebalance: that is how a leader
		// reacts to changes the member metadata does not show (such as
		// new partitions of a subscribed topic).
		if g.isLeader(m.id) || !m.matches(req.Protocols) {
			return c.updateMemberAndRebalance(g, m, req), JoinResponse{}
		}
		c.scheduleHeartbeat(g, m, m.sessionTimeout)
		return nil, c.currentJoinResponse(g, m.id, g.leader)
	default:
		return nil, joinError(req.MemberID, kerr.UnknownMemberID.Code)
	}
}

// currentJoinResponse describes the current generation to memberID.
func (c *Coordinator) currentJoinResponse(g *group, memberID, leader string) JoinResponse {
	return JoinResponse{
		MemberID:     memberID,
		Generation:   g.generation,
		ProtocolType: cloneStr(g.protocolType),
		ProtocolName: cloneStr(g.protocolName),
		LeaderID:     leader,
	}
}

// validateMember checks that memberID is a member and, for a static
// member, that it is the instance's current member id (Kafka's
// validateCurrentMember).
func validateMember(g *group, memberID string, instanceID *string) int16 {
	if instanceID != nil {
		cur, ok := g.static[*instanceID]
		if !ok {
			return kerr.UnknownMemberID.Code
		}
		if cur != memberID {
			return kerr.FencedInstanceID.Code
		}
		return 0
	}
	if !g.has(memberID) {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

func (c *Coordinator) addMemberAndRebalance(g *group, id string, req JoinRequest) chan JoinResponse {
	m := &member{
		id:               id,
		instanceID:       cloneStr(req.InstanceID),
		clientID:         req.ClientID,
		clientHost:       req.ClientHost,
		rebalanceTimeout: req.RebalanceTimeout,
		sessionTimeout:   req.SessionTimeout,
		protocolType:     req.ProtocolType,
		protocols:        cloneProtocols(req.Protocols),
		isNew:            true,
	}
	if g.is(statePreparingRebalance) && g.generation == 0 {
		g.newMemberAdded = true
	}
	ch := make(chan JoinResponse, 1)
	g.add(m, ch)
	c.scheduleHeartbeat(g, m, newMemberJoinTimeout)
	c.maybePrepareRebalance(g, "adding new member "+id)
	return ch
}

func (c *Coordinator) updateMemberAndRebalance(g *group, m *member, req JoinRequest) chan JoinResponse {
	ch := make(chan JoinResponse, 1)
	g.updateMember(m, cloneProtocols(req.Protocols), req.RebalanceTimeout, req.SessionTimeout, ch)
	c.maybePrepareRebalance(g, "member "+m.id+" rejoined")
	return ch
}

// updateStaticMemberAndRebalance gives a static instance its new member
// id. In a stable group whose protocol would not change, the member gets
// the current generation back without a rebalance (the point of static
// membership: a restarted consumer keeps its partitions).
func (c *Coordinator) updateStaticMemberAndRebalance(g *group, oldID, newID string, req JoinRequest) (chan JoinResponse, JoinResponse) {
	oldLeader := g.leader
	m := g.replaceStaticMember(*req.InstanceID, oldID, newID)
	c.scheduleHeartbeat(g, m, m.sessionTimeout)
	oldProtocols, oldRebalance, oldSession := m.protocols, m.rebalanceTimeout, m.sessionTimeout
	ch := make(chan JoinResponse, 1)
	g.updateMember(m, cloneProtocols(req.Protocols), req.RebalanceTimeout, req.SessionTimeout, ch)
	switch g.state {
	case stateStable:
		if g.protocolName == nil || g.selectProtocol() != *g.protocolName {
			c.maybePrepareRebalance(g, "static member "+newID+" changed the selected protocol")
			return ch, JoinResponse{}
		}
		assignment := make(map[string][]byte, len(g.members))
		for _, x := range g.members {
			assignment[x.id] = x.assignment
		}
		if err := c.storeGroup(g, assignment); err != nil {
			// Revert: the old member id stays the instance's.
			g.updateMember(m, oldProtocols, oldRebalance, oldSession, nil)
			old := g.replaceStaticMember(*req.InstanceID, newID, oldID)
			c.scheduleHeartbeat(g, old, old.sessionTimeout)
			resp := c.currentJoinResponse(g, "", oldLeader)
			resp.ErrorCode = storeErrCode(err)
			return nil, resp
		}
		var resp JoinResponse
		if req.SupportSkippingAssignment {
			// v9+: the leader learns it leads (to keep watching metadata)
			// but must not run the assignor.
			isLeader := g.isLeader(newID)
			resp = c.currentJoinResponse(g, newID, g.leader)
			resp.SkipAssignment = isLeader
			if isLeader {
				resp.Members = g.currentMemberMetadata()
			}
		} else {
			// Older clients get the old leader id, so that a rejoining
			// leader does not consider itself leader and assign.
			resp = c.currentJoinResponse(g, newID, oldLeader)
		}
		g.maybeInvokeJoin(m, resp)
		return ch, JoinResponse{}
	case stateCompletingRebalance:
		// The leader may be assigning to the old member id: start over.
		c.prepareRebalance(g, "static member "+newID+" rejoined during CompletingRebalance")
	}
	return ch, JoinResponse{}
}

func cloneProtocols(ps []Protocol) []Protocol {
	out := make([]Protocol, len(ps))
	for i, p := range ps {
		out[i] = Protocol{Name: p.Name, Metadata: append([]byte(nil), p.Metadata...)}
	}
	return out
}

// Sync handles a SyncGroup. Followers of a generation that is still
// completing are parked until the leader's assignment is stored; ctx and
// Close end the wait with COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) Sync(ctx context.Context, req SyncRequest) SyncResponse {
	if req.Group == "" {
		return SyncResponse{ErrorCode: kerr.InvalidGroupID.Code}
	}
	g, code := c.lockGroup(req.Group, false)
	if g == nil {
		if code == 0 {
			code = kerr.UnknownMemberID.Code
		}
		return SyncResponse{ErrorCode: code}
	}
	ch, resp := c.sync(g, req)
	g.mu.Unlock()
	if ch == nil {
		return resp
	}
	return await(ctx, c.closing, ch, SyncResponse{ErrorCode: kerr.CoordinatorNotAvailable.Code})
}

func (c *Coordinator) sync(g *group, req SyncRequest) (chan SyncResponse, SyncResponse) {
	fail := func(code int16) (chan SyncResponse, SyncResponse) { return nil, SyncResponse{ErrorCode: code} }
	if code := validateMember(g, req.MemberID, req.InstanceID); code != 0 {
		return fail(code)
	}
	if req.Generation != g.generation {
		return fail(kerr.IllegalGeneration.Code)
	}
	if req.ProtocolType != nil && (g.protocolType == nil || *g.protocolType != *req.ProtocolType) {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	if req.ProtocolName != nil && (g.protocolName == nil || *g.protocolName != *req.ProtocolName) {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	m := g.byID[req.MemberID]
	switch g.state {
	case statePreparingRebalance:
		return fail(kerr.RebalanceInProgress.Code)
	case stateCompletingRebalance:
		ch := make(chan SyncResponse, 1)
		if m.syncCh != nil {
			m.syncCh <- SyncResponse{ErrorCode: kerr.RebalanceInProgress.Code} // superseded
		}
		m.syncCh = ch
		c.removePendingSyncMember(g, m.id)
		if g.isLeader(m.id) {
			c.log.Info("assignment received from leader", "group", g.id, "generation", g.generation, "members", len(g.members))
			assignment := make(map[string][]byte, len(g.members))
			for _, x := range g.members {
				assignment[x.id] = append([]byte(nil), req.Assignments[x.id]...)
			}
			if err := c.storeGroup(g, assignment); err != nil {
				c.resetAndPropagateAssignmentError(g, storeErrCode(err))
				c.maybePrepareRebalance(g, "storing the assignment failed")
			} else {
				c.setAndPropagateAssignment(g, assignment)
				g.transitionTo(stateStable, c.nowMs())
			}
		}
		return ch, SyncResponse{}
	case stateStable:
		c.removePendingSyncMember(g, m.id)
		c.scheduleHeartbeat(g, m, m.sessionTimeout)
		return nil, SyncResponse{
			ProtocolType: cloneStr(g.protocolType),
			ProtocolName: cloneStr(g.protocolName),
			Assignment:   m.assignment,
		}
	default: // Empty: no members, so validateMember already failed
		return fail(kerr.UnknownMemberID.Code)
	}
}

// Heartbeat handles a Heartbeat and returns its error code. It is how
// members learn of a rebalance (REBALANCE_IN_PROGRESS) and how they stay
// in the group: every accepted heartbeat restarts the session timer.
func (c *Coordinator) Heartbeat(groupID, memberID string, instanceID *string, generation int32) int16 {
	if groupID == "" {
		return kerr.InvalidGroupID.Code
	}
	g, code := c.lockGroup(groupID, false)
	if g == nil {
		if code == 0 {
			code = kerr.UnknownMemberID.Code
		}
		return code
	}
	defer g.mu.Unlock()
	if code := validateMember(g, memberID, instanceID); code != 0 {
		return code
	}
	if generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	m := g.byID[memberID]
	switch g.state {
	case statePreparingRebalance:
		c.scheduleHeartbeat(g, m, m.sessionTimeout)
		return kerr.RebalanceInProgress.Code
	case stateCompletingRebalance, stateStable:
		// Consumers may heartbeat between their JoinGroup and SyncGroup.
		c.scheduleHeartbeat(g, m, m.sessionTimeout)
		return 0
	default:
		return kerr.UnknownMemberID.Code
	}
}

// Leave handles a LeaveGroup: each member is removed (a rebalance
// follows) or gets its own error. A member given by instance id alone is
// how administrators remove static members, which never leave on their
// own. groupErr is COORDINATOR_NOT_AVAILABLE or INVALID_GROUP_ID, with no
// per-member results; an unknown group makes every member
// UNKNOWN_MEMBER_ID. LeaveGroup v0-v2 carry one member, whose error the
// handler reports as the top-level error, as Kafka does.
func (c *Coordinator) Leave(groupID string, leaving []LeaveMember) (int16, []LeaveResult) {
	if groupID == "" {
		return kerr.InvalidGroupID.Code, nil
	}
	results := make([]LeaveResult, len(leaving))
	for i, l := range leaving {
		results[i] = LeaveResult{MemberID: l.MemberID, InstanceID: cloneStr(l.InstanceID)}
	}
	g, code := c.lockGroup(groupID, false)
	if code != 0 {
		return code, nil
	}
	if g == nil {
		for i := range results {
			results[i].ErrorCode = kerr.UnknownMemberID.Code
		}
		return 0, results
	}
	defer g.mu.Unlock()
	for i, l := range leaving {
		switch {
		case l.MemberID == "":
			id, ok := "", false
			if l.InstanceID != nil {
				id, ok = g.static[*l.InstanceID]
			}
			if !ok {
				results[i].ErrorCode = kerr.UnknownMemberID.Code
				continue
			}
			c.leaveMember(g, id, l.Reason)
		case g.isPending(l.MemberID):
			c.log.Info("pending member left", "group", g.id, "member", l.MemberID)
			c.removePendingMemberAndUpdateGroup(g, l.MemberID)
		default:
			if code := validateMember(g, l.MemberID, l.InstanceID); code != 0 {
				results[i].ErrorCode = code
				continue
			}
			c.leaveMember(g, l.MemberID, l.Reason)
		}
	}
	return 0, results
}

func (c *Coordinator) leaveMember(g *group, id string, reason *string) {
	r := "not provided"
	if reason != nil {
		r = *reason
	}
	c.log.Info("member left the group", "group", g.id, "member", id, "reason", r)
	c.removeMemberAndUpdateGroup(g, g.byID[id])
}
