package logstore

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"samsa/internal/faultfs"

	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func swapFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+swapSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// cleanWithin runs CleanNow and fails the test if it does not return
// within 10s; then it frees the disk so that a hung swap can end.
func cleanWithin(t *testing.T, e *faultEnv) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, err := e.s.CleanNow(); done <- err }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		e.free.Store(1 << 20)
		e.guard.TryRecover()
		<-done
		t.Fatal("cleaner swap hung on a full disk")
		return nil
	}
}

// TestCleanerSwapOnFullDisk: a cleaner swap whose index flush fails
// because the disk is full returns at once, holding no lock: retention,
// DeleteRecords and Close go on, the log reads the cleaned data, the
// .swap file stays, and the swap completes at the next cleaning or at
// the next start; retention deleting the new segment takes the .swap and
// old files with it.
func TestCleanerSwapOnFullDisk(t *testing.T) {
	setup := func(t *testing.T) (*faultEnv, *Partition, map[string]decoded) {
		e := newFaultEnv(t)
		e.open()
		p := e.create("c", 0, compactCfg())
		latest := fillKeys(t, e.env, p, 20, 10)
		e.guard.Note(syscall.ENOSPC)
		if !e.guard.Full() {
			t.Fatal("guard not full")
		}
		wantErr(t, cleanWithin(t, e), ErrStorage)
		if len(swapFiles(t, p.lc().dir)) != 1 {
			t.Fatalf("swap files %v, want one pending", swapFiles(t, p.lc().dir))
		}
		checkLatest(t, p, latest)
		return e, p, latest
	}
	t.Run("next-clean", func(t *testing.T) {
		e, p, latest := setup(t)
		done := make(chan struct{})
		go func() { e.s.RunRetention(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("retention blocked by a pending swap")
		}
		e.free.Store(1 << 20)
		e.guard.TryRecover()
		if err := cleanWithin(t, e); err != nil {
			t.Fatal(err)
		}
		if f := swapFiles(t, p.lc().dir); len(f) != 0 {
			t.Fatalf("swap files left after the disk recovered: %v", f)
		}
		checkLatest(t, p, latest)
		e.close()
		e.open()
		checkLatest(t, e.part("c", 0), latest)
	})
	t.Run("restart", func(t *testing.T) {
		e, _, latest := setup(t)
		done := make(chan error, 1)
		go func() { done <- e.s.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close blocked by a pending swap")
		}
		e.free.Store(1 << 20)
		e.guard.TryRecover()
		e.open()
		p := e.part("c", 0)
		checkLatest(t, p, latest)
		if f := swapFiles(t, p.lc().dir); len(f) != 0 {
			t.Fatalf("swap files left after restart: %v", f)
		}
	})
	t.Run("retention", func(t *testing.T) {
		e, p, _ := setup(t)
		p.mu.RLock()
		cut := p.segs[1].base
		p.mu.RUnlock()
		if _, err := p.DeleteRecordsBefore(cut); err != nil {
			t.Fatal(err)
		}
		if f := swapFiles(t, p.lc().dir); len(f) != 0 {
			t.Fatalf("swap files left after retention deleted the new segment: %v", f)
		}
		for _, f := range segmentFiles(t, p.lc().dir) {
			var base int64
			fmt.Sscanf(filepath.Base(f), "%d", &base)
			if base < cut {
				t.Fatalf("segment file %s below the log start %d left", f, cut)
			}
		}
		e.free.Store(1 << 20)
		e.guard.TryRecover()
		e.crash()
		e.open()
		p = e.part("c", 0)
		if ls := p.LogStartOffset(); ls != cut {
			t.Fatalf("log start %d after restart, want %d", ls, cut)
		}
		recs, _ := decodeLog(t, p)
		if len(recs) == 0 || recs[0].offset < cut {
			t.Fatalf("records below the log start after restart: %+v", recs[:1])
		}
	})
}

// TestIndexFlushSingleFlight: a flushIndex that gives up (disk full) while
// Pebble's flush is stuck leaves that one flush running; later calls
// wait for it instead of each leaving another goroutine blocked in Flush.
func TestIndexFlushSingleFlight(t *testing.T) {
	e := newFaultEnv(t)
	s := e.open()
	p := e.create("t", 0, defaultPartitionConfig)
	release := make(chan struct{})
	blocked := func(op errorfs.Op) bool {
		if faultfs.Tables(op) {
			<-release
		}
		return false
	}
	e.index.Set(syscall.EIO, blocked)
	inFlush := func() int {
		buf := make([]byte, 1<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "pebble/v2.(*DB).Flush(")
	}
	for i := 0; i < 4; i++ {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 1}))
		go func() {
			time.Sleep(50 * time.Millisecond)
			e.guard.Note(syscall.ENOSPC)
		}()
		if err := s.flushIndex(); err == nil {
			t.Fatal("flush succeeded while stuck")
		}
		e.free.Store(1 << 20)
		e.guard.TryRecover()
		e.free.Store(0)
	}
	n := inFlush()
	close(release) // before Clear: the match runs under the fault's lock
	e.index.Clear()
	if n != 1 {
		t.Fatalf("%d flush goroutines left, want 1", n)
	}
	if err := s.flushIndex(); err != nil {
		t.Fatal(err)
	}
}

// countTombstones returns the tombstones in the log.
func countTombstones(t *testing.T, p *Partition) int {
	recs, _ := decodeLog(t, p)
	n := 0
	for _, r := range recs {
		if r.null {
			n++
		}
	}
	return n
}

// TestCleanerDeleteHorizon: KIP-534. The first cleaning of a batch with a
// tombstone stamps its delete horizon (attribute 0x40, baseTimestamp =
// cleaning time + delete.retention.ms) and rebases the records'
// timestamp deltas, so that clients still decode each record's own
// timestamp; once the horizon passes, the tombstone goes, even when the
// log is small and merged into a fresh segment at every cleaning (before,
// the group took the newest segment's mtime and tombstones lived forever).
func TestCleanerDeleteHorizon(t *testing.T) {
	e := newEnv(t)
	e.open()
	cfg := compactCfg()
	cfg.MinCleanableDirtyRatio = 0
	p := e.create("c", 0, cfg)
	fillKeys(t, e, p, 10, 3)
	tombTs := e.clock.ms.Load() - 5000
	// A gzip batch: a tombstone, a value superseded later, a kept value.
	appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("key-000"), nil}, {[]byte("key-001"), []byte("old")}, {[]byte("key-002"), []byte("stays")}},
		ts: tombTs, pid: -1, codec: 1}))
	appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("key-001"), []byte("new")}}, ts: e.clock.ms.Load(), pid: -1}))
	for i := 0; i < 60; i++ {
		appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("other"), []byte(strings.Repeat("y", 30))}}, ts: e.clock.ms.Load(), pid: -1}))
	}
	cleanAt := e.clock.ms.Load()
	if _, err := e.s.CleanNow(); err != nil {
		t.Fatal(err)
	}
	// The tombstone's batch now carries the horizon; its records decode
	// (base + delta, as franz-go and the Java client compute) to their
	// original timestamps.
	found := false
	for _, b := range readAll(t, p) {
		h := mustHeader(t, b)
		if !VerifyCRC(b) {
			t.Fatalf("bad CRC at %d", h.BaseOffset)
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		recs := rb.Records
		if h.Compression() == 1 {
			zr, err := gzip.NewReader(bytes.NewReader(recs))
			if err != nil {
				t.Fatal(err)
			}
			if recs, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		hasTomb := false
		for i := int32(0); i < h.NumRecords; i++ {
			l, n := binary.Varint(recs)
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				t.Fatal(err)
			}
			recs = recs[n+int(l):]
			if r.Value == nil {
				hasTomb = true
				if got := rb.FirstTimestamp + r.TimestampDelta64; got != tombTs {
					t.Fatalf("tombstone timestamp %d after cleaning, want %d", got, tombTs)
				}
			}
			if string(r.Key) == "key-002" {
				if got := rb.FirstTimestamp + r.TimestampDelta64; got != tombTs+2 {
					t.Fatalf("record timestamp %d after cleaning, want %d", got, tombTs+2)
				}
			}
		}
		hz, ok := h.DeleteHorizon()
		if hasTomb {
			found = true
			if !ok || hz != cleanAt+cfg.DeleteRetentionMs || rb.Attributes&0x40 == 0 {
				t.Fatalf("tombstone batch horizon %d %v (attributes %#x), want %d", hz, ok, rb.Attributes, cleanAt+cfg.DeleteRetentionMs)
			}
			if h.MaxTimestamp != tombTs+2 {
				t.Fatalf("max timestamp %d, want %d", h.MaxTimestamp, tombTs+2)
			}
		} else if ok {
			t.Fatalf("batch %d without tombstones got a horizon", h.BaseOffset)
		}
	}
	if !found || countTombstones(t, p) != 1 {
		t.Fatalf("tombstone not kept before its horizon (found %v)", found)
	}
	// Keep writing and cleaning every 20s: the small log is rewritten
	// with fresh segments each time.
	for i := 0; i < 5; i++ {
		e.clock.ms.Add(20_000)
		for j := 0; j < 60; j++ {
			appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("other"), []byte(strings.Repeat("z", 30))}}, ts: e.clock.ms.Load(), pid: -1}))
		}
		if _, err := e.s.CleanNow(); err != nil {
			t.Fatal(err)
		}
		want := 1
		if e.clock.ms.Load() >= cleanAt+cfg.DeleteRetentionMs {
			want = 0
		}
		if n := countTombstones(t, p); n != want {
			t.Fatalf("after %d s: %d tombstones, want %d", (e.clock.ms.Load()-cleanAt)/1000, n, want)
		}
	}
	recs, _ := decodeLog(t, p)
	got := map[string]string{}
	for _, r := range recs {
		got[r.key] = string(r.value)
	}
	if got["key-001"] != "new" || got["key-002"] != "stays" {
		t.Fatalf("values lost: %v", got)
	}
}

// TestCleanerTombstoneDueSurvivesFailedClean: a cleaning run only because
// a kept tombstone's horizon passed, and failing partway (the cleaned
// file cannot be created), keeps the due time, so the next pass still
// removes the tombstone.
func TestCleanerTombstoneDueSurvivesFailedClean(t *testing.T) {
	e := newFaultEnv(t)
	e.open()
	p := e.create("c", 0, compactCfg())
	fillKeys(t, e.env, p, 20, 3)
	for k := 0; k < 5; k++ {
		appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte(fmt.Sprintf("key-%03d", k)), nil}}, ts: e.clock.ms.Load(), pid: -1}))
	}
	for i := 0; i < 60; i++ {
		appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("other"), []byte(strings.Repeat("y", 30))}}, ts: e.clock.ms.Load(), pid: -1}))
	}
	if _, err := e.s.CleanNow(); err != nil {
		t.Fatal(err)
	}
	if n := countTombstones(t, p); n != 5 {
		t.Fatalf("%d tombstones, want 5", n)
	}
	e.clock.ms.Add(61_000)
	e.dfs.set(func(op, name string) error {
		if op == "create" && strings.HasSuffix(name, cleanedSuffix) {
			return syscall.EIO
		}
		return nil
	})
	if _, err := e.s.CleanNow(); err == nil {
		t.Fatal("cleaning succeeded with the fault")
	}
	e.dfs.set(nil)
	if _, err := e.s.CleanNow(); err != nil {
		t.Fatal(err)
	}
	if n := countTombstones(t, p); n != 0 {
		t.Fatalf("%d tombstones left after the failed cleaning", n)
	}
}

// TestOffsetForTimestampDuringSwap: a cleaner swap that merges segments
// between OffsetForTimestamp's choice of segments and its time index seek
// moves the time keys of the merged segments; the lookup retries and
// still answers the first batch at or after the timestamp.
func TestOffsetForTimestampDuringSwap(t *testing.T) {
	e := newEnv(t)
	e.open()
	cfg := compactCfg()
	cfg.MinCleanableDirtyRatio = 0
	p := e.create("c", 0, cfg)
	base := e.clock.ms.Load()
	add := func(n, from int) {
		for i := from; i < from+n; i++ {
			key := "dup"
			if i%4 == 0 {
				key = fmt.Sprintf("k%d", i)
			}
			appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte(key), []byte(strings.Repeat("v", 40))}}, ts: base + int64(i), pid: -1}))
		}
	}
	add(150, 0)
	if _, err := e.s.CleanNow(); err != nil { // shrink the segments
		t.Fatal(err)
	}
	add(80, 150) // dirty again: the next cleaning merges the shrunk segments
	p.mu.RLock()
	nsegs := len(p.segs)
	ts := p.segs[0].maxTs + 1
	p.mu.RUnlock()
	var cleaned bool
	testHookTimeCandidates = func() {
		if cleaned {
			return
		}
		cleaned = true
		if _, err := e.s.CleanNow(); err != nil {
			t.Error(err)
		}
	}
	defer func() { testHookTimeCandidates = nil }()
	off, _, ok := p.OffsetForTimestamp(ts)
	testHookTimeCandidates = nil
	p.mu.RLock()
	merged := len(p.segs) < nsegs
	p.mu.RUnlock()
	if !cleaned || !merged {
		t.Fatalf("no merge happened during the lookup (cleaned %v, segments %d -> %d)", cleaned, nsegs, len(p.segs))
	}
	wantOff, _, wantOK := p.OffsetForTimestamp(ts)
	if ok != wantOK || off != wantOff {
		t.Fatalf("OffsetForTimestamp(%d) during a swap = %d %v, want %d %v", ts, off, ok, wantOff, wantOK)
	}
}
