// Package batchtest builds Kafka v2 record batches byte by byte for tests,
// including the malformed ones no client library will produce: wrong
// counts, bad lengths, foreign codecs, payloads that are not what the
// codec says. Every batch gets a correct CRC-32C, so a broker has to look
// at the records to find what is wrong.
package batchtest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec ids of the batch attributes (Kafka's CompressionType).
const (
	None   = 0
	Gzip   = 1
	Snappy = 2
	LZ4    = 3
	Zstd   = 4
	// Xerial is snappy framed as the Java client frames it; it is
	// written with codec id 2.
	Xerial = 0x102
)

// Header is a record header; a nil Key is written with length -1.
type Header struct {
	Key, Value []byte
	ValueLen   *int32 // when non-nil, replaces the encoded value length
}

// Record describes one v2 record. Lengths left at 0 are derived from the
// data (nil: -1); set KeyLen/ValueLen/LengthDelta to lie.
type Record struct {
	TimestampDelta int64
	OffsetDelta    int32
	Key, Value     []byte
	Headers        []Header
	// KeyLen / ValueLen, when non-nil, replace the encoded lengths.
	KeyLen, ValueLen *int32
	// HeaderCount, when non-nil, replaces the encoded header count.
	HeaderCount *int32
	// LengthDelta is added to the record's length prefix.
	LengthDelta int
}

// Int32 returns a pointer to v, for the override fields.
func Int32(v int32) *int32 { return &v }

func appendBytes(b []byte, v []byte, override *int32) []byte {
	switch {
	case override != nil:
		b = binary.AppendVarint(b, int64(*override))
	case v == nil:
		b = binary.AppendVarint(b, -1)
	default:
		b = binary.AppendVarint(b, int64(len(v)))
	}
	return append(b, v...)
}

// Encode appends r in Kafka's DefaultRecord layout.
func (r Record) Encode(dst []byte) []byte {
	body := []byte{0} // attributes
	body = binary.AppendVarint(body, r.TimestampDelta)
	body = binary.AppendVarint(body, int64(r.OffsetDelta))
	body = appendBytes(body, r.Key, r.KeyLen)
	body = appendBytes(body, r.Value, r.ValueLen)
	if r.HeaderCount != nil {
		body = binary.AppendVarint(body, int64(*r.HeaderCount))
	} else {
		body = binary.AppendVarint(body, int64(len(r.Headers)))
	}
	for _, h := range r.Headers {
		body = appendBytes(body, h.Key, nil)
		body = appendBytes(body, h.Value, h.ValueLen)
	}
	dst = binary.AppendVarint(dst, int64(len(body)+r.LengthDelta))
	return append(dst, body...)
}

// Batch describes a v2 batch. Zero values give a plain producer batch:
// count and last offset delta from the records, no producer id.
type Batch struct {
	Records         []Record
	Codec           int // None..Zstd, Xerial, or any id to write as is
	Attributes      int16
	BaseOffset      int64
	BaseTimestamp   int64
	MaxTimestamp    int64
	NumRecords      *int32
	LastOffsetDelta *int32
	ProducerID      int64 // 0 means -1
	ProducerEpoch   int16
	BaseSequence    int32
	HasProducer     bool
	// Payload, when non-nil, replaces the (compressed) records.
	Payload []byte
	// Trailing is appended to the uncompressed records before compression.
	Trailing []byte
}

// RawRecords returns the uncompressed record bytes of b.
func (b Batch) RawRecords() []byte {
	var recs []byte
	for _, r := range b.Records {
		recs = r.Encode(recs)
	}
	return append(recs, b.Trailing...)
}

// Compress compresses raw with codec as a Kafka client would.
func Compress(codec int, raw []byte) []byte {
	var out bytes.Buffer
	switch codec {
	case Gzip:
		w := gzip.NewWriter(&out)
		w.Write(raw)
		w.Close()
	case Snappy:
		return s2.EncodeSnappy(nil, raw)
	case Xerial:
		out.Write([]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1})
		for len(raw) > 0 {
			n := min(len(raw), 32<<10)
			blk := s2.EncodeSnappy(nil, raw[:n])
			out.Write(binary.BigEndian.AppendUint32(nil, uint32(len(blk))))
			out.Write(blk)
			raw = raw[n:]
		}
	case LZ4:
		w := lz4.NewWriter(&out)
		w.Write(raw)
		w.Close()
	case Zstd:
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		return enc.EncodeAll(raw, nil)
	default:
		return raw
	}
	return out.Bytes()
}

// Bytes encodes b with a valid CRC.
func (b Batch) Bytes() []byte {
	payload := b.Payload
	if payload == nil {
		payload = Compress(b.Codec, b.RawRecords())
	}
	count := int32(len(b.Records))
	if b.NumRecords != nil {
		count = *b.NumRecords
	}
	lod := count - 1
	if b.LastOffsetDelta != nil {
		lod = *b.LastOffsetDelta
	}
	pid, epoch, seq := int64(-1), int16(-1), int32(-1)
	if b.HasProducer {
		pid, epoch, seq = b.ProducerID, b.ProducerEpoch, b.BaseSequence
	}
	attrs := b.Attributes | int16(b.Codec&0x07)
	be := binary.BigEndian
	out := be.AppendUint64(nil, uint64(b.BaseOffset))
	out = be.AppendUint32(out, uint32(61-12+len(payload)))
	out = be.AppendUint32(out, 0xffffffff) // partition leader epoch -1
	out = append(out, 2)
	out = be.AppendUint32(out, 0) // CRC, below
	out = be.AppendUint16(out, uint16(attrs))
	out = be.AppendUint32(out, uint32(lod))
	out = be.AppendUint64(out, uint64(b.BaseTimestamp))
	out = be.AppendUint64(out, uint64(b.MaxTimestamp))
	out = be.AppendUint64(out, uint64(pid))
	out = be.AppendUint16(out, uint16(epoch))
	out = be.AppendUint32(out, uint32(seq))
	out = be.AppendUint32(out, uint32(count))
	out = append(out, payload...)
	be.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// Simple returns n records with valueSize-byte values, one header and timestamp deltas
// 0..n-1.
func Simple(n, valueSize int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{TimestampDelta: int64(i), OffsetDelta: int32(i), Key: []byte{'k', byte('0' + i%10)},
			Value: bytes.Repeat([]byte{byte('a' + i%26)}, valueSize), Headers: []Header{{Key: []byte("h"), Value: []byte("v")}}}
	}
	return recs
}
