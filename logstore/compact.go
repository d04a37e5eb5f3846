package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"math"
)

// This file holds the pure parts of log compaction: the offset map (Kafka's SkimpyOffsetMap) and the batch
// filter (Kafka's MemoryRecords.filterTo with LogCleaner's RecordFilter).
// cleaner.go drives them over segments and swaps the results in.

// errBadRecord is a record the cleaner cannot walk. Stored batches were
// validated on produce, so it means damage on disk: the clean is abandoned
// and the segment left as it is.
var errBadRecord = errors.New("logstore: malformed record in stored batch")

// offsetMap is Kafka's SkimpyOffsetMap: an open-addressing table from a
// key's 128-bit hash to the last offset seen for it, in a fixed memory
// budget (log.cleaner.dedupe.buffer.size split over the cleaner threads,
// 24 bytes a slot like Kafka's MD5 hash plus offset), filled up to
// log.cleaner.io.buffer.load.factor. Two keys sharing a 128-bit hash would
// lose the older one's latest value, a risk Kafka takes with MD5 too. The
// hash seeds are random per map; the map is never persisted.
type offsetMap struct {
	slots   []omSlot
	mask    uint64
	size    int
	maxSize int
	s1, s2  maphash.Seed
}

type omSlot struct {
	h1, h2 uint64 // h1 == 0: empty
	off    int64
}

// newOffsetMap sizes a map for memBytes (power-of-two slot count, at
// least 1024 slots).
func newOffsetMap(memBytes int64, loadFactor float64) *offsetMap {
	n := uint64(1024)
	for n*2*24 <= uint64(memBytes) {
		n *= 2
	}
	if loadFactor <= 0 || loadFactor > 1 {
		loadFactor = 0.9
	}
	return &offsetMap{slots: make([]omSlot, n), mask: n - 1, maxSize: int(float64(n) * loadFactor), s1: maphash.MakeSeed(), s2: maphash.MakeSeed()}
}

func (m *offsetMap) reset() {
	clear(m.slots)
	m.size = 0
	m.s1, m.s2 = maphash.MakeSeed(), maphash.MakeSeed()
}

func (m *offsetMap) hash(key []byte) (uint64, uint64) {
	return maphash.Bytes(m.s1, key) | 1, maphash.Bytes(m.s2, key)
}

// startKey readies kh for a key streamed in chunks; sumKey gives its
// hashes, equal to hash(key) of the whole key.
func (m *offsetMap) startKey(kh *keyHasher) {
	kh.a.SetSeed(m.s1)
	kh.b.SetSeed(m.s2)
}

func (m *offsetMap) sumKey(kh *keyHasher) (uint64, uint64) { return kh.a.Sum64() | 1, kh.b.Sum64() }

// put records off as the latest offset of key (offsets only grow).
func (m *offsetMap) put(key []byte, off int64) {
	h1, h2 := m.hash(key)
	m.putHash(h1, h2, off)
}

func (m *offsetMap) putHash(h1, h2 uint64, off int64) {
	for i := h1 & m.mask; ; i = (i + 1) & m.mask {
		s := &m.slots[i]
		if s.h1 == 0 {
			*s = omSlot{h1, h2, off}
			m.size++
			return
		}
		if s.h1 == h1 && s.h2 == h2 {
			s.off = off
			return
		}
	}
}

// get returns the latest offset of key, or -1.
func (m *offsetMap) get(key []byte) int64 {
	h1, h2 := m.hash(key)
	return m.getHash(h1, h2)
}

func (m *offsetMap) getHash(h1, h2 uint64) int64 {
	for i := h1 & m.mask; ; i = (i + 1) & m.mask {
		s := &m.slots[i]
		if s.h1 == 0 {
			return -1
		}
		if s.h1 == h1 && s.h2 == h2 {
			return s.off
		}
	}
}

// full reports whether adding n more keys could pass the load factor.
func (m *offsetMap) full(n int) bool { return m.size+n > m.maxSize }

// mapBatch adds the keyed records of a data batch to the map. The records
// are streamed (ScanRecords' reader) and each key hashed as it goes by:
// nothing of the batch is copied, whatever it decompresses to. scratch is
// unused (kept for the cleaner's call).
func (m *offsetMap) mapBatch(batch []byte, h *BatchHeader, _ *outBuf) error {
	var src recSource
	defer src.release()
	r, err := openStored(&src, batch, h)
	if err != nil {
		return err
	}
	var rec storedRec
	var kh keyHasher
	for i := int32(0); i < h.NumRecords; i++ {
		m.startKey(&kh)
		if err := readStored(&r, &rec, &kh); err != nil {
			return fmt.Errorf("%w (batch at offset %d, record %d)", err, h.BaseOffset, i)
		}
		if !rec.keyNull {
			h1, h2 := m.sumKey(&kh)
			m.putHash(h1, h2, h.BaseOffset+int64(rec.offsetDelta))
		}
	}
	return nil
}

// openStored opens the records of a stored batch for streaming.
func openStored(src *recSource, batch []byte, h *BatchHeader) (recReader, error) {
	end := h.TotalSize()
	if end < BatchHeaderSize || end > len(batch) {
		return recReader{}, fmt.Errorf("%w: batch at offset %d of %d bytes, %d given", errBadRecord, h.BaseOffset, end, len(batch))
	}
	r, err := src.open(h.Compression(), batch[BatchHeaderSize:end])
	if err != nil {
		return r, fmt.Errorf("logstore: decompressing stored batch at offset %d: %w", h.BaseOffset, err)
	}
	return r, nil
}

// filterParams are what the cleaner decided for the batches of one source
// segment.
type filterParams struct {
	endOffset int64 // records at or above are past the map: kept
	// nowMs is the cleaning's time (Kafka's RecordFilter.currentTime):
	// tombstones of a batch whose delete horizon is at or before it go,
	// and a first delete horizon is nowMs + deleteRetentionMs.
	nowMs             int64
	deleteRetentionMs int64 // delete.retention.ms; < 0: tombstones kept, no horizon
	keepEmpty         bool  // keep the header if no record survives (see cleaner.go)
}

// filterResult says what filterBatch wrote.
type filterResult struct {
	written bool        // something was appended to out
	header  BatchHeader // of what was written
	copied  bool        // the batch was copied unchanged
	// tombstones is the number of tombstones kept, and horizon the
	// delete horizon of the written batch when it has one.
	tombstones int
	horizon    int64
}

// filterBatch appends to out the retained form of one data batch: the
// batch itself if every record stays, nothing if none stays (or only its
// header, with keepEmpty), else a batch rebuilt from the surviving
// records. A record stays when it is past the map, or is the latest of its
// key and either has a value or its tombstone is still retained; records
// without a key are dropped (Kafka's LogCleaner.shouldRetainRecord). A
// tombstone is retained while the batch has no delete horizon or the
// horizon is after fp.nowMs (Kafka 3.1+, KIP-534).
//
// A rebuilt batch keeps everything of the original header (base offset,
// last offset delta, base timestamp, producer id, epoch, base sequence,
// partition leader epoch, attributes and codec) and the surviving records'
// bytes as they were (their offset and timestamp deltas included); only
// the length, record count, max timestamp (for CreateTime, the largest
// surviving timestamp) and CRC change. Keeping the last offset delta keeps
// the batch's last sequence, so producer state rebuilt from the log after
// cleaning is the same as before.
//
// A batch that keeps a tombstone and has no delete horizon yet gets one
// (Kafka's MemoryRecords.filterTo, needToSetDeleteHorizon): it is rebuilt
// even if every record stays, with the delete horizon flag set,
// baseTimestamp = fp.nowMs + delete.retention.ms, and every record's
// timestamp delta rewritten against that base so that base + delta (what
// consumers compute) is still the record's timestamp.
//
// The records are streamed twice (once to decide, once to copy the kept
// spans into the compressor), so a batch costs the reader's window and
// the rebuilt output, whatever it decompresses to; keys are hashed as
// they stream by. The first *outBuf (the cleaner's scratch) is unused.
func filterBatch(batch []byte, h *BatchHeader, m *offsetMap, fp filterParams, _, out *outBuf, spans *[][2]int) (filterResult, error) {
	// First pass: decide, streaming, which records stay; spans are their
	// positions in the decompressed records.
	var src recSource
	defer src.release()
	r, err := openStored(&src, batch, h)
	if err != nil {
		return filterResult{}, err
	}
	lat := h.Attributes&attrTimestampType != 0
	horizon, hasHorizon := h.DeleteHorizon()
	retainTombstones := fp.deleteRetentionMs < 0 || !hasHorizon || fp.nowMs < horizon
	*spans = (*spans)[:0]
	kept := int32(0)
	tombs := 0
	maxTs := int64(noTimestamp)
	var rec storedRec
	var kh keyHasher
	for i := int32(0); i < h.NumRecords; i++ {
		m.startKey(&kh)
		if err := readStored(&r, &rec, &kh); err != nil {
			return filterResult{}, fmt.Errorf("%w (batch at offset %d, record %d)", err, h.BaseOffset, i)
		}
		off := h.BaseOffset + int64(rec.offsetDelta)
		keep := off >= fp.endOffset
		if !keep && !rec.keyNull {
			h1, h2 := m.sumKey(&kh)
			keep = off >= m.getHash(h1, h2) && (!rec.valueNull || retainTombstones)
		}
		if !keep {
			continue
		}
		if rec.valueNull {
			tombs++
		}
		kept++
		if lat {
			maxTs = h.MaxTimestamp
		} else {
			maxTs = max(maxTs, h.BaseTimestamp+rec.tsDelta)
		}
		start, end := int(rec.start), int(rec.end)
		if n := len(*spans); n > 0 && (*spans)[n-1][1] == start {
			(*spans)[n-1][1] = end
		} else {
			*spans = append(*spans, [2]int{start, end})
		}
	}
	setHorizon := tombs > 0 && !hasHorizon && fp.deleteRetentionMs >= 0
	if setHorizon {
		horizon = fp.nowMs + fp.deleteRetentionMs
		if fp.deleteRetentionMs > math.MaxInt64-fp.nowMs {
			horizon = math.MaxInt64
		}
	}
	resHorizon := int64(0)
	if tombs > 0 && (hasHorizon || setHorizon) {
		resHorizon = horizon
	}
	switch {
	case kept == h.NumRecords && !setHorizon:
		out.b = append(out.b, batch[:h.TotalSize()]...)
		return filterResult{written: true, header: *h, copied: true, tombstones: tombs, horizon: resHorizon}, nil
	case kept == 0 && !fp.keepEmpty:
		return filterResult{}, nil
	case kept == 0:
		nh := appendEmptyBatch(out, h)
		return filterResult{written: true, header: nh}, nil
	}
	// Second pass: stream the records again and copy the kept spans
	// straight into the compressor.
	src.release()
	if r, err = openStored(&src, batch, h); err != nil {
		return filterResult{}, err
	}
	start := len(out.b)
	out.b = append(out.b, batch[:BatchHeaderSize]...)
	var cw compWriter
	w, err := cw.open(h.Compression(), DefaultCompressionLevels, out)
	if err != nil {
		out.b = out.b[:start]
		return filterResult{}, err
	}
	for _, sp := range *spans {
		switch {
		case !r.skip(int64(sp[0]) - r.offset()):
			err = badStored(&r, "skipped record")
		case setHorizon:
			err = copyRebased(&r, w, int64(sp[1]), h.BaseTimestamp, horizon)
		default:
			err = copyStream(&r, w, int64(sp[1]-sp[0]))
		}
		if err != nil {
			break
		}
	}
	if err == nil {
		err = cw.close()
	} else {
		cw.abort()
	}
	if err != nil {
		out.b = out.b[:start]
		return filterResult{}, fmt.Errorf("logstore: recompressing cleaned batch at offset %d: %w", h.BaseOffset, err)
	}
	b := out.b[start:]
	nh := *h
	nh.Length = int32(len(b) - batchLengthOverhead)
	nh.NumRecords = kept
	nh.MaxTimestamp = maxTs
	be := binary.BigEndian
	if setHorizon {
		nh.Attributes |= attrDeleteHorizon
		nh.BaseTimestamp = horizon
		be.PutUint16(b[offAttributes:], uint16(nh.Attributes))
		be.PutUint64(b[offBaseTimestamp:], uint64(horizon))
	}
	be.PutUint32(b[offLength:], uint32(nh.Length))
	be.PutUint64(b[offMaxTimestamp:], uint64(maxTs))
	be.PutUint32(b[offNumRecords:], uint32(kept))
	nh.CRC = crc32.Checksum(b[offAttributes:], castagnoli)
	be.PutUint32(b[offCRC:], nh.CRC)
	return filterResult{written: true, header: nh, tombstones: tombs, horizon: resHorizon}, nil
}

// copyRebased streams the whole records at r up to stream offset end to w
// with their timestamp deltas moved from base oldBase to newBase, so that
// each record's timestamp (base + delta, wrapping like Java's long) is
// unchanged; the record length follows the delta's new varint size.
// Attributes, offset delta, key, value and headers are copied through the
// reader's window, so a large record costs time, not memory.
func copyRebased(r *recReader, w io.Writer, end, oldBase, newBase int64) error {
	var hdrBuf [2*binary.MaxVarintLen64 + 1]byte
	var deltaBuf [binary.MaxVarintLen64]byte
	for r.offset() < end {
		length, ok := r.varint()
		if !ok || length <= 0 {
			return badStored(r, "record length")
		}
		recEnd := r.offset() + int64(length)
		attrs, ok := r.byte()
		if !ok {
			return badStored(r, "attributes")
		}
		tsDelta, ok := r.varlong()
		if !ok {
			return badStored(r, "timestamp delta")
		}
		rest := recEnd - r.offset()
		if rest < 0 {
			return badStored(r, "record body")
		}
		nd := binary.AppendVarint(deltaBuf[:0], oldBase+tsDelta-newBase)
		hdr := binary.AppendVarint(hdrBuf[:0], 1+int64(len(nd))+rest)
		hdr = append(hdr, attrs)
		hdr = append(hdr, nd...)
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		if err := copyStream(r, w, rest); err != nil {
			return err
		}
	}
	return nil
}

// appendControlWithHorizon appends the control batch (uncompressed, as
// Kafka writes markers) with its delete horizon set (KIP-534): attribute
// bit 6 on, base timestamp the horizon, each record's timestamp delta
// re-encoded against it so its timestamp is unchanged, length and CRC
// recomputed. It returns the new header.
func appendControlWithHorizon(out *outBuf, batch []byte, h *BatchHeader, horizon int64) (BatchHeader, error) {
	if h.Attributes&attrCompressionMask != 0 || len(batch) < BatchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: control batch at offset %d is compressed or short", errBadRecord, h.BaseOffset)
	}
	start := len(out.b)
	out.b = append(out.b, batch[:BatchHeaderSize]...)
	recs := batch[BatchHeaderSize:]
	for len(recs) > 0 {
		length, n := binary.Varint(recs)
		if n <= 0 || length < 2 || int64(len(recs)-n) < length {
			out.b = out.b[:start]
			return BatchHeader{}, fmt.Errorf("%w: control record at offset %d: bad length", errBadRecord, h.BaseOffset)
		}
		rec := recs[n : n+int(length)]
		recs = recs[n+int(length):]
		attrs := rec[0]
		delta, m := binary.Varint(rec[1:])
		if m <= 0 {
			out.b = out.b[:start]
			return BatchHeader{}, fmt.Errorf("%w: control record at offset %d: bad timestamp delta", errBadRecord, h.BaseOffset)
		}
		rest := rec[1+m:]
		var nd [binary.MaxVarintLen64]byte
		d := binary.PutVarint(nd[:], h.BaseTimestamp+delta-horizon)
		out.b = binary.AppendVarint(out.b, int64(1+d+len(rest)))
		out.b = append(out.b, attrs)
		out.b = append(out.b, nd[:d]...)
		out.b = append(out.b, rest...)
	}
	b := out.b[start:]
	nh := *h
	nh.Attributes |= attrDeleteHorizon
	nh.BaseTimestamp = horizon
	nh.Length = int32(len(b) - batchLengthOverhead)
	be := binary.BigEndian
	be.PutUint32(b[offLength:], uint32(nh.Length))
	be.PutUint16(b[offAttributes:], uint16(nh.Attributes))
	be.PutUint64(b[offBaseTimestamp:], uint64(horizon))
	nh.CRC = crc32.Checksum(b[offAttributes:], castagnoli)
	be.PutUint32(b[offCRC:], nh.CRC)
	return nh, nil
}

// appendEmptyBatch writes the header of h with no records, as Kafka's
// DefaultRecordBatch.writeEmptyHeader does for a batch the cleaner must
// retain (RETAIN_EMPTY): same offsets, producer fields, leader epoch,
// timestamp type, transactional and control flags, no compression, base
// and max timestamp both the batch's max timestamp.
func appendEmptyBatch(out *outBuf, h *BatchHeader) BatchHeader {
	nh := *h
	nh.Length = minBatchLength
	nh.Attributes = h.Attributes &^ (attrCompressionMask | attrDeleteHorizon)
	nh.BaseTimestamp = h.MaxTimestamp
	nh.NumRecords = 0
	start := len(out.b)
	out.b = append(out.b, make([]byte, BatchHeaderSize)...)
	b := out.b[start:]
	be := binary.BigEndian
	be.PutUint64(b[offBaseOffset:], uint64(nh.BaseOffset))
	be.PutUint32(b[offLength:], uint32(nh.Length))
	be.PutUint32(b[offLeaderEpoch:], uint32(nh.PartitionLeaderEpoch))
	b[offMagic] = 2
	be.PutUint16(b[offAttributes:], uint16(nh.Attributes))
	be.PutUint32(b[offLastOffsetDelta:], uint32(nh.LastOffsetDelta))
	be.PutUint64(b[offBaseTimestamp:], uint64(nh.BaseTimestamp))
	be.PutUint64(b[offMaxTimestamp:], uint64(nh.MaxTimestamp))
	be.PutUint64(b[offProducerID:], uint64(nh.ProducerID))
	be.PutUint16(b[offProducerEpoch:], uint16(nh.ProducerEpoch))
	be.PutUint32(b[offBaseSequence:], uint32(nh.BaseSequence))
	be.PutUint32(b[offNumRecords:], 0)
	nh.CRC = crc32.Checksum(b[offAttributes:], castagnoli)
	be.PutUint32(b[offCRC:], nh.CRC)
	return nh
}
