package logstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
)

// Replication support: the leader-epoch cache (Kafka's
// LeaderEpochFileCache and its leader-epoch-checkpoint file), the
// follower append path (UnifiedLog.appendAsFollower), truncation
// (UnifiedLog.truncateTo) and a high watermark below the log end offset
// for partitions that are replicated. See doc.go, "Replication".

// leaderEpochCheckpoint is the per-partition file of the leader-epoch
// cache, in Kafka's CheckpointFile format: a version line (0), a count
// line, then one "epoch startOffset" line per entry.
const leaderEpochCheckpoint = "leader-epoch-checkpoint"

// epochNotLoaded is Partition.latestEpoch before the cache was read: any
// batch's epoch compares above it, so the first append loads the cache.
const epochNotLoaded = math.MinInt32

// EpochEntry is one entry of the leader-epoch cache: the first offset
// written in leader epoch Epoch (Kafka's EpochEntry).
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// ParseLeaderEpochCheckpoint decodes a leader-epoch-checkpoint file
// (Kafka's LeaderEpochCheckpointFile: version 0, a count, then "epoch
// offset" lines). Entries must have increasing epochs and non-decreasing
// start offsets; anything else is an error, so a damaged file is rebuilt
// from the log instead of trusted.
func ParseLeaderEpochCheckpoint(data []byte) ([]EpochEntry, error) {
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) < 2 {
		return nil, fmt.Errorf("leader-epoch-checkpoint: %d lines, want at least 2", len(lines))
	}
	if v, err := strconv.Atoi(string(bytes.TrimSpace(lines[0]))); err != nil || v != 0 {
		return nil, fmt.Errorf("leader-epoch-checkpoint: unsupported version %q", lines[0])
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(lines[1])))
	if err != nil || n < 0 || n != len(lines)-2 {
		return nil, fmt.Errorf("leader-epoch-checkpoint: count %q does not match %d entries", lines[1], len(lines)-2)
	}
	out := make([]EpochEntry, 0, n)
	for _, l := range lines[2:] {
		f := bytes.Fields(l)
		if len(f) != 2 {
			return nil, fmt.Errorf("leader-epoch-checkpoint: malformed line %q", l)
		}
		e, err1 := strconv.ParseInt(string(f[0]), 10, 32)
		o, err2 := strconv.ParseInt(string(f[1]), 10, 64)
		if err1 != nil || err2 != nil || e < 0 || o < 0 {
			return nil, fmt.Errorf("leader-epoch-checkpoint: malformed line %q", l)
		}
		if k := len(out); k > 0 && (int32(e) <= out[k-1].Epoch || o < out[k-1].StartOffset) {
			return nil, fmt.Errorf("leader-epoch-checkpoint: entry %q out of order", l)
		}
		out = append(out, EpochEntry{Epoch: int32(e), StartOffset: o})
	}
	return out, nil
}

// AppendLeaderEpochCheckpoint encodes entries in the format
// ParseLeaderEpochCheckpoint reads.
func AppendLeaderEpochCheckpoint(dst []byte, entries []EpochEntry) []byte {
	dst = append(dst, "0\n"...)
	dst = strconv.AppendInt(dst, int64(len(entries)), 10)
	dst = append(dst, '\n')
	for _, e := range entries {
		dst = strconv.AppendInt(dst, int64(e.Epoch), 10)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, e.StartOffset, 10)
		dst = append(dst, '\n')
	}
	return dst
}

// loadEpochsLocked fills the leader-epoch cache from its file, or, when
// the file is missing or damaged, from the batch headers of the log (as
// Kafka rebuilds it when the checkpoint is gone), and drops entries at or
// past the log end (a file written before a crash cut the log's tail).
// appendMu and epochMu must be held.
func (p *Partition) loadEpochsLocked() error {
	if p.epochsLoaded {
		return nil
	}
	path := filepath.Join(p.lc().dir, leaderEpochCheckpoint)
	entries, err := p.readEpochFile(path)
	leo := p.leo.Load()
	if err != nil || (entries == nil && leo > p.logStart.Load()) {
		if err != nil {
			p.log.Warn("logstore: rebuilding leader-epoch cache from the log", "topic", p.topic, "partition", p.partition, "err", err)
		}
		if entries, err = p.scanEpochsLocked(); err != nil {
			return err
		}
		p.epochs = entries
		if err := p.writeEpochsLocked(); err != nil {
			return err
		}
	} else {
		p.epochs = entries
	}
	p.epochsLoaded = true
	p.truncateEpochsFromEndLocked(leo)
	p.publishLatestEpochLocked()
	return nil
}

// readEpochFile reads the checkpoint: (nil, nil) when it does not exist.
func (p *Partition) readEpochFile(path string) ([]EpochEntry, error) {
	f, err := p.st().fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > 1<<24 {
		return nil, fmt.Errorf("%s is %d bytes", path, st.Size())
	}
	data := make([]byte, st.Size())
	if n, err := f.ReadAt(data, 0); n < len(data) && err != nil && err != io.EOF {
		return nil, err
	}
	entries, err := ParseLeaderEpochCheckpoint(data)
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// scanEpochsLocked rebuilds the cache from the partition leader epochs of
// the batches in the segments (appendMu held, so the log does not grow).
func (p *Partition) scanEpochsLocked() ([]EpochEntry, error) {
	p.mu.RLock()
	segs := make([]*segment, 0, len(p.segs))
	for _, s := range p.segs {
		if s.acquire() {
			segs = append(segs, s)
		}
	}
	p.mu.RUnlock()
	defer func() {
		for _, s := range segs {
			s.release()
		}
	}()
	var out []EpochEntry
	rb := getReadBuf(scanBufSize)
	buf := rb.b[:0]
	defer rb.put()
	for _, s := range segs {
		_, _, err := scanBatches(s.f, 0, s.size.Load(), 0, &buf, func(h *BatchHeader, _ int64) error {
			if h.PartitionLeaderEpoch >= 0 && (len(out) == 0 || h.PartitionLeaderEpoch > out[len(out)-1].Epoch) {
				out = append(out, EpochEntry{Epoch: h.PartitionLeaderEpoch, StartOffset: h.BaseOffset})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%w: scanning %s for leader epochs: %w", ErrStorage, s.path, err)
		}
	}
	return out, nil
}

// writeEpochsLocked persists the cache (epochMu held).
func (p *Partition) writeEpochsLocked() error {
	data := AppendLeaderEpochCheckpoint(nil, p.epochs)
	if err := writeFileAtomic(p.st().fs, filepath.Join(p.lc().dir, leaderEpochCheckpoint), data); err != nil {
		return fmt.Errorf("%w: writing %s-%d leader-epoch checkpoint: %w", ErrStorage, p.topic, p.partition, err)
	}
	return nil
}

func (p *Partition) publishLatestEpochLocked() {
	if len(p.epochs) == 0 {
		p.latestEpoch.Store(-1)
		return
	}
	p.latestEpoch.Store(p.epochs[len(p.epochs)-1].Epoch)
}

// truncateEpochsFromEndLocked drops entries starting at or after end
// (Kafka's LeaderEpochFileCache.truncateFromEnd). Reports a change.
func (p *Partition) truncateEpochsFromEndLocked(end int64) bool {
	n := len(p.epochs)
	for n > 0 && p.epochs[n-1].StartOffset >= end {
		n--
	}
	if n == len(p.epochs) {
		return false
	}
	p.epochs = p.epochs[:n]
	return true
}

// noteEpochLocked is the append path's slow branch, taken when a batch
// carries an epoch above the latest known one (or the cache is not loaded
// yet): it records that epoch as starting at base (Kafka's
// LeaderEpochFileCache.assign). appendMu must be held.
func (p *Partition) noteEpochLocked(epoch int32, base int64) error {
	p.epochMu.Lock()
	defer p.epochMu.Unlock()
	if err := p.loadEpochsLocked(); err != nil {
		return err
	}
	if epoch < 0 || (len(p.epochs) > 0 && epoch <= p.epochs[len(p.epochs)-1].Epoch) {
		return nil
	}
	// An older epoch starting at base had nothing written in it (a
	// leader's AssignEpochStart): the new one replaces it, as Kafka's
	// LeaderEpochFileCache.assign drops entries starting at or after the
	// new one's start (maybeTruncateNonMonotonicEntries).
	p.truncateEpochsFromEndLocked(base)
	p.epochs = append(p.epochs, EpochEntry{Epoch: epoch, StartOffset: base})
	p.publishLatestEpochLocked()
	return p.writeEpochsLocked()
}

// AssignEpochStart records that leader epoch epoch starts at the current
// log end offset, as Kafka's Partition.makeLeader does
// (maybeAssignEpochStartOffset), so that OffsetForLeaderEpoch answers the
// new epoch before anything was written in it. Epochs not above the
// latest known one are ignored.
func (p *Partition) AssignEpochStart(epoch int32) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed.Load() {
		return ErrPartitionClosed
	}
	return p.noteEpochLocked(epoch, p.leo.Load())
}

// LeaderEpochs returns a copy of the leader-epoch cache.
func (p *Partition) LeaderEpochs() ([]EpochEntry, error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.epochMu.Lock()
	defer p.epochMu.Unlock()
	if err := p.loadEpochsLocked(); err != nil {
		return nil, err
	}
	return append([]EpochEntry(nil), p.epochs...), nil
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch from the leader-epoch
// cache, as Kafka's LeaderEpochFileCache.endOffsetFor: for epoch -1, or
// one above every known epoch, (-1, -1); for the latest epoch, the log
// end offset; otherwise the largest known epoch <= requested (the
// requested one itself when it is below every known epoch) and the start
// offset of the first epoch after it.
func (p *Partition) EndOffsetForEpoch(requested int32) (epoch int32, endOffset int64, err error) {
	if requested >= 0 && requested == p.latestEpoch.Load() {
		// The latest epoch ends at the log end: the common question of
		// a follower's fetch, answered without a lock.
		return requested, p.leo.Load(), nil
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.epochMu.Lock()
	defer p.epochMu.Unlock()
	if err := p.loadEpochsLocked(); err != nil {
		return -1, -1, err
	}
	epoch, endOffset = endOffsetFor(p.epochs, requested, p.leo.Load())
	return epoch, endOffset, nil
}

func endOffsetFor(epochs []EpochEntry, requested int32, leo int64) (int32, int64) {
	if requested < 0 || len(epochs) == 0 {
		return -1, -1
	}
	if epochs[len(epochs)-1].Epoch == requested {
		return requested, leo
	}
	hi := -1
	for i, e := range epochs {
		if e.Epoch > requested {
			hi = i
			break
		}
	}
	switch {
	case hi < 0:
		return -1, -1
	case hi == 0:
		return requested, epochs[0].StartOffset
	default:
		return epochs[hi-1].Epoch, epochs[hi].StartOffset
	}
}

// Replicated reports whether the partition's high watermark is kept
// apart from its log end offset (see SetReplicated).
func (p *Partition) Replicated() bool { return p.replicated.Load() }

// SetReplicated switches the partition between a single node's rule
// (the high watermark is the log end offset) and replication's (the high
// watermark is what the replica manager sets with SetHighWatermark,
// starting at hw, clamped to the log). Consumers' Read, ReadCommitted and
// LastStableOffset stop at the high watermark; ReadReplica does not.
func (p *Partition) SetReplicated(on bool, hw int64) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.hw.Store(min(max(hw, p.logStart.Load()), p.leo.Load()))
	p.replicated.Store(on)
	p.wake()
}

// SetHighWatermark moves the high watermark of a replicated partition
// (clamped to [log start, log end]) and wakes long-polling fetches when
// it moves. It returns the value in force.
func (p *Partition) SetHighWatermark(hw int64) int64 {
	hw = min(max(hw, p.logStart.Load()), p.leo.Load())
	if p.hw.Swap(hw) != hw {
		p.wake()
	}
	return hw
}

// MaybeIncrementHighWatermark raises the high watermark of a replicated
// partition to hw (never lowers it: Kafka's leader high watermark only
// grows) and reports whether it moved.
func (p *Partition) MaybeIncrementHighWatermark(hw int64) bool {
	hw = min(hw, p.leo.Load())
	for {
		cur := p.hw.Load()
		if hw <= cur {
			return false
		}
		if p.hw.CompareAndSwap(cur, hw) {
			p.wake()
			return true
		}
	}
}

// Notify wakes whoever waits on Wait (the replica manager calls it when
// leadership changes, so delayed produces re-check it).
func (p *Partition) Notify() { p.wake() }

// wake closes the Wait channel.
func (p *Partition) wake() {
	p.mu.Lock()
	ch := p.waitCh
	p.waitCh = nil
	p.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// ReadReplica is Read for a follower's fetch: it reads up to the log
// end offset, past the high watermark.
func (p *Partition) ReadReplica(offset int64, maxBytes int32) (ReadResult, error) {
	return p.read(offset, maxBytes, false, false, true, false)
}

// ReadReplicaFile is ReadReplica as a file range (see ReadFile).
func (p *Partition) ReadReplicaFile(offset int64, maxBytes int32) (ReadResult, error) {
	return p.read(offset, maxBytes, false, false, true, true)
}

// AppendReplica appends record batches fetched from the leader as they
// are (Kafka's UnifiedLog.appendAsFollower): their offsets, leader epochs
// and timestamps are kept, producer state is updated without the
// idempotence checks, and the leader-epoch cache learns every new epoch.
// Batches must start at or after the log end offset, except that an
// empty log (log end = log start) whose end falls inside the first batch
// first restarts at that batch's base offset: a log start inside a batch
// (DeleteRecords) makes the first read of a follower or of a log-dir
// move's future log return that whole batch (Kafka's
// Partition.appendRecordsToFollowerOrFutureReplica on an
// UnexpectedAppendOffsetException; the log start then follows the
// source's again). It returns the new log end offset. A batch that fails
// stops the append; those before it stay.
func (p *Partition) AppendReplica(batches []byte) (int64, error) {
	if h, err := ParseBatchHeader(batches); err == nil {
		if leo := p.leo.Load(); h.BaseOffset < leo && h.LastOffset() >= leo && leo == p.logStart.Load() {
			if err := p.startAtBatch(h.BaseOffset, h.LastOffset()); err != nil {
				return p.leo.Load(), err
			}
		}
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed.Load() {
		return 0, ErrPartitionClosed
	}
	for len(batches) > 0 {
		h, err := ParseBatchHeader(batches)
		if err != nil {
			return p.leo.Load(), fmt.Errorf("%s-%d: replica batch: %w", p.topic, p.partition, err)
		}
		n := h.TotalSize()
		if n > len(batches) {
			break // a partial batch at the end of a fetch response
		}
		b := batches[:n]
		batches = batches[n:]
		if !VerifyCRC(b) {
			return p.leo.Load(), fmt.Errorf("%s-%d: replica batch at offset %d: %w", p.topic, p.partition, h.BaseOffset, ErrCorruptBatch)
		}
		if h.BaseOffset < p.leo.Load() {
			return p.leo.Load(), fmt.Errorf("%s-%d: replica batch at offset %d below log end %d: %w", p.topic, p.partition, h.BaseOffset, p.leo.Load(), ErrOffsetOutOfRange)
		}
		var mk *txnMarker
		if h.IsControl() {
			m, err := parseMarker(b)
			if err != nil {
				return p.leo.Load(), fmt.Errorf("%s-%d: replica control batch: %w: %v", p.topic, p.partition, ErrInvalidRecord, err)
			}
			mk = &m
		}
		if _, err := p.appendLocked(b, h, mk, 0, false, true); err != nil {
			return p.leo.Load(), err
		}
	}
	return p.leo.Load(), nil
}

// TruncateTo removes every batch at or after offset (Kafka's
// UnifiedLog.truncateTo): a batch holding offset goes whole, as Kafka's
// LogSegment.truncateTo cuts at the first batch whose last offset is >=
// offset. Segments after the cut are deleted, the cut segment's file is
// truncated and becomes the active one, the index ('o', 't', 'x' entries)
// loses the same batches, producer state is rebuilt from the remaining
// index entries, and the leader-epoch cache forgets epochs starting at
// or after the new end. The high watermark is lowered to the new end if
// it was above. It returns the new log end offset. An offset at or below
// the first segment's base empties the log and starts it at offset
// (Kafka's truncateFullyAndStartAt).
func (p *Partition) TruncateTo(offset int64) (int64, error) {
	p.retMu.Lock()
	defer p.retMu.Unlock()
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed.Load() {
		return 0, ErrPartitionClosed
	}
	leo := p.leo.Load()
	if offset >= leo {
		// Nothing to cut, but the leader-epoch cache still forgets
		// epochs starting at the log end, as Kafka's
		// UnifiedLog.truncateTo does: a replica that became leader
		// (AssignEpochStart) and wrote nothing before following again
		// has such an entry, which no leader has. Kept, it made every
		// fetch the follower's diverging one (its LastFetchedEpoch is
		// that epoch), answered with the same DivergingEpoch, forever.
		return leo, p.truncateEpochsAtEndLocked(leo)
	}
	// A log-dir move copying this log starts over (jbod.go). Counted
	// when the cut is done, before appendMu is released: a move step
	// that sees the new count reads the truncated log, never the batches
	// being cut (counted before the cut, a step could copy those, take
	// the new count as its own and swap them in).
	defer p.truncations.Add(1)
	x := &p.st().idx
	// The cut: the first batch whose last offset is >= offset.
	cut := offset
	var cutEntry indexEntry
	found := false
	if e, ok, err := x.lookup(p.lc().pid, offset); err != nil {
		return leo, fmt.Errorf("%w: index lookup %s-%d offset %d: %w", ErrStorage, p.topic, p.partition, offset, err)
	} else if ok && e.lastOffset() >= offset {
		cutEntry, found, cut = e, true, e.baseOffset
	}
	if !found {
		// offset falls in a gap or before the first batch: cut at the
		// first batch at or after it.
		err := x.scanEntries(p.lc().pid, offset, -1, func(e *indexEntry) (bool, error) {
			cutEntry, found, cut = *e, true, e.baseOffset
			return false, nil
		})
		if err != nil {
			return leo, fmt.Errorf("%w: index scan %s-%d: %w", ErrStorage, p.topic, p.partition, err)
		}
		if !found {
			cut = offset // nothing at or after offset is indexed
		}
	}

	p.mu.RLock()
	segs := append([]*segment(nil), p.segs...)
	p.mu.RUnlock()
	// keep: segments that stay; the last one is cut (or kept whole).
	keep := 0
	for keep < len(segs) && segs[keep].base < cut {
		keep++
	}
	if keep == 0 || offset <= segs[0].base && cut <= segs[0].base {
		return p.truncateFullyLocked(offset, segs)
	}
	last := segs[keep-1]
	victims := segs[keep:]
	pos := last.size.Load()
	if found && cutEntry.segBase == last.base {
		pos = cutEntry.pos
	}

	// Index: the cut segment's tail, then the later segments.
	b := x.db.NewBatch()
	defer func() { _ = b.Close() }()
	// Rebuild the cut segment's metadata from its remaining entries.
	ns := newSegment(p.lc().dir, last.base, last.f)
	err := x.scanEntries(p.lc().pid, last.base, cut, func(e *indexEntry) (bool, error) {
		ns.noteBatch(e.baseOffset, e.lastOffset(), e.maxTs)
		return true, nil
	})
	if err != nil {
		return leo, fmt.Errorf("%w: index scan %s-%d: %w", ErrStorage, p.topic, p.partition, err)
	}
	if err := x.deleteSegmentTail(b, p.lc().pid, last.base, -1, cut, ns.maxTs); err != nil {
		return leo, err
	}
	if len(victims) > 0 {
		if err := x.deleteSegmentRange(b, p.lc().pid, victims[0].base, -1); err != nil {
			return leo, err
		}
	}
	// Files first, later segments before the cut one, so that a crash
	// part way leaves a log that ends at or before the old end and whose
	// index recovery repairs: the cut tail never comes back.
	for _, v := range victims {
		if err := p.st().fs.Remove(v.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return leo, fmt.Errorf("%w: removing truncated segment %s: %w", ErrStorage, v.path, err)
		}
	}
	if len(victims) > 0 {
		_ = syncDir(p.st().fs, p.lc().dir)
	}
	if err := last.f.Truncate(pos); err != nil {
		p.st().guard.Note(err)
		return leo, fmt.Errorf("%w: truncating %s to %d: %w", ErrStorage, last.path, pos, err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return leo, fmt.Errorf("%w: index truncation %s-%d: %w", ErrStorage, p.topic, p.partition, err)
	}
	x.markDirty()

	newEnd := ns.nextOffset()
	if !found {
		newEnd = max(newEnd, min(offset, leo))
	}
	p.mu.Lock()
	last.lastOffset, last.firstTs, last.maxTs, last.maxTsOffset = ns.lastOffset, ns.firstTs, ns.maxTs, ns.maxTsOffset
	last.size.Store(pos)
	p.segs = segs[:keep:keep]
	p.leo.Store(newEnd)
	p.recomputeMaxTsLocked()
	p.mu.Unlock()
	p.active = last
	p.dirtyTail = false
	for _, v := range victims {
		_ = p.dropPendingSwapLocked(v)
		v.release()
	}
	if err := p.afterTruncateLocked(newEnd); err != nil {
		return newEnd, err
	}
	p.log.Info("logstore: truncated log", "topic", p.topic, "partition", p.partition, "to", offset, "log_end_offset", newEnd, "from", leo)
	return newEnd, nil
}

// truncateFullyLocked empties the log and starts it at start.
func (p *Partition) truncateFullyLocked(start int64, segs []*segment) (int64, error) {
	x := &p.st().idx
	b := x.db.NewBatch()
	defer func() { _ = b.Close() }()
	if err := x.deleteSegmentRange(b, p.lc().pid, 0, -1); err != nil {
		return p.leo.Load(), err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return p.leo.Load(), fmt.Errorf("%w: index truncation %s-%d: %w", ErrStorage, p.topic, p.partition, err)
	}
	x.markDirty()
	p.mu.Lock()
	p.segs = nil
	p.mu.Unlock()
	for _, v := range segs {
		_ = p.dropPendingSwapLocked(v)
		if err := p.st().fs.Remove(v.path); err != nil {
			p.log.Warn("logstore: removing truncated segment", "segment", v.path, "err", err)
		}
		v.release()
	}
	p.active = nil
	if err := p.rollLocked(start); err != nil {
		return p.leo.Load(), err
	}
	p.mu.Lock()
	p.leo.Store(start)
	p.logStart.Store(start)
	p.recomputeMaxTsLocked()
	p.mu.Unlock()
	p.epochMu.Lock()
	p.epochs, p.epochsLoaded = nil, true
	p.publishLatestEpochLocked()
	err := p.writeEpochsLocked()
	p.epochMu.Unlock()
	if err != nil {
		return start, err
	}
	if err := p.afterTruncateLocked(start); err != nil {
		return start, err
	}
	return start, nil
}

// afterTruncateLocked brings the state derived from the log in line with
// a log that now ends at end: producer state and transaction offsets
// from the index, the leader-epoch cache, the high watermark.
func (p *Partition) afterTruncateLocked(end int64) error {
	x := &p.st().idx
	p.producers = producerState{}
	b := x.db.NewBatch()
	defer func() { _ = b.Close() }()
	err := x.scanEntries(p.lc().pid, 0, -1, func(e *indexEntry) (bool, error) {
		h := e.header()
		return true, p.replayBatch(b, &h, e.marker)
	})
	if err == nil {
		err = b.Commit(pebble.NoSync)
	}
	if err != nil {
		return fmt.Errorf("%w: rebuilding producer state of %s-%d: %w", ErrStorage, p.topic, p.partition, err)
	}
	p.firstUnstable.Store(p.producers.firstUnstable(-1))
	lastAborted, err := x.lastAbortedOffset(p.lc().pid)
	if err != nil {
		return fmt.Errorf("%w: %s-%d: %w", ErrStorage, p.topic, p.partition, err)
	}
	p.lastAborted.Store(lastAborted)
	if p.hw.Load() > end {
		p.hw.Store(end)
	}
	// The cleaner's first dirty offset may not point past the log
	// (Kafka's LogCleanerManager.maybeTruncateCheckpoint).
	if ck := p.cleanerCheckpoint(); ck > end {
		if err := p.setCleanerCheckpoint(end); err != nil {
			return err
		}
	}
	return p.truncateEpochsAtEndLocked(end)
}

// truncateEpochsAtEndLocked makes the leader-epoch cache forget epochs
// starting at or after end and checkpoints it when that changed it.
// appendMu must be held.
func (p *Partition) truncateEpochsAtEndLocked(end int64) error {
	p.epochMu.Lock()
	defer p.epochMu.Unlock()
	if !p.epochsLoaded {
		return p.loadEpochsLocked() // drops entries past the log end
	}
	if p.truncateEpochsFromEndLocked(end) {
		p.publishLatestEpochLocked()
		return p.writeEpochsLocked()
	}
	return nil
}

// startAtBatch restarts an empty log at base, the first offset of a
// replica batch holding its end (see AppendReplica).
func (p *Partition) startAtBatch(base, last int64) error {
	p.retMu.Lock()
	defer p.retMu.Unlock()
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed.Load() {
		return ErrPartitionClosed
	}
	leo := p.leo.Load()
	if leo != p.logStart.Load() || base >= leo || last < leo {
		return nil
	}
	p.log.Info("logstore: the first replica batch starts below the empty log's start; starting the log at the batch",
		"topic", p.topic, "partition", p.partition, "log_start", leo, "batch_base_offset", base)
	defer p.truncations.Add(1) // after the cut, under appendMu (see TruncateTo)
	p.mu.RLock()
	segs := append([]*segment(nil), p.segs...)
	p.mu.RUnlock()
	_, err := p.truncateFullyLocked(base, segs)
	return err
}

// TruncateFullyAndStartAt empties the log and starts it at offset (Kafka's
// UnifiedLog.truncateFullyAndStartAt): a follower whose log ends below the
// leader's log start.
func (p *Partition) TruncateFullyAndStartAt(offset int64) (int64, error) {
	p.retMu.Lock()
	defer p.retMu.Unlock()
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed.Load() {
		return 0, ErrPartitionClosed
	}
	defer p.truncations.Add(1) // after the cut, under appendMu (see TruncateTo)
	p.mu.RLock()
	segs := append([]*segment(nil), p.segs...)
	p.mu.RUnlock()
	return p.truncateFullyLocked(offset, segs)
}
