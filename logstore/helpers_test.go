package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchSpec describes a test batch.
type batchSpec struct {
	records   int
	valueSize int
	baseTs    int64
	maxTs     int64 // 0: baseTs + records-1
	pid       int64 // 0 means -1 (no producer); use pidSet for real ids
	pidSet    bool
	epoch     int16
	seq       int32
	attrs     int16
}

// makeBatch builds a real v2 batch with franz-go's kmsg types and a
// Castagnoli CRC, the way a producer would send it (base offset 0).
func makeBatch(t testing.TB, s batchSpec) []byte {
	t.Helper()
	if s.records == 0 {
		s.records = 1
	}
	var recs []byte
	for i := 0; i < s.records; i++ {
		r := kmsg.Record{
			TimestampDelta64: int64(i),
			OffsetDelta:      int32(i),
			Key:              []byte(fmt.Sprintf("k%d", i)),
			Value:            bytes.Repeat([]byte{byte('a' + i%26)}, s.valueSize),
		}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1) // Length 0 took one varint byte
		recs = r.AppendTo(recs)
	}
	maxTs := s.maxTs
	if maxTs == 0 {
		maxTs = s.baseTs + int64(s.records-1)
	}
	pid, epoch, seq := int64(-1), int16(-1), int32(-1)
	if s.pidSet {
		pid, epoch, seq = s.pid, s.epoch, s.seq
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(minBatchLength + len(recs)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           s.attrs,
		LastOffsetDelta:      int32(s.records - 1),
		FirstTimestamp:       s.baseTs,
		MaxTimestamp:         maxTs,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           int32(s.records),
		Records:              recs,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	if !VerifyCRC(b) {
		t.Fatal("test batch has a bad CRC")
	}
	return b
}

func mustHeader(t testing.TB, b []byte) BatchHeader {
	t.Helper()
	h, err := ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func appendBatch(t testing.TB, p *Partition, b []byte) AppendResult {
	t.Helper()
	res, err := p.Append(b, mustHeader(t, b))
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res
}

// testLogger discards logs unless LOGSTORE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("LOGSTORE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testClock is an injectable Now.
type testClock struct{ ms atomic.Int64 }

func (c *testClock) Now() time.Time { return time.UnixMilli(c.ms.Load()) }

type env struct {
	t     testing.TB
	dir   string
	index string
	fs    FS
	clock *testClock
	s     *Store
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, index: filepath.Join(dir, ".samsa-index"), fs: OSFS{}, clock: &testClock{}}
	e.clock.ms.Store(1_700_000_000_000)
	return e
}

func (e *env) open() *Store {
	e.t.Helper()
	s, err := Open(Options{
		Dir:      e.dir,
		IndexDir: e.index,
		FS:       e.fs,
		Logger:   testLogger(),
		Now:      e.clock.Now,
	})
	if err != nil {
		e.t.Fatalf("open: %v", err)
	}
	e.s = s
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

func (e *env) close() {
	e.t.Helper()
	if err := e.s.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
}

// crash stops the store the way kill -9 would leave the disk: no final
// fsync, no clean-shutdown marker, and the index loses what was not
// flushed (it has no WAL); tests that need a lagging index delete entries
// themselves.
func (e *env) crash() {
	s := e.s
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	for _, p := range s.partitions() {
		_ = p.close(false)
	}
	s.bg.Wait()
	_ = s.idx.close()
	if s.dirLock != nil {
		_ = s.dirLock.Close()
	}
}

func (e *env) create(topic string, part int32, cfg PartitionConfig) *Partition {
	e.t.Helper()
	p, err := e.s.CreatePartition(topic, part, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) part(topic string, part int32) *Partition {
	e.t.Helper()
	p, ok := e.s.Partition(topic, part)
	if !ok {
		e.t.Fatalf("partition %s-%d not found", topic, part)
	}
	return p
}

// readAll reads the whole log from the start, returning the batches in
// order.
func readAll(t testing.TB, p *Partition) [][]byte {
	t.Helper()
	var out [][]byte
	off := p.LogStartOffset()
	for off < p.LogEndOffset() {
		res, err := p.Read(off, 1<<20)
		if err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
		if len(res.Batches) == 0 {
			t.Fatalf("read %d: empty below the end %d", off, p.LogEndOffset())
		}
		for _, b := range splitBatches(t, res.Batches) {
			out = append(out, append([]byte(nil), b...))
			h := mustHeader(t, b)
			off = h.LastOffset() + 1
		}
		res.Release()
	}
	return out
}

func splitBatches(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		h := mustHeader(t, b)
		n := h.TotalSize()
		if n > len(b) {
			t.Fatalf("partial batch in read result")
		}
		if !VerifyCRC(b[:n]) {
			t.Fatalf("bad CRC in read result at offset %d", h.BaseOffset)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if _, ok := parseSegmentName(e.Name()); ok {
			out = append(out, e.Name())
		}
	}
	return out
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

// faultFS wraps the OS file system to inject failures into segment files.
type faultFS struct {
	OSFS
	mu sync.Mutex
	// writeFault, if set, is consulted before every WriteAt of a segment:
	// it returns how many bytes to actually write and the error to return.
	writeFault    func(name string, n int) (int, error)
	truncateFault func(name string) error
	syncs         atomic.Int64
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *faultFS) setWriteFault(fn func(name string, n int) (int, error)) {
	f.mu.Lock()
	f.writeFault = fn
	f.mu.Unlock()
}

func (f *faultFS) setTruncateFault(fn func(name string) error) {
	f.mu.Lock()
	f.truncateFault = fn
	f.mu.Unlock()
}

type faultFile struct {
	File
	fs   *faultFS
	name string
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	fault := f.fs.writeFault
	f.fs.mu.Unlock()
	if fault != nil {
		n, err := fault(f.name, len(p))
		if err != nil {
			if n > 0 {
				if _, werr := f.File.WriteAt(p[:n], off); werr != nil {
					return 0, werr
				}
			}
			return n, err
		}
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	fault := f.fs.truncateFault
	f.fs.mu.Unlock()
	if fault != nil {
		if err := fault(f.name); err != nil {
			return err
		}
	}
	return f.File.Truncate(size)
}

func (f *faultFile) Sync() error {
	f.fs.syncs.Add(1)
	return f.File.Sync()
}
