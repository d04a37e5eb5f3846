package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"samsa/internal/diskguard"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

// noSync is the write option of every index write (see index).
var noSync = pebble.NoSync

// cleanShutdownFile marks, in the log dir, that the last Close finished:
// without it Open re-validates the last segment of every partition from
// its start (Kafka's .kafka_cleanshutdown plays the same role).
const cleanShutdownFile = ".samsa-clean-shutdown"

// defaultProducerIDExpiration is Kafka's producer.id.expiration.ms default.
const defaultProducerIDExpiration = 24 * time.Hour

// Options configures a Store.
type Options struct {
	Dir      string // the log dir partitions live in
	IndexDir string // the Pebble index DB directory (callers pass <logdir>/.samsa-index); deleting it is harmless
	// FS is the file system for segments and checkpoints; nil means the
	// OS. Tests wrap it to inject write errors and torn writes.
	FS FS
	// IndexFS is the Pebble file system of the index (nil: the OS); the
	// broker passes the disk guard's wrapper, tests inject faults with
	// Pebble's vfs/errorfs.
	IndexFS vfs.FS
	// Guard, if set, is the log dir's disk-full state: appends and new
	// partitions are refused while it is full, and ENOSPC from segment
	// writes is reported to it. See "Storage faults" in doc.go.
	Guard  *diskguard.Guard
	Logger *slog.Logger
	Now    func() time.Time // nil -> time.Now; retention, roll and LogAppendTime use it
	// ProducerIDExpiration is producer.id.expiration.ms: producer state
	// idle this long is forgotten by RunRetention. 0 means Kafka's 24h.
	ProducerIDExpiration time.Duration
	// ConfigFor, if set, gives the config of partitions that Open finds
	// on disk, so that retention and rolling follow the topic's settings
	// from the first pass rather than after the first CreatePartition or
	// SetConfig. ok=false (or a nil ConfigFor) means the default: 1 GiB
	// segments, no retention, no forced flush.
	ConfigFor func(topic string, partition int32) (cfg PartitionConfig, ok bool)
	// MoveStrays makes Open move aside, as <dir>.<uuid>-stray, every
	// partition directory that ConfigFor does not claim or whose
	// partition.metadata names another topic id than ConfigFor's config,
	// instead of serving it (Kafka's stray logs). CreatePartition then
	// also refuses to adopt a directory recording another topic id. The
	// broker sets it; stores used without cluster metadata do not.
	MoveStrays bool
	// ExtraDirs are the further directories of log.dirs (JBOD, jbod.go):
	// each is an independent log dir with its own partitions and index,
	// Dir being the first. New partitions go to the dir with the fewest
	// logs (Kafka's LogManager.nextLogDirs) and AlterLogDir moves a
	// partition between them. Empty: one log dir, as before.
	ExtraDirs []DirOptions
	// MoveQuota, if set, throttles the copying of moves between log
	// dirs (replica.alter.log.dirs.io.max.bytes.per.second).
	MoveQuota MoveQuota
	// jbodDir marks a log dir opened by a multi-dir Store (it loads
	// future logs); a lone log dir leaves -future directories alone.
	jbodDir bool
	// Cleaner is the log cleaner's configuration (log.cleaner.*); nil
	// or Enable false runs no cleaner threads (Store.CleanNow still
	// works).
	Cleaner *CleanerConfig
}

type partKey struct {
	topic     string
	partition int32
}

// Store holds every partition log of one log dir and the shared Pebble
// index.
type Store struct {
	dir                string
	fs                 FS
	guard              *diskguard.Guard
	log                *slog.Logger
	now                func() time.Time
	producerExpiration time.Duration
	configFor          func(string, int32) (PartitionConfig, bool)
	moveStrays         bool
	idx                index
	dirLock            io.Closer

	// createMu serialises CreatePartition and DeleteTopic, which do I/O
	// outside mu so that partition lookups never wait for a disk.
	createMu sync.Mutex
	// strays (guarded by createMu, written by Open before any other
	// call) holds the partition directories Open found unclaimed but
	// could not rename: CreatePartition must move them aside before it
	// may create the partition anew.
	strays map[partKey]string

	// mu guards parts and closed. It is never held during I/O or while
	// taking a partition's locks.
	mu     sync.RWMutex
	parts  map[partKey]*Partition
	closed bool

	// idMu guards the partition id allocation state below.
	idMu   sync.Mutex
	ids    map[partKey]uint32
	nextID uint32

	bg sync.WaitGroup // background fsyncs of rolled segments

	cleaner cleaner // log compaction (cleaner.go)

	stopFlush, flushDone chan struct{} // flushLoop

	// flushMu guards flushCall, the index flush that flushIndex started
	// and that may still run after its caller gave up (Pebble retries a
	// failing flush without end): later callers wait for it rather than
	// start another goroutine blocked in the same flush.
	flushMu   sync.Mutex
	flushCall *flushCall

	// JBOD (jbod.go). On the Store Open returns for several log dirs,
	// kids are the single-dir stores, one per log dir in log.dirs order,
	// and jb the moves between them; parts then holds every current log
	// of every kid (the same *Partition values). On a kid, futures
	// (guarded by mu) holds the future logs of moves into this dir.
	kids    []*Store
	jb      *jbod
	futures map[partKey]*Partition
}

// flushCall is one db.Flush run by flushIndex; err is set before done closes.
type flushCall struct {
	done chan struct{}
	err  error
}

// Open opens the store in opts.Dir: it opens (or, if it is unusable,
// recreates) the index, finds every partition directory and recovers it
// (see recover), and drops index data of partitions that no longer exist.
// Partitions found on disk get their config from Options.ConfigFor, or a
// default (1 GiB segments, no retention) until the caller applies theirs
// with CreatePartition or SetConfig.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("logstore: Options.Dir is required")
	}
	if len(opts.ExtraDirs) > 0 {
		return openJBOD(opts)
	}
	if opts.IndexDir == "" {
		opts.IndexDir = filepath.Join(opts.Dir, ".samsa-index")
	}
	s := &Store{
		dir:                opts.Dir,
		fs:                 opts.FS,
		guard:              opts.Guard,
		log:                opts.Logger,
		now:                opts.Now,
		producerExpiration: opts.ProducerIDExpiration,
		configFor:          opts.ConfigFor,
		moveStrays:         opts.MoveStrays,
		strays:             make(map[partKey]string),
		parts:              make(map[partKey]*Partition),
		futures:            make(map[partKey]*Partition),
		ids:                make(map[partKey]uint32),
		nextID:             1,
	}
	if s.fs == nil {
		s.fs = OSFS{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.producerExpiration <= 0 {
		s.producerExpiration = defaultProducerIDExpiration
	}
	if err := s.fs.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("logstore: creating log dir: %w", err)
	}
	lock, err := lockDir(s.dir)
	if err != nil {
		return nil, err
	}
	s.dirLock = lock
	ok := false
	defer func() {
		if !ok && s.dirLock != nil {
			_ = s.dirLock.Close()
		}
	}()

	marker := filepath.Join(s.dir, cleanShutdownFile)
	_, err = s.fs.Stat(marker)
	clean := err == nil
	if clean {
		if err := s.fs.Remove(marker); err != nil {
			return nil, fmt.Errorf("logstore: removing clean-shutdown marker: %w", err)
		}
		_ = syncDir(s.fs, s.dir)
	}

	db, fresh, err := openIndexDB(opts.IndexDir, s.log, opts.IndexFS, &s.idx)
	if err != nil {
		return nil, err
	}
	s.idx.db = db
	if fresh {
		s.log.Info("logstore: index is new; rebuilding it from segments", "index_dir", opts.IndexDir)
	}
	if err := s.loadIDs(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("logstore: reading partition ids: %w", err)
	}

	dirents, err := s.fs.ReadDir(s.dir)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("logstore: listing log dir: %w", err)
	}
	var keys []partKey
	var cfgs []PartitionConfig
	var futureDirs []string
	for _, de := range dirents {
		if !de.IsDir() {
			continue
		}
		name := de.Name()
		if isDeletedDir(name) {
			// A DeleteTopic interrupted by a crash.
			if err := s.fs.RemoveAll(filepath.Join(s.dir, name)); err != nil {
				s.log.Warn("logstore: removing deleted partition dir", "dir", name, "err", err)
			}
			continue
		}
		if isStrayDir(name) {
			continue
		}
		if isFutureDir(name) {
			futureDirs = append(futureDirs, name)
			continue
		}
		if topic, part, ok := parsePartitionDir(name); ok {
			k := partKey{topic, part}
			cfg, serve := s.claimPartitionDir(k, name)
			if !serve {
				if _, err := s.fs.Stat(filepath.Join(s.dir, name)); err == nil {
					s.strays[k] = name
				}
				continue
			}
			keys = append(keys, k)
			cfgs = append(cfgs, cfg)
		}
	}
	if err := s.recoverAll(keys, cfgs, clean); err != nil {
		s.closeAll()
		_ = db.Close()
		return nil, err
	}
	if !opts.jbodDir && len(futureDirs) > 0 {
		s.log.Warn("logstore: future logs of a move between log dirs found, but log.dirs has one dir: left alone", "dir", s.dir, "future_logs", futureDirs)
		futureDirs = nil
	}
	if err := s.loadFutures(futureDirs, clean); err != nil {
		s.closeAll()
		_ = db.Close()
		return nil, err
	}
	s.dropOrphans()
	ok = true
	s.stopFlush, s.flushDone = make(chan struct{}), make(chan struct{})
	go s.flushLoop(IndexFlushInterval) // read here: tests change it between stores
	ccfg := CleanerConfig{}
	if opts.Cleaner != nil {
		ccfg = *opts.Cleaner
	}
	s.startCleaner(ccfg)
	return s, nil
}

// IndexFlushInterval is how often the index memtable is flushed when it
// has changed. The index has no WAL, so this bounds what a crash (kill -9)
// loses of it, and so how much of the segments the next Open re-indexes;
// Kafka similarly re-validates the log after its last recovery-point
// checkpoint (log.flush.offset.checkpoint.interval.ms, 60s).
var IndexFlushInterval = 10 * time.Second

// flushLoop flushes the index every IndexFlushInterval (every) if it changed,
// unless the disk is full or flushes are failing (Pebble retries those).
func (s *Store) flushLoop(every time.Duration) {
	defer close(s.flushDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stopFlush:
			return
		case <-t.C:
		}
		if !s.idx.dirty.Load() || s.guard.Full() || s.idx.writable() != nil {
			continue
		}
		s.idx.dirty.Store(false)
		s.idx.mu.RLock()
		if !s.idx.closed {
			if _, err := s.idx.db.AsyncFlush(); err != nil {
				s.log.Warn("logstore: periodic index flush", "err", err)
			}
		}
		s.idx.mu.RUnlock()
	}
}

// defaultPartitionConfig applies to partitions found on disk until the
// caller sets theirs: roll at Kafka's default segment size, delete nothing.
var defaultPartitionConfig = PartitionConfig{SegmentBytes: 1 << 30, RetentionBytes: -1, RetentionMs: -1}

// recoverAll recovers partitions in parallel: recovery is I/O bound and
// independent per partition (Kafka's num.recovery.threads.per.data.dir).
func (s *Store) recoverAll(keys []partKey, cfgs []PartitionConfig, clean bool) error {
	workers := min(max(runtime.GOMAXPROCS(0), 2), 8)
	jobs := make(chan int)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				k := keys[i]
				p, err := s.openPartition(k.topic, k.partition, cfgs[i], clean)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("logstore: recovering %s-%d: %w", k.topic, k.partition, err))
				} else {
					s.parts[k] = p
				}
				mu.Unlock()
			}
		}()
	}
	for i := range keys {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Store) openPartition(topic string, part int32, cfg PartitionConfig, clean bool) (*Partition, error) {
	return s.openPartitionIn(topic, part, topic+"-"+strconv.Itoa(int(part)), cfg, clean)
}

// openPartitionIn opens the partition log in directory dirName of the
// log dir (<topic>-<partition>, or a future log's directory).
func (s *Store) openPartitionIn(topic string, part int32, dirName string, cfg PartitionConfig, clean bool) (*Partition, error) {
	pid, err := s.partitionID(topic, part)
	if err != nil {
		return nil, err
	}
	p := &Partition{
		topic:     topic,
		partition: part,
		log:       s.log,
		idxBatch:  s.idx.db.NewBatch(),
	}
	p.loc.Store(&partLoc{store: s, pid: pid, dir: filepath.Join(s.dir, dirName)})
	p.cfg.Store(&cfg)
	p.latestEpoch.Store(epochNotLoaded)
	if err := p.recover(clean); err != nil {
		_ = p.idxBatch.Close()
		return nil, err
	}
	return p, nil
}

// Partition returns an open partition.
func (s *Store) Partition(topic string, partition int32) (*Partition, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, false
	}
	p, ok := s.parts[partKey{topic, partition}]
	return p, ok
}

// Partitions returns every open partition log, for reports over the whole
// log dir (DescribeLogDirs).
func (s *Store) Partitions() []*Partition { return s.partitions() }

// Dir is the log dir the store lives in.
func (s *Store) Dir() string { return s.dir }

func (s *Store) partitions() []*Partition {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ps := make([]*Partition, 0, len(s.parts))
	for _, p := range s.parts {
		ps = append(ps, p)
	}
	return ps
}

// hosted returns the open partition k, if any; ErrPartitionClosed once
// the store is closed.
func (s *Store) hosted(k partKey) (*Partition, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, false, ErrPartitionClosed
	}
	p, ok := s.parts[k]
	return p, ok, nil
}

// CreatePartition opens the partition, creating its directory and first
// segment if needed, and applies cfg. It is idempotent, so the broker can
// call it for every partition it hosts at startup to hand over configs.
func (s *Store) CreatePartition(topic string, partition int32, cfg PartitionConfig) (*Partition, error) {
	if err := validTopic(topic); err != nil {
		return nil, err
	}
	if partition < 0 {
		return nil, fmt.Errorf("%w: partition %d", kerr.InvalidPartitions, partition)
	}
	k := partKey{topic, partition}
	s.createMu.Lock()
	defer s.createMu.Unlock()
	p, ok, err := s.hosted(k)
	if err != nil {
		return nil, err
	}
	if ok {
		p.SetConfig(cfg)
		return p, nil
	}
	if s.kids != nil {
		return s.createJBOD(k, cfg)
	}
	if err := s.guard.Check(); err != nil {
		return nil, fmt.Errorf("%w: creating %s-%d: %w", ErrStorage, topic, partition, err)
	}
	if err := s.adoptableLocked(k, cfg.TopicID); err != nil {
		return nil, fmt.Errorf("logstore: creating %s-%d: %w", topic, partition, err)
	}
	p, err = s.openPartition(topic, partition, cfg, true)
	if err != nil {
		s.guard.Note(err)
		if !errors.Is(err, ErrStorage) {
			err = fmt.Errorf("%w: %w", ErrStorage, err)
		}
		return nil, fmt.Errorf("logstore: creating %s-%d: %w", topic, partition, err)
	}
	if err := ensurePartitionMetadata(s.fs, p.lc().dir, cfg.TopicID); err != nil {
		_ = p.close(false)
		return nil, fmt.Errorf("%w: logstore: creating %s-%d: %w", ErrStorage, topic, partition, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = p.close(true)
		return nil, ErrPartitionClosed
	}
	s.parts[k] = p
	s.mu.Unlock()
	return p, nil
}

// DeleteTopic closes every partition of the topic, removes their
// directories and their index data. Readers in the middle of a read finish
// it; later calls on the partitions return ErrPartitionClosed. The
// directories are first renamed to <name>.<nanos>-delete (atomic), so a
// crash midway does not resurrect a half-deleted partition.
func (s *Store) DeleteTopic(topic string) error {
	return s.deletePartitions(topic, -1)
}

// DeletePartition is DeleteTopic for one partition (a StopReplica with
// delete set: Kafka's ReplicaManager.stopReplicas with deletePartition).
func (s *Store) DeletePartition(topic string, partition int32) error {
	return s.deletePartitions(topic, partition)
}

// deletePartitions deletes the topic's partitions (all when partition < 0).
func (s *Store) deletePartitions(topic string, partition int32) error {
	if s.kids != nil {
		return s.deleteJBOD(topic, partition)
	}
	s.createMu.Lock()
	defer s.createMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrPartitionClosed
	}
	var victims []*Partition
	for k, p := range s.parts {
		if k.topic == topic && (partition < 0 || k.partition == partition) {
			victims = append(victims, p)
			delete(s.parts, k)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, p := range victims {
		_ = p.close(false)
		dir := p.lc().dir
		tomb := fmt.Sprintf("%s.%d-delete", p.lc().dir, time.Now().UnixNano())
		if err := s.fs.Rename(p.lc().dir, tomb); err == nil {
			dir = tomb
			_ = syncDir(s.fs, s.dir)
		}
		if err := s.fs.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("%w: removing %s: %w", ErrStorage, dir, err))
		}
		if err := s.dropPartitionIndex(partKey{p.topic, p.partition}, p.lc().pid); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close fsyncs every active segment, closes all files, flushes and closes
// the index, and marks the shutdown clean.
func (s *Store) Close() error {
	if s.kids != nil {
		return s.closeJBOD()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	// Wait for CreatePartition and DeleteTopic, which write to the index
	// outside the partitions' locks.
	s.stopCleaner()
	s.createMu.Lock()
	defer s.createMu.Unlock()
	close(s.stopFlush)
	<-s.flushDone
	errs := []error{s.closeAll()}
	s.bg.Wait()
	indexFlushed := true
	if err := s.flushIndex(); err != nil {
		// Nothing is lost: the segments are on disk, and without the
		// clean-shutdown marker the next Open re-indexes them.
		indexFlushed = false
		s.log.Warn("logstore: index not flushed at close; the next start re-indexes from the segments", "err", err)
	}
	if err := s.idx.close(); err != nil {
		errs = append(errs, fmt.Errorf("logstore: closing index: %w", err))
	}
	err := errors.Join(errs...)
	if err == nil && indexFlushed {
		if werr := writeFileAtomic(s.fs, filepath.Join(s.dir, cleanShutdownFile), nil); werr != nil {
			err = fmt.Errorf("logstore: writing clean-shutdown marker: %w", werr)
		}
	}
	if s.dirLock != nil {
		_ = s.dirLock.Close()
	}
	return err
}

func (s *Store) closeAll() error {
	var errs []error
	s.mu.Lock()
	futs := s.futures
	s.futures = make(map[partKey]*Partition)
	s.mu.Unlock()
	for _, f := range futs {
		if err := f.close(true); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range s.partitions() {
		if err := p.close(true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// flushIndex flushes the index memtables at Close, so that the next Open
// finds the index complete. Pebble retries a failed flush without end, so
// on a full or failing disk this gives up (the shutdown is then not
// clean, and the next Open re-indexes from the segments) instead of
// hanging the shutdown.
func (s *Store) flushIndex() error {
	if err := s.guard.Check(); err != nil {
		return err
	}
	if err := s.idx.writable(); err != nil {
		return err
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		c, mine := s.startIndexFlush()
	wait:
		for {
			select {
			case <-c.done:
				break wait
			case <-t.C:
				if err := s.guard.Check(); err != nil {
					return err
				}
				if err := s.idx.writable(); err != nil {
					return err
				}
			}
		}
		if mine {
			return c.err
		}
		// A flush started before the caller's index writes may not
		// hold them: flush again.
	}
}

// startIndexFlush returns the index flush in flight, or starts one (mine).
func (s *Store) startIndexFlush() (c *flushCall, mine bool) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if s.flushCall != nil {
		return s.flushCall, false
	}
	c = &flushCall{done: make(chan struct{})}
	s.flushCall = c
	go func() {
		c.err = s.idx.db.Flush()
		s.flushMu.Lock()
		s.flushCall = nil
		s.flushMu.Unlock()
		close(c.done)
	}()
	return c, true
}

// syncInBackground fsyncs a rolled segment and the partition directory
// (which got a new file) without blocking the append that rolled.
func (s *Store) syncInBackground(seg *segment, dir string) {
	if !seg.acquire() {
		return
	}
	// The path is read here, under the roller's appendMu: a log-dir
	// move's swap rewrites it (jbod.go) under the same lock.
	path := seg.path
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer seg.release()
		if err := seg.f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			s.log.Error("logstore: fsync of rolled segment", "segment", path, "err", err)
		}
		_ = syncDir(s.fs, dir)
	}()
}

// loadIDs reads the partition id table.
func (s *Store) loadIDs() error {
	if v, closer, err := s.idx.db.Get([]byte{ksNextID}); err == nil {
		if len(v) == 4 {
			s.nextID = max(s.nextID, binary.BigEndian.Uint32(v))
		}
		_ = closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	it, err := s.idx.db.NewIter(&pebble.IterOptions{LowerBound: []byte{ksPartID}, UpperBound: []byte{ksPartID + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		topic, part, ok := parsePartIDKey(it.Key())
		if !ok || len(it.Value()) != 4 {
			continue
		}
		id := binary.BigEndian.Uint32(it.Value())
		s.ids[partKey{topic, part}] = id
		s.nextID = max(s.nextID, id+1)
	}
	return it.Error()
}

// partitionID returns the index id of a partition, allocating and
// persisting one if needed. Ids are never reused, so leftovers of a
// deleted partition can not leak into a recreated one.
func (s *Store) partitionID(topic string, part int32) (uint32, error) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	k := partKey{topic, part}
	if id, ok := s.ids[k]; ok {
		return id, nil
	}
	id := s.nextID
	b := s.idx.db.NewBatch()
	defer b.Close()
	_ = b.Set(partIDKey(topic, part), binary.BigEndian.AppendUint32(nil, id), nil)
	_ = b.Set([]byte{ksNextID}, binary.BigEndian.AppendUint32(nil, id+1), nil)
	// NoSync like every index write (the index has no WAL): if a crash
	// loses this id, it loses everything indexed under it too.
	if err := b.Commit(noSync); err != nil {
		return 0, fmt.Errorf("%w: allocating partition id: %w", ErrStorage, err)
	}
	s.nextID = id + 1
	s.ids[k] = id
	s.idx.markDirty()
	return id, nil
}

// dropPartitionIndex deletes a partition's index data and id.
func (s *Store) dropPartitionIndex(k partKey, pid uint32) error {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	b := s.idx.db.NewBatch()
	defer b.Close()
	err := s.idx.deleteSegmentRange(b, pid, 0, -1)
	if err == nil {
		err = b.Delete(partIDKey(k.topic, k.partition), nil)
	}
	if err == nil {
		err = b.Commit(noSync)
	}
	if err != nil {
		return fmt.Errorf("%w: deleting index of %s-%d: %w", ErrStorage, k.topic, k.partition, err)
	}
	delete(s.ids, k)
	s.idx.markDirty()
	return nil
}

// dropOrphans removes index data of partitions whose directory is gone
// (deleted while the index was not looking, or a crash during DeleteTopic).
func (s *Store) dropOrphans() {
	s.idMu.Lock()
	var orphans []partKey
	for k := range s.ids {
		_, cur := s.parts[k]
		_, fut := s.futures[k]
		if !cur && !fut {
			orphans = append(orphans, k)
		}
	}
	s.idMu.Unlock()
	for _, k := range orphans {
		s.idMu.Lock()
		pid := s.ids[k]
		s.idMu.Unlock()
		if err := s.dropPartitionIndex(k, pid); err != nil {
			s.log.Warn("logstore: dropping orphaned index data", "topic", k.topic, "partition", k.partition, "err", err)
		} else {
			s.log.Info("logstore: dropped index data of a partition without directory", "topic", k.topic, "partition", k.partition)
		}
	}
}

// parsePartitionDir splits "<topic>-<partition>". Topic names may contain
// '-', so the partition is after the last one; it must be a canonical
// non-negative decimal.
func parsePartitionDir(name string) (string, int32, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return "", 0, false
	}
	topic, num := name[:i], name[i+1:]
	n, err := strconv.ParseInt(num, 10, 32)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != num || validTopic(topic) != nil {
		return "", 0, false
	}
	return topic, int32(n), true
}

func isDeletedDir(name string) bool {
	return strings.HasSuffix(name, "-delete") && strings.Contains(name, ".")
}

// validTopic enforces Kafka's legal topic names ([a-zA-Z0-9._-], at most
// 249 characters, not "." or ".."). It matters here because the name
// becomes a directory name.
func validTopic(topic string) error {
	if topic == "" || topic == "." || topic == ".." || len(topic) > 249 {
		return fmt.Errorf("%w: %q", kerr.InvalidTopicException, topic)
	}
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q", kerr.InvalidTopicException, topic)
		}
	}
	return nil
}
