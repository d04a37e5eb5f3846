package logstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
)

// appendEpoch appends a batch of n records stamped with leader epoch.
func appendEpoch(t *testing.T, p *Partition, n int, epoch int32) AppendResult {
	t.Helper()
	b := makeBatch(t, batchSpec{records: n, valueSize: 10, baseTs: 1_700_000_000_000})
	SetPartitionLeaderEpoch(b, epoch)
	return appendBatch(t, p, b)
}

func TestLeaderEpochCacheAndTruncate(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 300})
	appendEpoch(t, p, 3, 0) // 0-2
	appendEpoch(t, p, 2, 0) // 3-4
	appendEpoch(t, p, 2, 2) // 5-6
	appendEpoch(t, p, 3, 5) // 7-9
	if p.NumSegments() < 2 {
		t.Fatalf("want several segments, got %d", p.NumSegments())
	}
	got, err := p.LeaderEpochs()
	if err != nil {
		t.Fatal(err)
	}
	want := []EpochEntry{{0, 0}, {2, 5}, {5, 7}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("epochs %v, want %v", got, want)
	}
	for _, c := range []struct {
		req   int32
		epoch int32
		end   int64
	}{{-1, -1, -1}, {0, 0, 5}, {1, 0, 5}, {2, 2, 7}, {4, 2, 7}, {5, 5, 10}, {6, -1, -1}} {
		ep, end, err := p.EndOffsetForEpoch(c.req)
		if err != nil || ep != c.epoch || end != c.end {
			t.Errorf("EndOffsetForEpoch(%d) = %d, %d, %v; want %d, %d", c.req, ep, end, err, c.epoch, c.end)
		}
	}
	// Cut inside the batch 5-6: the whole batch goes (Kafka cuts at the
	// first batch whose last offset >= target).
	end, err := p.TruncateTo(6)
	if err != nil || end != 5 {
		t.Fatalf("TruncateTo(6) = %d, %v; want 5", end, err)
	}
	if got, _ := p.LeaderEpochs(); !reflect.DeepEqual(got, []EpochEntry{{0, 0}}) {
		t.Fatalf("epochs after truncation %v", got)
	}
	if n := len(readAll(t, p)); n != 2 {
		t.Fatalf("%d batches after truncation, want 2", n)
	}
	// The follower path appends the leader's batches as they are.
	b := makeBatch(t, batchSpec{records: 4, valueSize: 10, baseTs: 1_700_000_000_000})
	setBaseOffset(b, 5)
	SetPartitionLeaderEpoch(b, 7)
	leo, err := p.AppendReplica(b)
	if err != nil || leo != 9 {
		t.Fatalf("AppendReplica = %d, %v", leo, err)
	}
	if _, err := p.AppendReplica(b); err == nil {
		t.Fatal("AppendReplica below the log end succeeded")
	}
	// Reopen: the checkpoint and the log agree.
	e.close()
	e.open()
	p = e.part("t", 0)
	if got, _ := p.LeaderEpochs(); !reflect.DeepEqual(got, []EpochEntry{{0, 0}, {7, 5}}) {
		t.Fatalf("epochs after reopen %v", got)
	}
	bs := readAll(t, p)
	if len(bs) != 3 || !bytes.Equal(bs[2], b) {
		t.Fatalf("replica batch not stored as sent (%d batches)", len(bs))
	}
	// Without the checkpoint the cache is rebuilt from the log.
	e.close()
	if err := os.Remove(filepath.Join(e.dir, "t-0", leaderEpochCheckpoint)); err != nil {
		t.Fatal(err)
	}
	e.open()
	p = e.part("t", 0)
	if got, _ := p.LeaderEpochs(); !reflect.DeepEqual(got, []EpochEntry{{0, 0}, {7, 5}}) {
		t.Fatalf("rebuilt epochs %v", got)
	}
	// Truncating everything starts the log at the offset.
	if end, err := p.TruncateTo(0); err != nil || end != 0 || p.LogEndOffset() != 0 {
		t.Fatalf("TruncateTo(0) = %d, %v", end, err)
	}
	appendEpoch(t, p, 1, 8)
	if got, _ := p.LeaderEpochs(); !reflect.DeepEqual(got, []EpochEntry{{8, 0}}) {
		t.Fatalf("epochs after full truncation %v", got)
	}
}

func TestReplicatedHighWatermark(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	appendEpoch(t, p, 2, 0)
	p.SetReplicated(true, 0)
	appendEpoch(t, p, 3, 0)
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("hw %d", hw)
	}
	res, err := p.Read(0, 1<<20)
	if err != nil || len(res.Batches) != 0 || res.HighWatermark != 0 {
		t.Fatalf("consumer read above hw: %d bytes, hw %d, %v", len(res.Batches), res.HighWatermark, err)
	}
	res.Release()
	res, err = p.ReadReplica(0, 1<<20)
	if err != nil || len(splitBatches(t, res.Batches)) != 2 {
		t.Fatalf("replica read: %v", err)
	}
	res.Release()
	w := p.Wait()
	if !p.MaybeIncrementHighWatermark(2) {
		t.Fatal("hw did not move")
	}
	select {
	case <-w:
	default:
		t.Fatal("hw move did not wake waiters")
	}
	res, _ = p.Read(0, 1<<20)
	if n := len(splitBatches(t, res.Batches)); n != 1 || p.LastStableOffset() != 2 {
		t.Fatalf("consumer read %d batches, lso %d", n, p.LastStableOffset())
	}
	res.Release()
	if p.MaybeIncrementHighWatermark(1) || p.HighWatermark() != 2 {
		t.Fatal("hw went down")
	}
	p.SetReplicated(false, 0)
	if p.HighWatermark() != 5 {
		t.Fatal("single-node hw is not the log end")
	}
}

func FuzzParseLeaderEpochCheckpoint(f *testing.F) {
	f.Add(AppendLeaderEpochCheckpoint(nil, []EpochEntry{{0, 0}, {3, 100}}))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("1\n1\n2 3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseLeaderEpochCheckpoint(data)
		if err != nil {
			return
		}
		again, err := ParseLeaderEpochCheckpoint(AppendLeaderEpochCheckpoint(nil, entries))
		if err != nil || !reflect.DeepEqual(again, entries) {
			t.Fatalf("round trip: %v %v / %v", entries, again, err)
		}
	})
}

// FuzzAppendReplica appends arbitrary bytes as a leader's fetched batches:
// bad input is refused with an error and leaves the log readable and
// consistent with its end offset.
func FuzzAppendReplica(f *testing.F) {
	f.Add(makeBatch(f, batchSpec{records: 2, valueSize: 3, baseTs: 1}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 49})
	e := newEnv(f)
	e.open()
	f.Cleanup(e.close)
	var n atomic.Int32
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := e.s.CreatePartition("t", n.Add(1), PartitionConfig{})
		if err != nil {
			t.Fatal(err)
		}
		leo, err := p.AppendReplica(data)
		if err == nil && leo != p.LogEndOffset() {
			t.Fatalf("returned end %d, log end %d", leo, p.LogEndOffset())
		}
		end := int64(0)
		for _, b := range readAll(t, p) {
			h := mustHeader(t, b)
			end = h.LastOffset() + 1
		}
		if end > p.LogEndOffset() {
			t.Fatalf("batches up to %d past the log end %d", end, p.LogEndOffset())
		}
	})
}

// TestTruncateRebuildsProducerState: after truncation the producer state
// is the one the remaining log implies, so the follower (or a new
// leader) accepts the retried batch that was cut and refuses a gap.
func TestTruncateRebuildsProducerState(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	for seq := int32(0); seq < 9; seq += 3 {
		appendBatch(t, p, makeBatch(t, batchSpec{records: 3, pid: 7, pidSet: true, epoch: 0, seq: seq}))
	}
	if end, err := p.TruncateTo(6); err != nil || end != 6 {
		t.Fatalf("TruncateTo(6) = %d, %v", end, err)
	}
	// seq 6 was cut: it is new again, not a duplicate.
	res := appendBatch(t, p, makeBatch(t, batchSpec{records: 3, pid: 7, pidSet: true, epoch: 0, seq: 6}))
	if res.Duplicate || res.BaseOffset != 6 {
		t.Fatalf("retried batch after truncation: %+v", res)
	}
	b := makeBatch(t, batchSpec{records: 1, pid: 7, pidSet: true, epoch: 0, seq: 12})
	if _, err := p.Append(b, mustHeader(t, b)); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap after truncation: %v", err)
	}
}

// TestTruncateThenCrash: a crash right after a truncation across
// segments recovers the truncated log, not the old tail.
func TestTruncateThenCrash(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 150})
	for i := 0; i < 6; i++ {
		appendEpoch(t, p, 2, int32(i/2))
	}
	if p.NumSegments() < 3 {
		t.Fatalf("want several segments, got %d", p.NumSegments())
	}
	if end, err := p.TruncateTo(4); err != nil || end != 4 {
		t.Fatalf("TruncateTo(4) = %d, %v", end, err)
	}
	e.crash()
	e.open()
	p = e.part("t", 0)
	if leo := p.LogEndOffset(); leo != 4 {
		t.Fatalf("log end after crash %d, want 4", leo)
	}
	if got, _ := p.LeaderEpochs(); !reflect.DeepEqual(got, []EpochEntry{{0, 0}}) {
		t.Fatalf("epochs after crash %v", got)
	}
	if n := len(readAll(t, p)); n != 2 {
		t.Fatalf("%d batches after crash, want 2", n)
	}
}

// TestTruncateAtEndForgetsEmptyEpoch: a replica that became leader in an
// epoch (AssignEpochStart) and wrote nothing in it before following
// again has that epoch (one entry: a later empty epoch replaces an
// earlier one at the same offset) at its log end, which no leader has; truncating
// to the log end (the leader's DivergingEpoch or OffsetForLeaderEpoch
// answer) removes it, as Kafka's UnifiedLog.truncateTo does, so that
// the next fetch's LastFetchedEpoch is one the leader knows.
func TestTruncateAtEndForgetsEmptyEpoch(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	appendEpoch(t, p, 3, 0) // 0-2
	appendEpoch(t, p, 2, 1) // 3-4
	if err := p.AssignEpochStart(2); err != nil {
		t.Fatal(err)
	}
	want := []EpochEntry{{0, 0}, {1, 3}, {2, 5}}
	if got, _ := p.LeaderEpochs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("epochs after AssignEpochStart(2): %v, want %v", got, want)
	}
	// Leader again in epoch 3, still without writing: 3 replaces 2
	// (Kafka's LeaderEpochFileCache.assign).
	if err := p.AssignEpochStart(3); err != nil {
		t.Fatal(err)
	}
	want = []EpochEntry{{0, 0}, {1, 3}, {3, 5}}
	if got, _ := p.LeaderEpochs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("epochs after AssignEpochStart(3): %v, want %v", got, want)
	}
	if end, err := p.TruncateTo(5); err != nil || end != 5 {
		t.Fatalf("TruncateTo(5) = %d, %v", end, err)
	}
	want = want[:2]
	if got, _ := p.LeaderEpochs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("epochs after TruncateTo(log end): %v, want %v", got, want)
	}
	if ep, end, err := p.EndOffsetForEpoch(1); err != nil || ep != 1 || end != 5 {
		t.Fatalf("EndOffsetForEpoch(1) = %d, %d, %v; want 1, 5", ep, end, err)
	}
	// Past the log end too, and the checkpoint says the same after a crash.
	if end, err := p.TruncateTo(9); err != nil || end != 5 {
		t.Fatalf("TruncateTo(9) = %d, %v", end, err)
	}
	e.crash()
	e.open()
	if got, _ := e.part("t", 0).LeaderEpochs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("epochs after a crash: %v, want %v", got, want)
	}
}
