package logstore

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Partition is the log of one topic partition: an ordered list of segment
// files plus its entries in the store's index.
//
// Locking (order: retMu, then appendMu, then mu; Store.mu is never held
// while taking any of them):
//
//   - retMu serialises changes of the log start offset: RunRetention,
//     DeleteRecordsBefore and close.
//   - appendMu serialises writers: Append, rolls, flush bookkeeping, the
//     producer state. One append per partition at a time; partitions
//     append in parallel.
//   - mu guards the segment list, per-segment metadata, the partition's
//     max timestamp and the wait channel. It is held only for in-memory
//     updates and lookups, never across I/O, so readers are not blocked by
//     appends beyond a few field stores.
//   - The end offset, start offset, config and closed flag are atomics,
//     read without locks.
type Partition struct {
	topic     string
	partition int32
	log       *slog.Logger
	// loc is where the log lives: its log dir's Store, index id and
	// directory. It changes only when an AlterReplicaLogDirs move swaps
	// in the future log (jbod.go), with every lock of the partition held
	// and swapSeq bumped, so writers (holding appendMu or retMu) see a
	// stable value and lock-free readers load it once per index lookup.
	loc atomic.Pointer[partLoc]

	// Lock-free state. leo is written by the appender (appendMu held)
	// after the segment size, so a reader that sees an offset below leo
	// also sees the bytes and index entry of its batch.
	cfg      atomic.Pointer[PartitionConfig]
	leo      atomic.Int64
	logStart atomic.Int64
	closed   atomic.Bool
	// swapSeq counts cleaner swaps (bumped under mu with the index
	// change): a read whose index lookup and segment lookup straddle a
	// swap sees it change and retries (two atomic loads per read).
	swapSeq atomic.Uint64
	// firstUnstable is the first offset of the earliest ongoing
	// transaction, math.MaxInt64 when none (written under appendMu; the
	// last stable offset is min(leo, firstUnstable), see txn.go).
	firstUnstable atomic.Int64
	// lastAborted is the offset of the last ABORT marker with an
	// aborted-transaction index entry (-1: none), so read_committed
	// reads of logs without aborts skip the index (see ReadCommitted).
	// It only grows while the partition is open.
	lastAborted atomic.Int64
	// tombstoneDue is when (ms) the earliest tombstone the cleaner kept
	// for delete.retention.ms may go: the cleaner then rewrites the log
	// even without dirty records. 0: none known.
	tombstoneDue atomic.Int64
	// Replication (replication.go). replicated says the high watermark
	// is hw, set by the replica manager, instead of the log end offset.
	replicated atomic.Bool
	hw         atomic.Int64
	// latestEpoch is the latest epoch of the leader-epoch cache (-1:
	// empty; epochNotLoaded before the cache was read), so an append
	// compares its batch's epoch without a lock.
	latestEpoch atomic.Int32
	// truncations counts TruncateTo calls that cut batches and
	// TruncateFullyAndStartAt calls, so that a log-dir move copying this
	// log notices that what it copied may no longer be the log's
	// (jbod.go). It is bumped under appendMu once the cut is done.
	truncations atomic.Uint64
	// cleanPaused keeps the cleaner off the log while a move copies it
	// (Kafka's abortAndPauseCleaning for a future replica).
	cleanPaused atomic.Bool

	// hintMu guards the read hints (readhint.go): where the last reads
	// stopped, so the next read there skips the index.
	hintMu   sync.Mutex
	hints    [readHintSlots]readHint
	hintNext uint8 // the slot overwritten next

	// damaged holds the base offsets (int64 -> struct{}) of batches a read
	// found not matching their index entry, so each is logged once.
	damaged sync.Map

	retMu sync.Mutex
	// pendingSwap (guarded by retMu) is a cleaner swap applied in memory
	// and in the index whose files are not finished yet (cleaner.go).
	pendingSwap *pendingSwap

	// cleanMu guards the cleaner checkpoint below (one cleaner thread
	// works on a partition at a time; see cleaner.go).
	cleanMu    sync.Mutex
	ckptLoaded bool
	firstDirty int64

	// appendMu guards the fields below it, up to mu.
	appendMu        sync.Mutex
	active          *segment // == segs[len(segs)-1]
	producers       producerState
	idxBatch        *pebble.Batch // reused for every append's index write
	keyBuf, valBuf  []byte
	tkeyBuf         []byte
	tvalBuf         []byte
	appendedRecords int64 // records appended since open
	flushedRecords  int64 // records known to be fsynced
	flushTimer      *time.Timer
	flushArmed      bool
	dirtyTail       bool  // a failed write may have left bytes past active.size
	recoveredAt     int64 // wall clock (ms) of Open, the last-seen time of recovered producers

	// epochMu guards the leader-epoch cache (taken after appendMu).
	epochMu      sync.Mutex
	epochs       []EpochEntry
	epochsLoaded bool

	// mu guards the fields below it.
	mu          sync.RWMutex
	segs        []*segment // by base offset; the last one is active
	maxTs       int64      // largest batch max timestamp in the log
	maxTsOffset int64      // base offset of the batch holding maxTs
	waitCh      chan struct{}
}

// partLoc is a partition log's location (see Partition.loc).
type partLoc struct {
	store *Store
	pid   uint32 // index partition id in store's index
	dir   string // the partition directory
}

// lc is the partition's current location.
func (p *Partition) lc() *partLoc { return p.loc.Load() }

// st is the Store of the log dir the partition lives in.
func (p *Partition) st() *Store { return p.loc.Load().store }

// Size is the bytes the partition's segments hold on disk
// (DescribeLogDirs, kafka-log-dirs.sh).
func (p *Partition) Size() int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var n int64
	for _, s := range p.segs {
		n += s.size.Load()
	}
	return n
}

// NumSegments is the number of segments the partition's log has, the
// active one included (Kafka's Log NumLogSegments gauge).
func (p *Partition) NumSegments() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.segs)
}

// closedCh is returned by Wait on a closed partition so that waiters wake
// up and see ErrPartitionClosed.
var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Topic returns the partition's topic name.
func (p *Partition) Topic() string { return p.topic }

// ID returns the partition number within its topic.
func (p *Partition) ID() int32 { return p.partition }

// Config returns the configuration in force.
func (p *Partition) Config() PartitionConfig { return *p.cfg.Load() }

// SetConfig replaces the partition's configuration (after AlterConfigs, or
// to give partitions found on disk by Open their topic's settings). It
// applies from the next append or retention pass.
func (p *Partition) SetConfig(cfg PartitionConfig) { p.cfg.Store(&cfg) }

// HighWatermark is the offset up to which consumers may read. On a single
// node every appended batch is committed, so it equals the log end offset;
// a replicated partition's is set by the replica manager (SetReplicated).
func (p *Partition) HighWatermark() int64 {
	if p.replicated.Load() {
		return p.hw.Load()
	}
	return p.leo.Load()
}

// LogEndOffset is the offset the next appended record will get.
func (p *Partition) LogEndOffset() int64 { return p.leo.Load() }

// LogStartOffset is the first offset still readable; it moves with
// retention and DeleteRecordsBefore.
func (p *Partition) LogStartOffset() int64 { return p.logStart.Load() }

// Wait returns a channel closed by the next successful append (or by the
// partition closing), so that a Fetch can long-poll with a select on it and
// a timer instead of polling. Take the channel before the Read that came
// back empty: an append between the two then still wakes the caller.
func (p *Partition) Wait() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return closedCh
	}
	if p.waitCh == nil {
		p.waitCh = make(chan struct{})
	}
	return p.waitCh
}

// Append writes one record batch at the end of the log and returns the
// offsets it got. The caller has validated the batch (magic 2, CRC, sizes)
// and parsed h from it. Append modifies batch in place: it sets the base
// offset and, with LogAppendTime, the max timestamp, timestamp type and
// CRC; nothing else about the batch changes and no record is decoded.
//
// Batches with a producer id go through Kafka's idempotence checks first
// (see producers.go): a retry of one of the producer's last five batches
// returns the original offsets with Duplicate set and writes nothing.
//
// On any failure the partition is left as it was: the write is undone and
// later appends continue at the same offset.
func (p *Partition) Append(batch []byte, h BatchHeader) (AppendResult, error) {
	if len(batch) < BatchHeaderSize || len(batch) != h.TotalSize() {
		return AppendResult{}, fmt.Errorf("%w: batch is %d bytes, header says %d", ErrCorruptBatch, len(batch), h.TotalSize())
	}
	var mk *txnMarker
	var m txnMarker
	if h.IsControl() {
		// A marker written as bytes (a coordinator replaying one): the
		// same checks as AppendMarker with the legacy epoch rule.
		var err error
		if m, err = parseMarker(batch); err != nil || (m.kind < 0 && h.NumRecords != 0) || h.ProducerID < 0 {
			return AppendResult{}, fmt.Errorf("%s-%d: %w: control batch without a valid transaction marker: %v", p.topic, p.partition, ErrInvalidRecord, err)
		}
		mk = &m
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed.Load() {
		return AppendResult{}, ErrPartitionClosed
	}
	return p.appendLocked(batch, h, mk, 0, false, false)
}

// AppendCoordinator appends a data batch written by a coordinator of this
// broker (Kafka's AppendOrigin.COORDINATOR): the group coordinator's
// transactional offset commits carry a producer id and epoch but no
// sequence (-1), and, as in Kafka's ProducerAppendInfo, sequence numbers
// are not checked for that origin; epochs and transaction state are.
func (p *Partition) AppendCoordinator(batch []byte, h BatchHeader) (AppendResult, error) {
	if h.IsControl() {
		return AppendResult{}, fmt.Errorf("%s-%d: %w: coordinator data batch is a control batch", p.topic, p.partition, ErrInvalidRecord)
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed.Load() {
		return AppendResult{}, ErrPartitionClosed
	}
	return p.appendLocked(batch, h, nil, 0, true, false)
}

// appendLocked is Append under appendMu; mk is the marker of a control
// batch (nil for data batches), checked with transactionVersion's rules
// (see AppendMarker). replica is the follower path (AppendReplica): the
// batch keeps its offsets and timestamps and is not checked against
// producer state.
func (p *Partition) appendLocked(batch []byte, h BatchHeader, mk *txnMarker, transactionVersion int16, coordinatorOrigin, replica bool) (AppendResult, error) {
	cfg := p.cfg.Load()
	if p.st().guard.Full() || p.st().idx.flushErr.Load() != nil {
		if err := p.writeBlockedError(); err != nil {
			return AppendResult{}, err
		}
	}
	if p.dirtyTail {
		p.repairTailLocked()
	}
	base := p.leo.Load()
	res := AppendResult{LogAppendTime: -1, LogStartOffset: p.logStart.Load()}

	if replica {
		base = h.BaseOffset
	} else if mk != nil {
		if err := p.producers.checkMarker(&h, mk, transactionVersion); err != nil {
			return res, fmt.Errorf("%s-%d: %w", p.topic, p.partition, err)
		}
	} else if h.ProducerID >= 0 {
		dup, err := p.producers.check(&h, coordinatorOrigin)
		if err != nil {
			return res, fmt.Errorf("%s-%d: %w", p.topic, p.partition, err)
		}
		if dup != nil {
			res.BaseOffset, res.LastOffset, res.Duplicate = dup.baseOffset, dup.lastOffset, true
			if cfg.LogAppendTime {
				res.LogAppendTime = dup.maxTs
			}
			return res, nil
		}
	}

	now := p.st().now()
	if cfg.LogAppendTime && mk == nil && !replica {
		ms := now.UnixMilli()
		stampLogAppendTime(batch, ms)
		h.MaxTimestamp = ms
		h.Attributes |= attrTimestampType
		res.LogAppendTime = ms
	}
	if !replica {
		setBaseOffset(batch, base)
		h.BaseOffset = base
	}
	last := h.LastOffset()
	if h.PartitionLeaderEpoch > p.latestEpoch.Load() {
		// A new leader epoch starts here (rare: once per epoch).
		if err := p.noteEpochLocked(h.PartitionLeaderEpoch, base); err != nil {
			return res, err
		}
	}

	seg := p.active
	if p.shouldRollLocked(seg, len(batch), h.MaxTimestamp, cfg) {
		if err := p.rollLocked(base); err != nil {
			return res, err
		}
		seg = p.active
	}

	pos := seg.size.Load()
	if _, err := seg.f.WriteAt(batch, pos); err != nil {
		p.truncateLocked(seg, pos)
		p.st().guard.Note(err)
		return res, fmt.Errorf("%w: writing %s at %d: %w", ErrStorage, seg.path, pos, err)
	}
	// The aborted-transaction index entry of an ABORT marker goes in the
	// same index commit as the marker's own entry.
	var aborted *AbortedTxn
	if mk != nil {
		if e := p.producers.m[h.ProducerID]; e != nil && e.txnFirst >= 0 && mk.kind == markerAbort {
			aborted = &AbortedTxn{ProducerID: h.ProducerID, FirstOffset: e.txnFirst, LastOffset: base,
				LastStableOffset: min(p.producers.firstUnstable(h.ProducerID), base+1)}
		}
	}
	wroteTime, err := p.indexAppendLocked(seg, pos, &h, mk, aborted)
	if err != nil {
		p.truncateLocked(seg, pos)
		return res, fmt.Errorf("%w: indexing %s-%d offset %d: %w", ErrStorage, p.topic, p.partition, base, err)
	}

	p.appendedRecords += int64(h.NumRecords)
	if fm := cfg.FlushMessages; fm > 0 && fm != math.MaxInt64 && p.appendedRecords-p.flushedRecords >= fm {
		if err := seg.f.Sync(); err != nil {
			p.st().guard.Note(err)
			p.appendedRecords -= int64(h.NumRecords)
			p.unindexLocked(wroteTime, aborted != nil)
			p.truncateLocked(seg, pos)
			return res, fmt.Errorf("%w: fsync %s: %w", ErrStorage, seg.path, err)
		}
		p.flushedRecords = p.appendedRecords
	} else if fms := cfg.FlushMs; fms > 0 && fms != math.MaxInt64 && !p.flushArmed {
		p.armFlushLocked(time.Duration(fms) * time.Millisecond)
	}

	// A transactional batch that opens a transaction holds the last
	// stable offset back from before its offset is published (readers
	// load the end offset, then firstUnstable).
	if h.Attributes&attrTransactional != 0 && mk == nil && p.producers.ongoingTxn(h.ProducerID) < 0 {
		p.firstUnstable.Store(min(p.firstUnstable.Load(), base))
	}

	// Publish: segment size first, then the end offset, so that readers
	// never see an offset whose bytes they cannot read.
	p.mu.Lock()
	seg.size.Store(pos + int64(len(batch)))
	seg.noteBatch(base, last, h.MaxTimestamp)
	seg.lastWriteMs = now.UnixMilli()
	if h.MaxTimestamp > p.maxTs {
		p.maxTs, p.maxTsOffset = h.MaxTimestamp, base
	}
	p.leo.Store(last + 1)
	ch := p.waitCh
	p.waitCh = nil
	p.mu.Unlock()
	if ch != nil {
		close(ch)
	}

	if h.ProducerID >= 0 {
		m := noMarker
		if mk != nil {
			m = *mk
		}
		if aborted != nil {
			p.lastAborted.Store(base)
		}
		if _, ok := p.producers.update(&h, now.UnixMilli(), m); ok {
			// The marker is published: the last stable offset may move
			// past the transaction now.
			p.firstUnstable.Store(p.producers.firstUnstable(-1))
		}
	}
	res.BaseOffset, res.LastOffset = base, last
	return res, nil
}

// writeBlockedError says why Append refuses to write: the log dir is full
// (see diskguard) or the index cannot flush. Both are KAFKA_STORAGE_ERROR
// and clear by themselves.
func (p *Partition) writeBlockedError() error {
	if err := p.st().guard.Check(); err != nil {
		return fmt.Errorf("%w: %s-%d: %w", ErrStorage, p.topic, p.partition, err)
	}
	if err := p.st().idx.writable(); err != nil {
		return fmt.Errorf("%s-%d: %w", p.topic, p.partition, err)
	}
	return nil
}

// shouldRollLocked applies Kafka's LogSegment.shouldRoll: a non-empty
// segment rolls when the batch would take it past segment.bytes, or when
// the batch's timestamp is more than segment.ms after the segment's first
// batch (Kafka measures segment age on record timestamps, so replaying old
// data does not roll on every batch).
func (p *Partition) shouldRollLocked(seg *segment, n int, maxTs int64, cfg *PartitionConfig) bool {
	size := seg.size.Load()
	if size == 0 {
		return false
	}
	if cfg.SegmentBytes > 0 && size+int64(n) > cfg.SegmentBytes {
		return true
	}
	return cfg.SegmentMs > 0 && seg.firstTs >= 0 && maxTs-seg.firstTs > cfg.SegmentMs
}

// rollLocked starts a new active segment at base. The old one is fsynced in
// the background, as Kafka does on roll, so that only the active segment
// can lose data in a power failure.
func (p *Partition) rollLocked(base int64) error {
	path := filepath.Join(p.lc().dir, segmentName(base))
	f, err := openSegmentFile(p.st().fs, path, true)
	if err != nil {
		p.st().guard.Note(err)
		return fmt.Errorf("%w: creating segment: %w", ErrStorage, err)
	}
	seg := newSegment(p.lc().dir, base, f)
	old := p.active
	p.mu.Lock()
	p.segs = append(p.segs, seg)
	p.mu.Unlock()
	p.active = seg
	p.dirtyTail = false
	if old != nil {
		p.st().syncInBackground(old, p.lc().dir)
	}
	p.log.Debug("logstore: rolled segment", "topic", p.topic, "partition", p.partition, "base", base)
	return nil
}

// indexAppendLocked commits the index entry of a written batch (and a
// time-index entry when the batch raises the segment's max timestamp).
func (p *Partition) indexAppendLocked(seg *segment, pos int64, h *BatchHeader, mk *txnMarker, aborted *AbortedTxn) (wroteTime bool, err error) {
	e := entryFromHeader(h, seg.base, pos)
	if mk != nil {
		e.marker = *mk
	}
	p.keyBuf = appendOffsetKey(p.keyBuf[:0], p.lc().pid, h.BaseOffset)
	p.valBuf = e.appendValue(p.valBuf[:0])
	b := p.idxBatch
	_ = b.Set(p.keyBuf, p.valBuf, nil)
	if aborted != nil {
		_ = setAborted(b, p.lc().pid, aborted)
	}
	if h.MaxTimestamp > seg.maxTs {
		p.tkeyBuf = appendTimeKey(p.tkeyBuf[:0], p.lc().pid, seg.base, h.MaxTimestamp)
		p.tvalBuf = appendTimeValue(p.tvalBuf[:0], h.BaseOffset, h.LastOffsetDelta)
		_ = b.Set(p.tkeyBuf, p.tvalBuf, nil)
		wroteTime = true
	}
	err = b.Commit(pebble.NoSync)
	b.Reset()
	p.st().idx.markDirty()
	return wroteTime, err
}

// unindexLocked removes the entries indexAppendLocked just wrote.
func (p *Partition) unindexLocked(wroteTime, wroteAborted bool) {
	b := p.idxBatch
	_ = b.Delete(p.keyBuf, nil)
	if wroteAborted {
		_ = b.Delete(appendAbortedKey(nil, p.lc().pid, int64(binary.BigEndian.Uint64(p.keyBuf[5:]))), nil)
	}
	if wroteTime {
		_ = b.Delete(p.tkeyBuf, nil)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		p.log.Error("logstore: removing index entry of a failed append", "topic", p.topic, "partition", p.partition, "err", err)
	}
	b.Reset()
}

// truncateLocked cuts the active segment back to size after a failed
// append. If that fails too the next append retries; meanwhile the stray
// bytes are invisible (readers stop at seg.size) and get overwritten,
// since writes are positional.
func (p *Partition) truncateLocked(seg *segment, size int64) {
	if err := seg.f.Truncate(size); err != nil {
		p.dirtyTail = true
		p.log.Error("logstore: truncating after failed append", "segment", seg.path, "size", size, "err", err)
		return
	}
	p.dirtyTail = false
}

func (p *Partition) repairTailLocked() {
	p.truncateLocked(p.active, p.active.size.Load())
}

func (p *Partition) armFlushLocked(d time.Duration) {
	p.flushArmed = true
	if p.flushTimer == nil {
		p.flushTimer = time.AfterFunc(d, p.flushTick)
		return
	}
	p.flushTimer.Reset(d)
}

// flushTick implements flush.ms: fsync the active segment once the oldest
// unflushed write is that old. The fsync runs without appendMu so appends
// continue meanwhile.
func (p *Partition) flushTick() {
	p.appendMu.Lock()
	p.flushArmed = false
	if p.closed.Load() || p.appendedRecords == p.flushedRecords {
		p.appendMu.Unlock()
		return
	}
	target, seg := p.appendedRecords, p.active
	ok := seg.acquire()
	p.appendMu.Unlock()
	if !ok {
		return
	}
	err := seg.f.Sync()
	seg.release()
	if err != nil {
		p.log.Error("logstore: flush.ms fsync failed", "segment", seg.path, "err", err)
		return
	}
	p.appendMu.Lock()
	if target > p.flushedRecords {
		p.flushedRecords = target
	}
	p.appendMu.Unlock()
}

// segmentAt returns the segment with the given base offset, referenced;
// the caller must release it.
func (p *Partition) segmentAt(base int64) *segment {
	p.mu.RLock()
	defer p.mu.RUnlock()
	i := sort.Search(len(p.segs), func(i int) bool { return p.segs[i].base >= base })
	if i < len(p.segs) && p.segs[i].base == base && p.segs[i].acquire() {
		return p.segs[i]
	}
	return nil
}

// Read returns whole batches starting with the one that contains offset,
// up to maxBytes, but always at least that first batch (KIP-74), so a
// consumer can make progress past a batch larger than its fetch size. It
// reads from one segment only, like Kafka. The batch is found with one
// index seek; the file is read with one pread, without holding any lock
// during I/O. Call Release on the result when its bytes have been sent.
//
// An offset equal to the log end offset gives an empty result; one below
// the log start offset or beyond the end gives ErrOffsetOutOfRange.
func (p *Partition) Read(offset int64, maxBytes int32) (ReadResult, error) {
	return p.read(offset, maxBytes, false, false, false, false)
}

// ReadFile is Read without reading the records: the result holds the
// file range they occupy (ReadResult.File), for sendfile. Only the first
// batch's header is read, to check it against the index (a damaged
// segment answers ErrCorruptBatch as Read does). The range ends at the
// segment's published size, and holds whole batches up to maxBytes, the
// last one found with an index scan (the first batch always, KIP-74;
// Kafka's LogSegment.read would cut the last one at maxBytes). Call
// Release when the bytes have been sent.
func (p *Partition) ReadFile(offset int64, maxBytes int32) (ReadResult, error) {
	return p.read(offset, maxBytes, false, false, false, true)
}

// read is Read; belowStart lets it read batches below the log start that
// are still in a segment (see ReadBelowStart).
// committed stops at the last stable offset (ReadCommitted); replica
// reads past the high watermark of a replicated partition (ReadReplica).
//
// file makes it a zero-copy read (ReadFile): the result is a file range,
// cut at the high watermark or last stable offset with a second index
// lookup instead of by reading the batches.
func (p *Partition) read(offset int64, maxBytes int32, belowStart, committed, replica, file bool) (ReadResult, error) {
	if p.closed.Load() {
		return ReadResult{}, ErrPartitionClosed
	}
	logStart, leo := p.logStart.Load(), p.leo.Load()
	if (offset < logStart && !belowStart) || offset > leo {
		return ReadResult{}, fmt.Errorf("%w: %s-%d offset %d not in [%d, %d]", ErrOffsetOutOfRange, p.topic, p.partition, offset, logStart, leo)
	}
	hw, upper := leo, leo
	repl := p.replicated.Load()
	if repl {
		hw = min(p.hw.Load(), leo)
		if !replica {
			upper = hw
		}
	}
	lso := min(hw, max(p.firstUnstable.Load(), logStart))
	res := ReadResult{HighWatermark: hw, LastStableOffset: lso, LogStartOffset: logStart}
	if offset >= upper || (committed && offset >= lso) {
		return res, nil
	}
	// The first batch's header, read by locate when it finds the batch
	// without the index, else by readFile.
	var hdr [BatchHeaderSize]byte
	seg, e, at, err := p.locate(offset, hdr[:])
	if err != nil || seg == nil {
		return res, err
	}
	if file {
		return p.readFile(offset, seg, &e, at, hdr[:], res, upper, maxBytes, belowStart, committed, replica, repl)
	}
	seq, trunc := at.seq, at.trunc
	defer seg.release()
	end := seg.size.Load()
	if e.end() > end {
		return res, nil // a batch after a gap that is not published yet
	}
	n := end - e.pos
	if int64(maxBytes) < n {
		n = max(int64(maxBytes), int64(e.size))
	}
	rb := getReadBuf(int(n))
	if err := p.readSegment(seg, rb.b, e.pos); err != nil {
		rb.put()
		return ReadResult{}, err
	}
	if err := p.checkReadBatch(seg, &e, rb.b); err != nil {
		rb.put()
		return ReadResult{}, err
	}
	upper = p.readUpper(&res, upper, repl, replica)
	if committed {
		res.Batches = rb.b[:cutAt(rb.b, res.LastStableOffset)]
	} else if repl && !replica {
		res.Batches = rb.b[:cutAt(rb.b, upper)]
	} else {
		res.Batches = rb.b[:wholeBatches(rb.b)]
	}
	res.release = rb.release
	res.LogStartOffset = p.logStart.Load()
	if next := nextOffsetAfter(res.Batches); next >= 0 {
		p.remember(offset, seq, trunc, seg.base, e.pos+int64(len(res.Batches)), next)
	}
	return res, nil
}

// located says when and how locate found a read's first batch.
type located struct {
	seq, trunc uint64 // swapSeq and truncations before the lookup
	// headerRead says locate read the batch header into the caller's
	// buffer (it found the batch without the index).
	headerRead bool
}

// locate finds the batch holding offset: from a read hint or a segment
// start (readhint.go), reading the batch header into head (len
// BatchHeaderSize), or
// else from the index. It returns the batch's segment, referenced (nil
// when no batch holds offset yet), and its entry. It retries when a
// cleaner swap or a log dir move happened between the lookups.
func (p *Partition) locate(offset int64, head []byte) (*segment, indexEntry, located, error) {
	for {
		at := located{seq: p.swapSeq.Load(), trunc: p.truncations.Load()}
		l := p.lc() // after seq: a move's swap changes both
		if testHookLoc != nil {
			testHookLoc("read")
		}
		if seg, e, ok := p.locateFast(offset, at.seq, at.trunc, head); ok {
			at.headerRead = true
			return seg, e, at, nil
		}
		e, ok, err := l.store.idx.lookup(l.pid, offset)
		if err != nil {
			return nil, e, at, fmt.Errorf("%w: index lookup %s-%d offset %d: %w", ErrStorage, p.topic, p.partition, offset, err)
		}
		if !ok {
			if p.swapSeq.Load() != at.seq {
				continue // a move's swap dropped the index looked in
			}
			return nil, e, at, nil
		}
		seg := p.segmentAt(e.segBase)
		if p.swapSeq.Load() != at.seq {
			// The cleaner swapped segments between the two lookups:
			// the entry may describe the other file.
			if seg != nil {
				seg.release()
			}
			continue
		}
		if seg == nil {
			return nil, e, at, p.goneError(offset)
		}
		return seg, e, at, nil
	}
}

// nextOffsetAfter is the offset after the last whole batch of b (b holds
// whole batches), or -1 when b is empty.
func nextOffsetAfter(b []byte) int64 {
	next := int64(-1)
	for len(b) >= BatchHeaderSize {
		h, err := ParseBatchHeader(b)
		if err != nil || h.TotalSize() > len(b) {
			break
		}
		next = h.LastOffset() + 1
		b = b[h.TotalSize():]
	}
	return next
}

// readSegment preads len(b) bytes of seg at pos. A short read is
// ErrPartitionClosed when the partition closed under it (its files went
// with it), else ErrStorage.
func (p *Partition) readSegment(seg *segment, b []byte, pos int64) error {
	k, err := seg.f.ReadAt(b, pos)
	if k == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if p.closed.Load() {
		return ErrPartitionClosed
	}
	return fmt.Errorf("%w: reading %s at %d: %w", ErrStorage, seg.path, pos, err)
}

// readUpper is the offset a read stops below once its first batch is
// read: a consumer of a replicated partition stops at the high watermark.
// An unreplicated partition's high watermark is its log end, which may
// have moved since res was filled in: res then takes the newer one.
func (p *Partition) readUpper(res *ReadResult, upper int64, repl, replica bool) int64 {
	if repl {
		if !replica {
			return res.HighWatermark
		}
	} else if hw := p.leo.Load(); hw > res.HighWatermark {
		res.HighWatermark = hw
		res.LastStableOffset = min(hw, max(p.firstUnstable.Load(), res.LogStartOffset))
	}
	return upper
}

// readFile is read's zero-copy end (ReadFile): seg is referenced and e
// is the index entry of the batch holding the offset. On success the
// reference goes with the result.
//
// hdr holds the first batch's header when locate read it (at.headerRead);
// else it is read here.
func (p *Partition) readFile(offset int64, seg *segment, e *indexEntry, at located, hdr []byte, res ReadResult, upper int64, maxBytes int32, belowStart, committed, replica, repl bool) (ReadResult, error) {
	keep := false
	defer func() {
		if !keep {
			seg.release()
		}
	}()
	seq, trunc := at.seq, at.trunc
	end := seg.size.Load()
	if e.end() > end {
		return res, nil // a batch after a gap that is not published yet
	}
	if !at.headerRead {
		if err := p.readSegment(seg, hdr, e.pos); err != nil {
			return ReadResult{}, err
		}
	}
	if err := p.checkReadBatch(seg, e, hdr); err != nil {
		return ReadResult{}, err
	}
	upper = p.readUpper(&res, upper, repl, replica)
	// The bytes up to end are whole, published batches below the log end
	// offset. A read that stops earlier (read_committed at the last
	// stable offset, a consumer of a replicated partition at the high
	// watermark) finds the first batch at or past its limit with a second
	// index lookup, as Kafka translates the offset to a position.
	limit := int64(-1)
	if committed {
		limit = res.LastStableOffset
	} else if repl && !replica {
		limit = upper
	}
	// next is the offset of the batch at cut, for the read hint: a guess
	// at the segment's end (the log end offset, loaded after its size),
	// checked against the segment when used.
	cut, next := end, p.leo.Load()
	if limit >= 0 {
		if testHookLoc != nil {
			testHookLoc("readFile")
		}
		c, cnext, err := p.cutPosition(seg, limit, end)
		if err != nil {
			return ReadResult{}, err
		}
		if p.swapSeq.Load() != seq {
			// A cleaner swap between the lookups: read the bytes instead.
			return p.read(offset, maxBytes, belowStart, committed, replica, false)
		}
		cut = c
		if c < end {
			next = cnext
		}
	}
	if cut < e.end() {
		return res, nil
	}
	n := cut - e.pos
	if int64(maxBytes) < n {
		n, next = int64(e.size), e.lastOffset()+1
		if int64(maxBytes) > n {
			// Whole batches only, as Read: the end of the last batch
			// within maxBytes, from the index entries after the first
			// (one iterator; no segment bytes are read).
			last, lastNext, err := p.lastBatchEnd(seg, e, e.pos+int64(maxBytes))
			if err != nil {
				return ReadResult{}, err
			}
			if p.swapSeq.Load() != seq {
				return p.read(offset, maxBytes, belowStart, committed, replica, false)
			}
			n, next = last-e.pos, lastNext
		}
	}
	p.remember(offset, seq, trunc, seg.base, e.pos+n, next)
	res.File, res.FilePos, res.FileLen = seg.f, e.pos, n
	res.release = seg.releaseFn
	res.LogStartOffset = p.logStart.Load()
	keep = true
	return res, nil
}

// lastBatchEnd is the end position of the last batch of seg, starting
// with first, that ends at or before limit (at least first's end), and
// the offset after that batch.
func (p *Partition) lastBatchEnd(seg *segment, first *indexEntry, limit int64) (int64, int64, error) {
	last, next := first.end(), first.lastOffset()+1
	l := p.lc()
	err := l.store.idx.scanEntries(l.pid, first.lastOffset()+1, -1, func(x *indexEntry) (bool, error) {
		if x.segBase != seg.base || x.pos != last || x.end() > limit {
			return false, nil
		}
		last, next = x.end(), x.lastOffset()+1
		return true, nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("%w: index scan %s-%d from offset %d: %w", ErrStorage, p.topic, p.partition, first.lastOffset()+1, err)
	}
	return last, next, nil
}

// cutPosition is the position in seg of the first batch whose base offset
// is at or past limit (the batch holding limit is kept whole, as cutAt
// does), or end when that batch is not in seg before end; and that
// batch's base offset (meaningless when the position is end).
func (p *Partition) cutPosition(seg *segment, limit, end int64) (int64, int64, error) {
	l := p.lc()
	e, ok, err := l.store.idx.lookup(l.pid, limit)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: index lookup %s-%d offset %d: %w", ErrStorage, p.topic, p.partition, limit, err)
	}
	if !ok || e.segBase != seg.base {
		return end, 0, nil
	}
	c, next := e.pos, e.baseOffset
	if e.baseOffset < limit {
		c, next = e.end(), e.lastOffset()+1
	}
	return min(c, end), next, nil
}

// checkReadBatch compares the first batch of a read with the index entry
// that located it. They disagree only when the segment file changed under
// the index (damage on disk, or an edit by hand): then the read must not
// hand the bytes out, since a consumer would either stall on a length it
// cannot satisfy or get records under wrong offsets. The error is
// ErrCorruptBatch (Fetch answers CORRUPT_MESSAGE, as Kafka does for a
// CorruptRecordException) and the damage is logged once per batch with the
// segment's path, however often consumers retry.
func (p *Partition) checkReadBatch(seg *segment, e *indexEntry, b []byte) error {
	h, err := ParseBatchHeader(b)
	if err == nil && h.BaseOffset == e.baseOffset && int32(h.TotalSize()) == e.size && h.LastOffsetDelta == e.lastOffsetDelta {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("header on disk says base offset %d, %d bytes, last offset delta %d; the index says %d, %d bytes, %d",
			h.BaseOffset, h.TotalSize(), h.LastOffsetDelta, e.baseOffset, e.size, e.lastOffsetDelta)
	}
	if _, dup := p.damaged.LoadOrStore(e.baseOffset, struct{}{}); !dup {
		p.log.Error("logstore: damaged batch in segment; not serving it",
			"segment", seg.path, "position", e.pos, "offset", e.baseOffset, "topic", p.topic, "partition", p.partition, "err", err)
	}
	return fmt.Errorf("%w: %s at position %d (offset %d) does not match the index: %w", ErrCorruptBatch, seg.path, e.pos, e.baseOffset, err)
}

// goneError explains why the segment of an index entry was not found:
// retention deleted it (the offset is now below the log start) or the
// partition closed.
func (p *Partition) goneError(offset int64) error {
	if p.closed.Load() {
		return ErrPartitionClosed
	}
	if ls := p.logStart.Load(); offset < ls {
		return fmt.Errorf("%w: %s-%d offset %d is below the log start %d", ErrOffsetOutOfRange, p.topic, p.partition, offset, ls)
	}
	return fmt.Errorf("%w: %s-%d index points to a missing segment for offset %d", ErrStorage, p.topic, p.partition, offset)
}

// wholeBatches returns the length of the longest prefix of b made of whole
// batches, by following the length fields only.
func wholeBatches(b []byte) int {
	off := 0
	for len(b)-off >= batchLengthOverhead {
		l := int64(int32(binary.BigEndian.Uint32(b[off+offLength:])))
		total := l + batchLengthOverhead
		if l < minBatchLength || int64(off)+total > int64(len(b)) {
			break
		}
		off += int(total)
	}
	return off
}

// OffsetForTimestamp returns the base offset of the first batch whose max
// timestamp is >= ts, and that timestamp (ListOffsets at batch granularity:
// the caller refines to the record by reading that batch). If the log
// start offset lies inside that batch, the log start is returned instead,
// and records below it must be skipped when refining. Segments are chosen
// by their in-memory max timestamp, then one seek in the segment's time
// index finds the batch; no segment data is read. Like Read, it retries
// when a cleaner swap (swapSeq) happened meanwhile: the time index entries
// of a merged segment move to the group's base.
func (p *Partition) OffsetForTimestamp(ts int64) (offset int64, batchMaxTs int64, found bool) {
	for {
		seq := p.swapSeq.Load()
		offset, batchMaxTs, found = p.offsetForTimestamp(ts)
		if p.swapSeq.Load() == seq {
			return offset, batchMaxTs, found
		}
	}
}

// testHookLoc, if set (tests only), runs right after a read loaded the
// log's location (where: "read", or "aborted" in ReadCommitted and
// AbortedTransactions), so a test can swap a log-dir move in there.
var testHookLoc func(where string)

// testHookTimeCandidates, if set (tests only), runs after
// offsetForTimestamp chose its candidate segments.
var testHookTimeCandidates func()

func (p *Partition) offsetForTimestamp(ts int64) (offset int64, batchMaxTs int64, found bool) {
	type cand struct{ base, next int64 }
	var buf [8]cand
	cands := buf[:0]
	p.mu.RLock()
	l := p.lc() // with segs: a move's swap changes both under mu
	for i, s := range p.segs {
		if s.empty() || s.maxTs < ts {
			continue
		}
		next := int64(math.MaxInt64)
		if i+1 < len(p.segs) {
			next = p.segs[i+1].base
		}
		cands = append(cands, cand{s.base, next})
	}
	p.mu.RUnlock()
	if testHookTimeCandidates != nil {
		testHookTimeCandidates()
	}

	logStart := p.logStart.Load()
	for _, c := range cands {
		if c.next <= logStart {
			continue
		}
		base, lod, maxTs, ok, err := l.store.idx.seekTime(l.pid, c.base, ts)
		if err != nil {
			p.log.Error("logstore: time index seek", "topic", p.topic, "partition", p.partition, "err", err)
			return -1, -1, false
		}
		if !ok {
			continue
		}
		if base+int64(lod) >= logStart {
			return max(base, logStart), maxTs, true
		}
		// DeleteRecords moved the log start into this segment past the
		// batch found: look for a later batch in the segment via the
		// offset index (bounded by one segment).
		var hit indexEntry
		err = l.store.idx.scanEntries(l.pid, c.base, c.next, func(e *indexEntry) (bool, error) {
			if e.lastOffset() >= logStart && e.maxTs >= ts {
				hit = *e
				return false, nil
			}
			return true, nil
		})
		if err != nil {
			p.log.Error("logstore: offset index scan", "topic", p.topic, "partition", p.partition, "err", err)
			return -1, -1, false
		}
		if hit.size > 0 {
			return max(hit.baseOffset, logStart), hit.maxTs, true
		}
	}
	return -1, -1, false
}

// MaxTimestamp returns the largest batch max timestamp in the log and the
// base offset of the first batch carrying it (ListOffsets -3,
// MAX_TIMESTAMP). Kafka answers with the offset of the record holding the
// timestamp, so the caller refines: the first record of that batch with
// timestamp >= ts (for LogAppendTime batches, the batch's first record).
// It is (-1, -1) for an empty log.
func (p *Partition) MaxTimestamp() (ts int64, offset int64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.maxTs == noMaxTimestamp {
		return -1, -1
	}
	return p.maxTs, p.maxTsOffset
}

// recomputeMaxTsLocked refreshes the partition max timestamp after
// segments went away. p.mu must be held for writing.
func (p *Partition) recomputeMaxTsLocked() {
	p.maxTs, p.maxTsOffset = noMaxTimestamp, -1
	for _, s := range p.segs {
		if !s.empty() && s.maxTs > p.maxTs {
			p.maxTs, p.maxTsOffset = s.maxTs, s.maxTsOffset
		}
	}
}

// close stops the partition: appends and reads fail with
// ErrPartitionClosed, waiters wake, and segment files close once the last
// reader is done with them. With sync the active segment is fsynced first
// (clean shutdown).
func (p *Partition) close(sync bool) error {
	p.retMu.Lock()
	defer p.retMu.Unlock()
	p.appendMu.Lock()
	if p.closed.Swap(true) {
		p.appendMu.Unlock()
		return nil
	}
	if p.flushTimer != nil {
		p.flushTimer.Stop()
	}
	var err error
	if sync && p.active != nil {
		if serr := p.active.f.Sync(); serr != nil {
			err = fmt.Errorf("%w: fsync %s: %w", ErrStorage, p.active.path, serr)
		}
	}
	if p.idxBatch != nil {
		_ = p.idxBatch.Close()
		p.idxBatch = nil
	}
	p.mu.Lock()
	segs := p.segs
	p.segs = nil
	ch := p.waitCh
	p.waitCh = nil
	p.mu.Unlock()
	p.active = nil
	p.appendMu.Unlock()
	if ch != nil {
		close(ch)
	}
	for _, s := range segs {
		s.release()
	}
	return err
}
