package logstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression levels of a topic (compression.gzip.level,
// compression.lz4.level, compression.zstd.level, KIP-390), applied when
// Recompress writes that codec.
type CompressionLevels struct {
	// Gzip is 1-9, or -1 for the library default (6, as Java's).
	Gzip int
	// LZ4 is Kafka's 1-17: 1 is lz4's fast mode, 2-9 its high-compression
	// levels; levels above 9 are applied as 9 (the Go library's highest).
	LZ4 int
	// Zstd is zstd's level; klauspost/compress maps it onto its four
	// encoder speeds (zstd.EncoderLevelFromZstd).
	Zstd int
}

// DefaultCompressionLevels are Kafka's defaults.
var DefaultCompressionLevels = CompressionLevels{Gzip: -1, LZ4: 9, Zstd: 3}

// Rebuilt is a batch Recompress produced, in a pooled buffer. Release
// returns the buffer; Bytes must not be used afterwards.
type Rebuilt struct {
	Bytes  []byte
	Header BatchHeader
	out    *outBuf
}

// Release returns the batch's buffer to the pool.
func (r *Rebuilt) Release() {
	if r.out != nil {
		putOutBuf(r.out)
		r.out, r.Bytes = nil, nil
	}
}

// Recompress rebuilds a batch ValidateRecords accepted in codec target
// (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd), as Kafka's LogValidator
// does when the topic's compression.type differs from the batch's codec
// (buildRecordsAndAssignOffsets with a MemoryRecordsBuilder): the records
// get offset deltas 0..n-1, attributes 0, timestamps relative to the
// first record's (which becomes the base timestamp), null for any
// negative key, value or header value length; the header keeps the
// producer id, epoch, base sequence and the transactional flag, takes
// CreateTime with the records' max timestamp, and gets a new length,
// codec and CRC. LogAppendTime topics are stamped afterwards by Append.
//
// The records are streamed from the decompressor through a pooled
// staging buffer (one record) into a pooled compressor writing into a
// pooled output buffer, and nothing is allocated per record. Snappy is
// written xerial-framed in 32 KiB blocks, as Kafka's (snappy-java) output
// is.
//
// maxBytes (max.message.bytes; <= 0: no limit) bounds the memory: the
// rebuild stops with ErrMessageTooLarge as soon as the output passes
// maxBytes (UnifiedLog.append refuses a recompressed batch larger than
// max.message.bytes with RecordTooLargeException, MESSAGE_TOO_LARGE, but
// only after building it), or when a record's declared length is above
// maxBytes, before that record is staged. The second rule is Samsa's:
// Kafka would rebuild such a record (a very compressible value) and
// accept the batch if it compressed below the limit, at the cost of
// holding the whole record in memory. With it, one call holds at most
// about 2 × maxBytes plus the codecs' windows, whatever the batch
// decompresses to.
func Recompress(batch []byte, h BatchHeader, target int, lv CompressionLevels, maxBytes int) (*Rebuilt, error) {
	if target < 0 || target > 4 {
		return nil, fmt.Errorf("logstore: recompress to unknown codec %d", target)
	}
	var src recSource
	defer src.release()
	r, err := src.open(h.Compression(), batch[BatchHeaderSize:h.TotalSize()])
	if err != nil {
		return nil, err
	}
	out := getOutBuf(len(batch) * 2)
	out.b = append(out.b[:0], batch[:BatchHeaderSize]...)
	var cw compWriter
	w, err := cw.open(target, lv, out)
	if err != nil {
		putOutBuf(out)
		return nil, err
	}
	stage := getOutBuf(4 << 10)
	defer putOutBuf(stage)
	var lenBuf [binary.MaxVarintLen64]byte
	firstTs, maxTs := int64(noTimestamp), int64(noTimestamp)
	lat := h.Attributes&attrTimestampType != 0
	for i := int32(0); i < h.NumRecords; i++ {
		rec, ts, err := restage(&r, stage, i, &firstTs, h, lat, maxBytes)
		if err != nil {
			cw.abort()
			putOutBuf(out)
			return nil, fmt.Errorf("logstore: recompressing record %d: %w", i, err)
		}
		maxTs = max(maxTs, ts)
		n := binary.PutVarint(lenBuf[:], int64(len(rec)))
		if _, err := w.Write(lenBuf[:n]); err == nil {
			_, err = w.Write(rec)
		}
		if err == nil && maxBytes > 0 && len(out.b) > maxBytes {
			err = &ValidationError{Err: ErrMessageTooLarge, Msg: fmt.Sprintf(
				"the batch rebuilt for compression.type passes max.message.bytes %d at record %d of %d", maxBytes, i, h.NumRecords)}
		}
		if err != nil {
			cw.abort()
			putOutBuf(out)
			return nil, fmt.Errorf("logstore: compressing: %w", err)
		}
	}
	if err := cw.close(); err != nil {
		putOutBuf(out)
		return nil, fmt.Errorf("logstore: compressing: %w", err)
	}
	if maxBytes > 0 && len(out.b) > maxBytes {
		n := len(out.b)
		putOutBuf(out)
		return nil, &ValidationError{Err: ErrMessageTooLarge, Msg: fmt.Sprintf(
			"the batch rebuilt for compression.type is %d bytes, above max.message.bytes %d", n, maxBytes)}
	}
	b := out.b
	be := binary.BigEndian
	nh := h
	nh.Length = int32(len(b) - batchLengthOverhead)
	nh.Attributes = h.Attributes&^(attrCompressionMask|attrTimestampType) | int16(target)
	nh.LastOffsetDelta = h.NumRecords - 1
	nh.BaseTimestamp, nh.MaxTimestamp = firstTs, maxTs
	be.PutUint32(b[offLength:], uint32(nh.Length))
	be.PutUint16(b[offAttributes:], uint16(nh.Attributes))
	be.PutUint32(b[offLastOffsetDelta:], uint32(nh.LastOffsetDelta))
	be.PutUint64(b[offBaseTimestamp:], uint64(firstTs))
	be.PutUint64(b[offMaxTimestamp:], uint64(maxTs))
	nh.CRC = crc32.Checksum(b[offAttributes:], castagnoli)
	be.PutUint32(b[offCRC:], nh.CRC)
	return &Rebuilt{Bytes: b, Header: nh, out: out}, nil
}

// restage reads record i from r and writes its rebuilt body (without the
// length prefix) into stage, returning the body and the record's
// timestamp. The first record's timestamp becomes the base (*firstTs). A
// record declaring more than maxBytes (> 0) is refused before anything is
// copied.
func restage(r *recReader, stage *outBuf, i int32, firstTs *int64, h BatchHeader, lat bool, maxBytes int) ([]byte, int64, error) {
	length, ok := r.varint()
	if !ok || length < 0 {
		return nil, 0, errTruncated
	}
	if maxBytes > 0 && int64(length) > int64(maxBytes) {
		return nil, 0, &ValidationError{Err: ErrMessageTooLarge, Msg: fmt.Sprintf(
			"record %d of %d bytes is larger than max.message.bytes %d", i, length, maxBytes)}
	}
	if _, ok := r.byte(); !ok {
		return nil, 0, errTruncated
	}
	tsDelta, ok := r.varlong()
	if !ok {
		return nil, 0, errTruncated
	}
	if _, ok := r.varint(); !ok { // offset delta: rewritten
		return nil, 0, errTruncated
	}
	ts := h.BaseTimestamp + tsDelta
	if lat {
		ts = h.MaxTimestamp
	}
	if i == 0 {
		*firstTs = ts
	}
	b := append(stage.b[:0], 0) // attributes
	b = binary.AppendVarint(b, ts-*firstTs)
	b = binary.AppendVarint(b, int64(i))
	var err error
	for k := 0; k < 2; k++ { // key, value
		if b, err = copyBytes(r, b); err != nil {
			return nil, 0, err
		}
	}
	headers, ok := r.varint()
	if !ok || headers < 0 {
		return nil, 0, errTruncated
	}
	b = binary.AppendVarint(b, int64(headers))
	for j := int32(0); j < headers; j++ {
		for k := 0; k < 2; k++ { // header key, value
			if b, err = copyBytes(r, b); err != nil {
				return nil, 0, err
			}
		}
	}
	stage.b = b
	return b, ts, nil
}

// copyBytes copies one length-prefixed field (negative length: null,
// written as -1) from r to b.
func copyBytes(r *recReader, b []byte) ([]byte, error) {
	n, ok := r.varint()
	if !ok {
		return b, errTruncated
	}
	if n < 0 {
		return binary.AppendVarint(b, -1), nil
	}
	b = binary.AppendVarint(b, int64(n))
	for n > 0 {
		if r.pos == len(r.buf) && !r.fill() {
			return b, errTruncated
		}
		k := min(int(n), len(r.buf)-r.pos)
		b = append(b, r.buf[r.pos:r.pos+k]...)
		r.pos += k
		n -= int32(k)
	}
	return b, nil
}

// outBuf is a growable pooled byte buffer; it is the io.Writer the
// compressors write into.
type outBuf struct{ b []byte }

func (o *outBuf) Write(p []byte) (int, error) {
	o.b = append(o.b, p...)
	return len(p), nil
}

var outBufPool sync.Pool

// maxPooledOut keeps very large buffers out of the pool.
const maxPooledOut = 16 << 20

func getOutBuf(hint int) *outBuf {
	if v := outBufPool.Get(); v != nil {
		o := v.(*outBuf)
		o.b = o.b[:0]
		return o
	}
	return &outBuf{b: make([]byte, 0, max(hint, 4<<10))}
}

func putOutBuf(o *outBuf) {
	if cap(o.b) <= maxPooledOut {
		outBufPool.Put(o)
	}
}

// compWriter is the pooled compressor of one Recompress call.
type compWriter struct {
	w    io.Writer
	gz   *gzip.Writer
	gzL  int
	lz   *lz4.Writer
	lzL  int
	zs   *zstd.Encoder
	zsL  int
	sn   *xerialWriter
	done bool
}

var (
	gzipWriterPools [10]sync.Pool // by level 0..9; index 0 holds -1 (default)
	lz4WriterPools  [10]sync.Pool // by Kafka level 1..9
	zstdEncoderPool sync.Map      // zstd.EncoderLevel -> *sync.Pool
	xerialPoolW     = sync.Pool{New: func() any { return new(xerialWriter) }}
)

func gzipIndex(level int) int {
	if level < 1 || level > 9 {
		return 0
	}
	return level
}

func lz4Index(level int) int { return min(max(level, 1), 9) }

var lz4Levels = [10]lz4.CompressionLevel{lz4.Fast, lz4.Fast, lz4.Level2, lz4.Level3, lz4.Level4, lz4.Level5, lz4.Level6, lz4.Level7, lz4.Level8, lz4.Level9}

func (c *compWriter) open(codec int, lv CompressionLevels, dst io.Writer) (io.Writer, error) {
	switch codec {
	case 0:
		c.w = dst
	case 1:
		c.gzL = gzipIndex(lv.Gzip)
		if v := gzipWriterPools[c.gzL].Get(); v != nil {
			c.gz = v.(*gzip.Writer)
			c.gz.Reset(dst)
		} else {
			level := lv.Gzip
			if c.gzL == 0 {
				level = gzip.DefaultCompression
			}
			zw, err := gzip.NewWriterLevel(dst, level)
			if err != nil {
				return nil, fmt.Errorf("gzip level %d: %w", lv.Gzip, err)
			}
			c.gz = zw
		}
		c.w = c.gz
	case 2:
		c.sn = xerialPoolW.Get().(*xerialWriter)
		c.sn.reset(dst)
		c.w = c.sn
	case 3:
		c.lzL = lz4Index(lv.LZ4)
		if v := lz4WriterPools[c.lzL].Get(); v != nil {
			c.lz = v.(*lz4.Writer)
			c.lz.Reset(dst)
		} else {
			c.lz = lz4.NewWriter(dst)
			if err := c.lz.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.CompressionLevelOption(lz4Levels[c.lzL]), lz4.ConcurrencyOption(1)); err != nil {
				return nil, fmt.Errorf("lz4 level %d: %w", lv.LZ4, err)
			}
		}
		c.w = c.lz
	case 4:
		level := zstd.EncoderLevelFromZstd(lv.Zstd)
		c.zsL = int(level)
		pv, _ := zstdEncoderPool.LoadOrStore(level, new(sync.Pool))
		if v := pv.(*sync.Pool).Get(); v != nil {
			c.zs = v.(*zstd.Encoder)
			c.zs.Reset(dst)
		} else {
			zw, err := zstd.NewWriter(dst, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
			if err != nil {
				return nil, fmt.Errorf("zstd level %d: %w", lv.Zstd, err)
			}
			c.zs = zw
		}
		c.w = c.zs
	}
	return c.w, nil
}

// close flushes the codec's trailer and returns the compressor to its
// pool.
func (c *compWriter) close() error {
	var err error
	switch {
	case c.gz != nil:
		err = c.gz.Close()
	case c.lz != nil:
		err = c.lz.Close()
	case c.zs != nil:
		err = c.zs.Close()
	case c.sn != nil:
		err = c.sn.close()
	}
	c.release()
	return err
}

// abort returns the compressor without finishing the stream.
func (c *compWriter) abort() {
	switch {
	case c.gz != nil:
		c.gz.Reset(io.Discard)
	case c.lz != nil:
		_ = c.lz.Close()
	case c.zs != nil:
		_ = c.zs.Close()
	}
	c.release()
}

func (c *compWriter) release() {
	if c.done {
		return
	}
	c.done = true
	switch {
	case c.gz != nil:
		c.gz.Reset(io.Discard)
		gzipWriterPools[c.gzL].Put(c.gz)
	case c.lz != nil:
		c.lz.Reset(nil)
		lz4WriterPools[c.lzL].Put(c.lz)
	case c.zs != nil:
		c.zs.Reset(nil)
		if pv, ok := zstdEncoderPool.Load(zstd.EncoderLevel(c.zsL)); ok {
			pv.(*sync.Pool).Put(c.zs)
		}
	case c.sn != nil:
		c.sn.dst = nil
		xerialPoolW.Put(c.sn)
	}
}

// xerialBlock is snappy-java's default block size.
const xerialBlock = 32 << 10

// xerialHeader is snappy-java's stream header: magic, version 1,
// compatible version 1.
var xerialHeader = append(append([]byte(nil), xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1)

// xerialWriter writes snappy-java's framing (SnappyOutputStream): the
// header, then blocks of a big-endian length and a raw snappy block.
type xerialWriter struct {
	dst     io.Writer
	block   []byte
	enc     []byte
	started bool
}

func (x *xerialWriter) reset(dst io.Writer) {
	x.dst, x.block, x.started = dst, x.block[:0], false
}

func (x *xerialWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if x.block == nil {
			x.block = make([]byte, 0, xerialBlock)
		}
		k := min(len(p), xerialBlock-len(x.block))
		x.block = append(x.block, p[:k]...)
		p = p[k:]
		if len(x.block) == xerialBlock {
			if err := x.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (x *xerialWriter) flush() error {
	if !x.started {
		if _, err := x.dst.Write(xerialHeader); err != nil {
			return err
		}
		x.started = true
	}
	if len(x.block) == 0 {
		return nil
	}
	need := s2.MaxEncodedLen(len(x.block))
	if cap(x.enc) < need+4 {
		x.enc = make([]byte, need+4)
	}
	enc := s2.EncodeSnappy(x.enc[4:need+4], x.block)
	binary.BigEndian.PutUint32(x.enc, uint32(len(enc)))
	x.block = x.block[:0]
	_, err := x.dst.Write(x.enc[:4+len(enc)])
	return err
}

func (x *xerialWriter) close() error { return x.flush() }
