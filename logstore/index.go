package logstore

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"samsa/internal/pebblelog"
	"strings"
	"sync"
	"sync/atomic"

	"samsa/internal/diskguard"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Key spaces of the Pebble index (first key byte). See doc.go.
const (
	ksNextID = 'n' // 'n' -> next partition id (uint32)
	ksPartID = 'p' // 'p' topic 0x00 partition(int32) -> partition id (uint32)
	ksOffset = 'o' // 'o' pid(uint32) baseOffset(int64) -> indexEntry
	ksTime   = 't' // 't' pid(uint32) segBase(int64) maxTs(sortable) -> baseOffset(int64) lastOffsetDelta(int32)
)

const (
	offsetKeyLen = 1 + 4 + 8
	timeKeyLen   = 1 + 4 + 8 + 8
	timeValLen   = 8 + 4
	entryVersion = 1
	entryLen     = 1 + 8 + 8 + 4 + 8 + 4 + 8 + 2 + 4 + 2
	// Version 2 entries are written for control batches only: a version
	// 1 entry followed by the marker's type int8 (0 ABORT, 1 COMMIT, -1
	// none) and coordinator epoch int32, so that producer state (open
	// transactions, coordinator epochs) is rebuilt from the index alone.
	entryVersionCtrl = 2
	entryLenCtrl     = entryLen + 1 + 4
)

// indexEntry describes one batch: where it is and what Fetch, ListOffsets,
// retention and producer-state rebuilding need from its header.
type indexEntry struct {
	baseOffset      int64 // from the key
	segBase         int64
	pos             int64
	size            int32
	maxTs           int64
	lastOffsetDelta int32
	producerID      int64
	producerEpoch   int16
	baseSeq         int32
	attributes      int16
	marker          txnMarker // control batches only (version 2 entry)
}

func (e *indexEntry) lastOffset() int64 { return e.baseOffset + int64(e.lastOffsetDelta) }
func (e *indexEntry) end() int64        { return e.pos + int64(e.size) }

// header rebuilds the fields of a BatchHeader that producer state uses.
func (e *indexEntry) header() BatchHeader {
	return BatchHeader{
		BaseOffset:      e.baseOffset,
		Length:          e.size - batchLengthOverhead,
		Magic:           2,
		Attributes:      e.attributes,
		LastOffsetDelta: e.lastOffsetDelta,
		MaxTimestamp:    e.maxTs,
		ProducerID:      e.producerID,
		ProducerEpoch:   e.producerEpoch,
		BaseSequence:    e.baseSeq,
	}
}

func entryFromHeader(h *BatchHeader, segBase, pos int64) indexEntry {
	return indexEntry{
		baseOffset:      h.BaseOffset,
		segBase:         segBase,
		pos:             pos,
		size:            int32(h.TotalSize()),
		maxTs:           h.MaxTimestamp,
		lastOffsetDelta: h.LastOffsetDelta,
		producerID:      h.ProducerID,
		producerEpoch:   h.ProducerEpoch,
		baseSeq:         h.BaseSequence,
		attributes:      h.Attributes,
		marker:          noMarker,
	}
}

// entryFromBatch is entryFromHeader for a batch whose bytes are at hand:
// a control batch's marker is decoded into the entry (an undecodable one
// is kept as noMarker: it then ends no transaction, as Kafka skips an
// empty control batch).
func entryFromBatch(h *BatchHeader, segBase, pos int64, batch []byte) indexEntry {
	e := entryFromHeader(h, segBase, pos)
	if h.IsControl() {
		if m, err := parseMarker(batch); err == nil {
			e.marker = m
		}
	}
	return e
}

func (e *indexEntry) appendValue(dst []byte) []byte {
	be := binary.BigEndian
	ctrl := e.attributes&attrControl != 0
	if ctrl {
		dst = append(dst, entryVersionCtrl)
	} else {
		dst = append(dst, entryVersion)
	}
	dst = be.AppendUint64(dst, uint64(e.segBase))
	dst = be.AppendUint64(dst, uint64(e.pos))
	dst = be.AppendUint32(dst, uint32(e.size))
	dst = be.AppendUint64(dst, uint64(e.maxTs))
	dst = be.AppendUint32(dst, uint32(e.lastOffsetDelta))
	dst = be.AppendUint64(dst, uint64(e.producerID))
	dst = be.AppendUint16(dst, uint16(e.producerEpoch))
	dst = be.AppendUint32(dst, uint32(e.baseSeq))
	dst = be.AppendUint16(dst, uint16(e.attributes))
	if ctrl {
		dst = append(dst, byte(e.marker.kind))
		dst = be.AppendUint32(dst, uint32(e.marker.coordEpoch))
	}
	return dst
}

func decodeEntry(key, val []byte) (indexEntry, error) {
	ok := len(val) > 0 && ((val[0] == entryVersion && len(val) == entryLen) || (val[0] == entryVersionCtrl && len(val) == entryLenCtrl))
	if len(key) != offsetKeyLen || !ok {
		return indexEntry{}, fmt.Errorf("logstore: malformed index entry (key %d bytes, value %d bytes)", len(key), len(val))
	}
	be := binary.BigEndian
	v := val[1:]
	e := indexEntry{
		baseOffset:      int64(be.Uint64(key[5:])),
		segBase:         int64(be.Uint64(v[0:])),
		pos:             int64(be.Uint64(v[8:])),
		size:            int32(be.Uint32(v[16:])),
		maxTs:           int64(be.Uint64(v[20:])),
		lastOffsetDelta: int32(be.Uint32(v[28:])),
		producerID:      int64(be.Uint64(v[32:])),
		producerEpoch:   int16(be.Uint16(v[40:])),
		baseSeq:         int32(be.Uint32(v[42:])),
		attributes:      int16(be.Uint16(v[46:])),
		marker:          noMarker,
	}
	if val[0] == entryVersionCtrl {
		e.marker = txnMarker{kind: int8(v[48]), coordEpoch: int32(be.Uint32(v[49:]))}
	}
	if (e.attributes&attrControl != 0) != (val[0] == entryVersionCtrl) {
		return indexEntry{}, fmt.Errorf("logstore: index entry version %d does not match the batch attributes %#x", val[0], e.attributes)
	}
	return e, nil
}

func appendPrefix(dst []byte, space byte, pid uint32) []byte {
	dst = append(dst, space)
	return binary.BigEndian.AppendUint32(dst, pid)
}

func appendOffsetKey(dst []byte, pid uint32, off int64) []byte {
	dst = appendPrefix(dst, ksOffset, pid)
	return binary.BigEndian.AppendUint64(dst, uint64(off))
}

// sortableTs maps int64 timestamps to uint64 preserving order, so that
// negative values (-1, "no timestamp") sort first in big-endian keys.
func sortableTs(ts int64) uint64 { return uint64(ts) ^ (1 << 63) }

func appendTimeKey(dst []byte, pid uint32, segBase, ts int64) []byte {
	dst = appendPrefix(dst, ksTime, pid)
	dst = binary.BigEndian.AppendUint64(dst, uint64(segBase))
	return binary.BigEndian.AppendUint64(dst, sortableTs(ts))
}

func appendTimeValue(dst []byte, base int64, lastOffsetDelta int32) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(base))
	return binary.BigEndian.AppendUint32(dst, uint32(lastOffsetDelta))
}

func partIDKey(topic string, partition int32) []byte {
	k := make([]byte, 0, 1+len(topic)+1+4)
	k = append(k, ksPartID)
	k = append(k, topic...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, uint32(partition))
}

func parsePartIDKey(k []byte) (topic string, partition int32, ok bool) {
	if len(k) < 1+1+4 || k[0] != ksPartID || k[len(k)-5] != 0 {
		return "", 0, false
	}
	return string(k[1 : len(k)-5]), int32(binary.BigEndian.Uint32(k[len(k)-4:])), true
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // no upper bound
}

// index wraps the Pebble DB with the store's key layout. All writes use
// pebble.NoSync: segment files are the source of truth and recovery
// repairs the index from them, so an fsync per produce would buy nothing.
//
// Reads (lookup, seekTime, scanEntries) hold mu for reading so that Close
// cannot close the DB under an iterator: Pebble panics on a closed DB, and
// a Fetch may still be running when the broker shuts down. Writes need no
// such guard: they happen under partition locks that Close waits for.
type index struct {
	db *pebble.DB

	// flushErr is the error of the last failed memtable flush, nil once
	// a flush succeeds (set by the DB's event listener). While set,
	// appends are refused: unflushed index data stays in memory, and
	// Pebble stops accepting writes when too much of it piles up.
	flushErr atomic.Pointer[error]

	// dirty is set by index writes and cleared by the periodic flush
	// (flushLoop). Appends only load it once it is set, so it costs no
	// shared cache-line writes on the produce path.
	dirty atomic.Bool

	mu     sync.RWMutex
	closed bool // guarded by mu
}

// errIndexClosed is returned by index reads after Store.Close.
var errIndexClosed = fmt.Errorf("%w: store closed", ErrPartitionClosed)

// close closes the DB once no read is in flight.
func (x *index) close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	return x.db.Close()
}

// lookup returns the entry of the batch containing offset or, if offset
// falls in a gap (after recovery dropped a corrupt tail in a middle
// segment), of the first batch after it. Two seeks at most; no scans.
func (x *index) lookup(pid uint32, offset int64) (indexEntry, bool, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return indexEntry{}, false, errIndexClosed
	}
	buf := make([]byte, 0, 5+5+2*offsetKeyLen)
	lo := appendPrefix(buf, ksOffset, pid)
	hi := appendPrefix(lo[len(lo):], ksOffset, pid+1)
	if pid == ^uint32(0) {
		hi = prefixEnd(lo)
	}
	it, err := x.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return indexEntry{}, false, err
	}
	defer it.Close()
	key := appendOffsetKey(hi[len(hi):], pid, offset+1)
	if it.SeekLT(key) {
		e, err := decodeEntry(it.Key(), it.Value())
		if err != nil {
			return indexEntry{}, false, err
		}
		if e.lastOffset() >= offset {
			return e, true, nil
		}
	}
	if it.SeekGE(appendOffsetKey(key[len(key):], pid, offset)) {
		e, err := decodeEntry(it.Key(), it.Value())
		return e, err == nil, err
	}
	return indexEntry{}, false, it.Error()
}

// seekTime returns the first time-index entry of the segment at segBase
// whose running-maximum timestamp is >= ts: the first batch of the segment
// with maxTimestamp >= ts.
func (x *index) seekTime(pid uint32, segBase, ts int64) (base int64, lastOffsetDelta int32, maxTs int64, ok bool, err error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return 0, 0, 0, false, errIndexClosed
	}
	lo := appendPrefix(nil, ksTime, pid)
	lo = binary.BigEndian.AppendUint64(lo, uint64(segBase))
	hi := prefixEnd(lo)
	it, err := x.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, 0, 0, false, err
	}
	defer it.Close()
	if !it.SeekGE(appendTimeKey(nil, pid, segBase, ts)) {
		return 0, 0, 0, false, it.Error()
	}
	k, v := it.Key(), it.Value()
	if len(k) != timeKeyLen || len(v) != timeValLen {
		return 0, 0, 0, false, fmt.Errorf("logstore: malformed time index entry")
	}
	maxTs = int64(binary.BigEndian.Uint64(k[13:]) ^ (1 << 63))
	return int64(binary.BigEndian.Uint64(v)), int32(binary.BigEndian.Uint32(v[8:])), maxTs, true, nil
}

// scanEntries calls fn for the partition's offset-index entries with base
// offsets in [from, to), in offset order, until fn returns false.
func (x *index) scanEntries(pid uint32, from, to int64, fn func(e *indexEntry) (bool, error)) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return errIndexClosed
	}
	lo := appendOffsetKey(nil, pid, from)
	hi := appendOffsetKey(nil, pid, to)
	if to < 0 { // whole partition
		hi = prefixEnd(appendPrefix(nil, ksOffset, pid))
	}
	it, err := x.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		e, err := decodeEntry(it.Key(), it.Value())
		if err != nil {
			return err
		}
		more, err := fn(&e)
		if err != nil || !more {
			return err
		}
	}
	return it.Error()
}

// deleteSegmentRange removes the entries of segments with bases in
// [fromSeg, toSeg) from the offset, time and aborted-transaction key
// spaces (toSeg < 0: to the partition's end). Aborted-transaction entries
// are keyed by their marker's offset, so they go with the marker's
// segment, like Kafka's per-segment .txnindex.
func (x *index) deleteSegmentRange(b *pebble.Batch, pid uint32, fromSeg, toSeg int64) error {
	return x.deleteRanges(b, pid, fromSeg, toSeg, ksOffset, ksTime, ksAborted)
}

// deleteRanges is deleteSegmentRange for the given key spaces (the
// cleaner's swap keeps the aborted-transaction entries: see doc.go).
func (x *index) deleteRanges(b *pebble.Batch, pid uint32, fromSeg, toSeg int64, spaces ...byte) error {
	for _, space := range spaces {
		lo := appendPrefix(nil, space, pid)
		lo = binary.BigEndian.AppendUint64(lo, uint64(fromSeg))
		var hi []byte
		if toSeg < 0 {
			hi = prefixEnd(appendPrefix(nil, space, pid))
		} else {
			hi = appendPrefix(nil, space, pid)
			hi = binary.BigEndian.AppendUint64(hi, uint64(toSeg))
		}
		if err := b.DeleteRange(lo, hi, nil); err != nil {
			return err
		}
	}
	return nil
}

// deleteSegmentTail removes the entries of the segment at segBase for
// batches at or after fromOffset: offset keys from fromOffset to segEnd, and
// time keys above prevMaxTs (time keys of one segment are written in
// offset order with strictly increasing timestamps, so the tail's keys are
// exactly those above the running maximum before it).
func (x *index) deleteSegmentTail(b *pebble.Batch, pid uint32, segBase, segEnd, fromOffset, prevMaxTs int64) error {
	lo := appendOffsetKey(nil, pid, fromOffset)
	var hi []byte
	if segEnd < 0 {
		hi = prefixEnd(appendPrefix(nil, ksOffset, pid))
	} else {
		hi = appendOffsetKey(nil, pid, segEnd)
	}
	if err := b.DeleteRange(lo, hi, nil); err != nil {
		return err
	}
	alo := appendAbortedKey(nil, pid, fromOffset)
	ahi := prefixEnd(appendPrefix(nil, ksAborted, pid))
	if segEnd >= 0 {
		ahi = appendAbortedKey(nil, pid, segEnd)
	}
	if err := b.DeleteRange(alo, ahi, nil); err != nil {
		return err
	}
	segPrefix := binary.BigEndian.AppendUint64(appendPrefix(nil, ksTime, pid), uint64(segBase))
	tlo := segPrefix
	if prevMaxTs != noMaxTimestamp {
		tlo = appendTimeKey(nil, pid, segBase, prevMaxTs)
		tlo = append(tlo, 0) // just after the key for prevMaxTs
	}
	return b.DeleteRange(tlo, prefixEnd(segPrefix), nil)
}

// pebbleOptions configures the index DB. It runs without a WAL: the index
// is a cache of the segments, recovery re-indexes every segment from its
// last indexed batch, and what a crash loses of the index is always a
// suffix of its writes (memtables are flushed in order), which is exactly
// what recovery repairs. Without a WAL an index commit does no I/O, so a
// full or failing disk can never fail an append's index write (a failed
// WAL write is fatal to a Pebble DB); the only index writes that touch the
// disk are flushes and compactions, which Pebble retries (see
// noteFlush).
func pebbleOptions(log *slog.Logger, fs vfs.FS, x *index) *pebble.Options {
	o := &pebble.Options{
		FS:                 fs,
		Logger:             pebblelog.NewDB(log, "index"),
		FormatMajorVersion: pebble.FormatNewest,
		DisableWAL:         true,
		// The index only ever holds small fixed-size values; a modest
		// memtable keeps the index data a crash can lose small.
		MemTableSize: 16 << 20,
	}
	if x != nil {
		o.EventListener = &pebble.EventListener{FlushEnd: x.noteFlush}
	}
	return o
}

// noteFlush tracks whether memtable flushes succeed (Pebble's FlushEnd).
func (x *index) noteFlush(info pebble.FlushInfo) {
	// Pebble reports a flush that had nothing to write as an error
	// ("pebble: empty table", unexported); it is not a disk problem.
	if info.Err != nil && !strings.Contains(info.Err.Error(), "empty table") {
		err := info.Err
		x.flushErr.Store(&err)
		return
	}
	if x.flushErr.Load() != nil {
		x.flushErr.Store(nil)
	}
}

// markDirty notes an index write for the periodic flush.
func (x *index) markDirty() {
	if !x.dirty.Load() {
		x.dirty.Store(true)
	}
}

// writable returns the reason index writes must not be attempted, or nil.
func (x *index) writable() error {
	if p := x.flushErr.Load(); p != nil {
		return fmt.Errorf("%w: index flush failing: %w", ErrStorage, *p)
	}
	return nil
}

// openPebble opens the DB, turning panics (Pebble's Fatalf on a corrupt
// manifest) into errors so that the caller can rebuild.
func openPebble(dir string, log *slog.Logger, fs vfs.FS, x *index) (db *pebble.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pebble panicked while opening %s: %v", dir, r)
		}
	}()
	err = pebblelog.Guard(func() error {
		db, err = pebble.Open(dir, pebbleOptions(log, fs, x))
		return err
	})
	return db, err
}

// openIndexDB opens the index at dir. A DB that fails to open (missing
// files, corruption, garbage, not a directory) is deleted and recreated
// empty: every partition's index is then rebuilt from its segments. Only
// a lock conflict (another store using the same index) or a full disk is
// an error: deleting a live DB would corrupt the other user, and a full
// disk says nothing about the DB.
func openIndexDB(dir string, log *slog.Logger, fs vfs.FS, x *index) (db *pebble.DB, fresh bool, err error) {
	if err := os.MkdirAll(dir, 0o755); err == nil {
		db, err = openPebble(dir, log, fs, x)
		if err == nil {
			return db, false, nil
		}
		if isLockError(err) {
			return nil, false, fmt.Errorf("logstore: index %s is in use: %w", dir, err)
		}
		if diskguard.IsNoSpace(err) {
			return nil, false, fmt.Errorf("logstore: opening index %s: %w", dir, err)
		}
		log.Warn("logstore: index DB unusable; deleting it and rebuilding from segments", "dir", dir, "err", err)
	} else {
		if diskguard.IsNoSpace(err) {
			return nil, false, fmt.Errorf("logstore: creating index dir %s: %w", dir, err)
		}
		log.Warn("logstore: index dir unusable; recreating it", "dir", dir, "err", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, false, fmt.Errorf("logstore: removing broken index %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("logstore: creating index %s: %w", dir, err)
	}
	db, err = openPebble(dir, log, fs, x)
	if err != nil {
		return nil, false, fmt.Errorf("logstore: creating index %s: %w", dir, err)
	}
	return db, true, nil
}

func isLockError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "lock held") || strings.Contains(s, "resource temporarily unavailable") ||
		strings.Contains(s, "Lock reference count")
}
