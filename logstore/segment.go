package logstore

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

const segmentSuffix = ".log"

// segmentName is Kafka's file name for the segment starting at base: the
// offset zero-padded to 20 digits, so that names sort like offsets.
func segmentName(base int64) string {
	return fmt.Sprintf("%020d%s", base, segmentSuffix)
}

// parseSegmentName is the inverse of segmentName; other files are not
// segments.
func parseSegmentName(name string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	base, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || base < 0 {
		return 0, false
	}
	return base, true
}

// noMaxTimestamp is the running maximum of a segment without batches: below
// every real timestamp, so the first batch always sets it.
const noMaxTimestamp = math.MinInt64

// segment is one file of a partition's log.
//
// Concurrency: base, path and f never change. size is the number of bytes
// readers may read: it only covers whole, indexed batches, is advanced by
// the appender after the write and index commit, and is read without locks.
// The metadata fields are written by the appender with both
// Partition.appendMu and Partition.mu held, so they may be read holding
// either.
type segment struct {
	base int64
	path string
	f    File

	// refs counts the owner (the partition's segment list) plus readers
	// and background syncs currently using f. The file is closed when it
	// drops to zero, so a reader that found the segment can finish its
	// pread even while retention unlinks the file.
	refs atomic.Int32
	size atomic.Int64
	// releaseFn is release, bound once so that handing it to a zero-copy
	// read's result does not allocate.
	releaseFn func()

	// Guarded by Partition.appendMu + Partition.mu (see above).
	lastOffset  int64 // last offset of the last batch; -1 if empty
	firstTs     int64 // max timestamp of the first batch (segment.ms rolls); noTimestamp if empty
	maxTs       int64 // largest batch max timestamp; noMaxTimestamp if empty
	maxTsOffset int64 // base offset of the first batch carrying maxTs
	// lastWriteMs is the wall-clock time of the last append (the file's
	// mtime after a restart). Retention uses it in place of maxTs for
	// segments whose batches carry no timestamp (-1), like Kafka's
	// fallback to the file's last-modified time.
	lastWriteMs int64
}

func newSegment(dir string, base int64, f File) *segment {
	s := &segment{
		base:        base,
		path:        filepath.Join(dir, segmentName(base)),
		f:           f,
		lastOffset:  -1,
		firstTs:     noTimestamp,
		maxTs:       noMaxTimestamp,
		maxTsOffset: -1,
	}
	s.refs.Store(1)
	s.releaseFn = s.release
	return s
}

// openSegmentFile opens (or with create, exclusively creates) a segment
// file for reading and positional writes.
func openSegmentFile(fsys FS, path string, create bool) (File, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE | os.O_EXCL
	}
	return fsys.OpenFile(path, flag, 0o644)
}

// empty reports whether the segment holds no batch.
func (s *segment) empty() bool { return s.lastOffset < 0 }

// nextOffset is the offset after the segment's last batch, or its base if
// it has none.
func (s *segment) nextOffset() int64 {
	if s.lastOffset < 0 {
		return s.base
	}
	return s.lastOffset + 1
}

// retentionTs is the timestamp time-based retention compares with.
func (s *segment) retentionTs() int64 {
	if s.maxTs >= 0 {
		return s.maxTs
	}
	return s.lastWriteMs
}

// noteBatch folds a batch appended at the end of the segment into the
// metadata.
func (s *segment) noteBatch(base, last, maxTs int64) {
	if s.lastOffset < 0 {
		s.firstTs = maxTs
	}
	s.lastOffset = last
	if maxTs > s.maxTs {
		s.maxTs = maxTs
		s.maxTsOffset = base
	}
}

// acquire takes a reference for a reader. It fails once the owner has let
// go and the file is (being) closed.
func (s *segment) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference and closes the file after the last one.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		_ = s.f.Close()
	}
}
