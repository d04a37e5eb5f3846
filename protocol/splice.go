package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Zero-copy Fetch responses.
//
// Kafka sends a fetch response's record bytes with sendfile from the page
// cache (FileRecords.writeTo via TransportLayer.transferFrom); the rest of
// the response is encoded in the heap. Samsa does the same without a
// hand-written codec for the body: the handler puts a marker in place of
// each partition's records (Request.SpliceRecords), kmsg encodes the
// response, and spliceResponse finds the markers in order and cuts the
// encoded bytes there. The response becomes a list of pieces, encoded
// bytes and file ranges; the only bytes written by hand are each records
// field's length prefix (int32 for Fetch v4-v11, compact bytes
// uvarint(len+1) for the flexible v12+). The write loop sends byte pieces
// with writev and file pieces with sendfile(2) (write.go, sendfile_linux.go).

// FileRange is a piece of a response taken from a file when the response
// is written: Len bytes at Pos of File. File is a segment file; when it
// also has a descriptor (an Fd() uintptr method, as *os.File) and the
// connection is plain TCP, the bytes go with sendfile, otherwise they are
// read with ReadAt into a pooled buffer. Release, when set, is called once the range has
// been written or dropped (logstore keeps the segment open until then).
//
// A range may instead be bytes already in memory (Bytes set, Len their
// length, File unused): records a read_committed read filtered in
// memory. They go out in the writev of the bytes around them, without
// being copied into the encoded response first.
type FileRange struct {
	File    io.ReaderAt
	Pos     int64
	Len     int64
	Bytes   []byte
	Release func()
}

// markerLen is the size of the stand-in for a partition's records: an
// 8-byte nonce drawn per response and the 8-byte index of the range.
const markerLen = 16

// splicer is the file ranges a handler attached to one response.
type splicer struct {
	nonce   [8]byte
	markers []byte // markerLen bytes per range, in order
	ranges  []FileRange
	used    []bool
}

var splicerPool = sync.Pool{New: func() any { return new(splicer) }}

// SpliceRecords attaches fr to r's response and returns the bytes a
// handler puts in the FetchResponse partition's RecordBatches in its
// place: they are replaced by fr's bytes, with the right length prefix,
// when the response is written. The marker is unique to this response (a
// random nonce), so no other bytes of the response can be taken for it.
// Ranges whose marker does not end up in the encoded response (a partition
// filtered out, another response sent) are released unsent.
func (r *Request) SpliceRecords(fr FileRange) []byte {
	s := r.splice
	if s == nil {
		s = splicerPool.Get().(*splicer)
		binary.LittleEndian.PutUint64(s.nonce[:], rand.Uint64())
		r.splice = s
	}
	i := len(s.ranges)
	s.ranges = append(s.ranges, fr)
	start := len(s.markers)
	s.markers = append(s.markers, s.nonce[:]...)
	s.markers = binary.BigEndian.AppendUint64(s.markers, uint64(i))
	return s.markers[start : start+markerLen : start+markerLen]
}

// DropSplices releases every range attached with SpliceRecords: the
// handler builds another response (a long poll's retry, a throttled
// empty answer).
func (r *Request) DropSplices() {
	if r.splice != nil {
		r.splice.release()
		r.splice = nil
	}
}

// release releases every range not handed on and returns s to the pool.
func (s *splicer) release() {
	for i := range s.ranges {
		if (i >= len(s.used) || !s.used[i]) && s.ranges[i].Release != nil {
			s.ranges[i].Release()
		}
		s.ranges[i] = FileRange{}
	}
	s.ranges, s.markers, s.used = s.ranges[:0], s.markers[:0], s.used[:0]
	splicerPool.Put(s)
}

// piece is one part of a spliced response: bytes of the encoded response
// (b) or a file range (when b is nil).
type piece struct {
	b  []byte
	fr FileRange
}

// spliced is a response made of pieces; buf holds the encoded bytes the
// byte pieces point into.
type spliced struct {
	buf    *[]byte
	pieces []piece
	size   int64 // whole frame, size prefix included
}

var splicedPool = sync.Pool{New: func() any { return new(spliced) }}

// release releases the file ranges and returns the buffer and s to their
// pools.
func (s *spliced) release() {
	for i := range s.pieces {
		if s.pieces[i].b == nil && s.pieces[i].fr.Release != nil {
			s.pieces[i].fr.Release()
		}
		s.pieces[i] = piece{}
	}
	s.pieces = s.pieces[:0]
	if s.buf != nil {
		putBuf(s.buf)
		s.buf = nil
	}
	splicedPool.Put(s)
}

var errMarker = errors.New("records marker not where kmsg puts a bytes field")

// spliceResponse encodes resp (its partitions' RecordBatches holding the
// markers of sp) into bp as AppendResponse does, then cuts it at every
// marker found: the marker and its length prefix become the real length
// prefix followed by the marker's file range. Markers are found in order
// (kmsg encodes partitions in order); ranges whose marker is not in the
// response are left unused in sp. out.size is the frame size with its
// 4-byte prefix, which is set to the spliced length.
func spliceResponse(bp *[]byte, correlationID int32, resp kmsg.Response, sp *splicer, out *spliced) error {
	*bp = AppendResponse((*bp)[:0], correlationID, resp)
	b := *bp
	flexible := resp.IsFlexible()
	out.buf = bp
	for len(sp.used) < len(sp.ranges) {
		sp.used = append(sp.used, false)
	}
	from, last, total := 0, -1, int64(0)
	// Rewriting prefixes happens in place: a real prefix is never longer
	// than the marker's prefix plus the marker itself (5 + 16 bytes).
	for from < len(b) {
		j := bytes.Index(b[from:], sp.nonce[:])
		if j < 0 {
			break
		}
		at := from + j
		if at+markerLen > len(b) {
			break
		}
		idx := binary.BigEndian.Uint64(b[at+8:])
		pl := 4
		if flexible {
			pl = 1
		}
		if idx >= uint64(len(sp.ranges)) || int(idx) <= last || at < pl || !markerPrefixOK(b[at-pl:at], flexible) {
			return fmt.Errorf("%w at %d", errMarker, at)
		}
		fr := sp.ranges[idx]
		prefixAt := at - pl
		head := b[from:prefixAt]
		var pre []byte
		if flexible {
			pre = binary.AppendUvarint(b[prefixAt:prefixAt], uint64(fr.Len)+1)
		} else {
			pre = binary.BigEndian.AppendUint32(b[prefixAt:prefixAt], uint32(fr.Len))
		}
		// head and pre are contiguous in b: one piece.
		out.pieces = append(out.pieces, piece{b: b[from : prefixAt+len(pre)]})
		total += int64(len(head) + len(pre))
		out.pieces = append(out.pieces, piece{fr: fr})
		total += fr.Len
		sp.used[idx] = true
		last = int(idx)
		from = at + markerLen
	}
	if from < len(b) {
		out.pieces = append(out.pieces, piece{b: b[from:]})
		total += int64(len(b) - from)
	}
	if total-4 > 1<<31-1 {
		return fmt.Errorf("spliced response of %d bytes", total)
	}
	binary.BigEndian.PutUint32(b, uint32(total-4))
	out.size = total
	return nil
}

// markerPrefixOK checks the length prefix kmsg wrote before a marker.
func markerPrefixOK(p []byte, flexible bool) bool {
	if flexible {
		return p[0] == markerLen+1
	}
	return binary.BigEndian.Uint32(p) == markerLen
}

// RecordsLen is the length of a response partition's records: len(b), or
// the length of the file range when b is a marker SpliceRecords returned
// for r (metrics count the bytes that go out, not the marker).
func (r *Request) RecordsLen(b []byte) int {
	s := r.splice
	if s == nil || len(b) != markerLen || !bytes.Equal(b[:8], s.nonce[:]) {
		return len(b)
	}
	i := binary.BigEndian.Uint64(b[8:])
	if i >= uint64(len(s.ranges)) {
		return len(b)
	}
	return int(s.ranges[i].Len)
}
