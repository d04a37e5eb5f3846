package handlers

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

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
}

// validateBatch checks one produced partition payload the way Kafka does
// before appending: ProduceRequest.validateRecords (exactly one magic v2
// batch), UnifiedLog.analyzeAndValidateRecords (base offset 0, within
// max.message.bytes, intact CRC), then LogValidator, which walks every
// record (logstore.ValidateRecords). It returns the header of the batch
// as it must be stored: ValidateRecords may have rewritten the max
// timestamp (and the CRC) in records.
func validateBatch(records []byte, lim batchLimits) (logstore.BatchHeader, error) {
	if len(records) < logstore.BatchHeaderSize {
		if len(records) >= 17 && records[16] < 2 {
			return logstore.BatchHeader{}, fmt.Errorf("message format v%d is not supported with produce v3+: %w", records[16], kerr.UnsupportedForMessageFormat)
		}
		return logstore.BatchHeader{}, fmt.Errorf("record batch shorter than its header: %w", kerr.CorruptMessage)
	}
	h, err := logstore.ParseBatchHeader(records)
	if err != nil {
		return h, fmt.Errorf("%v: %w", err, kerr.CorruptMessage)
	}
	if h.Magic != 2 {
		return h, fmt.Errorf("message format v%d is not supported with produce v3+: %w", h.Magic, kerr.UnsupportedForMessageFormat)
	}
	size := h.TotalSize()
	switch {
	case size > len(records):
		return h, fmt.Errorf("record batch length %d exceeds the %d bytes sent: %w", size, len(records), kerr.CorruptMessage)
	case size < len(records):
		return h, fmt.Errorf("produce v3+ must carry exactly one record batch per partition: %w", kerr.InvalidRecord)
	}
	if h.BaseOffset != 0 {
		return h, fmt.Errorf("the base offset of a produced record batch must be 0, not %d: %w", h.BaseOffset, kerr.InvalidRecord)
	}
	if int64(size) > lim.maxBytes {
		return h, fmt.Errorf("record batch of %d bytes exceeds max.message.bytes %d: %w", size, lim.maxBytes, kerr.MessageTooLarge)
	}
	if !logstore.VerifyCRC(records) {
		return h, fmt.Errorf("record batch CRC mismatch: %w", kerr.CorruptMessage)
	}
	return logstore.ValidateRecords(records, h, logstore.ValidateConfig{
		LogAppendTime: lim.logAppendTime,
		BeforeMaxMs:   lim.beforeMaxMs,
		AfterMaxMs:    lim.afterMaxMs,
		NowMs:         lim.nowMs,
	})
}
