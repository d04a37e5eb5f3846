package logstore

import (
	"os"
	"path/filepath"
	"testing"
)

func totalSegmentBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	for _, name := range segmentFiles(t, dir) {
		n += fileSize(t, filepath.Join(dir, name))
	}
	return n
}

func TestRetentionByBytes(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 1000})
	for i := 0; i < 60; i++ {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2, valueSize: 100, baseTs: e.clock.Now().UnixMilli()}))
	}
	segsBefore := len(segmentFiles(t, p.lc().dir))
	leo := p.LogEndOffset()
	p.SetConfig(PartitionConfig{SegmentBytes: 1000, RetentionBytes: 3000})
	e.s.RunRetention()
	total := totalSegmentBytes(t, p.lc().dir)
	if total < 3000 {
		t.Fatalf("retention left %d bytes < retention.bytes", total)
	}
	names := segmentFiles(t, p.lc().dir)
	first := filepath.Join(p.lc().dir, names[0])
	if total-fileSize(t, first) >= 3000 {
		t.Fatalf("retention stopped early: %d bytes, first segment %d", total, fileSize(t, first))
	}
	if len(names) >= segsBefore {
		t.Fatal("nothing deleted")
	}
	base, _ := parseSegmentName(names[0])
	if p.LogStartOffset() != base || p.LogEndOffset() != leo {
		t.Fatalf("offsets [%d, %d), want [%d, %d)", p.LogStartOffset(), p.LogEndOffset(), base, leo)
	}
	_, err := p.Read(base-1, 100)
	wantErr(t, err, ErrOffsetOutOfRange)
	res, err := p.Read(base, 100)
	if err != nil || mustHeader(t, res.Batches).BaseOffset != base {
		t.Fatalf("read at log start: %v", err)
	}
	res.Release()
	if ts, _ := p.MaxTimestamp(); ts < 0 {
		t.Fatal("max timestamp lost")
	}
	e.close()
	e.open()
	p = e.part("t", 0)
	if p.LogStartOffset() != base || p.LogEndOffset() != leo {
		t.Fatalf("after reopen [%d, %d)", p.LogStartOffset(), p.LogEndOffset())
	}
}

func TestRetentionByTime(t *testing.T) {
	e := newEnv(t)
	e.open()
	const hour = 3600_000
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 800, RetentionMs: 10 * hour})
	start := e.clock.Now().UnixMilli()
	for i := 0; i < 30; i++ {
		ts := start + int64(i)*hour/10
		appendBatch(t, p, makeBatch(t, batchSpec{records: 3, valueSize: 50, baseTs: ts - 2, maxTs: ts}))
	}
	leo := p.LogEndOffset()
	e.s.RunRetention()
	if p.LogStartOffset() != 0 {
		t.Fatal("deleted fresh data")
	}
	// 11.5 hours later: segments whose newest batch is older than 10h go.
	e.clock.ms.Store(start + 115*hour/10)
	e.s.RunRetention()
	ls := p.LogStartOffset()
	if ls == 0 {
		t.Fatal("nothing deleted")
	}
	// The first remaining segment has a batch newer than now-10h; the one
	// before it (deleted) had none.
	cutoff := start + 15*hour/10
	p.mu.RLock()
	firstMax := p.segs[0].maxTs
	p.mu.RUnlock()
	if firstMax < cutoff {
		t.Fatalf("kept a segment whose newest batch (%d) is older than the cutoff %d", firstMax, cutoff)
	}
	off, ts, ok := p.OffsetForTimestamp(0)
	if !ok || off != ls || ts > firstMax {
		t.Fatalf("first remaining batch %d ts %d", off, ts)
	}
	if off2, _, _ := p.OffsetForTimestamp(cutoff - 1); off2 < ls {
		t.Fatal("time index points below the log start")
	}
	_, err := p.Read(ls-1, 100)
	wantErr(t, err, ErrOffsetOutOfRange)

	// Much later: everything, including the active segment, expires. A new
	// empty segment keeps the log end.
	e.clock.ms.Store(start + 100*hour)
	e.s.RunRetention()
	if p.LogStartOffset() != leo || p.LogEndOffset() != leo {
		t.Fatalf("after full expiry [%d, %d), want [%d, %d)", p.LogStartOffset(), p.LogEndOffset(), leo, leo)
	}
	if names := segmentFiles(t, p.lc().dir); len(names) != 1 || names[0] != segmentName(leo) {
		t.Fatalf("segments %v", names)
	}
	res, err := p.Read(leo, 100)
	if err != nil || len(res.Batches) != 0 {
		t.Fatalf("read at end: %v", err)
	}
	if ts, off := p.MaxTimestamp(); ts != -1 || off != -1 {
		t.Fatalf("MaxTimestamp %d %d on empty log", ts, off)
	}
	if r := appendBatch(t, p, makeBatch(t, batchSpec{baseTs: start + 100*hour})); r.BaseOffset != leo {
		t.Fatalf("append at %d", r.BaseOffset)
	}
	e.close()
	e.open()
	p = e.part("t", 0)
	if p.LogStartOffset() != leo || p.LogEndOffset() != leo+1 {
		t.Fatalf("after reopen [%d, %d)", p.LogStartOffset(), p.LogEndOffset())
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 700})
	want := fill(t, p, 40)
	leo := p.LogEndOffset()
	nsegs := len(segmentFiles(t, p.lc().dir))

	_, err := p.DeleteRecordsBefore(leo + 1)
	wantErr(t, err, ErrOffsetOutOfRange)

	// Somewhere in the middle of a batch in the middle of a segment.
	target := mustHeader(t, want[20]).BaseOffset + 1
	if mustHeader(t, want[20]).LastOffset() < target {
		target--
	}
	got, err := p.DeleteRecordsBefore(target)
	if err != nil || got != target || p.LogStartOffset() != target {
		t.Fatalf("DeleteRecordsBefore(%d) = %d, %v; start %d", target, got, err, p.LogStartOffset())
	}
	if n := len(segmentFiles(t, p.lc().dir)); n >= nsegs {
		t.Fatalf("%d segments, want fewer than %d", n, nsegs)
	}
	names := segmentFiles(t, p.lc().dir)
	firstBase, _ := parseSegmentName(names[0])
	if firstBase > target {
		t.Fatal("deleted the segment holding the new log start")
	}
	_, err = p.Read(target-1, 100)
	wantErr(t, err, ErrOffsetOutOfRange)
	res, err := p.Read(target, 100)
	if err != nil {
		t.Fatal(err)
	}
	h := mustHeader(t, res.Batches)
	if h.BaseOffset > target || h.LastOffset() < target {
		t.Fatalf("read at log start got batch [%d, %d]", h.BaseOffset, h.LastOffset())
	}
	res.Release()
	// Lower or equal: no-op.
	if got, err := p.DeleteRecordsBefore(3); err != nil || got != target {
		t.Fatalf("lower offset: %d %v", got, err)
	}

	// Persisted across restarts, even without the index.
	e.close()
	if err := os.RemoveAll(e.index); err != nil {
		t.Fatal(err)
	}
	e.open()
	p = e.part("t", 0)
	if p.LogStartOffset() != target || p.LogEndOffset() != leo {
		t.Fatalf("after reopen [%d, %d), want [%d, %d)", p.LogStartOffset(), p.LogEndOffset(), target, leo)
	}
	_, err = p.Read(target-1, 100)
	wantErr(t, err, ErrOffsetOutOfRange)

	// -1 means the high watermark: everything goes, the log stays usable.
	got, err = p.DeleteRecordsBefore(-1)
	if err != nil || got != leo {
		t.Fatalf("delete to HW: %d %v", got, err)
	}
	if names := segmentFiles(t, p.lc().dir); len(names) != 1 {
		t.Fatalf("segments %v", names)
	}
	if r := appendBatch(t, p, makeBatch(t, batchSpec{})); r.BaseOffset != leo || r.LogStartOffset != leo {
		t.Fatalf("append after deleting all: %+v", r)
	}
}

func TestRetentionWithoutTimestampsUsesWriteTime(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 400, RetentionMs: 1000})
	for i := 0; i < 10; i++ {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2, valueSize: 50, baseTs: -1, maxTs: -1}))
	}
	e.s.RunRetention()
	if p.LogStartOffset() != 0 {
		t.Fatal("batches without timestamps were deleted at once")
	}
	e.clock.ms.Add(1001)
	e.s.RunRetention()
	if p.LogStartOffset() != p.LogEndOffset() || p.LogEndOffset() != 20 {
		t.Fatalf("after retention.ms: [%d, %d)", p.LogStartOffset(), p.LogEndOffset())
	}
}
