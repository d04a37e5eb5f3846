package logstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnBatch is a transactional data batch of producer pid (records records,
// base sequence seq).
func txnBatch(t testing.TB, pid int64, epoch int16, seq int32, records int) []byte {
	return makeBatch(t, batchSpec{records: records, pidSet: true, pid: pid, epoch: epoch, seq: seq, baseTs: 1, attrs: attrTransactional})
}

// setTransactional turns b into a transactional batch (CRC recomputed).
func setTransactional(b []byte) []byte {
	be := binary.BigEndian
	be.PutUint16(b[offAttributes:], be.Uint16(b[offAttributes:])|attrTransactional)
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

func mustMarker(t testing.TB, p *Partition, pid int64, epoch int16, commit bool, coordEpoch int32) AppendResult {
	t.Helper()
	res, err := p.AppendMarker(pid, epoch, commit, coordEpoch, 0, 0)
	if err != nil {
		t.Fatalf("marker: %v", err)
	}
	return res
}

// readCommitted reads everything a read_committed consumer may see from
// off, returning the batches' base offsets and the aborted transactions.
func readCommitted(t testing.TB, p *Partition, off int64) (bases []int64, aborted []AbortedTxn) {
	t.Helper()
	for {
		res, ab, err := p.ReadCommitted(off, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if res.LastStableOffset != p.LastStableOffset() {
			t.Fatalf("read says LSO %d, partition %d", res.LastStableOffset, p.LastStableOffset())
		}
		aborted = append(aborted, ab...)
		if len(res.Batches) == 0 {
			res.Release()
			return bases, aborted
		}
		for _, b := range splitBatches(t, res.Batches) {
			h := mustHeader(t, b)
			if h.BaseOffset >= res.LastStableOffset {
				t.Fatalf("batch at %d returned at or past the LSO %d", h.BaseOffset, res.LastStableOffset)
			}
			bases = append(bases, h.BaseOffset)
			off = h.LastOffset() + 1
		}
		res.Release()
	}
}

func TestTxnLastStableOffset(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	if p.LastStableOffset() != 0 {
		t.Fatalf("empty LSO %d", p.LastStableOffset())
	}
	appendBatch(t, p, idem(t, 9, 0, 0, 1))                // 0: plain idempotent
	appendBatch(t, p, txnBatch(t, 1, 0, 0, 2))            // 1-2: txn of 1
	appendBatch(t, p, txnBatch(t, 2, 0, 0, 1))            // 3: txn of 2
	appendBatch(t, p, txnBatch(t, 1, 0, 2, 1))            // 4: txn of 1
	appendBatch(t, p, makeBatch(t, batchSpec{baseTs: 1})) // 5: plain
	if got := p.LastStableOffset(); got != 1 || p.HighWatermark() != 6 {
		t.Fatalf("LSO %d HW %d, want 1 6", got, p.HighWatermark())
	}
	if b, _ := readCommitted(t, p, 0); !reflect.DeepEqual(b, []int64{0}) {
		t.Fatalf("read_committed saw %v", b)
	}
	// At or past the LSO (and up to the log end), read_committed is empty.
	if b, _ := readCommitted(t, p, 3); len(b) != 0 {
		t.Fatalf("read_committed past the LSO saw %v", b)
	}
	if n := len(readAll(t, p)); n != 5 {
		t.Fatalf("read_uncommitted saw %d batches", n)
	}
	// A plain write from producer 1 while its transaction is open.
	b := idem(t, 1, 0, 3, 1)
	_, err := p.Append(b, mustHeader(t, b))
	wantErr(t, err, ErrInvalidTxnState)

	mustMarker(t, p, 1, 0, true, 0) // 6: commit 1
	if got := p.LastStableOffset(); got != 3 {
		t.Fatalf("LSO after commit of 1: %d, want 3", got)
	}
	mustMarker(t, p, 2, 0, false, 0) // 7: abort 2
	if got := p.LastStableOffset(); got != 8 || p.HighWatermark() != 8 {
		t.Fatalf("LSO %d HW %d after both markers", got, p.HighWatermark())
	}
	bases, aborted := readCommitted(t, p, 0)
	if !reflect.DeepEqual(bases, []int64{0, 1, 3, 4, 5, 6, 7}) {
		t.Fatalf("read_committed bases %v", bases)
	}
	want := []AbortedTxn{{ProducerID: 2, FirstOffset: 3, LastOffset: 7, LastStableOffset: 8}}
	if !reflect.DeepEqual(aborted, want) {
		t.Fatalf("aborted %+v, want %+v", aborted, want)
	}
	// A read starting after the aborted data still gets the transaction
	// (its marker is ahead); one starting past the marker does not.
	if _, ab := readCommitted(t, p, 5); !reflect.DeepEqual(ab, want) {
		t.Fatalf("aborted from 5: %+v", ab)
	}
	if _, ab := readCommitted(t, p, 8); len(ab) != 0 {
		t.Fatalf("aborted from 8: %+v", ab)
	}
	// The marker's bytes decode as Kafka's EndTransactionMarker.
	res, err := p.Read(7, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseTxnMarker(res.Batches)
	res.Release()
	if err != nil || m.Commit || m.CoordinatorEpoch != 0 {
		t.Fatalf("marker %+v %v", m, err)
	}
	// After its marker producer 1 may write plain batches again.
	appendBatch(t, p, idem(t, 1, 0, 3, 1))
}

func TestTxnAbortedIndexLSOAtCompletion(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	appendBatch(t, p, txnBatch(t, 1, 0, 0, 1)) // 0
	appendBatch(t, p, txnBatch(t, 2, 0, 0, 1)) // 1
	mustMarker(t, p, 1, 0, false, 0)           // 2: abort 1 while 2 is open
	appendBatch(t, p, txnBatch(t, 1, 0, 1, 1)) // 3: next txn of 1
	mustMarker(t, p, 2, 0, false, 0)           // 4: abort 2 while 1 is open
	mustMarker(t, p, 1, 0, false, 0)           // 5: abort 1
	mustMarker(t, p, 3, 0, true, 0)            // 6: marker of a producer without data
	got, err := p.AbortedTransactions(0, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	want := []AbortedTxn{
		{ProducerID: 1, FirstOffset: 0, LastOffset: 2, LastStableOffset: 1},
		{ProducerID: 2, FirstOffset: 1, LastOffset: 4, LastStableOffset: 3},
		{ProducerID: 1, FirstOffset: 3, LastOffset: 5, LastStableOffset: 6},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("aborted %+v\nwant %+v", got, want)
	}
	// Kafka's stop rule: an entry whose LSO reaches the upper bound ends
	// the search.
	if got, _ := p.AbortedTransactions(0, 1); !reflect.DeepEqual(got, want[:1]) {
		t.Fatalf("upper 1: %+v", got)
	}
	if p.LastStableOffset() != 7 {
		t.Fatalf("LSO %d", p.LastStableOffset())
	}
}

func TestTxnMarkerFencing(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	appendBatch(t, p, txnBatch(t, 1, 3, 0, 1))
	_, err := p.AppendMarker(1, 2, true, 0, 0, 0)
	wantErr(t, err, ErrInvalidProducerEpoch)
	mustMarker(t, p, 1, 3, true, 5)
	// An older coordinator epoch: a zombie coordinator.
	_, err = p.AppendMarker(1, 3, false, 4, 0, 0)
	wantErr(t, err, ErrCoordinatorFenced)
	// TV2 (KIP-890): the marker epoch must be above the data's, except
	// the retry of a marker already written.
	appendBatch(t, p, txnBatch(t, 1, 3, 1, 1))
	_, err = p.AppendMarker(1, 3, true, 5, 0, 2)
	wantErr(t, err, ErrInvalidProducerEpoch)
	if _, err := p.AppendMarker(1, 4, true, 5, 0, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendMarker(1, 4, true, 5, 0, 2); err != nil {
		t.Fatalf("TV2 marker retry: %v", err)
	}
	if p.LastStableOffset() != p.HighWatermark() {
		t.Fatalf("LSO %d HW %d", p.LastStableOffset(), p.HighWatermark())
	}
	// The marker moved the epoch: the old epoch's data is fenced and the
	// new epoch starts at sequence 0.
	b := txnBatch(t, 1, 3, 2, 1)
	_, err = p.Append(b, mustHeader(t, b))
	wantErr(t, err, ErrInvalidProducerEpoch)
	appendBatch(t, p, txnBatch(t, 1, 4, 0, 1))
}

// txnLog writes a log mixing committed, aborted and open transactions
// over several segments and returns what read_committed sees.
func txnLog(t *testing.T, p *Partition) {
	t.Helper()
	seq := map[int64]int32{}
	data := func(pid int64) {
		appendBatch(t, p, txnBatch(t, pid, 0, seq[pid], 2))
		seq[pid] += 2
	}
	for i := 0; i < 10; i++ {
		data(1)
		data(2)
		appendBatch(t, p, makeBatch(t, batchSpec{baseTs: 1, records: 3}))
		data(1)
		mustMarker(t, p, 1, 0, i%2 == 0, 0)
		if i%3 == 0 {
			mustMarker(t, p, 2, 0, false, 0)
		}
	}
	data(2)
	data(3) // open at the end
}

type txnSnapshot struct {
	LSO, HW int64
	Bases   []int64
	Aborted []AbortedTxn
	Ongoing [4]int64
}

func snapshotTxn(t *testing.T, p *Partition) txnSnapshot {
	t.Helper()
	s := txnSnapshot{LSO: p.LastStableOffset(), HW: p.HighWatermark()}
	s.Bases, s.Aborted = readCommitted(t, p, p.LogStartOffset())
	for i := range s.Ongoing {
		s.Ongoing[i] = p.OngoingTxn(int64(i))
	}
	return s
}

func TestTxnStateSurvivesRestart(t *testing.T) {
	for _, how := range []string{"clean", "crash", "crash-lost-index", "crash-lost-middle", "deleted-index"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t)
			e.open()
			p := e.create("t", 0, PartitionConfig{SegmentBytes: 600})
			txnLog(t, p)
			before := snapshotTxn(t, p)
			if before.LSO >= before.HW || before.Ongoing[2] < 0 || before.Ongoing[3] < 0 || len(before.Aborted) == 0 {
				t.Fatalf("test log has no open transaction or no abort: %+v", before)
			}
			if len(p.segs) < 3 {
				t.Fatalf("only %d segments", len(p.segs))
			}
			switch how {
			case "clean":
				e.close()
			case "crash":
				e.crash()
			case "crash-lost-index":
				// The index lost the entries of the middle segments
				// (markers and aborted entries together, as a lost
				// memtable would): recovery re-indexes them.
				x := &e.s.idx
				b := x.db.NewBatch()
				if err := x.deleteSegmentRange(b, p.lc().pid, p.segs[1].base, -1); err != nil {
					t.Fatal(err)
				}
				if err := b.Commit(pebble.NoSync); err != nil {
					t.Fatal(err)
				}
				e.crash()
			case "crash-lost-middle":
				// Only a middle segment lost its entries: recovery
				// indexes it out of offset order and replays producer
				// state from the whole index afterwards.
				x := &e.s.idx
				b := x.db.NewBatch()
				if err := x.deleteSegmentRange(b, p.lc().pid, p.segs[1].base, p.segs[2].base); err != nil {
					t.Fatal(err)
				}
				if err := b.Commit(pebble.NoSync); err != nil {
					t.Fatal(err)
				}
				e.close()
			case "deleted-index":
				e.close()
				if err := os.RemoveAll(e.index); err != nil {
					t.Fatal(err)
				}
			}
			e.open()
			p = e.part("t", 0)
			after := snapshotTxn(t, p)
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("after %s restart:\n got %+v\nwant %+v", how, after, before)
			}
			// The open transactions still end with their markers.
			mustMarker(t, p, 2, 0, true, 0)
			mustMarker(t, p, 3, 0, false, 0)
			if p.LastStableOffset() != p.HighWatermark() {
				t.Fatalf("LSO %d HW %d", p.LastStableOffset(), p.HighWatermark())
			}
		})
	}
}

func TestTxnRetentionDropsAbortedEntries(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 600, RetentionBytes: -1, RetentionMs: -1})
	txnLog(t, p)
	all, _ := p.AbortedTransactions(0, math.MaxInt64)
	p.mu.RLock()
	cut := p.segs[2].base
	p.mu.RUnlock()
	if _, err := p.DeleteRecordsBefore(cut); err != nil {
		t.Fatal(err)
	}
	left, _ := p.AbortedTransactions(0, math.MaxInt64)
	var want []AbortedTxn
	for _, a := range all {
		if a.LastOffset >= cut {
			want = append(want, a)
		}
	}
	if len(want) == len(all) || !reflect.DeepEqual(left, want) {
		t.Fatalf("after DeleteRecords(%d): %+v, want %+v", cut, left, want)
	}
	e.close()
	e.open()
	if left, _ = e.part("t", 0).AbortedTransactions(0, math.MaxInt64); !reflect.DeepEqual(left, want) {
		t.Fatalf("after restart: %+v, want %+v", left, want)
	}
}

func TestCleanerTransactions(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("c", 0, compactCfg())
	kb := func(pid int64, seq int32, key, val string) []byte {
		b := keyedBatch(t, keyedSpec{recs: []kv{{[]byte(key), []byte(val)}}, ts: e.clock.ms.Load(), pid: pid, seq: seq})
		if pid >= 0 {
			b = setTransactional(b)
		}
		return b
	}
	seq := map[int64]int32{}
	put := func(pid int64, key, val string) {
		appendBatch(t, p, kb(pid, seq[pid], key, val))
		seq[pid]++
	}
	for i := 0; i < 30; i++ {
		k := fmt.Sprintf("k%02d", i)
		put(1, k, "committed")
		mustMarker(t, p, 1, 0, true, 0)
		put(2, k, "aborted") // a later value of the same key, aborted
		mustMarker(t, p, 2, 0, false, 0)
	}
	put(3, "k00", "open") // open transaction: nothing from here is cleaned
	for i := 0; i < 40; i++ {
		put(-1, fmt.Sprintf("z%02d", i), "plain")
	}
	lso := p.LastStableOffset()
	if _, err := e.s.CleanNow(); err != nil {
		t.Fatal(err)
	}
	recs, hs := decodeLog(t, p)
	markers := 0
	for _, h := range hs {
		if h.IsControl() {
			markers++
		}
	}
	if markers != 60 {
		t.Fatalf("%d markers left, want all 60", markers)
	}
	// Below the LSO, every key keeps its committed value; the aborted
	// values are gone (keeping only a producer's last batch header).
	byKey := map[string][]string{}
	for _, r := range recs {
		if r.offset < lso && len(r.key) == 3 && r.key[0] == 'k' && len(r.value) != 6 {
			byKey[r.key] = append(byKey[r.key], string(r.value))
		}
		if r.offset < lso && string(r.value) == "aborted" {
			t.Fatalf("aborted record at %d survived cleaning", r.offset)
		}
	}
	for i := 0; i < 30; i++ {
		k := fmt.Sprintf("k%02d", i)
		if v := byKey[k]; !reflect.DeepEqual(v, []string{"committed"}) {
			t.Fatalf("key %s: %v", k, v)
		}
	}
	// The open transaction is untouched and still open.
	if got := p.LastStableOffset(); got != lso || p.OngoingTxn(3) != lso {
		t.Fatalf("LSO %d (was %d), open txn %d", got, lso, p.OngoingTxn(3))
	}
	bases, _ := readCommitted(t, p, 0)
	if len(bases) == 0 {
		t.Fatal("nothing readable")
	}
	// Producer state and the LSO survive a restart after cleaning.
	e.crash()
	e.open()
	p = e.part("c", 0)
	if p.LastStableOffset() != lso || p.OngoingTxn(3) != lso {
		t.Fatalf("after restart: LSO %d open %d, want %d", p.LastStableOffset(), p.OngoingTxn(3), lso)
	}
	mustMarker(t, p, 3, 0, false, 0)
	cfg := compactCfg()
	cfg.MinCleanableDirtyRatio = 0
	p.SetConfig(cfg)
	if st, err := e.s.CleanNow(); err != nil || st.Segments == 0 {
		t.Fatalf("second clean: %+v %v", st, err)
	}
	recs, _ = decodeLog(t, p)
	for _, r := range recs {
		if string(r.value) == "open" && r.offset < p.segs[len(p.segs)-1].base {
			t.Fatalf("aborted record %+v survived", r)
		}
	}
	commits, aborts := checkMarkers(t, p)
	if commits != 30 || aborts < 30 {
		t.Fatalf("markers went before delete.retention.ms: %d commits, %d aborts", commits, aborts)
	}

	// Once delete.retention.ms has passed (segment ages come from file
	// mtimes after the restart), the ABORT markers whose data is gone go
	// too, with their aborted-transaction entries; COMMIT markers whose
	// data is still there stay.
	e.clock.ms.Store(time.Now().UnixMilli() + 5*60_000)
	for i := 0; i < 2; i++ {
		if err := p.setCleanerCheckpoint(0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.CleanNow(); err != nil {
			t.Fatal(err)
		}
	}
	commits, aborts = checkMarkers(t, p)
	if commits != 30 || aborts > 5 {
		t.Fatalf("after delete.retention.ms: %d commits (want 30), %d aborts (want at most a few)", commits, aborts)
	}
	snap := snapshotTxn(t, p)
	e.crash()
	e.open()
	p = e.part("c", 0)
	checkMarkers(t, p)
	if after := snapshotTxn(t, p); !reflect.DeepEqual(after, snap) {
		t.Fatalf("after restart:\n got %+v\nwant %+v", after, snap)
	}
	if snap.LSO != snap.HW {
		t.Fatalf("LSO %d HW %d", snap.LSO, snap.HW)
	}
	vals := map[string]string{}
	recs, _ = decodeLog(t, p)
	bases, _ = readCommitted(t, p, 0)
	if len(bases) == 0 {
		t.Fatal("nothing readable")
	}
	for _, r := range recs {
		if len(r.key) == 3 {
			vals[r.key] = string(r.value)
		}
	}
	for i := 0; i < 30; i++ {
		if k := fmt.Sprintf("k%02d", i); vals[k] != "committed" {
			t.Fatalf("key %s: %q", k, vals[k])
		}
	}
}

// checkMarkers checks that the aborted-transaction index and the log
// agree: every entry's ABORT marker is in the log, and every ABORT
// marker in the log has an entry when a batch of its transaction is
// left. It returns the numbers of COMMIT and ABORT markers.
func checkMarkers(t *testing.T, p *Partition) (commits, aborts int) {
	t.Helper()
	entries, err := p.AbortedTransactions(0, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	byMarker := map[int64]AbortedTxn{}
	for _, a := range entries {
		byMarker[a.LastOffset] = a
	}
	lastData := map[int64]int64{} // producer -> base offset of its last transactional data batch
	for _, b := range readAll(t, p) {
		h := mustHeader(t, b)
		if !h.IsControl() {
			if h.IsTransactional() {
				lastData[h.ProducerID] = h.BaseOffset
			}
			continue
		}
		if h.NumRecords == 0 {
			continue
		}
		m, err := ParseTxnMarker(b)
		if err != nil {
			t.Fatalf("marker at %d: %v", h.BaseOffset, err)
		}
		if m.Commit {
			commits++
			continue
		}
		aborts++
		a, ok := byMarker[h.BaseOffset]
		delete(byMarker, h.BaseOffset)
		if d, has := lastData[h.ProducerID]; has && ok && d < a.FirstOffset {
			t.Fatalf("entry %+v: no batch of its transaction before the marker", a)
		}
	}
	if len(byMarker) > 0 {
		t.Fatalf("aborted-transaction entries without their marker: %+v", byMarker)
	}
	return commits, aborts
}

func TestParseTxnMarker(t *testing.T) {
	for _, commit := range []bool{false, true} {
		b := appendMarkerBatch(nil, 7, 3, commit, 42, 9, 1000)
		if len(b) != markerBatchSize || !VerifyCRC(b) {
			t.Fatalf("marker batch: %d bytes, CRC ok %v", len(b), VerifyCRC(b))
		}
		m, err := ParseTxnMarker(b)
		if err != nil || m.Commit != commit || m.CoordinatorEpoch != 42 {
			t.Fatalf("%+v %v", m, err)
		}
		h := mustHeader(t, b)
		if !h.IsControl() || !h.IsTransactional() || h.ProducerID != 7 || h.ProducerEpoch != 3 || h.BaseSequence != -1 || h.NumRecords != 1 || h.PartitionLeaderEpoch != 9 {
			t.Fatalf("header %+v", h)
		}
	}
	if _, err := ParseTxnMarker(makeBatch(t, batchSpec{baseTs: 1})); err == nil {
		t.Fatal("data batch parsed as a marker")
	}
}

func FuzzParseTxnMarker(f *testing.F) {
	f.Add(appendMarkerBatch(nil, 1, 0, true, 0, 0, 0))
	f.Add(appendMarkerBatch(nil, 1, 0, false, -1, 0, 0))
	f.Add(makeBatch(f, batchSpec{baseTs: 1, attrs: attrControl | attrTransactional, pidSet: true, pid: 1, seq: -1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMarker(b)
		if err == nil && m.kind >= 0 {
			// A decoded marker re-encodes to a batch that decodes alike.
			h := mustHeader(t, b)
			r := appendMarkerBatch(nil, h.ProducerID, h.ProducerEpoch, m.kind == markerCommit, m.coordEpoch, 0, 0)
			m2, err := parseMarker(r)
			if err != nil || m2 != m {
				t.Fatalf("re-encoded %+v: %+v %v", m, m2, err)
			}
		}
	})
}

func TestTxnLSONotBelowLogStart(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 300, RetentionBytes: -1, RetentionMs: -1})
	appendBatch(t, p, txnBatch(t, 1, 0, 0, 1)) // 0: stays open
	for i := 0; i < 10; i++ {
		appendBatch(t, p, makeBatch(t, batchSpec{baseTs: 1, records: 2}))
	}
	if p.LastStableOffset() != 0 {
		t.Fatalf("LSO %d", p.LastStableOffset())
	}
	p.mu.RLock()
	cut := p.segs[1].base
	p.mu.RUnlock()
	if _, err := p.DeleteRecordsBefore(cut); err != nil {
		t.Fatal(err)
	}
	// Kafka's updateFirstUnstableOffset: never below the log start.
	if p.LastStableOffset() != cut {
		t.Fatalf("LSO %d after DeleteRecords(%d)", p.LastStableOffset(), cut)
	}
	if b, _ := readCommitted(t, p, cut); len(b) != 0 {
		t.Fatalf("read_committed at the log start saw %v", b)
	}
	mustMarker(t, p, 1, 0, true, 0)
	if b, _ := readCommitted(t, p, cut); len(b) == 0 || p.LastStableOffset() != p.HighWatermark() {
		t.Fatalf("after the commit: %v, LSO %d HW %d", b, p.LastStableOffset(), p.HighWatermark())
	}
}

// TestActiveProducers: the DescribeProducers view of the producer state
// follows appends and markers.
func TestActiveProducers(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{})
	if got := p.ActiveProducers(); len(got) != 0 {
		t.Fatalf("empty partition has producers %+v", got)
	}
	appendBatch(t, p, idem(t, 9, 0, 0, 3))     // 0-2
	appendBatch(t, p, txnBatch(t, 4, 2, 0, 2)) // 3-4: txn of 4
	got := p.ActiveProducers()
	if len(got) != 2 || got[0].ProducerID != 4 || got[1].ProducerID != 9 {
		t.Fatalf("producers %+v", got)
	}
	if a := got[0]; a.ProducerEpoch != 2 || a.LastSequence != 1 || a.CoordinatorEpoch != -1 || a.CurrentTxnStartOffset != 3 || a.LastTimestamp <= 0 {
		t.Fatalf("transactional producer %+v", a)
	}
	if a := got[1]; a.ProducerEpoch != 0 || a.LastSequence != 2 || a.CoordinatorEpoch != -1 || a.CurrentTxnStartOffset != -1 {
		t.Fatalf("idempotent producer %+v", a)
	}
	mustMarker(t, p, 4, 2, true, 7)
	got = p.ActiveProducers()
	if a := got[0]; a.ProducerEpoch != 2 || a.LastSequence != 1 || a.CoordinatorEpoch != 7 || a.CurrentTxnStartOffset != -1 {
		t.Fatalf("after commit %+v", a)
	}
}

// TestCleanerMarkerDeleteHorizon: a transaction marker follows KIP-534's
// delete horizon as Kafka's cleaner does: the cleaning that drops an
// aborted transaction's data keeps its ABORT marker (its data was seen),
// the next one finds the transaction empty and stamps the marker's batch
// with a horizon of that cleaning's time + delete.retention.ms (attribute
// bit 6, base timestamp = horizon, the record's timestamp unchanged),
// cleanings before the horizon keep it, the first at or after it drops
// it with its aborted-transaction entry. A COMMIT marker whose data is
// still there stays, with no horizon.
func TestCleanerMarkerDeleteHorizon(t *testing.T) {
	e := newEnv(t)
	e.open()
	cfg := compactCfg()
	cfg.DeleteRetentionMs = 1000
	cfg.MinCleanableDirtyRatio = 0
	p := e.create("h", 0, cfg)
	t0 := e.clock.ms.Load()
	tb := func(seq int32, key, val string) []byte {
		return setTransactional(keyedBatch(t, keyedSpec{recs: []kv{{[]byte(key), []byte(val)}}, ts: t0, pid: 5, seq: seq}))
	}
	appendBatch(t, p, tb(0, "a", "aborted"))
	abortOff := mustMarker(t, p, 5, 0, false, 0).LastOffset
	appendBatch(t, p, tb(1, "b", "committed"))
	commitOff := mustMarker(t, p, 5, 0, true, 0).LastOffset
	for i := 0; i < 80; i++ {
		appendBatch(t, p, keyedBatch(t, keyedSpec{recs: []kv{{[]byte(fmt.Sprintf("z%02d", i)), []byte("plain")}}, ts: t0, pid: -1}))
	}
	find := func(off int64) (BatchHeader, []byte, bool) {
		for _, b := range readAll(t, p) {
			if h := mustHeader(t, b); h.BaseOffset == off && h.NumRecords > 0 {
				return h, b, true
			}
		}
		return BatchHeader{}, nil, false
	}
	recTs := func(h BatchHeader, b []byte) int64 {
		var r kmsg.Record
		recs := b[BatchHeaderSize:]
		l, n := binary.Varint(recs)
		if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
			t.Fatal(err)
		}
		return h.BaseTimestamp + r.TimestampDelta64
	}
	h, b, ok := find(abortOff)
	if !ok {
		t.Fatal("no ABORT marker")
	}
	markerTs := recTs(h, b)
	clean := func(at int64) {
		t.Helper()
		e.clock.ms.Store(at)
		if err := p.setCleanerCheckpoint(0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.CleanNow(); err != nil {
			t.Fatal(err)
		}
	}
	abortedEntries := func() int {
		a, err := p.AbortedTransactions(0, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		return len(a)
	}

	clean(t0)
	if h, _, ok := find(abortOff); !ok || h.Attributes&attrDeleteHorizon != 0 {
		t.Fatalf("after the cleaning that drops the aborted data: marker %+v (present %v), want it kept with no horizon", h, ok)
	}
	clean(t0 + 10)
	h, b, ok = find(abortOff)
	if hz, has := h.DeleteHorizon(); !ok || !has || hz != t0+10+1000 {
		t.Fatalf("second cleaning: marker %+v (present %v), want delete horizon %d", h, ok, t0+10+1000)
	}
	if got := recTs(h, b); got != markerTs {
		t.Fatalf("marker record timestamp %d after the horizon was stamped, was %d", got, markerTs)
	}
	if m, err := parseMarker(b); err != nil || m.kind != markerAbort {
		t.Fatalf("stamped marker does not parse as ABORT: %+v %v", m, err)
	}
	if !VerifyCRC(b) {
		t.Fatal("stamped marker batch has a bad CRC")
	}
	clean(t0 + 10 + 999)
	if _, _, ok := find(abortOff); !ok || abortedEntries() != 1 {
		t.Fatalf("marker gone (present %v, %d aborted entries) before its horizon", ok, abortedEntries())
	}
	clean(t0 + 10 + 1000)
	if _, _, ok := find(abortOff); ok {
		t.Fatal("marker kept at its horizon")
	}
	if n := abortedEntries(); n != 0 {
		t.Fatalf("%d aborted-transaction entries left after the marker went", n)
	}
	if h, _, ok := find(commitOff); !ok || h.Attributes&attrDeleteHorizon != 0 {
		t.Fatalf("COMMIT marker with data: %+v (present %v), want kept without horizon", h, ok)
	}
}

// FuzzControlWithHorizon feeds arbitrary control batches to the rebuild
// that stamps a delete horizon on a marker: it must return an error or a
// batch with a valid CRC, the horizon flag and base, the same records
// (offset deltas, keys, values) and the same record timestamps, never
// panic.
func FuzzControlWithHorizon(f *testing.F) {
	f.Add(appendMarkerBatch(nil, 1, 0, true, 0, 0, 1000), int64(5000))
	f.Add(appendMarkerBatch(nil, 7, 3, false, 2, 1, -1), int64(-3))
	f.Add(makeBatch(f, batchSpec{baseTs: 1, records: 3, attrs: attrControl | attrTransactional, pidSet: true, pid: 1, seq: -1}), int64(1<<62))
	f.Fuzz(func(t *testing.T, b []byte, horizon int64) {
		h, err := ParseBatchHeader(b)
		if err != nil || int(h.TotalSize()) != len(b) {
			return
		}
		var out outBuf
		nh, err := appendControlWithHorizon(&out, b, &h, horizon)
		if err != nil {
			return
		}
		if !VerifyCRC(out.b) || nh.BaseTimestamp != horizon || nh.Attributes&attrDeleteHorizon == 0 || int(nh.TotalSize()) != len(out.b) {
			t.Fatalf("rebuilt header %+v (len %d), CRC ok %v", nh, len(out.b), VerifyCRC(out.b))
		}
		again := mustHeader(t, out.b)
		if again.NumRecords != h.NumRecords || again.LastOffsetDelta != h.LastOffsetDelta || again.ProducerID != h.ProducerID {
			t.Fatalf("header changed: %+v -> %+v", h, again)
		}
		recs := func(base int64, body []byte) (out []kmsg.Record) {
			for len(body) > 0 {
				l, n := binary.Varint(body)
				var r kmsg.Record
				if n <= 0 || int64(len(body)-n) < l || r.ReadFrom(body[:n+int(l)]) != nil {
					return nil
				}
				r.TimestampDelta64 += base
				r.Length, r.TimestampDelta = 0, 0
				out = append(out, r)
				body = body[n+int(l):]
			}
			return out
		}
		was, now := recs(h.BaseTimestamp, b[BatchHeaderSize:]), recs(horizon, out.b[BatchHeaderSize:])
		if was != nil && !reflect.DeepEqual(was, now) {
			t.Fatalf("records changed:\n%+v\n%+v", was, now)
		}
	})
}
