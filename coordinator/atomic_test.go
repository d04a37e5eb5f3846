package coordinator

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/logstore"
)

// TestWriteIsOneBatch: a write too large for one batch is refused whole
// with MESSAGE_TOO_LARGE (CoordinatorRuntime's RecordTooLargeException)
// and nothing reaches the log; a write that fits is one batch (review
// finding 6: a write split over several batches could be half appended).
func TestWriteIsOneBatch(t *testing.T) {
	_, lp := openPartition(t)
	rt := New(Options{Topic: "__internal", MaxBatchBytes: 4096,
		Logs:            func(int32, bool) (*logstore.Partition, error) { return lp, nil },
		NewStateMachine: func(int32) StateMachine { return &recorder{} }})
	defer rt.Close()
	big := make([]Record, 10)
	for i := range big {
		big[i] = Record{Key: []byte{byte(i)}, Value: bytes.Repeat([]byte("v"), 500)}
	}
	applied := false
	err := rt.Write(0, big, WriteOptions{}, func(int64) { applied = true })
	if !errors.Is(err, ErrRecordTooLarge) || !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("write of ~5 KB with MaxBatchBytes 4096: err %v, want ErrRecordTooLarge", err)
	}
	if applied || lp.LogEndOffset() != 0 {
		t.Fatalf("refused write: applied %v, log end offset %d, want nothing", applied, lp.LogEndOffset())
	}
	if err := rt.Write(0, big[:7], WriteOptions{}, func(int64) { applied = true }); err != nil || !applied {
		t.Fatalf("write of ~3.6 KB: %v (applied %v)", err, applied)
	}
	res, err := lp.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	h, err := logstore.ParseBatchHeader(res.Batches)
	if err != nil || h.NumRecords != 7 || h.TotalSize() != len(res.Batches) {
		t.Fatalf("log holds %d bytes, first batch %+v (%v): want one batch of 7 records", len(res.Batches), h, err)
	}
	if got := EstimatedSize(big[:7]) + logstore.BatchHeaderSize; got < h.TotalSize() {
		t.Fatalf("EstimatedSize %d below the real batch %d", got, h.TotalSize())
	}
}

// TestReplayKeepsOffsetDeltasOfCompressedBatch: a compressed batch the
// cleaner has filtered keeps gaps in its offset deltas; replay must hand
// out the records' real offsets (review finding 5: decompressing through
// Recompress renumbered them 0..n-1).
func TestReplayKeepsOffsetDeltasOfCompressedBatch(t *testing.T) {
	deltas := []int32{0, 3, 7}
	var recs []byte
	for i, d := range deltas {
		r := kmsg.Record{OffsetDelta: d, Key: []byte{'k', byte('0' + i)}, Value: []byte("v")}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	comp := enc.EncodeAll(recs, nil)
	b := kmsg.RecordBatch{FirstOffset: 100, PartitionLeaderEpoch: -1, Magic: 2, Attributes: 4, LastOffsetDelta: 7,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 3, Records: comp}
	b.Length = int32(logstore.BatchHeaderSize - 12 + len(comp))
	batch := b.AppendTo(nil)
	binary.BigEndian.PutUint32(batch[17:], crc32.Checksum(batch[21:], castagnoli))
	var offs []int64
	var keys []string
	next, n, err := replayBatches(batch, 103, func(off int64, r Record) error {
		offs = append(offs, off)
		keys = append(keys, string(r.Key))
		return nil
	}, nil)
	if err != nil || n != 2 || next != 108 {
		t.Fatalf("replay: next %d, n %d, err %v", next, n, err)
	}
	if offs[0] != 103 || offs[1] != 107 || keys[0] != "k1" || keys[1] != "k2" {
		t.Fatalf("replayed offsets %v keys %v, want [103 107] [k1 k2]", offs, keys)
	}
}
