package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// recReader is the byte source of the record walker: either a slice
// holding all records (uncompressed batches and raw snappy, walked in
// place) or a decompressing stream read through a small pooled buffer, so
// that a compressed batch is checked in bounded memory whatever it
// decompresses to. Nothing is allocated per record.
type recReader struct {
	buf     []byte    // unread bytes are buf[pos:]
	pos     int       //
	base    int64     // stream bytes before buf[0]
	src     io.Reader // nil: buf holds everything
	scratch []byte    // stream mode: buf's backing array
	err     error     // the stream's failure, other than io.EOF
	eof     bool      // the stream reported io.EOF
}

// offset is the number of bytes consumed so far.
func (r *recReader) offset() int64 { return r.base + int64(r.pos) }

// fill replaces the exhausted buffer with the next bytes of the stream.
func (r *recReader) fill() bool {
	if r.src == nil || r.eof || r.err != nil {
		return false
	}
	r.base += int64(len(r.buf))
	r.buf, r.pos = r.scratch[:0], 0
	for tries := 0; tries < 100; tries++ {
		n, err := r.src.Read(r.scratch[:cap(r.scratch)])
		r.buf = r.scratch[:n]
		switch {
		case err == io.EOF:
			r.eof = true
		case err != nil:
			r.err = err
			return false // bytes read with an error are not trusted
		}
		if n > 0 {
			return true
		}
		if r.eof {
			return false
		}
	}
	r.err = io.ErrNoProgress
	return false
}

func (r *recReader) byte() (byte, bool) {
	if r.pos == len(r.buf) && !r.fill() {
		return 0, false
	}
	b := r.buf[r.pos]
	r.pos++
	return b, true
}

// varint reads a zigzag int32 as Kafka's ByteUtils.readVarint: at most 5
// bytes. When 5 bytes are buffered it decodes them in place, without a
// call per byte (about 8% off the walk of 100-byte records, which read
// seven varints each; BenchmarkValidateRecords/1000x100B).
func (r *recReader) varint() (int32, bool) {
	if b := r.buf[r.pos:]; len(b) >= 5 {
		var v uint32
		for i := 0; i < 5; i++ {
			c := b[i]
			v |= uint32(c&0x7f) << (7 * i)
			if c < 0x80 {
				r.pos += i + 1
				return int32(v>>1) ^ -int32(v&1), true
			}
		}
		r.pos += 5
		r.setErr(errVarint)
		return 0, false
	}
	return r.varintSlow()
}

// varintSlow is varint across a buffer refill.
func (r *recReader) varintSlow() (int32, bool) {
	var v uint32
	for shift := uint(0); ; shift += 7 {
		b, ok := r.byte()
		if !ok {
			return 0, false
		}
		if b&0x80 == 0 {
			v |= uint32(b) << shift
			return int32(v>>1) ^ -int32(v&1), true
		}
		v |= uint32(b&0x7f) << shift
		if shift >= 28 {
			r.setErr(errVarint)
			return 0, false
		}
	}
}

// varlong reads a zigzag int64 as ByteUtils.readVarlong: at most 10
// bytes; in place when 10 are buffered, as varint.
func (r *recReader) varlong() (int64, bool) {
	if b := r.buf[r.pos:]; len(b) >= 10 {
		var v uint64
		for i := 0; i < 10; i++ {
			c := b[i]
			v |= uint64(c&0x7f) << (7 * i)
			if c < 0x80 {
				r.pos += i + 1
				return int64(v>>1) ^ -int64(v&1), true
			}
		}
		r.pos += 10
		r.setErr(errVarint)
		return 0, false
	}
	return r.varlongSlow()
}

// varlongSlow is varlong across a buffer refill.
func (r *recReader) varlongSlow() (int64, bool) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		b, ok := r.byte()
		if !ok {
			return 0, false
		}
		if b&0x80 == 0 {
			v |= uint64(b) << shift
			return int64(v>>1) ^ -int64(v&1), true
		}
		v |= uint64(b&0x7f) << shift
		if shift >= 63 {
			r.setErr(errVarint)
			return 0, false
		}
	}
}

func (r *recReader) setErr(err error) {
	if r.err == nil {
		r.err = err
	}
}

// skip consumes n bytes.
func (r *recReader) skip(n int64) bool {
	for n > 0 {
		avail := int64(len(r.buf) - r.pos)
		if avail == 0 {
			if !r.fill() {
				return false
			}
			continue
		}
		k := min(avail, n)
		r.pos += int(k)
		n -= k
	}
	return true
}

// atEnd reports whether every byte has been consumed and the stream
// ended cleanly (which, for the codecs, includes their checksums).
func (r *recReader) atEnd() bool {
	return r.pos == len(r.buf) && !r.fill() && r.err == nil
}

// streamBufSize is the window through which decompressed records are
// read.
const streamBufSize = 16 << 10

// zstdMaxWindow bounds the history a zstd frame may ask the decoder to
// keep (the reference decoder's default limit is 128 MiB); batches are
// limited by max.message.bytes, 1 MiB by default.
const zstdMaxWindow = 32 << 20

// snappyMaxRatio bounds the decoded size a snappy block may claim: a
// 3-byte copy tag yields at most 64 bytes, so no valid block expands by
// more than 64/3. The claim is checked before the output is allocated.
const snappyMaxRatio = 22

type gzipDec struct {
	src bytes.Reader
	zr  gzip.Reader
}

type lz4Dec struct {
	src bytes.Reader
	zr  *lz4.Reader
}

type zstdDec struct {
	src bytes.Reader
	zr  *zstd.Decoder
}

type xerialDec struct {
	src  []byte
	out  []byte
	pos  int
	back *readBuf
}

var (
	streamBufPool = sync.Pool{New: func() any { b := make([]byte, streamBufSize); return &b }}
	gzipPool      = sync.Pool{New: func() any { return new(gzipDec) }}
	lz4Pool       = sync.Pool{New: func() any { return &lz4Dec{zr: lz4.NewReader(nil)} }}
	zstdPool      = sync.Pool{New: func() any {
		zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			panic(fmt.Sprintf("logstore: zstd decoder options: %v", err)) // constant options
		}
		return &zstdDec{zr: zr}
	}}
	xerialPool = sync.Pool{New: func() any { return new(xerialDec) }}
)

// xerialMagic starts snappy data framed by the Java client's
// snappy-java SnappyOutputStream: the magic, a version and a minimum
// compatible version (4 bytes each), then blocks of a big-endian length
// and a raw snappy block. Other clients send one raw snappy block, which
// snappy-java's SnappyInputStream also accepts.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

var errSnappy = errors.New("snappy: corrupt input")

// snappyDecode decodes one raw snappy block into a pooled buffer, after
// checking its claimed size.
func snappyDecode(block []byte) (*readBuf, []byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return nil, nil, fmt.Errorf("snappy: %w", err)
	}
	if n > snappyMaxRatio*len(block)+32 {
		return nil, nil, fmt.Errorf("%w: block of %d bytes claims %d decoded bytes", errSnappy, len(block), n)
	}
	rb := getReadBuf(n)
	out, err := s2.Decode(rb.b, block)
	if err != nil {
		rb.put()
		return nil, nil, fmt.Errorf("snappy: %w", err)
	}
	return rb, out, nil
}

func (x *xerialDec) Read(p []byte) (int, error) {
	for x.pos == len(x.out) {
		if x.back != nil {
			x.back.put()
			x.back, x.out, x.pos = nil, nil, 0
		}
		if len(x.src) == 0 {
			return 0, io.EOF
		}
		if len(x.src) < 4 {
			return 0, fmt.Errorf("%w: truncated xerial block length", errSnappy)
		}
		size := binary.BigEndian.Uint32(x.src)
		x.src = x.src[4:]
		if uint64(size) > uint64(len(x.src)) {
			return 0, fmt.Errorf("%w: xerial block of %d bytes, %d left", errSnappy, size, len(x.src))
		}
		rb, out, err := snappyDecode(x.src[:size])
		if err != nil {
			return 0, err
		}
		x.src = x.src[size:]
		x.back, x.out = rb, out
	}
	n := copy(p, x.out[x.pos:])
	x.pos += n
	return n, nil
}

func (x *xerialDec) release() {
	if x.back != nil {
		x.back.put()
	}
	*x = xerialDec{}
	xerialPool.Put(x)
}

// walkCompressed walks the records of a compressed batch, Kafka's
// DefaultRecordBatch.compressedIterator. A payload the codec cannot
// decompress, or an unknown codec id, is ErrUndecodableRecords: Kafka
// fails such batches with a KafkaException or IllegalArgumentException
// (UNKNOWN_SERVER_ERROR).
func walkCompressed(w *walker, codec int, payload []byte) error {
	var src recSource
	defer src.release()
	r, err := src.open(codec, payload)
	if err != nil {
		return err
	}
	w.r = r
	return w.walk()
}

// recSource holds the pooled decoder of one batch's records while they
// are read; release returns everything to the pools.
type recSource struct {
	gz   *gzipDec
	lz   *lz4Dec
	zs   *zstdDec
	xe   *xerialDec
	snap *readBuf
	sb   *[]byte
}

// open returns a reader of the uncompressed records of a payload in
// codec (0 reads payload in place).
func (s *recSource) open(codec int, payload []byte) (recReader, error) {
	var src io.Reader
	switch codec {
	case 0:
		return recReader{buf: payload}, nil
	case 1: // gzip
		d := gzipPool.Get().(*gzipDec)
		s.gz = d
		d.src.Reset(payload)
		if err := d.zr.Reset(&d.src); err != nil {
			return recReader{}, undecodable("failed to decompress gzip record batch: %v", err)
		}
		d.zr.Multistream(true)
		src = &d.zr
	case 2: // snappy
		if len(payload) >= xerialHeaderLen && bytes.HasPrefix(payload, xerialMagic) {
			d := xerialPool.Get().(*xerialDec)
			s.xe = d
			d.src = payload[xerialHeaderLen:]
			src = d
			break
		}
		rb, out, err := snappyDecode(payload)
		if err != nil {
			return recReader{}, undecodable("failed to decompress snappy record batch: %v", err)
		}
		s.snap = rb
		return recReader{buf: out}, nil
	case 3: // lz4 frame
		d := lz4Pool.Get().(*lz4Dec)
		s.lz = d
		d.src.Reset(payload)
		d.zr.Reset(&d.src)
		src = d.zr
	case 4: // zstd
		d := zstdPool.Get().(*zstdDec)
		s.zs = d
		d.src.Reset(payload)
		if err := d.zr.Reset(&d.src); err != nil {
			return recReader{}, undecodable("failed to decompress zstd record batch: %v", err)
		}
		src = d.zr
	default:
		return recReader{}, undecodable("unknown compression type id %d", codec)
	}
	s.sb = streamBufPool.Get().(*[]byte)
	return recReader{src: src, scratch: (*s.sb)[:0:streamBufSize]}, nil
}

func (s *recSource) release() {
	if d := s.gz; d != nil {
		d.src.Reset(nil)
		gzipPool.Put(d)
	}
	if d := s.lz; d != nil {
		d.src.Reset(nil)
		d.zr.Reset(nil)
		lz4Pool.Put(d)
	}
	if d := s.zs; d != nil {
		d.src.Reset(nil)
		_ = d.zr.Reset(nil)
		zstdPool.Put(d)
	}
	if s.xe != nil {
		s.xe.release()
	}
	if s.snap != nil {
		s.snap.put()
	}
	if s.sb != nil {
		streamBufPool.Put(s.sb)
	}
	*s = recSource{}
}
