package logstore

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"samsa/internal/pebblelog"

	"github.com/cockroachdb/pebble/v2"
)

// segsOf returns the partition's segment list.
func segsOf(p *Partition) []*segment {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return append([]*segment(nil), p.segs...)
}

// indexKV is one key/value of the index.
type indexKV struct{ k, v []byte }

// partitionIndex returns the partition's offset and time keys as stored.
func partitionIndex(t testing.TB, db *pebble.DB, pid uint32) []indexKV {
	t.Helper()
	var out []indexKV
	for _, space := range []byte{ksOffset, ksTime} {
		lo := appendPrefix(nil, space, pid)
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
		if err != nil {
			t.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			out = append(out, indexKV{append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)})
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// wantPartitionIndex is the index a rebuild from the partition's segment
// files writes: an offset key per batch, and a time key per batch that
// raises its segment's running maximum timestamp.
func wantPartitionIndex(t testing.TB, p *Partition) []indexKV {
	t.Helper()
	var offs, times []indexKV
	var buf []byte
	for _, s := range segsOf(p) {
		runMax := int64(noMaxTimestamp)
		_, reason, err := scanBatches(s.f, 0, s.size.Load(), s.base, &buf, func(h *BatchHeader, pos int64) error {
			e := entryFromHeader(h, s.base, pos)
			offs = append(offs, indexKV{appendOffsetKey(nil, p.lc().pid, h.BaseOffset), e.appendValue(nil)})
			if h.MaxTimestamp > runMax {
				runMax = h.MaxTimestamp
				times = append(times, indexKV{appendTimeKey(nil, p.lc().pid, s.base, h.MaxTimestamp), appendTimeValue(nil, h.BaseOffset, h.LastOffsetDelta)})
			}
			return nil
		})
		if err != nil || reason != nil {
			t.Fatalf("scanning %s: %v %v", s.path, err, reason)
		}
	}
	return append(offs, times...)
}

func sameIndex(t testing.TB, got, want []indexKV) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("index has %d keys, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].k, want[i].k) || !bytes.Equal(got[i].v, want[i].v) {
			t.Fatalf("index key %d: %x=%x, want %x=%x", i, got[i].k, got[i].v, want[i].k, want[i].v)
		}
	}
}

// TestRecoveryUncleanReconcilesLastSegment: after a kill -9, the last
// segment is re-validated and its index entries end up exactly as a
// rebuild would write them, whatever the old index held for it: a stale
// entry inside a batch, an entry with a wrong value, a stale time key and
// entries past the log end are all gone, and the entries of earlier
// segments are untouched.
func TestRecoveryUncleanReconcilesLastSegment(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 1500})
	want := fill(t, p, 40)
	if len(segsOf(p)) < 3 {
		t.Fatalf("want several segments, got %d", len(segsOf(p)))
	}
	pid := p.lc().pid
	last := segsOf(p)[len(segsOf(p))-1]
	lastBase, leo := last.base, p.LogEndOffset()
	var inside *BatchHeader // a batch of the last segment with more than one record
	for i := range want {
		if h := mustHeader(t, want[i]); h.BaseOffset >= lastBase && h.LastOffsetDelta > 0 {
			inside = &h
			break
		}
	}
	if inside == nil {
		t.Fatal("no multi-record batch in the last segment")
	}
	if err := e.s.idx.db.Flush(); err != nil {
		t.Fatal(err)
	}
	e.crash()

	db, err := pebble.Open(e.index, &pebble.Options{Logger: pebblelog.New(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	// A stale entry inside a batch: a lookup of its offset would find it.
	bogus := indexEntry{segBase: lastBase, pos: 7, size: 100, maxTs: 5, lastOffsetDelta: 9}
	_ = b.Set(appendOffsetKey(nil, pid, inside.BaseOffset+1), bogus.appendValue(nil), nil)
	// A wrong value for the batch itself.
	_ = b.Set(appendOffsetKey(nil, pid, inside.BaseOffset), bogus.appendValue(nil), nil)
	// A time key no batch raises, and entries past the log end.
	_ = b.Set(appendTimeKey(nil, pid, lastBase, -7), appendTimeValue(nil, lastBase, 0), nil)
	_ = b.Set(appendTimeKey(nil, pid, lastBase, 1<<40), appendTimeValue(nil, leo+5, 0), nil)
	for i := int64(0); i < 3; i++ {
		_ = b.Set(appendOffsetKey(nil, pid, leo+10*i), bogus.appendValue(nil), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	e.open()
	p = e.part("t", 0)
	sameBatches(t, readAll(t, p), want)
	sameIndex(t, partitionIndex(t, e.s.idx.db, pid), wantPartitionIndex(t, p))
	for off := int64(0); off < p.LogEndOffset(); off++ {
		res, err := p.Read(off, 1)
		if err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
		h := mustHeader(t, res.Batches)
		if off < h.BaseOffset || off > h.LastOffset() {
			t.Fatalf("offset %d in batch [%d, %d]", off, h.BaseOffset, h.LastOffset())
		}
		res.Release()
	}
}

// indexDeletions counts the deletions (point and range) in the index's
// sstables; flush the memtable first.
func indexDeletions(t testing.TB, db *pebble.DB) uint64 {
	t.Helper()
	levels, err := db.SSTables(pebble.WithProperties())
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, l := range levels {
		for _, f := range l {
			n += f.Properties.NumDeletions + f.Properties.NumRangeDeletions
		}
	}
	return n
}

// TestRecoveryUncleanRestartsLeaveNoTombstones: repeated kill -9 restarts
// of a store whose index is intact write no deletions into the index. A
// range deletion per partition per restart made every later iterator
// re-process them, and recovery quadratic in the partition count (issue
// 16).
func TestRecoveryUncleanRestartsLeaveNoTombstones(t *testing.T) {
	e := newEnv(t)
	e.open()
	batch := makeBatch(t, batchSpec{records: 3, valueSize: 20, baseTs: 1})
	var parts []*Partition
	for i := range 30 {
		parts = append(parts, e.create(fmt.Sprintf("t%d", i/10), int32(i%10), PartitionConfig{SegmentBytes: 1 << 20}))
	}
	for round := range 3 {
		for _, p := range parts {
			appendBatch(t, p, batch)
		}
		if err := e.s.idx.db.Flush(); err != nil {
			t.Fatal(err)
		}
		e.crash()
		e.open()
		if err := e.s.idx.db.Flush(); err != nil {
			t.Fatal(err)
		}
		if n := indexDeletions(t, e.s.idx.db); n != 0 {
			t.Fatalf("round %d: %d tombstones in the index after an unclean restart", round, n)
		}
		parts = parts[:0]
		for i := range 30 {
			p := e.part(fmt.Sprintf("t%d", i/10), int32(i%10))
			if got := p.LogEndOffset(); got != int64(3*(round+1)) {
				t.Fatalf("round %d: %s-%d LEO %d", round, p.topic, p.partition, got)
			}
			sameIndex(t, partitionIndex(t, e.s.idx.db, p.lc().pid), wantPartitionIndex(t, p))
			parts = append(parts, p)
		}
	}
}
