package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// bombRecords are records given by key and value size (value: zeros).
type bombRecord struct {
	key  string
	size int
}

// bombBatch builds a zstd batch whose records hold values of zeros,
// streaming them through the encoder so the test never holds a value
// (a 256 MiB zero value compresses to about 8 KB).
func bombBatch(t testing.TB, recs []bombRecord) ([]byte, BatchHeader) {
	t.Helper()
	var comp bytes.Buffer
	enc, err := zstd.NewWriter(&comp, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for i, r := range recs {
		var body []byte
		body = append(body, 0)                     // attributes
		body = binary.AppendVarint(body, 0)        // timestamp delta
		body = binary.AppendVarint(body, int64(i)) // offset delta
		body = binary.AppendVarint(body, int64(len(r.key)))
		body = append(body, r.key...)
		body = binary.AppendVarint(body, int64(r.size))
		length := len(body) + r.size + 1 // + header count
		if _, err := enc.Write(binary.AppendVarint(nil, int64(length))); err != nil {
			t.Fatal(err)
		}
		_, _ = enc.Write(body)
		for n := r.size; n > 0; n -= min(n, len(zeros)) {
			_, _ = enc.Write(zeros[:min(n, len(zeros))])
		}
		_, _ = enc.Write([]byte{0}) // no headers
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	b := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, Attributes: 4, LastOffsetDelta: int32(len(recs) - 1),
		FirstTimestamp: 1000, MaxTimestamp: 1000, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(len(recs)), Records: comp.Bytes()}
	b.Length = int32(BatchHeaderSize - 12 + comp.Len())
	batch := b.AppendTo(nil)
	binary.BigEndian.PutUint32(batch[offCRC:], crc32.Checksum(batch[offAttributes:], castagnoli))
	h, err := ParseBatchHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	return batch, h
}

// allocated runs f and returns the bytes it allocated on the heap.
func allocated(f func()) uint64 {
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// bombSize is the value of the bomb batches; heapSlack what a walk of one
// may allocate: the zstd decoder's history (the frame's 8 MiB window)
// and the codecs' buffers, a fixed cost whatever the batch holds.
const (
	bombSize  = 64 << 20
	heapSlack = 20 << 20
)

// TestRecompressBombBounded: review finding 2. A small zstd batch holding
// a 64 MiB value made Recompress build the whole rebuilt batch (and stage
// the whole record) before max.message.bytes was checked. Now it stops
// with ErrMessageTooLarge at the record's length, for every target.
func TestRecompressBombBounded(t *testing.T) {
	batch, h := bombBatch(t, []bombRecord{{"k", bombSize}})
	t.Logf("batch of %d bytes holding a %d MiB value", len(batch), bombSize>>20)
	for _, target := range []int{0, 1, 2, 3} {
		var err error
		n := allocated(func() { _, err = Recompress(batch, h, target, DefaultCompressionLevels, 1048588) })
		if !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("target %d: err %v, want ErrMessageTooLarge", target, err)
		}
		if n > heapSlack {
			t.Fatalf("target %d: Recompress allocated %d MiB", target, n>>20)
		}
	}
	// Many records each below the limit: the output passes it and the
	// rebuild stops there, not at the end.
	recs := make([]bombRecord, 64)
	for i := range recs {
		recs[i] = bombRecord{string(rune('a' + i%26)), 1 << 20}
	}
	batch, h = bombBatch(t, recs)
	var err error
	n := allocated(func() { _, err = Recompress(batch, h, 0, DefaultCompressionLevels, 1048588) })
	if !errors.Is(err, ErrMessageTooLarge) || n > heapSlack {
		t.Fatalf("64 x 1 MiB to uncompressed: err %v, %d MiB allocated", err, n>>20)
	}
}

// TestValidateRecordsRefusesBomb: a batch decompressing beyond
// MaxDecompressedBatchBytes is refused at the record that passes it,
// before streaming it.
func TestValidateRecordsRefusesBomb(t *testing.T) {
	batch, h := bombBatch(t, []bombRecord{{"k", 60 << 20}})
	cfg := ValidateConfig{LogAppendTime: true, MaxDecompressedBytes: MaxDecompressedBatchBytes(1 << 20)}
	var err error
	n := allocated(func() { _, err = ValidateRecords(batch, h, cfg) })
	if errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("60 MiB within the 64 MiB bound refused: %v", err)
	}
	batch, h = bombBatch(t, []bombRecord{{"a", 40 << 20}, {"b", 40 << 20}})
	n = allocated(func() { _, err = ValidateRecords(batch, h, cfg) })
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("80 MiB batch: err %v, want ErrMessageTooLarge", err)
	}
	if n > heapSlack {
		t.Fatalf("ValidateRecords allocated %d MiB", n>>20)
	}
}

// TestCleanerAndScanStreamBomb: a stored batch (written before the
// produce bound existed) holding a 64 MiB value is mapped, filtered and
// scanned without holding it: the cleaner decompressed whole batches
// into its scratch buffer (review finding 2, scenario B).
func TestCleanerAndScanStreamBomb(t *testing.T) {
	batch, h := bombBatch(t, []bombRecord{{"old", 10}, {"k", bombSize}, {"dup", 5}})
	h.BaseOffset = 10
	binary.BigEndian.PutUint64(batch, 10)
	m := newOffsetMap(1<<16, 0.9)
	var scratch, out outBuf
	var spans [][2]int
	n := allocated(func() {
		if err := m.mapBatch(batch, &h, &scratch); err != nil {
			t.Fatal(err)
		}
	})
	if m.get([]byte("k")) != 11 || m.get([]byte("dup")) != 12 || n > heapSlack {
		t.Fatalf("map: k at %d, dup at %d, %d MiB allocated", m.get([]byte("k")), m.get([]byte("dup")), n>>20)
	}
	m.put([]byte("old"), 50) // a later record supersedes "old"
	var res filterResult
	var err error
	n = allocated(func() {
		res, err = filterBatch(batch, &h, m, filterParams{endOffset: 100}, &scratch, &out, &spans)
	})
	if err != nil || !res.written || res.copied || res.header.NumRecords != 2 {
		t.Fatalf("filter: %+v, %v", res, err)
	}
	// filterBatch streams the batch twice; each pass may take a fresh
	// decoder (an 8 MiB zstd window) when the pool was emptied by a GC.
	if n > 2*heapSlack || len(out.b) > 1<<20 {
		t.Fatalf("filter allocated %d MiB, wrote %d bytes", n>>20, len(out.b))
	}
	var offs []int32
	err = ScanRecords(out.b, res.header, 0, func(r StoredRecord) error {
		offs = append(offs, r.OffsetDelta)
		return nil
	})
	if err != nil || len(offs) != 2 || offs[0] != 1 || offs[1] != 2 {
		t.Fatalf("rebuilt batch: offset deltas %v, %v", offs, err)
	}
	// ScanRecords copying records refuses the big one before copying it.
	n = allocated(func() { err = ScanRecords(batch, h, 1<<20, func(StoredRecord) error { return nil }) })
	if !errors.Is(err, ErrMessageTooLarge) || n > heapSlack {
		t.Fatalf("ScanRecords with 1 MiB records: %v, %d MiB allocated", err, n>>20)
	}
}

// FuzzScanRecords: arbitrary bytes as the records of a stored batch, in
// each codec id, never panic ScanRecords, in either mode.
func FuzzScanRecords(f *testing.F) {
	f.Add(keyedBatch(f, keyedSpec{recs: []kv{{[]byte("a"), []byte("1")}, {[]byte("b"), nil}}, pid: -1})[BatchHeaderSize:], int32(2), uint8(0))
	f.Add(keyedBatch(f, keyedSpec{recs: []kv{{[]byte("a"), []byte("1")}}, pid: -1, codec: 1})[BatchHeaderSize:], int32(1), uint8(1))
	f.Fuzz(func(t *testing.T, recs []byte, n int32, codec uint8) {
		if n < 0 || n > 1000 {
			return
		}
		h := BatchHeader{Length: int32(minBatchLength + len(recs)), Magic: 2, Attributes: int16(codec & 7), LastOffsetDelta: max(n-1, 0), NumRecords: n}
		batch := append(make([]byte, BatchHeaderSize), recs...)
		for _, maxRec := range []int{0, 64} {
			_ = ScanRecords(batch, h, maxRec, func(r StoredRecord) error {
				if maxRec > 0 && len(r.Raw) == 0 {
					t.Fatal("copied record without bytes")
				}
				return nil
			})
		}
	})
}
