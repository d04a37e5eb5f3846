package txn

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/coordinator"
)

// TestRecordsRoundTrip: a transactional id's state written as
// TxnMetadataKey/TxnMetadataValue v1 replays to the same state (the
// tagged previous/next producer ids and client transaction version
// included), and a tombstone forgets it.
func TestRecordsRoundTrip(t *testing.T) {
	want := txnState{pid: 42, lastPid: 41, epoch: 3, lastEpoch: -1, timeoutMs: 60000, state: kmsg.TransactionStateOngoing,
		partitions: map[TP]struct{}{{"a", 0}: {}, {"a", 2}: {}, {"b", 1}: {}}, startMs: 1000, updateMs: 2000, tv: 2, nextPid: 43}
	s := &shard{loading: map[string]*txnMeta{}}
	if err := s.Replay(0, coordinator.Record{Key: txnKey("tx"), Value: txnValue(&want)}); err != nil {
		t.Fatal(err)
	}
	got, ok := s.loading["tx"]
	if !ok || !reflect.DeepEqual(got.txnState, want) {
		t.Fatalf("replayed %+v, want %+v", got, want)
	}
	if err := s.Replay(1, coordinator.Record{Key: txnKey("tx")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.loading["tx"]; ok {
		t.Fatal("tombstone did not forget the transactional id")
	}
}

// TestPartitionsNullOnlyWhenEmpty: as Kafka's TransactionLog writes it,
// the partitions of a TxnMetadataValue are null for Empty and an array,
// empty if need be, for every other state (Kafka 3.9 reads them for
// every state but Empty and fails on null).
func TestPartitionsNullOnlyWhenEmpty(t *testing.T) {
	for st := range stateNames {
		var v kmsg.TxnMetadataValue
		if err := v.ReadFrom(txnValue(&txnState{pid: 1, state: st, partitions: map[TP]struct{}{}})); err != nil {
			t.Fatal(err)
		}
		if null := v.Topics == nil; null != (st == kmsg.TransactionStateEmpty) {
			t.Errorf("state %s: partitions null = %v", stateNames[st], null)
		}
	}
}

// FuzzReplay feeds arbitrary keys and values to the __transaction_state
// replay: it must return an error or apply a record, never panic, and a
// record it applies must encode back to a value that replays the same.
func FuzzReplay(f *testing.F) {
	st := txnState{pid: 7, lastPid: -1, epoch: 1, lastEpoch: -1, timeoutMs: 1000, state: kmsg.TransactionStatePrepareCommit,
		partitions: map[TP]struct{}{{"t", 0}: {}}, startMs: 5, updateMs: 6, nextPid: -1}
	f.Add(txnKey("id"), txnValue(&st), false)
	f.Add(txnKey("id"), []byte(nil), true)
	f.Add([]byte{0, 0, 0xff, 0xff}, []byte{0, 0}, false)
	f.Add([]byte{0, 1, 0, 1, 'x'}, []byte{}, false)
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		if tombstone {
			value = nil
		}
		s := &shard{loading: map[string]*txnMeta{}}
		if err := s.Replay(0, coordinator.Record{Key: key, Value: value}); err != nil {
			return
		}
		for id, m := range s.loading {
			again := &shard{loading: map[string]*txnMeta{}}
			if err := again.Replay(0, coordinator.Record{Key: txnKey(id), Value: txnValue(&m.txnState)}); err != nil {
				t.Fatalf("re-encoded state of %q does not replay: %v", id, err)
			}
			want := m.txnState
			if !reflect.DeepEqual(again.loading[id].txnState, want) {
				t.Fatalf("re-encoded state of %q replays as %+v, was %+v", id, again.loading[id].txnState, want)
			}
		}
	})
}
