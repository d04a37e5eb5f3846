package logstore

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// fileBytes reads a zero-copy result's range.
func fileBytes(t *testing.T, res *ReadResult) []byte {
	t.Helper()
	b := make([]byte, res.FileLen)
	if k, err := res.File.ReadAt(b, res.FilePos); k < len(b) {
		t.Fatalf("range %d+%d: read %d: %v", res.FilePos, res.FileLen, k, err)
	}
	return b
}

// checkSameRead compares a byte read with its zero-copy twin: the same
// offsets, the range's bytes equal to Read's (whole batches), and the
// range no longer than maxBytes unless the first batch alone is.
func checkSameRead(t *testing.T, what string, off int64, maxBytes int32, res ReadResult, err error, fres ReadResult, ferr error) {
	t.Helper()
	defer res.Release()
	defer fres.Release()
	if (err == nil) != (ferr == nil) || (err != nil && !errors.Is(ferr, errors.Unwrap(err)) && err.Error() != ferr.Error()) {
		t.Fatalf("%s at %d max %d: Read error %v, file read error %v", what, off, maxBytes, err, ferr)
	}
	if res.HighWatermark != fres.HighWatermark || res.LastStableOffset != fres.LastStableOffset || res.LogStartOffset != fres.LogStartOffset {
		t.Fatalf("%s at %d: offsets %d/%d/%d vs file read %d/%d/%d", what, off, res.HighWatermark, res.LastStableOffset, res.LogStartOffset,
			fres.HighWatermark, fres.LastStableOffset, fres.LogStartOffset)
	}
	if fres.File == nil {
		// No range: nothing to read, or read_committed bytes.
		if fres.Len() != len(fres.Batches) || !bytes.Equal(res.Batches, fres.Batches) {
			t.Fatalf("%s at %d max %d: Read %d bytes, file read %d other bytes", what, off, maxBytes, len(res.Batches), len(fres.Batches))
		}
		return
	}
	got := fileBytes(t, &fres)
	if fres.FileLen > int64(maxBytes) {
		if h := mustHeader(t, got); int64(h.TotalSize()) != fres.FileLen {
			t.Fatalf("%s at %d max %d: range of %d bytes over maxBytes is not the first batch (%d)", what, off, maxBytes, fres.FileLen, h.TotalSize())
		}
	}
	if !bytes.Equal(got, res.Batches) {
		t.Fatalf("%s at %d max %d: the range (%d bytes) differs from Read's bytes (%d)", what, off, maxBytes, len(got), len(res.Batches))
	}
}

// TestReadFileMatchesRead: ReadFile, ReadReplicaFile and
// ReadCommittedFile answer with the same offsets and the same bytes as
// Read, ReadReplica and ReadCommitted, across segments,
// maxBytes cuts, an open transaction (LSO), aborted transactions and a
// replicated high watermark below the log end.
func TestReadFileMatchesRead(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("rf", 0, PartitionConfig{SegmentBytes: 20 << 10})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 60; i++ {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 1 + rng.IntN(5), valueSize: rng.IntN(2000), baseTs: 1}))
	}
	// An aborted transaction, then one left open (the LSO stops there).
	appendBatch(t, p, txnBatch(t, 7, 0, 0, 3))
	mustMarker(t, p, 7, 0, false, 0)
	for i := 0; i < 5; i++ {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2, valueSize: 300, baseTs: 1}))
	}
	appendBatch(t, p, txnBatch(t, 8, 0, 0, 2))
	for i := 0; i < 5; i++ {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2, valueSize: 300, baseTs: 1}))
	}
	leo := p.LogEndOffset()
	check := func(hwNote string) {
		for off := int64(0); off <= leo; off += 1 + int64(rng.IntN(3)) {
			for _, mb := range []int32{1, 500, 3000, 9000, 1 << 20} {
				res, err := p.Read(off, mb)
				fres, ferr := p.ReadFile(off, mb)
				checkSameRead(t, "Read"+hwNote, off, mb, res, err, fres, ferr)
				res, err = p.ReadReplica(off, mb)
				fres, ferr = p.ReadReplicaFile(off, mb)
				checkSameRead(t, "ReadReplica"+hwNote, off, mb, res, err, fres, ferr)
				res, ab, err := p.ReadCommitted(off, mb)
				fres, fab, ferr := p.ReadCommittedFile(off, mb)
				if len(ab) != len(fab) {
					t.Fatalf("ReadCommitted at %d: %d aborted transactions, file read %d", off, len(ab), len(fab))
				}
				checkSameRead(t, "ReadCommitted"+hwNote, off, mb, res, err, fres, ferr)
			}
		}
	}
	check("")
	p.SetReplicated(true, leo-20)
	check(" (replicated, hw below the end)")
}

// TestReadFileKeepsSegmentOpen: a range handed out stays readable after
// retention deletes its segment, until it is released.
func TestReadFileKeepsSegmentOpen(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("rk", 0, PartitionConfig{SegmentBytes: 4 << 10})
	for i := 0; i < 20; i++ {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 1, valueSize: 1000, baseTs: 1}))
	}
	res, err := p.ReadFile(0, 1<<20)
	if err != nil || res.File == nil {
		t.Fatalf("ReadFile: %v (file %v)", err, res.File)
	}
	want, err := p.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	if _, err := p.DeleteRecordsBefore(p.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	p.st().RunRetention()
	if n := p.NumSegments(); n > 2 {
		t.Fatalf("retention left %d segments", n)
	}
	if _, err := os.Stat(p.lc().dir + "/00000000000000000000.log"); !os.IsNotExist(err) {
		t.Fatalf("first segment still on disk: %v", err)
	}
	if got := fileBytes(t, &res); !bytes.Equal(got, want.Batches) {
		t.Fatal("range of a deleted segment reads other bytes")
	}
	res.Release()
	// Retention drops the partition's own reference once its deletion
	// step finishes, which may come just after RunRetention returns.
	b := make([]byte, 1)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		_, err := res.File.ReadAt(b, 0)
		if err != nil && err != io.EOF {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("segment file still open 5 s after the last release: %v", err)
		}
	}
}
