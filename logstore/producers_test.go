package logstore

import (
	"errors"
	"math"
	"os"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func idem(t testing.TB, pid int64, epoch int16, seq int32, records int) []byte {
	return makeBatch(t, batchSpec{records: records, pidSet: true, pid: pid, epoch: epoch, seq: seq, baseTs: 1})
}

func TestIdempotentProducer(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})

	r1 := appendBatch(t, p, idem(t, 7, 0, 0, 3)) // seq 0..2, offsets 0..2
	r2 := appendBatch(t, p, idem(t, 7, 0, 3, 2)) // seq 3..4, offsets 3..4
	appendBatch(t, p, makeBatch(t, batchSpec{records: 1}))
	if r1.BaseOffset != 0 || r2.BaseOffset != 3 {
		t.Fatalf("offsets %+v %+v", r1, r2)
	}

	// A retry of the last batch and of an older cached one: original
	// offsets, Duplicate, nothing written.
	for _, tc := range []struct {
		seq     int32
		records int
		want    AppendResult
	}{{3, 2, r2}, {0, 3, r1}} {
		res, err := p.Append(idem(t, 7, 0, tc.seq, tc.records), mustHeader(t, idem(t, 7, 0, tc.seq, tc.records)))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Duplicate || res.BaseOffset != tc.want.BaseOffset || res.LastOffset != tc.want.LastOffset {
			t.Fatalf("retry of seq %d: %+v", tc.seq, res)
		}
	}
	if p.LogEndOffset() != 6 {
		t.Fatalf("duplicates were written: LEO %d", p.LogEndOffset())
	}

	// Gap.
	b := idem(t, 7, 0, 6, 1)
	_, err := p.Append(b, mustHeader(t, b))
	wantErr(t, err, ErrOutOfOrderSequence)
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke != kerr.OutOfOrderSequenceNumber {
		t.Fatalf("kafka code: %v", err)
	}
	// Same first sequence, different range: not a duplicate, out of order.
	b = idem(t, 7, 0, 3, 1)
	_, err = p.Append(b, mustHeader(t, b))
	wantErr(t, err, ErrOutOfOrderSequence)

	// New epoch must start at 0.
	b = idem(t, 7, 1, 5, 1)
	_, err = p.Append(b, mustHeader(t, b))
	wantErr(t, err, ErrOutOfOrderSequence)
	r3 := appendBatch(t, p, idem(t, 7, 1, 0, 1))
	if r3.BaseOffset != 6 {
		t.Fatalf("epoch bump batch at %d", r3.BaseOffset)
	}
	// Old epoch is fenced, even for what used to be a duplicate.
	b = idem(t, 7, 0, 5, 1)
	_, err = p.Append(b, mustHeader(t, b))
	wantErr(t, err, ErrInvalidProducerEpoch)
	b = idem(t, 7, 0, 3, 2)
	_, err = p.Append(b, mustHeader(t, b))
	wantErr(t, err, ErrInvalidProducerEpoch)

	// Unknown producer: any first sequence is accepted (Kafka >= 2.5).
	appendBatch(t, p, idem(t, 8, 0, 42, 1))
	// ...and is then tracked.
	b = idem(t, 8, 0, 44, 1)
	_, err = p.Append(b, mustHeader(t, b))
	wantErr(t, err, ErrOutOfOrderSequence)

	// Only the last 5 batches are remembered.
	for seq := int32(1); seq <= 6; seq++ {
		appendBatch(t, p, idem(t, 7, 1, seq, 1))
	}
	b = idem(t, 7, 1, 1, 1) // evicted: now just out of order
	_, err = p.Append(b, mustHeader(t, b))
	wantErr(t, err, ErrOutOfOrderSequence)
	b = idem(t, 7, 1, 2, 1) // oldest retained
	if res, err := p.Append(b, mustHeader(t, b)); err != nil || !res.Duplicate {
		t.Fatalf("retained duplicate: %+v %v", res, err)
	}
	leo := p.LogEndOffset()

	// State survives a clean restart, a crash, and the loss of the index.
	for _, how := range []string{"close", "crash", "rmindex"} {
		switch how {
		case "close":
			e.close()
		case "crash":
			e.crash()
		case "rmindex":
			e.close()
			if err := os.RemoveAll(e.index); err != nil {
				t.Fatal(err)
			}
		}
		e.open()
		p = e.part("t", 0)
		if p.LogEndOffset() != leo {
			t.Fatalf("%s: LEO %d, want %d", how, p.LogEndOffset(), leo)
		}
		b = idem(t, 7, 1, 6, 1)
		res, err := p.Append(b, mustHeader(t, b))
		if err != nil || !res.Duplicate || res.LastOffset != leo-1 {
			t.Fatalf("%s: retry after restart: %+v %v", how, res, err)
		}
		b = idem(t, 7, 1, 8, 1)
		_, err = p.Append(b, mustHeader(t, b))
		wantErr(t, err, ErrOutOfOrderSequence)
		b = idem(t, 7, 0, 0, 1)
		_, err = p.Append(b, mustHeader(t, b))
		wantErr(t, err, ErrInvalidProducerEpoch)
	}
	appendBatch(t, p, idem(t, 7, 1, 7, 1))
}

func TestSequenceWraparound(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	appendBatch(t, p, idem(t, 1, 0, math.MaxInt32-1, 3)) // MaxInt32-1, MaxInt32, 0
	h := mustHeader(t, idem(t, 1, 0, math.MaxInt32-1, 3))
	if h.LastSequence() != 0 {
		t.Fatalf("last sequence %d", h.LastSequence())
	}
	appendBatch(t, p, idem(t, 1, 0, 1, 1))
	appendBatch(t, p, idem(t, 2, 0, math.MaxInt32, 1))
	appendBatch(t, p, idem(t, 2, 0, 0, 1))
}

func TestControlBatchBumpsEpoch(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	appendBatch(t, p, makeBatch(t, batchSpec{pidSet: true, pid: 3, epoch: 0, seq: 0, attrs: attrTransactional}))
	marker := appendMarkerBatch(nil, 3, 1, true, 0, 0, 1)
	appendBatch(t, p, marker)
	b := idem(t, 3, 0, 1, 1)
	_, err := p.Append(b, mustHeader(t, b))
	wantErr(t, err, ErrInvalidProducerEpoch)
	old := appendMarkerBatch(nil, 3, 0, false, 0, 0, 1)
	_, err = p.Append(old, mustHeader(t, old))
	wantErr(t, err, ErrInvalidProducerEpoch)
	// A control batch whose record is no EndTransactionMarker is refused.
	bogus := makeBatch(t, batchSpec{pidSet: true, pid: 3, epoch: 1, seq: -1, attrs: attrTransactional | attrControl})
	_, err = p.Append(bogus, mustHeader(t, bogus))
	wantErr(t, err, ErrInvalidRecord)
	appendBatch(t, p, idem(t, 3, 1, 0, 1))
}

func TestProducerExpiration(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	now := e.clock.Now().UnixMilli()
	appendBatch(t, p, makeBatch(t, batchSpec{pidSet: true, pid: 5, epoch: 0, seq: 0, baseTs: now}))
	e.clock.ms.Add(int64(defaultProducerIDExpiration/1e6) + 1)
	e.s.RunRetention()
	// Forgotten: a sequence that would have been a gap is accepted.
	appendBatch(t, p, idem(t, 5, 0, 9, 1))
}
