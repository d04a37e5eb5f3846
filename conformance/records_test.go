package conformance

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rec is one record of a hand-built batch.
type rec struct {
	key, value []byte
	tsDelta    int64
	headers    []kmsg.Header
}

// batchOpts are the header fields of a hand-built batch.
type batchOpts struct {
	firstTs  int64
	maxTs    *int64 // nil: computed from the records, as a client would
	codec    kgo.CompressionCodecType
	pid      int64
	epoch    int16
	seq      int32
	attrs    int16 // extra attribute bits (transactional, control)
	numDelta int32 // added to the record count in the header (to build bad batches)
}

func noProducer() batchOpts { return batchOpts{pid: -1, epoch: -1, seq: -1} }

// makeBatch builds a v2 record batch the way a producer would send it,
// compressed with o.codec by franz-go's compressor, with a correct CRC.
func makeBatch(o batchOpts, recs ...rec) []byte {
	var raw []byte
	maxTs := o.firstTs
	for i, r := range recs {
		kr := kmsg.Record{TimestampDelta64: r.tsDelta, OffsetDelta: int32(i), Key: r.key, Value: r.value, Headers: r.headers}
		body := kr.AppendTo(nil)
		kr.Length = int32(len(body) - 1)
		raw = kr.AppendTo(raw)
		maxTs = max(maxTs, o.firstTs+r.tsDelta)
	}
	if o.maxTs != nil {
		maxTs = *o.maxTs
	}
	attrs := o.attrs
	if o.codec != kgo.CodecNone {
		comp, err := kgo.DefaultCompressor(codecFor(o.codec))
		if err != nil {
			panic(err)
		}
		var buf bytes.Buffer
		out, got := comp.Compress(&buf, raw)
		if got != o.codec {
			panic(fmt.Sprintf("compressor used codec %d, want %d", got, o.codec))
		}
		raw = append([]byte(nil), out...)
		attrs |= int16(o.codec)
	}
	b := kmsg.RecordBatch{
		Magic: 2, Attributes: attrs, LastOffsetDelta: int32(len(recs) - 1), FirstTimestamp: o.firstTs, MaxTimestamp: maxTs,
		ProducerID: o.pid, ProducerEpoch: o.epoch, FirstSequence: o.seq, NumRecords: int32(len(recs)) + o.numDelta,
		PartitionLeaderEpoch: -1, Records: raw,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

func codecFor(c kgo.CompressionCodecType) kgo.CompressionCodec {
	switch c {
	case kgo.CodecGzip:
		return kgo.GzipCompression()
	case kgo.CodecSnappy:
		return kgo.SnappyCompression()
	case kgo.CodecLz4:
		return kgo.Lz4Compression()
	case kgo.CodecZstd:
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// values makes records with the given values and no keys.
func values(vs ...string) []rec {
	out := make([]rec, len(vs))
	for i, v := range vs {
		out[i] = rec{value: []byte(v)}
	}
	return out
}

// decodedBatch is a stored batch as the suite compares it: every header
// field a client reads, and the records after decompression, so that two
// brokers that compress the same records with different libraries (Java's
// and Go's gzip write different bytes) compare equal, while a different
// codec, offset, epoch or timestamp does not.
type decodedBatch struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32
	Magic                int8
	Codec                int8
	TimestampType        bool
	Transactional        bool
	Control              bool
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	FirstSequence        int32
	NumRecords           int32
	Records              []decodedRecord
	Trailing             []byte // bytes after the last whole batch
	Error                *string
}

type decodedRecord struct {
	OffsetDelta    int32
	TimestampDelta int64
	Key            []byte
	Value          []byte
	Headers        []kmsg.Header
}

var decompressor = kgo.DefaultDecompressor()

// decodeBatches splits a fetch answer's record set into decoded batches.
func decodeBatches(b []byte) []decodedBatch {
	var out []decodedBatch
	for len(b) > 0 {
		if len(b) < 61 {
			out = append(out, decodedBatch{Trailing: b})
			break
		}
		n := int(int32(binary.BigEndian.Uint32(b[8:]))) + 12
		if n < 61 || n > len(b) {
			out = append(out, decodedBatch{Trailing: b})
			break
		}
		var kb kmsg.RecordBatch
		if err := kb.ReadFrom(b[:n]); err != nil {
			msg := err.Error()
			out = append(out, decodedBatch{Error: &msg})
			break
		}
		d := decodedBatch{
			BaseOffset: kb.FirstOffset, PartitionLeaderEpoch: kb.PartitionLeaderEpoch, Magic: kb.Magic,
			Codec: int8(kb.Attributes & 7), TimestampType: kb.Attributes&8 != 0, Transactional: kb.Attributes&16 != 0,
			Control: kb.Attributes&32 != 0, LastOffsetDelta: kb.LastOffsetDelta, FirstTimestamp: kb.FirstTimestamp,
			MaxTimestamp: kb.MaxTimestamp, ProducerID: kb.ProducerID, ProducerEpoch: kb.ProducerEpoch,
			FirstSequence: kb.FirstSequence, NumRecords: kb.NumRecords,
		}
		raw, err := decompressor.Decompress(kb.Records, kgo.CompressionCodecType(d.Codec))
		if err != nil {
			msg := "decompress: " + err.Error()
			d.Error = &msg
		} else {
			for i := int32(0); i < kb.NumRecords && len(raw) > 0; i++ {
				var r kmsg.Record
				length, used := binary.Varint(raw)
				if used <= 0 || int(length) > len(raw)-used {
					msg := "bad record length"
					d.Error = &msg
					break
				}
				if err := r.ReadFrom(raw[:used+int(length)]); err != nil {
					msg := "record: " + err.Error()
					d.Error = &msg
					break
				}
				raw = raw[used+int(length):]
				d.Records = append(d.Records, decodedRecord{r.OffsetDelta, r.TimestampDelta64, r.Key, r.Value, r.Headers})
			}
		}
		out = append(out, d)
		b = b[n:]
	}
	return out
}
