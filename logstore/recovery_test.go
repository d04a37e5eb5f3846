package logstore

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"samsa/internal/pebblelog"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// fill appends n batches and returns them as stored.
func fill(t testing.TB, p *Partition, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := 0; i < n; i++ {
		b := makeBatch(t, batchSpec{records: 1 + i%3, valueSize: 30 + i, baseTs: int64(100 + i)})
		appendBatch(t, p, b)
		out = append(out, b)
	}
	return out
}

func lastSegment(t testing.TB, p *Partition) string {
	t.Helper()
	names := segmentFiles(t, p.lc().dir)
	return filepath.Join(p.lc().dir, names[len(names)-1])
}

func appendToFile(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func sameBatches(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d batches, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("batch %d differs", i)
		}
	}
}

func TestRecoveryTornFinalBatch(t *testing.T) {
	for _, shutdown := range []string{"clean", "crash"} {
		t.Run(shutdown, func(t *testing.T) {
			e := newEnv(t)
			e.open()
			p := e.create("t", 0, PartitionConfig{SegmentBytes: 2048})
			want := fill(t, p, 30)
			leo := p.LogEndOffset()
			seg := lastSegment(t, p)
			if shutdown == "clean" {
				e.close()
			} else {
				e.crash()
			}
			size := fileSize(t, seg)
			torn := makeBatch(t, batchSpec{records: 4, valueSize: 100})
			setBaseOffset(torn, leo)
			appendToFile(t, seg, torn[:len(torn)/2])

			e.open()
			p = e.part("t", 0)
			if got := fileSize(t, seg); got != size {
				t.Fatalf("segment is %d bytes after recovery, want %d", got, size)
			}
			if p.LogEndOffset() != leo {
				t.Fatalf("LEO %d, want %d", p.LogEndOffset(), leo)
			}
			sameBatches(t, readAll(t, p), want)
			res := appendBatch(t, p, makeBatch(t, batchSpec{records: 2}))
			if res.BaseOffset != leo {
				t.Fatalf("append after recovery at %d, want %d", res.BaseOffset, leo)
			}
			if n := len(readAll(t, p)); n != len(want)+1 {
				t.Fatalf("%d batches", n)
			}
		})
	}
}

func TestRecoveryTornHeader(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	want := fill(t, p, 5)
	seg := lastSegment(t, p)
	e.crash()
	size := fileSize(t, seg)
	appendToFile(t, seg, []byte{0, 0, 0, 0, 0, 0, 0, 9, 0, 0}) // 10 bytes of a header
	e.open()
	if fileSize(t, seg) != size {
		t.Fatal("torn header not truncated")
	}
	sameBatches(t, readAll(t, e.part("t", 0)), want)
}

func TestRecoveryCorruptCRCInFinalBatch(t *testing.T) {
	t.Run("crash", func(t *testing.T) {
		// The final batch was indexed but its bytes are corrupt: after an
		// unclean shutdown the last segment is re-validated.
		e := newEnv(t)
		e.open()
		p := e.create("t", 0, PartitionConfig{})
		want := fill(t, p, 10)
		seg := lastSegment(t, p)
		e.crash()
		size := fileSize(t, seg)
		last := want[len(want)-1]
		data, _ := os.ReadFile(seg)
		data[len(data)-5] ^= 0xff
		if err := os.WriteFile(seg, data, 0o644); err != nil {
			t.Fatal(err)
		}
		e.open()
		p = e.part("t", 0)
		if got := fileSize(t, seg); got != size-int64(len(last)) {
			t.Fatalf("segment %d bytes, want %d", got, size-int64(len(last)))
		}
		sameBatches(t, readAll(t, p), want[:len(want)-1])
		h := mustHeader(t, last)
		if p.LogEndOffset() != h.BaseOffset {
			t.Fatalf("LEO %d, want %d", p.LogEndOffset(), h.BaseOffset)
		}
		if res := appendBatch(t, p, makeBatch(t, batchSpec{})); res.BaseOffset != h.BaseOffset {
			t.Fatalf("next append at %d", res.BaseOffset)
		}
	})
	t.Run("unindexed", func(t *testing.T) {
		// A complete batch that never made it into the index, with a bad
		// CRC, behind a clean shutdown.
		e := newEnv(t)
		e.open()
		p := e.create("t", 0, PartitionConfig{})
		want := fill(t, p, 10)
		leo := p.LogEndOffset()
		seg := lastSegment(t, p)
		e.close()
		size := fileSize(t, seg)
		good := makeBatch(t, batchSpec{records: 2})
		setBaseOffset(good, leo)
		bad := makeBatch(t, batchSpec{records: 2})
		setBaseOffset(bad, leo+2)
		bad[len(bad)-1] ^= 1
		appendToFile(t, seg, append(append([]byte(nil), good...), bad...))
		e.open()
		p = e.part("t", 0)
		if got := fileSize(t, seg); got != size+int64(len(good)) {
			t.Fatalf("segment %d bytes, want %d", got, size+int64(len(good)))
		}
		sameBatches(t, readAll(t, p), append(want, good))
		if p.LogEndOffset() != leo+2 {
			t.Fatalf("LEO %d", p.LogEndOffset())
		}
	})
}

func TestRecoveryIndexAheadOfSegment(t *testing.T) {
	// Power loss: the index kept entries for bytes the segment lost.
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 1 << 20})
	want := fill(t, p, 10)
	seg := lastSegment(t, p)
	e.close() // clean: only the tail would be re-validated
	cut := int64(len(want[8]) + len(want[9]))
	if err := os.Truncate(seg, fileSize(t, seg)-cut); err != nil {
		t.Fatal(err)
	}
	e.open()
	p = e.part("t", 0)
	sameBatches(t, readAll(t, p), want[:8])
	h := mustHeader(t, want[8])
	if p.LogEndOffset() != h.BaseOffset {
		t.Fatalf("LEO %d, want %d", p.LogEndOffset(), h.BaseOffset)
	}
	nb := makeBatch(t, batchSpec{records: 5, valueSize: 3})
	appendBatch(t, p, nb)
	sameBatches(t, readAll(t, p), append(append([][]byte(nil), want[:8]...), nb))
	e.close()
	e.open()
	sameBatches(t, readAll(t, e.part("t", 0)), append(append([][]byte(nil), want[:8]...), nb))
}

func TestRecoveryIndexLagging(t *testing.T) {
	// The index lost its most recent entries (NoSync writes after a
	// crash): recovery re-indexes the tail.
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 1500})
	want := fill(t, p, 40)
	pid := p.lc().pid
	cutAt := mustHeader(t, want[25]).BaseOffset
	e.close()
	db, err := pebble.Open(e.index, &pebble.Options{Logger: pebblelog.New(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		t.Fatal(err)
	}
	// Drop offset entries from cutAt on; keep time entries (stale ones
	// are harmless and get overwritten).
	if err := db.DeleteRange(appendOffsetKey(nil, pid, cutAt), appendOffsetKey(nil, pid+1, 0), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	e.open()
	p = e.part("t", 0)
	sameBatches(t, readAll(t, p), want)
	for off := int64(0); off < p.LogEndOffset(); off++ {
		res, err := p.Read(off, 1)
		if err != nil {
			t.Fatal(err)
		}
		h := mustHeader(t, res.Batches)
		if off < h.BaseOffset || off > h.LastOffset() {
			t.Fatalf("offset %d in batch [%d, %d]", off, h.BaseOffset, h.LastOffset())
		}
		res.Release()
	}
}

func TestRecoveryDeletedIndexDir(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("a", 0, PartitionConfig{SegmentBytes: 1024})
	q := e.create("b", 2, PartitionConfig{SegmentBytes: 1024})
	wantA := fill(t, p, 50)
	wantB := fill(t, q, 7)
	if _, err := p.DeleteRecordsBefore(5); err != nil {
		t.Fatal(err)
	}
	type ts struct{ off, max int64 }
	var times []ts
	for x := int64(90); x < 160; x += 7 {
		o, m, _ := p.OffsetForTimestamp(x)
		times = append(times, ts{o, m})
	}
	leoA, startA := p.LogEndOffset(), p.LogStartOffset()
	e.close()
	if err := os.RemoveAll(e.index); err != nil {
		t.Fatal(err)
	}
	e.open()
	p, q = e.part("a", 0), e.part("b", 2)
	if p.LogEndOffset() != leoA || p.LogStartOffset() != startA {
		t.Fatalf("offsets [%d, %d), want [%d, %d)", p.LogStartOffset(), p.LogEndOffset(), startA, leoA)
	}
	got := readAll(t, p)
	// readAll starts at the log start: the batch containing offset 5.
	sameBatches(t, got, wantA[len(wantA)-len(got):])
	sameBatches(t, readAll(t, q), wantB)
	i := 0
	for x := int64(90); x < 160; x += 7 {
		o, m, _ := p.OffsetForTimestamp(x)
		if (ts{o, m}) != times[i] {
			t.Fatalf("OffsetForTimestamp(%d) = %d,%d; before %v", x, o, m, times[i])
		}
		i++
	}
}

func TestRecoveryGarbageIndexDir(t *testing.T) {
	for _, kind := range []string{"files", "notadir"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t)
			e.open()
			p := e.create("t", 0, PartitionConfig{SegmentBytes: 1024})
			want := fill(t, p, 30)
			e.close()
			if err := os.RemoveAll(e.index); err != nil {
				t.Fatal(err)
			}
			junk := bytes.Repeat([]byte("garbage\x00\xff"), 100)
			if kind == "files" {
				if err := os.MkdirAll(e.index, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, n := range []string{"CURRENT", "MANIFEST-000001", "OPTIONS-000003", "000002.log", "000004.sst", "junk"} {
					if err := os.WriteFile(filepath.Join(e.index, n), junk, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			} else if err := os.WriteFile(e.index, junk, 0o644); err != nil {
				t.Fatal(err)
			}
			e.open()
			sameBatches(t, readAll(t, e.part("t", 0)), want)
		})
	}
}

func TestRecoveryStaleIndexEntriesBelowFirstSegment(t *testing.T) {
	// A retention pass that unlinked a segment but crashed before its index
	// entries were deleted must not break Open.
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 600})
	want := fill(t, p, 20)
	e.close()
	names := segmentFiles(t, filepath.Join(e.dir, "t-0"))
	first := filepath.Join(e.dir, "t-0", names[0])
	removed := 0
	for _, b := range want {
		if int64(removed)+int64(len(b)) > fileSize(t, first) {
			break
		}
		removed += len(b)
	}
	n := 0
	for s := 0; s < removed; n++ {
		s += len(want[n])
	}
	if err := os.Remove(first); err != nil {
		t.Fatal(err)
	}
	e.open()
	p = e.part("t", 0)
	sameBatches(t, readAll(t, p), want[n:])
	if _, err := p.Read(0, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the first segment: %v", err)
	}
}

func TestInjectedWriteErrors(t *testing.T) {
	e := newEnv(t)
	ffs := &faultFS{}
	e.fs = ffs
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 4096})
	want := fill(t, p, 10)
	leo := p.LogEndOffset()
	seg := lastSegment(t, p)
	size := fileSize(t, seg)

	// Torn write: half the batch reaches the file, then an error.
	ffs.setWriteFault(func(name string, n int) (int, error) { return n / 2, errors.New("injected EIO") })
	b := makeBatch(t, batchSpec{records: 3, valueSize: 50})
	_, err := p.Append(b, mustHeader(t, b))
	wantErr(t, err, ErrStorage)
	ffs.setWriteFault(nil)
	if p.LogEndOffset() != leo || fileSize(t, seg) != size {
		t.Fatalf("failed append left LEO %d size %d (want %d, %d)", p.LogEndOffset(), fileSize(t, seg), leo, size)
	}
	sameBatches(t, readAll(t, p), want)
	b = makeBatch(t, batchSpec{records: 3, valueSize: 50})
	if res := appendBatch(t, p, b); res.BaseOffset != leo {
		t.Fatalf("append after failure at %d, want %d", res.BaseOffset, leo)
	}
	want = append(want, b)

	// Torn write whose undo (truncate) fails too: the stray bytes must stay
	// invisible and be overwritten by the next append.
	leo = p.LogEndOffset()
	ffs.setWriteFault(func(name string, n int) (int, error) { return n - 1, errors.New("injected ENOSPC") })
	ffs.setTruncateFault(func(name string) error { return errors.New("injected truncate failure") })
	big := makeBatch(t, batchSpec{records: 4, valueSize: 200})
	_, err = p.Append(big, mustHeader(t, big))
	wantErr(t, err, ErrStorage)
	ffs.setWriteFault(nil)
	sameBatches(t, readAll(t, p), want)
	small := makeBatch(t, batchSpec{records: 1, valueSize: 1}) // shorter than the stray bytes
	if res := appendBatch(t, p, small); res.BaseOffset != leo {
		t.Fatalf("append at %d, want %d", res.BaseOffset, leo)
	}
	want = append(want, small)
	ffs.setTruncateFault(nil)
	sameBatches(t, readAll(t, p), want)
	another := makeBatch(t, batchSpec{records: 2, valueSize: 7})
	appendBatch(t, p, another) // retries the truncation first
	want = append(want, another)
	sameBatches(t, readAll(t, p), want)

	// And the log is intact on disk.
	e.crash()
	e.open()
	p = e.part("t", 0)
	sameBatches(t, readAll(t, p), want)
	appendBatch(t, p, makeBatch(t, batchSpec{}))
}

func TestScanBatchesStopsAtCorruption(t *testing.T) {
	var seg []byte
	var n int64
	for i := 0; i < 5; i++ {
		b := makeBatch(t, batchSpec{records: 2})
		setBaseOffset(b, n)
		n += 2
		seg = append(seg, b...)
	}
	good := int64(len(seg))
	bad := makeBatch(t, batchSpec{records: 2})
	setBaseOffset(bad, 3) // offsets go backwards
	seg = append(seg, bad...)
	var buf []byte
	count := 0
	valid, reason, err := scanBatches(bytes.NewReader(seg), 0, int64(len(seg)), 0, &buf, func(*BatchHeader, int64) error {
		count++
		return nil
	})
	if err != nil || valid != good || reason == nil || count != 5 {
		t.Fatalf("valid %d (want %d) reason %v err %v count %d", valid, good, reason, err, count)
	}
}
