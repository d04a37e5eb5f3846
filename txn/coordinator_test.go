package txn

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/logstore"
)

type marker struct {
	tp     TP
	pid    int64
	epoch  int16
	commit bool
}

// testCoordinator opens a coordinator on a fresh log dir with one
// __transaction_state partition; markers are recorded, producer ids
// count up from 100.
func testCoordinator(t *testing.T, dir string) (*Coordinator, *[]marker, func()) {
	t.Helper()
	st, err := logstore.Open(logstore.Options{Dir: dir, IndexDir: filepath.Join(dir, ".idx")})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var marks []marker
	next := int64(100)
	c, err := Open(Options{
		NumPartitions: 1,
		Logs: func(p int32, create bool) (*logstore.Partition, error) {
			if lp, ok := st.Partition(StateTopic, p); ok {
				return lp, nil
			}
			return st.CreatePartition(StateTopic, p, logstore.PartitionConfig{SegmentBytes: 1 << 20, RetentionBytes: -1, RetentionMs: -1})
		},
		AllocateProducerID: func(context.Context) (int64, error) {
			mu.Lock()
			defer mu.Unlock()
			next++
			return next - 1, nil
		},
		Markers: func(topic string, partition int32, pid int64, epoch int16, commit bool, _ int32) error {
			mu.Lock()
			defer mu.Unlock()
			marks = append(marks, marker{TP{topic, partition}, pid, epoch, commit})
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	closeAll := func() { once.Do(func() { c.Close(); _ = st.Close() }) }
	t.Cleanup(closeAll)
	return c, &marks, closeAll
}

// TestEndTxnV2: at transaction version 2 every EndTxn bumps the epoch
// and the markers carry the bumped one; once the epochs of a producer id
// are exhausted the transaction completes on a new producer id (epoch
// 0), a retry of that EndTxn gets the same answer, and the state
// survives a reload of __transaction_state.
func TestEndTxnV2(t *testing.T) {
	dir := t.TempDir()
	c, marks, closeAll := testCoordinator(t, dir)
	ctx := context.Background()
	pid, epoch, err := c.InitProducerID(ctx, "t", 60000, -1, -1)
	if err != nil || pid != 100 || epoch != 0 {
		t.Fatalf("init: %d/%d %v", pid, epoch, err)
	}
	tp := TP{"a", 0}
	for i := int16(0); i < 3; i++ {
		if err := c.AddPartitions("t", pid, i, []TP{tp}, 2); err != nil {
			t.Fatal(err)
		}
		p, e, err := c.EndTxn(ctx, "t", pid, i, true, true)
		if err != nil || p != pid || e != i+1 {
			t.Fatalf("commit %d: %d/%d %v, want %d/%d", i, p, e, err, pid, i+1)
		}
		if m := (*marks)[len(*marks)-1]; m != (marker{tp, pid, i + 1, true}) {
			t.Fatalf("marker %+v, want epoch %d", m, i+1)
		}
	}
	// A stale epoch is fenced.
	if _, _, err := c.EndTxn(ctx, "t", pid, 1, true, true); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("EndTxn at epoch 1 of 3: %v, want PRODUCER_FENCED", err)
	}

	// Exhaust the epochs: the next bump reaches 32767.
	m := c.lock("t")
	m.epoch = 32766
	m.mu.Unlock()
	if err := c.AddPartitions("t", pid, 32766, []TP{tp}, 2); err != nil {
		t.Fatal(err)
	}
	p, e, err := c.EndTxn(ctx, "t", pid, 32766, false, true)
	if err != nil || p != 101 || e != 0 {
		t.Fatalf("abort at the last epoch: %d/%d %v, want 101/0", p, e, err)
	}
	if m := (*marks)[len(*marks)-1]; m != (marker{tp, pid, 32767, false}) {
		t.Fatalf("marker %+v, want producer %d epoch 32767", m, pid)
	}
	p, e, err = c.EndTxn(ctx, "t", pid, 32766, false, true)
	if err != nil || p != 101 || e != 0 {
		t.Fatalf("retry of the abort: %d/%d %v, want 101/0", p, e, err)
	}
	closeAll()

	c2, _, _ := testCoordinator(t, dir)
	d, ok := c2.Describe("t")
	if !ok || d.ProducerID != 101 || d.Epoch != 0 || d.State != "CompleteAbort" {
		t.Fatalf("after reload: %+v", d)
	}
	p, e, err = c2.EndTxn(ctx, "t", pid, 32766, false, true)
	if err != nil || p != 101 || e != 0 {
		t.Fatalf("retry of the abort after reload: %d/%d %v, want 101/0", p, e, err)
	}
}
