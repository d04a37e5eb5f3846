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

	"github.com/twmb/franz-go/pkg/kerr"
)

// jbodEnv is a store over two log dirs.
type jbodEnv struct {
	t    *testing.T
	dirs []string
	s    *Store
}

func newJBOD(t *testing.T) *jbodEnv {
	root := t.TempDir()
	return &jbodEnv{t: t, dirs: []string{filepath.Join(root, "d0"), filepath.Join(root, "d1")}}
}

func (e *jbodEnv) open() *Store {
	e.t.Helper()
	s, err := Open(Options{Dir: e.dirs[0], Logger: testLogger(), ExtraDirs: []DirOptions{{Dir: e.dirs[1]}}})
	if err != nil {
		e.t.Fatalf("open: %v", err)
	}
	e.s = s
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitMoved waits until no move of the partition is in progress.
func (e *jbodEnv) waitMoved(topic string, part int32) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, moving := e.s.Moving(topic, part); !moving {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("move of %s-%d did not finish", topic, part)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dirHas(t *testing.T, logDir, name string) bool {
	t.Helper()
	ents, err := os.ReadDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range ents {
		if de.Name() == name {
			return true
		}
	}
	return false
}

func TestJBODPlacementFewestLogs(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	var in [2]int
	for i := range 6 {
		p, err := s.CreatePartition("t", int32(i), PartitionConfig{})
		if err != nil {
			t.Fatal(err)
		}
		for j, d := range s.Dirs() {
			if p.LogDir() == d {
				in[j]++
			}
		}
	}
	if in != [2]int{3, 3} {
		t.Fatalf("partitions per dir = %v, want 3 and 3 (Kafka's nextLogDirs: fewest logs first)", in)
	}
	// A move requested before the log exists is remembered (Kafka's
	// preferred log dir) and applied when it is created.
	if err := s.AlterLogDir("u", 0, s.Dirs()[1]); !errors.Is(err, ErrNotHosted) {
		t.Fatalf("AlterLogDir of a partition not hosted: %v, want ErrNotHosted", err)
	}
	p, err := s.CreatePartition("u", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if p.LogDir() != s.Dirs()[1] {
		t.Fatalf("u-0 created in %s, want the remembered %s", p.LogDir(), s.Dirs()[1])
	}
	if err := s.AlterLogDir("t", 0, "/no/such/dir"); !errors.Is(err, kerr.LogDirNotFound) {
		t.Fatalf("unknown dir: %v, want LOG_DIR_NOT_FOUND", err)
	}
	if err := s.AlterLogDir("t", 0, "d0"); !errors.Is(err, kerr.LogDirNotFound) {
		t.Fatalf("relative dir: %v, want LOG_DIR_NOT_FOUND", err)
	}
}

// TestJBODMoveUnderAppends moves a partition between dirs while a writer
// appends without pause: every append succeeds, the log reads back whole
// and in order, and the same *Partition keeps working after the swap.
func TestJBODMoveUnderAppends(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	p, err := s.CreatePartition("m", 0, PartitionConfig{SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	from := p.LogDir()
	to := s.Dirs()[0]
	if from == to {
		to = s.Dirs()[1]
	}
	for range 200 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 3, valueSize: 50}))
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var appendErr error
	var appended atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		b := makeBatch(t, batchSpec{records: 3, valueSize: 50})
		for !stop.Load() {
			if _, err := p.Append(b, mustHeader(t, b)); err != nil {
				appendErr = err
				return
			}
			appended.Add(1)
		}
	}()
	if err := s.AlterLogDir("m", 0, to); err != nil {
		t.Fatal(err)
	}
	if d, ok := s.Moving("m", 0); ok && d != to {
		t.Fatalf("moving to %s, want %s", d, to)
	}
	e.waitMoved("m", 0)
	// Keep writing a little after the swap.
	n := appended.Load()
	for appended.Load() < n+50 && appendErr == nil {
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if appendErr != nil {
		t.Fatalf("append during the move: %v", appendErr)
	}
	if p.LogDir() != to {
		t.Fatalf("log in %s after the move, want %s", p.LogDir(), to)
	}
	if q, _ := s.Partition("m", 0); q != p {
		t.Fatal("the partition value changed with the move")
	}
	want := int64(200+appended.Load()) * 3
	if p.LogEndOffset() != want {
		t.Fatalf("log end %d, want %d", p.LogEndOffset(), want)
	}
	var next int64
	for _, b := range readAll(t, p) {
		h := mustHeader(t, b)
		if h.BaseOffset != next {
			t.Fatalf("batch at %d, want %d", h.BaseOffset, next)
		}
		next = h.LastOffset() + 1
	}
	if next != want {
		t.Fatalf("read to %d, want %d", next, want)
	}
	if dirHas(t, from, "m-0") {
		t.Fatalf("%s still holds m-0", from)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ents, _ := os.ReadDir(from)
		left := ""
		for _, de := range ents {
			if strings.HasPrefix(de.Name(), "m-0") {
				left = de.Name()
			}
		}
		if left == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still holds %s", from, left)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(s.Futures()) != 0 {
		t.Fatalf("future logs left: %d", len(s.Futures()))
	}
	// Idempotent producers and timestamps work on the moved log, and
	// it survives a restart in its new dir.
	appendBatch(t, p, makeBatch(t, batchSpec{records: 2, pid: 7, pidSet: true, epoch: 0, seq: 0}))
	dup, err := p.Append(makeBatch(t, batchSpec{records: 2, pid: 7, pidSet: true, epoch: 0, seq: 0}), mustHeader(t, makeBatch(t, batchSpec{records: 2, pid: 7, pidSet: true, epoch: 0, seq: 0})))
	if err != nil || !dup.Duplicate {
		t.Fatalf("retried idempotent batch after the move: %+v %v, want a duplicate", dup, err)
	}
	end := p.LogEndOffset()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = e.open()
	q, ok := s.Partition("m", 0)
	if !ok || q.LogDir() != to || q.LogEndOffset() != end {
		t.Fatalf("after restart: ok=%v dir=%s end=%d, want %s %d", ok, q.LogDir(), q.LogEndOffset(), to, end)
	}
	if got := len(readAll(t, q)); got != 200+int(appended.Load())+1 {
		t.Fatalf("after restart %d batches, want %d", got, 200+appended.Load()+1)
	}
}

// TestJBODCrashLeftovers restarts with what a crash in the middle of a
// move leaves: a future log beside the current log (the move resumes and
// completes), and a future log alone (the current log was already
// renamed for deletion: the future log becomes the current one).
func TestJBODCrashLeftovers(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	p, err := s.CreatePartition("c", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	from := p.LogDir()
	to := s.Dirs()[1]
	if from == to {
		to = s.Dirs()[0]
	}
	for range 50 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2, valueSize: 10}))
	}
	end := p.LogEndOffset()
	// A future log with part of the data, as a crash mid-copy leaves it.
	toStore := s.kids[s.dirIndex(to)]
	f, err := toStore.createFuture(partKey{"c", 0}, p.Config())
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.ReadReplica(0, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.AppendReplica(res.Batches); err != nil {
		t.Fatal(err)
	}
	res.Release()
	if f.LogEndOffset() == 0 || f.LogEndOffset() >= end {
		t.Fatalf("future log end %d: want a part of %d", f.LogEndOffset(), end)
	}
	futDir := filepath.Base(f.lc().dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !dirHas(t, to, futDir) || !strings.HasSuffix(futDir, "-future") {
		t.Fatalf("%s has no %s", to, futDir)
	}
	s = e.open()
	e.waitMoved("c", 0)
	q, _ := s.Partition("c", 0)
	if q.LogDir() != to || q.LogEndOffset() != end || len(readAll(t, q)) != 50 {
		t.Fatalf("resumed move: dir %s end %d, want %s %d", q.LogDir(), q.LogEndOffset(), to, end)
	}
	if dirHas(t, to, futDir) {
		t.Fatal("future dir left after the resumed move")
	}

	// Now the other crash: the current log renamed for deletion, the
	// future log not yet renamed.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cur := filepath.Join(to, "c-0")
	if err := os.Rename(cur, filepath.Join(to, "c-0.0123456789abcdef0123456789abcdef-delete")); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(from, "c-0.fedcba9876543210fedcba9876543210-future"), os.DirFS(filepath.Join(to, "c-0.0123456789abcdef0123456789abcdef-delete"))); err != nil {
		t.Fatal(err)
	}
	s = e.open()
	q, ok := s.Partition("c", 0)
	if !ok || q.LogDir() != from || q.LogEndOffset() != end || len(readAll(t, q)) != 50 {
		t.Fatalf("promoted future log: ok=%v dir %s end %d, want %s %d", ok, q.LogDir(), q.LogEndOffset(), from, end)
	}
	if dirHas(t, to, "c-0.0123456789abcdef0123456789abcdef-delete") {
		t.Fatal("-delete dir left")
	}

	// The same current log in both dirs: Kafka refuses to start.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(to, "c-0"), os.DirFS(filepath.Join(from, "c-0"))); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: e.dirs[0], Logger: testLogger(), ExtraDirs: []DirOptions{{Dir: e.dirs[1]}}}); err == nil || !strings.Contains(err.Error(), "duplicate log directories") {
		t.Fatalf("open with c-0 in both dirs: %v, want the duplicate error", err)
	}
}

// TestJBODMoveCancelAndDelete cancels a move by asking for the current
// dir, and deletes a topic while its partition moves.
func TestJBODMoveCancelAndDelete(t *testing.T) {
	e := newJBOD(t)
	s := e.open()
	p, err := s.CreatePartition("x", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 1}))
	}
	if err := s.AlterLogDir("x", 0, p.LogDir()); err != nil {
		t.Fatalf("move to its own dir: %v", err)
	}
	if _, moving := s.Moving("x", 0); moving {
		t.Fatal("a move to the current dir started a move")
	}
	if err := s.DeleteTopic("x"); err != nil {
		t.Fatal(err)
	}
	for _, d := range s.Dirs() {
		ents, _ := os.ReadDir(d)
		for _, de := range ents {
			if strings.HasPrefix(de.Name(), "x-0") {
				t.Fatalf("%s left in %s", de.Name(), d)
			}
		}
	}
}

// renameFaultFS fails the renames whose target matches while fail is set.
type renameFaultFS struct {
	OSFS
	fail  atomic.Bool
	tries atomic.Int32
}

func (f *renameFaultFS) Rename(oldpath, newpath string) error {
	if f.fail.Load() && strings.HasSuffix(newpath, "-delete") {
		f.tries.Add(1)
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errors.New("injected EIO")}
	}
	return f.OSFS.Rename(oldpath, newpath)
}

// TestJBODSwapFaultAndCancel: while the swap's rename fails, the move
// keeps retrying, the partition keeps serving from its current log and
// DescribeLogDirs-style listings show the future log; asking for the
// current dir cancels the move and deletes the future log; once renames
// work, a new move completes with the leader-epoch cache and producer
// state intact.
func TestJBODSwapFaultAndCancel(t *testing.T) {
	e := newJBOD(t)
	fs := &renameFaultFS{}
	s, err := Open(Options{Dir: e.dirs[0], FS: fs, Logger: testLogger(), ExtraDirs: []DirOptions{{Dir: e.dirs[1]}}})
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	t.Cleanup(func() { _ = s.Close() })
	p, err := s.CreatePartition("f", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AssignEpochStart(3); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2, pid: 9, pidSet: true, seq: int32(2 * i)}))
	}
	if err := p.AssignEpochStart(5); err != nil {
		t.Fatal(err)
	}
	for i := 30; i < 40; i++ {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2, pid: 9, pidSet: true, seq: int32(2 * i)}))
	}
	epochs, err := p.LeaderEpochs()
	if err != nil || len(epochs) != 2 {
		t.Fatalf("epochs %v %v", epochs, err)
	}
	from := p.LogDir()
	to := s.Dirs()[1]
	if from == to {
		to = s.Dirs()[0]
	}
	fs.fail.Store(true)
	if err := s.AlterLogDir("f", 0, to); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for fs.tries.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the swap was never tried")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d, moving := s.Moving("f", 0); !moving || d != to {
		t.Fatalf("Moving = %s %v during failing swaps, want %s true", d, moving, to)
	}
	if fu := s.Futures(); len(fu) != 1 || fu[0].LogDir() != to || fu[0].LogEndOffset() != p.LogEndOffset() {
		t.Fatalf("future logs %v", fu)
	}
	appendBatch(t, p, makeBatch(t, batchSpec{records: 2, pid: 9, pidSet: true, seq: 80}))
	if p.LogDir() != from || len(readAll(t, p)) != 41 {
		t.Fatalf("current log in %s with %d batches during the failing move", p.LogDir(), len(readAll(t, p)))
	}
	if err := s.AlterLogDir("f", 0, from); err != nil {
		t.Fatal(err)
	}
	if _, moving := s.Moving("f", 0); moving || len(s.Futures()) != 0 {
		t.Fatal("the move was not cancelled")
	}
	ents, _ := os.ReadDir(to)
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), "f-0") {
			t.Fatalf("%s left in %s after the cancel", de.Name(), to)
		}
	}
	fs.fail.Store(false)
	if err := s.AlterLogDir("f", 0, to); err != nil {
		t.Fatal(err)
	}
	e.waitMoved("f", 0)
	if p.LogDir() != to || len(readAll(t, p)) != 41 {
		t.Fatalf("after the move: %s, %d batches", p.LogDir(), len(readAll(t, p)))
	}
	got, err := p.LeaderEpochs()
	if err != nil || len(got) != 2 || got[0] != epochs[0] || got[1] != epochs[1] {
		t.Fatalf("epochs after the move %v (%v), want %v", got, err, epochs)
	}
	// The producer's sequence carried over: the next is accepted, a gap
	// is refused.
	appendBatch(t, p, makeBatch(t, batchSpec{records: 2, pid: 9, pidSet: true, seq: 82}))
	b := makeBatch(t, batchSpec{records: 2, pid: 9, pidSet: true, seq: 90})
	if _, err := p.Append(b, mustHeader(t, b)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("sequence gap after the move: %v, want ErrOutOfOrderSequence", err)
	}
}

// halfSwapFS fails renaming a future log into place and renaming a
// -delete directory back: the state a crash between the swap's two
// renames leaves.
type halfSwapFS struct {
	OSFS
	on    atomic.Bool
	tries atomic.Int32
}

func (f *halfSwapFS) Rename(oldpath, newpath string) error {
	if f.on.Load() && (strings.HasSuffix(oldpath, "-future") || strings.HasSuffix(oldpath, "-delete")) {
		f.tries.Add(1)
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errors.New("injected EIO")}
	}
	return f.OSFS.Rename(oldpath, newpath)
}

// TestJBODHalfSwap: the swap renamed the current log for deletion but
// could not put the future log in place nor undo the first rename. The
// partition then takes no more writes (what it took would be deleted at
// the next start), and the next Open promotes the future log: every
// record acknowledged before is there, in the destination dir.
func TestJBODHalfSwap(t *testing.T) {
	e := newJBOD(t)
	fs := &halfSwapFS{}
	s, err := Open(Options{Dir: e.dirs[0], FS: fs, Logger: testLogger(), ExtraDirs: []DirOptions{{Dir: e.dirs[1]}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CreatePartition("h", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for range 25 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 4, valueSize: 100}))
	}
	end := p.LogEndOffset()
	to := s.Dirs()[1]
	if p.LogDir() == to {
		to = s.Dirs()[0]
	}
	fs.on.Store(true)
	if err := s.AlterLogDir("h", 0, to); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for fs.tries.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the swap was never tried")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.s = s
	e.waitMoved("h", 0)
	b := makeBatch(t, batchSpec{records: 1})
	if _, err := p.Append(b, mustHeader(t, b)); !errors.Is(err, ErrPartitionClosed) {
		t.Fatalf("append after a half-done swap: %v, want ErrPartitionClosed", err)
	}
	_ = s.Close()
	fs.on.Store(false)
	s = e.open()
	q, ok := s.Partition("h", 0)
	if !ok || q.LogDir() != to || q.LogEndOffset() != end || len(readAll(t, q)) != 25 {
		t.Fatalf("after restart: ok=%v dir %s end %d, want %s %d", ok, q.LogDir(), q.LogEndOffset(), to, end)
	}
	for _, d := range s.Dirs() {
		ents, _ := os.ReadDir(d)
		for _, de := range ents {
			if strings.HasPrefix(de.Name(), "h-0.") {
				t.Fatalf("%s left in %s", de.Name(), d)
			}
		}
	}
}

// flagQuota is a MoveQuota exceeded while on is set.
type flagQuota struct {
	on    atomic.Bool
	bytes atomic.Int64
}

func (q *flagQuota) Exceeded() bool { return q.on.Load() }
func (q *flagQuota) Record(n int)   { q.bytes.Add(int64(n)) }

// TestJBODMoveThrottle: while the move quota is exceeded nothing is
// copied; once it is not, the move completes and its bytes are recorded.
func TestJBODMoveThrottle(t *testing.T) {
	e := newJBOD(t)
	q := &flagQuota{}
	q.on.Store(true)
	s, err := Open(Options{Dir: e.dirs[0], Logger: testLogger(), MoveQuota: q, ExtraDirs: []DirOptions{{Dir: e.dirs[1]}}})
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	t.Cleanup(func() { _ = s.Close() })
	p, err := s.CreatePartition("q", 0, PartitionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2, valueSize: 200}))
	}
	to := s.Dirs()[1]
	if p.LogDir() == to {
		to = s.Dirs()[0]
	}
	if err := s.AlterLogDir("q", 0, to); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if fu := s.Futures(); len(fu) != 1 || fu[0].LogEndOffset() != 0 || q.bytes.Load() != 0 {
		t.Fatalf("throttled move copied: futures %v, %d bytes", fu, q.bytes.Load())
	}
	q.on.Store(false)
	e.waitMoved("q", 0)
	if p.LogDir() != to || q.bytes.Load() < p.Size() {
		t.Fatalf("after the throttle: dir %s, %d bytes recorded for a %d-byte log", p.LogDir(), q.bytes.Load(), p.Size())
	}
}
