package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// scanBufSize is the read-ahead of the recovery scanner: batches are
// parsed in place from 1 MiB chunks, so a rebuild costs one pread per
// chunk rather than two per batch.
const scanBufSize = 1 << 20

// scanBatches walks the batches stored in r from pos up to end, checking
// each one the way recovery must before trusting it: a complete header, a
// sane length that fits before end, magic 2, a base offset of at least
// minOffset (offsets only grow) and a matching CRC. fn is called for every
// good batch with its header and position. Scanning stops at the first
// bad batch: valid is the end of the good prefix and reason says what was
// wrong (nil if the scan reached end). err reports I/O errors and errors
// from fn, which must not be mistaken for corruption (and must not cause
// a truncation).
func scanBatches(r io.ReaderAt, pos, end, minOffset int64, buf *[]byte, fn func(h *BatchHeader, pos int64) error) (valid int64, reason error, err error) {
	return scanBatchBytes(r, pos, end, minOffset, buf, func(h *BatchHeader, pos int64, _ []byte) error { return fn(h, pos) })
}

// scanBatchBytes is scanBatches handing fn the batch's bytes as well (a
// view of the read-ahead window, valid until fn returns); the cleaner
// reads segments with it.
func scanBatchBytes(r io.ReaderAt, pos, end, minOffset int64, buf *[]byte, fn func(h *BatchHeader, pos int64, batch []byte) error) (valid int64, reason error, err error) {
	if cap(*buf) < scanBufSize {
		*buf = make([]byte, 0, scanBufSize)
	}
	b := (*buf)[:0]
	winStart := pos // file position of b[0]
	defer func() { *buf = b[:0] }()

	// fill makes [at, at+need) available in b, reading ahead up to the
	// buffer's capacity (but not past end).
	fill := func(at, need int64) error {
		if at >= winStart && at+need <= winStart+int64(len(b)) {
			return nil
		}
		n := max(need, min(int64(cap(b)), end-at))
		if int64(cap(b)) < n {
			b = make([]byte, n)
		}
		b = b[:n]
		k, rerr := r.ReadAt(b, at)
		if int64(k) < need {
			if rerr == nil || rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			b = b[:0]
			return rerr
		}
		b = b[:k]
		winStart = at
		return nil
	}

	for pos < end {
		if end-pos < BatchHeaderSize {
			return pos, fmt.Errorf("torn batch header: %d bytes left at position %d", end-pos, pos), nil
		}
		if err := fill(pos, BatchHeaderSize); err != nil {
			return pos, nil, err
		}
		h, perr := ParseBatchHeader(b[pos-winStart:])
		if perr != nil {
			return pos, perr, nil
		}
		total := int64(h.TotalSize())
		if total > end-pos {
			return pos, fmt.Errorf("torn batch: %d bytes at position %d, %d left", total, pos, end-pos), nil
		}
		if h.BaseOffset < minOffset {
			return pos, fmt.Errorf("batch at position %d has base offset %d, expected >= %d", pos, h.BaseOffset, minOffset), nil
		}
		if h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta)-1 {
			return pos, fmt.Errorf("batch at position %d has impossible offsets (base %d)", pos, h.BaseOffset), nil
		}
		if err := fill(pos, total); err != nil {
			return pos, nil, err
		}
		batch := b[pos-winStart : pos-winStart+total]
		if !VerifyCRC(batch) {
			return pos, fmt.Errorf("%w: CRC mismatch in batch at position %d (base offset %d)", ErrCorruptBatch, pos, h.BaseOffset), nil
		}
		if err := fn(&h, pos, batch); err != nil {
			return pos, nil, err
		}
		minOffset = h.LastOffset() + 1
		pos += total
	}
	return pos, nil, nil
}

// readLogStartCheckpoint returns the persisted DeleteRecords log start
// offset, or -1.
func readLogStartCheckpoint(fsys FS, dir string) (int64, error) {
	f, err := fsys.OpenFile(filepath.Join(dir, logStartCheckpoint), os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return -1, nil
		}
		return -1, err
	}
	defer f.Close()
	var buf [32]byte
	n, err := f.ReadAt(buf[:], 0)
	if err != nil && err != io.EOF {
		return -1, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(buf[:n])), 10, 64)
	if err != nil || v < 0 {
		return -1, fmt.Errorf("malformed %s: %q", logStartCheckpoint, buf[:n])
	}
	return v, nil
}

// recover loads the partition from its directory, treating the segment
// files as the truth and the index as a cache of them:
//
//  1. Open every segment file.
//  2. Load the partition's index entries in offset order, checking each
//     against the files (known segment, contiguous positions, growing
//     offsets, inside the file). Entries past a segment's end (the file
//     lost a tail the index had seen) are dropped; anything else
//     inconsistent drops the whole partition index. The last entry of each
//     segment is spot-checked against the batch header on disk. After an
//     unclean shutdown the last segment's entries are not loaded, so that
//     the segment is re-validated from its start (Kafka recovers
//     everything after its recovery point the same way); step 3 then
//     reconciles them with the scan (relog) instead of deleting them.
//  3. Walk each segment from its last indexed position to its end,
//     validating length and CRC, indexing what is good and truncating the
//     file at the first bad batch (a torn or corrupt write).
//  4. Rebuild producer state from the index entries.
func (p *Partition) recover(clean bool) error {
	p.recoveredAt = p.st().now().UnixMilli()
	fsys := p.st().fs
	x := &p.st().idx
	if err := fsys.MkdirAll(p.lc().dir, 0o755); err != nil {
		return err
	}
	dirents, err := fsys.ReadDir(p.lc().dir)
	if err != nil {
		return err
	}
	swapped, err := p.completeSwaps(dirents)
	if err != nil {
		return err
	}
	if swapped {
		if dirents, err = fsys.ReadDir(p.lc().dir); err != nil {
			return err
		}
	}
	var bases []int64
	for _, de := range dirents {
		name := de.Name()
		if base, ok := parseSegmentName(name); ok && !de.IsDir() {
			bases = append(bases, base)
		} else if strings.HasSuffix(name, ".tmp") {
			_ = fsys.Remove(filepath.Join(p.lc().dir, name))
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })

	ckpt, err := readLogStartCheckpoint(fsys, p.lc().dir)
	if err != nil {
		p.log.Warn("logstore: ignoring log start checkpoint", "dir", p.lc().dir, "err", err)
		ckpt = -1
	}
	if len(bases) == 0 {
		start := max(ckpt, 0)
		f, err := openSegmentFile(fsys, filepath.Join(p.lc().dir, segmentName(start)), true)
		if err != nil {
			return err
		}
		_ = f.Close()
		bases = []int64{start}
		_ = syncDir(fsys, p.lc().dir)
	}

	segs := make([]*segment, len(bases))
	sizes := make([]int64, len(bases))
	fail := func(err error) error {
		for _, s := range segs {
			if s != nil {
				s.release()
			}
		}
		return err
	}
	for i, base := range bases {
		path := filepath.Join(p.lc().dir, segmentName(base))
		f, err := openSegmentFile(fsys, path, false)
		if err != nil {
			return fail(err)
		}
		segs[i] = newSegment(p.lc().dir, base, f)
		st, err := f.Stat()
		if err != nil {
			return fail(err)
		}
		sizes[i] = st.Size()
		segs[i].lastWriteMs = st.ModTime().UnixMilli()
	}

	b := x.db.NewBatch()
	defer func() { _ = b.Close() }()
	commit := func() error {
		if b.Empty() {
			return nil
		}
		err := b.Commit(pebble.NoSync)
		b.Reset()
		// Let the periodic flush persist what recovery re-indexed, so
		// that a second crash does not have to redo it.
		x.markDirty()
		return err
	}
	last := len(segs) - 1

	// Step 2. After an unclean shutdown the last segment's entries are
	// not loaded: the segment is re-validated from its start, and its old
	// entries are reconciled with what the scan finds (see relog).
	indexedEnd := make([]int64, len(segs))
	ok := false
	if !swapped {
		// After completing a cleaner swap the index may describe the
		// replaced files: rebuild it (see doc.go, "Log compaction").
		loadTo := int64(-1)
		if !clean {
			loadTo = segs[last].base
		}
		ok, err = p.loadIndex(segs, sizes, indexedEnd, loadTo, b)
		if err != nil {
			return fail(err)
		}
	}
	var old *relog
	if ok && !clean {
		if old, err = newRelog(x, p.lc().pid, segs[last].base); err != nil {
			return fail(err)
		}
		defer old.close()
	}
	if !ok {
		if !swapped {
			p.log.Warn("logstore: index inconsistent with segments; rebuilding partition index", "topic", p.topic, "partition", p.partition)
		}
		if err := x.deleteSegmentRange(b, p.lc().pid, 0, -1); err != nil {
			return fail(err)
		}
		for i, s := range segs {
			segs[i] = newSegment(p.lc().dir, s.base, s.f)
			segs[i].lastWriteMs = s.lastWriteMs
			indexedEnd[i] = 0
		}
		p.producers = producerState{}
	}
	if err := commit(); err != nil {
		return fail(err)
	}

	// Step 3.
	lastIndexed := -1
	for i := range segs {
		if indexedEnd[i] > 0 {
			lastIndexed = i
		}
	}
	replayProducers := true // producer state is built in offset order
	// The read-ahead buffer comes from the read pool: a fresh 1 MiB per
	// partition made GC and zeroing most of the CPU of recovering many
	// small partitions.
	var scanBuf []byte
	var scanRB *readBuf
	defer func() {
		if scanRB != nil {
			scanRB.put()
		}
	}()
	prevLast := int64(-1)
	for i, s := range segs {
		if indexedEnd[i] < sizes[i] {
			if i < lastIndexed {
				replayProducers = false
			}
			minOffset := max(s.base, prevLast+1)
			if !s.empty() {
				minOffset = s.lastOffset + 1
			}
			from := indexedEnd[i]
			added := 0
			if scanRB == nil {
				scanRB = getReadBuf(scanBufSize)
				scanBuf = scanRB.b[:0]
			}
			var key, val []byte
			valid, reason, err := scanBatchBytes(s.f, from, sizes[i], minOffset, &scanBuf, func(h *BatchHeader, pos int64, batch []byte) error {
				e := entryFromBatch(h, s.base, pos, batch)
				key = appendOffsetKey(key[:0], p.lc().pid, h.BaseOffset)
				val = e.appendValue(val[:0])
				if err := old.set(b, false, key, val); err != nil {
					return err
				}
				if h.MaxTimestamp > s.maxTs {
					key = appendTimeKey(key[:0], p.lc().pid, s.base, h.MaxTimestamp)
					val = appendTimeValue(val[:0], h.BaseOffset, h.LastOffsetDelta)
					if err := old.set(b, true, key, val); err != nil {
						return err
					}
				}
				s.noteBatch(h.BaseOffset, h.LastOffset(), h.MaxTimestamp)
				if replayProducers {
					if err := p.replayBatch(b, h, e.marker); err != nil {
						return err
					}
				}
				added++
				if b.Len() >= 4<<20 {
					return commit()
				}
				return nil
			})
			if err != nil {
				return fail(fmt.Errorf("scanning %s: %w", s.path, err))
			}
			if err := commit(); err != nil {
				return fail(err)
			}
			if valid < sizes[i] {
				p.log.Warn("logstore: truncating segment after a torn or corrupt batch",
					"segment", s.path, "from_size", sizes[i], "to_size", valid, "reason", reason)
				if err := s.f.Truncate(valid); err != nil {
					return fail(fmt.Errorf("truncating %s: %w", s.path, err))
				}
				sizes[i] = valid
			}
			if added > 0 {
				p.log.Info("logstore: indexed segment tail", "segment", s.path, "from_position", from, "batches", added)
			}
		}
		if !s.empty() {
			prevLast = s.lastOffset
		}
		s.size.Store(sizes[i])
	}
	if old != nil {
		next := segs[last].base
		if !segs[last].empty() {
			next = segs[last].lastOffset + 1
		}
		if err := old.finish(b, x, p.lc().pid, next); err != nil {
			return fail(err)
		}
		if err := commit(); err != nil {
			return fail(err)
		}
	}

	// Step 4: only needed if batches were indexed out of offset order.
	if !replayProducers {
		p.producers = producerState{}
		err := x.scanEntries(p.lc().pid, 0, -1, func(e *indexEntry) (bool, error) {
			h := e.header()
			return true, p.replayBatch(b, &h, e.marker)
		})
		if err == nil {
			err = commit()
		}
		if err != nil {
			return fail(err)
		}
	}
	p.firstUnstable.Store(p.producers.firstUnstable(-1))
	lastAborted, err := x.lastAbortedOffset(p.lc().pid)
	if err != nil {
		return fail(err)
	}
	p.lastAborted.Store(lastAborted)

	leo := segs[last].base
	p.maxTs, p.maxTsOffset = noMaxTimestamp, -1
	for _, s := range segs {
		if !s.empty() {
			leo = max(leo, s.lastOffset+1)
		}
	}
	p.segs = segs
	p.active = segs[last]
	p.recomputeMaxTsLocked()
	logStart := max(ckpt, segs[0].base)
	if logStart > leo {
		// The checkpoint is past what survived (a lost tail after
		// DeleteRecords): start a fresh segment there, as Kafka does.
		p.log.Warn("logstore: log start offset beyond recovered log end; starting a new segment", "dir", p.lc().dir, "log_start", logStart, "log_end", leo)
		if err := p.rollLocked(logStart); err != nil {
			return fail(err)
		}
		leo = logStart
	}
	p.leo.Store(leo)
	p.logStart.Store(logStart)
	return nil
}

// replayBatch rebuilds producer state from a batch found in a segment or
// the index, in offset order, and writes (through b) the
// aborted-transaction index entry of an ABORT marker that ends a
// transaction, with the last stable offset as it was right after the
// marker (the same entry AppendMarker wrote, so rewriting it is harmless).
func (p *Partition) replayBatch(b *pebble.Batch, h *BatchHeader, m txnMarker) error {
	done, ok := p.producers.update(h, p.recoveredAt, m)
	if !ok || !done.abort {
		return nil
	}
	t := AbortedTxn{ProducerID: done.producerID, FirstOffset: done.firstOffset, LastOffset: done.lastOffset,
		LastStableOffset: min(p.producers.firstUnstable(-1), done.lastOffset+1)}
	return setAborted(b, p.lc().pid, &t)
}

// loadIndex is step 2 of recover: it replays the partition's index
// entries with base offsets below to (to < 0: all) into segment metadata,
// indexedEnd and producer state. It
// returns false if the entries do not describe the files and the whole
// partition index must be rebuilt. Stale entries (below the first
// segment, or past a segment file's end) are deleted through b.
func (p *Partition) loadIndex(segs []*segment, sizes, indexedEnd []int64, to int64, b *pebble.Batch) (bool, error) {
	x := &p.st().idx
	type cut struct {
		seg      int
		from     int64 // first offset to delete
		prevMaxT int64
	}
	var cuts []cut
	cutSeg := -1
	i := 0
	prevLast := int64(-1)
	stale := false
	lastEntry := make([]indexEntry, len(segs))
	consistent := true
	err := x.scanEntries(p.lc().pid, 0, to, func(e *indexEntry) (bool, error) {
		if e.segBase < segs[0].base {
			stale = true // left behind by a retention pass interrupted by a crash
			return true, nil
		}
		for i < len(segs) && segs[i].base < e.segBase {
			i++
		}
		if i == len(segs) || segs[i].base != e.segBase {
			consistent = false
			return false, nil
		}
		if i == cutSeg {
			return true, nil
		}
		s := segs[i]
		if e.pos != indexedEnd[i] || e.baseOffset <= prevLast || e.baseOffset < s.base ||
			e.size < BatchHeaderSize || e.lastOffsetDelta < 0 {
			consistent = false
			return false, nil
		}
		if e.end() > sizes[i] {
			cuts = append(cuts, cut{i, e.baseOffset, s.maxTs})
			cutSeg = i
			return true, nil
		}
		indexedEnd[i] = e.end()
		s.noteBatch(e.baseOffset, e.lastOffset(), e.maxTs)
		prevLast = e.lastOffset()
		lastEntry[i] = *e
		h := e.header()
		// The aborted-transaction entries of indexed markers were
		// committed with them: only producer state is replayed here.
		p.producers.update(&h, p.recoveredAt, e.marker)
		return true, nil
	})
	if err != nil || !consistent {
		return false, err
	}
	if stale {
		p.log.Info("logstore: dropping index entries of already deleted segments", "topic", p.topic, "partition", p.partition, "below", segs[0].base)
		if err := x.deleteSegmentRange(b, p.lc().pid, 0, segs[0].base); err != nil {
			return false, err
		}
	}
	for _, c := range cuts {
		segEnd := int64(-1)
		if c.seg+1 < len(segs) {
			segEnd = segs[c.seg+1].base
		}
		p.log.Warn("logstore: index has entries past the end of a segment; dropping them",
			"segment", segs[c.seg].path, "from_offset", c.from)
		if err := x.deleteSegmentTail(b, p.lc().pid, segs[c.seg].base, segEnd, c.from, c.prevMaxT); err != nil {
			return false, err
		}
	}
	// Spot-check the last indexed batch of every segment against the file.
	var hdr [BatchHeaderSize]byte
	for i, e := range lastEntry {
		if e.size == 0 {
			continue
		}
		if _, err := segs[i].f.ReadAt(hdr[:], e.pos); err != nil {
			return false, nil
		}
		h, err := ParseBatchHeader(hdr[:])
		if err != nil || h.BaseOffset != e.baseOffset || int32(h.TotalSize()) != e.size || h.LastOffsetDelta != e.lastOffsetDelta {
			return false, nil
		}
	}
	return true, nil
}

// completeSwaps applies the cleaner's crash rules to a partition
// directory (see doc.go, "Log compaction"): a <base>.cleaned file is an
// unfinished cleaning and is deleted; a <base>-<next>.swap file is a
// committed one: every segment with a base offset in [base, next) is
// deleted and the .swap file renamed to <base>.log. It reports whether a
// swap was completed, in which case the partition's index is rebuilt.
func (p *Partition) completeSwaps(dirents []os.DirEntry) (bool, error) {
	fsys := p.st().fs
	var swaps []string
	for _, de := range dirents {
		name := de.Name()
		switch {
		case strings.HasSuffix(name, cleanedSuffix):
			p.log.Info("logstore: removing an unfinished cleaned segment", "file", filepath.Join(p.lc().dir, name))
			if err := fsys.Remove(filepath.Join(p.lc().dir, name)); err != nil {
				return false, err
			}
		case strings.HasSuffix(name, swapSuffix):
			swaps = append(swaps, name)
		}
	}
	for _, name := range swaps {
		base, next, ok := parseSwapName(name)
		if !ok {
			p.log.Warn("logstore: ignoring a malformed swap file", "file", filepath.Join(p.lc().dir, name))
			continue
		}
		for _, de := range dirents {
			if b, ok := parseSegmentName(de.Name()); ok && b > base && b < next {
				if err := fsys.Remove(filepath.Join(p.lc().dir, de.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
					return false, err
				}
			}
		}
		if err := fsys.Rename(filepath.Join(p.lc().dir, name), filepath.Join(p.lc().dir, segmentName(base))); err != nil {
			return false, err
		}
		p.log.Info("logstore: completed a cleaner swap interrupted by a crash", "dir", p.lc().dir, "base", base, "next", next)
	}
	if len(swaps) > 0 {
		_ = syncDir(fsys, p.lc().dir)
	}
	return len(swaps) > 0, nil
}

// relog reconciles the index entries of a segment re-validated from its
// start after an unclean shutdown (both key spaces, from the segment's
// base to the partition's end) with the batches the scan finds: an entry
// already holding the scanned value is left alone, a missing or different
// one is written, and an old entry the scan does not produce is deleted,
// one key at a time while the scan passes it, or with one range deletion
// for what is left after the segment's last good batch (a lost or torn
// tail). So an unclean restart of a partition whose index is intact
// writes nothing.
//
// It does not simply delete the range and re-add every entry: each range
// deletion stays in the memtable (and then in sstables, until a
// compaction drops it) and every iterator opened later re-processes the
// deletions it overlaps, so a range deletion per partition per start made
// recovery quadratic in the partition count and slower with every kill
// (issue 16). The iterators read the index as it was when recovery of the
// partition started; batch commits during the scan do not move them.
type relog struct {
	offsets, times relogSpace
}

type relogSpace struct {
	it *pebble.Iterator
	hi []byte // upper bound of it (exclusive)
}

// newRelog opens the old entries of pid's segment at segBase and later.
func newRelog(x *index, pid uint32, segBase int64) (*relog, error) {
	r := &relog{}
	olo := appendOffsetKey(nil, pid, segBase)
	ohi := prefixEnd(appendPrefix(nil, ksOffset, pid))
	tlo := binary.BigEndian.AppendUint64(appendPrefix(nil, ksTime, pid), uint64(segBase))
	thi := prefixEnd(appendPrefix(nil, ksTime, pid))
	for _, sp := range []struct {
		dst    *relogSpace
		lo, hi []byte
	}{{&r.offsets, olo, ohi}, {&r.times, tlo, thi}} {
		it, err := x.db.NewIter(&pebble.IterOptions{LowerBound: sp.lo, UpperBound: sp.hi})
		if err != nil {
			r.close()
			return nil, err
		}
		it.First()
		*sp.dst = relogSpace{it: it, hi: sp.hi}
	}
	return r, nil
}

// set writes key=val (a time key if timeKey) through b unless the old
// index already holds it, deleting the old keys of that space that sort
// before key (the scan writes each space's keys in increasing order). A
// nil relog just writes.
func (r *relog) set(b *pebble.Batch, timeKey bool, key, val []byte) error {
	if r == nil {
		return b.Set(key, val, nil)
	}
	it := r.offsets.it
	if timeKey {
		it = r.times.it
	}
	for it.Valid() {
		c := bytes.Compare(it.Key(), key)
		if c > 0 {
			break
		}
		if c == 0 {
			same := bytes.Equal(it.Value(), val)
			it.Next()
			if same {
				return nil
			}
			return b.Set(key, val, nil)
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			return err
		}
		it.Next()
	}
	if err := it.Error(); err != nil {
		return err
	}
	return b.Set(key, val, nil)
}

// finish deletes the old entries the scan did not reach, and the
// aborted-transaction entries of markers at or after next (the end of
// what the scan kept: markers of a lost tail). Markers the scan did find
// were written again by replayBatch with the same values.
func (r *relog) finish(b *pebble.Batch, x *index, pid uint32, next int64) error {
	lo := appendAbortedKey(nil, pid, next)
	hi := prefixEnd(appendPrefix(nil, ksAborted, pid))
	it, err := x.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	stale := it.First()
	err = it.Error()
	_ = it.Close()
	if err != nil {
		return err
	}
	if stale {
		if err := b.DeleteRange(lo, hi, nil); err != nil {
			return err
		}
	}
	for _, sp := range []*relogSpace{&r.offsets, &r.times} {
		if err := sp.it.Error(); err != nil {
			return err
		}
		if !sp.it.Valid() {
			continue
		}
		lo := append([]byte(nil), sp.it.Key()...)
		sp.it.Next()
		if !sp.it.Valid() {
			if err := b.Delete(lo, nil); err != nil {
				return err
			}
		} else if err := b.DeleteRange(lo, sp.hi, nil); err != nil {
			return err
		}
		if err := sp.it.Error(); err != nil {
			return err
		}
	}
	return nil
}

func (r *relog) close() {
	for _, sp := range []*relogSpace{&r.offsets, &r.times} {
		if sp.it != nil {
			_ = sp.it.Close()
			sp.it = nil
		}
	}
}
