package logstore

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kv is a test record; a nil value is a tombstone.
type kv struct {
	key, value []byte
}

type keyedSpec struct {
	recs   []kv
	ts     int64
	pid    int64 // -1: none
	epoch  int16
	seq    int32
	codec  int // 0 or 1 (gzip)
	logApp bool
}

// keyedBatch builds a v2 batch of keyed records (offset deltas 0..n-1,
// timestamp deltas 0..n-1), gzip-compressed with codec 1.
func keyedBatch(t testing.TB, s keyedSpec) []byte {
	t.Helper()
	var recs []byte
	for i, r := range s.recs {
		rec := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Key: r.key, Value: r.value}
		body := rec.AppendTo(nil)
		rec.Length = int32(len(body) - 1)
		recs = rec.AppendTo(recs)
	}
	if s.codec == 1 {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(recs)
		_ = zw.Close()
		recs = buf.Bytes()
	}
	pid, epoch, seq := int64(-1), int16(-1), int32(-1)
	if s.pid >= 0 {
		pid, epoch, seq = s.pid, s.epoch, s.seq
	}
	n := len(s.recs)
	rb := kmsg.RecordBatch{
		Length: int32(minBatchLength + len(recs)), PartitionLeaderEpoch: 7, Magic: 2,
		Attributes: int16(s.codec), LastOffsetDelta: int32(n - 1),
		FirstTimestamp: s.ts, MaxTimestamp: s.ts + int64(n-1),
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: int32(n), Records: recs,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// decoded is a record read back from the log.
type decoded struct {
	offset int64
	key    string
	value  []byte
	null   bool
}

// decodeLog reads the whole log and decodes every record with franz-go's
// kmsg (decompressing gzip with the standard library), checking offsets
// only grow.
func decodeLog(t testing.TB, p *Partition) ([]decoded, []BatchHeader) {
	t.Helper()
	var out []decoded
	var hs []BatchHeader
	prev := int64(-1)
	for _, b := range readAll(t, p) {
		h := mustHeader(t, b)
		hs = append(hs, h)
		recs := b[BatchHeaderSize:]
		if h.Compression() == 1 {
			zr, err := gzip.NewReader(bytes.NewReader(recs))
			if err != nil {
				t.Fatal(err)
			}
			recs, err = io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := int32(0); i < h.NumRecords; i++ {
			var r kmsg.Record
			l, n := binary.Varint(recs)
			if n <= 0 {
				t.Fatalf("bad record length at offset %d", h.BaseOffset)
			}
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				t.Fatalf("decoding record %d of batch %d: %v", i, h.BaseOffset, err)
			}
			recs = recs[n+int(l):]
			off := h.BaseOffset + int64(r.OffsetDelta)
			if off <= prev || off > h.LastOffset() {
				t.Fatalf("record offset %d after %d (batch %d..%d)", off, prev, h.BaseOffset, h.LastOffset())
			}
			prev = off
			out = append(out, decoded{off, string(r.Key), r.Value, r.Value == nil})
		}
	}
	return out, hs
}

func compactCfg() PartitionConfig {
	return PartitionConfig{SegmentBytes: 2048, RetentionBytes: -1, RetentionMs: -1, Compact: true,
		DeleteRetentionMs: 60_000, MinCleanableDirtyRatio: 0.5, MaxCompactionLagMs: -1}
}

// fill writes versions of keys, one record a batch, and returns the latest
// value (and offset) per key.
func fillKeys(t testing.TB, e *env, p *Partition, keys, versions int) map[string]decoded {
	t.Helper()
	latest := map[string]decoded{}
	for v := 0; v < versions; v++ {
		for k := 0; k < keys; k++ {
			key := fmt.Sprintf("key-%03d", k)
			val := []byte(fmt.Sprintf("v%d-%s", v, strings.Repeat("x", 20)))
			res := appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte(key), val}}, ts: e.clock.ms.Load(), pid: -1}))
			latest[key] = decoded{offset: res.BaseOffset, key: key, value: val}
		}
	}
	return latest
}

func checkLatest(t testing.TB, p *Partition, latest map[string]decoded) []decoded {
	t.Helper()
	recs, _ := decodeLog(t, p)
	seen := map[string]decoded{}
	for _, r := range recs {
		seen[r.key] = r
	}
	for k, want := range latest {
		got, ok := seen[k]
		if !ok || got.offset != want.offset || !bytes.Equal(got.value, want.value) {
			t.Fatalf("key %s: got %+v (found %v), want offset %d value %q", k, got, ok, want.offset, want.value)
		}
	}
	return recs
}

func TestCleanerKeepsLatestPerKey(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("c", 0, compactCfg())
	latest := fillKeys(t, e, p, 100, 20)
	before := len(p.segs)
	st, err := e.s.CleanNow()
	if err != nil {
		t.Fatal(err)
	}
	if st.Segments == 0 {
		t.Fatal("nothing cleaned")
	}
	recs := checkLatest(t, p, latest)
	// Everything below the active segment holds at most one record per
	// key; the active segment is never cleaned.
	p.mu.RLock()
	activeBase := p.segs[len(p.segs)-1].base
	after := len(p.segs)
	p.mu.RUnlock()
	perKey := map[string]int{}
	for _, r := range recs {
		if r.offset < activeBase {
			perKey[r.key]++
			if perKey[r.key] > 1 {
				t.Fatalf("key %s twice below the active segment", r.key)
			}
		}
	}
	// Groups are sized by their source segments (as Kafka's
	// groupSegmentsBySize), so the shrunk segments merge on the next
	// cleaning.
	if err := p.setCleanerCheckpoint(0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CleanNow(); err != nil {
		t.Fatal(err)
	}
	p.mu.RLock()
	after = len(p.segs)
	p.mu.RUnlock()
	if after >= before/4 {
		t.Fatalf("segments were not merged: %d before, %d after", before, after)
	}
	recs = checkLatest(t, p, latest)
	if len(recs) > 100+int(p.LogEndOffset()-activeBase) {
		t.Fatalf("%d records left", len(recs))
	}
	// Gaps read as the next batch; reopening keeps everything.
	res, err := p.Read(1, 1<<20)
	if err != nil || len(res.Batches) == 0 || mustHeader(t, res.Batches).LastOffset() < 1 {
		t.Fatalf("read in a gap: %v", err)
	}
	res.Release()
	e.close()
	e.open()
	checkLatest(t, e.part("c", 0), latest)
	if _, err := os.Stat(filepath.Join(e.dir, "c-0", cleanerCheckpoint)); err != nil {
		t.Fatal(err)
	}
	// A second pass finds nothing dirty.
	st, err = e.s.CleanNow()
	if err != nil || st.Segments != 0 {
		t.Fatalf("second clean: %+v %v", st, err)
	}
}

func TestCleanerTombstoneRetention(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("c", 0, compactCfg())
	latest := fillKeys(t, e, p, 20, 5)
	for k := 0; k < 10; k++ {
		key := fmt.Sprintf("key-%03d", k)
		appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte(key), nil}}, ts: e.clock.ms.Load(), pid: -1}))
		delete(latest, key)
	}
	fillKeys(t, e, p, 0, 0)
	// Push the tombstones out of the active segment.
	for i := 0; i < 60; i++ {
		appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("other"), []byte(strings.Repeat("y", 30))}}, ts: e.clock.ms.Load(), pid: -1}))
	}
	if _, err := e.s.CleanNow(); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		recs, _ := decodeLog(t, p)
		n := 0
		for _, r := range recs {
			if r.null {
				n++
			}
		}
		return n
	}
	if n := count(); n != 10 {
		t.Fatalf("%d tombstones before delete.retention.ms, want 10", n)
	}
	// Past delete.retention.ms after the segments' last write: gone.
	e.clock.ms.Add(61_000)
	for _, s := range p.segs {
		s.lastWriteMs = e.clock.ms.Load() - 61_000
	}
	p.setCleanerCheckpoint(0) // make it dirty again
	if _, err := e.s.CleanNow(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d tombstones after delete.retention.ms", n)
	}
	checkLatest(t, p, latest)
}

func TestCleanerDirtyRatioAndLags(t *testing.T) {
	e := newEnv(t)
	e.open()
	cfg := compactCfg()
	cfg.MinCleanableDirtyRatio = 0.99
	p := e.create("c", 0, cfg)
	fillKeys(t, e, p, 10, 30)
	info := p.cleanableInfo(e.clock.ms.Load(), &cfg)
	if info.dirtyBytes == 0 || info.cleanBytes != 0 || info.firstDirty != 0 {
		t.Fatalf("info %+v", info)
	}
	// Every closed byte is dirty (ratio 1 > 0.99): cleaned.
	if st, _ := e.s.CleanNow(); st.Segments == 0 {
		t.Fatal("dirty log not cleaned")
	}
	fillKeys(t, e, p, 10, 5)
	info = p.cleanableInfo(e.clock.ms.Load(), &cfg)
	if info.cleanBytes == 0 || info.ratio() > 0.99 {
		t.Fatalf("info %+v ratio %v", info, info.ratio())
	}
	if st, _ := e.s.CleanNow(); st.Segments != 0 {
		t.Fatal("cleaned below min.cleanable.dirty.ratio")
	}
	// max.compaction.lag.ms overrides the ratio.
	cfg.MaxCompactionLagMs = 1000
	p.SetConfig(cfg)
	e.clock.ms.Add(2000)
	if st, _ := e.s.CleanNow(); st.Segments == 0 {
		t.Fatal("not cleaned after max.compaction.lag.ms")
	}
	// min.compaction.lag.ms: records younger than the lag stay dirty.
	cfg.MaxCompactionLagMs = -1
	cfg.MinCleanableDirtyRatio = 0
	cfg.MinCompactionLagMs = 10_000
	p.SetConfig(cfg)
	fillKeys(t, e, p, 10, 5)
	if info := p.cleanableInfo(e.clock.ms.Load(), &cfg); info.dirtyBytes != 0 {
		t.Fatalf("young segments counted dirty: %+v", info)
	}
	e.clock.ms.Add(20_000)
	if info := p.cleanableInfo(e.clock.ms.Load(), &cfg); info.dirtyBytes == 0 {
		t.Fatalf("old segments not dirty: %+v", info)
	}
}

func TestCleanerRebuildKeepsProducerFields(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("c", 0, compactCfg())
	// Producer 42: one gzip batch of keys a..e; later batches (no
	// producer) overwrite b and d.
	keys := []string{"a", "b", "c", "d", "e"}
	var recs []kv
	for _, k := range keys {
		recs = append(recs, kv{[]byte(k), []byte("p-" + k)})
	}
	ts := e.clock.ms.Load()
	appendBatch(t, p, keyedBatch(t, keyedSpec{recs: recs, ts: ts, pid: 42, epoch: 3, seq: 10, codec: 1}))
	// Producer 43: its only batch is entirely superseded later.
	appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("z"), []byte("old")}}, ts: ts, pid: 43, epoch: 1, seq: 0}))
	appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("b"), []byte("new-b")}, {[]byte("d"), []byte("new-d")}, {[]byte("z"), []byte("new")}}, ts: ts, pid: -1}))
	for i := 0; i < 80; i++ {
		appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("filler"), []byte(strings.Repeat("f", 40))}}, ts: ts, pid: -1}))
	}
	if st, err := e.s.CleanNow(); err != nil || st.BatchesBuilt == 0 {
		t.Fatalf("clean: %+v %v", st, err)
	}
	got, hs := decodeLog(t, p)
	h := hs[0]
	if h.BaseOffset != 0 || h.ProducerID != 42 || h.ProducerEpoch != 3 || h.BaseSequence != 10 || h.LastOffsetDelta != 4 ||
		h.Compression() != 1 || h.NumRecords != 3 || h.PartitionLeaderEpoch != 7 || h.BaseTimestamp != ts || h.MaxTimestamp != ts+4 {
		t.Fatalf("rebuilt header %+v", h)
	}
	if got[0].key != "a" || got[1].key != "c" || got[1].offset != 2 || got[2].key != "e" || got[2].offset != 4 {
		t.Fatalf("rebuilt records %+v", got[:3])
	}
	e2 := hs[1]
	if e2.ProducerID != 43 || e2.NumRecords != 0 || e2.BaseOffset != 5 || e2.BaseSequence != 0 {
		t.Fatalf("empty batch of producer 43: %+v", e2)
	}
	// After a restart, producer state rebuilt from the cleaned log lets
	// both producers continue in sequence.
	e.crash()
	e.open()
	p = e.part("c", 0)
	appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("a"), []byte("x")}}, ts: ts, pid: 42, epoch: 3, seq: 15}))
	appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("a"), []byte("x")}}, ts: ts, pid: 43, epoch: 1, seq: 1}))
	_, err := p.Append(keyedBatch(t, keyedSpec{recs: []kv{{[]byte("a"), []byte("x")}}, ts: ts, pid: 42, epoch: 3, seq: 17}), mustHeader(t, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("a"), []byte("x")}}, ts: ts, pid: 42, epoch: 3, seq: 17})))
	wantErr(t, err, ErrOutOfOrderSequence)
}

// crashFS makes every mutating operation fail once `left` reaches zero,
// as if the process died there: nothing after that point reaches the disk.
type crashFS struct {
	OSFS
	left    atomic.Int64
	crashed atomic.Bool
}

var errCrashed = errors.New("crashed")

func (c *crashFS) step() error {
	if c.crashed.Load() || c.left.Add(-1) < 0 {
		c.crashed.Store(true)
		return errCrashed
	}
	return nil
}

func (c *crashFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if flag&os.O_CREATE != 0 {
		if err := c.step(); err != nil {
			return nil, err
		}
	}
	f, err := c.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &crashFile{File: f, fs: c}, nil
}
func (c *crashFS) Remove(name string) error {
	if err := c.step(); err != nil {
		return err
	}
	return c.OSFS.Remove(name)
}
func (c *crashFS) Rename(a, b string) error {
	if err := c.step(); err != nil {
		return err
	}
	return c.OSFS.Rename(a, b)
}

type crashFile struct {
	File
	fs *crashFS
}

func (f *crashFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.step(); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}
func (f *crashFile) Write(p []byte) (int, error) {
	if err := f.fs.step(); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

// TestCleanerCrashAtEveryStep crashes the store at every file operation
// of a cleaning (the write of the cleaned file, its rename to .swap, the
// removal of old segments, the final rename, the checkpoint) and checks
// that the reopened log reads back with every key's latest value at its
// offset, no offset twice, and the producer able to continue.
func TestCleanerCrashAtEveryStep(t *testing.T) {
	for step := int64(0); ; step++ {
		e := newEnv(t)
		cfs := &crashFS{}
		cfs.left.Store(1 << 40)
		e.fs = cfs
		e.open()
		cfg := compactCfg()
		cfg.SegmentBytes = 4096
		p := e.create("c", 0, cfg)
		latest := map[string]decoded{}
		seq := int32(0)
		for v := 0; v < 10; v++ {
			for k := 0; k < 30; k++ {
				key := fmt.Sprintf("key-%03d", k)
				val := []byte(fmt.Sprintf("v%d-%s", v, strings.Repeat("x", 20)))
				res := appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte(key), val}}, ts: e.clock.ms.Load(), pid: 9, epoch: 0, seq: seq}))
				seq++
				latest[key] = decoded{offset: res.BaseOffset, key: key, value: val}
			}
		}
		cfs.left.Store(step)
		_, err := e.s.CleanNow()
		done := !cfs.crashed.Load()
		if done && err != nil {
			t.Fatal(err)
		}
		e.crash()
		cfs.crashed.Store(false)
		cfs.left.Store(1 << 40)
		e.open()
		p = e.part("c", 0)
		checkLatest(t, p, latest)
		for _, n := range segmentFiles(t, p.lc().dir) {
			_ = n
		}
		ents, _ := os.ReadDir(p.lc().dir)
		for _, d := range ents {
			if strings.HasSuffix(d.Name(), swapSuffix) || strings.HasSuffix(d.Name(), cleanedSuffix) {
				t.Fatalf("step %d: %s left after recovery", step, d.Name())
			}
		}
		appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte("k"), []byte("v")}}, ts: e.clock.ms.Load(), pid: 9, epoch: 0, seq: seq}))
		// Cleaning again after the restart finishes the job.
		if _, err := e.s.CleanNow(); err != nil {
			t.Fatalf("step %d: clean after restart: %v", step, err)
		}
		checkLatest(t, p, latest)
		e.close()
		if done {
			t.Logf("crashed at each of %d steps", step)
			return
		}
	}
}

// TestCleanerConcurrentReads reads the log over and over while cleaning:
// every read returns whole batches, offsets in order, and every key's
// latest value.
func TestCleanerConcurrentReads(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("c", 0, compactCfg())
	latest := fillKeys(t, e, p, 50, 20)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var reads atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			checkLatest(t, p, latest)
			reads.Add(1)
		}
	}()
	for i := 0; i < 5; i++ {
		for j := 0; j < 100; j++ {
			appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte(fmt.Sprintf("other-%d", j%7)), []byte(strings.Repeat("y", 30))}}, ts: e.clock.ms.Load(), pid: -1}))
		}
		if _, err := e.s.CleanNow(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("no reads")
	}
}

// BenchmarkCleaner measures cleaner throughput in bytes of log read per
// second (MB/s as reported): 16 MiB of 1 KiB records, 1000 keys, 1 MiB
// segments, cleaned once per iteration.
func BenchmarkCleaner(b *testing.B) {
	val := bytes.Repeat([]byte("v"), 1000)
	var total int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		e.open()
		cfg := compactCfg()
		cfg.SegmentBytes = 1 << 20
		p := e.create("c", 0, cfg)
		for j := 0; j < 16<<10; j++ {
			recs := make([]kv, 0, 8)
			for k := 0; k < 8; k++ {
				recs = append(recs, kv{[]byte(fmt.Sprintf("key-%04d", (j*8+k)%1000)), val[:120]})
			}
			appendBatch(b, p, keyedBatch(b, keyedSpec{recs: recs, ts: e.clock.ms.Load(), pid: -1}))
		}
		b.StartTimer()
		st, err := e.s.CleanNow()
		if err != nil {
			b.Fatal(err)
		}
		total += st.BytesRead
		b.StopTimer()
		e.close()
	}
	b.SetBytes(total / int64(b.N))
}

// FuzzCleanerRecords feeds arbitrary bytes to the cleaner's record walker
// as the records section of a stored batch: the offset map and the batch
// filter must fail cleanly, never panic or read out of bounds.
func FuzzCleanerRecords(f *testing.F) {
	f.Add(keyedBatch(f, keyedSpec{recs: []kv{{[]byte("a"), []byte("1")}, {[]byte("b"), nil}}, pid: -1})[BatchHeaderSize:], int32(2), false)
	f.Add(keyedBatch(f, keyedSpec{recs: []kv{{[]byte("a"), []byte("1")}}, pid: -1, codec: 1})[BatchHeaderSize:], int32(1), true)
	f.Fuzz(func(t *testing.T, recs []byte, n int32, gz bool) {
		if n < 0 || n > 1000 {
			return
		}
		h := BatchHeader{Length: int32(minBatchLength + len(recs)), Magic: 2, LastOffsetDelta: max(n-1, 0), NumRecords: n, ProducerID: -1}
		if gz {
			h.Attributes = 1
		}
		batch := make([]byte, BatchHeaderSize, BatchHeaderSize+len(recs))
		binary.BigEndian.PutUint32(batch[offLength:], uint32(h.Length))
		binary.BigEndian.PutUint16(batch[offAttributes:], uint16(h.Attributes))
		binary.BigEndian.PutUint32(batch[offNumRecords:], uint32(n))
		batch = append(batch, recs...)
		m := newOffsetMap(1<<16, 0.9)
		var scratch, out outBuf
		var spans [][2]int
		if err := m.mapBatch(batch, &h, &scratch); err != nil {
			return
		}
		res, err := filterBatch(batch, &h, m, filterParams{endOffset: 1 << 40}, &scratch, &out, &spans)
		if err == nil && res.written && !VerifyCRC(out.b) && !res.copied {
			t.Fatalf("rebuilt batch has a bad CRC")
		}
	})
}
