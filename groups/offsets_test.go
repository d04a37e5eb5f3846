package groups

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func tp(topic string, p int32) TopicPartition { return TopicPartition{Topic: topic, Partition: p} }

func oc(topic string, p int32, off int64, md *string) OffsetCommit {
	return OffsetCommit{TopicPartition: tp(topic, p), Offset: off, LeaderEpoch: 3, Metadata: md}
}

func TestCommitAndFetch(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)

	// Unknown group: -1 for every asked partition, nothing for "all".
	ge, offs := c.Fetch("nogroup", []TopicPartition{tp("t", 0), tp("t", 1)}, false)
	if ge != 0 || len(offs) != 2 || offs[0].Offset != -1 || offs[1].LeaderEpoch != -1 || *offs[0].Metadata != "" {
		t.Fatalf("fetch unknown group: %d %+v", ge, offs)
	}
	if _, offs := c.Fetch("nogroup", nil, true); len(offs) != 0 {
		t.Fatalf("fetch all of unknown group: %+v", offs)
	}

	// A simple commit creates an Empty group without protocol type.
	big := strings.Repeat("x", 4097)
	fits := strings.Repeat("é", 4096) // 4096 UTF-16 units, 8192 bytes
	ge, pe := c.Commit(CommitRequest{Group: "simple", Generation: -1, Offsets: []OffsetCommit{
		oc("t", 0, 10, strp("m0")), oc("t", 1, 11, nil), oc("t", 2, 12, &big), oc("u", 0, 13, &fits),
	}})
	if ge != 0 || pe[0] != 0 || pe[1] != 0 || pe[2] != kerr.OffsetMetadataTooLarge.Code || pe[3] != 0 {
		t.Fatalf("simple commit: %d %v", ge, pe)
	}
	d := c.Describe("simple")
	if d.State != "Empty" || d.ProtocolType != "" || len(d.Members) != 0 {
		t.Fatalf("simple group: %+v", d)
	}
	ls := c.List(nil, nil)
	if len(ls) != 1 || ls[0].Group != "simple" || ls[0].State != "Empty" || ls[0].Type != "classic" {
		t.Fatalf("list: %+v", ls)
	}
	_, offs = c.Fetch("simple", nil, false)
	if len(offs) != 3 || offs[0].TopicPartition != tp("t", 0) || offs[0].Offset != 10 || *offs[0].Metadata != "m0" ||
		offs[0].LeaderEpoch != 3 || offs[1].Offset != 11 || *offs[1].Metadata != "" || offs[2].TopicPartition != tp("u", 0) {
		t.Fatalf("fetch all: %+v", offs)
	}
	_, offs = c.Fetch("simple", []TopicPartition{tp("t", 2), tp("t", 1)}, true)
	if offs[0].Offset != -1 || offs[1].Offset != 11 {
		t.Fatalf("fetch some: %+v", offs)
	}
	// All partitions too large: nothing stored, every partition refused.
	ge, pe = c.Commit(CommitRequest{Group: "simple", Generation: -1, Offsets: []OffsetCommit{oc("t", 0, 99, &big)}})
	if ge != 0 || pe[0] != kerr.OffsetMetadataTooLarge.Code {
		t.Fatalf("too large: %d %v", ge, pe)
	}
	// The empty group id is allowed for offsets, as in Kafka.
	if ge, _ := c.Commit(CommitRequest{Group: "", Generation: -1, Offsets: []OffsetCommit{oc("t", 0, 1, nil)}}); ge != 0 {
		t.Fatalf("empty group id commit: %d", ge)
	}

	// Members of a stable group commit with their generation; a later
	// commit overwrites.
	ids, gen := stableGroup(t, c, "g", 2, protos("t"))
	for i, off := range []int64{5, 7} {
		ge, pe := c.Commit(CommitRequest{Group: "g", MemberID: ids[i], Generation: gen, Offsets: []OffsetCommit{oc("t", 0, off, nil)}})
		if ge != 0 || pe[0] != 0 {
			t.Fatalf("member commit: %d %v", ge, pe)
		}
	}
	_, offs = c.Fetch("g", []TopicPartition{tp("t", 0)}, false)
	if offs[0].Offset != 7 {
		t.Fatalf("fetch after commits: %+v", offs)
	}
}

func TestCommitResetsSession(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	req := joinReq("g", "", protos("t"))
	req.SessionTimeout = 300 * time.Millisecond
	r := c.Join(context.Background(), req)
	c.Sync(context.Background(), SyncRequest{Group: "g", MemberID: r.MemberID, Generation: r.Generation, Assignments: map[string][]byte{}})
	// Only commits, no heartbeats, for longer than the session timeout.
	for i := 0; i < 8; i++ {
		time.Sleep(100 * time.Millisecond)
		ge, _ := c.Commit(CommitRequest{Group: "g", MemberID: r.MemberID, Generation: r.Generation, Offsets: []OffsetCommit{oc("t", 0, int64(i), nil)}})
		wantCode(t, "commit", ge, 0)
	}
	wantCode(t, "heartbeat", c.Heartbeat("g", r.MemberID, nil, r.Generation), 0)
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	c, err := Open(Options{Dir: dir, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ids, gen := stableGroup(t, c, "g", 2, protos("t", "u"))
	ge, _ := c.Commit(CommitRequest{Group: "g", MemberID: ids[0], Generation: gen, Offsets: []OffsetCommit{oc("t", 0, 42, strp("meta")), oc("u", 3, 7, nil)}})
	wantCode(t, "commit", ge, 0)
	ge, _ = c.Commit(CommitRequest{Group: "simple", Generation: -1, Offsets: []OffsetCommit{oc("x", 1, 100, nil)}})
	wantCode(t, "simple commit", ge, 0)
	// A group that went Empty through a rebalance is stored as such.
	sid, _ := stableGroup(t, c, "e", 1, protos("t"))
	c.Leave("e", []LeaveMember{{MemberID: sid[0]}})
	before := c.Describe("g")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c2 := openTest(t, dir, cfg, nil)
	_, offs := c2.Fetch("g", nil, false)
	if len(offs) != 2 || offs[0].Offset != 42 || *offs[0].Metadata != "meta" || offs[0].LeaderEpoch != 3 || offs[1].TopicPartition != tp("u", 3) {
		t.Fatalf("offsets after reopen: %+v", offs)
	}
	_, offs = c2.Fetch("simple", nil, false)
	if len(offs) != 1 || offs[0].Offset != 100 {
		t.Fatalf("simple offsets after reopen: %+v", offs)
	}
	if d := c2.Describe("simple"); d.State != "Empty" || d.ProtocolType != "" {
		t.Fatalf("simple group after reopen: %+v", d)
	}
	if d := c2.Describe("e"); d.State != "Empty" || d.ProtocolType != "consumer" {
		t.Fatalf("empty group after reopen: %+v", d)
	}
	after := c2.Describe("g")
	if after.State != "Stable" || after.Protocol != "range" || len(after.Members) != 2 {
		t.Fatalf("group after reopen: %+v", after)
	}
	for i, m := range after.Members {
		b := before.Members[i]
		if m.MemberID != b.MemberID || string(m.Assignment) != string(b.Assignment) || string(m.Metadata) != string(b.Metadata) ||
			m.ClientID != b.ClientID || m.ClientHost != b.ClientHost {
			t.Fatalf("member %d: %+v, before %+v", i, m, b)
		}
	}
	// Members keep their generation and assignment.
	wantCode(t, "heartbeat after reopen", c2.Heartbeat("g", ids[1], nil, gen), 0)
	sr := c2.Sync(context.Background(), SyncRequest{Group: "g", MemberID: ids[1], Generation: gen})
	if sr.ErrorCode != 0 || string(sr.Assignment) != "a-"+ids[1] {
		t.Fatalf("sync after reopen: %+v", sr)
	}
	// The follower rejoins with unchanged metadata: no rebalance.
	jr := c2.Join(context.Background(), joinReq("g", ids[1], protos("t", "u")))
	if jr.ErrorCode != 0 || jr.Generation != gen || jr.LeaderID != ids[0] {
		t.Fatalf("rejoin after reopen: %+v", jr)
	}
	// Subscriptions were recomputed: both topics are protected.
	_, pe := c2.DeleteOffsets("g", []TopicPartition{tp("t", 0), tp("v", 0)})
	if pe[0] != kerr.GroupSubscribedToTopic.Code || pe[1] != 0 {
		t.Fatalf("delete offsets after reopen: %v", pe)
	}
}

func TestSessionTimersStartAtLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	c, err := Open(Options{Dir: dir, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	short := func(id string) JoinRequest {
		r := joinReq("g", id, protos("t"))
		r.SessionTimeout = 400 * time.Millisecond
		return r
	}
	a := c.Join(context.Background(), short(""))
	bCh := joinAsync(c, short(""))
	waitFor(t, "b", func() bool { return len(c.Describe("g").Members) == 2 })
	ra := recvJoin(t, joinAsync(c, short(a.MemberID)))
	rb := recvJoin(t, bCh)
	s := syncAsync(c, SyncRequest{Group: "g", MemberID: rb.MemberID, Generation: rb.Generation})
	c.Sync(context.Background(), SyncRequest{Group: "g", MemberID: ra.MemberID, Generation: ra.Generation,
		Assignments: map[string][]byte{ra.MemberID: []byte("A"), rb.MemberID: []byte("B")}})
	recvSync(t, s)
	_ = c.Close()

	c2 := openTest(t, dir, cfg, nil)
	// a comes back and heartbeats; b never does and expires.
	var code int16
	for i := 0; i < 40 && code == 0; i++ {
		code = c2.Heartbeat("g", ra.MemberID, nil, ra.Generation)
		time.Sleep(50 * time.Millisecond)
	}
	wantCode(t, "heartbeat after b expired", code, kerr.RebalanceInProgress.Code)
	r := c2.Join(context.Background(), short(ra.MemberID))
	if r.ErrorCode != 0 || len(r.Members) != 1 || r.Generation != ra.Generation+1 {
		t.Fatalf("rejoin: %+v", r)
	}
}

func TestOffsetExpiration(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.OffsetsRetention = time.Hour
	cfg.OffsetsRetentionCheckInterval = 20 * time.Millisecond
	c := openTest(t, t.TempDir(), cfg, clock.Now)

	// A simple group: by commit time.
	c.Commit(CommitRequest{Group: "simple", Generation: -1, Offsets: []OffsetCommit{oc("t", 0, 1, nil)}})
	clock.Advance(30 * time.Minute)
	c.Commit(CommitRequest{Group: "simple", Generation: -1, Offsets: []OffsetCommit{oc("t", 1, 1, nil)}})

	// A consumer group that empties: by the time it became Empty.
	ids, gen := stableGroup(t, c, "g", 1, protos("t"))
	c.Commit(CommitRequest{Group: "g", MemberID: ids[0], Generation: gen, Offsets: []OffsetCommit{oc("t", 0, 1, nil)}})
	// A stable consumer group: offsets of topics it does not subscribe to
	// expire by commit time; subscribed ones never do.
	sids, sgen := stableGroup(t, c, "s", 1, protos("t"))
	c.Commit(CommitRequest{Group: "s", MemberID: sids[0], Generation: sgen, Offsets: []OffsetCommit{oc("t", 0, 1, nil), oc("gone", 0, 1, nil)}})

	clock.Advance(40 * time.Minute) // simple t-0 is 70 minutes old
	c.Leave("g", []LeaveMember{{MemberID: ids[0]}})
	waitFor(t, "simple t-0 to expire", func() bool {
		_, o := c.Fetch("simple", []TopicPartition{tp("t", 0), tp("t", 1)}, false)
		return o[0].Offset == -1 && o[1].Offset == 1
	})
	keepAlive := func() { c.Heartbeat("s", sids[0], nil, sgen) }
	keepAlive()
	clock.Advance(50 * time.Minute) // g empty for 50 minutes; simple t-1 80 minutes old
	waitFor(t, "simple group to be deleted", func() bool { return c.Describe("simple").State == "Dead" })
	time.Sleep(60 * time.Millisecond)
	if _, o := c.Fetch("g", nil, false); len(o) != 1 {
		t.Fatalf("g expired too early: %+v", o)
	}
	if _, o := c.Fetch("s", nil, false); len(o) != 1 || o[0].TopicPartition != tp("t", 0) {
		t.Fatalf("stable group offsets: %+v", o)
	}
	keepAlive()
	clock.Advance(15 * time.Minute) // g empty for 65 minutes
	waitFor(t, "g to be deleted", func() bool { return c.Describe("g").State == "Dead" })
	if _, o := c.Fetch("g", nil, false); len(o) != 0 {
		t.Fatalf("g offsets: %+v", o)
	}
	for _, l := range c.List(nil, nil) {
		if l.Group == "g" || l.Group == "simple" {
			t.Fatalf("deleted group listed: %+v", l)
		}
	}
	if _, o := c.Fetch("s", nil, false); len(o) != 1 {
		t.Fatalf("stable group offsets: %+v", o)
	}
}

func TestDeleteGroup(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(Options{Dir: dir, Config: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "unknown", c.Delete("nogroup"), kerr.GroupIDNotFound.Code)
	ids, gen := stableGroup(t, c, "g", 1, protos("t"))
	c.Commit(CommitRequest{Group: "g", MemberID: ids[0], Generation: gen, Offsets: []OffsetCommit{oc("t", 0, 1, nil)}})
	wantCode(t, "non-empty", c.Delete("g"), kerr.NonEmptyGroup.Code)
	c.Leave("g", []LeaveMember{{MemberID: ids[0]}})
	wantCode(t, "empty", c.Delete("g"), 0)
	if d := c.Describe("g"); d.State != "Dead" {
		t.Fatalf("after delete: %+v", d)
	}
	if _, o := c.Fetch("g", []TopicPartition{tp("t", 0)}, false); o[0].Offset != -1 {
		t.Fatalf("offsets survived: %+v", o)
	}
	wantCode(t, "again", c.Delete("g"), kerr.GroupIDNotFound.Code)
	_ = c.Close()
	c2 := openTest(t, dir, testConfig(), nil)
	if d := c2.Describe("g"); d.State != "Dead" {
		t.Fatalf("deleted group came back: %+v", d)
	}
	// The group can be created again.
	if r := c2.Join(context.Background(), joinReq("g", "", protos("t"))); r.ErrorCode != 0 || r.Generation != 1 {
		t.Fatalf("recreate: %+v", r)
	}
}

func TestDeleteOffsets(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	ge, _ := c.DeleteOffsets("nogroup", []TopicPartition{tp("t", 0)})
	wantCode(t, "unknown group", ge, kerr.GroupIDNotFound.Code)

	// Stable consumer group subscribed to t.
	ids, gen := stableGroup(t, c, "g", 1, protos("t"))
	c.Commit(CommitRequest{Group: "g", MemberID: ids[0], Generation: gen, Offsets: []OffsetCommit{oc("t", 0, 1, nil), oc("u", 0, 2, nil)}})
	ge, pe := c.DeleteOffsets("g", []TopicPartition{tp("t", 0), tp("u", 0), tp("w", 9)})
	if ge != 0 || pe[0] != kerr.GroupSubscribedToTopic.Code || pe[1] != 0 || pe[2] != 0 {
		t.Fatalf("stable consumer group: %d %v", ge, pe)
	}
	if _, o := c.Fetch("g", nil, false); len(o) != 1 || o[0].TopicPartition != tp("t", 0) {
		t.Fatalf("left: %+v", o)
	}

	// Non-consumer protocol type with members: NON_EMPTY_GROUP.
	req := joinReq("connect", "", []Protocol{{Name: "default", Metadata: []byte("x")}})
	req.ProtocolType = "connect"
	r := c.Join(context.Background(), req)
	c.Sync(context.Background(), SyncRequest{Group: "connect", MemberID: r.MemberID, Generation: r.Generation, Assignments: map[string][]byte{}})
	c.Commit(CommitRequest{Group: "connect", MemberID: r.MemberID, Generation: r.Generation, Offsets: []OffsetCommit{oc("t", 0, 1, nil)}})
	ge, pe = c.DeleteOffsets("connect", []TopicPartition{tp("t", 0)})
	if ge != kerr.NonEmptyGroup.Code || pe != nil {
		t.Fatalf("non-consumer group: %d %v", ge, pe)
	}

	// Undecodable consumer metadata: the group counts as subscribed to all.
	req = joinReq("junk", "", []Protocol{{Name: "range", Metadata: []byte{0xff}}})
	r = c.Join(context.Background(), req)
	c.Sync(context.Background(), SyncRequest{Group: "junk", MemberID: r.MemberID, Generation: r.Generation, Assignments: map[string][]byte{}})
	_, pe = c.DeleteOffsets("junk", []TopicPartition{tp("anything", 0)})
	wantCode(t, "unknown subscription", pe[0], kerr.GroupSubscribedToTopic.Code)

	// Empty group: everything goes, and the group with it once no offsets
	// remain.
	c.Leave("g", []LeaveMember{{MemberID: ids[0]}})
	ge, pe = c.DeleteOffsets("g", []TopicPartition{tp("t", 0)})
	if ge != 0 || pe[0] != 0 {
		t.Fatalf("empty group: %d %v", ge, pe)
	}
	if d := c.Describe("g"); d.State != "Dead" {
		t.Fatalf("group without offsets survived: %+v", d)
	}
}

func TestDeleteTopicOffsets(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(Options{Dir: dir, Config: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	c.Commit(CommitRequest{Group: "a", Generation: -1, Offsets: []OffsetCommit{oc("t", 0, 1, nil), oc("t", 1, 1, nil), oc("u", 0, 1, nil)}})
	c.Commit(CommitRequest{Group: "b", Generation: -1, Offsets: []OffsetCommit{oc("t", 0, 1, nil)}})
	c.DeleteTopicOffsets("t")
	if _, o := c.Fetch("a", nil, false); len(o) != 1 || o[0].Topic != "u" {
		t.Fatalf("a: %+v", o)
	}
	if d := c.Describe("b"); d.State != "Dead" {
		t.Fatalf("b: %+v", d)
	}
	_ = c.Close()
	c2 := openTest(t, dir, testConfig(), nil)
	if _, o := c2.Fetch("a", nil, false); len(o) != 1 || o[0].Topic != "u" {
		t.Fatalf("a after reopen: %+v", o)
	}
	if ls := c2.List(nil, nil); len(ls) != 1 || ls[0].Group != "a" {
		t.Fatalf("list after reopen: %+v", ls)
	}
}

func TestList(t *testing.T) {
	c := openTest(t, t.TempDir(), testConfig(), nil)
	stableGroup(t, c, "stable", 1, protos("t"))
	c.Commit(CommitRequest{Group: "empty", Generation: -1, Offsets: []OffsetCommit{oc("t", 0, 1, nil)}})
	names := func(ls []GroupListing) string {
		var s []string
		for _, l := range ls {
			s = append(s, l.Group+":"+l.State+":"+l.ProtocolType)
		}
		return strings.Join(s, ",")
	}
	if got := names(c.List(nil, nil)); got != "empty:Empty:,stable:Stable:consumer" {
		t.Fatalf("all: %s", got)
	}
	if got := names(c.List([]string{"STABLE"}, []string{"Classic"})); got != "stable:Stable:consumer" {
		t.Fatalf("stable: %s", got)
	}
	if got := names(c.List(nil, []string{"consumer"})); got != "" {
		t.Fatalf("consumer type: %s", got)
	}
}
