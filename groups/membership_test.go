package groups

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestJoinSyncThreeMembers(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 200 * time.Millisecond
	c := openTest(t, t.TempDir(), cfg, nil)

	// Members prefer different protocols; "range" is the only one all
	// support, so it must be chosen.
	ps := [][]Protocol{
		{{Name: "sticky", Metadata: consumerMeta("t1")}, {Name: "range", Metadata: consumerMeta("t1")}},
		{{Name: "range", Metadata: consumerMeta("t2")}},
		{{Name: "roundrobin", Metadata: consumerMeta("t1")}, {Name: "range", Metadata: consumerMeta("t1", "t3")}},
	}
	var chans []<-chan JoinResponse
	for _, p := range ps {
		chans = append(chans, joinAsync(c, joinReq("g", "", p)))
	}
	var resps []JoinResponse
	for _, ch := range chans {
		resps = append(resps, recvJoin(t, ch))
	}
	leader := resps[0].LeaderID
	var leaderResp JoinResponse
	for _, r := range resps {
		wantCode(t, "join", r.ErrorCode, 0)
		if r.Generation != 1 || r.LeaderID != leader || *r.ProtocolName != "range" || *r.ProtocolType != "consumer" {
			t.Fatalf("bad join response %+v", r)
		}
		if !strings.HasPrefix(r.MemberID, "client-") || len(r.MemberID) != len("client-")+36 {
			t.Fatalf("member id %q is not client id + UUID", r.MemberID)
		}
		if r.MemberID == leader {
			leaderResp = r
		} else if len(r.Members) != 0 {
			t.Fatal("follower got the member list")
		}
	}
	if len(leaderResp.Members) != 3 {
		t.Fatalf("leader got %d members", len(leaderResp.Members))
	}
	if d := c.Describe("g"); d.State != "CompletingRebalance" {
		t.Fatalf("state %s", d.State)
	}

	// Followers sync first and wait for the leader.
	var followers []<-chan SyncResponse
	var followerIDs []string
	for _, r := range resps {
		if r.MemberID != leader {
			followerIDs = append(followerIDs, r.MemberID)
			followers = append(followers, syncAsync(c, SyncRequest{Group: "g", MemberID: r.MemberID, Generation: 1,
				ProtocolType: strp("consumer"), ProtocolName: strp("range")}))
		}
	}
	for _, ch := range followers {
		notYet(t, ch, "follower SyncGroup")
	}
	// Heartbeats in CompletingRebalance are fine.
	wantCode(t, "heartbeat while completing", c.Heartbeat("g", followerIDs[0], nil, 1), 0)

	assign := map[string][]byte{}
	for _, m := range leaderResp.Members {
		assign[m.MemberID] = []byte("assign-" + m.MemberID)
	}
	lr := c.Sync(context.Background(), SyncRequest{Group: "g", MemberID: leader, Generation: 1, Assignments: assign})
	wantCode(t, "leader sync", lr.ErrorCode, 0)
	if string(lr.Assignment) != "assign-"+leader {
		t.Fatalf("leader assignment %q", lr.Assignment)
	}
	for i, ch := range followers {
		r := recvSync(t, ch)
		wantCode(t, "follower sync", r.ErrorCode, 0)
		if string(r.Assignment) != "assign-"+followerIDs[i] || *r.ProtocolName != "range" {
			t.Fatalf("follower got %+v", r)
		}
	}
	d := c.Describe("g")
	if d.State != "Stable" || d.Protocol != "range" || d.ProtocolType != "consumer" || len(d.Members) != 3 {
		t.Fatalf("describe: %+v", d)
	}
	for _, m := range d.Members {
		if string(m.Assignment) != "assign-"+m.MemberID || len(m.Metadata) == 0 || m.ClientHost != "/127.0.0.1" {
			t.Fatalf("member description %+v", m)
		}
	}
	for _, id := range append(followerIDs, leader) {
		wantCode(t, "heartbeat", c.Heartbeat("g", id, nil, 1), 0)
	}
	// In Stable, a late SyncGroup just gets the current assignment.
	r := c.Sync(context.Background(), SyncRequest{Group: "g", MemberID: followerIDs[0], Generation: 1})
	if r.ErrorCode != 0 || string(r.Assignment) != "assign-"+followerIDs[0] {
		t.Fatalf("stable sync %+v", r)
	}
	// A follower rejoining with the same metadata gets the generation back.
	var fps []Protocol
	for i, r := range resps {
		if r.MemberID == followerIDs[0] {
			fps = ps[i]
		}
	}
	jr := c.Join(context.Background(), joinReq("g", followerIDs[0], fps))
	if jr.ErrorCode != 0 || jr.Generation != 1 || jr.LeaderID != leader {
		t.Fatalf("follower rejoin %+v", jr)
	}
	if d := c.Describe("g"); d.State != "Stable" {
		t.Fatalf("follower rejoin caused %s", d.State)
	}
}

func TestRebalanceWhenMemberJoins(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	ids, gen := stableGroup(t, c, "g", 2, protos("t"))

	newCh := joinAsync(c, joinReq("g", "", protos("t")))
	waitFor(t, "rebalance", func() bool { return c.Describe("g").State == "PreparingRebalance" })
	notYet(t, newCh, "new member join")
	for _, id := range ids {
		wantCode(t, "heartbeat during rebalance", c.Heartbeat("g", id, nil, gen), kerr.RebalanceInProgress.Code)
	}
	// Sync during the rebalance is refused too.
	wantCode(t, "sync during rebalance", c.Sync(context.Background(), SyncRequest{Group: "g", MemberID: ids[0], Generation: gen}).ErrorCode,
		kerr.RebalanceInProgress.Code)
	// Commits from the current generation are still accepted.
	ge, pe := c.Commit(CommitRequest{Group: "g", MemberID: ids[1], Generation: gen, Offsets: []OffsetCommit{{TopicPartition: TopicPartition{"t", 0}, Offset: 5, LeaderEpoch: -1}}})
	if ge != 0 || pe[0] != 0 {
		t.Fatalf("commit during PreparingRebalance: %d %v", ge, pe)
	}

	ch0 := joinAsync(c, joinReq("g", ids[0], protos("t")))
	notYet(t, ch0, "rejoin before everyone")
	ch1 := joinAsync(c, joinReq("g", ids[1], protos("t")))
	for _, ch := range []<-chan JoinResponse{ch0, ch1, newCh} {
		r := recvJoin(t, ch)
		wantCode(t, "rejoin", r.ErrorCode, 0)
		if r.Generation != gen+1 {
			t.Fatalf("generation %d, want %d", r.Generation, gen+1)
		}
	}
	if d := c.Describe("g"); d.State != "CompletingRebalance" || len(d.Members) != 3 {
		t.Fatalf("describe %+v", d)
	}
	// The old generation is now illegal.
	wantCode(t, "old generation", c.Heartbeat("g", ids[0], nil, gen), kerr.IllegalGeneration.Code)
}

func TestRebalanceTimeoutRemovesMembersThatDoNotRejoin(t *testing.T) {
	c2 := openTest(t, t.TempDir(), testConfig(), nil)
	ps := protos("t")
	short := func(id string) JoinRequest {
		r := joinReq("h", id, ps)
		r.RebalanceTimeout = 150 * time.Millisecond
		return r
	}
	a := recvJoin(t, joinAsync(c2, short("")))
	bCh := joinAsync(c2, short(""))
	waitFor(t, "b to join", func() bool { return len(c2.Describe("h").Members) == 2 })
	aCh := joinAsync(c2, short(a.MemberID))
	ra, rb := recvJoin(t, aCh), recvJoin(t, bCh)
	if ra.Generation != 2 || rb.Generation != 2 {
		t.Fatalf("generations %d %d", ra.Generation, rb.Generation)
	}
	// Both sync, then only a rejoins: b is dropped after the timeout.
	syncs := []<-chan SyncResponse{
		syncAsync(c2, SyncRequest{Group: "h", MemberID: rb.MemberID, Generation: 2}),
		syncAsync(c2, SyncRequest{Group: "h", MemberID: ra.MemberID, Generation: 2, Assignments: map[string][]byte{}}),
	}
	leaderID := ra.LeaderID
	for _, s := range syncs {
		wantCode(t, "sync", recvSync(t, s).ErrorCode, 0)
	}
	start := time.Now()
	r := recvJoin(t, joinAsync(c2, short(leaderID)))
	if r.Generation != 3 || len(r.Members) != 1 || r.LeaderID != leaderID {
		t.Fatalf("after timeout: %+v", r)
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Fatalf("join completed after %v, before the rebalance timeout", time.Since(start))
	}
	other := rb.MemberID
	if other == leaderID {
		other = ra.MemberID
	}
	wantCode(t, "dropped member", c2.Heartbeat("h", other, nil, 3), kerr.UnknownMemberID.Code)
}

func TestSessionExpiry(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	ps := protos("t")
	// Two members with 300ms sessions.
	short := func(id string) JoinRequest {
		r := joinReq("g", id, ps)
		r.SessionTimeout = 300 * time.Millisecond
		return r
	}
	a := recvJoin(t, joinAsync(c, short("")))
	bCh := joinAsync(c, short(""))
	waitFor(t, "b", func() bool { return len(c.Describe("g").Members) == 2 })
	ra := recvJoin(t, joinAsync(c, short(a.MemberID)))
	rb := recvJoin(t, bCh)
	leader := ra.LeaderID
	assign := map[string][]byte{ra.MemberID: []byte("A"), rb.MemberID: []byte("B")}
	sa := syncAsync(c, SyncRequest{Group: "g", MemberID: ra.MemberID, Generation: ra.Generation, Assignments: assign})
	sb := syncAsync(c, SyncRequest{Group: "g", MemberID: rb.MemberID, Generation: rb.Generation, Assignments: assign})
	recvSync(t, sa)
	recvSync(t, sb)
	if leader != ra.MemberID && leader != rb.MemberID {
		t.Fatal("no leader")
	}

	// a keeps heartbeating, b goes silent.
	deadline := time.Now().Add(2 * time.Second)
	var code int16
	for time.Now().Before(deadline) {
		code = c.Heartbeat("g", ra.MemberID, nil, ra.Generation)
		if code != 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantCode(t, "heartbeat after b expired", code, kerr.RebalanceInProgress.Code)
	wantCode(t, "expired member heartbeat", c.Heartbeat("g", rb.MemberID, nil, rb.Generation), kerr.UnknownMemberID.Code)
	r := recvJoin(t, joinAsync(c, short(ra.MemberID)))
	wantCode(t, "rejoin", r.ErrorCode, 0)
	if r.Generation != ra.Generation+1 || r.LeaderID != ra.MemberID || len(r.Members) != 1 {
		t.Fatalf("rejoin %+v", r)
	}
	// Now a goes silent too: the group ends up without members, and a
	// rebalance of an empty group makes it Empty with a new generation.
	waitFor(t, "group to empty", func() bool { return c.Describe("g").State == "Empty" })
	if d := c.Describe("g"); len(d.Members) != 0 {
		t.Fatalf("members left: %+v", d.Members)
	}
	// a never synced: its session expired, and the group emptied.
	c.mu.RLock()
	g := c.groups["g"]
	c.mu.RUnlock()
	g.mu.Lock()
	gen := g.generation
	g.mu.Unlock()
	if gen != r.Generation+1 {
		t.Fatalf("generation %d, want %d", gen, r.Generation+1)
	}
}

func TestLeaveGroup(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	ids, gen := stableGroup(t, c, "g", 3, protos("t"))
	code, res := c.Leave("g", []LeaveMember{{MemberID: ids[1]}, {MemberID: "nobody"}, {InstanceID: strp("nope")}})
	wantCode(t, "leave", code, 0)
	if len(res) != 3 || res[0].ErrorCode != 0 || res[1].ErrorCode != kerr.UnknownMemberID.Code ||
		res[2].ErrorCode != kerr.UnknownMemberID.Code || *res[2].InstanceID != "nope" || res[0].MemberID != ids[1] {
		t.Fatalf("results %+v", res)
	}
	if d := c.Describe("g"); d.State != "PreparingRebalance" || len(d.Members) != 2 {
		t.Fatalf("after leave: %+v", d)
	}
	wantCode(t, "heartbeat of leaver", c.Heartbeat("g", ids[1], nil, gen), kerr.UnknownMemberID.Code)
	// Unknown group: per-member UNKNOWN_MEMBER_ID.
	code, res = c.Leave("nogroup", []LeaveMember{{MemberID: "x"}})
	if code != 0 || res[0].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown group leave %d %+v", code, res)
	}
	code, _ = c.Leave("", []LeaveMember{{MemberID: "x"}})
	wantCode(t, "empty group id", code, kerr.InvalidGroupID.Code)

	// The remaining members rejoin; then all leave and the group is Empty.
	chs := []<-chan JoinResponse{joinAsync(c, joinReq("g", ids[0], protos("t"))), joinAsync(c, joinReq("g", ids[2], protos("t")))}
	for _, ch := range chs {
		if r := recvJoin(t, ch); r.ErrorCode != 0 || r.Generation != gen+1 {
			t.Fatalf("rejoin %+v", r)
		}
	}
	_, res = c.Leave("g", []LeaveMember{{MemberID: ids[0]}, {MemberID: ids[2]}})
	if res[0].ErrorCode != 0 || res[1].ErrorCode != 0 {
		t.Fatalf("leave all %+v", res)
	}
	if d := c.Describe("g"); d.State != "Empty" {
		t.Fatalf("state %s", d.State)
	}
}

func TestLeaveWhileJoinParked(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	ids, _ := stableGroup(t, c, "g", 2, protos("t"))
	ch := joinAsync(c, joinReq("g", ids[0], protos("t"))) // leader rejoin: rebalance
	waitFor(t, "rebalance", func() bool { return c.Describe("g").State == "PreparingRebalance" })
	// The follower leaves instead of rejoining: the join phase completes.
	_, res := c.Leave("g", []LeaveMember{{MemberID: ids[1]}})
	wantCode(t, "leave", res[0].ErrorCode, 0)
	r := recvJoin(t, ch)
	if r.ErrorCode != 0 || len(r.Members) != 1 {
		t.Fatalf("join after leave %+v", r)
	}
}

func TestMemberIDRequired(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	req := joinReq("g", "", protos("t"))
	req.RequireKnownMember = true
	req.ClientID = "my-client"
	r := c.Join(context.Background(), req)
	wantCode(t, "first join", r.ErrorCode, kerr.MemberIDRequired.Code)
	if !strings.HasPrefix(r.MemberID, "my-client-") || r.Generation != -1 {
		t.Fatalf("response %+v", r)
	}
	req.MemberID = r.MemberID
	r2 := c.Join(context.Background(), req)
	wantCode(t, "second join", r2.ErrorCode, 0)
	if r2.MemberID != r.MemberID || r2.LeaderID != r.MemberID || r2.Generation != 1 {
		t.Fatalf("second join %+v", r2)
	}

	// A pending member that never comes back expires after its session
	// timeout, and its id is then unknown.
	req2 := joinReq("h", "", protos("t"))
	req2.RequireKnownMember = true
	req2.SessionTimeout = 100 * time.Millisecond
	p := c.Join(context.Background(), req2)
	wantCode(t, "pending", p.ErrorCode, kerr.MemberIDRequired.Code)
	time.Sleep(250 * time.Millisecond)
	req2.MemberID = p.MemberID
	wantCode(t, "expired pending", c.Join(context.Background(), req2).ErrorCode, kerr.UnknownMemberID.Code)

	// A pending member holds up a rebalance until it joins.
	ids, gen := stableGroup(t, c, "k", 1, protos("t"))
	req3 := joinReq("k", "", protos("t"))
	req3.RequireKnownMember = true
	p3 := c.Join(context.Background(), req3)
	wantCode(t, "pending k", p3.ErrorCode, kerr.MemberIDRequired.Code)
	lead := joinAsync(c, joinReq("k", ids[0], protos("t")))
	notYet(t, lead, "leader join while a member is pending")
	req3.MemberID = p3.MemberID
	newCh := joinAsync(c, req3)
	for _, ch := range []<-chan JoinResponse{lead, newCh} {
		if r := recvJoin(t, ch); r.ErrorCode != 0 || r.Generation != gen+1 {
			t.Fatalf("join %+v", r)
		}
	}
}

func TestStaticMembership(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	ps := protos("t")
	static := func(id, inst string) JoinRequest {
		r := joinReq("g", id, ps)
		r.InstanceID = strp(inst)
		return r
	}
	a := recvJoin(t, joinAsync(c, static("", "ia")))
	if !strings.HasPrefix(a.MemberID, "ia-") {
		t.Fatalf("static member id %q", a.MemberID)
	}
	bCh := joinAsync(c, static("", "ib"))
	waitFor(t, "b", func() bool { return len(c.Describe("g").Members) == 2 })
	ra := recvJoin(t, joinAsync(c, static(a.MemberID, "ia")))
	rb := recvJoin(t, bCh)
	if ra.LeaderID != a.MemberID || ra.Generation != 2 {
		t.Fatalf("join %+v", ra)
	}
	assign := map[string][]byte{ra.MemberID: []byte("A"), rb.MemberID: []byte("B")}
	s1 := syncAsync(c, SyncRequest{Group: "g", MemberID: rb.MemberID, InstanceID: strp("ib"), Generation: 2})
	wantCode(t, "leader sync", c.Sync(context.Background(), SyncRequest{Group: "g", MemberID: ra.MemberID, InstanceID: strp("ia"), Generation: 2, Assignments: assign}).ErrorCode, 0)
	wantCode(t, "follower sync", recvSync(t, s1).ErrorCode, 0)

	// b restarts: unknown member id, same instance, same metadata. No
	// rebalance; it gets the current generation and its assignment.
	nb := c.Join(context.Background(), static("", "ib"))
	wantCode(t, "static rejoin", nb.ErrorCode, 0)
	if nb.MemberID == rb.MemberID || nb.Generation != 2 || nb.LeaderID != ra.MemberID || len(nb.Members) != 0 || nb.SkipAssignment {
		t.Fatalf("static rejoin %+v", nb)
	}
	if d := c.Describe("g"); d.State != "Stable" {
		t.Fatalf("static rejoin caused %s", d.State)
	}
	sr := c.Sync(context.Background(), SyncRequest{Group: "g", MemberID: nb.MemberID, InstanceID: strp("ib"), Generation: 2})
	if sr.ErrorCode != 0 || string(sr.Assignment) != "B" {
		t.Fatalf("sync after static rejoin %+v", sr)
	}
	// The old member id is fenced.
	wantCode(t, "old id heartbeat", c.Heartbeat("g", rb.MemberID, strp("ib"), 2), kerr.FencedInstanceID.Code)
	wantCode(t, "old id sync", c.Sync(context.Background(), SyncRequest{Group: "g", MemberID: rb.MemberID, InstanceID: strp("ib"), Generation: 2}).ErrorCode, kerr.FencedInstanceID.Code)
	ge, _ := c.Commit(CommitRequest{Group: "g", MemberID: rb.MemberID, InstanceID: strp("ib"), Generation: 2, Offsets: []OffsetCommit{{TopicPartition: TopicPartition{"t", 0}}}})
	wantCode(t, "old id commit", ge, kerr.FencedInstanceID.Code)
	wantCode(t, "old id join", c.Join(context.Background(), static(rb.MemberID, "ib")).ErrorCode, kerr.FencedInstanceID.Code)
	wantCode(t, "new id heartbeat", c.Heartbeat("g", nb.MemberID, strp("ib"), 2), 0)

	// The leader restarts, v9 client: told it leads, but to skip assigning.
	lreq := static("", "ia")
	lreq.SupportSkippingAssignment = true
	nl := c.Join(context.Background(), lreq)
	if nl.ErrorCode != 0 || !nl.SkipAssignment || nl.LeaderID != nl.MemberID || len(nl.Members) != 2 || nl.Generation != 2 {
		t.Fatalf("static leader rejoin v9 %+v", nl)
	}
	// Again with an old client: it gets the previous leader id.
	nl2 := c.Join(context.Background(), static("", "ia"))
	if nl2.ErrorCode != 0 || nl2.SkipAssignment || nl2.LeaderID != nl.MemberID || len(nl2.Members) != 0 {
		t.Fatalf("static leader rejoin v8 %+v", nl2)
	}
	if d := c.Describe("g"); d.State != "Stable" {
		t.Fatalf("state %s", d.State)
	}

	// A static rejoin with new metadata that leaves the selected protocol
	// alone ("range" is still the only common one) is answered at once.
	chg := static("", "ib")
	chg.Protocols = []Protocol{{Name: "sticky", Metadata: consumerMeta("t")}, {Name: "range", Metadata: consumerMeta("t")}}
	r := c.Join(context.Background(), chg)
	if r.ErrorCode != 0 || r.Generation != 2 || *r.ProtocolName != "range" {
		t.Fatalf("static rejoin with new metadata %+v", r)
	}
	if d := c.Describe("g"); d.State != "Stable" {
		t.Fatalf("state %s", d.State)
	}
}

func TestStaticMemberProtocolChangeRebalances(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	req := joinReq("g", "", protos("t"))
	req.InstanceID = strp("i")
	r := c.Join(context.Background(), req)
	wantCode(t, "join", r.ErrorCode, 0)
	wantCode(t, "sync", c.Sync(context.Background(), SyncRequest{Group: "g", MemberID: r.MemberID, InstanceID: strp("i"), Generation: r.Generation, Assignments: map[string][]byte{r.MemberID: []byte("x")}}).ErrorCode, 0)
	req.Protocols = []Protocol{{Name: "sticky", Metadata: consumerMeta("t")}, {Name: "range", Metadata: consumerMeta("t")}}
	r2 := c.Join(context.Background(), req)
	// A single member: its first choice "sticky" becomes the selection,
	// which differs from "range", so a rebalance runs and completes.
	wantCode(t, "join", r2.ErrorCode, 0)
	if r2.Generation != r.Generation+1 || *r2.ProtocolName != "sticky" {
		t.Fatalf("rejoin %+v", r2)
	}
}

func TestStaticMemberNotRemovedByRebalanceTimeout(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	mk := func(id, inst string) JoinRequest {
		r := joinReq("g", id, protos("t"))
		r.InstanceID = strp(inst)
		r.RebalanceTimeout = 100 * time.Millisecond
		return r
	}
	a := recvJoin(t, joinAsync(c, mk("", "ia")))
	bCh := joinAsync(c, mk("", "ib"))
	waitFor(t, "b", func() bool { return len(c.Describe("g").Members) == 2 })
	ra := recvJoin(t, joinAsync(c, mk(a.MemberID, "ia")))
	rb := recvJoin(t, bCh)
	s := syncAsync(c, SyncRequest{Group: "g", MemberID: rb.MemberID, Generation: ra.Generation})
	c.Sync(context.Background(), SyncRequest{Group: "g", MemberID: ra.MemberID, Generation: ra.Generation, Assignments: map[string][]byte{}})
	recvSync(t, s)
	// a rejoins (leader: rebalance); b does not. After the rebalance
	// timeout b is still a member (static), though it did not rejoin.
	r := recvJoin(t, joinAsync(c, mk(ra.MemberID, "ia")))
	if r.ErrorCode != 0 || len(r.Members) != 2 {
		t.Fatalf("join %+v", r)
	}
}

func TestErrors(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	ctx := context.Background()
	ps := protos("t")

	// JoinGroup validation.
	wantCode(t, "empty group", c.Join(ctx, joinReq("", "", ps)).ErrorCode, kerr.InvalidGroupID.Code)
	bad := joinReq("g", "", ps)
	bad.SessionTimeout = time.Millisecond
	wantCode(t, "session too short", c.Join(ctx, bad).ErrorCode, kerr.InvalidSessionTimeout.Code)
	bad.SessionTimeout = 2 * time.Minute
	wantCode(t, "session too long", c.Join(ctx, bad).ErrorCode, kerr.InvalidSessionTimeout.Code)
	wantCode(t, "unknown member, no group", c.Join(ctx, joinReq("nogroup", "m", ps)).ErrorCode, kerr.UnknownMemberID.Code)

	// Heartbeat/Sync on unknown group.
	wantCode(t, "heartbeat unknown group", c.Heartbeat("nogroup", "m", nil, 1), kerr.UnknownMemberID.Code)
	wantCode(t, "sync unknown group", c.Sync(ctx, SyncRequest{Group: "nogroup", MemberID: "m", Generation: 1}).ErrorCode, kerr.UnknownMemberID.Code)
	wantCode(t, "heartbeat empty group id", c.Heartbeat("", "m", nil, 1), kerr.InvalidGroupID.Code)

	ids, gen := stableGroup(t, c, "g", 2, ps)
	wantCode(t, "heartbeat unknown member", c.Heartbeat("g", "m", nil, gen), kerr.UnknownMemberID.Code)
	wantCode(t, "heartbeat wrong generation", c.Heartbeat("g", ids[0], nil, gen+1), kerr.IllegalGeneration.Code)
	wantCode(t, "heartbeat unknown instance", c.Heartbeat("g", ids[0], strp("x"), gen), kerr.UnknownMemberID.Code)
	wantCode(t, "sync wrong generation", c.Sync(ctx, SyncRequest{Group: "g", MemberID: ids[0], Generation: gen - 1}).ErrorCode, kerr.IllegalGeneration.Code)
	wantCode(t, "sync unknown member", c.Sync(ctx, SyncRequest{Group: "g", MemberID: "m", Generation: gen}).ErrorCode, kerr.UnknownMemberID.Code)
	wantCode(t, "join unknown member", c.Join(ctx, joinReq("g", "m", ps)).ErrorCode, kerr.UnknownMemberID.Code)

	commit := func(member string, generation int32) int16 {
		ge, pe := c.Commit(CommitRequest{Group: "g", MemberID: member, Generation: generation,
			Offsets: []OffsetCommit{{TopicPartition: TopicPartition{"t", 0}, Offset: 1, LeaderEpoch: -1}}})
		if pe[0] != ge {
			t.Fatalf("partition error %d, group error %d", pe[0], ge)
		}
		return ge
	}
	wantCode(t, "commit wrong generation", commit(ids[0], gen+5), kerr.IllegalGeneration.Code)
	wantCode(t, "commit unknown member", commit("m", gen), kerr.UnknownMemberID.Code)
	wantCode(t, "simple commit to active group", commit("", -1), kerr.UnknownMemberID.Code)
	wantCode(t, "commit ok", commit(ids[1], gen), 0)
	ge, _ := c.Commit(CommitRequest{Group: "nogroup2", MemberID: "m", Generation: 3, Offsets: []OffsetCommit{{}}})
	wantCode(t, "commit with generation to unknown group", ge, kerr.IllegalGeneration.Code)

	// CompletingRebalance: commits get REBALANCE_IN_PROGRESS.
	ch0 := joinAsync(c, joinReq("g", ids[0], ps))
	waitFor(t, "rebalance", func() bool { return c.Describe("g").State == "PreparingRebalance" })
	ch1 := joinAsync(c, joinReq("g", ids[1], ps))
	r0, r1 := recvJoin(t, ch0), recvJoin(t, ch1)
	if r0.Generation != gen+1 || r1.Generation != gen+1 {
		t.Fatal("rejoin")
	}
	wantCode(t, "commit while completing", commit(ids[1], gen+1), kerr.RebalanceInProgress.Code)
	// Sync with the wrong protocol name.
	wantCode(t, "sync protocol name", c.Sync(ctx, SyncRequest{Group: "g", MemberID: ids[1], Generation: gen + 1, ProtocolName: strp("sticky")}).ErrorCode,
		kerr.InconsistentGroupProtocol.Code)
	wantCode(t, "sync protocol type", c.Sync(ctx, SyncRequest{Group: "g", MemberID: ids[1], Generation: gen + 1, ProtocolType: strp("connect")}).ErrorCode,
		kerr.InconsistentGroupProtocol.Code)
}

func TestInconsistentGroupProtocol(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	ctx := context.Background()
	empty := joinReq("g", "", nil)
	wantCode(t, "no protocols", c.Join(ctx, empty).ErrorCode, kerr.InconsistentGroupProtocol.Code)
	noType := joinReq("g", "", protos("t"))
	noType.ProtocolType = ""
	wantCode(t, "no protocol type", c.Join(ctx, noType).ErrorCode, kerr.InconsistentGroupProtocol.Code)

	ids, _ := stableGroup(t, c, "g", 1, protos("t"))
	other := joinReq("g", "", protos("t"))
	other.ProtocolType = "connect"
	wantCode(t, "other protocol type", c.Join(ctx, other).ErrorCode, kerr.InconsistentGroupProtocol.Code)
	disjoint := joinReq("g", "", []Protocol{{Name: "roundrobin"}})
	r := c.Join(ctx, disjoint)
	wantCode(t, "disjoint protocols", r.ErrorCode, kerr.InconsistentGroupProtocol.Code)
	if r.MemberID != "" {
		t.Fatalf("new member got id %q", r.MemberID)
	}
	// An existing member switching to an unsupported set is refused too
	// (it is the only member, but counted against itself).
	known := joinReq("g", ids[0], []Protocol{{Name: "roundrobin"}})
	wantCode(t, "member switching protocols", c.Join(ctx, known).ErrorCode, kerr.InconsistentGroupProtocol.Code)
}

func TestGroupMaxSize(t *testing.T) {
	cfg := testConfig()
	cfg.MaxSize = 2
	c := openTest(t, t.TempDir(), cfg, nil)
	ids, _ := stableGroup(t, c, "g", 2, protos("t"))
	r := c.Join(context.Background(), joinReq("g", "", protos("t")))
	wantCode(t, "third member", r.ErrorCode, kerr.GroupMaxSizeReached.Code)
	if r.MemberID != "" {
		t.Fatalf("member id %q", r.MemberID)
	}
	if d := c.Describe("g"); d.State != "Stable" || len(d.Members) != 2 {
		t.Fatalf("group changed: %+v", d)
	}
	// Existing members may still rejoin.
	ch := joinAsync(c, joinReq("g", ids[0], protos("t")))
	waitFor(t, "rebalance", func() bool { return c.Describe("g").State == "PreparingRebalance" })
	r1 := recvJoin(t, joinAsync(c, joinReq("g", ids[1], protos("t"))))
	wantCode(t, "existing member", r1.ErrorCode, 0)
	wantCode(t, "existing leader", recvJoin(t, ch).ErrorCode, 0)
}

func TestInitialRebalanceDelay(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 300 * time.Millisecond
	c := openTest(t, t.TempDir(), cfg, nil)
	start := time.Now()
	a := joinAsync(c, joinReq("g", "", protos("t")))
	time.Sleep(200 * time.Millisecond)
	// b arrives during the delay, which is then extended by another step.
	b := joinAsync(c, joinReq("g", "", protos("t")))
	notYet(t, a, "join during the initial delay")
	ra, rb := recvJoin(t, a), recvJoin(t, b)
	took := time.Since(start)
	if ra.Generation != 1 || rb.Generation != 1 {
		t.Fatalf("generations %d %d: both should land in the first", ra.Generation, rb.Generation)
	}
	if took < 550*time.Millisecond {
		t.Fatalf("first join completed after %v; the delay should have been extended to ~600ms", took)
	}
	leader := ra
	if rb.LeaderID == rb.MemberID {
		leader = rb
	}
	if len(leader.Members) != 2 {
		t.Fatalf("leader got %d members", len(leader.Members))
	}

	// Extensions stop at the rebalance timeout: delay 300ms, rebalance
	// timeout 400ms, so after the first step only 100ms remain, and a
	// member arriving in that last step does not extend it further.
	c2 := openTest(t, t.TempDir(), cfg, nil)
	req := joinReq("g", "", protos("t"))
	req.RebalanceTimeout = 400 * time.Millisecond
	start = time.Now()
	x := joinAsync(c2, req)
	time.Sleep(100 * time.Millisecond)
	y := joinAsync(c2, req)
	time.Sleep(250 * time.Millisecond)
	z := joinAsync(c2, req)
	for _, ch := range []<-chan JoinResponse{x, y, z} {
		if r := recvJoin(t, ch); r.ErrorCode != 0 || r.Generation != 1 {
			t.Fatalf("join %+v", r)
		}
	}
	if took := time.Since(start); took < 380*time.Millisecond || took > 800*time.Millisecond {
		t.Fatalf("join phase took %v, want ~400ms", took)
	}
}

func TestCloseWakesBlockedCalls(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = time.Minute
	c, err := Open(Options{Dir: t.TempDir(), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	a := joinAsync(c, joinReq("g", "", protos("t")))
	b := joinAsync(c, joinReq("g", "", protos("t")))
	notYet(t, a, "join")

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan JoinResponse{a, b} {
		wantCode(t, "join after close", recvJoin(t, ch).ErrorCode, kerr.CoordinatorNotAvailable.Code)
	}
	wantCode(t, "heartbeat after close", c.Heartbeat("g", "x", nil, 0), kerr.CoordinatorNotAvailable.Code)
	ge, _ := c.Commit(CommitRequest{Group: "g", Generation: -1, Offsets: []OffsetCommit{{}}})
	wantCode(t, "commit after close", ge, kerr.CoordinatorNotAvailable.Code)
	if err := c.Close(); err != nil {
		t.Fatal("second close:", err)
	}
}

func TestCloseWakesBlockedSync(t *testing.T) {
	c, err := Open(Options{Dir: t.TempDir(), Config: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	first := c.Join(context.Background(), joinReq("g", "", protos("t")))
	bCh := joinAsync(c, joinReq("g", "", protos("t")))
	waitFor(t, "b", func() bool { return len(c.Describe("g").Members) == 2 })
	ra := recvJoin(t, joinAsync(c, joinReq("g", first.MemberID, protos("t"))))
	rb := recvJoin(t, bCh)
	follower := rb
	if rb.LeaderID == rb.MemberID {
		follower = ra
	}
	s := syncAsync(c, SyncRequest{Group: "g", MemberID: follower.MemberID, Generation: follower.Generation})
	notYet(t, s, "follower sync")
	_ = c.Close()
	wantCode(t, "sync after close", recvSync(t, s).ErrorCode, kerr.CoordinatorNotAvailable.Code)
}

func TestJoinContextCancel(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = time.Minute
	c := openTest(t, t.TempDir(), cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := c.Join(ctx, joinReq("g", "", protos("t")))
	wantCode(t, "cancelled join", r.ErrorCode, kerr.CoordinatorNotAvailable.Code)
}
