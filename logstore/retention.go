package logstore

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// logStartCheckpoint is the file, in the partition directory, holding the
// log start offset set by DeleteRecordsBefore. It lives next to the
// segments rather than in the index so that deleting the index cannot
// resurrect deleted records. Retention needs no checkpoint: it deletes
// whole segments, and the first remaining segment's base is the start.
const logStartCheckpoint = "log-start-offset"

// RunRetention makes one pass over all partitions: roll active segments
// older than segment.ms, expire idle producer ids, then delete the oldest
// segments that retention.ms, retention.bytes or the log start offset
// allow. The caller schedules it (log.retention.check.interval.ms).
// Appends and reads are blocked at most for a file creation (roll); files
// are unlinked outside every lock.
func (s *Store) RunRetention() {
	if s.kids != nil {
		for _, k := range s.kids {
			k.RunRetention()
		}
		return
	}
	now := s.now()
	for _, p := range s.partitions() {
		p.runRetention(now)
	}
}

func (p *Partition) runRetention(now time.Time) {
	p.retMu.Lock()
	defer p.retMu.Unlock()
	if p.closed.Load() {
		return
	}
	cfg := p.cfg.Load()
	nowMs := now.UnixMilli()

	p.appendMu.Lock()
	if !p.closed.Load() {
		// Kafka only rolls on append; rolling idle partitions here lets
		// time retention reach data in a partition nobody writes to.
		p.rollIfIdleLocked(nowMs, cfg)
		if n := p.producers.expire(nowMs - p.st().producerExpiration.Milliseconds()); n > 0 {
			p.log.Debug("logstore: expired producer ids", "topic", p.topic, "partition", p.partition, "count", n)
		}
	}
	p.appendMu.Unlock()

	if _, err := p.deleteSegmentsLocked(nowMs, cfg, "retention"); err != nil {
		p.log.Error("logstore: retention", "topic", p.topic, "partition", p.partition, "err", err)
	}
}

// DeleteRecordsBefore implements DeleteRecords: it moves the log start
// offset to offset (persisted before anything is deleted, so a crash can
// not bring records back) and deletes the segments entirely below it.
// offset -1 means the high watermark, as in the DeleteRecords request. An
// offset at or below the current start is a no-op that returns the start.
func (p *Partition) DeleteRecordsBefore(offset int64) (newLogStart int64, err error) {
	p.retMu.Lock()
	defer p.retMu.Unlock()
	if p.closed.Load() {
		return 0, ErrPartitionClosed
	}
	leo := p.HighWatermark()
	if offset == -1 {
		offset = leo
	}
	if offset < 0 || offset > leo {
		return 0, fmt.Errorf("%w: %s-%d delete-records offset %d beyond high watermark %d", ErrOffsetOutOfRange, p.topic, p.partition, offset, leo)
	}
	cur := p.logStart.Load()
	if offset <= cur {
		return cur, nil
	}
	data := strconv.AppendInt(nil, offset, 10)
	data = append(data, '\n')
	if err := writeFileAtomic(p.st().fs, filepath.Join(p.lc().dir, logStartCheckpoint), data); err != nil {
		return cur, fmt.Errorf("%w: writing log start checkpoint: %w", ErrStorage, err)
	}
	p.logStart.Store(offset)
	// Only the log-start rule: a zero config disables size and time.
	if _, err := p.deleteSegmentsLocked(p.st().now().UnixMilli(), &PartitionConfig{}, "delete-records"); err != nil {
		return offset, err
	}
	return offset, nil
}

// deletableLocked counts the oldest segments that may go, following
// Kafka's UnifiedLog.deletableSegments: walk from the oldest and stop at
// the first segment that must stay. A segment may go if it is entirely
// below the log start offset, or its newest timestamp is older than
// retention.ms, or deleting it still leaves at least retention.bytes. An
// empty active segment never goes; an empty older one always can. p.mu
// must be held (read).
func (p *Partition) deletableLocked(nowMs int64, cfg *PartitionConfig) (count int, includesActive bool) {
	logStart, leo := p.logStart.Load(), p.leo.Load()
	var total int64
	for _, s := range p.segs {
		total += s.size.Load()
	}
	for i, s := range p.segs {
		last := i == len(p.segs)-1
		if last && s.empty() {
			break
		}
		upper := leo
		if !last {
			upper = p.segs[i+1].base
		}
		size := s.size.Load()
		ok := upper <= logStart || (!last && s.empty()) ||
			(cfg.RetentionMs > 0 && nowMs-s.retentionTs() > cfg.RetentionMs) ||
			(cfg.RetentionBytes > 0 && total-size >= cfg.RetentionBytes)
		if !ok {
			break
		}
		total -= size
		count++
		includesActive = last
	}
	return count, includesActive
}

// deleteSegmentsLocked deletes the deletable oldest segments and advances
// the log start offset to the first remaining segment. If every segment
// including the active one is deletable, it first rolls a new empty active
// segment, as Kafka does, so the log always has one. retMu must be held.
func (p *Partition) deleteSegmentsLocked(nowMs int64, cfg *PartitionConfig, reason string) (int, error) {
	p.mu.RLock()
	count, includesActive := p.deletableLocked(nowMs, cfg)
	p.mu.RUnlock()
	if count == 0 {
		return 0, nil
	}
	if includesActive {
		// Re-decide with appends excluded: the active segment may have
		// grown or changed since.
		p.appendMu.Lock()
		if p.closed.Load() {
			p.appendMu.Unlock()
			return 0, ErrPartitionClosed
		}
		p.mu.RLock()
		count, includesActive = p.deletableLocked(nowMs, cfg)
		p.mu.RUnlock()
		if includesActive {
			if err := p.rollLocked(p.leo.Load()); err != nil {
				count-- // keep the old active segment
			}
		}
		p.appendMu.Unlock()
		if count == 0 {
			return 0, nil
		}
	}

	p.mu.Lock()
	if p.closed.Load() || count >= len(p.segs) {
		p.mu.Unlock()
		return 0, nil
	}
	victims := append([]*segment(nil), p.segs[:count]...)
	p.segs = append([]*segment(nil), p.segs[count:]...)
	newStart := p.segs[0].base
	if newStart > p.logStart.Load() {
		p.logStart.Store(newStart)
	}
	p.recomputeMaxTsLocked()
	p.mu.Unlock()

	// Outside the locks: readers that already hold a victim keep reading
	// it (the file stays open until they release it); new readers get
	// ErrOffsetOutOfRange.
	var firstErr error
	b := p.st().idx.db.NewBatch()
	if err := p.st().idx.deleteSegmentRange(b, p.lc().pid, victims[0].base, newStart); err == nil {
		err = b.Commit(noSync)
		if err != nil {
			firstErr = fmt.Errorf("%w: deleting index entries: %w", ErrStorage, err)
		}
	}
	_ = b.Close()
	var bytes int64
	for _, v := range victims {
		bytes += v.size.Load()
		if err := p.dropPendingSwapLocked(v); err != nil && firstErr == nil {
			firstErr = err
		}
		if err := p.st().fs.Remove(v.path); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%w: deleting %s: %w", ErrStorage, v.path, err)
		}
		v.release()
	}
	p.log.Info("logstore: deleted segments", "topic", p.topic, "partition", p.partition, "reason", reason,
		"segments", len(victims), "bytes", bytes, "log_start_offset", p.logStart.Load())
	return len(victims), firstErr
}
