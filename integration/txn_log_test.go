package integration

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
	"samsa/logstore"
)

// txnRecordBatch builds a v2 batch of one record per value, as a producer
// would send it (transactional when pid >= 0).
func txnRecordBatch(t *testing.T, pid int64, seq int32, values ...string) []byte {
	t.Helper()
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i), Key: []byte("k"), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	now := time.Now().UnixMilli()
	rb := kmsg.RecordBatch{
		Magic: 2, LastOffsetDelta: int32(len(values) - 1), FirstTimestamp: now, MaxTimestamp: now + int64(len(values)-1),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(values)), Records: recs,
	}
	if pid >= 0 {
		rb.Attributes = 0x10 // transactional
		rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = pid, 0, seq
	}
	rb.Length = int32(49 + len(recs))
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func appendTo(t *testing.T, p *logstore.Partition, b []byte) {
	t.Helper()
	h, err := logstore.ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(b, h); err != nil {
		t.Fatalf("append: %v", err)
	}
}

// consumeValues reads topic from the start until want records came or
// the time is up, then keeps polling for extra for a moment.
func consumeValues(t *testing.T, addr, topic string, want int, opts ...kgo.Opt) []string {
	t.Helper()
	cl := newClient(t, addr, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	var got []string
	deadline := time.Now().Add(15 * time.Second)
	extra := time.Time{}
	for time.Now().Before(deadline) && (extra.IsZero() || time.Now().Before(extra)) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		for _, e := range fs.Errors() {
			if e.Err != context.DeadlineExceeded {
				t.Fatalf("fetch error: %v", e.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		if len(got) >= want && extra.IsZero() {
			extra = time.Now().Add(700 * time.Millisecond)
		}
	}
	return got
}

// TestTxnReadCommitted writes committed, aborted and open transactions
// with the log API (no coordinator exists yet) and reads them with
// franz-go consumers: read_committed sees the committed records only, up
// to the last stable offset; read_uncommitted sees everything.
func TestTxnReadCommitted(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	ctx := ctxT(t)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "txn"); err != nil {
		t.Fatal(err)
	}
	p := b.Partition("txn", 0)

	appendTo(t, p, txnRecordBatch(t, -1, 0, "p0"))                   // 0
	appendTo(t, p, txnRecordBatch(t, 100, 0, "c1"))                  // 1
	appendTo(t, p, txnRecordBatch(t, 200, 0, "a1", "a2"))            // 2-3
	appendTo(t, p, txnRecordBatch(t, 100, 1, "c2"))                  // 4
	if _, err := p.AppendMarker(100, 0, true, 0, 0, 0); err != nil { // 5
		t.Fatal(err)
	}
	appendTo(t, p, txnRecordBatch(t, 200, 2, "a3"))                   // 6
	if _, err := p.AppendMarker(200, 0, false, 0, 0, 0); err != nil { // 7
		t.Fatal(err)
	}
	appendTo(t, p, txnRecordBatch(t, 300, 0, "o1")) // 8: stays open
	appendTo(t, p, txnRecordBatch(t, -1, 0, "p1"))  // 9
	if p.LastStableOffset() != 8 || p.HighWatermark() != 10 {
		t.Fatalf("LSO %d HW %d", p.LastStableOffset(), p.HighWatermark())
	}

	committed := consumeValues(t, b.Addr(), "txn", 3, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if want := []string{"p0", "c1", "c2"}; !reflect.DeepEqual(committed, want) {
		t.Fatalf("read_committed consumer got %q, want %q", committed, want)
	}
	all := consumeValues(t, b.Addr(), "txn", 8, kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	if want := []string{"p0", "c1", "a1", "a2", "c2", "a3", "o1", "p1"}; !reflect.DeepEqual(all, want) {
		t.Fatalf("read_uncommitted consumer got %q, want %q", all, want)
	}

	// The raw answers: Fetch's last_stable_offset and aborted
	// transactions, ListOffsets latest per isolation level.
	cl := newClient(t, b.Addr())
	tds, err := adm.ListTopics(ctx, "txn")
	if err != nil {
		t.Fatal(err)
	}
	for _, iso := range []int8{0, 1} {
		fr := kmsg.NewPtrFetchRequest()
		fr.Version, fr.MaxBytes, fr.IsolationLevel, fr.ReplicaID = 11, 1<<20, iso, -1
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic, ft.TopicID = "txn", tds["txn"].ID // kgo sends its newest version
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		fr.Topics = append(fr.Topics, ft)
		resp, err := fr.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != 0 || sp.HighWatermark != 10 || sp.LastStableOffset != 8 {
			t.Fatalf("isolation %d: error %d HW %d LSO %d", iso, sp.ErrorCode, sp.HighWatermark, sp.LastStableOffset)
		}
		if iso == 0 && sp.AbortedTransactions != nil {
			t.Fatalf("read_uncommitted got aborted transactions %+v", sp.AbortedTransactions)
		}
		if iso == 1 {
			if len(sp.AbortedTransactions) != 1 || sp.AbortedTransactions[0].ProducerID != 200 || sp.AbortedTransactions[0].FirstOffset != 2 {
				t.Fatalf("aborted transactions %+v", sp.AbortedTransactions)
			}
			var last int64
			for bs := sp.RecordBatches; len(bs) > 0; {
				h, err := logstore.ParseBatchHeader(bs)
				if err != nil {
					t.Fatal(err)
				}
				last = h.LastOffset()
				bs = bs[h.TotalSize():]
			}
			if last != 7 {
				t.Fatalf("read_committed fetch ended at offset %d, want 7 (below the LSO)", last)
			}
		}

		lr := kmsg.NewPtrListOffsetsRequest()
		lr.Version, lr.IsolationLevel, lr.ReplicaID = 5, iso, -1
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = "txn"
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Timestamp = -1
		lt.Partitions = append(lt.Partitions, lp)
		lr.Topics = append(lr.Topics, lt)
		lresp, err := lr.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		want := []int64{10, 8}[iso]
		if got := lresp.Topics[0].Partitions[0].Offset; got != want {
			t.Fatalf("ListOffsets latest isolation %d: %d, want %d", iso, got, want)
		}
	}

	// Committing the open transaction releases it and what follows.
	if _, err := p.AppendMarker(300, 0, true, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	committed = consumeValues(t, b.Addr(), "txn", 5, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if want := []string{"p0", "c1", "c2", "o1", "p1"}; !reflect.DeepEqual(committed, want) {
		t.Fatalf("read_committed consumer after the commit got %q, want %q", committed, want)
	}

	// The state survives a restart of the broker.
	b.Stop()
	b = testbroker.StartIn(t, testbroker.InProcess, b.DataDir())
	committed = consumeValues(t, b.Addr(), "txn", 5, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if want := []string{"p0", "c1", "c2", "o1", "p1"}; !reflect.DeepEqual(committed, want) {
		t.Fatalf("read_committed consumer after restart got %q, want %q", committed, want)
	}
}

// TestTxnStateTopicConfigs: __transaction_state is created with the
// configs Kafka's TransactionStateManager.transactionTopicConfigs gives
// it, as topic overrides (what a Kafka broker taking over reads from
// /config/topics): compacted, uncompressed, and never elected uncleanly,
// even on a broker whose default allows it.
func TestTxnStateTopicConfigs(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "unclean.leader.election.enable=true")
	cl := newClient(t, b.Addr(), kgo.TransactionalID("cfg-txn"))
	if _, _, err := cl.ProducerID(ctxT(t)); err != nil {
		t.Fatalf("InitProducerId: %v", err)
	}
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctxT(t), "__transaction_state")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("__transaction_state", nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe configs: %v %v", err, rc.Err)
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			got[c.Key] = c.MaybeValue()
		}
	}
	for k, v := range map[string]string{"cleanup.policy": "compact", "compression.type": "uncompressed", "unclean.leader.election.enable": "false"} {
		if got[k] != v {
			t.Errorf("__transaction_state %s = %q (topic overrides %v), want %q", k, got[k], got, v)
		}
	}
}
