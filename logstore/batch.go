package logstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// BatchHeaderSize is the size of the fixed part of a v2 record batch: the
// records start right after it. Everything the store needs per batch (for
// the index, idempotence and retention) is in these bytes, once
// ValidateRecords has checked them against the records on produce.
const BatchHeaderSize = 61

// Field positions inside a v2 batch header (big-endian).
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21 // CRC-32C covers from here to the end of the batch
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57
)

// batchLengthOverhead is the number of bytes before and including the
// batch length field; Length counts the bytes after it.
const batchLengthOverhead = 12

// minBatchLength is the smallest legal value of the Length field: a header
// with no records.
const minBatchLength = BatchHeaderSize - batchLengthOverhead

// Attribute bits of a v2 batch.
const (
	attrCompressionMask = 0x07
	attrTimestampType   = 0x08 // 1: LogAppendTime
	attrTransactional   = 0x10
	attrControl         = 0x20
	// attrDeleteHorizon (Kafka 3.1+, KIP-534, DefaultRecordBatch
	// DELETE_HORIZON_FLAG_MASK): BaseTimestamp is the batch's delete
	// horizon, set by the cleaner; record timestamps stay BaseTimestamp +
	// delta (see "Log compaction" in doc.go).
	attrDeleteHorizon = 0x40
)

// noTimestamp is Kafka's RecordBatch.NO_TIMESTAMP.
const noTimestamp = -1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the decoded fixed header of a v2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// ParseBatchHeader decodes the first BatchHeaderSize bytes of b. It checks
// what every later computation relies on (magic 2, a Length that at least
// covers the header, a non-negative LastOffsetDelta) so that callers can
// size buffers and offsets from the result without overflow, but it does
// not check the CRC: that needs the whole batch (see VerifyCRC).
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: %d bytes, need %d for a batch header", ErrCorruptBatch, len(b), BatchHeaderSize)
	}
	be := binary.BigEndian
	h := BatchHeader{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:        int64(be.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}
	switch {
	case h.Magic != 2:
		return h, fmt.Errorf("%w: magic %d, only v2 batches are stored", ErrCorruptBatch, h.Magic)
	case h.Length < minBatchLength:
		return h, fmt.Errorf("%w: batch length %d < %d", ErrCorruptBatch, h.Length, minBatchLength)
	case h.LastOffsetDelta < 0:
		return h, fmt.Errorf("%w: negative last offset delta %d", ErrCorruptBatch, h.LastOffsetDelta)
	}
	return h, nil
}

// TotalSize is the batch's size on disk and on the wire, including the
// offset and length fields that Length leaves out.
func (h BatchHeader) TotalSize() int { return int(h.Length) + batchLengthOverhead }

// LastOffset is the offset of the batch's last record; with compaction or
// empty batches it may be past the last record actually present.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// IsTransactional reports whether the batch belongs to a transaction; such
// batches stay invisible to read_committed consumers until a marker.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports whether the batch holds a transaction marker rather
// than user records; control batches update the producer's epoch but not
// its sequence numbers.
func (h BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// DeleteHorizon returns the batch's delete horizon (Unix ms) and whether
// it has one: the time after which the cleaner may remove its tombstones
// (and transaction markers), stamped by the cleaner the first time it
// rewrote the batch (Kafka's DefaultRecordBatch.deleteHorizonMs, KIP-534).
func (h BatchHeader) DeleteHorizon() (int64, bool) {
	if h.Attributes&attrDeleteHorizon == 0 {
		return 0, false
	}
	return h.BaseTimestamp, true
}

// Compression returns the codec id (0 none, 1 gzip, 2 snappy, 3 lz4,
// 4 zstd; 5-7 are invalid). ValidateRecords decompresses to check the
// records; the append and read paths do not.
func (h BatchHeader) Compression() int { return int(h.Attributes & attrCompressionMask) }

// TimestampType returns 0 for CreateTime and 1 for LogAppendTime, which
// tells consumers whether MaxTimestamp overrides the records' timestamps.
func (h BatchHeader) TimestampType() int {
	if h.Attributes&attrTimestampType != 0 {
		return 1
	}
	return 0
}

// LastSequence is the sequence number of the batch's last record, wrapping
// past MaxInt32 to 0 the way Kafka's DefaultRecordBatch.lastSequence does,
// so that a producer can run forever.
func (h BatchHeader) LastSequence() int32 {
	if h.BaseSequence == -1 {
		return -1
	}
	return incrementSequence(h.BaseSequence, h.LastOffsetDelta)
}

func incrementSequence(seq, inc int32) int32 {
	if seq > math.MaxInt32-inc {
		return inc - (math.MaxInt32 - seq) - 1
	}
	return seq + inc
}

// VerifyCRC reports whether batch holds one whole batch whose CRC-32C
// (over the bytes from the attributes field to the end) matches the
// header. Bytes past the batch's own length are ignored.
func VerifyCRC(batch []byte) bool {
	if len(batch) < BatchHeaderSize {
		return false
	}
	length := int64(int32(binary.BigEndian.Uint32(batch[offLength:])))
	if length < minBatchLength || length+batchLengthOverhead > int64(len(batch)) {
		return false
	}
	end := int(length) + batchLengthOverhead
	want := binary.BigEndian.Uint32(batch[offCRC:])
	return crc32.Checksum(batch[offAttributes:end], castagnoli) == want
}

// setBaseOffset assigns the broker offset. The CRC does not cover the
// first 21 bytes, so it stays valid.
func setBaseOffset(batch []byte, off int64) {
	binary.BigEndian.PutUint64(batch[offBaseOffset:], uint64(off))
}

// stampLogAppendTime turns batch into a LogAppendTime batch stamped with
// ms, as Kafka's LogValidator does for message.timestamp.type=LogAppendTime:
// the max timestamp and the timestamp-type bit change, so the CRC is
// recomputed; the records themselves are untouched.
func stampLogAppendTime(batch []byte, ms int64) {
	be := binary.BigEndian
	be.PutUint16(batch[offAttributes:], be.Uint16(batch[offAttributes:])|attrTimestampType)
	be.PutUint64(batch[offMaxTimestamp:], uint64(ms))
	be.PutUint32(batch[offCRC:], crc32.Checksum(batch[offAttributes:], castagnoli))
}

// SetPartitionLeaderEpoch stamps the leader epoch the batch is appended
// in, as Kafka's LogValidator does for every batch the leader appends
// (setPartitionLeaderEpoch). The field (bytes 12-15) is outside the CRC.
func SetPartitionLeaderEpoch(batch []byte, epoch int32) {
	binary.BigEndian.PutUint32(batch[offLeaderEpoch:], uint32(epoch))
}
