package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// produceAll produces records synchronously and fails the test on error.
func produceAll(t *testing.T, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// consumeN reads n records from the start of topic with a fresh client.
func consumeN(t *testing.T, addr, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records before timeout", len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func TestProduceConsumeCodecs(t *testing.T) {
	eachMode(t, func(t *testing.T, b *testbroker.Broker) {
		for _, codec := range []struct {
			name string
			c    kgo.CompressionCodec
		}{{"none", kgo.NoCompression()}, {"gzip", kgo.GzipCompression()}, {"snappy", kgo.SnappyCompression()}, {"lz4", kgo.Lz4Compression()}, {"zstd", kgo.ZstdCompression()}} {
			t.Run(codec.name, func(t *testing.T) {
				topic := "codec-" + codec.name
				if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 3, 1, nil, topic); err != nil {
					t.Fatal(err)
				}
				cl := newClient(t, b.Addr(), kgo.ProducerBatchCompression(codec.c), kgo.DefaultProduceTopic(topic))
				var recs []*kgo.Record
				for i := 0; i < 300; i++ {
					recs = append(recs, &kgo.Record{
						Key:     []byte(fmt.Sprintf("k%d", i%7)),
						Value:   []byte(fmt.Sprintf("value-%d-%s", i, codec.name)),
						Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i))}},
					})
				}
				produceAll(t, cl, recs...)
				got := consumeN(t, b.Addr(), topic, len(recs))
				if len(got) != len(recs) {
					t.Fatalf("got %d records, want %d", len(got), len(recs))
				}
				// Per partition, offsets are dense from 0 and the order is
				// the produce order.
				next := map[int32]int64{}
				byValue := map[string]*kgo.Record{}
				for _, r := range got {
					if r.Offset != next[r.Partition] {
						t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
					}
					next[r.Partition]++
					byValue[string(r.Value)] = r
				}
				for i, want := range recs {
					r := byValue[string(want.Value)]
					if r == nil || string(r.Key) != string(want.Key) || len(r.Headers) != 1 || string(r.Headers[0].Value) != fmt.Sprint(i) {
						t.Fatalf("record %d lost or changed: %+v", i, r)
					}
				}
			})
		}
	})
}

func TestListOffsetsAndDeleteRecords(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	ctx := ctxT(t)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "lo"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("lo"), kgo.ProducerLinger(0))
	base := time.Now().Add(-time.Hour).UnixMilli()
	for i := 0; i < 10; i++ {
		// One batch per record, timestamps a second apart.
		produceAll(t, cl, &kgo.Record{Value: []byte{byte(i)}, Timestamp: time.UnixMilli(base + int64(i)*1000)})
	}
	start, err := adm.ListStartOffsets(ctx, "lo")
	if err != nil || start["lo"][0].Offset != 0 {
		t.Fatalf("start offsets: %+v %v", start, err)
	}
	end, err := adm.ListEndOffsets(ctx, "lo")
	if err != nil || end["lo"][0].Offset != 10 {
		t.Fatalf("end offsets: %+v %v", end, err)
	}
	after, err := adm.ListOffsetsAfterMilli(ctx, base+3500, "lo")
	if err != nil || after["lo"][0].Offset != 4 {
		t.Fatalf("offset after timestamp: %+v %v", after, err)
	}

	// MAX_TIMESTAMP (-3): the record holding the largest timestamp.
	lo := kmsg.NewPtrListOffsetsRequest()
	lot := kmsg.NewListOffsetsRequestTopic()
	lot.Topic = "lo"
	lop := kmsg.NewListOffsetsRequestTopicPartition()
	lop.Timestamp = -3
	lot.Partitions = append(lot.Partitions, lop)
	lo.Topics = append(lo.Topics, lot)
	lresp, err := lo.RequestWith(ctx, newClient(t, b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	if p := lresp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.Offset != 9 || p.Timestamp != base+9000 {
		t.Fatalf("max timestamp: %+v", p)
	}

	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: "lo", Partition: 0, At: 6})
	dr, err := adm.DeleteRecords(ctx, os)
	if err != nil || dr.Error() != nil {
		t.Fatalf("delete records: %+v %v", dr, err)
	}
	start, _ = adm.ListStartOffsets(ctx, "lo")
	if start["lo"][0].Offset != 6 {
		t.Fatalf("log start after DeleteRecords = %d, want 6", start["lo"][0].Offset)
	}
	// Fetching below the log start offset is OFFSET_OUT_OF_RANGE.
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "lo"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = 2, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := rawRequest(t, b.Addr(), req).(*kmsg.FetchResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch below log start: error %d, want OFFSET_OUT_OF_RANGE", code)
	}
	recs := consumeN(t, b.Addr(), "lo", 4)
	if recs[0].Offset != 6 {
		t.Fatalf("first record after delete at offset %d", recs[0].Offset)
	}
}

// rawBatch builds a one-record v2 batch by hand, with a correct CRC.
func rawBatch(value string, pid int64, epoch int16, seq int32) []byte {
	rec := kmsg.Record{Value: []byte(value)}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1) // body size after the 1-byte varint 0
	recBytes := rec.AppendTo(nil)
	batch := kmsg.RecordBatch{
		Magic: 2, LastOffsetDelta: 0, FirstTimestamp: time.Now().UnixMilli(), MaxTimestamp: time.Now().UnixMilli(),
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: 1, Records: recBytes,
	}
	raw := batch.AppendTo(nil)
	// AppendTo writes Length and CRC as given: fill in both.
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	crc := crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))
	raw[17], raw[18], raw[19], raw[20] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return raw
}

func produceRaw(t *testing.T, addr string, version int16, acks int16, topic string, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, acks, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return rawRequest(t, addr, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
}

// rawRequest sends req at exactly the version it carries (kgo would pick
// the highest version both sides support) and decodes the answer.
func rawRequest(t *testing.T, addr string, req kmsg.Request) kmsg.Response {
	t.Helper()
	c := dial(t, addr)
	if _, err := c.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw")).AppendRequest(nil, req, 1)); err != nil {
		t.Fatal(err)
	}
	_, body := readResponse(t, c)
	resp := req.ResponseKind()
	if resp.IsFlexible() && req.Key() != 18 {
		body = body[1:] // empty tag section of response header v1
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decode %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

func TestProduceValidation(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "message.max.bytes=2000")
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctxT(t), 1, 1, nil, "v"); err != nil {
		t.Fatal(err)
	}
	good := rawBatch("ok", -1, -1, -1)
	if p := produceRaw(t, b.Addr(), 9, 1, "v", good); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("good batch: %+v", p)
	}
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xff
	big := rawBatch(string(make([]byte, 3000)), -1, -1, -1)
	twoBatches := append(append([]byte(nil), good...), good...)
	cases := []struct {
		name    string
		version int16
		acks    int16
		topic   string
		records []byte
		want    *kerr.Error
	}{
		{"bad crc", 9, 1, "v", corrupt, kerr.CorruptMessage},
		{"too large", 9, 1, "v", big, kerr.MessageTooLarge},
		{"two batches", 9, 1, "v", twoBatches, kerr.InvalidRecord},
		// A record set holding no whole batch: INVALID_RECORD, as Kafka
		// 4.3.1 answers (measured by the conformance suite).
		{"truncated", 9, 1, "v", good[:40], kerr.InvalidRecord},
		{"empty", 9, 1, "v", []byte{}, kerr.InvalidRecord},
		{"unknown topic", 9, 1, "nope", good, kerr.UnknownTopicOrPartition},
		{"bad acks", 9, 2, "v", good, kerr.InvalidRequiredAcks},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := produceRaw(t, b.Addr(), c.version, c.acks, c.topic, c.records)
			if p.ErrorCode != c.want.Code {
				t.Fatalf("error %d (%v), want %s", p.ErrorCode, kerr.ErrorForCode(p.ErrorCode), c.want.Message)
			}
		})
	}
	// Produce v0-v2: Kafka 4.3.1 advertises them but closes the
	// connection without an answer (conformance suite); so does Samsa.
	for _, v := range []int16{0, 2} {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = v, 1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "v"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = good
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		c := dial(t, b.Addr())
		if _, err := c.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw")).AppendRequest(nil, req, 1)); err != nil {
			t.Fatal(err)
		}
		expectClosed(t, c)
	}
	end, _ := adm.ListEndOffsets(ctxT(t), "v")
	if end["v"][0].Offset != 1 {
		t.Fatalf("rejected batches were appended: end offset %d", end["v"][0].Offset)
	}
}

func TestIdempotentProducerDedup(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctxT(t), 1, 1, nil, "idem"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr())
	ipid := kmsg.NewPtrInitProducerIDRequest()
	ipr, err := ipid.RequestWith(ctxT(t), cl)
	if err != nil || ipr.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %+v %v", ipr, err)
	}
	pid, epoch := ipr.ProducerID, ipr.ProducerEpoch
	first := produceRaw(t, b.Addr(), 9, -1, "idem", rawBatch("a", pid, epoch, 0))
	retry := produceRaw(t, b.Addr(), 9, -1, "idem", rawBatch("a", pid, epoch, 0))
	if first.ErrorCode != 0 || retry.ErrorCode != 0 || retry.BaseOffset != first.BaseOffset {
		t.Fatalf("retry not deduplicated: first %+v retry %+v", first, retry)
	}
	gap := produceRaw(t, b.Addr(), 9, -1, "idem", rawBatch("c", pid, epoch, 5))
	if gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap: error %d", gap.ErrorCode)
	}
	next := produceRaw(t, b.Addr(), 9, -1, "idem", rawBatch("b", pid, epoch, 1))
	if next.ErrorCode != 0 || next.BaseOffset != first.BaseOffset+1 {
		t.Fatalf("next in sequence: %+v", next)
	}
	ipr2, _ := ipid.RequestWith(ctxT(t), cl)
	if ipr2.ProducerID == pid {
		t.Fatalf("producer id %d handed out twice", pid)
	}
	end, _ := adm.ListEndOffsets(ctxT(t), "idem")
	if end["idem"][0].Offset != 2 {
		t.Fatalf("end offset %d, want 2 (no duplicate appended)", end["idem"][0].Offset)
	}
}

func kgoAdmin(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }

// TestFetchResponseMaxBytes: once the response's max_bytes is used up,
// later partitions carry no records but still their watermarks (KIP-74
// lets only the first batch exceed the limit).
func TestFetchResponseMaxBytes(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 2, 1, nil, "full"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("full"), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	produceAll(t, cl, &kgo.Record{Partition: 0, Value: benchValue()}, &kgo.Record{Partition: 1, Value: benchValue()})
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes = 12, 100 // smaller than one batch
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "full"
	for p := int32(0); p < 2; p++ {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes = p, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	ps := rawRequest(t, b.Addr(), req).(*kmsg.FetchResponse).Topics[0].Partitions
	if ps[0].ErrorCode != 0 || len(ps[0].RecordBatches) < 1024 {
		t.Fatalf("first partition: error %d, %d record bytes (want its oversized batch)", ps[0].ErrorCode, len(ps[0].RecordBatches))
	}
	if ps[1].ErrorCode != 0 || len(ps[1].RecordBatches) != 0 || ps[1].HighWatermark != 1 {
		t.Fatalf("second partition: error %d, %d record bytes, high watermark %d", ps[1].ErrorCode, len(ps[1].RecordBatches), ps[1].HighWatermark)
	}
}

// TestProduceManyPartitionsOneRequest sends Produce requests naming
// several partitions whose batches together pass the size from which
// Samsa appends a request's partitions in parallel: every partition's
// answer must be its own (offsets, and the error of the one damaged
// batch), and every acknowledged record must read back in its partition
// in order.
func TestProduceManyPartitionsOneRequest(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctxT(t), 6, 1, nil, "mp"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctxT(t), 2, 1, nil, "mq"); err != nil {
		t.Fatal(err)
	}
	const rounds = 12
	value := func(topic string, p int32, round int) string {
		return fmt.Sprintf("%s-%d-%d-%s", topic, p, round, strings.Repeat("x", 100<<10))
	}
	for round := 0; round < rounds; round++ {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, 1, 5000
		for _, topic := range []string{"mp", "mq"} {
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = topic
			n := int32(6)
			if topic == "mq" {
				n = 2
			}
			for p := int32(0); p < n; p++ {
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Partition = p
				rp.Records = rawBatch(value(topic, p, round), -1, -1, -1)
				if topic == "mp" && p == 4 {
					rp.Records[len(rp.Records)-1] ^= 0xff // bad CRC
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		resp := rawRequest(t, b.Addr(), req).(*kmsg.ProduceResponse)
		for _, rt := range resp.Topics {
			for _, sp := range rt.Partitions {
				if rt.Topic == "mp" && sp.Partition == 4 {
					if sp.ErrorCode != kerr.CorruptMessage.Code || sp.BaseOffset != -1 {
						t.Fatalf("round %d: damaged batch of mp-4 answered %+v", round, sp)
					}
					continue
				}
				if sp.ErrorCode != 0 || sp.BaseOffset != int64(round) {
					t.Fatalf("round %d: %s-%d answered error %d base offset %d, want offset %d", round, rt.Topic, sp.Partition, sp.ErrorCode, sp.BaseOffset, round)
				}
			}
		}
	}
	cl := newClient(t, b.Addr(), kgo.ConsumeTopics("mp", "mq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string][]string{}
	for n := 0; n < rounds*7; {
		fs := cl.PollFetches(ctxT(t))
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			k := fmt.Sprintf("%s-%d", r.Topic, r.Partition)
			got[k] = append(got[k], string(r.Value))
			n++
		})
	}
	for _, topic := range []string{"mp", "mq"} {
		for p := int32(0); p < 6; p++ {
			k := fmt.Sprintf("%s-%d", topic, p)
			if topic == "mq" && p >= 2 || topic == "mp" && p == 4 {
				if len(got[k]) != 0 {
					t.Fatalf("%s holds %d records, want none", k, len(got[k]))
				}
				continue
			}
			if len(got[k]) != rounds {
				t.Fatalf("%s holds %d records, want %d", k, len(got[k]), rounds)
			}
			for round, v := range got[k] {
				if v != value(topic, p, round) {
					t.Fatalf("%s offset %d holds %.20q..., want round %d", k, round, v, round)
				}
			}
		}
	}
}
