package logstore

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Log compaction: Kafka's LogCleaner, Cleaner and LogCleanerManager (see
// "Log compaction" in doc.go for the algorithm, the swap and its crash
// rules).

// CleanerConfig is the broker's log.cleaner.* settings.
type CleanerConfig struct {
	// Enable is log.cleaner.enable: run the background cleaner threads.
	// Without it compacted topics are not compacted (Kafka the same).
	Enable bool
	// Threads is log.cleaner.threads (default 1): partitions cleaned at
	// once.
	Threads int
	// DedupeBufferSize is log.cleaner.dedupe.buffer.size in bytes
	// (default 128 MiB), split over the threads: the offset map's memory,
	// 24 bytes a key, allocated on a thread's first clean.
	DedupeBufferSize int64
	// IOBufferLoadFactor is log.cleaner.io.buffer.load.factor (0.9): how
	// full the offset map may get.
	IOBufferLoadFactor float64
	// IOBufferSize is log.cleaner.io.buffer.size in bytes (default 512
	// KiB): the read-ahead of segment reads and the write buffer of the
	// cleaned segment.
	IOBufferSize int
	// BackoffMs is log.cleaner.backoff.ms (default 15000): the pause of a
	// thread that found nothing to clean.
	BackoffMs int64
}

// DefaultCleanerConfig is Kafka's defaults.
var DefaultCleanerConfig = CleanerConfig{Enable: true, Threads: 1, DedupeBufferSize: 128 << 20, IOBufferLoadFactor: 0.9, IOBufferSize: 512 << 10, BackoffMs: 15000}

// cleanerCheckpoint is the file, in the partition directory, holding the
// first dirty offset: everything below it was cleaned (Kafka's
// cleaner-offset-checkpoint, kept per partition so it moves and goes with
// the partition). Losing it only costs a re-clean.
const cleanerCheckpoint = "cleaner-offset-checkpoint"

// Suffixes of the cleaner's files (see doc.go, "Log compaction").
const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

func cleanedName(base int64) string { return fmt.Sprintf("%020d%s", base, cleanedSuffix) }

func swapName(base, next int64) string { return fmt.Sprintf("%020d-%020d%s", base, next, swapSuffix) }

// parseSwapName is the inverse of swapName.
func parseSwapName(name string) (base, next int64, ok bool) {
	s, ok := strings.CutSuffix(name, swapSuffix)
	if !ok || len(s) != 41 || s[20] != '-' {
		return 0, 0, false
	}
	b, err1 := strconv.ParseInt(s[:20], 10, 64)
	n, err2 := strconv.ParseInt(s[21:], 10, 64)
	if err1 != nil || err2 != nil || b < 0 || n <= b {
		return 0, 0, false
	}
	return b, n, true
}

// Chtimeser is implemented by file systems that can set a file's times;
// the cleaner gives a cleaned segment the last-modified time of the
// newest segment it replaces (as Kafka's Cleaner does), since tombstone
// retention and time retention of timestamp-less segments read it.
type Chtimeser interface {
	Chtimes(name string, atime, mtime time.Time) error
}

// Chtimes sets a file's access and modification times.
func (OSFS) Chtimes(name string, atime, mtime time.Time) error { return os.Chtimes(name, atime, mtime) }

// CleanStats is what one cleaning did (Kafka's CleanerStats, in part).
type CleanStats struct {
	Partitions   int
	Segments     int   // source segments rewritten
	BytesRead    int64 // source segment bytes
	BytesWritten int64
	BatchesKept  int // copied unchanged
	BatchesBuilt int // rebuilt from surviving records, or kept empty
	Duration     time.Duration
}

func (c *CleanStats) add(o CleanStats) {
	c.Partitions += o.Partitions
	c.Segments += o.Segments
	c.BytesRead += o.BytesRead
	c.BytesWritten += o.BytesWritten
	c.BatchesKept += o.BatchesKept
	c.BatchesBuilt += o.BatchesBuilt
	c.Duration += o.Duration
}

// cleaner is the store's cleaner state.
type cleaner struct {
	cfg  CleanerConfig
	stop chan struct{}
	wg   sync.WaitGroup

	// mu guards busy, the partitions a thread is cleaning now (Kafka's
	// LogCleanerManager inProgress).
	mu   sync.Mutex
	busy map[*Partition]bool
}

// cleanerThread holds a thread's reusable memory.
type cleanerThread struct {
	cfg     CleanerConfig
	om      *offsetMap
	scan    []byte
	scratch outBuf
	out     outBuf
	spans   [][2]int
	entries []indexEntry
	// aborted holds, for the cleaning in progress, the aborted
	// transactions of the cleanable range by producer id: [first offset,
	// marker offset] (from the aborted-transaction index).
	aborted map[int64][][2]int64
	// Kafka's CleanedTransactionMetadata over one cleaning (batches in
	// offset order from the first segment): producers with a committed
	// (committedSeen) or aborted (abortedSeen) transactional data batch
	// seen since their last marker. A marker whose transaction shows no
	// batch may go (see markerDiscardable).
	committedSeen map[int64]struct{}
	abortedSeen   map[int64]struct{}
	// droppedMarkers are the offsets of the markers the group being
	// cleaned drops: their aborted-transaction entries go in the swap.
	droppedMarkers []int64
}

func newCleanerThread(cfg CleanerConfig) *cleanerThread {
	if cfg.Threads < 1 {
		cfg.Threads = 1
	}
	if cfg.DedupeBufferSize <= 0 {
		cfg.DedupeBufferSize = DefaultCleanerConfig.DedupeBufferSize
	}
	if cfg.IOBufferSize <= 0 {
		cfg.IOBufferSize = DefaultCleanerConfig.IOBufferSize
	}
	return &cleanerThread{cfg: cfg}
}

func (t *cleanerThread) offsetMap() *offsetMap {
	if t.om == nil {
		t.om = newOffsetMap(t.cfg.DedupeBufferSize/int64(t.cfg.Threads), t.cfg.IOBufferLoadFactor)
	} else {
		t.om.reset()
	}
	return t.om
}

// startCleaner starts the cleaner threads (log.cleaner.enable).
func (s *Store) startCleaner(cfg CleanerConfig) {
	s.cleaner.busy = make(map[*Partition]bool)
	s.cleaner.cfg = cfg
	if !cfg.Enable {
		return
	}
	s.cleaner.stop = make(chan struct{})
	for range max(cfg.Threads, 1) {
		s.cleaner.wg.Add(1)
		go s.cleanerLoop()
	}
}

// stopCleaner stops the threads and waits for them; a clean in progress
// finishes its current segment group first.
func (s *Store) stopCleaner() {
	if s.cleaner.stop != nil {
		close(s.cleaner.stop)
		s.cleaner.wg.Wait()
	}
}

func (s *Store) cleanerLoop() {
	defer s.cleaner.wg.Done()
	t := newCleanerThread(s.cleaner.cfg)
	backoff := time.Duration(s.cleaner.cfg.BackoffMs) * time.Millisecond
	if backoff <= 0 {
		backoff = 15 * time.Second
	}
	for {
		select {
		case <-s.cleaner.stop:
			return
		default:
		}
		cleaned, err := s.cleanFilthiest(t)
		if err != nil {
			s.log.Error("logstore: log cleaner", "err", err)
		}
		if !cleaned || err != nil {
			select {
			case <-s.cleaner.stop:
				return
			case <-time.After(backoff):
			}
		}
	}
}

// CleanNow runs the cleaner synchronously over every compacted partition
// that needs it (by the same rules as the background threads), until none
// does. For tests, benchmarks and tools.
func (s *Store) CleanNow() (CleanStats, error) {
	if s.kids != nil {
		var total CleanStats
		var errs []error
		for _, k := range s.kids {
			st, err := k.CleanNow()
			total.add(st)
			errs = append(errs, err)
		}
		return total, errors.Join(errs...)
	}
	t := newCleanerThread(s.cleaner.cfg)
	var total CleanStats
	for i := 0; i < 1000; i++ {
		st, cleaned, err := s.cleanFilthiestStats(t)
		total.add(st)
		if err != nil || !cleaned {
			return total, err
		}
	}
	return total, nil
}

func (s *Store) cleanFilthiest(t *cleanerThread) (bool, error) {
	_, cleaned, err := s.cleanFilthiestStats(t)
	return cleaned, err
}

// cleanFilthiestStats picks the compacted partition with the highest
// dirty ratio among those above min.cleanable.dirty.ratio or past
// max.compaction.lag.ms (Kafka's grabFilthiestCompactedLog) and cleans it.
func (s *Store) cleanFilthiestStats(t *cleanerThread) (CleanStats, bool, error) {
	nowMs := s.now().UnixMilli()
	var best *Partition
	var bestInfo cleanable
	bestRatio := -1.0
	s.cleaner.mu.Lock()
	for _, p := range s.partitions() {
		cfg := p.cfg.Load()
		// p.st() != s: a log-dir move took p to another dir after
		// partitions() listed it; that dir's cleaner cleans it now
		// (two cleaners of one log would share its .cleaned files).
		if !cfg.Compact || p.closed.Load() || p.cleanPaused.Load() || s.cleaner.busy[p] || p.st() != s {
			continue
		}
		p.rollIdle(nowMs, cfg)
		info := p.cleanableInfo(nowMs, cfg)
		ratio := info.ratio()
		if due := p.tombstoneDue.Load(); due > 0 && due <= nowMs {
			info.tombstonesDue = true
			ratio += 1
		} else if info.dirtyBytes <= 0 || !(info.mustClean || ratio > cfg.MinCleanableDirtyRatio) {
			continue
		}
		if info.mustClean {
			ratio += 2 // overdue logs first
		}
		if ratio > bestRatio {
			best, bestInfo, bestRatio = p, info, ratio
		}
	}
	if best != nil {
		s.cleaner.busy[best] = true
	}
	s.cleaner.mu.Unlock()
	if best == nil {
		return CleanStats{}, false, nil
	}
	defer func() {
		s.cleaner.mu.Lock()
		delete(s.cleaner.busy, best)
		s.cleaner.mu.Unlock()
	}()
	st, err := best.clean(t, nowMs, bestInfo)
	if err != nil {
		return st, true, fmt.Errorf("cleaning %s-%d: %w", best.topic, best.partition, err)
	}
	return st, true, nil
}

// rollIdle rolls the active segment of a compacted partition once it is
// older than segment.ms (for compacted topics the handlers pass
// min(segment.ms, max.compaction.lag.ms), Kafka's LogConfig.maxSegmentMs),
// so that its records become cleanable without waiting for the next append
// or retention pass.
func (p *Partition) rollIdle(nowMs int64, cfg *PartitionConfig) {
	if cfg.SegmentMs <= 0 {
		return
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed.Load() {
		return
	}
	p.rollIfIdleLocked(nowMs, cfg)
}

// rollIfIdleLocked rolls the active segment if its first batch is older
// than segment.ms. appendMu must be held.
func (p *Partition) rollIfIdleLocked(nowMs int64, cfg *PartitionConfig) {
	a := p.active
	if cfg.SegmentMs > 0 && !a.empty() && a.firstTs >= 0 && nowMs-a.firstTs > cfg.SegmentMs {
		if err := p.rollLocked(p.leo.Load()); err != nil {
			p.log.Error("logstore: time-based roll", "topic", p.topic, "partition", p.partition, "err", err)
		}
	}
}

// cleanable is Kafka's LogToClean: the clean and dirty sizes of a log.
type cleanable struct {
	firstDirty       int64
	firstUncleanable int64
	cleanBytes       int64
	dirtyBytes       int64
	mustClean        bool // max.compaction.lag.ms passed for a dirty record
	tombstonesDue    bool // a retained tombstone's delete.retention.ms is over
}

func (c cleanable) ratio() float64 {
	if c.cleanBytes+c.dirtyBytes == 0 {
		return 0
	}
	return float64(c.dirtyBytes) / float64(c.cleanBytes+c.dirtyBytes)
}

// firstUnstableOffset is the transactions hook of the cleaner: records at
// or after the first offset of an open transaction must not be cleaned
// (Kafka's UnifiedLog.firstUnstableOffset bounds the cleanable range):
// until its marker is written, nobody knows whether they will count.
func (p *Partition) firstUnstableOffset() int64 { return p.LastStableOffset() }

// cleanableInfo computes the cleanable range as Kafka's
// LogCleanerManager.cleanableOffsets and LogToClean do: from the first
// dirty offset (the checkpoint, or the log start if the checkpoint is out
// of the log) to the first uncleanable offset: the active segment's base,
// the first unstable offset, and with min.compaction.lag.ms the base of
// the first segment holding a record newer than the lag.
func (p *Partition) cleanableInfo(nowMs int64, cfg *PartitionConfig) cleanable {
	ckpt := p.cleanerCheckpoint()
	p.mu.RLock()
	defer p.mu.RUnlock()
	logStart, leo := p.logStart.Load(), p.leo.Load()
	firstDirty := ckpt
	if firstDirty < logStart || firstDirty > leo {
		firstDirty = logStart
	}
	segs := p.segs
	if len(segs) == 0 {
		return cleanable{}
	}
	active := segs[len(segs)-1]
	firstUncleanable := min(active.base, p.firstUnstableOffset())
	earliestDirtyTs := int64(math.MaxInt64)
	for i, s := range segs[:len(segs)-1] {
		next := segs[i+1].base
		if next <= firstDirty || s.base >= firstUncleanable {
			continue
		}
		if cfg.MinCompactionLagMs > 0 && s.retentionTs() > nowMs-cfg.MinCompactionLagMs {
			firstUncleanable = min(firstUncleanable, s.base)
			break
		}
		if s.firstTs >= 0 {
			earliestDirtyTs = min(earliestDirtyTs, s.firstTs)
		}
	}
	c := cleanable{firstDirty: firstDirty, firstUncleanable: firstUncleanable}
	for i, s := range segs[:len(segs)-1] {
		next := segs[i+1].base
		switch {
		case next <= firstDirty:
			c.cleanBytes += s.size.Load()
		case s.base < firstUncleanable:
			c.dirtyBytes += s.size.Load()
		}
	}
	if firstDirty >= firstUncleanable {
		c.dirtyBytes = 0
	}
	if cfg.MaxCompactionLagMs > 0 && earliestDirtyTs != math.MaxInt64 && nowMs-earliestDirtyTs > cfg.MaxCompactionLagMs {
		c.mustClean = true
	}
	return c
}

// cleanerCheckpoint returns the partition's first dirty offset, read from
// its checkpoint file on first use; -1 if there is none.
func (p *Partition) cleanerCheckpoint() int64 {
	p.cleanMu.Lock()
	defer p.cleanMu.Unlock()
	if !p.ckptLoaded {
		p.ckptLoaded = true
		p.firstDirty = -1
		b, err := readSmallFile(p.st().fs, filepath.Join(p.lc().dir, cleanerCheckpoint))
		if err == nil {
			if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v >= 0 {
				p.firstDirty = v
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			p.log.Warn("logstore: ignoring cleaner checkpoint", "dir", p.lc().dir, "err", err)
		}
	}
	return p.firstDirty
}

func (p *Partition) setCleanerCheckpoint(off int64) error {
	p.cleanMu.Lock()
	defer p.cleanMu.Unlock()
	data := strconv.AppendInt(nil, off, 10)
	data = append(data, '\n')
	if err := writeFileAtomic(p.st().fs, filepath.Join(p.lc().dir, cleanerCheckpoint), data); err != nil {
		return fmt.Errorf("%w: writing cleaner checkpoint: %w", ErrStorage, err)
	}
	p.firstDirty, p.ckptLoaded = off, true
	return nil
}

func readSmallFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf [64]byte
	n, err := f.ReadAt(buf[:], 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:n], nil
}

// snapshotSegments returns the closed segments, referenced (release them).
func (p *Partition) snapshotSegments() []*segment {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.segs) == 0 {
		return nil
	}
	out := make([]*segment, 0, len(p.segs)-1)
	for _, s := range p.segs[:len(p.segs)-1] {
		if s.acquire() {
			out = append(out, s)
		}
	}
	return out
}

// lastBatchOfProducers returns, per producer id, the last offset of its
// last data batch: that batch is retained even if empty, so the
// producer's last sequence survives cleaning (Kafka's
// isBatchLastRecordOfProducer, BatchRetention.RETAIN_EMPTY).
func (p *Partition) lastBatchOfProducers() map[int64]int64 {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	m := make(map[int64]int64, len(p.producers.m))
	for id, e := range p.producers.m {
		if b := e.last(); b != nil {
			m[id] = b.lastOffset
		}
	}
	return m
}

// clean cleans the partition once: builds the offset map over the dirty
// section, then rewrites the closed segments from the log start up to the
// end of what the map covers, group by group, and moves the checkpoint.
func (p *Partition) clean(t *cleanerThread, nowMs int64, info cleanable) (CleanStats, error) {
	started := time.Now()
	cfg := p.cfg.Load()
	segs := p.snapshotSegments()
	defer func() {
		for _, s := range segs {
			s.release()
		}
	}()
	st := CleanStats{Partitions: 1}
	if err := p.finishPendingSwap(); err != nil {
		return st, err
	}

	// Every aborted transaction of the log: the groups rewrite whole
	// segments, which may hold batches past the first uncleanable offset
	// (Kafka's cleanSegments collects the aborted transactions of the
	// group's whole offset range).
	clear(t.aborted)
	if t.committedSeen == nil {
		t.committedSeen, t.abortedSeen = make(map[int64]struct{}), make(map[int64]struct{})
	}
	clear(t.committedSeen)
	clear(t.abortedSeen)
	ab, err := p.st().idx.abortedTxns(p.lc().pid, 0, math.MaxInt64, nil)
	if err != nil {
		return st, fmt.Errorf("%w: reading the aborted transaction index: %w", ErrStorage, err)
	}
	if len(ab) > 0 && t.aborted == nil {
		t.aborted = make(map[int64][][2]int64)
	}
	for _, a := range ab {
		t.aborted[a.ProducerID] = append(t.aborted[a.ProducerID], [2]int64{a.FirstOffset, a.LastOffset})
	}

	// 1. The offset map over [firstDirty, firstUncleanable), whole
	// batches, until the map is full (Kafka's buildOffsetMap).
	om := t.offsetMap()
	endOffset := info.firstDirty
	full := false
	for _, s := range segs {
		if full || s.base >= info.firstUncleanable {
			break
		}
		if s.nextOffset() <= info.firstDirty {
			continue
		}
		_, reason, err := scanBatchBytes(s.f, 0, s.size.Load(), s.base, &t.scan, func(h *BatchHeader, _ int64, batch []byte) error {
			if h.LastOffset() < info.firstDirty {
				return nil
			}
			if h.BaseOffset >= info.firstUncleanable {
				// The first unstable offset may fall inside a
				// segment: records of open transactions are not
				// mapped (they would shadow committed ones).
				return errStopScan
			}
			if om.full(int(h.NumRecords)) {
				full = true
				return errStopScan
			}
			if !h.IsControl() && !t.abortedBatch(h) {
				if err := om.mapBatch(batch, h, &t.scratch); err != nil {
					return err
				}
			}
			endOffset = h.LastOffset() + 1
			return nil
		})
		if err != nil && !errors.Is(err, errStopScan) {
			return st, fmt.Errorf("building offset map from %s: %w", s.path, err)
		}
		if reason != nil {
			return st, fmt.Errorf("building offset map from %s: %w", s.path, reason)
		}
	}
	if endOffset <= info.firstDirty {
		if full {
			return st, fmt.Errorf("log.cleaner.dedupe.buffer.size too small for one batch at offset %d", info.firstDirty)
		}
		if !info.tombstonesDue {
			return st, nil
		}
		// Only tombstones to drop: rewrite the clean section with an
		// empty map (its keys are unique already).
	}
	// tombstoneDue is replaced only once every group is rewritten: a
	// clean that fails partway keeps the earlier due time (the horizons
	// of the batches not rewritten are still in force).
	var due int64

	// 2. Group the closed segments below endOffset and rewrite each group.
	lastOfProducer := p.lastBatchOfProducers()
	maxSize := cfg.SegmentBytes
	if maxSize <= 0 {
		maxSize = defaultPartitionConfig.SegmentBytes
	}
	var groups [][]*segment
	for i := 0; i < len(segs); {
		if segs[i].base >= endOffset {
			break
		}
		g := []*segment{segs[i]}
		size := segs[i].size.Load()
		j := i + 1
		for ; j < len(segs) && segs[j].base < endOffset; j++ {
			n := segs[j].size.Load()
			if size+n > maxSize || segs[j].nextOffset()-1-g[0].base > math.MaxInt32 {
				break
			}
			g = append(g, segs[j])
			size += n
		}
		groups = append(groups, g)
		i = j
	}
	for _, g := range groups {
		if p.closed.Load() {
			return st, ErrPartitionClosed
		}
		gst, gdue, err := p.cleanGroup(t, g, om, endOffset, nowMs, cfg, lastOfProducer)
		st.add(gst)
		if gdue > 0 && (due == 0 || gdue < due) {
			due = gdue
		}
		if err != nil {
			if old := p.tombstoneDue.Load(); due > 0 && (old == 0 || due < old) {
				p.tombstoneDue.Store(due)
			}
			return st, err
		}
	}
	p.tombstoneDue.Store(due)
	if err := p.setCleanerCheckpoint(endOffset); err != nil {
		return st, err
	}
	st.Partitions = 1
	st.Duration = time.Since(started)
	p.log.Info("logstore: cleaned log", "topic", p.topic, "partition", p.partition, "segments", st.Segments,
		"bytes_read", st.BytesRead, "bytes_written", st.BytesWritten, "first_dirty", info.firstDirty, "end_offset", endOffset,
		"duration", st.Duration)
	return st, nil
}

var errStopScan = errors.New("stop scan")

// abortedBatch is the transactions hook of the filter: a transactional
// data batch of an aborted transaction (its producer's, between the
// transaction's first offset and its ABORT marker; a producer has one
// transaction open at a time) is not mapped and its records are dropped,
// as Kafka's Cleaner does with CleanedTransactionMetadata.
func (t *cleanerThread) abortedBatch(h *BatchHeader) bool {
	if h.Attributes&attrTransactional == 0 || h.IsControl() || len(t.aborted) == 0 {
		return false
	}
	for _, r := range t.aborted[h.ProducerID] {
		if h.BaseOffset >= r[0] && h.BaseOffset <= r[1] {
			return true
		}
	}
	return false
}

// noteDataBatch records a transactional data batch for the marker rules
// (Kafka's CleanedTransactionMetadata.onBatchRead); aborted says the
// batch belongs to an aborted transaction.
func (t *cleanerThread) noteDataBatch(h *BatchHeader, aborted bool) {
	if h.Attributes&attrTransactional == 0 || h.ProducerID < 0 {
		return
	}
	if aborted {
		t.abortedSeen[h.ProducerID] = struct{}{}
	} else {
		t.committedSeen[h.ProducerID] = struct{}{}
	}
}

// markerDiscardable is the other transactions hook, Kafka's
// CleanedTransactionMetadata.onControlBatchRead: an ABORT marker may go
// when no batch of its transaction was seen in this cleaning (all its
// data is gone), a COMMIT marker likewise, and an empty control batch
// always. The caller still keeps it until its delete horizon (set at
// the first such cleaning to the cleaning's time + delete.retention.ms).
func (t *cleanerThread) markerDiscardable(h *BatchHeader, batch []byte) bool {
	m, err := parseMarker(batch)
	if err != nil {
		return false // not a marker Samsa understands: keep it
	}
	switch m.kind {
	case markerAbort:
		_, seen := t.abortedSeen[h.ProducerID]
		delete(t.abortedSeen, h.ProducerID)
		return !seen
	case markerCommit:
		_, seen := t.committedSeen[h.ProducerID]
		delete(t.committedSeen, h.ProducerID)
		return !seen
	}
	return true
}

// cleanGroup rewrites one group of consecutive closed segments into a new
// segment file and swaps it in (see doc.go, "Log compaction").
func (p *Partition) cleanGroup(t *cleanerThread, g []*segment, om *offsetMap, endOffset, nowMs int64, cfg *PartitionConfig, lastOfProducer map[int64]int64) (st CleanStats, tombstoneDue int64, err error) {
	fsys := p.st().fs
	base := g[0].base
	last := g[len(g)-1]
	groupLast := last.lastOffset
	cleanedPath := filepath.Join(p.lc().dir, cleanedName(base))
	_ = fsys.Remove(cleanedPath)
	f, err := fsys.OpenFile(cleanedPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		p.st().guard.Note(err)
		return st, 0, fmt.Errorf("%w: creating %s: %w", ErrStorage, cleanedPath, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = fsys.Remove(cleanedPath)
		}
	}()
	ns := newSegment(p.lc().dir, base, f)
	t.entries = t.entries[:0]
	t.droppedMarkers = t.droppedMarkers[:0]
	t.out.b = t.out.b[:0]
	var pos, flushed int64
	var mtime int64
	flush := func() error {
		if len(t.out.b) == 0 {
			return nil
		}
		if _, err := f.WriteAt(t.out.b, flushed); err != nil {
			p.st().guard.Note(err)
			return fmt.Errorf("%w: writing %s: %w", ErrStorage, cleanedPath, err)
		}
		flushed += int64(len(t.out.b))
		t.out.b = t.out.b[:0]
		return nil
	}
	for _, s := range g {
		mtime = max(mtime, s.lastWriteMs)
		size := s.size.Load()
		st.Segments++
		st.BytesRead += size
		fp := filterParams{endOffset: endOffset, nowMs: nowMs, deleteRetentionMs: cfg.DeleteRetentionMs}
		_, reason, err := scanBatchBytes(s.f, 0, size, s.base, &t.scan, func(h *BatchHeader, _ int64, batch []byte) error {
			var res filterResult
			var err error
			if h.IsControl() {
				// A marker whose transaction has no data left gets a
				// delete horizon at the first cleaning that sees it so
				// (Kafka's containsMarkerForEmptyTxn), is kept like a
				// tombstone until then, and goes at the first cleaning
				// at or after it (KIP-534).
				horizon, hasHorizon := h.DeleteHorizon()
				switch {
				case !t.markerDiscardable(h, batch):
					t.out.b = append(t.out.b, batch...)
					res = filterResult{written: true, header: *h, copied: true}
				case cfg.DeleteRetentionMs < 0:
					t.out.b = append(t.out.b, batch...)
					res = filterResult{written: true, header: *h, copied: true}
				case !hasHorizon:
					horizon = nowMs + cfg.DeleteRetentionMs
					if cfg.DeleteRetentionMs > math.MaxInt64-nowMs {
						horizon = math.MaxInt64
					}
					nh, err := appendControlWithHorizon(&t.out, batch, h, horizon)
					if err != nil {
						return err
					}
					res = filterResult{written: true, header: nh, tombstones: 1, horizon: max(horizon, 1)}
				case nowMs < horizon:
					t.out.b = append(t.out.b, batch...)
					res = filterResult{written: true, header: *h, copied: true, tombstones: 1, horizon: max(horizon, 1)}
				default:
					t.droppedMarkers = append(t.droppedMarkers, h.BaseOffset)
					if h.LastOffset() == groupLast {
						// The group's last offset stays covered: an
						// empty control batch (read as no marker).
						res = filterResult{written: true, header: appendEmptyBatch(&t.out, h)}
					}
				}
			} else if t.abortedBatch(h) {
				t.noteDataBatch(h, true)
				// Dropped, but the producer's last batch stays as an
				// empty header (Kafka's RETAIN_EMPTY) so that its
				// sequence survives a rebuild of producer state.
				res = filterResult{}
				if h.LastOffset() == groupLast || lastOfProducer[h.ProducerID] == h.LastOffset() {
					res = filterResult{written: true, header: appendEmptyBatch(&t.out, h)}
				}
			} else {
				t.noteDataBatch(h, false)
				fp.keepEmpty = h.LastOffset() == groupLast ||
					(h.ProducerID >= 0 && lastOfProducer[h.ProducerID] == h.LastOffset())
				res, err = filterBatch(batch, h, om, fp, &t.scratch, &t.out, &t.spans)
				if err != nil {
					return err
				}
			}
			if res.tombstones > 0 && res.horizon > 0 && (tombstoneDue == 0 || res.horizon < tombstoneDue) {
				tombstoneDue = res.horizon
			}
			if !res.written {
				return nil
			}
			if res.copied {
				st.BatchesKept++
			} else {
				st.BatchesBuilt++
			}
			nh := res.header
			if nh.IsControl() {
				t.entries = append(t.entries, entryFromBatch(&nh, base, pos, batch))
			} else {
				t.entries = append(t.entries, entryFromHeader(&nh, base, pos))
			}
			ns.noteBatch(nh.BaseOffset, nh.LastOffset(), nh.MaxTimestamp)
			pos += int64(nh.TotalSize())
			if len(t.out.b) >= t.cfg.IOBufferSize {
				return flush()
			}
			return nil
		})
		if err != nil {
			return st, 0, fmt.Errorf("cleaning %s: %w", s.path, err)
		}
		if reason != nil {
			return st, 0, fmt.Errorf("cleaning %s: %w", s.path, reason)
		}
	}
	if err := flush(); err != nil {
		return st, 0, err
	}
	if err := f.Sync(); err != nil {
		p.st().guard.Note(err)
		return st, 0, fmt.Errorf("%w: fsync %s: %w", ErrStorage, cleanedPath, err)
	}
	if ct, ok := fsys.(Chtimeser); ok && mtime > 0 {
		_ = ct.Chtimes(cleanedPath, time.UnixMilli(mtime), time.UnixMilli(mtime))
	}
	ns.size.Store(pos)
	ns.lastWriteMs = mtime
	st.BytesWritten = pos

	installed, err := p.swapIn(g, ns, cleanedPath, t.entries, t.droppedMarkers)
	ok = installed
	if err == nil && !installed {
		return CleanStats{}, 0, nil // the group changed meanwhile (retention): nothing done
	}
	return st, tombstoneDue, err
}

// swapIn replaces the group g by the cleaned segment ns (file at
// cleanedPath): the commit is the rename of the .cleaned file to
// <base>-<next>.swap; then the index entries and the segment list change
// together under mu. Both happen under retMu, so retention and
// DeleteRecords never see a half-swapped log. The file work left (step 4
// in doc.go) needs an index flush, which fails while the disk is full:
// it is recorded as the partition's pending swap and done by
// finishPendingSwap without holding retMu, so retention, DeleteTopic and
// Close never wait for a disk with no space.
func (p *Partition) swapIn(g []*segment, ns *segment, cleanedPath string, entries []indexEntry, droppedMarkers []int64) (installed bool, err error) {
	fsys := p.st().fs
	base := g[0].base
	p.retMu.Lock()
	locked := true
	defer func() {
		if locked {
			p.retMu.Unlock()
		}
	}()
	if p.closed.Load() {
		return false, ErrPartitionClosed
	}
	if p.pendingSwap != nil {
		return false, fmt.Errorf("%w: an earlier cleaner swap is not finished", ErrStorage)
	}
	// The group must still be in the log, unchanged (retention may have
	// deleted some of it meanwhile).
	p.mu.RLock()
	at := -1
	for i, s := range p.segs {
		if s == g[0] {
			at = i
			break
		}
	}
	same := at >= 0 && at+len(g) < len(p.segs)
	for k := 0; same && k < len(g); k++ {
		same = p.segs[at+k] == g[k]
	}
	var next int64
	if same {
		next = p.segs[at+len(g)].base
	}
	p.mu.RUnlock()
	if !same {
		return false, nil // the cleaned file is removed by the caller
	}
	swapPath := filepath.Join(p.lc().dir, swapName(base, next))
	if err := fsys.Rename(cleanedPath, swapPath); err != nil {
		return false, fmt.Errorf("%w: renaming %s: %w", ErrStorage, cleanedPath, err)
	}
	_ = syncDir(fsys, p.lc().dir)
	// From here the swap is committed: recovery completes it.

	if err = p.swapIndexAndSegments(g, ns, at, next, entries, droppedMarkers); err != nil {
		// The swap is committed on disk but not in memory or the index:
		// stop serving from a state recovery would not reproduce.
		p.log.Error("logstore: cleaner could not apply a committed swap; it completes at the next start",
			"topic", p.topic, "partition", p.partition, "swap", swapPath, "err", err)
		return false, err
	}
	ps := &pendingSwap{swapPath: swapPath, ns: ns}
	for _, s := range g {
		if s.base != base {
			ps.old = append(ps.old, s.path)
		}
	}
	p.pendingSwap = ps
	p.retMu.Unlock()
	locked = false
	for _, s := range g {
		s.release() // the owner's reference; readers keep theirs
	}
	return true, p.finishPendingSwap()
}

// pendingSwap is the file work left of a cleaner swap whose segment list
// and index already changed: once the index is flushed, the group's old
// files go and the .swap file is renamed over ns.path (<base>.log, which
// until then is still the old first segment's file).
type pendingSwap struct {
	swapPath string
	ns       *segment
	old      []string // the group's other segment files, by base
}

// finishPendingSwap completes the partition's pending swap, if any. It
// flushes the index first, without holding retMu: if that fails (full or
// failing disk) the files stay as they are and the swap stays pending,
// for the next cleaning of the partition or, after a restart, recovery
// (the .swap file rules). It is an error only if the swap is still
// pending.
func (p *Partition) finishPendingSwap() error {
	p.retMu.Lock()
	ps := p.pendingSwap
	p.retMu.Unlock()
	if ps == nil {
		return nil
	}
	// Make the index durable before the old files go: a crash after this
	// finds either the .swap file (and rebuilds the index) or an index
	// that matches the new file.
	if err := p.st().flushIndex(); err != nil {
		p.log.Warn("logstore: index flush after a cleaner swap failed; the swap completes at the next cleaning or start",
			"topic", p.topic, "partition", p.partition, "swap", ps.swapPath, "err", err)
		return fmt.Errorf("%w: index flush after swap %s: %w", ErrStorage, ps.swapPath, err)
	}
	p.retMu.Lock()
	defer p.retMu.Unlock()
	if p.pendingSwap != ps {
		return nil // retention deleted the new segment meanwhile
	}
	if p.closed.Load() {
		return ErrPartitionClosed // the next start completes it
	}
	fsys := p.st().fs
	var errs []error
	for _, path := range ps.old {
		if err := fsys.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := fsys.Rename(ps.swapPath, ps.ns.path); err != nil {
			errs = append(errs, err)
		}
	}
	_ = syncDir(fsys, p.lc().dir)
	if len(errs) > 0 {
		return fmt.Errorf("%w: finishing swap %s (completes at the next cleaning or start): %w", ErrStorage, ps.swapPath, errors.Join(errs...))
	}
	p.pendingSwap = nil
	return nil
}

// dropPendingSwapLocked is called by retention for each segment it
// deletes: if v is the new segment of the pending swap, the .swap file
// (v's real file) and the group's old files go too, so that a restart
// does not complete a swap of deleted records. retMu must be held.
func (p *Partition) dropPendingSwapLocked(v *segment) error {
	ps := p.pendingSwap
	if ps == nil || ps.ns != v {
		return nil
	}
	p.pendingSwap = nil
	var errs []error
	for _, path := range append([]string{ps.swapPath}, ps.old...) {
		if err := p.st().fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: deleting files of swap %s: %w", ErrStorage, ps.swapPath, errors.Join(errs...))
	}
	return nil
}

// swapIndexAndSegments replaces the index entries of [base, next) by the
// cleaned segment's and the group by ns in the segment list, under mu, and
// bumps swapSeq so that a read that looked up the old entries retries.
//
// Aborted-transaction entries stay, except those of the markers the
// cleaning dropped (droppedMarkers): a consumer told of an aborted
// transaction whose marker is gone would skip the producer's later
// records.
func (p *Partition) swapIndexAndSegments(g []*segment, ns *segment, at int, next int64, entries []indexEntry, droppedMarkers []int64) error {
	base := g[0].base
	b := p.st().idx.db.NewBatch()
	defer b.Close()
	if err := p.st().idx.deleteRanges(b, p.lc().pid, base, next, ksOffset, ksTime); err != nil {
		return err
	}
	for _, off := range droppedMarkers {
		if err := b.Delete(appendAbortedKey(nil, p.lc().pid, off), nil); err != nil {
			return err
		}
	}
	runMax := int64(noMaxTimestamp)
	var kb, vb []byte
	for i := range entries {
		e := &entries[i]
		kb = appendOffsetKey(kb[:0], p.lc().pid, e.baseOffset)
		vb = e.appendValue(vb[:0])
		if err := b.Set(kb, vb, nil); err != nil {
			return err
		}
		if e.maxTs > runMax {
			runMax = e.maxTs
			kb = appendTimeKey(kb[:0], p.lc().pid, base, e.maxTs)
			vb = appendTimeValue(vb[:0], e.baseOffset, e.lastOffsetDelta)
			if err := b.Set(kb, vb, nil); err != nil {
				return err
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := b.Commit(pebble.NoSync); err != nil {
		return err
	}
	p.st().idx.markDirty()
	segs := make([]*segment, 0, len(p.segs)-len(g)+1)
	segs = append(segs, p.segs[:at]...)
	segs = append(segs, ns)
	segs = append(segs, p.segs[at+len(g):]...)
	p.segs = segs
	p.recomputeMaxTsLocked()
	p.swapSeq.Add(1)
	return nil
}
