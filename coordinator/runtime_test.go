package coordinator

import (
	"bytes"
	"path/filepath"
	"testing"

	"samsa/logstore"
)

func openPartition(t testing.TB) (*logstore.Store, *logstore.Partition) {
	t.Helper()
	dir := t.TempDir()
	st, err := logstore.Open(logstore.Options{Dir: dir, IndexDir: filepath.Join(dir, ".idx")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	lp, err := st.CreatePartition("__internal", 0, logstore.PartitionConfig{SegmentBytes: 1 << 20, RetentionBytes: -1, RetentionMs: -1})
	if err != nil {
		t.Fatal(err)
	}
	return st, lp
}

type recorder struct {
	recs    []Record
	offs    []int64
	loaded  bool
	dropped bool
}

func (r *recorder) Replay(off int64, rec Record) error {
	r.offs = append(r.offs, off)
	r.recs = append(r.recs, Record{Key: bytes.Clone(rec.Key), Value: bytes.Clone(rec.Value)})
	return nil
}
func (r *recorder) LoadComplete() { r.loaded = true }
func (r *recorder) Unload()       { r.dropped = true }

// TestWriteReplayEveryCodec: records written (values, tombstones) in
// every codec come back from the log in order, with their offsets, in a
// new runtime's replay, with a load buffer smaller than a batch.
func TestWriteReplayEveryCodec(t *testing.T) {
	for codec := 0; codec <= 4; codec++ {
		_, lp := openPartition(t)
		var sms []*recorder
		rt := New(Options{Topic: "__internal", Compression: codec, LoadBufferSize: 100,
			Logs: func(int32, bool) (*logstore.Partition, error) { return lp, nil },
			NewStateMachine: func(int32) StateMachine {
				r := &recorder{}
				sms = append(sms, r)
				return r
			}})
		want := []Record{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: nil}, {Key: []byte("a"), Value: bytes.Repeat([]byte("x"), 300)}}
		applied := int64(-2)
		if err := rt.Write(0, want[:2], WriteOptions{}, func(last int64) { applied = last }); err != nil {
			t.Fatal(err)
		}
		if err := rt.Write(0, want[2:], WriteOptions{Sync: true}, nil); err != nil {
			t.Fatal(err)
		}
		if applied != 1 {
			t.Fatalf("codec %d: apply saw last offset %d", codec, applied)
		}
		rt.Close()
		if !sms[0].dropped {
			t.Fatal("Close did not unload")
		}
		rt2 := New(Options{Topic: "__internal", LoadBufferSize: 100,
			Logs: func(int32, bool) (*logstore.Partition, error) { return lp, nil },
			NewStateMachine: func(int32) StateMachine {
				r := &recorder{}
				sms = append(sms, r)
				return r
			}})
		if ok, err := rt2.Load(0, false); !ok || err != nil {
			t.Fatalf("load: %v %v", ok, err)
		}
		got := sms[len(sms)-1]
		if !got.loaded || len(got.recs) != 3 || got.offs[2] != 2 {
			t.Fatalf("codec %d: replayed %+v at %v", codec, got.recs, got.offs)
		}
		for i := range want {
			if !bytes.Equal(got.recs[i].Key, want[i].Key) || !bytes.Equal(got.recs[i].Value, want[i].Value) || (got.recs[i].Value == nil) != (want[i].Value == nil) {
				t.Fatalf("codec %d record %d: %+v, want %+v", codec, i, got.recs[i], want[i])
			}
		}
		rt2.Close()
		if err := rt2.Write(0, want, WriteOptions{}, nil); err == nil {
			t.Fatal("write after Close accepted")
		}
	}
}

// FuzzReplayBatches: arbitrary bytes as stored batches never panic the
// replay decoder.
func FuzzReplayBatches(f *testing.F) {
	_, lp := openPartition(f)
	rt := New(Options{Topic: "__internal", Compression: 1,
		Logs:            func(int32, bool) (*logstore.Partition, error) { return lp, nil },
		NewStateMachine: func(int32) StateMachine { return &recorder{} }})
	_ = rt.Write(0, []Record{{Key: []byte("k"), Value: []byte("v")}, {Key: []byte("t")}}, WriteOptions{}, nil)
	res, err := lp.Read(0, 1<<20)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bytes.Clone(res.Batches))
	res.Release()
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = replayBatches(b, 0, func(int64, Record) error { return nil }, nil)
	})
}
