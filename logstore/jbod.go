package logstore

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"samsa/internal/diskguard"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

// DirOptions is one further log dir of Options.ExtraDirs. Every log dir
// has its own index, disk guard and lock, so one dir's contents are
// self-contained (see "Several log dirs" in doc.go).
type DirOptions struct {
	Dir      string
	IndexDir string // default <Dir>/.samsa-index
	IndexFS  vfs.FS
	Guard    *diskguard.Guard
}

// futureDirSuffix ends the directory of a future log, the destination of
// a move between log dirs: <topic>-<partition>.<32 hex>-future, Kafka's
// LocalLog.logFutureDirName.
const futureDirSuffix = "-future"

// ErrNotHosted is AlterLogDir's answer for a partition this store has no
// log of; the destination is remembered for when the log is created
// (Kafka's LogManager.maybeUpdatePreferredLogDir). Handlers answer
// REPLICA_NOT_AVAILABLE.
var ErrNotHosted = errors.New("logstore: no log of the partition in any log dir")

// MoveQuota throttles the copying of moves between log dirs: Kafka's
// alter-log-dirs ReplicationQuotaManager, whose limit is the dynamic
// broker config replica.alter.log.dirs.io.max.bytes.per.second. The
// broker passes a replica.ReplicationQuota.
type MoveQuota interface {
	// Exceeded reports whether the measured rate is above the limit:
	// the movers then copy nothing until it is not.
	Exceeded() bool
	// Record adds n bytes copied.
	Record(n int)
}

// errThrottled is moveStep's answer while the MoveQuota is exceeded.
var errThrottled = errors.New("logstore: move throttled")

// moveFetchBytes is how much a move copies per step (Kafka's
// replica.fetch.max.bytes default, 1 MiB).
const moveFetchBytes = 1 << 20

// jbod is the move state of a multi-dir Store (the root).
type jbod struct {
	dirs  []string  // absolute log dir paths, as kids
	quota MoveQuota // nil: unthrottled

	// mu guards moves and preferred; it is taken with the root's
	// createMu held (AlterLogDir, create, delete, close) or alone (a
	// finished move removing itself).
	mu        sync.Mutex
	moves     map[partKey]*move
	preferred map[partKey]int // kid index for partitions not hosted yet
	wg        sync.WaitGroup  // movers
}

// move is one partition being copied into another log dir: Kafka's
// future replica with its ReplicaAlterLogDirsThread.
type move struct {
	k    partKey
	src  *Partition // the current log; the same value after the swap
	fut  *Partition // the future log in dest
	dest *Store
	stop chan struct{} // closed to cancel
	done chan struct{} // closed when the mover returned
	gen  uint64        // src.truncations when the copy (re)started
}

func isFutureDir(name string) bool {
	return strings.HasSuffix(name, futureDirSuffix) && strings.Contains(name, ".")
}

// parseFutureDir gives the partition of <topic>-<partition>.<id>-future.
func parseFutureDir(name string) (string, int32, bool) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || !isFutureDir(name) {
		return "", 0, false
	}
	return parsePartitionDir(name[:i])
}

// uniqueDirName is <topic>-<partition>.<32 hex><suffix> (Kafka's
// LocalLog.logDirNameWithSuffix).
func uniqueDirName(k partKey, suffix string) string {
	s := strayDirName(k.topic + "-" + strconv.Itoa(int(k.partition)))
	return strings.TrimSuffix(s, strayDirSuffix) + suffix
}

// loadFutures opens the future logs a single-dir store found (a move that
// a restart interrupted). A future log beside a current log of the same
// partition in the same dir cannot come from a move (Kafka never creates
// one there) and is deleted.
func (s *Store) loadFutures(names []string, clean bool) error {
	for _, name := range names {
		topic, part, ok := parseFutureDir(name)
		if !ok {
			s.log.Warn("logstore: ignoring a directory named like a future log", "dir", filepath.Join(s.dir, name))
			continue
		}
		k := partKey{topic, part}
		_, dup := s.parts[k]
		if _, twice := s.futures[k]; twice {
			dup = true
		}
		if dup {
			s.log.Warn("logstore: removing a future log that no move can continue", "dir", filepath.Join(s.dir, name))
			if err := s.fs.RemoveAll(filepath.Join(s.dir, name)); err != nil {
				return fmt.Errorf("logstore: removing %s: %w", name, err)
			}
			continue
		}
		cfg := defaultPartitionConfig
		if s.configFor != nil {
			if c, ok := s.configFor(topic, part); ok {
				cfg = c
			}
		}
		f, err := s.openPartitionIn(topic, part, name, cfg, clean)
		if err != nil {
			return fmt.Errorf("logstore: recovering future log %s: %w", name, err)
		}
		s.futures[k] = f
	}
	return nil
}

// openJBOD opens one single-dir Store per log dir and the root over them,
// and settles what a crash left in the middle of a move: a future log
// whose current log is in another dir resumes its move; a future log
// without a current log (the crash came after the current log was renamed
// for deletion) becomes the current log, as Kafka's
// LogManager.recoverAbandonedFutureLogs does. The same current log in two
// dirs cannot come from Samsa's swap order and fails Open, as Kafka's
// LogManager.loadLog does ("Duplicate log directories").
func openJBOD(opts Options) (*Store, error) {
	dirs := append([]DirOptions{{Dir: opts.Dir, IndexDir: opts.IndexDir, IndexFS: opts.IndexFS, Guard: opts.Guard}}, opts.ExtraDirs...)
	root := &Store{
		dir:     opts.Dir,
		log:     opts.Logger,
		parts:   make(map[partKey]*Partition),
		futures: make(map[partKey]*Partition),
		strays:  make(map[partKey]string),
		jb:      &jbod{moves: make(map[partKey]*move), preferred: make(map[partKey]int), quota: opts.MoveQuota},
	}
	if root.log == nil {
		root.log = slog.Default()
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		abs, err := filepath.Abs(d.Dir)
		if err != nil {
			return nil, fmt.Errorf("logstore: log dir %s: %w", d.Dir, err)
		}
		if seen[abs] {
			return nil, fmt.Errorf("logstore: log dir %s is listed twice", abs)
		}
		seen[abs] = true
		root.jb.dirs = append(root.jb.dirs, abs)
	}
	fail := func(err error) (*Store, error) {
		for _, k := range root.kids {
			_ = k.Close()
		}
		return nil, err
	}
	// The dirs recover in parallel, as Kafka's LogManager runs a recovery
	// pool per log dir.
	kids := make([]*Store, len(dirs))
	errs := make([]error, len(dirs))
	var wg sync.WaitGroup
	for i, d := range dirs {
		o := opts
		o.ExtraDirs, o.jbodDir = nil, true
		o.Dir, o.IndexDir, o.IndexFS, o.Guard = d.Dir, d.IndexDir, d.IndexFS, d.Guard
		wg.Add(1)
		go func() {
			defer wg.Done()
			kids[i], errs[i] = Open(o)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("logstore: log dir %s: %w", d.Dir, errs[i])
			}
		}()
	}
	wg.Wait()
	for _, kid := range kids {
		if kid != nil {
			root.kids = append(root.kids, kid)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	for _, kid := range root.kids {
		for k, p := range kid.parts {
			if prev, ok := root.parts[k]; ok {
				return fail(fmt.Errorf("logstore: duplicate log directories for %s-%d are found in both %s and %s; "+
					"remove the one in the log directory that failed recently (Kafka's LogManager refuses to start likewise)",
					k.topic, k.partition, p.lc().dir, prev.lc().dir))
			}
			root.parts[k] = p
		}
	}
	for _, kid := range root.kids {
		kid.mu.Lock()
		futs := kid.futures
		kid.mu.Unlock()
		for k, f := range futs {
			if _, ok := root.parts[k]; ok {
				continue
			}
			p, err := kid.promoteFuture(k, f)
			if err != nil {
				return fail(err)
			}
			if p != nil {
				root.parts[k] = p
			}
		}
	}
	resumed := map[partKey]bool{}
	for _, kid := range root.kids {
		kid.mu.Lock()
		futs := make(map[partKey]*Partition, len(kid.futures))
		for k, f := range kid.futures {
			futs[k] = f
		}
		kid.mu.Unlock()
		for k, f := range futs {
			src := root.parts[k]
			if resumed[k] {
				// A second future log of the partition (a crash
				// while a cancelled move's one was being removed):
				// one move per partition, as Kafka keeps one future
				// log; the copy is redone from the current log.
				root.log.Warn("logstore: removing a second future log of a partition", "topic", k.topic, "partition", k.partition, "dir", f.lc().dir)
				kid.dropFuture(k, f)
				continue
			}
			root.log.Info("logstore: resuming the move of a partition between log dirs", "topic", k.topic, "partition", k.partition,
				"from", src.lc().store.dir, "to", kid.dir, "future_log_end_offset", f.LogEndOffset())
			root.startMove(k, src, f, kid, true)
			resumed[k] = true
		}
	}
	return root, nil
}

// promoteFuture makes a future log without a current log the partition's
// current log: its directory is renamed to <topic>-<partition>.
func (s *Store) promoteFuture(k partKey, f *Partition) (*Partition, error) {
	s.mu.Lock()
	delete(s.futures, k)
	s.mu.Unlock()
	cfg := f.Config()
	from := f.lc().dir
	if err := f.close(true); err != nil {
		return nil, fmt.Errorf("logstore: closing future log %s: %w", from, err)
	}
	name := k.topic + "-" + strconv.Itoa(int(k.partition))
	if err := s.fs.Rename(from, filepath.Join(s.dir, name)); err != nil {
		return nil, fmt.Errorf("%w: logstore: promoting future log %s: %w", ErrStorage, from, err)
	}
	_ = syncDir(s.fs, s.dir)
	s.log.Warn("logstore: a move between log dirs was interrupted after the current log was removed; its future log is now the current log",
		"from", from, "to", filepath.Join(s.dir, name))
	cfg, serve := s.claimPartitionDir(k, name)
	if !serve {
		return nil, nil
	}
	p, err := s.openPartition(k.topic, k.partition, cfg, false)
	if err != nil {
		return nil, fmt.Errorf("logstore: recovering %s-%d: %w", k.topic, k.partition, err)
	}
	s.mu.Lock()
	s.parts[k] = p
	s.mu.Unlock()
	return p, nil
}

// Dirs lists the log dirs, absolute, in log.dirs order.
func (s *Store) Dirs() []string {
	if s.jb != nil {
		return append([]string(nil), s.jb.dirs...)
	}
	abs, err := filepath.Abs(s.dir)
	if err != nil {
		abs = s.dir
	}
	return []string{abs}
}

// LogDir is the log dir the partition's log is in.
func (p *Partition) LogDir() string {
	d := p.lc().store.dir
	if abs, err := filepath.Abs(d); err == nil {
		return abs
	}
	return d
}

// Futures lists the future logs of the moves in progress (each a copy,
// still catching up, of the current log of the same partition), for
// DescribeLogDirs' is_future entries.
func (s *Store) Futures() []*Partition {
	var fs []*Partition
	for _, kid := range s.kids {
		kid.mu.RLock()
		for _, f := range kid.futures {
			fs = append(fs, f)
		}
		kid.mu.RUnlock()
	}
	return fs
}

// dirIndex is the index in Dirs of the absolute path dir, or -1.
func (s *Store) dirIndex(dir string) int {
	for i, d := range s.Dirs() {
		if d == filepath.Clean(dir) {
			return i
		}
	}
	return -1
}

// AlterLogDir moves the partition's log to the log dir dir (an absolute
// path of Dirs), as Kafka's ReplicaManager.alterReplicaLogDirs: a future
// log is created there and copied from the current log while it keeps
// taking writes; once it has caught up it replaces the current log (see
// "Several log dirs" in doc.go). The call returns when the move has
// started. Moving to the dir the log is in is a no-op, or cancels a move
// in progress; moving to another dir than a move in progress cancels it
// and starts anew. Errors: kerr.LogDirNotFound for a dir that is not a
// log dir; ErrNotHosted for a partition without a log here (the dir is
// remembered for when it is created); ErrStorage when the future log
// cannot be created.
func (s *Store) AlterLogDir(topic string, partition int32, dir string) error {
	i := s.dirIndex(dir)
	if i < 0 || !filepath.IsAbs(dir) {
		return fmt.Errorf("%w: %s is not a log dir of this broker", kerr.LogDirNotFound, dir)
	}
	k := partKey{topic, partition}
	if s.kids == nil {
		s.mu.RLock()
		_, ok := s.parts[k]
		s.mu.RUnlock()
		if !ok {
			return ErrNotHosted
		}
		return nil
	}
	s.createMu.Lock()
	defer s.createMu.Unlock()
	p, ok, err := s.hosted(k)
	if err != nil {
		return err
	}
	dest := s.kids[i]
	s.jb.mu.Lock()
	m := s.jb.moves[k]
	if !ok {
		s.jb.preferred[k] = i
		s.jb.mu.Unlock()
		return ErrNotHosted
	}
	s.jb.mu.Unlock()
	if p.closed.Load() {
		// A swap failed half-way (Kafka: an offline partition).
		return fmt.Errorf("%w: %s-%d is offline until the broker restarts", ErrStorage, topic, partition)
	}
	if m != nil {
		if m.dest == dest {
			return nil
		}
		s.cancelMove(m)
	}
	if p.lc().store == dest {
		return nil
	}
	f, err := dest.createFuture(k, p.Config())
	if err != nil {
		return err
	}
	s.log.Info("logstore: moving a partition between log dirs", "topic", topic, "partition", partition,
		"from", p.lc().store.dir, "to", dest.dir)
	s.startMove(k, p, f, dest, false)
	return nil
}

// createFuture creates an empty future log of k in this log dir.
func (s *Store) createFuture(k partKey, cfg PartitionConfig) (*Partition, error) {
	s.createMu.Lock()
	defer s.createMu.Unlock()
	if err := s.guard.Check(); err != nil {
		return nil, fmt.Errorf("%w: creating the future log of %s-%d: %w", ErrStorage, k.topic, k.partition, err)
	}
	f, err := s.openPartitionIn(k.topic, k.partition, uniqueDirName(k, futureDirSuffix), cfg, true)
	if err != nil {
		if !errors.Is(err, ErrStorage) {
			err = fmt.Errorf("%w: %w", ErrStorage, err)
		}
		return nil, fmt.Errorf("logstore: creating the future log of %s-%d: %w", k.topic, k.partition, err)
	}
	if err := ensurePartitionMetadata(s.fs, f.lc().dir, cfg.TopicID); err != nil {
		s.dropFuture(k, f)
		return nil, fmt.Errorf("%w: logstore: creating the future log of %s-%d: %w", ErrStorage, k.topic, k.partition, err)
	}
	s.mu.Lock()
	s.futures[k] = f
	s.mu.Unlock()
	return f, nil
}

// dropFuture closes and deletes a future log (a cancelled move).
func (s *Store) dropFuture(k partKey, f *Partition) {
	s.mu.Lock()
	if s.futures[k] == f {
		delete(s.futures, k)
	}
	s.mu.Unlock()
	_ = f.close(false)
	l := f.lc()
	dir := l.dir
	tomb := filepath.Join(s.dir, uniqueDirName(k, deleteDirSuffix))
	if err := s.fs.Rename(dir, tomb); err == nil {
		dir = tomb
		_ = syncDir(s.fs, s.dir)
	}
	if err := s.fs.RemoveAll(dir); err != nil {
		s.log.Warn("logstore: removing a future log", "dir", dir, "err", err)
	}
	if err := s.dropPartitionIndex(k, l.pid); err != nil {
		s.log.Warn("logstore: dropping a future log's index", "dir", dir, "err", err)
	}
}

// deleteDirSuffix ends a directory being deleted (Kafka's -delete).
const deleteDirSuffix = "-delete"

// startMove runs the mover of k. resumed: the future log is from before a
// restart and may hold what the current log lost in the crash; it is cut
// back to where the current log agrees (Kafka's alter-log-dirs thread
// truncates by leader epoch the same way).
func (s *Store) startMove(k partKey, src, fut *Partition, dest *Store, resumed bool) {
	m := &move{k: k, src: src, fut: fut, dest: dest, stop: make(chan struct{}), done: make(chan struct{})}
	m.gen = src.truncations.Load()
	src.cleanPaused.Store(true)
	fut.cleanPaused.Store(true)
	if resumed {
		s.reconcileFuture(m)
	}
	s.jb.mu.Lock()
	s.jb.moves[k] = m
	s.jb.mu.Unlock()
	s.jb.wg.Add(1)
	go func() {
		defer s.jb.wg.Done()
		defer close(m.done)
		s.runMove(m)
	}()
}

// reconcileFuture cuts a resumed future log back to the end of its latest
// leader epoch in the current log, and to the current log's end.
func (s *Store) reconcileFuture(m *move) {
	eps, err := m.fut.LeaderEpochs()
	if err != nil || m.fut.LogEndOffset() == m.fut.LogStartOffset() {
		return
	}
	end := m.src.LogEndOffset()
	if len(eps) > 0 {
		last := eps[len(eps)-1].Epoch
		ep, e, err := m.src.EndOffsetForEpoch(last)
		if err != nil || ep != last {
			end = -1
		} else {
			end = min(end, e)
		}
	}
	if end < 0 || end < m.fut.LogStartOffset() {
		_, _ = m.fut.TruncateFullyAndStartAt(m.src.LogStartOffset())
	} else if end < m.fut.LogEndOffset() {
		_, _ = m.fut.TruncateTo(end)
	}
}

// cancelMove stops a move and deletes its future log.
func (s *Store) cancelMove(m *move) {
	close(m.stop)
	<-m.done
	s.jb.mu.Lock()
	if s.jb.moves[m.k] == m {
		delete(s.jb.moves, m.k)
	}
	s.jb.mu.Unlock()
	if !m.fut.closed.Load() {
		m.dest.dropFuture(m.k, m.fut)
	}
}

// runMove copies the current log into the future log until they are
// equal, then swaps them (Kafka's ReplicaAlterLogDirsThread, fetching
// from the local log up to its end, and Partition's
// maybeReplaceCurrentWithFutureReplica).
func (s *Store) runMove(m *move) {
	defer func() {
		s.jb.mu.Lock()
		if s.jb.moves[m.k] == m {
			delete(s.jb.moves, m.k)
		}
		s.jb.mu.Unlock()
		m.src.cleanPaused.Store(false)
	}()
	var lastErr string
	for {
		select {
		case <-m.stop:
			return
		default:
		}
		done, wait, err := s.moveStep(m)
		if done {
			return
		}
		if errors.Is(err, errThrottled) {
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-m.stop:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		if err != nil {
			if errors.Is(err, ErrPartitionClosed) && (m.src.closed.Load() || m.fut.closed.Load()) {
				return
			}
			if err.Error() != lastErr {
				s.log.Warn("logstore: moving a partition between log dirs; retrying", "topic", m.k.topic, "partition", m.k.partition, "err", err)
				lastErr = err.Error()
			}
			wait = nil
		}
		if wait == nil && err == nil {
			continue
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-m.stop:
			t.Stop()
			return
		case <-wait:
		case <-t.C:
		}
		t.Stop()
	}
}

// moveStep copies one chunk, or swaps when the future log has caught up.
// wait, if not nil, is to be waited on (with a timeout) before the next
// step.
func (s *Store) moveStep(m *move) (done bool, wait <-chan struct{}, err error) {
	src, fut := m.src, m.fut
	if src.closed.Load() || fut.closed.Load() {
		return false, nil, ErrPartitionClosed
	}
	if g := src.truncations.Load(); g != m.gen {
		// The current log was truncated (a follower's truncation):
		// what was copied may differ from it now. Start over.
		m.gen = g
		if _, err := fut.TruncateFullyAndStartAt(src.LogStartOffset()); err != nil {
			return false, nil, err
		}
	}
	ls, leo := src.LogStartOffset(), src.LogEndOffset()
	if fut.LogEndOffset() < ls || fut.LogEndOffset() > leo {
		if _, err := fut.TruncateFullyAndStartAt(ls); err != nil {
			return false, nil, err
		}
	}
	if fl := fut.LogEndOffset(); fl < leo {
		if q := s.jb.quota; q != nil && q.Exceeded() {
			// Kafka's alter-log-dirs thread leaves a partition out
			// of its fetch while the quota is exceeded.
			return false, nil, errThrottled
		}
		wait := src.Wait()
		n, err := copyChunk(src, fut)
		if q := s.jb.quota; q != nil {
			q.Record(n)
		}
		if err != nil || n >= moveFetchBytes/2 {
			return false, nil, err // far behind: copy on
		}
		if n == 0 && fut.LogEndOffset() < src.LogEndOffset() {
			return false, wait, nil // a batch not published yet
		}
	}
	if ls > fut.LogStartOffset() {
		if _, err := fut.DeleteRecordsBefore(ls); err != nil {
			return false, nil, err
		}
	}
	wait = src.Wait()
	swapped, err := s.swap(m)
	if err != nil || swapped {
		return swapped, nil, err
	}
	return false, wait, nil
}

// copyChunk appends to fut what src holds from fut's end, at most
// moveFetchBytes; n is the bytes copied.
func copyChunk(src, fut *Partition) (n int, err error) {
	res, err := src.ReadReplica(fut.LogEndOffset(), moveFetchBytes)
	if err != nil {
		if errors.Is(err, ErrOffsetOutOfRange) {
			return 0, nil // retention moved the start: the next step follows it
		}
		return 0, err
	}
	defer res.Release()
	if len(res.Batches) == 0 {
		return 0, nil
	}
	if _, err := fut.AppendReplica(res.Batches); err != nil {
		return 0, err
	}
	return len(res.Batches), nil
}

// syncAll fsyncs every segment of the log and its directory.
func (p *Partition) syncAll() error {
	p.mu.RLock()
	segs := make([]*segment, 0, len(p.segs))
	for _, sg := range p.segs {
		if sg.acquire() {
			segs = append(segs, sg)
		}
	}
	p.mu.RUnlock()
	var err error
	for _, sg := range segs {
		if err == nil {
			if e := sg.f.Sync(); e != nil {
				err = fmt.Errorf("%w: fsync %s: %w", ErrStorage, sg.path, e)
			}
		}
		sg.release()
	}
	if err == nil {
		err = syncDir(p.st().fs, p.lc().dir)
	}
	return err
}

// swap replaces the current log with the future log if they are equal
// (same log start and end, no truncation since the copy began): Kafka's
// LogManager.replaceCurrentWithFutureLog, done while the partition takes
// no writes (its appendMu and retMu held, as Kafka holds the partition's
// leaderIsrUpdateLock). The order of renames is the crash rule: the
// current log's directory is first renamed to <name>.<id>-delete, then
// the future log's to <name>; a crash between them leaves a future log
// without a current log, which Open promotes. The *Partition value stays
// the same, so its holders (the replica manager, coordinators, requests
// in flight) keep using it: its location, segments, index, producer
// state and leader-epoch cache become the future log's.
func (s *Store) swap(m *move) (bool, error) {
	src, fut := m.src, m.fut
	// Most of the fsync before the partition stops taking writes.
	if err := fut.syncAll(); err != nil {
		return false, err
	}
	// A cleaning that began before the move (it ends soon). Checked
	// before taking the partition's locks: the cleaner holds cleaner.mu
	// while it takes them (rollIdle, cleanerCheckpoint). Once the check
	// passed, no cleaning of src can begin before the mover ends:
	// cleanPaused was set before the mover started, and a selection
	// that ran earlier has marked busy by now.
	from := src.lc()
	from.store.cleaner.mu.Lock()
	cleaning := from.store.cleaner.busy[src]
	from.store.cleaner.mu.Unlock()
	if cleaning {
		return false, nil
	}
	src.cleanMu.Lock()
	defer src.cleanMu.Unlock()
	src.retMu.Lock()
	defer src.retMu.Unlock()
	src.appendMu.Lock()
	defer src.appendMu.Unlock()
	if src.closed.Load() {
		return false, ErrPartitionClosed
	}
	// Writers wait from here: copy what they wrote since the last step
	// (a bounded tail, as the move only swaps when it is near the end).
	for fut.leo.Load() < src.leo.Load() {
		n, err := copyChunk(src, fut)
		if err != nil {
			return false, err
		}
		if n == 0 {
			break
		}
	}
	if ls := src.logStart.Load(); ls > fut.logStart.Load() {
		if _, err := fut.DeleteRecordsBefore(ls); err != nil {
			return false, err
		}
	}
	if src.leo.Load() != fut.leo.Load() || src.logStart.Load() != fut.logStart.Load() || src.truncations.Load() != m.gen {
		return false, nil // more to copy
	}
	fut.retMu.Lock()
	defer fut.retMu.Unlock()
	fut.appendMu.Lock()
	defer fut.appendMu.Unlock()
	if fut.closed.Load() {
		return false, ErrPartitionClosed
	}
	// The leader-epoch cache is the current log's: the copy rebuilt it
	// from the batches, which lack an epoch started at the log end with
	// nothing written in it yet (AssignEpochStart).
	src.epochMu.Lock()
	err := src.loadEpochsLocked()
	eps := append([]EpochEntry(nil), src.epochs...)
	src.epochMu.Unlock()
	if err != nil {
		return false, err
	}
	fut.epochMu.Lock()
	fut.epochs, fut.epochsLoaded = eps, true
	fut.publishLatestEpochLocked()
	err = fut.writeEpochsLocked()
	fut.epochMu.Unlock()
	if err != nil {
		return false, err
	}
	if err := fut.syncAll(); err != nil {
		return false, err
	}
	to := fut.lc()
	name := m.k.topic + "-" + strconv.Itoa(int(m.k.partition))
	tomb := filepath.Join(from.store.dir, uniqueDirName(m.k, deleteDirSuffix))
	final := filepath.Join(to.store.dir, name)
	if err := from.store.fs.Rename(from.dir, tomb); err != nil {
		return false, fmt.Errorf("%w: renaming %s for deletion: %w", ErrStorage, from.dir, err)
	}
	// undo renames the current log's directory back after a failure
	// past the first rename, and fsyncs that before the log takes
	// writes again: a crash that found the directory still named for
	// deletion would delete them with it.
	undo := func(err error) (bool, error) {
		berr := from.store.fs.Rename(tomb, from.dir)
		if berr == nil {
			berr = syncDir(from.store.fs, from.store.dir)
		}
		if berr != nil {
			// The current log's directory is (or may be) gone for
			// the next start, which will promote the future log: it
			// is complete and fsynced, and nothing may be written
			// to the current log any more, or it would be lost.
			// The partition refuses writes and reads
			// (ErrPartitionClosed: NOT_LEADER_OR_FOLLOWER) until
			// the broker restarts, as a failed log dir would be.
			src.closed.Store(true)
			s.log.Error("logstore: a move between log dirs failed half-way; the partition is offline until the next start, which completes the move",
				"topic", m.k.topic, "partition", m.k.partition, "deleted_dir", tomb, "future_dir", to.dir, "err", errors.Join(err, berr))
		}
		return false, err
	}
	// The first rename must be on disk before the second: a crash
	// between them must find the current log gone (the future log is
	// promoted), never both logs current ("duplicate log directories").
	if err := syncDir(from.store.fs, from.store.dir); err != nil {
		return undo(fmt.Errorf("%w: fsync of %s after renaming %s for deletion: %w", ErrStorage, from.store.dir, from.dir, err))
	}
	if err := to.store.fs.Rename(to.dir, final); err != nil {
		return undo(fmt.Errorf("%w: renaming future log %s: %w", ErrStorage, to.dir, err))
	}
	_ = syncDir(to.store.fs, to.store.dir)
	// Background fsyncs of the future log's rolled segments still
	// running are not waited for (bg is the whole dir's, and other logs
	// keep adding to it): they took their segment's path when they
	// started, and fut.syncAll above already made their work durable.

	src.epochMu.Lock()
	fut.epochMu.Lock()
	src.mu.Lock()
	fut.mu.Lock()
	oldSegs, oldBatch := src.segs, src.idxBatch
	for _, sg := range fut.segs {
		sg.path = filepath.Join(final, filepath.Base(sg.path))
	}
	src.segs, src.active, src.idxBatch = fut.segs, fut.active, fut.idxBatch
	src.maxTs, src.maxTsOffset = fut.maxTs, fut.maxTsOffset
	src.producers = fut.producers
	src.epochs, src.epochsLoaded = fut.epochs, fut.epochsLoaded
	src.latestEpoch.Store(fut.latestEpoch.Load())
	src.firstUnstable.Store(fut.firstUnstable.Load())
	src.lastAborted.Store(fut.lastAborted.Load())
	src.tombstoneDue.Store(0)
	src.dirtyTail = fut.dirtyTail
	src.pendingSwap = nil // its files went with the old directory
	src.ckptLoaded = false
	src.loc.Store(&partLoc{store: to.store, pid: to.pid, dir: final})
	src.swapSeq.Add(1)
	fut.segs, fut.active, fut.idxBatch = nil, nil, nil
	fut.closed.Store(true)
	fut.mu.Unlock()
	src.mu.Unlock()
	fut.epochMu.Unlock()
	src.epochMu.Unlock()

	to.store.mu.Lock()
	delete(to.store.futures, m.k)
	to.store.parts[m.k] = src
	to.store.mu.Unlock()
	from.store.mu.Lock()
	if from.store.parts[m.k] == src {
		delete(from.store.parts, m.k)
	}
	from.store.mu.Unlock()

	if oldBatch != nil {
		_ = oldBatch.Close()
	}
	for _, sg := range oldSegs {
		sg.release()
	}
	// The old index data goes now (in-memory Pebble writes), so that a
	// later move back into that dir gets a fresh index id; a reader
	// that looked there before the swap retries on swapSeq. The files
	// go in the background (Close waits for it with the movers).
	if err := from.store.dropPartitionIndex(m.k, from.pid); err != nil {
		s.log.Warn("logstore: dropping the moved log's index", "dir", from.store.dir, "err", err)
	}
	s.jb.wg.Add(1) // the mover itself is counted: Close has not waited yet
	go func() {
		defer s.jb.wg.Done()
		if err := from.store.fs.RemoveAll(tomb); err != nil {
			s.log.Warn("logstore: removing the moved log", "dir", tomb, "err", err)
		}
	}()
	s.log.Info("logstore: moved a partition between log dirs", "topic", m.k.topic, "partition", m.k.partition,
		"from", from.store.dir, "to", to.store.dir, "log_end_offset", src.leo.Load())
	return true, nil
}

// createJBOD is CreatePartition on a multi-dir store: the log goes to the
// dir AlterLogDir remembered for it, else to the dir with the fewest logs
// (current and future; ties to the earlier dir in log.dirs), Kafka's
// LogManager.nextLogDirs. The caller holds createMu and has checked that
// no dir hosts the partition yet.
func (s *Store) createJBOD(k partKey, cfg PartitionConfig) (*Partition, error) {
	s.jb.mu.Lock()
	i, pref := s.jb.preferred[k]
	s.jb.mu.Unlock()
	if !pref {
		i = s.nextLogDir()
	}
	p, err := s.kids[i].CreatePartition(k.topic, k.partition, cfg)
	if err != nil {
		return nil, err
	}
	s.jb.mu.Lock()
	delete(s.jb.preferred, k)
	s.jb.mu.Unlock()
	s.mu.Lock()
	s.parts[k] = p
	s.mu.Unlock()
	return p, nil
}

// nextLogDir is the index of the dir with the fewest logs.
func (s *Store) nextLogDir() int {
	best, bestN := 0, -1
	for i, kid := range s.kids {
		kid.mu.RLock()
		n := len(kid.parts) + len(kid.futures)
		kid.mu.RUnlock()
		if bestN < 0 || n < bestN {
			best, bestN = i, n
		}
	}
	return best
}

// deleteJBOD is deletePartitions on a multi-dir store: moves of the
// partitions are cancelled (their future logs deleted first, so that a
// crash cannot leave a future log to be promoted), then every dir deletes
// its logs.
func (s *Store) deleteJBOD(topic string, partition int32) error {
	s.createMu.Lock()
	defer s.createMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrPartitionClosed
	}
	for k := range s.parts {
		if k.topic == topic && (partition < 0 || k.partition == partition) {
			delete(s.parts, k)
		}
	}
	s.mu.Unlock()
	s.jb.mu.Lock()
	var ms []*move
	for k, m := range s.jb.moves {
		if k.topic == topic && (partition < 0 || k.partition == partition) {
			ms = append(ms, m)
		}
	}
	for k := range s.jb.preferred {
		if k.topic == topic && (partition < 0 || k.partition == partition) {
			delete(s.jb.preferred, k)
		}
	}
	s.jb.mu.Unlock()
	for _, m := range ms {
		s.cancelMove(m)
	}
	var errs []error
	for _, kid := range s.kids {
		errs = append(errs, kid.deletePartitions(topic, partition))
	}
	return errors.Join(errs...)
}

// closeJBOD stops the moves (their future logs stay, and resume at the
// next Open) and closes every dir.
func (s *Store) closeJBOD() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.createMu.Lock()
	defer s.createMu.Unlock()
	s.jb.mu.Lock()
	for _, m := range s.jb.moves {
		close(m.stop)
	}
	s.jb.mu.Unlock()
	s.jb.wg.Wait()
	var errs []error
	for _, kid := range s.kids {
		errs = append(errs, kid.Close())
	}
	return errors.Join(errs...)
}

// Moving reports whether a move of the partition between log dirs is in
// progress, and to which dir.
func (s *Store) Moving(topic string, partition int32) (dir string, ok bool) {
	if s.jb == nil {
		return "", false
	}
	s.jb.mu.Lock()
	defer s.jb.mu.Unlock()
	m := s.jb.moves[partKey{topic, partition}]
	if m == nil {
		return "", false
	}
	d, _ := filepath.Abs(m.dest.dir)
	return d, true
}

// PreferLogDir remembers dir (an absolute path of Dirs) as the log dir to
// create the partition's log in when it has none yet, as Kafka's
// LogManager.maybeUpdatePreferredLogDir does for an AlterReplicaLogDirs
// that names a replica the broker does not host (yet). A log that exists
// is not moved. Errors: kerr.LogDirNotFound.
func (s *Store) PreferLogDir(topic string, partition int32, dir string) error {
	i := s.dirIndex(dir)
	if i < 0 || !filepath.IsAbs(dir) {
		return fmt.Errorf("%w: %s is not a log dir of this broker", kerr.LogDirNotFound, dir)
	}
	if s.jb == nil {
		return nil
	}
	k := partKey{topic, partition}
	s.createMu.Lock()
	defer s.createMu.Unlock()
	s.mu.RLock()
	_, ok := s.parts[k]
	s.mu.RUnlock()
	if !ok {
		s.jb.mu.Lock()
		s.jb.preferred[k] = i
		s.jb.mu.Unlock()
	}
	return nil
}
