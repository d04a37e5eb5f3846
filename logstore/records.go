package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
)

// This file walks the records of stored batches (the cleaner, ListOffsets
// by timestamp, the coordinators' replay) through the validator's
// streaming reader (recReader): a compressed batch is read through a
// 16 KiB window whatever it decompresses to, and only what the caller
// keeps is copied. Batches stored before produce refused batches that
// decompress beyond MaxDecompressedBatchBytes may hold records of any
// size; they cost streaming time, not memory.

// storedRec is where one record of a stored batch lies in the
// decompressed records and the fields the readers need.
type storedRec struct {
	start, end  int64 // stream offsets of the record, length prefix included
	offsetDelta int32
	tsDelta     int64
	keyNull     bool
	valueNull   bool
}

// keyHasher hashes a record's key as it streams by: the two 128-bit-map
// hashes of offsetMap.hash, computed in chunks (maphash.Hash fed in parts
// equals maphash.Bytes of the whole).
type keyHasher struct{ a, b maphash.Hash }

// badStored is errBadRecord with the reader's codec failure, if any.
func badStored(r *recReader, what string) error {
	if r.err != nil && r.err != errVarint {
		return fmt.Errorf("%w: %s: decompressing: %v", errBadRecord, what, r.err)
	}
	return fmt.Errorf("%w: %s", errBadRecord, what)
}

// readStored reads the record at r (Kafka's DefaultRecord layout: length
// varint, attributes, timestamp delta varlong, offset delta varint, key,
// value, headers) into rec, feeding the key to kh when kh is not nil, and
// leaves r after the record. Value and headers are skipped, not copied.
func readStored(r *recReader, rec *storedRec, kh *keyHasher) error {
	rec.start = r.offset()
	length, ok := r.varint()
	if !ok || length <= 0 {
		return badStored(r, "record length")
	}
	rec.end = r.offset() + int64(length)
	if _, ok := r.byte(); !ok {
		return badStored(r, "attributes")
	}
	if rec.tsDelta, ok = r.varlong(); !ok {
		return badStored(r, "timestamp delta")
	}
	if rec.offsetDelta, ok = r.varint(); !ok || rec.offsetDelta < 0 {
		return badStored(r, "offset delta")
	}
	kl, ok := r.varint()
	if !ok {
		return badStored(r, "key length")
	}
	rec.keyNull = kl < 0
	if kl > 0 {
		if r.offset()+int64(kl) > rec.end {
			return badStored(r, "key overruns the record")
		}
		if kh == nil {
			if !r.skip(int64(kl)) {
				return badStored(r, "key")
			}
		} else {
			for n := int(kl); n > 0; {
				if r.pos == len(r.buf) && !r.fill() {
					return badStored(r, "key")
				}
				k := min(n, len(r.buf)-r.pos)
				_, _ = kh.a.Write(r.buf[r.pos : r.pos+k])
				_, _ = kh.b.Write(r.buf[r.pos : r.pos+k])
				r.pos += k
				n -= k
			}
		}
	}
	vl, ok := r.varint()
	if !ok {
		return badStored(r, "value length")
	}
	rec.valueNull = vl < 0
	if rest := rec.end - r.offset(); rest < 0 || int64(vl) > rest {
		return badStored(r, "value overruns the record")
	} else if !r.skip(rest) {
		return badStored(r, "record body")
	}
	return nil
}

// copyStream writes the n bytes at r to w in the reader's window-sized
// chunks.
func copyStream(r *recReader, w interface{ Write([]byte) (int, error) }, n int64) error {
	for n > 0 {
		if r.pos == len(r.buf) && !r.fill() {
			return badStored(r, "kept record")
		}
		k := int(min(n, int64(len(r.buf)-r.pos)))
		if _, err := w.Write(r.buf[r.pos : r.pos+k]); err != nil {
			return err
		}
		r.pos += k
		n -= int64(k)
	}
	return nil
}

// StoredRecord is one record of a stored batch as ScanRecords gives it.
type StoredRecord struct {
	// OffsetDelta and TimestampDelta are the record's own deltas, as
	// stored (a compacted batch keeps gaps in its offset deltas).
	OffsetDelta    int32
	TimestampDelta int64
	// Raw is the whole record, length prefix included, when ScanRecords
	// was asked to copy records; nil otherwise. It is valid until fn
	// returns.
	Raw []byte
}

// ErrStopScan, returned by a ScanRecords callback, ends the walk without
// an error.
var ErrStopScan = errors.New("logstore: stop scanning records")

// ScanRecords calls fn for every record of a stored batch (h parsed from
// batch, any codec), in order, reading a compressed batch through a
// pooled 16 KiB window (Kafka's DefaultRecordBatch.streamingIterator).
// With maxRecordBytes <= 0 the records are only parsed and Raw is nil:
// memory stays constant whatever the batch decompresses to. With
// maxRecordBytes > 0 each record is copied into a pooled buffer for fn,
// and a record declaring more than maxRecordBytes stops the walk with
// ErrMessageTooLarge before anything is copied. A malformed record or a
// codec failure is an error naming the batch's base offset; fn's error is
// returned as is (ErrStopScan: nil).
func ScanRecords(batch []byte, h BatchHeader, maxRecordBytes int, fn func(StoredRecord) error) error {
	end := h.TotalSize()
	if end < BatchHeaderSize || end > len(batch) {
		return fmt.Errorf("logstore: batch at offset %d: length %d outside the %d bytes given: %w", h.BaseOffset, end, len(batch), ErrCorruptBatch)
	}
	var src recSource
	defer src.release()
	r, err := src.open(h.Compression(), batch[BatchHeaderSize:end])
	if err != nil {
		return fmt.Errorf("logstore: batch at offset %d: %w", h.BaseOffset, err)
	}
	var buf *outBuf
	if maxRecordBytes > 0 {
		buf = getOutBuf(4 << 10)
		defer putOutBuf(buf)
	}
	var rec storedRec
	for i := int32(0); i < h.NumRecords; i++ {
		var sr StoredRecord
		if buf == nil {
			err = readStored(&r, &rec, nil)
			sr.OffsetDelta, sr.TimestampDelta = rec.offsetDelta, rec.tsDelta
		} else {
			sr, err = copyRecord(&r, buf, maxRecordBytes)
		}
		if err != nil {
			return fmt.Errorf("logstore: batch at offset %d, record %d: %w", h.BaseOffset, i, err)
		}
		if err := fn(sr); err != nil {
			if err == ErrStopScan {
				return nil
			}
			return err
		}
	}
	return nil
}

// copyRecord copies the record at r, length prefix included, into buf
// and reads its deltas.
func copyRecord(r *recReader, buf *outBuf, maxRecordBytes int) (StoredRecord, error) {
	var sr StoredRecord
	length, ok := r.varint()
	if !ok || length <= 0 {
		return sr, badStored(r, "record length")
	}
	if int64(length) > int64(maxRecordBytes) {
		return sr, &ValidationError{Err: ErrMessageTooLarge, Msg: fmt.Sprintf("record of %d bytes is above the %d bytes allowed here", length, maxRecordBytes)}
	}
	buf.b = binary.AppendVarint(buf.b[:0], int64(length))
	hdr := len(buf.b)
	if err := copyStream(r, buf, int64(length)); err != nil {
		return sr, err
	}
	body := buf.b[hdr:]
	p := 1 // attributes
	ts, n := binary.Varint(body[p:])
	if n <= 0 {
		return sr, badStored(r, "timestamp delta")
	}
	p += n
	od, n := binary.Varint(body[p:])
	if n <= 0 || od < 0 || od > 1<<31-1 {
		return sr, badStored(r, "offset delta")
	}
	sr.OffsetDelta, sr.TimestampDelta, sr.Raw = int32(od), ts, buf.b
	return sr, nil
}
