package groups

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"samsa/coordinator"
)

// TestPartitionForMatchesKafka: group placement is Kafka's
// Utils.abs(String.hashCode) % partitions (values computed with Java).
func TestPartitionForMatchesKafka(t *testing.T) {
	for _, c := range []struct {
		id   string
		want int32
	}{
		{"", 0},                    // hashCode 0
		{"a", 47},                  // 97
		{"group", 47},              // 98629247
		{"polygenelubricants", 0},  // hashCode Integer.MIN_VALUE: Utils.abs gives 0
		{"\U0001F600", 49},         // UTF-16 surrogate pair: 55357*31+56832
		{"console-consumer-1", 24}, // 35782224
	} {
		if got := PartitionFor(c.id, 50); got != c.want {
			t.Errorf("PartitionFor(%q) = %d, want %d", c.id, got, c.want)
		}
	}
}

// TestRestartReplaysMembers: a Stable group's generation, protocol,
// leader, members and assignments, and its offsets, come back from the
// log after a restart.
func TestRestartReplaysMembers(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(Options{Dir: dir, Config: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	j1 := joinAsync(c, joinReq("rg", "", protos("t")))
	r1 := recvJoin(t, j1)
	wantCode(t, "join", r1.ErrorCode, 0)
	s := recvSync(t, syncAsync(c, SyncRequest{Group: "rg", MemberID: r1.MemberID, Generation: r1.Generation,
		Assignments: map[string][]byte{r1.MemberID: []byte("assigned")}}))
	wantCode(t, "sync", s.ErrorCode, 0)
	_, errs := c.Commit(CommitRequest{Group: "rg", MemberID: r1.MemberID, Generation: r1.Generation,
		Offsets: []OffsetCommit{{TopicPartition: TopicPartition{"t", 3}, Offset: 77, LeaderEpoch: 5, Metadata: strp("md")}}})
	wantCode(t, "commit", errs[0], 0)
	before := c.Describe("rg")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c2 := openTest(t, dir, testConfig(), nil)
	after := c2.Describe("rg")
	if after.State != "Stable" || after.Protocol != "range" || after.ProtocolType != "consumer" || len(after.Members) != 1 ||
		after.Members[0].MemberID != r1.MemberID || string(after.Members[0].Assignment) != "assigned" ||
		string(after.Members[0].Metadata) != string(before.Members[0].Metadata) {
		t.Fatalf("after restart %+v, before %+v", after, before)
	}
	// The member keeps its generation: a heartbeat of it is accepted.
	wantCode(t, "heartbeat", c2.Heartbeat("rg", r1.MemberID, nil, r1.Generation), 0)
	code, offs := c2.Fetch("rg", []TopicPartition{{"t", 3}}, false)
	if code != 0 || offs[0].Offset != 77 || offs[0].LeaderEpoch != 5 || *offs[0].Metadata != "md" {
		t.Fatalf("offset after restart: %d %+v", code, offs[0])
	}
}

// FuzzReplay feeds arbitrary keys and values to the __consumer_offsets
// state machine: it must return an error or apply them, never panic, and
// whatever it loaded must be publishable.
func FuzzReplay(f *testing.F) {
	g := newGroup("g", 0)
	g.protocolType, g.protocolName = strp("consumer"), strp("range")
	m := &member{id: "m-1", clientID: "c", protocols: protos("t"), protocolType: "consumer"}
	g.add(m, nil)
	gr := groupRecord(g, map[string][]byte{"m-1": []byte("a")})
	or := offsetRecord("g", TopicPartition{"t", 1}, offsetValue{offset: 5, leaderEpoch: 1, metadata: "x", commitMs: 9})
	f.Add(gr.Key, gr.Value)
	f.Add(or.Key, or.Value)
	f.Add(or.Key, []byte(nil))
	f.Add([]byte{0, 9, 1}, []byte{1, 2})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		c := &Coordinator{groups: map[string]*group{}, now: time.Now, numPartitions: 50}
		c.log = slog.New(slog.DiscardHandler)
		s := c.newShard(0).(*shard)
		_ = s.Replay(0, coordinator.Record{Key: key, Value: value})
		s.LoadComplete()
	})
}

// BenchmarkCommit100Consumers: OffsetCommit throughput with 100
// consumers (groups) committing 4 partitions each in parallel, every
// commit an append to __consumer_offsets. Reported, not asserted.
func BenchmarkCommit100Consumers(b *testing.B) {
	c, err := Open(Options{Dir: b.TempDir(), Config: testConfig()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	per := b.N/100 + 1
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req := CommitRequest{Group: fmt.Sprintf("consumer-%d", i), Generation: -1}
			for n := 0; n < per; n++ {
				req.Offsets = req.Offsets[:0]
				for p := int32(0); p < 4; p++ {
					req.Offsets = append(req.Offsets, OffsetCommit{TopicPartition: TopicPartition{"t", p}, Offset: int64(n), LeaderEpoch: -1})
				}
				if code, _ := c.Commit(req); code != 0 {
					b.Errorf("commit: %d", code)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	b.ReportMetric(float64(per*100)/time.Since(start).Seconds(), "commits/s")
}

// BenchmarkLoad1MOffsets writes 1,000,000 committed offsets (1,000 groups
// x 1,000 partitions, in batches of 100 per commit) and measures the
// time Open takes to replay them. Reported, not asserted.
func BenchmarkLoad1MOffsets(b *testing.B) {
	dir := b.TempDir()
	c, err := Open(Options{Dir: dir, Config: testConfig()})
	if err != nil {
		b.Fatal(err)
	}
	for g := 0; g < 1000; g++ {
		for p0 := int32(0); p0 < 1000; p0 += 100 {
			req := CommitRequest{Group: fmt.Sprintf("group-%d", g), Generation: -1}
			for p := p0; p < p0+100; p++ {
				req.Offsets = append(req.Offsets, OffsetCommit{TopicPartition: TopicPartition{"topic", p}, Offset: int64(p), LeaderEpoch: -1})
			}
			if code, _ := c.Commit(req); code != 0 {
				b.Fatalf("commit: %d", code)
			}
		}
	}
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		c, err := Open(Options{Dir: dir, Config: testConfig()})
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		n := 0
		for _, g := range c.snapshot() {
			n += len(g.offsets)
		}
		_ = c.Close()
		if n != 1_000_000 {
			b.Fatalf("loaded %d offsets", n)
		}
		b.ReportMetric(took.Seconds(), "s/load")
	}
}
