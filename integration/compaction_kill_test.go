package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/groups"
	"samsa/internal/testbroker"
)

// compactionOverrides make the binary's cleaner run often.
var compactionOverrides = []string{"log.cleaner.backoff.ms=50", "log.retention.check.interval.ms=100"}

// readLatest reads topic partition 0 from the start to its end offset
// (compaction leaves gaps, so records are fewer than offsets) and returns
// the last value seen per key, with the offsets in the order read.
func readLatest(t *testing.T, addr, topic string) (map[string]string, []int64) {
	t.Helper()
	ends, err := newAdmin(t, addr).ListEndOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(100*time.Millisecond))
	latest := map[string]string{}
	var offsets []int64
	ctx := ctxT(t)
	for len(offsets) == 0 || offsets[len(offsets)-1] < end.Offset-1 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("reading %s: %v (read up to %v of %d)", topic, err, offsets[max(0, len(offsets)-1):], end.Offset)
		}
		fs.EachRecord(func(r *kgo.Record) {
			offsets = append(offsets, r.Offset)
			if r.Value == nil {
				delete(latest, string(r.Key))
			} else {
				latest[string(r.Key)] = string(r.Value)
			}
		})
	}
	return latest, offsets
}

// TestCompactionSurvivesKill9 produces versions of 50 keys to a compacted
// topic with 1 MiB segments while the binary's cleaner compacts it, and
// kills the broker with SIGKILL at a random moment, four times. After
// every restart the log reads back in offset order with every key's
// latest acknowledged value (or a later one whose produce was in flight),
// and no acknowledged key is lost.
func TestCompactionSurvivesKill9(t *testing.T) {
	b := testbroker.Start(t, testbroker.Binary, compactionOverrides...)
	_, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 1, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.bytes":             kadm.StringPtr("1048576"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	}, "ck")
	if err != nil {
		t.Fatal(err)
	}
	const keys = 50
	acked := make([]atomic.Int64, keys) // last acknowledged version per key
	var version atomic.Int64
	for round := 0; round < 4; round++ {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("ck"),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordDeliveryTimeout(3*time.Second), kgo.RequestTimeoutOverhead(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			pad := make([]byte, 2000)
			for {
				select {
				case <-stop:
					return
				default:
				}
				v := version.Add(1)
				var recs []*kgo.Record
				for k := 0; k < keys; k++ {
					recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprintf("k%02d", k)), Value: append([]byte(fmt.Sprintf("%08d", v)), pad...)})
				}
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				res := cl.ProduceSync(ctx, recs...)
				cancel()
				if res.FirstErr() != nil {
					return
				}
				for k := range recs {
					acked[k].Store(v)
				}
			}
		}()
		time.Sleep(time.Duration(700+rand.IntN(1300)) * time.Millisecond)
		b.Kill()
		close(stop)
		cl.Close() // fails what is still buffered, so the producer returns
		<-done
		b.Restart()
		latest, offsets := readLatest(t, b.Addr(), "ck")
		for i := 1; i < len(offsets); i++ {
			if offsets[i] <= offsets[i-1] {
				t.Fatalf("round %d: offset %d read after %d", round, offsets[i], offsets[i-1])
			}
		}
		for k := 0; k < keys; k++ {
			key := fmt.Sprintf("k%02d", k)
			want := acked[k].Load()
			if want == 0 {
				continue
			}
			got, ok := latest[key]
			var gotV int64
			if ok {
				fmt.Sscanf(got[:8], "%d", &gotV)
			}
			if !ok || gotV < want {
				t.Fatalf("round %d: key %s reads version %d (present %v), acknowledged %d", round, key, gotV, ok, want)
			}
		}
		t.Logf("round %d: version %d acknowledged, %d records hold %d offsets", round, acked[0].Load(), len(offsets), offsets[len(offsets)-1]+1)
	}
	if acked[0].Load() < 20 {
		t.Fatalf("only %d versions acknowledged: too little was written to exercise the cleaner", acked[0].Load())
	}
}

// TestOffsetsTopicCompactedAndReplayed commits the offsets of one group
// many times, so that __consumer_offsets (one partition here, 1 MiB
// segments) fills several segments with superseded commits. The broker's
// cleaner compacts it to about one record per committed partition, and
// after a restart the coordinator, replaying the compacted log (gaps,
// tombstones of a deleted group), answers the latest commits.
func TestOffsetsTopicCompactedAndReplayed(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, append(compactionOverrides, "offsets.topic.num.partitions=1",
		"offsets.topic.segment.bytes=1048576", "group.initial.rebalance.delay.ms=0")...)
	ctx := ctxT(t)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctx, 10, 1, nil, "ot"); err != nil {
		t.Fatal(err)
	}
	const rounds = 1200
	for i := 1; i <= rounds; i++ {
		offs := kadm.Offsets{}
		for p := int32(0); p < 10; p++ {
			offs.Add(kadm.Offset{Topic: "ot", Partition: p, At: int64(i), LeaderEpoch: -1, Metadata: fmt.Sprintf("commit %d with some metadata to fill segments faster %0300d", i, i)})
		}
		for _, g := range []string{"live", "gone"} {
			if r, err := adm.CommitOffsets(ctx, g, offs); err != nil || r.Error() != nil {
				t.Fatalf("commit %d: %v %v", i, err, r.Error())
			}
		}
	}
	if r, err := adm.DeleteGroups(ctx, "gone"); err != nil || r.Error() != nil {
		t.Fatalf("delete group: %v %v", err, r.Error())
	}
	// 2 groups x 10 partitions x rounds commits were written; compaction
	// leaves about one record per key in the cleaned segments (plus
	// whatever the active segment holds).
	written := 2 * 10 * rounds
	var records int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		_, offsets := readLatest(t, b.Addr(), groups.OffsetsTopic)
		if records = len(offsets); records < written/4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("__consumer_offsets-0 not compacted: %d records of %d commits", records, written)
		}
	}
	t.Logf("__consumer_offsets-0: %d commits written, %d records after cleaning (%d bytes)", written, records, logDirSize(t, adm, groups.OffsetsTopic, 0))

	b.Restart()
	adm = newAdmin(t, b.Addr())
	got, err := adm.FetchOffsets(ctxT(t), "live")
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 10; p++ {
		if o, ok := got.Lookup("ot", p); !ok || o.At != rounds {
			t.Fatalf("after compaction and restart, partition %d: %+v, want %d", p, o, rounds)
		}
	}
	gone, err := adm.FetchOffsets(ctxT(t), "gone")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(gone.Sorted()); n != 0 {
		t.Fatalf("deleted group has %d offsets after compaction and restart", n)
	}
	req := kmsg.NewPtrListGroupsRequest()
	resp, err := req.RequestWith(ctxT(t), newClient(t, b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range resp.Groups {
		if g.Group == "gone" {
			t.Fatal("deleted group listed after compaction and restart")
		}
	}
}

// logDirSize is the size DescribeLogDirs reports for a partition.
func logDirSize(t *testing.T, adm *kadm.Client, topic string, partition int32) int64 {
	t.Helper()
	dirs, err := adm.DescribeBrokerLogDirs(ctxT(t), 0, kadm.TopicsSet{topic: {partition: {}}})
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	dirs.EachPartition(func(p kadm.DescribedLogDirPartition) { size += p.Size })
	return size
}
