package handlers

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/logstore"
)

var errorsIs = errors.Is

// batchLimits are the topic settings a produced batch is checked against.
type batchLimits struct {
	maxBytes      int64 // max.message.bytes
	logAppendTime bool  // message.timestamp.type=LogAppendTime: client timestamps are not checked
	beforeMaxMs   int64 // message.timestamp.before.max.ms
	afterMaxMs    int64 // message.timestamp.after.max.ms
	nowMs         int64
	codec         int  // compression.type as a codec id; -1 for producer
	compacted     bool // cleanup.policy lists compact: records need keys
}

// Framing of a record set, Kafka's ByteBufferLogInputStream: the length
// field sits at 8, the magic at 16.
const (
	logOverhead          = 12 // offset and length fields
	headerSizeUpToMagic  = 17
	legacyRecordOverhead = 14 // LegacyRecord.RECORD_OVERHEAD_V0, the smallest length Kafka reads
)

// nextBatch is ByteBufferLogInputStream.nextBatch: the size of the first
// batch of b (0 when b holds no whole batch, which Kafka's iterator
// treats as the end of the records) and its magic. A length below the
// smallest record or a magic above 2 is CORRUPT_MESSAGE.
func nextBatch(b []byte) (size int, magic int8, err error) {
	if len(b) < logOverhead {
		return 0, 0, nil
	}
	length := int32(binary.BigEndian.Uint32(b[8:]))
	if length < legacyRecordOverhead {
		return 0, 0, fmt.Errorf("record size %d is less than the minimum record overhead (%d): %w", length, legacyRecordOverhead, kerr.CorruptMessage)
	}
	if len(b) < headerSizeUpToMagic {
		return 0, 0, nil
	}
	magic = int8(b[16])
	if magic < 0 || magic > 2 {
		return 0, 0, fmt.Errorf("invalid magic found in record: %d: %w", magic, kerr.CorruptMessage)
	}
	size = int(length) + logOverhead
	if size > len(b) {
		return 0, 0, nil
	}
	return size, magic, nil
}

// firstBatchAttrs returns the attributes of the first whole v2 batch of
// records, ok false when there is none (RequestUtils.flag looks only at
// each partition's first batch).
func firstBatchAttrs(records []byte) (attrs int16, ok bool) {
	size, magic, err := nextBatch(records)
	if err != nil || size == 0 || magic != 2 || size < logstore.BatchHeaderSize {
		return 0, false
	}
	return int16(binary.BigEndian.Uint16(records[21:])), true
}

// hasTransactionalRecords is Kafka's RequestUtils.hasTransactionalRecords:
// whether the first batch of any partition is transactional. Such a
// request without a transactional id is refused whole with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED (KafkaApis.handleProduceRequest).
func hasTransactionalRecords(req *kmsg.ProduceRequest) bool {
	for i := range req.Topics {
		for j := range req.Topics[i].Partitions {
			if a, ok := firstBatchAttrs(req.Topics[i].Partitions[j].Records); ok && a&0x10 != 0 {
				return true
			}
		}
	}
	return false
}

// checkRequestRecords is Kafka's ProduceRequest.validateRecords for
// produce v3+, applied per partition before the log is involved (so the
// answer carries log_start_offset -1): exactly one magic v2 batch
// (INVALID_RECORD), no zstd before produce v7
// (UNSUPPORTED_COMPRESSION_TYPE). It returns the batch: bytes after it
// too few to form a second batch are dropped, as Kafka's log does
// (UnifiedLog.trimInvalidBytes).
func checkRequestRecords(version int16, records []byte) ([]byte, error) {
	size, magic, err := nextBatch(records)
	switch {
	case err != nil:
		return nil, err
	case size == 0:
		return nil, fmt.Errorf("produce requests with version %d must have at least one record batch per partition: %w", version, kerr.InvalidRecord)
	case magic != 2:
		return nil, fmt.Errorf("produce requests with version %d are only allowed to contain record batches with magic version 2: %w", version, kerr.InvalidRecord)
	}
	if version < 7 && size >= 23 && records[22]&0x07 == 4 {
		return nil, fmt.Errorf("produce requests with version %d are not allowed to use ZStandard compression: %w", version, kerr.UnsupportedCompressionType)
	}
	next, _, err := nextBatch(records[size:])
	switch {
	case err != nil:
		return nil, err
	case next > 0:
		return nil, fmt.Errorf("produce requests with version %d are only allowed to contain exactly one record batch per partition: %w", version, kerr.InvalidRecord)
	}
	return records[:size], nil
}

// unknownCodecBefore7 reports whether a produce request below v7 carries
// a batch with compression id 5-7: Kafka's ProduceRequest.validateRecords
// then calls CompressionType.forId, whose IllegalArgumentException fails
// the whole request with UNKNOWN_SERVER_ERROR (measured with Kafka 4.3.1).
func unknownCodecBefore7(version int16, records []byte) bool {
	if version >= 7 {
		return false
	}
	size, magic, err := nextBatch(records)
	return err == nil && size >= 23 && magic == 2 && records[22]&0x07 > 4
}

// validateBatch checks one produced batch the way Kafka's log does before
// appending: UnifiedLog.analyzeAndValidateRecords (base offset 0, within
// max.message.bytes, intact CRC, a known codec), then LogValidator, which
// walks every record (logstore.ValidateRecords). It returns the header of
// the batch as it must be stored: ValidateRecords may have rewritten the
// max timestamp (and the CRC) in batch.
func validateBatch(batch []byte, lim batchLimits) (logstore.BatchHeader, error) {
	if len(batch) < logstore.BatchHeaderSize {
		// DefaultRecordBatch.isValid: shorter than a batch header.
		return logstore.BatchHeader{}, fmt.Errorf("record batch of %d bytes is shorter than its header: %w", len(batch), kerr.CorruptMessage)
	}
	// checkRequestRecords has checked magic and length; a negative last
	// offset delta is LogValidator's INVALID_RECORD, below.
	h, _ := logstore.ParseBatchHeader(batch)
	if h.BaseOffset != 0 {
		return h, fmt.Errorf("the base offset of a produced record batch must be 0, not %d: %w", h.BaseOffset, kerr.InvalidRecord)
	}
	if int64(len(batch)) > lim.maxBytes {
		return h, fmt.Errorf("record batch of %d bytes exceeds max.message.bytes %d: %w", len(batch), lim.maxBytes, kerr.MessageTooLarge)
	}
	if !logstore.VerifyCRC(batch) {
		return h, fmt.Errorf("record batch CRC mismatch: %w", kerr.CorruptMessage)
	}
	codec := h.Compression()
	return logstore.ValidateRecords(batch, h, logstore.ValidateConfig{
		LogAppendTime: lim.logAppendTime,
		BeforeMaxMs:   lim.beforeMaxMs,
		AfterMaxMs:    lim.afterMaxMs,
		NowMs:         lim.nowMs,
		Recompress:    lim.codec >= 0 && lim.codec != codec && codec <= 4,
		Compacted:     lim.compacted,
		// A Samsa bound, see logstore.MaxDecompressedBatchBytes.
		MaxDecompressedBytes: logstore.MaxDecompressedBatchBytes(lim.maxBytes),
	})
}
