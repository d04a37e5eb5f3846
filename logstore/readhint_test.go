package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// readBytes is what a read handed out: its bytes, read from the file
// range when it is one.
func readBytes(t *testing.T, res *ReadResult) []byte {
	t.Helper()
	if res.File != nil {
		return fileBytes(t, res)
	}
	return append([]byte(nil), res.Batches...)
}

// TestReadHintsMatchIndex drives a partition through appends, rolls,
// truncations, DeleteRecords and (compacted) cleaner swaps while readers
// read on sequentially, jump, and fall behind, and compares every read
// that may use a read hint or a segment start (readhint.go) with the same
// read answered by the index alone: the same error, offsets and bytes.
// It also checks that a good share of the reads skip the index. (A stale
// hint here lands on record bytes that do not parse as a batch holding
// the offset; TestReadHintDroppedByTruncation builds bytes that do.)
func TestReadHintsMatchIndex(t *testing.T) {
	for _, compact := range []bool{false, true} {
		t.Run(fmt.Sprintf("compact=%v", compact), func(t *testing.T) {
			e := newEnv(t)
			e.open()
			cfg := PartitionConfig{SegmentBytes: 24 << 10, RetentionBytes: -1, RetentionMs: -1}
			if compact {
				cfg = compactCfg()
				cfg.SegmentBytes = 24 << 10
			}
			p := e.create("rh", 0, cfg)
			var fast int
			testHookFastLocate = func() { fast++ }
			t.Cleanup(func() { testHookFastLocate = nil })
			rng := rand.New(rand.NewPCG(7, 9))
			readers := make([]int64, 3)
			reads := 0
			read := func(i int) {
				off := max(readers[i], p.LogStartOffset())
				mb := []int32{1, 700, 5000, 40000, 1 << 20}[rng.IntN(5)]
				file := rng.IntN(4) > 0
				get := func() (ReadResult, error) {
					if file {
						return p.ReadFile(off, mb)
					}
					return p.Read(off, mb)
				}
				res, err := get()
				testNoReadHints = true
				want, werr := get()
				testNoReadHints = false
				defer res.Release()
				defer want.Release()
				if (err == nil) != (werr == nil) || (err != nil && !errors.Is(err, errors.Unwrap(werr))) {
					t.Fatalf("read at %d: error %v, through the index %v", off, err, werr)
				}
				got, exp := readBytes(t, &res), readBytes(t, &want)
				if !bytes.Equal(got, exp) || res.HighWatermark != want.HighWatermark || res.LogStartOffset != want.LogStartOffset {
					t.Fatalf("read at %d max %d (file %v): %d bytes hw %d start %d; through the index %d bytes hw %d start %d",
						off, mb, file, len(got), res.HighWatermark, res.LogStartOffset, len(exp), want.HighWatermark, want.LogStartOffset)
				}
				reads++
				if next := nextOffsetAfter(got); next > off {
					readers[i] = next
				}
			}
			seq := int32(0)
			for step := 0; step < 4000; step++ {
				switch r := rng.IntN(100); {
				case r < 45:
					var b []byte
					if compact {
						n := 1 + rng.IntN(4)
						recs := make([]kv, n)
						for j := range recs {
							recs[j] = kv{[]byte(fmt.Sprintf("k%d", rng.IntN(20))), bytes.Repeat([]byte("v"), rng.IntN(3000))}
						}
						b = keyedBatch(t, keyedSpec{recs: recs, ts: e.clock.ms.Load(), pid: -1})
					} else {
						b = makeBatch(t, batchSpec{records: 1 + rng.IntN(5), valueSize: rng.IntN(3000), baseTs: 1})
					}
					appendBatch(t, p, b)
					seq++
				case r < 90:
					read(rng.IntN(len(readers)))
				case r < 92:
					if leo := p.LogEndOffset(); leo > p.LogStartOffset() {
						if _, err := p.TruncateTo(p.LogStartOffset() + rng.Int64N(leo-p.LogStartOffset())); err != nil {
							t.Fatal(err)
						}
					}
				case r < 93:
					if hw := p.HighWatermark(); hw > p.LogStartOffset() {
						if _, err := p.DeleteRecordsBefore(p.LogStartOffset() + rng.Int64N(hw-p.LogStartOffset())); err != nil {
							t.Fatal(err)
						}
					}
				case r < 96:
					if compact {
						e.clock.ms.Add(1000)
						if _, err := e.s.CleanNow(); err != nil {
							t.Fatal(err)
						}
					}
				default:
					i := rng.IntN(len(readers))
					readers[i] = p.LogStartOffset() + rng.Int64N(p.LogEndOffset()-p.LogStartOffset()+1)
				}
			}
			// Each read above runs twice, once with hints off.
			if fast < reads/3 {
				t.Fatalf("%d of %d reads found their batch without the index; want at least a third", fast, reads)
			}
			t.Logf("%d reads, %d without the index", reads, fast)
		})
	}
}

// TestReadHintDroppedByTruncation: a read hint taken before a truncation
// must not be used after it, even when the position it names now holds
// bytes that parse as a batch holding the offset asked for. Here the
// re-appended batch carries, inside a record value, a fake batch header
// for offset 1 exactly where the old hint points. Without the
// truncations check the read at 1 hands out the fake batch.
func TestReadHintDroppedByTruncation(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("rt", 0, PartitionConfig{SegmentBytes: 1 << 20, RetentionBytes: -1, RetentionMs: -1})
	a := keyedBatch(t, keyedSpec{recs: []kv{{[]byte("k"), []byte("first")}}, pid: -1})
	appendBatch(t, p, a)
	appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("k"), []byte("second")}}, pid: -1}))
	res, err := p.ReadFile(0, int32(len(a))) // stops after a: hint (position len(a), offset 1)
	if err != nil || res.Len() != len(a) {
		t.Fatalf("read at 0: %d bytes, %v; want the first batch", res.Len(), err)
	}
	res.Release()
	if _, err := p.TruncateTo(0); err != nil {
		t.Fatal(err)
	}
	// A batch whose first record's value holds a fake header at len(a).
	marker := bytes.Repeat([]byte{0xEE}, 400)
	b := keyedBatch(t, keyedSpec{recs: []kv{{[]byte("k"), marker}, {[]byte("k"), []byte("x")}, {[]byte("k"), []byte("y")}}, pid: -1})
	at := bytes.Index(b, marker)
	if at < 0 || at > len(a) || len(a)+BatchHeaderSize > at+len(marker) {
		t.Fatalf("value at %d..%d does not cover position %d", at, at+len(marker), len(a))
	}
	fake := make([]byte, BatchHeaderSize)
	binary.BigEndian.PutUint64(fake[offBaseOffset:], 1)
	binary.BigEndian.PutUint32(fake[offLength:], uint32(minBatchLength))
	fake[offMagic] = 2
	value := append([]byte(nil), marker...)
	copy(value[len(a)-at:], fake)
	b = keyedBatch(t, keyedSpec{recs: []kv{{[]byte("k"), value}, {[]byte("k"), []byte("x")}, {[]byte("k"), []byte("y")}}, pid: -1})
	appendBatch(t, p, b)
	got, err := p.ReadFile(1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if gb := readBytes(t, &got); !bytes.Equal(gb, b) {
		t.Fatalf("read at 1 after the truncation: %d bytes starting with offset %d; want the re-appended batch (%d bytes)",
			len(gb), mustHeader(t, gb).BaseOffset, len(b))
	}
}
