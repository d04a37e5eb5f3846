package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func TestParseBatchHeader(t *testing.T) {
	b := makeBatch(t, batchSpec{records: 4, baseTs: 1000, maxTs: 1003, pidSet: true, pid: 9, epoch: 2, seq: 17, attrs: attrTransactional | 3})
	h, err := ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := BatchHeader{
		BaseOffset: 0, Length: int32(len(b) - 12), PartitionLeaderEpoch: -1, Magic: 2, CRC: binary.BigEndian.Uint32(b[17:]),
		Attributes: attrTransactional | 3, LastOffsetDelta: 3, BaseTimestamp: 1000, MaxTimestamp: 1003,
		ProducerID: 9, ProducerEpoch: 2, BaseSequence: 17, NumRecords: 4,
	}
	if h != want {
		t.Fatalf("got %+v\nwant %+v", h, want)
	}
	if h.TotalSize() != len(b) || !h.IsTransactional() || h.IsControl() || h.Compression() != 3 || h.TimestampType() != 0 ||
		h.LastOffset() != 3 || h.LastSequence() != 20 {
		t.Fatal("helpers disagree with the header")
	}
	for _, tc := range []struct {
		name string
		mut  func([]byte) []byte
	}{
		{"short", func(b []byte) []byte { return b[:60] }},
		{"magic", func(b []byte) []byte { b[16] = 1; return b }},
		{"length", func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 48); return b }},
		{"negative delta", func(b []byte) []byte { binary.BigEndian.PutUint32(b[23:], math.MaxUint32); return b }},
	} {
		_, err := ParseBatchHeader(tc.mut(append([]byte(nil), b...)))
		if !errors.Is(err, ErrCorruptBatch) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestVerifyCRC(t *testing.T) {
	b := makeBatch(t, batchSpec{records: 2})
	if !VerifyCRC(b) || !VerifyCRC(append(b, 1, 2, 3)) {
		t.Fatal("good batch rejected")
	}
	setBaseOffset(b, 12345) // not covered by the CRC
	if !VerifyCRC(b) {
		t.Fatal("base offset must not affect the CRC")
	}
	for _, i := range []int{21, 40, len(b) - 1} {
		c := append([]byte(nil), b...)
		c[i] ^= 0x10
		if VerifyCRC(c) {
			t.Fatalf("flip at %d not detected", i)
		}
	}
	if VerifyCRC(b[:len(b)-1]) || VerifyCRC(nil) {
		t.Fatal("truncated batch accepted")
	}
	stampLogAppendTime(b, 99)
	if !VerifyCRC(b) || mustHeader(t, b).MaxTimestamp != 99 {
		t.Fatal("stampLogAppendTime broke the batch")
	}
}

func FuzzParseBatchHeader(f *testing.F) {
	f.Add(makeBatch(f, batchSpec{records: 3, pidSet: true, pid: 1, seq: 5}))
	f.Add(make([]byte, 61))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseBatchHeader(b)
		ok := VerifyCRC(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("error %v does not wrap ErrCorruptBatch", err)
			}
			return
		}
		if h.TotalSize() < BatchHeaderSize || h.Magic != 2 || h.LastOffsetDelta < 0 {
			t.Fatalf("accepted bad header %+v", h)
		}
		if ok && h.TotalSize() > len(b) {
			t.Fatal("CRC verified past the end of the input")
		}
		_ = h.LastSequence()
		_ = wholeBatches(b)
	})
}

// FuzzScanBatches feeds arbitrary bytes to the recovery scanner as if they
// were a segment file: it must not panic, and the prefix it accepts must be
// a valid log that it accepts again entirely.
func FuzzScanBatches(f *testing.F) {
	var seg []byte
	for i := 0; i < 3; i++ {
		b := makeBatch(f, batchSpec{records: 1 + i, valueSize: 5})
		setBaseOffset(b, int64(i*3))
		seg = append(seg, b...)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-7])
	f.Add(append(append([]byte(nil), seg...), 0, 0, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf []byte
		var ends []int64
		valid, reason, err := scanBatches(bytes.NewReader(data), 0, int64(len(data)), 0, &buf, func(h *BatchHeader, pos int64) error {
			ends = append(ends, pos+int64(h.TotalSize()))
			return nil
		})
		if err != nil {
			t.Fatalf("I/O error from a bytes.Reader: %v", err)
		}
		if valid < 0 || valid > int64(len(data)) {
			t.Fatalf("valid prefix %d outside [0, %d]", valid, len(data))
		}
		if (reason == nil) != (valid == int64(len(data))) {
			t.Fatalf("valid %d of %d with reason %v", valid, len(data), reason)
		}
		if len(ends) > 0 && ends[len(ends)-1] != valid {
			t.Fatalf("last batch ends at %d, valid prefix %d", ends[len(ends)-1], valid)
		}
		// The accepted prefix is a log in its own right.
		prefix := data[:valid]
		n := 0
		v2, r2, err := scanBatches(bytes.NewReader(prefix), 0, valid, 0, &buf, func(h *BatchHeader, pos int64) error {
			if !VerifyCRC(prefix[pos:]) {
				t.Fatalf("accepted a batch with a bad CRC at %d", pos)
			}
			n++
			return nil
		})
		if err != nil || r2 != nil || v2 != valid || n != len(ends) {
			t.Fatalf("rescan of the valid prefix: %d %v %v (%d batches, want %d)", v2, r2, err, n, len(ends))
		}
		if wholeBatches(prefix) != len(prefix) {
			t.Fatal("read-path batch splitting disagrees with the scanner")
		}
	})
}
