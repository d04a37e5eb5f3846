package groups

import (
	"bytes"
	"encoding/binary"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// state is a classic group's state (Kafka's GroupState).
type state int8

const (
	stateEmpty state = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

// String returns the name Kafka reports in DescribeGroups and ListGroups.
func (s state) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	default:
		return "Dead"
	}
}

// consumerProtocolType is ConsumerProtocol.PROTOCOL_TYPE: the only
// protocol type whose member metadata the coordinator decodes.
const consumerProtocolType = "consumer"

// newMemberJoinTimeout is Kafka's NewMemberJoinTimeoutMs. A member that
// joins for the first time cannot heartbeat while its JoinGroup is parked,
// and a client that gave up and retried leaves a defunct member behind;
// this bounds how long such a member can hold up rebalances.
const newMemberJoinTimeout = 5 * time.Minute

// offsetValue is one committed offset as kept in memory and in Pebble.
type offsetValue struct {
	offset      int64
	leaderEpoch int32
	metadata    string // Kafka stores a null metadata as ""
	commitMs    int64  // commit timestamp, Unix milliseconds
}

// member is one member of a classic group (Kafka's MemberMetadata). All
// fields are guarded by the owning group's mu.
type member struct {
	id               string // changes when a static member is replaced
	instanceID       *string
	clientID         string
	clientHost       string
	rebalanceTimeout time.Duration
	sessionTimeout   time.Duration
	protocolType     string
	protocols        []Protocol // in the member's order of preference
	assignment       []byte

	// joinCh and syncCh are the parked JoinGroup / SyncGroup of the
	// member (Kafka's awaitingJoinCallback / awaitingSyncCallback); nil
	// when none is parked. Both have a buffer of one so that answering
	// never blocks, even when the requester has gone away.
	joinCh chan JoinResponse
	syncCh chan SyncResponse

	// isNew is true from the first JoinGroup until the join phase that
	// admitted the member completes; such a member expires after
	// newMemberJoinTimeout even while its JoinGroup is parked.
	isNew bool

	// hbTimer fires at hbDeadline (monotonic clock). Resetting the
	// deadline and the timer together is how liveness is recorded; a
	// firing that finds the deadline moved on re-arms itself.
	hbTimer    *time.Timer
	hbDeadline time.Time
}

func (m *member) awaitingJoin() bool { return m.joinCh != nil }
func (m *member) awaitingSync() bool { return m.syncCh != nil }

// metadata returns the member's metadata for protocol (nil if it does
// not support it, which the group's protocol bookkeeping rules out for
// the selected protocol).
func (m *member) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols equals the member's protocols, order
// included (Kafka's MemberMetadata.matches).
func (m *member) matches(protocols []Protocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i, p := range protocols {
		if p.Name != m.protocols[i].Name || !bytes.Equal(p.Metadata, m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// vote returns the member's most preferred protocol among candidates.
func (m *member) vote(candidates map[string]bool) string {
	for _, p := range m.protocols {
		if candidates[p.Name] {
			return p.Name
		}
	}
	return ""
}

// joinOp is the pending completion of a join phase: Kafka's DelayedJoin,
// or its InitialDelayedJoin when initial is set. It is identified by
// pointer: a timer whose op is no longer group.join does nothing.
type joinOp struct {
	timer     *time.Timer
	initial   bool
	delay     time.Duration // InitialDelayedJoin: this step's delay
	remaining time.Duration // InitialDelayedJoin: what is left of the rebalance timeout
}

// syncOp is Kafka's DelayedSync: members that got their JoinGroup answer
// but do not send SyncGroup within the rebalance timeout are removed.
type syncOp struct {
	timer      *time.Timer
	generation int32
}

// group is one classic group (Kafka's GroupMetadata).
type group struct {
	id string

	// mu guards every field below, the members' fields and the group's
	// Pebble keys: whoever writes a group's keys holds its mu, so writes
	// of one group are ordered and a group deleted under mu cannot be
	// resurrected by a late write. Blocked JoinGroup/SyncGroup calls wait
	// on their member's channel, never on mu.
	mu             sync.Mutex
	state          state
	stateTimestamp int64   // Unix ms of the last transition (Kafka's currentStateTimestamp)
	protocolType   *string // nil: none (a group used only for offsets)
	protocolName   *string // nil: none selected
	generation     int32
	leader         string                 // "" when there is none
	members        []*member              // in join order, so responses are deterministic
	byID           map[string]*member     // member id -> member
	static         map[string]string      // group.instance.id -> member id
	pending        map[string]*time.Timer // MEMBER_ID_REQUIRED member ids -> their expiration
	numAwaiting    int                    // members with a parked JoinGroup
	protoCount     map[string]int         // protocol name -> members supporting it
	pendingSync    map[string]bool        // members yet to send SyncGroup this generation
	subscribed     map[string]bool        // consumer groups: union of subscribed topics
	subKnown       bool                   // subscribed is meaningful (Kafka's Some(...))
	newMemberAdded bool                   // a member joined during the initial delay
	join           *joinOp
	sync           *syncOp
	offsets        map[TopicPartition]offsetValue
	// pendingTxn holds TxnOffsetCommit offsets by producer id until the
	// transaction's marker (see txn.go).
	pendingTxn map[int64]map[TopicPartition]offsetValue
}

func newGroup(id string, nowMs int64) *group {
	return &group{
		id:             id,
		stateTimestamp: nowMs,
		byID:           map[string]*member{},
		static:         map[string]string{},
		pending:        map[string]*time.Timer{},
		protoCount:     map[string]int{},
		pendingSync:    map[string]bool{},
		offsets:        map[TopicPartition]offsetValue{},
	}
}

func (g *group) is(s state) bool          { return g.state == s }
func (g *group) has(id string) bool       { _, ok := g.byID[id]; return ok }
func (g *group) isLeader(id string) bool  { return g.leader != "" && g.leader == id }
func (g *group) isPending(id string) bool { _, ok := g.pending[id]; return ok }

// canRebalance reports whether PreparingRebalance may be entered now.
func (g *group) canRebalance() bool {
	return g.state == stateStable || g.state == stateCompletingRebalance || g.state == stateEmpty
}

func (g *group) transitionTo(s state, nowMs int64) {
	g.state = s
	g.stateTimestamp = nowMs
}

// hasAllMembersJoined is the condition that completes a DelayedJoin: every
// member has a parked JoinGroup and no MEMBER_ID_REQUIRED member is
// still expected.
func (g *group) hasAllMembersJoined() bool {
	return len(g.members) == g.numAwaiting && len(g.pending) == 0
}

// rebalanceTimeout is the largest rebalance timeout of the members.
func (g *group) rebalanceTimeout() time.Duration {
	var t time.Duration
	for _, m := range g.members {
		t = max(t, m.rebalanceTimeout)
	}
	return t
}

// supportsProtocols is Kafka's check for INCONSISTENT_GROUP_PROTOCOL: an
// Empty group takes any non-empty protocol type with at least one
// protocol; otherwise the type must match and one of the protocols must
// be supported by every current member.
func (g *group) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if g.state == stateEmpty {
		return protocolType != "" && len(protocols) > 0
	}
	if g.protocolType == nil || *g.protocolType != protocolType {
		return false
	}
	for _, p := range protocols {
		if g.protoCount[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

func (g *group) incProtocols(m *member) {
	for _, p := range m.protocols {
		g.protoCount[p.Name]++
	}
}

func (g *group) decProtocols(m *member) {
	for _, p := range m.protocols {
		if g.protoCount[p.Name]--; g.protoCount[p.Name] <= 0 {
			delete(g.protoCount, p.Name)
		}
	}
}

// selectProtocol returns the protocol every member supports that most
// members prefer (Kafka's selectProtocol). Kafka breaks ties by hash
// order; here the tie goes to the protocol whose first voter joined
// earliest, which is one of the answers Kafka could give.
func (g *group) selectProtocol() string {
	candidates := map[string]bool{}
	for name, n := range g.protoCount {
		if n == len(g.members) {
			candidates[name] = true
		}
	}
	votes := map[string]int{}
	var order []string
	for _, m := range g.members {
		v := m.vote(candidates)
		if votes[v] == 0 {
			order = append(order, v)
		}
		votes[v]++
	}
	best := ""
	for _, name := range order {
		if best == "" || votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

// add adds m with its parked JoinGroup (ch may be nil when loading).
func (g *group) add(m *member, ch chan JoinResponse) {
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if len(g.members) == 0 {
		pt := m.protocolType
		g.protocolType = &pt
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members = append(g.members, m)
	g.byID[m.id] = m
	g.incProtocols(m)
	m.joinCh = ch
	if ch != nil {
		g.numAwaiting++
	}
	if t, ok := g.pending[m.id]; ok {
		t.Stop()
		delete(g.pending, m.id)
	}
}

// remove drops a member or pending member (Kafka's GroupMetadata.remove).
// Unlike Kafka, which leaves them unanswered, a parked JoinGroup or
// SyncGroup of the removed member is answered UNKNOWN_MEMBER_ID so that
// no caller waits for a member that no longer exists.
func (g *group) remove(id string) {
	if m, ok := g.byID[id]; ok {
		delete(g.byID, id)
		for i, x := range g.members {
			if x == m {
				g.members = append(g.members[:i], g.members[i+1:]...)
				break
			}
		}
		g.decProtocols(m)
		g.maybeInvokeJoin(m, joinError("", kerr.UnknownMemberID.Code))
		g.maybeInvokeSync(m, SyncResponse{ErrorCode: kerr.UnknownMemberID.Code})
		if m.instanceID != nil {
			delete(g.static, *m.instanceID)
		}
		if m.hbTimer != nil {
			m.hbTimer.Stop()
		}
	}
	if g.isLeader(id) {
		g.leader = ""
		if len(g.members) > 0 {
			g.leader = g.members[0].id
		}
	}
	if t, ok := g.pending[id]; ok {
		t.Stop()
		delete(g.pending, id)
	}
	delete(g.pendingSync, id)
}

// updateMember replaces a member's protocols and timeouts and parks its
// JoinGroup on ch. A JoinGroup of the same member that was still parked
// is superseded: Kafka drops it unanswered, here it gets
// REBALANCE_IN_PROGRESS so that its caller returns.
func (g *group) updateMember(m *member, protocols []Protocol, rebalanceTimeout, sessionTimeout time.Duration, ch chan JoinResponse) {
	g.decProtocols(m)
	m.protocols = protocols
	g.incProtocols(m)
	m.rebalanceTimeout = rebalanceTimeout
	m.sessionTimeout = sessionTimeout
	switch {
	case ch != nil && m.joinCh == nil:
		g.numAwaiting++
	case ch == nil && m.joinCh != nil:
		g.numAwaiting--
	case ch != nil && m.joinCh != nil:
		m.joinCh <- joinError(m.id, kerr.RebalanceInProgress.Code)
	}
	m.joinCh = ch
}

// maybeInvokeJoin answers m's parked JoinGroup, if any.
func (g *group) maybeInvokeJoin(m *member, resp JoinResponse) {
	if m.joinCh != nil {
		m.joinCh <- resp
		m.joinCh = nil
		g.numAwaiting--
	}
}

// maybeInvokeSync answers m's parked SyncGroup, if any, and reports
// whether there was one.
func (g *group) maybeInvokeSync(m *member, resp SyncResponse) bool {
	if m.syncCh == nil {
		return false
	}
	m.syncCh <- resp
	m.syncCh = nil
	return true
}

// replaceStaticMember gives the member of a static instance a new member
// id. Requests parked under the old id are fenced at once.
func (g *group) replaceStaticMember(instanceID, oldID, newID string) *member {
	m := g.byID[oldID]
	delete(g.byID, oldID)
	g.maybeInvokeJoin(m, joinError(oldID, kerr.FencedInstanceID.Code))
	g.maybeInvokeSync(m, SyncResponse{ErrorCode: kerr.FencedInstanceID.Code})
	m.id = newID
	g.byID[newID] = m
	if g.isLeader(oldID) {
		g.leader = newID
	}
	g.static[instanceID] = newID
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	return m
}

// maybeElectNewJoinedLeader keeps the leader if it rejoined, else picks a
// member that did; false means nobody rejoined (or there is no leader).
func (g *group) maybeElectNewJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if l := g.byID[g.leader]; l != nil && l.awaitingJoin() {
		return true
	}
	for _, m := range g.members {
		if m.awaitingJoin() {
			g.leader = m.id
			return true
		}
	}
	return false
}

// initNextGeneration starts the next generation once the join phase is
// over: CompletingRebalance with a selected protocol, or Empty.
func (g *group) initNextGeneration(nowMs int64) {
	g.generation++
	if len(g.members) > 0 {
		p := g.selectProtocol()
		g.protocolName = &p
		g.computeSubscribedTopics()
		g.transitionTo(stateCompletingRebalance, nowMs)
	} else {
		g.protocolName = nil
		g.computeSubscribedTopics()
		g.transitionTo(stateEmpty, nowMs)
	}
	clear(g.pendingSync)
}

// currentMemberMetadata is the member list the leader receives.
func (g *group) currentMemberMetadata() []Member {
	out := make([]Member, 0, len(g.members))
	name := ""
	if g.protocolName != nil {
		name = *g.protocolName
	}
	for _, m := range g.members {
		out = append(out, Member{MemberID: m.id, InstanceID: cloneStr(m.instanceID), Metadata: m.metadata(name)})
	}
	return out
}

// computeSubscribedTopics recomputes the topics a consumer group's
// members subscribe to, as Kafka does when a generation starts or a group
// is loaded. The subscription is decoded with the v0 schema, the prefix
// of every version, so future versions parse too; anything undecodable
// makes the set unknown, and an unknown set counts as subscribed to
// every topic.
func (g *group) computeSubscribedTopics() {
	g.subscribed, g.subKnown = nil, false
	if g.protocolType == nil || *g.protocolType != consumerProtocolType {
		return
	}
	if len(g.members) == 0 {
		g.subscribed, g.subKnown = map[string]bool{}, true
		return
	}
	if g.protocolName == nil {
		return
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		ts, ok := subscriptionTopics(m.metadata(*g.protocolName))
		if !ok {
			return
		}
		for _, t := range ts {
			topics[t] = true
		}
	}
	g.subscribed, g.subKnown = topics, true
}

// subscriptionTopics decodes the topics of a consumer protocol
// subscription, reading it as version 0 whatever its version.
func subscriptionTopics(b []byte) ([]string, bool) {
	if len(b) < 2 || int16(binary.BigEndian.Uint16(b)) < 0 {
		return nil, false
	}
	v0 := append([]byte{0, 0}, b[2:]...)
	var md kmsg.ConsumerMemberMetadata
	if err := md.ReadFrom(v0); err != nil {
		return nil, false
	}
	return md.Topics, true
}

// isSubscribedToTopic reports whether the consumer group may be consuming
// topic; true when the group does not know.
func (g *group) isSubscribedToTopic(topic string) bool {
	if !g.subKnown {
		return true
	}
	return g.subscribed[topic]
}

func cloneStr(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}

func strEq(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func joinError(memberID string, code int16) JoinResponse {
	return JoinResponse{ErrorCode: code, Generation: -1, MemberID: memberID}
}
