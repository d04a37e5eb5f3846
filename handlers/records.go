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

// validateBatch checks one produced partition payload the way Kafka's log
// validator does at the batch level, without touching records: exactly
// one magic v2 batch, intact CRC, consistent counts, within size and
// timestamp limits. It returns the parsed header for the append.
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
	if int64(size) > lim.maxBytes {
		return h, fmt.Errorf("record batch of %d bytes exceeds max.message.bytes %d: %w", size, lim.maxBytes, kerr.MessageTooLarge)
	}
	if !logstore.VerifyCRC(records) {
		return h, fmt.Errorf("record batch CRC mismatch: %w", kerr.CorruptMessage)
	}
	if h.NumRecords <= 0 || h.LastOffsetDelta != h.NumRecords-1 {
		return h, fmt.Errorf("record count %d does not match last offset delta %d: %w", h.NumRecords, h.LastOffsetDelta, kerr.InvalidRecord)
	}
	if !lim.logAppendTime && !h.IsControl() {
		for _, ts := range [2]int64{h.BaseTimestamp, h.MaxTimestamp} {
			if ts < 0 {
				continue // -1: no timestamp
			}
			if ts < lim.nowMs-lim.beforeMaxMs && lim.nowMs-lim.beforeMaxMs < lim.nowMs {
				return h, fmt.Errorf("timestamp %d is more than message.timestamp.before.max.ms before now: %w", ts, kerr.InvalidTimestamp)
			}
			if ts > lim.nowMs+lim.afterMaxMs && lim.nowMs+lim.afterMaxMs > lim.nowMs {
				return h, fmt.Errorf("timestamp %d is more than message.timestamp.after.max.ms after now: %w", ts, kerr.InvalidTimestamp)
			}
		}
	}
	return h, nil
}
