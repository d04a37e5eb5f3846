package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestAppendReadRoundTripManySegments(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("orders", 0, PartitionConfig{SegmentBytes: 4096})
	var want [][]byte
	next := int64(0)
	for i := 0; i < 300; i++ {
		b := makeBatch(t, batchSpec{records: 1 + i%5, valueSize: 10 + i%200, baseTs: int64(1000 + i)})
		res := appendBatch(t, p, b)
		if res.BaseOffset != next || res.LastOffset != next+int64(i%5) {
			t.Fatalf("batch %d: got offsets [%d, %d], want base %d", i, res.BaseOffset, res.LastOffset, next)
		}
		if res.LogAppendTime != -1 || res.Duplicate {
			t.Fatalf("unexpected result %+v", res)
		}
		next = res.LastOffset + 1
		want = append(want, b) // Append stamped the base offset in place
	}
	if p.LogEndOffset() != next || p.HighWatermark() != next {
		t.Fatalf("LEO %d HW %d, want %d", p.LogEndOffset(), p.HighWatermark(), next)
	}
	if n := len(segmentFiles(t, p.lc().dir)); n < 10 {
		t.Fatalf("only %d segments; expected rolling at 4 KiB", n)
	}
	for _, name := range segmentFiles(t, p.lc().dir) {
		fi, _ := os.Stat(filepath.Join(p.lc().dir, name))
		if fi.Size() > 4096 {
			t.Fatalf("segment %s is %d bytes > segment.bytes", name, fi.Size())
		}
	}
	check := func() {
		got := readAll(t, p)
		if len(got) != len(want) {
			t.Fatalf("read %d batches, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("batch %d differs", i)
			}
		}
	}
	check()
	e.close()
	e.open()
	p = e.part("orders", 0)
	if p.LogEndOffset() != next {
		t.Fatalf("after reopen LEO %d, want %d", p.LogEndOffset(), next)
	}
	check()
}

func TestReadEveryOffsetReturnsContainingBatch(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 2000})
	for i := 0; i < 40; i++ {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 7, valueSize: 20, baseTs: 10}))
	}
	for off := int64(0); off < p.LogEndOffset(); off++ {
		res, err := p.Read(off, 1)
		if err != nil {
			t.Fatal(err)
		}
		bs := splitBatches(t, res.Batches)
		if len(bs) != 1 {
			t.Fatalf("offset %d: %d batches with maxBytes 1, want exactly 1", off, len(bs))
		}
		h := mustHeader(t, bs[0])
		if off < h.BaseOffset || off > h.LastOffset() {
			t.Fatalf("offset %d: got batch [%d, %d]", off, h.BaseOffset, h.LastOffset())
		}
		res.Release()
	}
}

func TestReadMaxBytesKIP74(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	big := makeBatch(t, batchSpec{records: 3, valueSize: 5000})
	small := makeBatch(t, batchSpec{records: 1, valueSize: 10})
	appendBatch(t, p, big)
	appendBatch(t, p, small)
	appendBatch(t, p, makeBatch(t, batchSpec{records: 1, valueSize: 10}))

	res, err := p.Read(0, 100) // smaller than the first batch
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Batches, big) {
		t.Fatalf("got %d bytes, want the whole first batch (%d)", len(res.Batches), len(big))
	}
	res.Release()

	res, _ = p.Read(0, int32(len(big)+len(small)/2)) // never a partial batch
	if len(res.Batches) != len(big) {
		t.Fatalf("got %d bytes, want %d", len(res.Batches), len(big))
	}
	res.Release()

	res, _ = p.Read(0, int32(len(big)+len(small)))
	if len(res.Batches) != len(big)+len(small) {
		t.Fatalf("got %d bytes, want two batches", len(res.Batches))
	}
	res.Release()

	res, _ = p.Read(4, 1<<20) // from the middle: the rest of the log
	if n := len(splitBatches(t, res.Batches)); n != 1 {
		t.Fatalf("read at 4: %d batches", n)
	}
	if res.HighWatermark != 5 || res.LastStableOffset != 5 || res.LogStartOffset != 0 {
		t.Fatalf("bad offsets in result %+v", res)
	}
	res.Release()
}

func TestReadOutOfRange(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	res, err := p.Read(0, 100)
	if err != nil || len(res.Batches) != 0 {
		t.Fatalf("empty log at 0: %v %d", err, len(res.Batches))
	}
	appendBatch(t, p, makeBatch(t, batchSpec{records: 3}))
	_, err = p.Read(4, 100)
	wantErr(t, err, ErrOffsetOutOfRange)
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke != kerr.OffsetOutOfRange {
		t.Fatalf("error does not carry the Kafka code: %v", err)
	}
	_, err = p.Read(-1, 100)
	wantErr(t, err, ErrOffsetOutOfRange)
	res, err = p.Read(3, 100)
	if err != nil || len(res.Batches) != 0 || res.HighWatermark != 3 {
		t.Fatalf("read at LEO: %v %+v", err, res)
	}
}

func TestOffsetForTimestampAndMaxTimestamp(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 300})
	if ts, off := p.MaxTimestamp(); ts != -1 || off != -1 {
		t.Fatalf("empty MaxTimestamp = %d, %d", ts, off)
	}
	if _, _, ok := p.OffsetForTimestamp(0); ok {
		t.Fatal("found a timestamp in an empty log")
	}
	// Batch max timestamps, deliberately not monotone, across segments.
	tss := []int64{100, 300, 200, 400, 400, 250, 500, 450}
	var bases []int64
	for _, ts := range tss {
		res := appendBatch(t, p, makeBatch(t, batchSpec{records: 2, valueSize: 50, baseTs: ts - 1, maxTs: ts}))
		bases = append(bases, res.BaseOffset)
	}
	if len(segmentFiles(t, p.lc().dir)) < 3 {
		t.Fatal("want several segments")
	}
	check := func(p *Partition) {
		t.Helper()
		for _, tc := range []struct {
			ts    int64
			batch int // -1: not found
		}{
			{0, 0}, {100, 0}, {101, 1}, {250, 1}, {300, 1}, {301, 3}, {400, 3}, {401, 6}, {460, 6}, {500, 6}, {501, -1},
		} {
			off, maxTs, ok := p.OffsetForTimestamp(tc.ts)
			if tc.batch < 0 {
				if ok {
					t.Errorf("ts %d: found offset %d", tc.ts, off)
				}
				continue
			}
			if !ok || off != bases[tc.batch] || maxTs != tss[tc.batch] {
				t.Errorf("ts %d: got (%d, %d, %v), want (%d, %d)", tc.ts, off, maxTs, ok, bases[tc.batch], tss[tc.batch])
			}
		}
		if ts, off := p.MaxTimestamp(); ts != 500 || off != bases[6] {
			t.Errorf("MaxTimestamp = %d, %d; want 500, %d", ts, off, bases[6])
		}
	}
	check(p)
	e.close()
	e.open()
	check(e.part("t", 0))
	// And after the index is rebuilt from scratch.
	e.close()
	if err := os.RemoveAll(e.index); err != nil {
		t.Fatal(err)
	}
	e.open()
	check(e.part("t", 0))
}

func TestOffsetForTimestampAfterDeleteRecordsMidSegment(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	for _, ts := range []int64{1000, 2000, 1500, 1800} {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 2, baseTs: ts, maxTs: ts}))
	}
	// Log start inside the batch at 2..3 (ts 2000): that batch still counts.
	if _, err := p.DeleteRecordsBefore(3); err != nil {
		t.Fatal(err)
	}
	if off, ts, ok := p.OffsetForTimestamp(1200); !ok || off != 3 || ts != 2000 {
		t.Fatalf("got %d %d %v", off, ts, ok)
	}
	// Past that batch: the running-max time index points below the log
	// start; the fallback must find the batch at 6 (ts 1800).
	if _, err := p.DeleteRecordsBefore(4); err != nil {
		t.Fatal(err)
	}
	if off, ts, ok := p.OffsetForTimestamp(1200); !ok || off != 4 || ts != 1500 {
		t.Fatalf("got %d %d %v", off, ts, ok)
	}
	if off, ts, ok := p.OffsetForTimestamp(1600); !ok || off != 6 || ts != 1800 {
		t.Fatalf("got %d %d %v", off, ts, ok)
	}
	if _, _, ok := p.OffsetForTimestamp(1900); ok {
		t.Fatal("found a timestamp only present below the log start")
	}
}

func TestLogAppendTime(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{LogAppendTime: true})
	b := makeBatch(t, batchSpec{records: 3, baseTs: 5, maxTs: 7})
	res := appendBatch(t, p, b)
	now := e.clock.Now().UnixMilli()
	if res.LogAppendTime != now {
		t.Fatalf("LogAppendTime %d, want %d", res.LogAppendTime, now)
	}
	r, err := p.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	h := mustHeader(t, r.Batches)
	if h.MaxTimestamp != now || h.TimestampType() != 1 || h.BaseTimestamp != 5 || !VerifyCRC(r.Batches) {
		t.Fatalf("stored header %+v", h)
	}
	if ts, _ := p.MaxTimestamp(); ts != now {
		t.Fatalf("MaxTimestamp %d", ts)
	}
}

func TestWaitClosedByAppend(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	ch := p.Wait()
	select {
	case <-ch:
		t.Fatal("closed before any append")
	default:
	}
	if ch2 := p.Wait(); ch2 != ch {
		t.Fatal("two waiters before an append should share a channel")
	}
	done := make(chan struct{})
	go func() {
		<-ch
		close(done)
	}()
	appendBatch(t, p, makeBatch(t, batchSpec{}))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken by append")
	}
	ch3 := p.Wait()
	select {
	case <-ch3:
		t.Fatal("new channel already closed")
	default:
	}
	if err := e.s.DeleteTopic("t"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch3:
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken by close")
	}
}

func TestCreatePartitionIdempotentAndConfig(t *testing.T) {
	e := newEnv(t)
	e.open()
	p1 := e.create("t", 3, PartitionConfig{SegmentBytes: 100})
	p2 := e.create("t", 3, PartitionConfig{SegmentBytes: 200})
	if p1 != p2 || p1.Config().SegmentBytes != 200 {
		t.Fatal("CreatePartition is not open-or-create")
	}
	if _, err := e.s.CreatePartition("../evil", 0, PartitionConfig{}); err == nil {
		t.Fatal("accepted a path as topic name")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "t-3", "00000000000000000000.log")); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteTopic(t *testing.T) {
	e := newEnv(t)
	e.open()
	a0 := e.create("a", 0, PartitionConfig{})
	e.create("a", 1, PartitionConfig{})
	b0 := e.create("a-b", 0, PartitionConfig{}) // shares a prefix
	appendBatch(t, a0, makeBatch(t, batchSpec{records: 5}))
	appendBatch(t, b0, makeBatch(t, batchSpec{records: 2}))
	if err := e.s.DeleteTopic("a"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a-0", "a-1"} {
		if _, err := os.Stat(filepath.Join(e.dir, d)); !os.IsNotExist(err) {
			t.Fatalf("%s still exists: %v", d, err)
		}
	}
	if _, ok := e.s.Partition("a", 0); ok {
		t.Fatal("deleted partition still listed")
	}
	_, err := a0.Append(makeBatch(t, batchSpec{}), mustHeader(t, makeBatch(t, batchSpec{})))
	wantErr(t, err, ErrPartitionClosed)
	_, err = a0.Read(0, 100)
	wantErr(t, err, ErrPartitionClosed)
	if b0.LogEndOffset() != 2 {
		t.Fatal("other topic affected")
	}
	// Recreated: an empty log again, with no trace of the old index.
	a0 = e.create("a", 0, PartitionConfig{})
	if a0.LogEndOffset() != 0 {
		t.Fatalf("recreated partition LEO %d", a0.LogEndOffset())
	}
	appendBatch(t, a0, makeBatch(t, batchSpec{records: 1}))
	if got := readAll(t, a0); len(got) != 1 {
		t.Fatalf("recreated partition has %d batches", len(got))
	}
	e.close()
	e.open()
	if _, ok := e.s.Partition("a", 1); ok {
		t.Fatal("deleted partition came back after reopen")
	}
	if p := e.part("a", 0); p.LogEndOffset() != 1 {
		t.Fatalf("LEO %d", p.LogEndOffset())
	}
}

func TestSegmentRollByTime(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentMs: 1000})
	appendBatch(t, p, makeBatch(t, batchSpec{baseTs: 10_000}))
	appendBatch(t, p, makeBatch(t, batchSpec{baseTs: 10_500}))
	if n := len(segmentFiles(t, p.lc().dir)); n != 1 {
		t.Fatalf("%d segments", n)
	}
	appendBatch(t, p, makeBatch(t, batchSpec{baseTs: 11_001})) // > segment.ms after the first batch
	if n := len(segmentFiles(t, p.lc().dir)); n != 2 {
		t.Fatalf("%d segments after time roll", n)
	}
	// RunRetention rolls an idle partition whose active segment is old.
	e.clock.ms.Store(11_001 + 1001)
	e.s.RunRetention()
	if n := len(segmentFiles(t, p.lc().dir)); n != 3 {
		t.Fatalf("%d segments after idle roll", n)
	}
	if p.LogEndOffset() != 3 || len(readAll(t, p)) != 3 {
		t.Fatal("roll lost data")
	}
}

func TestFlushMessages(t *testing.T) {
	e := newEnv(t)
	ffs := &faultFS{}
	e.fs = ffs
	e.open()
	p := e.create("t", 0, PartitionConfig{FlushMessages: 3})
	before := ffs.syncs.Load()
	appendBatch(t, p, makeBatch(t, batchSpec{records: 2}))
	if ffs.syncs.Load() != before {
		t.Fatal("fsync before flush.messages reached")
	}
	appendBatch(t, p, makeBatch(t, batchSpec{records: 1}))
	if ffs.syncs.Load() != before+1 {
		t.Fatalf("want one fsync at 3 records, got %d", ffs.syncs.Load()-before)
	}
	q := e.create("u", 0, PartitionConfig{FlushMs: 10})
	before = ffs.syncs.Load()
	appendBatch(t, q, makeBatch(t, batchSpec{}))
	deadline := time.Now().Add(5 * time.Second)
	for ffs.syncs.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("flush.ms never fsynced")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := e.create("v", 0, PartitionConfig{})
	before = ffs.syncs.Load()
	for i := 0; i < 20; i++ {
		appendBatch(t, r, makeBatch(t, batchSpec{}))
	}
	if ffs.syncs.Load() != before {
		t.Fatal("fsync without a flush policy")
	}
}

func TestAppendRejectsMismatchedBatch(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	b := makeBatch(t, batchSpec{records: 2})
	h := mustHeader(t, b)
	_, err := p.Append(b[:len(b)-1], h)
	wantErr(t, err, ErrCorruptBatch)
	if p.LogEndOffset() != 0 {
		t.Fatal("appended a bad batch")
	}
}

func TestStoreLocksDir(t *testing.T) {
	e := newEnv(t)
	e.open()
	_, err := Open(Options{Dir: e.dir, IndexDir: e.index})
	if err == nil {
		t.Fatal("second store on the same dir opened")
	}
	// The first store's index must have survived the attempt.
	p := e.create("t", 0, PartitionConfig{})
	appendBatch(t, p, makeBatch(t, batchSpec{}))
	if _, err := p.Read(0, 100); err != nil {
		t.Fatal(err)
	}
}

func TestPartitionDirNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		topic string
		part  int32
		ok    bool
	}{
		{"foo-0", "foo", 0, true},
		{"foo-bar-12", "foo-bar", 12, true},
		{".samsa-index", "", 0, false},
		{"foo-01", "", 0, false},
		{"foo--1", "foo-", 1, true},
		{"-1", "", 0, false},
		{"foo-", "", 0, false},
		{"foo-0.123-delete", "", 0, false},
	} {
		topic, part, ok := parsePartitionDir(tc.name)
		if ok != tc.ok || topic != tc.topic || part != tc.part {
			t.Errorf("%q: got %q %d %v", tc.name, topic, part, ok)
		}
	}
}

func TestIndexKeyOrdering(t *testing.T) {
	// Timestamps, including -1, must sort numerically in time keys.
	a := appendTimeKey(nil, 1, 0, -1)
	b := appendTimeKey(nil, 1, 0, 0)
	c := appendTimeKey(nil, 1, 0, 1<<40)
	if !(bytes.Compare(a, b) < 0 && bytes.Compare(b, c) < 0) {
		t.Fatal("time keys do not sort by timestamp")
	}
	if binary.BigEndian.Uint32(appendOffsetKey(nil, 7, 0)[1:]) != 7 {
		t.Fatal("offset key layout")
	}
}

func TestOpenConfigFor(t *testing.T) {
	e := newEnv(t)
	e.open()
	e.create("t", 0, PartitionConfig{SegmentBytes: 123})
	e.create("u", 0, PartitionConfig{SegmentBytes: 123})
	e.close()
	s, err := Open(Options{Dir: e.dir, IndexDir: e.index, Logger: testLogger(),
		ConfigFor: func(topic string, _ int32) (PartitionConfig, bool) {
			return PartitionConfig{SegmentBytes: 77}, topic == "t"
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, _ := s.Partition("t", 0)
	q, _ := s.Partition("u", 0)
	if p.Config().SegmentBytes != 77 || q.Config() != defaultPartitionConfig {
		t.Fatalf("configs %+v %+v", p.Config(), q.Config())
	}
}

func TestUseAfterClose(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	appendBatch(t, p, makeBatch(t, batchSpec{records: 2}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			if _, err := p.Read(0, 100); err != nil {
				if !errors.Is(err, ErrPartitionClosed) {
					t.Errorf("read during close: %v", err)
				}
				return
			}
			p.OffsetForTimestamp(0)
		}
	}()
	e.close()
	<-done
	_, err := p.Read(0, 100)
	wantErr(t, err, ErrPartitionClosed)
	_, err = p.Append(makeBatch(t, batchSpec{}), mustHeader(t, makeBatch(t, batchSpec{})))
	wantErr(t, err, ErrPartitionClosed)
	_, err = p.DeleteRecordsBefore(1)
	wantErr(t, err, ErrPartitionClosed)
	if _, ok := e.s.Partition("t", 0); ok {
		t.Fatal("Partition after Close")
	}
	if _, err := e.s.CreatePartition("t", 1, PartitionConfig{}); !errors.Is(err, ErrPartitionClosed) {
		t.Fatalf("CreatePartition after Close: %v", err)
	}
	if err := e.s.DeleteTopic("t"); !errors.Is(err, ErrPartitionClosed) {
		t.Fatalf("DeleteTopic after Close: %v", err)
	}
	e.s.RunRetention()
	select {
	case <-p.Wait():
	default:
		t.Fatal("Wait on a closed partition blocks")
	}
}
