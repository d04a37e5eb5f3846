package logstore

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"samsa/internal/diskguard"
	"samsa/internal/faultfs"
	"samsa/internal/pebblelog"

	"github.com/cockroachdb/pebble/v2"
)

// diskFS injects errors into segment and checkpoint files by operation:
// "create" (OpenFile with O_CREATE), "write" (Write, WriteAt), "sync",
// "truncate".
type diskFS struct {
	OSFS
	mu     sync.Mutex
	fail   func(op, name string) error // guarded by mu
	writes atomic.Int64
}

func (f *diskFS) set(fn func(op, name string) error) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

func (f *diskFS) check(op, name string) error {
	f.mu.Lock()
	fn := f.fail
	f.mu.Unlock()
	if fn == nil {
		return nil
	}
	return fn(op, name)
}

func (f *diskFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if flag&os.O_CREATE != 0 {
		if err := f.check("create", name); err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
	}
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &diskFile{File: file, fs: f, name: name}, nil
}

type diskFile struct {
	File
	fs   *diskFS
	name string
}

func (f *diskFile) Write(p []byte) (int, error) {
	if err := f.fs.check("write", f.name); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f *diskFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.writes.Add(1)
	if err := f.fs.check("write", f.name); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *diskFile) Sync() error {
	if err := f.fs.check("sync", f.name); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *diskFile) Truncate(size int64) error {
	if err := f.fs.check("truncate", f.name); err != nil {
		return err
	}
	return f.File.Truncate(size)
}

// faultEnv is a store with a disk guard (its free space set by the test)
// and fault injection into both the segments and the index.
type faultEnv struct {
	*env
	dfs   *diskFS
	index faultfs.Fault
	guard *diskguard.Guard
	free  atomic.Int64
}

func newFaultEnv(t *testing.T) *faultEnv {
	e := &faultEnv{env: newEnv(t), dfs: &diskFS{}}
	e.fs = e.dfs
	g, err := diskguard.New(diskguard.Options{Dir: e.dir, Reserve: 64 << 10, Interval: 10 * time.Millisecond, Logger: testLogger(),
		Statfs: func(string) (int64, int64, error) { return e.free.Load(), 1 << 30, nil }})
	if err != nil {
		t.Fatal(err)
	}
	e.guard = g
	return e
}

func (e *faultEnv) open() *Store {
	e.t.Helper()
	s, err := Open(Options{Dir: e.dir, IndexDir: e.env.index, FS: e.fs, IndexFS: e.guard.WrapPebble(e.index.FS()),
		Guard: e.guard, Logger: testLogger(), Now: e.clock.Now})
	if err != nil {
		e.t.Fatalf("open: %v", err)
	}
	e.s = s
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

func onSegments(op string, err error) func(string, string) error {
	return func(o, name string) error {
		if o == op && strings.HasSuffix(name, ".log") {
			return err
		}
		return nil
	}
}

// TestFullDiskAppendAndRoll: a segment write or a roll (new segment file)
// failing with ENOSPC answers ErrStorage and marks the log dir full; later
// appends are refused without touching the disk while reads go on; once
// space returns, appends continue at the same offset, nothing
// acknowledged is lost, and the log survives a restart.
func TestFullDiskAppendAndRoll(t *testing.T) {
	e := newFaultEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 4 << 10, RetentionBytes: -1, RetentionMs: -1})
	var want [][]byte
	add := func() error {
		b := makeBatch(t, batchSpec{records: 2, valueSize: 300})
		res, err := p.Append(b, mustHeader(t, b))
		if err == nil {
			if res.BaseOffset != int64(2*len(want)) {
				t.Fatalf("append at %d, want %d", res.BaseOffset, 2*len(want))
			}
			want = append(want, b)
		}
		return err
	}
	for range 3 {
		if err := add(); err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range []string{"write", "create"} {
		e.dfs.set(onSegments(op, syscall.ENOSPC))
		var err error
		for i := 0; i < 20 && err == nil; i++ { // "create" needs a roll
			err = add()
		}
		wantErr(t, err, ErrStorage)
		if !e.guard.Full() {
			t.Fatalf("%s ENOSPC did not mark the log dir full", op)
		}
		e.dfs.set(nil)
		writes := e.dfs.writes.Load()
		wantErr(t, add(), ErrStorage)
		wantErr(t, add(), diskguard.ErrDiskFull)
		if e.dfs.writes.Load() != writes {
			t.Fatal("an append wrote to a full disk")
		}
		if _, err := e.s.CreatePartition("new", 0, defaultPartitionConfig); err == nil {
			t.Fatal("CreatePartition on a full disk succeeded")
		}
		sameBatches(t, readAll(t, p), want)
		if e.guard.TryRecover() {
			t.Fatal("recovered without free space")
		}
		e.free.Store(1 << 20)
		if !e.guard.TryRecover() {
			t.Fatal("did not recover with free space")
		}
		e.free.Store(0)
		for range 3 {
			if err := add(); err != nil {
				t.Fatalf("append after space returned: %v", err)
			}
		}
		sameBatches(t, readAll(t, p), want)
	}
	e.close()
	e.open()
	sameBatches(t, readAll(t, e.part("t", 0)), want)
}

// TestIndexFlushFailure: the index has no WAL, so an index commit never
// touches the disk; its flushes do. While a flush fails (EIO on table
// files), appends are refused with ErrStorage and reads go on; when the
// fault clears, Pebble's retry succeeds and appends resume. A Close with
// a failing flush does not hang and loses nothing: the next Open
// re-indexes from the segments.
func TestIndexFlushFailure(t *testing.T) {
	e := newFaultEnv(t)
	s := e.open()
	p := e.create("t", 0, defaultPartitionConfig)
	var want [][]byte
	for range 5 {
		b := makeBatch(t, batchSpec{records: 3, valueSize: 10})
		appendBatch(t, p, b)
		want = append(want, b)
	}
	e.index.Set(syscall.EIO, faultfs.Tables)
	s.idx.db.AsyncFlush()
	waitFor(t, "flush failure noticed", func() bool { return s.idx.flushErr.Load() != nil })
	b := makeBatch(t, batchSpec{records: 1})
	_, err := p.Append(b, mustHeader(t, b))
	wantErr(t, err, ErrStorage)
	sameBatches(t, readAll(t, p), want)

	e.index.Clear()
	waitFor(t, "flush retried", func() bool { return s.idx.flushErr.Load() == nil })
	b = makeBatch(t, batchSpec{records: 1})
	appendBatch(t, p, b)
	want = append(want, b)

	// Close while flushes fail: prompt, and nothing lost.
	b = makeBatch(t, batchSpec{records: 1})
	appendBatch(t, p, b)
	want = append(want, b)
	e.index.Set(syscall.EIO, faultfs.Tables)
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung on a failing index flush")
	}
	if _, err := os.Stat(filepath.Join(e.dir, cleanShutdownFile)); err == nil {
		t.Fatal("clean-shutdown marker written although the index was not flushed")
	}
	e.index.Clear()
	e.open()
	sameBatches(t, readAll(t, e.part("t", 0)), want)
}

// TestDeleteRecordsCheckpointFault: DeleteRecords persists the new log
// start before deleting anything; if that write fails (ENOSPC, EIO) the
// call fails with ErrStorage and the log is untouched.
func TestDeleteRecordsCheckpointFault(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EIO} {
		t.Run(errno.Error(), func(t *testing.T) {
			e := newFaultEnv(t)
			e.open()
			p := e.create("t", 0, PartitionConfig{SegmentBytes: 1 << 10, RetentionBytes: -1, RetentionMs: -1})
			var want [][]byte
			for range 8 {
				b := makeBatch(t, batchSpec{records: 2, valueSize: 200})
				appendBatch(t, p, b)
				want = append(want, b)
			}
			e.dfs.set(func(op, name string) error {
				if strings.Contains(name, logStartCheckpoint) {
					return errno
				}
				return nil
			})
			_, err := p.DeleteRecordsBefore(6)
			wantErr(t, err, ErrStorage)
			if p.LogStartOffset() != 0 {
				t.Fatalf("log start moved to %d by a failed DeleteRecords", p.LogStartOffset())
			}
			sameBatches(t, readAll(t, p), want)
			e.dfs.set(nil)
			e.guard.TryRecover()
			e.free.Store(1 << 20)
			e.guard.TryRecover()
			if start, err := p.DeleteRecordsBefore(6); err != nil || start != 6 {
				t.Fatalf("DeleteRecords after the fault: %d %v", start, err)
			}
		})
	}
}

// TestRecoveryTruncateFault: recovery truncates a torn tail; if that
// truncation fails, Open fails with the error (no panic, nothing
// changed), and a later Open with the fault gone repairs the segment.
func TestRecoveryTruncateFault(t *testing.T) {
	e := newFaultEnv(t)
	e.open()
	p := e.create("t", 0, defaultPartitionConfig)
	var want [][]byte
	for range 3 {
		b := makeBatch(t, batchSpec{records: 2, valueSize: 20})
		appendBatch(t, p, b)
		want = append(want, b)
	}
	seg := filepath.Join(p.lc().dir, segmentName(0))
	e.crash()
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := makeBatch(t, batchSpec{records: 2})
	if _, err := f.Write(torn[:len(torn)/2]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	e.dfs.set(func(op, name string) error {
		if op == "truncate" {
			return syscall.EIO
		}
		return nil
	})
	if _, err := Open(Options{Dir: e.dir, IndexDir: e.env.index, FS: e.fs, Guard: e.guard, Logger: testLogger()}); err == nil {
		t.Fatal("Open succeeded although the torn tail could not be truncated")
	}
	e.dfs.set(nil)
	e.open()
	sameBatches(t, readAll(t, e.part("t", 0)), want)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPeriodicIndexFlush: the index has no WAL, so it is flushed every
// IndexFlushInterval when it changed; after a kill -9 the index on disk
// holds everything up to the last flush.
func TestPeriodicIndexFlush(t *testing.T) {
	old := IndexFlushInterval
	IndexFlushInterval = 10 * time.Millisecond
	defer func() { IndexFlushInterval = old }()
	e := newEnv(t)
	s := e.open()
	p := e.create("t", 0, defaultPartitionConfig)
	for range 5 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2}))
	}
	waitFor(t, "periodic flush", func() bool { return s.idx.db.Metrics().Flush.Count > 0 && !s.idx.dirty.Load() })
	time.Sleep(50 * time.Millisecond) // let the flush finish
	pid := p.lc().pid
	e.crash()
	db, err := pebble.Open(e.index, &pebble.Options{ReadOnly: true, Logger: pebblelog.New(testLogger())})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	x := index{db: db}
	n := 0
	if err := x.scanEntries(pid, 0, -1, func(*indexEntry) (bool, error) { n++; return true, nil }); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("index on disk after kill -9 has %d entries, want 5", n)
	}
}
