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

// This file holds the pure parts of log compaction: the record walker of
// stored batches, the offset map (Kafka's SkimpyOffsetMap) and the batch
// filter (Kafka's MemoryRecords.filterTo with LogCleaner's RecordFilter).
// cleaner.go drives them over segments and swaps the results in.

// errBadRecord is a record the cleaner cannot walk. Stored batches were
// validated on produce, so it means damage on disk: the clean is abandoned
// and the segment left as it is.
var errBadRecord = errors.New("logstore: malformed record in stored batch")

// recordView is one record of a batch's decompressed records section.
type recordView struct {
	raw         []byte // the whole record, length prefix included
	offsetDelta int32
	ts          int64 // base timestamp + delta (LogAppendTime: the batch's max timestamp)
	key         []byte
	keyNull     bool
	valueNull   bool
}

// nextRecord decodes the record at recs[pos:] (the layout of Kafka's
// DefaultRecord: length varint, attributes, timestamp delta varlong,
// offset delta varint, key, value, headers), reading only what
// compaction needs. It returns the position after the record.
func nextRecord(recs []byte, pos int, baseTs int64) (recordView, int, error) {
	var v recordView
	length, n := binary.Varint(recs[pos:])
	if n <= 0 || length <= 0 || length > int64(len(recs)-pos-n) {
		return v, 0, errBadRecord
	}
	start := pos
	body := recs[pos+n : pos+n+int(length)]
	end := pos + n + int(length)
	v.raw = recs[start:end]
	if len(body) < 1 {
		return v, 0, errBadRecord
	}
	p := 1 // attributes
	tsDelta, k := binary.Varint(body[p:])
	if k <= 0 {
		return v, 0, errBadRecord
	}
	p += k
	od, k := binary.Varint(body[p:])
	if k <= 0 || od < 0 || od > 1<<31-1 {
		return v, 0, errBadRecord
	}
	p += k
	v.offsetDelta = int32(od)
	v.ts = baseTs + tsDelta
	kl, k := binary.Varint(body[p:])
	if k <= 0 {
		return v, 0, errBadRecord
	}
	p += k
	if kl < 0 {
		v.keyNull = true
	} else {
		if kl > int64(len(body)-p) {
			return v, 0, errBadRecord
		}
		v.key = body[p : p+int(kl)]
		p += int(kl)
	}
	vl, k := binary.Varint(body[p:])
	if k <= 0 {
		return v, 0, errBadRecord
	}
	if vl < 0 {
		v.valueNull = true
	} else if vl > int64(len(body)-p-k) {
		return v, 0, errBadRecord
	}
	return v, end, nil
}

// batchRecords returns the records section of a stored batch,
// decompressed into dst when the batch is compressed (dst is reused; its
// bytes are valid until the next call).
func batchRecords(batch []byte, h *BatchHeader, dst *outBuf) ([]byte, error) {
	payload := batch[BatchHeaderSize:h.TotalSize()]
	codec := h.Compression()
	if codec == 0 {
		return payload, nil
	}
	var src recSource
	defer src.release()
	r, err := src.open(codec, payload)
	if err != nil {
		return nil, err
	}
	dst.b = dst.b[:0]
	if r.src == nil {
		return append(dst.b, r.buf...), nil
	}
	for r.fill() {
		dst.b = append(dst.b, r.buf...)
	}
	if r.err != nil {
		return nil, fmt.Errorf("logstore: decompressing stored batch at offset %d: %w", h.BaseOffset, r.err)
	}
	return dst.b, nil
}

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

// put records off as the latest offset of key (offsets only grow).
func (m *offsetMap) put(key []byte, off int64) {
	h1, h2 := m.hash(key)
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

// mapBatch adds the keyed records of a data batch to the map.
func (m *offsetMap) mapBatch(batch []byte, h *BatchHeader, scratch *outBuf) error {
	recs, err := batchRecords(batch, h, scratch)
	if err != nil {
		return err
	}
	pos := 0
	for i := int32(0); i < h.NumRecords; i++ {
		var r recordView
		r, pos, err = nextRecord(recs, pos, h.BaseTimestamp)
		if err != nil {
			return fmt.Errorf("%w (batch at offset %d, record %d)", err, h.BaseOffset, i)
		}
		if !r.keyNull {
			m.put(r.key, h.BaseOffset+int64(r.offsetDelta))
		}
	}
	return nil
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
func filterBatch(batch []byte, h *BatchHeader, m *offsetMap, fp filterParams, scratch, out *outBuf, spans *[][2]int) (filterResult, error) {
	recs, err := batchRecords(batch, h, scratch)
	if err != nil {
		return filterResult{}, err
	}
	lat := h.Attributes&attrTimestampType != 0
	horizon, hasHorizon := h.DeleteHorizon()
	retainTombstones := fp.deleteRetentionMs < 0 || !hasHorizon || fp.nowMs < horizon
	*spans = (*spans)[:0]
	pos := 0
	kept := int32(0)
	tombs := 0
	maxTs := int64(noTimestamp)
	for i := int32(0); i < h.NumRecords; i++ {
		var r recordView
		start := pos
		r, pos, err = nextRecord(recs, pos, h.BaseTimestamp)
		if err != nil {
			return filterResult{}, fmt.Errorf("%w (batch at offset %d, record %d)", err, h.BaseOffset, i)
		}
		off := h.BaseOffset + int64(r.offsetDelta)
		keep := off >= fp.endOffset
		if !keep && !r.keyNull {
			keep = off >= m.get(r.key) && (!r.valueNull || retainTombstones)
		}
		if !keep {
			continue
		}
		if r.valueNull {
			tombs++
		}
		kept++
		if lat {
			maxTs = h.MaxTimestamp
		} else {
			maxTs = max(maxTs, r.ts)
		}
		if n := len(*spans); n > 0 && (*spans)[n-1][1] == start {
			(*spans)[n-1][1] = pos
		} else {
			*spans = append(*spans, [2]int{start, pos})
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
	start := len(out.b)
	out.b = append(out.b, batch[:BatchHeaderSize]...)
	var cw compWriter
	w, err := cw.open(h.Compression(), DefaultCompressionLevels, out)
	if err != nil {
		out.b = out.b[:start]
		return filterResult{}, err
	}
	for _, sp := range *spans {
		if setHorizon {
			err = writeRebased(w, recs[sp[0]:sp[1]], h.BaseTimestamp, horizon)
		} else {
			_, err = w.Write(recs[sp[0]:sp[1]])
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

// writeRebased writes the whole records in recs (validated by
// nextRecord) to w with their timestamp deltas moved from base oldBase to
// newBase, so that each record's timestamp (base + delta, wrapping like
// Java's long) is unchanged; the record length follows the delta's new
// varint size. Attributes, offset delta, key, value and headers are copied.
func writeRebased(w io.Writer, recs []byte, oldBase, newBase int64) error {
	var hdrBuf [2*binary.MaxVarintLen64 + 1]byte
	var deltaBuf [binary.MaxVarintLen64]byte
	for pos := 0; pos < len(recs); {
		length, n := binary.Varint(recs[pos:])
		body := recs[pos+n : pos+n+int(length)]
		pos += n + int(length)
		tsDelta, k := binary.Varint(body[1:])
		rest := body[1+k:]
		nd := binary.AppendVarint(deltaBuf[:0], oldBase+tsDelta-newBase)
		hdr := binary.AppendVarint(hdrBuf[:0], int64(1+len(nd)+len(rest)))
		hdr = append(hdr, body[0])
		hdr = append(hdr, nd...)
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		if _, err := w.Write(rest); err != nil {
			return err
		}
	}
	return nil
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
