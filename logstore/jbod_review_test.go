package logstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// manualMove sets up a move of topic-0 into the other log dir without its
// mover goroutine, so a test can run moveStep and swap itself.
func manualMove(t *testing.T, s *Store, p *Partition) *move {
	t.Helper()
	to := s.Dirs()[0]
	if p.LogDir() == to {
		to = s.Dirs()[1]
	}
	dest := s.kids[s.dirIndex(to)]
	k := partKey{p.topic, p.partition}
	f, err := dest.createFuture(k, p.Config())
	if err != nil {
		t.Fatal(err)
	}
	m := &move{k: k, src: p, fut: f, dest: dest, stop: make(chan struct{}), done: make(chan struct{})}
	m.gen = p.truncations.Load()
	p.cleanPaused.Store(true)
	f.cleanPaused.Store(true)
	return m
}

// stepUntilSwapped runs moveStep until the swap happened.
func stepUntilSwapped(t *testing.T, s *Store, m *move) {
	t.Helper()
	for i := 0; ; i++ {
		done, _, err := s.moveStep(m)
		if err != nil {
			t.Fatalf("move step: %v", err)
		}
		if done {
			return
		}
		if i > 1000 {
			t.Fatal("the move never swapped")
		}
	}
}

// TestJBODTruncationDuringCopy: a follower's TruncateTo that is waiting
// for the partition's locks while a copy step runs, followed by new data
// from the leader at the truncated offsets. The copied (truncated) batches
// must not survive in the swapped-in log: the log must read back what the
// current log holds, batch for batch.
func TestJBODTruncationDuringCopy(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	p, err := s.CreatePartition("tr", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Batches of 600 KiB: each copy step copies one (more than half a
	// chunk) and returns without swapping.
	const big = 600 << 10
	for i := range 6 {
		appendBatch(t, p, makeBatch(t, batchSpec{valueSize: big, baseTs: int64(100 + i)}))
	}
	m := manualMove(t, s, p)

	// The truncation waits for retMu (held here, as a concurrent
	// retention pass or DeleteRecords would hold it).
	p.retMu.Lock()
	truncated := make(chan error, 1)
	go func() {
		_, err := p.TruncateTo(2)
		truncated <- err
	}()
	// Give it time to get to the lock (and, in the old code, to count
	// itself in truncations before it truncated anything).
	deadline := time.Now().Add(200 * time.Millisecond)
	for p.truncations.Load() == m.gen && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for range 4 {
		done, _, err := s.moveStep(m)
		if err != nil || done {
			t.Fatalf("copy step: done=%v err=%v", done, err)
		}
	}
	if m.fut.LogEndOffset() != 4 {
		t.Fatalf("future log end %d after 4 copy steps, want 4", m.fut.LogEndOffset())
	}
	p.retMu.Unlock()
	if err := <-truncated; err != nil {
		t.Fatal(err)
	}
	if p.LogEndOffset() != 2 {
		t.Fatalf("log end %d after TruncateTo(2)", p.LogEndOffset())
	}
	// The leader's batches at 2.. (other timestamps).
	for i := range 5 {
		b := makeBatch(t, batchSpec{valueSize: 1000, baseTs: int64(1000 + i)})
		setBaseOffset(b, int64(2+i))
		if _, err := p.AppendReplica(b); err != nil {
			t.Fatal(err)
		}
	}
	want := readAll(t, p)
	stepUntilSwapped(t, s, m)
	if p.lc().store != m.dest {
		t.Fatal("not swapped")
	}
	got := readAll(t, p)
	if len(got) != len(want) {
		t.Fatalf("%d batches after the move, want %d", len(got), len(want))
	}
	for i := range want {
		hw, hg := mustHeader(t, want[i]), mustHeader(t, got[i])
		if hw.BaseOffset != hg.BaseOffset || hw.BaseTimestamp != hg.BaseTimestamp || len(want[i]) != len(got[i]) {
			t.Fatalf("batch %d after the move: offset %d ts %d (%d bytes), want offset %d ts %d (%d bytes): the truncated copy survived",
				i, hg.BaseOffset, hg.BaseTimestamp, len(got[i]), hw.BaseOffset, hw.BaseTimestamp, len(want[i]))
		}
	}
}

// TestJBODSwapCleanerLockOrder: the cleaner holds its dir's cleaner.mu
// while it takes each partition's appendMu and cleanMu (rollIdle,
// cleanerCheckpoint). A swap must not hold the partition's locks while it
// waits for cleaner.mu, or the two deadlock (a cleaner that checked
// cleanPaused just before the move started, then waited for appendMu).
func TestJBODSwapCleanerLockOrder(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	p, err := s.CreatePartition("lo", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2, baseTs: int64(i)}))
	}
	m := manualMove(t, s, p)
	for m.fut.LogEndOffset() < p.LogEndOffset() {
		if _, err := copyChunk(p, m.fut); err != nil {
			t.Fatal(err)
		}
	}
	from := p.lc().store
	from.cleaner.mu.Lock() // the cleaner thread, in its selection loop
	type result struct {
		ok  bool
		err error
	}
	swapped := make(chan result, 1)
	go func() {
		ok, err := s.swap(m)
		swapped <- result{ok, err}
	}()
	time.Sleep(100 * time.Millisecond) // the swap gets as far as it can
	got := make(chan struct{})
	go func() {
		// The cleaner's rollIdle on this partition.
		p.appendMu.Lock()
		p.appendMu.Unlock()
		close(got)
	}()
	select {
	case <-got:
	case <-time.After(2 * time.Second):
		from.cleaner.mu.Unlock()
		<-got
		t.Fatal("deadlock: the swap holds appendMu while it waits for the cleaner's lock, which holds it while it waits for appendMu")
	}
	from.cleaner.mu.Unlock()
	r := <-swapped
	if r.err != nil || !r.ok {
		t.Fatalf("swap: %v %v", r.ok, r.err)
	}
	if p.lc().store != m.dest {
		t.Fatal("not swapped")
	}
}

// TestJBODSwapBesideRollingPartitions moves a partition into a log dir
// where another partition rolls a segment on every append (each roll
// starts a background fsync in that dir). The swap must neither wait for
// the dir's background fsyncs to drain while it holds the moved
// partition's locks (they need not ever drain) nor call bg.Wait
// concurrently with their bg.Add (sync.WaitGroup misuse: a panic, or a
// race report under -race).
func TestJBODSwapBesideRollingPartitions(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	p, err := s.CreatePartition("mv", 0, PartitionConfig{SegmentBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	to := s.Dirs()[0]
	if p.LogDir() == to {
		to = s.Dirs()[1]
	}
	if err := s.PreferLogDir("busy", 0, to); err != nil {
		t.Fatal(err)
	}
	busy, err := s.CreatePartition("busy", 0, PartitionConfig{SegmentBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	if busy.LogDir() != to {
		t.Fatalf("busy-0 in %s, want %s", busy.LogDir(), to)
	}
	b := makeBatch(t, batchSpec{records: 1, valueSize: 100})
	for range 100 {
		appendBatch(t, p, b)
	}
	stop := make(chan struct{})
	rolled := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				rolled <- n
				return
			default:
			}
			if _, err := busy.Append(b, mustHeader(t, b)); err != nil {
				rolled <- -1
				return
			}
			n++
		}
	}()
	for i := range 5 {
		dest := to
		if i%2 == 1 {
			dest = s.Dirs()[0]
			if dest == to {
				dest = s.Dirs()[1]
			}
		}
		if err := s.AlterLogDir("mv", 0, dest); err != nil {
			t.Fatal(err)
		}
		e.waitMoved("mv", 0)
		if p.LogDir() != dest {
			t.Fatalf("move %d: mv-0 in %s, want %s", i, p.LogDir(), dest)
		}
	}
	close(stop)
	if n := <-rolled; n <= 0 {
		t.Fatalf("appends to busy-0 during the moves: %d", n)
	}
	if got := len(readAll(t, p)); got != 100 {
		t.Fatalf("%d batches after the moves, want 100", got)
	}
}

// swapInHook makes the next testHookLoc call at where run the move m to
// its swap, so that the reader goes on with the location it loaded before
// the swap (whose index data the swap drops).
func swapInHook(t *testing.T, s *Store, m *move, where string) {
	t.Helper()
	var once bool
	testHookLoc = func(w string) {
		if w != where || once {
			return
		}
		once = true
		stepUntilSwapped(t, s, m)
	}
	t.Cleanup(func() { testHookLoc = nil })
}

// TestJBODReadAcrossSwap: a read that loaded the log's location just
// before a swap must not come back empty below the log end (the old
// index is gone): it retries in the new location.
func TestJBODReadAcrossSwap(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	p, err := s.CreatePartition("rs", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2}))
	}
	m := manualMove(t, s, p)
	swapInHook(t, s, m, "read")
	res, err := p.Read(4, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if p.lc().store != m.dest {
		t.Fatal("the hook did not swap")
	}
	if len(res.Batches) == 0 {
		t.Fatalf("read at 4 of a log ending at %d came back empty across a swap", p.LogEndOffset())
	}
	if h := mustHeader(t, res.Batches); h.BaseOffset != 4 {
		t.Fatalf("read at 4 starts at %d", h.BaseOffset)
	}
}

// TestJBODReadCommittedAcrossSwap: a read_committed read whose aborted-
// transaction lookup used the location of before a swap must still list
// the aborted transaction, or the consumer takes aborted records for
// committed ones.
func TestJBODReadCommittedAcrossSwap(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	p, err := s.CreatePartition("rc", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	appendBatch(t, p, txnBatch(t, 9, 0, 0, 3))
	mustMarker(t, p, 9, 0, false, 0)
	appendBatch(t, p, makeBatch(t, batchSpec{records: 1}))
	ab, err := p.AbortedTransactions(0, p.LogEndOffset())
	if err != nil || len(ab) != 1 {
		t.Fatalf("aborted transactions before the move: %v %v", ab, err)
	}
	m := manualMove(t, s, p)
	swapInHook(t, s, m, "aborted")
	res, aborted, err := p.ReadCommitted(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if p.lc().store != m.dest {
		t.Fatal("the hook did not swap")
	}
	if len(res.Batches) == 0 || len(aborted) != 1 || aborted[0].ProducerID != 9 {
		t.Fatalf("read_committed across a swap: %d bytes, aborted %+v; want producer 9's aborted transaction", len(res.Batches), aborted)
	}
}

// dirSyncFS models the durability of renames: a rename reaches the disk
// only with an fsync of its directory, and crash undoes the others. It
// can fail the renames of future logs into place.
type dirSyncFS struct {
	OSFS
	failFuture atomic.Bool
	// failDeleteSync fails the next directory fsync that would make a
	// rename to a -delete name durable.
	failDeleteSync atomic.Bool
	mu             sync.Mutex
	pending        []renameOp
}

type renameOp struct{ old, new string }

func (f *dirSyncFS) Rename(oldpath, newpath string) error {
	if f.failFuture.Load() && strings.HasSuffix(oldpath, futureDirSuffix) {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errors.New("injected EIO")}
	}
	if err := f.OSFS.Rename(oldpath, newpath); err != nil {
		return err
	}
	f.mu.Lock()
	f.pending = append(f.pending, renameOp{oldpath, newpath})
	f.mu.Unlock()
	return nil
}

func (f *dirSyncFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err == nil && st.IsDir() {
		return &dirSyncFile{File: file, fs: f, dir: filepath.Clean(name)}, nil
	}
	return file, nil
}

type dirSyncFile struct {
	File
	fs  *dirSyncFS
	dir string
}

func (d *dirSyncFile) Sync() error {
	if err := d.File.Sync(); err != nil {
		return err
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	for _, r := range d.fs.pending {
		if filepath.Dir(r.new) == d.dir && strings.HasSuffix(r.new, deleteDirSuffix) && d.fs.failDeleteSync.CompareAndSwap(true, false) {
			return &os.PathError{Op: "fsync", Path: d.dir, Err: errors.New("injected EIO")}
		}
	}
	kept := d.fs.pending[:0]
	for _, r := range d.fs.pending {
		if filepath.Dir(r.new) != d.dir || filepath.Dir(r.old) != d.dir {
			kept = append(kept, r)
		}
	}
	d.fs.pending = kept
	return nil
}

// crash undoes the renames no directory fsync made durable.
func (f *dirSyncFS) crash(t *testing.T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.pending) - 1; i >= 0; i-- {
		r := f.pending[i]
		if err := os.Rename(r.new, r.old); err != nil {
			t.Fatalf("crash: undoing %s -> %s: %v", r.old, r.new, err)
		}
	}
	f.pending = nil
}

// crashJBOD stops a multi-dir store as kill -9 would (no clean-shutdown
// marker, no final fsync, no close-time renames).
func crashJBOD(s *Store) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	for _, kid := range s.kids {
		kid.mu.Lock()
		kid.closed = true
		futs := kid.futures
		kid.mu.Unlock()
		kid.stopCleaner()
		close(kid.stopFlush)
		<-kid.flushDone
		for _, p := range kid.partitions() {
			_ = p.close(false)
		}
		for _, f := range futs {
			_ = f.close(false)
		}
		kid.bg.Wait()
		_ = kid.idx.close()
		if kid.dirLock != nil {
			_ = kid.dirLock.Close()
		}
	}
}

// TestJBODSwapRenameBackDurable: the swap renamed the current log for
// deletion, failed to put the future log in place and renamed the current
// log back. Writes then continue in the current log (fsynced, with
// flush.messages=1); a crash must not find the current log's directory
// still named for deletion (the rename back was not fsynced), or the next
// start deletes it with those writes and promotes the older future log.
func TestJBODSwapRenameBackDurable(t *testing.T) {
	e := newJBOD(t)
	fs := &dirSyncFS{}
	opts := Options{Dir: e.dirs[0], FS: fs, Logger: testLogger(), ExtraDirs: []DirOptions{{Dir: e.dirs[1]}}}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePartition("rb", 0, PartitionConfig{FlushMessages: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2}))
	}
	m := manualMove(t, s, p)
	for m.fut.LogEndOffset() < p.LogEndOffset() {
		if _, err := copyChunk(p, m.fut); err != nil {
			t.Fatal(err)
		}
	}
	fs.failFuture.Store(true)
	if ok, err := s.swap(m); ok || err == nil {
		t.Fatalf("swap with the future log's rename failing: %v %v", ok, err)
	}
	fs.failFuture.Store(false)
	from := p.LogDir()
	if from == m.dest.dir {
		t.Fatal("swapped")
	}
	for range 5 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2}))
	}
	end := p.LogEndOffset()
	crashJBOD(s)
	fs.crash(t)
	e.s, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.s.Close() })
	e.waitMoved("rb", 0)
	q, ok := e.s.Partition("rb", 0)
	if !ok || q.LogEndOffset() != end || len(readAll(t, q)) != 15 {
		var got int64 = -1
		if ok {
			got = q.LogEndOffset()
		}
		t.Fatalf("after the crash: ok=%v log end %d, want %d: writes taken after the failed swap were lost", ok, got, end)
	}
}

// TestJBODSwapFirstRenameFsyncFails: the swap must not rename the future
// log into place while the current log's rename for deletion may not be
// on disk (its directory fsync failed): a crash could then find both as
// current logs, and the broker would not start. It renames back, the log
// keeps working where it was, and the move completes later.
func TestJBODSwapFirstRenameFsyncFails(t *testing.T) {
	e := newJBOD(t)
	fs := &dirSyncFS{}
	opts := Options{Dir: e.dirs[0], FS: fs, Logger: testLogger(), ExtraDirs: []DirOptions{{Dir: e.dirs[1]}}}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	t.Cleanup(func() { _ = s.Close() })
	p, err := s.CreatePartition("fs", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2}))
	}
	from := p.LogDir()
	m := manualMove(t, s, p)
	for m.fut.LogEndOffset() < p.LogEndOffset() {
		if _, err := copyChunk(p, m.fut); err != nil {
			t.Fatal(err)
		}
	}
	fs.failDeleteSync.Store(true)
	if ok, err := s.swap(m); ok || err == nil {
		t.Fatalf("swap with the first rename's fsync failing: swapped=%v err=%v, want an error", ok, err)
	}
	if p.LogDir() != from || !dirHas(t, from, "fs-0") {
		t.Fatalf("log in %s after the failed swap, want %s/fs-0", p.LogDir(), from)
	}
	appendBatch(t, p, makeBatch(t, batchSpec{records: 2}))
	stepUntilSwapped(t, s, m)
	if p.LogDir() == from || len(readAll(t, p)) != 11 {
		t.Fatalf("after the retried swap: %s, %d batches", p.LogDir(), len(readAll(t, p)))
	}
}

// TestJBODTwoFutureLogs: a start that finds future logs of one partition
// in two dirs (a crash while a cancelled move's future log was being
// removed) resumes one move only, and deletes the other future log: two
// movers of one log would each swap in turn, and Close, which stops the
// moves it knows, would wait for the other one for ever (here it is held
// back by the alter-log-dirs throttle).
func TestJBODTwoFutureLogs(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "d0"), filepath.Join(root, "d1"), filepath.Join(root, "d2")}
	quota := &flagQuota{}
	opts := Options{Dir: dirs[0], Logger: testLogger(), ExtraDirs: []DirOptions{{Dir: dirs[1]}, {Dir: dirs[2]}}, MoveQuota: quota}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PreferLogDir("two", 0, s.Dirs()[0]); err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePartition("two", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for range 30 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2, valueSize: 40 << 10}))
	}
	end := p.LogEndOffset()
	f, err := s.kids[1].createFuture(partKey{"two", 0}, p.Config())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := copyChunk(p, f); err != nil {
		t.Fatal(err)
	}
	futDir := f.lc().dir
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dirs[2], "two-0.00112233445566778899aabbccddeeff-future"), os.DirFS(futDir)); err != nil {
		t.Fatal(err)
	}
	quota.on.Store(true)
	s, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Futures()); n != 1 {
		t.Errorf("%d future logs of two-0 after the start, want 1", n)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		quota.on.Store(false) // let the stray mover finish, so the test ends
		<-closed
		t.Fatal("Close hung on a mover it did not know of")
	}
	quota.on.Store(false)
	s, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &jbodEnv{t: t, dirs: dirs, s: s}
	t.Cleanup(func() { _ = s.Close() })
	e.waitMoved("two", 0)
	q, _ := s.Partition("two", 0)
	if q.LogEndOffset() != end || len(readAll(t, q)) != 30 || q.LogDir() == s.Dirs()[0] {
		t.Fatalf("after the move: %s end %d, want %d", q.LogDir(), q.LogEndOffset(), end)
	}
	for _, d := range dirs {
		ents, _ := os.ReadDir(d)
		for _, de := range ents {
			if strings.HasSuffix(de.Name(), futureDirSuffix) {
				t.Errorf("%s left in %s", de.Name(), d)
			}
		}
	}
}

// TestJBODMoveLogStartMidBatch moves a log whose start offset is inside a
// batch (DeleteRecords to an offset that is not a batch's first): the
// copy's first read returns that whole batch, which starts below the
// future log's end.
func TestJBODMoveLogStartMidBatch(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	p, err := s.CreatePartition("mid", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 5}))
	}
	if _, err := p.DeleteRecordsBefore(7); err != nil {
		t.Fatal(err)
	}
	want := readAll(t, p)
	to := s.Dirs()[0]
	if p.LogDir() == to {
		to = s.Dirs()[1]
	}
	if err := s.AlterLogDir("mid", 0, to); err != nil {
		t.Fatal(err)
	}
	e.waitMoved("mid", 0)
	if p.LogDir() != to || p.LogStartOffset() != 7 || p.LogEndOffset() != 50 {
		t.Fatalf("after the move: %s start %d end %d, want %s 7 50", p.LogDir(), p.LogStartOffset(), p.LogEndOffset(), to)
	}
	got := readAll(t, p)
	if len(got) != len(want) {
		t.Fatalf("%d batches after the move, want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Fatalf("batch %d differs after the move", i)
		}
	}
}

// TestAppendReplicaStartsAtStraddlingBatch: an empty log whose start is
// inside the first fetched batch restarts at the batch (Kafka's
// appendRecordsToFollowerOrFutureReplica); a non-empty log still refuses
// a batch below its end.
func TestAppendReplicaStartsAtStraddlingBatch(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("str", 0, PartitionConfig{})
	if _, err := p.TruncateFullyAndStartAt(7); err != nil {
		t.Fatal(err)
	}
	b := makeBatch(t, batchSpec{records: 5})
	setBaseOffset(b, 5)
	if end, err := p.AppendReplica(b); err != nil || end != 10 || p.LogStartOffset() != 5 {
		t.Fatalf("AppendReplica of 5..9 on an empty log at 7: end %d start %d err %v, want 10 5", end, p.LogStartOffset(), err)
	}
	c := makeBatch(t, batchSpec{records: 5})
	setBaseOffset(c, 8)
	if _, err := p.AppendReplica(c); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("batch below the end of a non-empty log: %v, want ErrOffsetOutOfRange", err)
	}
	if got := readAll(t, p); len(got) != 1 || mustHeader(t, got[0]).BaseOffset != 5 {
		t.Fatalf("log after: %d batches", len(got))
	}
}

// TestJBODCleanerSkipsMovedLog: a dir's cleaner that listed a log just
// before a move took it to another dir must leave it to that dir's
// cleaner: two cleaners of one log share its <base>.cleaned file names
// (one removes the other's file and the other installs a half-written
// one). The stale listing is made by hand here.
func TestJBODCleanerSkipsMovedLog(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	p, err := s.CreatePartition("cl", 0, compactCfg())
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 3, valueSize: 20}))
	}
	from := p.lc().store
	to := s.Dirs()[0]
	if p.LogDir() == to {
		to = s.Dirs()[1]
	}
	if err := s.AlterLogDir("cl", 0, to); err != nil {
		t.Fatal(err)
	}
	e.waitMoved("cl", 0)
	k := partKey{"cl", 0}
	from.mu.Lock()
	from.parts[k] = p // as partitions() listed it before the swap
	from.mu.Unlock()
	st, err := from.CleanNow()
	from.mu.Lock()
	delete(from.parts, k)
	from.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if st.Partitions != 0 {
		t.Fatalf("the cleaner of %s cleaned a log that moved to %s: %+v", from.dir, to, st)
	}
	st, err = p.lc().store.CleanNow()
	if err != nil || st.Partitions != 1 {
		t.Fatalf("the cleaner of the log's new dir: %+v %v, want it cleaned", st, err)
	}
	if got := readAll(t, p); len(got) == 0 || len(got) >= 100 {
		t.Fatalf("%d batches after cleaning", len(got))
	}
}

// TestJBODReadCommittedFileAcrossSwap: a zero-copy read_committed read
// that falls back to reading the bytes because a swap came between its
// index lookups still returns the aborted-transaction list.
func TestJBODReadCommittedFileAcrossSwap(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	p, err := s.CreatePartition("rcf", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	appendBatch(t, p, txnBatch(t, 9, 0, 0, 3))
	mustMarker(t, p, 9, 0, false, 0)
	appendBatch(t, p, makeBatch(t, batchSpec{records: 1}))
	m := manualMove(t, s, p)
	swapInHook(t, s, m, "readFile")
	res, aborted, err := p.ReadCommittedFile(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if p.lc().store != m.dest {
		t.Fatal("the hook did not swap")
	}
	if res.Len() == 0 || len(aborted) != 1 || aborted[0].ProducerID != 9 {
		t.Fatalf("read_committed file read across a swap: %d bytes, aborted %+v; want producer 9's aborted transaction", res.Len(), aborted)
	}
}

// TestJBODReadFileFallbackAtMidBatchStart: the fallback read after a swap
// starts at the offset asked for, not at its batch's base, which lies
// below a log start that DeleteRecords put inside the batch.
func TestJBODReadFileFallbackAtMidBatchStart(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	p, err := s.CreatePartition("mid", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	appendBatch(t, p, makeBatch(t, batchSpec{records: 4}))
	appendBatch(t, p, makeBatch(t, batchSpec{records: 4}))
	if _, err := p.DeleteRecordsBefore(2); err != nil {
		t.Fatal(err)
	}
	m := manualMove(t, s, p)
	swapInHook(t, s, m, "readFile")
	res, _, err := p.ReadCommittedFile(2, 1<<20)
	if err != nil {
		t.Fatalf("read at the log start (2, inside the first batch) across a swap: %v", err)
	}
	defer res.Release()
	if res.Len() == 0 {
		t.Fatal("read at the log start across a swap came back empty")
	}
}
