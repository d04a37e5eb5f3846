package coordinator

import (
	"encoding/binary"
	"errors"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/logstore"
)

// TestManagedElectResign: in Managed mode a partition is served only
// between Elect and Resign: NOT_COORDINATOR before, writes refused
// without loading, COORDINATOR_LOAD_IN_PROGRESS from Elect until the
// replay is done, writes through the Appender in the elected epoch with
// that epoch stamped in the batch, events of older epochs ignored, and
// after Resign the state machine unloaded and writes refused again.
func TestManagedElectResign(t *testing.T) {
	_, lp := openPartition(t)
	var mu sync.Mutex
	var sms []*recorder
	var appendEpochs []int32
	loaded := make(chan int32, 4)
	block := make(chan struct{})
	first := true
	rt := New(Options{Topic: "__internal", Managed: true,
		Logs: func(int32, bool) (*logstore.Partition, error) {
			mu.Lock()
			wait := first
			first = false
			mu.Unlock()
			if wait {
				<-block // hold the first load so its status can be seen
			}
			return lp, nil
		},
		NewStateMachine: func(int32) StateMachine {
			r := &recorder{}
			mu.Lock()
			sms = append(sms, r)
			mu.Unlock()
			return r
		},
		Append: func(p, epoch int32, fn func(int32) (int64, error)) error {
			mu.Lock()
			appendEpochs = append(appendEpochs, epoch)
			mu.Unlock()
			_, err := fn(epoch)
			return err
		},
		OnLoaded: func(p int32) { loaded <- p },
	})
	defer rt.Close()
	rec := []Record{{Key: []byte("k"), Value: []byte("v")}}
	if err := rt.Status(0); !errors.Is(err, kerr.NotCoordinator) {
		t.Fatalf("status before election: %v", err)
	}
	if err := rt.Write(0, rec, WriteOptions{}, nil); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("write before election: %v", err)
	}
	if lp.LogEndOffset() != 0 {
		t.Fatal("a write before the election reached the log")
	}
	rt.Elect(0, 4)
	if err := rt.Status(0); !errors.Is(err, kerr.CoordinatorLoadInProgress) {
		t.Fatalf("status while loading: %v", err)
	}
	close(block)
	if p := <-loaded; p != 0 {
		t.Fatalf("OnLoaded(%d)", p)
	}
	if err := rt.Status(0); err != nil {
		t.Fatalf("status after load: %v", err)
	}
	if err := rt.Write(0, rec, WriteOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := lp.Read(0, 1<<20)
	if err != nil || len(res.Batches) < 61 {
		t.Fatalf("read: %v", err)
	}
	if e := int32(binary.BigEndian.Uint32(res.Batches[12:])); e != 4 {
		t.Fatalf("batch partition leader epoch %d, want 4", e)
	}
	res.Release()
	if rt.Epoch(0) != 4 {
		t.Fatalf("Epoch = %d", rt.Epoch(0))
	}

	// A newer election while loaded only moves the epoch on.
	rt.Elect(0, 6)
	rt.WaitIdle()
	if err := rt.Write(0, rec, WriteOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(sms) != 1 || len(appendEpochs) != 2 || appendEpochs[0] != 4 || appendEpochs[1] != 6 {
		t.Fatalf("state machines %d, append epochs %v", len(sms), appendEpochs)
	}
	mu.Unlock()
	// A resignation older than the current epoch is ignored.
	rt.Resign(0, 5)
	rt.WaitIdle()
	if err := rt.Status(0); err != nil {
		t.Fatalf("status after a stale resignation: %v", err)
	}
	rt.Resign(0, 7)
	rt.WaitIdle()
	if err := rt.Status(0); !errors.Is(err, kerr.NotCoordinator) {
		t.Fatalf("status after resignation: %v", err)
	}
	mu.Lock()
	dropped := sms[0].dropped
	mu.Unlock()
	if !dropped {
		t.Fatal("resignation did not unload the state machine")
	}
	if err := rt.Write(0, rec, WriteOptions{}, nil); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("write after resignation: %v", err)
	}
	// An election older than the resignation is ignored; a newer one
	// replays both records.
	rt.Elect(0, 7)
	rt.WaitIdle()
	if err := rt.Status(0); !errors.Is(err, kerr.NotCoordinator) {
		t.Fatalf("status after a stale election: %v", err)
	}
	rt.Elect(0, 8)
	<-loaded
	mu.Lock()
	defer mu.Unlock()
	if len(sms) != 2 || len(sms[1].recs) != 2 {
		t.Fatalf("re-election replayed %d state machines, %+v", len(sms), sms[len(sms)-1].recs)
	}
}
