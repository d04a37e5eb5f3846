package integration

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// TestRetentionAdvancesLogStart lets the broker's retention task delete old
// segments of a topic with small segments and retention.bytes, then checks
// the log start offset moved and a fetch below it is OFFSET_OUT_OF_RANGE.
func TestRetentionAdvancesLogStart(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "log.retention.check.interval.ms=50")
	ctx := ctxT(t)
	adm := newAdmin(t, b.Addr())
	_, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{
		"segment.bytes":   kadm.StringPtr("1048576"),
		"retention.bytes": kadm.StringPtr("1048576"),
	}, "ret")
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("ret"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	var recs []*kgo.Record
	for i := 0; i < 4000; i++ { // ~4 MiB: four segments
		v := make([]byte, 1000)
		rand.Read(v)
		recs = append(recs, &kgo.Record{Value: v})
	}
	produceAll(t, cl, recs...)

	var start int64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		offs, err := newAdmin(t, b.Addr()).ListStartOffsets(ctx, "ret")
		if err != nil {
			t.Fatal(err)
		}
		if start = offs["ret"][0].Offset; start > 0 {
			break
		}
	}
	if start <= 0 {
		t.Fatal("retention never deleted a segment")
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes = 12, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "ret"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = 0, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	p := rawRequest(t, b.Addr(), req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	// Kafka's OFFSET_OUT_OF_RANGE answer carries no offsets (-1; measured
	// by the conformance suite, TestFetchOutOfRange); the client learns the
	// new start from ListOffsets.
	if p.ErrorCode != kerr.OffsetOutOfRange.Code || p.LogStartOffset != -1 {
		t.Fatalf("fetch at 0 after retention: error %d log start %d (listed %d)", p.ErrorCode, p.LogStartOffset, start)
	}
}

// TestIndexRebuiltAfterDelete removes the Pebble index directory of a
// stopped broker; the restarted broker rebuilds it from the segments.
func TestIndexRebuiltAfterDelete(t *testing.T) {
	b := testbroker.Start(t, testbroker.Binary)
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 2, 1, nil, "idx"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("idx"))
	var recs []*kgo.Record
	for i := 0; i < 500; i++ {
		recs = append(recs, &kgo.Record{Value: []byte{byte(i), byte(i >> 8)}})
	}
	produceAll(t, cl, recs...)
	cl.Close()
	b.Stop()
	if err := os.RemoveAll(filepath.Join(b.DataDir(), ".samsa-index")); err != nil {
		t.Fatal(err)
	}
	b.Restart()
	got := consumeN(t, b.Addr(), "idx", 500)
	seen := map[[2]byte]bool{}
	for _, r := range got {
		seen[[2]byte{r.Value[0], r.Value[1]}] = true
	}
	if len(got) != 500 || len(seen) != 500 {
		t.Fatalf("after index rebuild read %d records, %d distinct", len(got), len(seen))
	}
}

// TestMinInsyncCappedAndLogAppendTime: min.insync.replicas above the
// replication factor is capped at it (KAFKA-15583, Kafka 3.7+; measured by
// the conformance suite's TestMinInsyncAboveReplicationFactor), so acks=all
// to a one-replica topic with min.insync.replicas=2 succeeds; and
// LogAppendTime topics stamp the broker's clock.
func TestMinInsyncCappedAndLogAppendTime(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctxT(t), 1, 1, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, "isr"); err != nil {
		t.Fatal(err)
	}
	for _, acks := range []int16{-1, 1} {
		if p := produceRaw(t, b.Addr(), 9, acks, "isr", rawBatch("x", -1, -1, -1)); p.ErrorCode != 0 {
			t.Fatalf("acks=%d, min.insync.replicas=2 above one replica: error %d", acks, p.ErrorCode)
		}
	}

	if _, err := adm.CreateTopic(ctxT(t), 1, 1, map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime")}, "lat"); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UnixMilli()
	p := produceRaw(t, b.Addr(), 9, 1, "lat", rawBatch("y", -1, -1, -1))
	if p.ErrorCode != 0 || p.LogAppendTime < before {
		t.Fatalf("LogAppendTime topic: %+v", p)
	}
	rec := consumeN(t, b.Addr(), "lat", 1)[0]
	if rec.Timestamp.UnixMilli() != p.LogAppendTime || rec.Attrs.TimestampType() != 1 {
		t.Fatalf("record timestamp %v (type %d), want log append time %d", rec.Timestamp.UnixMilli(), rec.Attrs.TimestampType(), p.LogAppendTime)
	}
}
