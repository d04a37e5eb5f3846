package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	bt "samsa/internal/batchtest"
	"samsa/internal/testbroker"
)

// consumeAll reads topic partition 0 from the start with a fresh kgo
// consumer until it has want records, failing on any fetch error.
func consumeAll(t *testing.T, addr, topic string, want int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		for _, e := range fs.Errors() {
			t.Fatalf("consuming %s after %d of %d records: %v", topic, len(got), want, e.Err)
		}
		got = append(got, fs.Records()...)
	}
	return got
}

// TestProduceRejectsInvalidBatches sends, with valid CRCs, batches Kafka's
// LogValidator refuses, and checks the error code, the record_errors
// index, the log start offset, and that the partition stays readable by
// kgo and writable. The expected answers were measured against Apache
// Kafka 4.3.1 by the conformance suite (conformance/validate_test.go).
func TestProduceRejectsInvalidBatches(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	const topic = "hostile"
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic(topic))
	now := time.Now().UnixMilli()
	good := func() []bt.Record { return bt.Simple(3, 10) }
	with := func(i int, f func(*bt.Record)) []bt.Record { r := good(); f(&r[i]); return r }
	const invalidRecord, invalidTimestamp, unknownServerError = 87, 32, -1
	cases := []struct {
		name   string
		batch  bt.Batch
		code   int16
		recIdx int32 // -1: no record_errors
	}{
		{"header count 1 with 3 records", bt.Batch{Records: good(), NumRecords: bt.Int32(1), LastOffsetDelta: bt.Int32(0)}, invalidRecord, -1},
		{"header count -3", bt.Batch{Records: with(2, func(r *bt.Record) { r.HeaderCount = bt.Int32(-3) })}, invalidRecord, -1},
		{"gzip batch whose payload is not gzip", bt.Batch{Records: good(), Codec: bt.Gzip, Payload: bt.Batch{Records: good()}.RawRecords()}, unknownServerError, -1},
		{"compression codec 7", bt.Batch{Records: good(), Codec: 7}, unknownServerError, -1},
		{"control batch from a client", bt.Batch{Records: good(), Attributes: 0x20}, invalidRecord, -1},
		{"zstd batch whose payload is not zstd", bt.Batch{Records: good(), Codec: bt.Zstd, Payload: []byte("not zstd at all")}, unknownServerError, -1},
		{"lz4 records count 4 with 3 present", bt.Batch{Records: good(), Codec: bt.LZ4, NumRecords: bt.Int32(4)}, invalidRecord, -1},
		{"gzip offset deltas out of order", bt.Batch{Records: with(2, func(r *bt.Record) { r.OffsetDelta = 7 }), Codec: bt.Gzip}, unknownServerError, -1},
		{"bytes after the last record", bt.Batch{Records: good(), Codec: bt.Snappy, Trailing: []byte{1}}, invalidRecord, -1},
		{"timestamp two hours ahead", bt.Batch{Records: good(), BaseTimestamp: now + 2*3600_000, MaxTimestamp: now + 2*3600_000 + 2}, invalidTimestamp, 0},
		{"base offset not 0", bt.Batch{Records: good(), BaseOffset: 5}, invalidRecord, -1},
	}
	produced := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sp := produceRaw(t, b.Addr(), 9, -1, topic, c.batch.Bytes())
			if sp.ErrorCode != c.code {
				t.Fatalf("error code %d, want %d (message %v)", sp.ErrorCode, c.code, deref(sp.ErrorMessage))
			}
			if sp.ErrorMessage == nil || *sp.ErrorMessage == "" {
				t.Fatal("no error_message")
			}
			if sp.LogStartOffset != 0 {
				t.Fatalf("log_start_offset %d, want the partition's (0): the failure is in the log layer", sp.LogStartOffset)
			}
			switch {
			case c.recIdx < 0 && len(sp.ErrorRecords) > 0:
				t.Fatalf("unexpected record_errors %+v", sp.ErrorRecords)
			case c.recIdx >= 0 && (len(sp.ErrorRecords) == 0 || sp.ErrorRecords[0].RelativeOffset != c.recIdx):
				t.Fatalf("record_errors %+v, want batch_index %d", sp.ErrorRecords, c.recIdx)
			}
			// The partition still takes good data and reads back whole.
			produceAll(t, cl, &kgo.Record{Value: []byte(c.name)})
			produced++
			recs := consumeAll(t, b.Addr(), topic, produced)
			if len(recs) != produced || string(recs[produced-1].Value) != c.name || recs[produced-1].Offset != int64(produced-1) {
				t.Fatalf("read back %d records, last %q at %d", len(recs), recs[len(recs)-1].Value, recs[len(recs)-1].Offset)
			}
		})
	}
}

// TestProduceAcceptsAsKafka: batches the record format forbids but Kafka
// 4.3.1 accepts and stores as sent (measured by the conformance suite):
// key and value lengths below -1, read as null, and out-of-order offset
// deltas in an uncompressed batch. kgo reads them back.
func TestProduceAcceptsAsKafka(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	const topic = "lenient"
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	good := func() []bt.Record { return bt.Simple(3, 10) }
	with := func(i int, f func(*bt.Record)) []bt.Record { r := good(); f(&r[i]); return r }
	batches := []bt.Batch{
		{Records: with(1, func(r *bt.Record) { r.Key, r.KeyLen = nil, bt.Int32(-5) })},
		{Records: with(0, func(r *bt.Record) { r.Value, r.ValueLen = nil, bt.Int32(-2) })},
		{Records: with(2, func(r *bt.Record) { r.OffsetDelta = 7 })},
	}
	for i, batch := range batches {
		sp := produceRaw(t, b.Addr(), 12, -1, topic, batch.Bytes())
		if sp.ErrorCode != 0 || sp.BaseOffset != int64(3*i) {
			t.Fatalf("batch %d: error %d base offset %d (message %v)", i, sp.ErrorCode, sp.BaseOffset, deref(sp.ErrorMessage))
		}
	}
	recs := consumeAll(t, b.Addr(), topic, 9)
	if recs[1].Key != nil || recs[3].Value != nil {
		t.Fatalf("negative lengths not read as null: key %q value %q", recs[1].Key, recs[3].Value)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestProduceEveryCodecFromKgo checks that franz-go batches of every codec
// pass the record validator and read back intact.
func TestProduceEveryCodecFromKgo(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	for _, codec := range []struct {
		name string
		c    kgo.CompressionCodec
	}{{"none", kgo.NoCompression()}, {"gzip", kgo.GzipCompression()}, {"snappy", kgo.SnappyCompression()}, {"lz4", kgo.Lz4Compression()}, {"zstd", kgo.ZstdCompression()}} {
		t.Run(codec.name, func(t *testing.T) {
			topic := "codec-" + codec.name
			if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec.c), kgo.ProducerLinger(50*time.Millisecond))
			var recs []*kgo.Record
			for i := 0; i < 200; i++ {
				recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(strings.Repeat(fmt.Sprint(i), 100)),
					Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}}})
			}
			produceAll(t, cl, recs...)
			got := consumeAll(t, b.Addr(), topic, len(recs))
			for i, r := range got {
				if string(r.Key) != fmt.Sprint(i) || r.Offset != int64(i) || len(r.Headers) != 1 {
					t.Fatalf("record %d: key %q offset %d", i, r.Key, r.Offset)
				}
			}
		})
	}
}

// TestNoTimestampSurvivesRetention: records without a timestamp (-1) in a
// batch whose header says max timestamp 0, as librdkafka writes them,
// must not look 56 years old to retention. The broker computes the max
// timestamp (-1) from the records and retention falls back to the
// segment's modification time (Kafka's LogSegment.largestTimestamp).
// ListOffsets MAX_TIMESTAMP then answers as Kafka: timestamp -1 at the
// first record.
func TestNoTimestampSurvivesRetention(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "log.retention.check.interval.ms=20")
	adm := newAdmin(t, b.Addr())
	cl := newClient(t, b.Addr())

	check := func(t *testing.T, topic string, n int) {
		time.Sleep(400 * time.Millisecond) // ~20 retention passes
		recs := consumeAll(t, b.Addr(), topic, n)
		if len(recs) != n {
			t.Fatalf("%d records left of %d", len(recs), n)
		}
		for _, r := range recs {
			if ts := r.Timestamp.UnixMilli(); ts != -1 {
				t.Fatalf("record %d has timestamp %d, want -1", r.Offset, ts)
			}
		}
		starts, err := adm.ListStartOffsets(ctxT(t), topic)
		if err != nil || starts[topic][0].Offset != 0 {
			t.Fatalf("log start offset %+v, %v; want 0", starts[topic][0], err)
		}
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = 7
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -3 // MAX_TIMESTAMP (KIP-734)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.Offset != 0 || p.Timestamp != -1 {
			t.Fatalf("ListOffsets MAX_TIMESTAMP: error %d offset %d timestamp %d; want offset 0 timestamp -1", p.ErrorCode, p.Offset, p.Timestamp)
		}
	}

	t.Run("hand-built batch", func(t *testing.T) {
		const topic = "nots-raw"
		if _, err := adm.CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		recs := bt.Simple(10, 10)
		for i := range recs {
			recs[i].TimestampDelta = 0
		}
		sp := produceRaw(t, b.Addr(), 9, -1, topic, bt.Batch{Records: recs, BaseTimestamp: -1, MaxTimestamp: 0}.Bytes())
		if sp.ErrorCode != 0 {
			t.Fatalf("produce: error %d %s", sp.ErrorCode, deref(sp.ErrorMessage))
		}
		check(t, topic, 10)
	})

	t.Run("confluent-kafka-python", func(t *testing.T) {
		const topic = "nots-py"
		py := "/usr/bin/python3"
		if err := exec.Command(py, "-c", "import confluent_kafka").Run(); err != nil {
			if os.Getenv("SAMSA_REQUIRE_TOOLS") == "1" {
				t.Fatal("python3-confluent-kafka not installed (make deps installs it)")
			}
			t.Skip("python3-confluent-kafka not installed; run make deps")
		}
		if _, err := adm.CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		script := `
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "linger.ms": 100})
errs = []
for i in range(10):
    p.produce(sys.argv[2], value=b"v%d" % i, timestamp=-1, on_delivery=lambda e, m: e and errs.append(e))
if p.flush(10) != 0 or errs:
    sys.exit("delivery failed: %s" % errs)
`
		if out, err := exec.Command(py, "-c", script, b.Addr(), topic).CombinedOutput(); err != nil {
			t.Fatalf("confluent-kafka-python: %v\n%s", err, out)
		}
		check(t, topic, 10)
	})
}

// TestTopicCompressionTypeRecompresses: a topic's compression.type decides
// the codec batches are stored in, as in Kafka: kgo produces snappy and
// uncompressed batches to topics set to gzip, zstd, lz4 and uncompressed;
// a raw Fetch shows the stored codec, and a kgo consumer reads every
// record back with offsets, keys and headers intact.
func TestTopicCompressionTypeRecompresses(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	adm := newAdmin(t, b.Addr())
	for _, c := range []struct {
		typ   string
		codec int8
	}{{"gzip", 1}, {"zstd", 4}, {"lz4", 3}, {"uncompressed", 0}, {"snappy", 2}} {
		t.Run(c.typ, func(t *testing.T) {
			topic := "ct-" + c.typ
			if _, err := adm.CreateTopic(ctxT(t), 1, 1, map[string]*string{"compression.type": &c.typ}, topic); err != nil {
				t.Fatal(err)
			}
			var recs []*kgo.Record
			for i := 0; i < 50; i++ {
				recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(strings.Repeat("v", i*10)),
					Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}}})
			}
			for _, codec := range []kgo.CompressionCodec{kgo.SnappyCompression(), kgo.NoCompression()} {
				cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec))
				produceAll(t, cl, recs[:25]...)
				produceAll(t, cl, recs[25:]...)
				cl.Close()
			}
			got := consumeAll(t, b.Addr(), topic, 100)
			for i, r := range got {
				if r.Offset != int64(i) || string(r.Key) != fmt.Sprint(i%50) || len(r.Value) != (i%50)*10 || len(r.Headers) != 1 {
					t.Fatalf("record %d: offset %d key %q value of %d bytes", i, r.Offset, r.Key, len(r.Value))
				}
			}
			req := kmsg.NewPtrFetchRequest()
			req.Version, req.MaxBytes, req.SessionEpoch = 12, 1<<20, -1
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = 1<<20, -1, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			raw := rawRequest(t, b.Addr(), req).(*kmsg.FetchResponse).Topics[0].Partitions[0].RecordBatches
			for n := 0; len(raw) >= 61; n++ {
				var rb kmsg.RecordBatch
				size := int(binary.BigEndian.Uint32(raw[8:])) + 12
				if err := rb.ReadFrom(raw[:size]); err != nil {
					t.Fatal(err)
				}
				if int8(rb.Attributes&7) != c.codec || rb.PartitionLeaderEpoch != 0 {
					t.Fatalf("batch %d stored with codec %d leader epoch %d, want codec %d epoch 0", n, rb.Attributes&7, rb.PartitionLeaderEpoch, c.codec)
				}
				raw = raw[size:]
			}
		})
	}
}
