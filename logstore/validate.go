package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Errors of produce validation. Both unwrap to their Kafka code, like the
// other sentinels in errors.go.
var (
	// ErrInvalidRecord is Kafka's InvalidRecordException
	// (INVALID_RECORD, 87, not retriable): a batch or record the
	// LogValidator refuses (bad structure, counts, offsets, flags).
	ErrInvalidRecord error = &kafkaError{"logstore: invalid record", kerr.InvalidRecord}

	// ErrInvalidTimestamp is Kafka's InvalidTimestampException
	// (INVALID_TIMESTAMP, 32): a record timestamp outside
	// message.timestamp.before.max.ms / after.max.ms, or a client batch
	// claiming LogAppendTime.
	ErrInvalidTimestamp error = &kafkaError{"logstore: invalid timestamp", kerr.InvalidTimestamp}

	// ErrUndecodableRecords is a batch whose records Kafka cannot read
	// for a reason that is not an InvalidRecordException: a payload the
	// codec cannot decompress, a compression id of 5-7, or a compressed
	// batch whose inner offsets do not count up from 0. Kafka 4.3.1 fails
	// these with a KafkaException, IllegalArgumentException
	// (CompressionType.forId) or UnsupportedOperationException (rebuilding
	// PartialDefaultRecords in LogValidator), all UNKNOWN_SERVER_ERROR
	// (-1); measured by the conformance suite.
	ErrUndecodableRecords error = &kafkaError{"logstore: undecodable records", kerr.UnknownServerError}

	// ErrMessageTooLarge is Kafka's RecordTooLargeException
	// (MESSAGE_TOO_LARGE, 10): a batch that is, or would become, larger
	// than max.message.bytes. UnifiedLog.append throws it when a batch
	// LogValidator recompressed exceeds max.message.bytes; Samsa also
	// gives it for a compressed batch that decompresses to more than
	// MaxDecompressedBatchBytes and for a record larger than
	// max.message.bytes met while recompressing (see Recompress). The Java
	// producer answers it by splitting the batch and retrying
	// (Sender.completeBatch), so a legitimate batch still gets through.
	ErrMessageTooLarge error = &kafkaError{"logstore: message too large", kerr.MessageTooLarge}
)

// decompressedFactor and minDecompressedCap set MaxDecompressedBatchBytes.
const (
	decompressedFactor = 64
	minDecompressedCap = 1 << 20
)

// MaxDecompressedBatchBytes is the most bytes of records a produced
// compressed batch may decompress to: 64 × max.message.bytes (counted as
// at least 1 MiB), so 64 MiB with Kafka's default of 1,048,588 bytes.
//
// Kafka sets no such bound: its LogValidator streams the records of a
// batch kept in its codec and would store an 8 KiB zstd batch holding a
// 256 MiB value, which every reader (consumers, the cleaner,
// recompression) must then inflate. Samsa refuses such a batch at produce
// with ErrMessageTooLarge instead: 64× is far above what real data
// compresses by in a batch (text and JSON reach 5-20×), and it bounds
// the time every later walk of a stored batch takes. Memory does not
// depend on it: every reader of stored batches streams.
func MaxDecompressedBatchBytes(maxMessageBytes int64) int64 {
	return decompressedFactor * max(maxMessageBytes, minDecompressedCap)
}

// maxRecordErrors bounds the per-record errors one ValidationError keeps
// (Kafka lists them all); the response and the memory of a hostile batch
// of a million bad timestamps stay small.
const maxRecordErrors = 1000

// RecordError is one entry of ProduceResponse v8+ record_errors
// (KIP-467): the index of the record inside the batch and why it was
// refused.
type RecordError struct {
	BatchIndex int32
	Message    string
}

// ValidationError is a produced batch refused by ValidateRecords. Err is
// ErrInvalidRecord, ErrInvalidTimestamp, ErrUndecodableRecords or
// ErrCorruptBatch; RecordErrors names the offending records for timestamp
// faults only, as Kafka's RecordValidationException does (structural
// faults are a plain InvalidRecordException there, without
// record_errors).
type ValidationError struct {
	Err          error
	Msg          string
	RecordErrors []RecordError
}

func (e *ValidationError) Error() string { return e.Msg }
func (e *ValidationError) Unwrap() error { return e.Err }

// ValidateConfig holds the topic settings ValidateRecords checks against.
type ValidateConfig struct {
	// LogAppendTime is message.timestamp.type=LogAppendTime: record
	// timestamps are not range-checked (Append stamps the batch).
	LogAppendTime bool
	// BeforeMaxMs and AfterMaxMs are message.timestamp.before.max.ms and
	// message.timestamp.after.max.ms (KIP-937), in milliseconds.
	BeforeMaxMs, AfterMaxMs int64
	// NowMs is the broker's clock for the timestamp checks, in Unix ms.
	NowMs int64
	// Recompress says the batch will be rebuilt in another codec
	// (compression.type differs from the batch's): its inner offsets are
	// then rewritten, as Kafka's buildRecordsAndAssignOffsets does, so
	// they are not checked.
	Recompress bool
	// Compacted is cleanup.policy containing compact: records without a
	// key are refused (LogValidator.validateKey), INVALID_RECORD with a
	// record error each.
	Compacted bool
	// MaxDecompressedBytes bounds the bytes a compressed batch's records
	// may decompress to (MaxDecompressedBatchBytes of the topic's
	// max.message.bytes); beyond it the walk stops at once with
	// ErrMessageTooLarge. 0 means no bound.
	MaxDecompressedBytes int64
}

// ValidateRecords is Kafka's LogValidator for a batch a client produced
// (org.apache.kafka.storage.internals.log.LogValidator with
// AppendOrigin.CLIENT, plus the record format rules of DefaultRecord and
// DefaultRecordBatch.readFrom), as Kafka 4.3.1 answers it (measured by
// conformance/validate_test.go). The caller has checked the shallow facts
// (one magic v2 batch, length, CRC, max.message.bytes). ValidateRecords
// then:
//
//   - refuses the batch-level faults of LogValidator.validateBatch
//     (ErrInvalidRecord): record count <= 0 or not matching
//     lastOffsetDelta+1, a control batch, a producer id with a negative
//     base sequence;
//   - refuses compression ids 5-7 and payloads the codec cannot
//     decompress with ErrUndecodableRecords;
//   - walks every record, decompressing gzip, snappy (raw or xerial
//     framed), lz4 (frame) and zstd as a stream with bounded memory, and
//     refuses structural faults (record length, varint width, a negative
//     header count or header key length, a record count that does not
//     match the records present, trailing bytes) with ErrInvalidRecord
//     and no record errors. Key, value and header value lengths below -1
//     are read as null, as Kafka's Utils.readBytes does, and stored as
//     sent. Inner offset deltas are not checked in uncompressed batches
//     (Kafka stores them as sent); a compressed batch kept in its codec
//     whose offset deltas are not 0..n-1 is ErrUndecodableRecords;
//   - refuses a compressed batch whose records decompress to more than
//     cfg.MaxDecompressedBytes with ErrMessageTooLarge, as soon as a
//     record's declared length passes the bound (a Samsa limit, see
//     MaxDecompressedBatchBytes);
//   - checks every record timestamp against the limits (CreateTime
//     topics) and refuses client batches that claim LogAppendTime, with
//     ErrInvalidTimestamp and one RecordError per record;
//   - computes the batch's max timestamp from the records (-1 when no
//     record has one) and, for CreateTime topics, rewrites the header's
//     max timestamp and timestamp type (and the CRC) when the producer's
//     differ, as LogValidator's setMaxTimestamp does. LogAppendTime
//     topics are stamped by Append.
//
// It returns the header as it now is in batch. Uncompressed batches are
// walked in place without allocating.
func ValidateRecords(batch []byte, h BatchHeader, cfg ValidateConfig) (BatchHeader, error) {
	if err := validateBatchHeader(&h); err != nil {
		return h, err
	}
	end := h.TotalSize()
	if end > len(batch) {
		return h, &ValidationError{Err: ErrCorruptBatch, Msg: fmt.Sprintf("batch length %d exceeds the %d bytes given", end, len(batch))}
	}
	w := walker{h: h, cfg: cfg, maxTs: noTimestamp, offsetMismatch: -1}
	codec := h.Compression()
	payload := batch[BatchHeaderSize:end]
	var err error
	if codec == 0 {
		w.r = recReader{buf: payload}
		err = w.walk()
	} else {
		err = walkCompressed(&w, codec, payload)
	}
	if err != nil {
		return h, err
	}
	if len(w.recErrs) > 0 {
		if !w.tsErrs {
			return h, &ValidationError{Err: ErrInvalidRecord, Msg: fmt.Sprintf("%d records have been rejected: a compacted topic cannot accept records without a key", len(w.recErrs)), RecordErrors: w.recErrs}
		}
		return h, &ValidationError{Err: ErrInvalidTimestamp, Msg: "one or more records have been rejected due to invalid timestamp", RecordErrors: w.recErrs}
	}
	if w.offsetMismatch >= 0 && codec != 0 && !cfg.Recompress {
		return h, &ValidationError{Err: ErrUndecodableRecords, Msg: fmt.Sprintf(
			"record %d of the compressed batch has an offset delta that is not its index (Kafka 4.3.1 fails such batches while rebuilding them)", w.offsetMismatch)}
	}
	if !cfg.LogAppendTime && (h.MaxTimestamp != w.maxTs || h.Attributes&attrTimestampType != 0) {
		setMaxTimestampCreateTime(batch[:end], w.maxTs)
		h.MaxTimestamp = w.maxTs
		h.Attributes &^= attrTimestampType
		h.CRC = binary.BigEndian.Uint32(batch[offCRC:])
	}
	return h, nil
}

// validateBatchHeader applies LogValidator.validateBatch for
// AppendOrigin.CLIENT.
func validateBatchHeader(h *BatchHeader) error {
	count := int64(h.LastOffsetDelta) + 1
	switch {
	case count <= 0:
		return invalid("batch has an invalid offset range: last offset delta %d", h.LastOffsetDelta)
	case h.NumRecords <= 0:
		return invalid("invalid reported count for record batch: %d", h.NumRecords)
	case count != int64(h.NumRecords):
		return invalid("inconsistent batch offset range: last offset delta %d and count of records %d", h.LastOffsetDelta, h.NumRecords)
	case h.IsControl():
		return invalid("clients are not allowed to write control records")
	case h.ProducerID >= 0 && h.BaseSequence < 0:
		return invalid("invalid sequence number %d in record batch with producer id %d", h.BaseSequence, h.ProducerID)
	}
	return nil
}

func invalid(format string, args ...any) error {
	return &ValidationError{Err: ErrInvalidRecord, Msg: fmt.Sprintf(format, args...)}
}

func undecodable(format string, args ...any) error {
	return &ValidationError{Err: ErrUndecodableRecords, Msg: fmt.Sprintf(format, args...)}
}

// setMaxTimestampCreateTime is Kafka's DefaultRecordBatch.setMaxTimestamp
// for CreateTime: the max timestamp and the timestamp-type bit are inside
// the CRC, so it is recomputed.
func setMaxTimestampCreateTime(batch []byte, ts int64) {
	be := binary.BigEndian
	be.PutUint16(batch[offAttributes:], be.Uint16(batch[offAttributes:])&^attrTimestampType)
	be.PutUint64(batch[offMaxTimestamp:], uint64(ts))
	be.PutUint32(batch[offCRC:], crc32.Checksum(batch[offAttributes:], castagnoli))
}

// walker checks the records of one batch.
type walker struct {
	h       BatchHeader // copies: pointers would move the caller's to the heap
	cfg     ValidateConfig
	r       recReader
	maxTs   int64
	recErrs []RecordError
	// offsetMismatch is the index of the first record whose offset delta
	// is not its index, -1 if none.
	offsetMismatch int32
	keyNull        bool // the current record has a null key
	tsErrs         bool // recErrs holds a timestamp fault
}

// errTruncated is the reader running out of bytes inside a record.
var errTruncated = errors.New("premature end of records")

// errVarint is a varint longer than Kafka's ByteUtils allows (5 bytes for
// an int, 10 for a long).
var errVarint = errors.New("varint too long")

// walk reads h.NumRecords records from w.r, then requires the end of the
// records. Following DefaultRecordBatch.RecordIterator.
func (w *walker) walk() error {
	n := w.h.NumRecords
	for i := int32(0); i < n; i++ {
		if err := w.record(i); err != nil {
			return err
		}
	}
	if !w.r.atEnd() {
		if w.r.err != nil {
			return undecodable("failed to decompress the records after the last one: %v", w.r.err)
		}
		return invalid("incorrect declared batch size, records still remaining after record %d of %d", n, n)
	}
	return nil
}

// recordErr is a structural fault in record i: Kafka's
// InvalidRecordException, which carries no record_errors.
func (w *walker) recordErr(i int32, format string, args ...any) error {
	return &ValidationError{Err: ErrInvalidRecord, Msg: fmt.Sprintf("record %d: %s", i, fmt.Sprintf(format, args...))}
}

// structErr turns a reader failure inside record i into the error Kafka
// gives: InvalidRecordException ("Found invalid record structure").
func (w *walker) structErr(i int32, what string) error {
	err := w.r.err
	switch {
	case err == nil:
		err = errTruncated
	case err != errVarint:
		// The codec failed: the batch, not record i, is at fault.
		return undecodable("failed to decompress the records (at record %d, %s): %v", i, what, err)
	}
	return w.recordErr(i, "invalid record structure reading %s: %v", what, err)
}

// record checks record i: DefaultRecord.readFrom's layout and bounds,
// LogValidator's offset and timestamp rules.
func (w *walker) record(i int32) error {
	r := &w.r
	length, ok := r.varint()
	if !ok {
		return w.structErr(i, "record length")
	}
	if length <= 0 {
		return w.recordErr(i, "invalid record size %d", length)
	}
	start := r.offset()
	limit := start + int64(length)
	if c := w.cfg.MaxDecompressedBytes; c > 0 && w.h.Compression() != 0 && limit > c {
		return &ValidationError{Err: ErrMessageTooLarge, Msg: fmt.Sprintf(
			"record %d ends %d bytes into the decompressed records, beyond the %d bytes a batch may decompress to (64 x max.message.bytes)", i, limit, c)}
	}
	if r.src == nil && limit > int64(len(r.buf)) {
		return w.recordErr(i, "invalid record size: expected %d bytes in record payload, but only %d remain", length, int64(len(r.buf))-start)
	}
	if _, ok := r.byte(); !ok { // attributes: unused in v2
		return w.structErr(i, "attributes")
	}
	tsDelta, ok := r.varlong()
	if !ok {
		return w.structErr(i, "timestamp delta")
	}
	offDelta, ok := r.varint()
	if !ok {
		return w.structErr(i, "offset delta")
	}
	if offDelta != i && w.offsetMismatch < 0 {
		w.offsetMismatch = i
	}
	for k, what := range [2]string{"key", "value"} {
		n, ok := r.varint()
		if !ok {
			return w.structErr(i, what+" length")
		}
		if k == 0 {
			w.keyNull = n < 0
		}
		// Any negative length is null (Utils.readBytes).
		if n > 0 {
			if r.offset()+int64(n) > limit {
				return w.recordErr(i, "%s of %d bytes overruns the record's %d bytes", what, n, length)
			}
			if !r.skip(int64(n)) {
				return w.structErr(i, what)
			}
		}
	}
	headers, ok := r.varint()
	if !ok {
		return w.structErr(i, "header count")
	}
	if headers < 0 || int64(headers) > limit-r.offset() {
		return w.recordErr(i, "invalid number of record headers %d", headers)
	}
	for j := int32(0); j < headers; j++ {
		kl, ok := r.varint()
		if !ok {
			return w.structErr(i, "header key length")
		}
		if kl < 0 || r.offset()+int64(kl) > limit {
			return w.recordErr(i, "invalid header key size %d", kl)
		}
		if !r.skip(int64(kl)) {
			return w.structErr(i, "header key")
		}
		vl, ok := r.varint()
		if !ok {
			return w.structErr(i, "header value length")
		}
		// A negative value length is a null value (DefaultRecord.readHeaders).
		if r.offset()+int64(vl) > limit {
			return w.recordErr(i, "invalid header value size %d", vl)
		}
		if vl > 0 && !r.skip(int64(vl)) {
			return w.structErr(i, "header value")
		}
	}
	if got := r.offset() - start; got != int64(length) {
		return w.recordErr(i, "invalid record size: expected to read %d bytes in record payload, but instead read %d", length, got)
	}
	w.timestamp(i, tsDelta)
	return nil
}

// timestamp folds record i's timestamp into the max and applies
// LogValidator.validateTimestamp.
func (w *walker) timestamp(i int32, delta int64) {
	h, cfg := &w.h, &w.cfg
	if cfg.Compacted && w.keyNull {
		// LogValidator.validateKey comes first and skips the timestamp
		// check of the record.
		w.addRecErr(i, "compacted topic cannot accept a record without a key")
		return
	}
	lat := h.Attributes&attrTimestampType != 0
	ts := h.BaseTimestamp + delta // wraps like Java's long addition
	if lat {
		ts = h.MaxTimestamp
	}
	if ts > w.maxTs {
		w.maxTs = ts
	}
	if !cfg.LogAppendTime && ts != noTimestamp {
		// Kafka: now - ts > before.max.ms || ts - now > after.max.ms. The
		// differences are taken in uint64 so that no timestamp overflows.
		tooOld := ts < cfg.NowMs && (cfg.BeforeMaxMs < 0 || uint64(cfg.NowMs)-uint64(ts) > uint64(cfg.BeforeMaxMs))
		tooNew := ts > cfg.NowMs && (cfg.AfterMaxMs < 0 || uint64(ts)-uint64(cfg.NowMs) > uint64(cfg.AfterMaxMs))
		if tooOld || tooNew {
			w.tsErrs = true
			w.addRecErr(i, fmt.Sprintf("timestamp %d of record %d is out of range: it must be within [now - %d ms, now + %d ms] of %d",
				ts, i, cfg.BeforeMaxMs, cfg.AfterMaxMs, cfg.NowMs))
		}
	} else if lat {
		w.tsErrs = true
		w.addRecErr(i, "invalid timestamp type: producers must not set the timestamp type to LogAppendTime")
	}
}

func (w *walker) addRecErr(i int32, msg string) {
	if len(w.recErrs) < maxRecordErrors {
		w.recErrs = append(w.recErrs, RecordError{BatchIndex: i, Message: msg})
	}
}
