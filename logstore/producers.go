package logstore

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Idempotent producer state, following Kafka's ProducerStateManager,
// ProducerStateEntry and ProducerAppendInfo (storage module, Kafka 3.x/4.x)
// for appends from clients:
//
//   - Duplicate detection comes first: if the producer's current epoch
//     equals the batch's and one of the last 5 cached batches has the same
//     first and last sequence, the batch is a retry. Kafka answers with the
//     original offsets and no error; nothing is written.
//   - Epoch: a batch epoch lower than the known one is rejected with
//     INVALID_PRODUCER_EPOCH (since Kafka 2.7; it used to be
//     PRODUCER_FENCED).
//   - A new (higher) epoch must start at sequence 0, else
//     OUT_OF_ORDER_SEQUENCE_NUMBER, unless the producer has no known epoch.
//   - Same epoch: the first sequence must be lastSeq+1, with the wrap from
//     MaxInt32 to 0, else OUT_OF_ORDER_SEQUENCE_NUMBER. An entry with no
//     cached batch has lastSeq -1, so it must restart at 0.
//   - Unknown producer id (no state in this partition, e.g. all its
//     batches were deleted by retention or DeleteRecords): any sequence is
//     accepted. Brokers stopped returning UNKNOWN_PRODUCER_ID from the
//     append path with KIP-360 (Kafka 2.5). Kafka 4's only extra rule here,
//     OUT_OF_ORDER_SEQUENCE_NUMBER for a non-zero first sequence with no
//     state, applies to transactional producers after the KIP-890
//     partition verification, which Samsa does not do.
//   - Control batches (transaction markers) only pass the epoch check and
//     move the epoch; they carry no sequence. Markers are written by
//     Partition.AppendMarker only (clients cannot send control batches),
//     with the checks of txn.go.
//   - A non-transactional batch from a producer whose transaction is open
//     is refused with INVALID_TXN_STATE (ProducerAppendInfo.appendDataBatch).
//
// Kafka keeps producer state when the log start offset moves (it only
// expires producers after producer.id.expiration.ms of inactivity);
// likewise here, except that a restart rebuilds the state from the index
// entries that are still in the log (Kafka uses snapshots), so producers
// whose batches are all gone restart as unknown.

// producerBatchesToRetain is Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN,
// which is also why clients allow at most 5 in-flight requests with
// idempotence.
const producerBatchesToRetain = 5

// noProducerEpoch is Kafka's RecordBatch.NO_PRODUCER_EPOCH.
const noProducerEpoch = -1

// producerBatch is what is remembered of one appended batch.
type producerBatch struct {
	firstSeq, lastSeq      int32
	baseOffset, lastOffset int64
	maxTs                  int64
}

type producerEntry struct {
	epoch   int16
	n       int // cached batches, <= producerBatchesToRetain
	head    int // ring index of the oldest cached batch
	batches [producerBatchesToRetain]producerBatch
	lastTs  int64 // when the producer was last seen, for expiration
	// txnFirst is the first offset of the producer's ongoing transaction
	// (Kafka's currentTxnFirstOffset), -1 when none.
	txnFirst int64
	// coordEpoch is the coordinator epoch of the producer's last marker
	// (Kafka's ProducerStateEntry.coordinatorEpoch), -1 before any.
	coordEpoch int32
}

func (e *producerEntry) last() *producerBatch {
	if e.n == 0 {
		return nil
	}
	return &e.batches[(e.head+e.n-1)%producerBatchesToRetain]
}

func (e *producerEntry) lastSeq() int32 {
	if b := e.last(); b != nil {
		return b.lastSeq
	}
	return -1
}

func (e *producerEntry) add(b producerBatch) {
	if e.n == producerBatchesToRetain {
		e.batches[e.head] = b
		e.head = (e.head + 1) % producerBatchesToRetain
		return
	}
	e.batches[(e.head+e.n)%producerBatchesToRetain] = b
	e.n++
}

// setEpoch switches to epoch, forgetting the batches of the old one (their
// sequences are meaningless under the new epoch).
func (e *producerEntry) setEpoch(epoch int16) {
	if e.epoch != epoch {
		e.epoch = epoch
		e.n, e.head = 0, 0
	}
}

func (e *producerEntry) findDuplicate(epoch int16, firstSeq, lastSeq int32) *producerBatch {
	if epoch != e.epoch {
		return nil
	}
	for i := 0; i < e.n; i++ {
		b := &e.batches[(e.head+i)%producerBatchesToRetain]
		if b.firstSeq == firstSeq && b.lastSeq == lastSeq {
			return b
		}
	}
	return nil
}

// producerState is the idempotence and transaction state of one
// partition. It is guarded by Partition.appendMu.
type producerState struct {
	m map[int64]*producerEntry
	// txns maps the producer id of every ongoing transaction to its first
	// offset (Kafka's ProducerStateManager.ongoingTxns); the earliest is
	// the first unstable offset. Usually empty or tiny.
	txns map[int64]int64
}

// firstUnstable is the first offset of the earliest ongoing transaction,
// or math.MaxInt64 if there is none. except (a producer id, or -1) is
// left out, as Kafka's lastStableOffset(completedTxn) does.
func (s *producerState) firstUnstable(except int64) int64 {
	first := int64(math.MaxInt64)
	for id, off := range s.txns {
		if id != except && off < first {
			first = off
		}
	}
	return first
}

// ongoingTxn returns the first offset of pid's ongoing transaction, or -1.
func (s *producerState) ongoingTxn(pid int64) int64 {
	if e := s.m[pid]; e != nil {
		return e.txnFirst
	}
	return -1
}

func inSequence(lastSeq, nextSeq int32) bool {
	return int64(nextSeq) == int64(lastSeq)+1 || (nextSeq == 0 && lastSeq == math.MaxInt32)
}

// check validates a batch with a producer id before it is written. A
// non-nil dup means the batch is a retry of dup and must not be written.
func (s *producerState) check(h *BatchHeader, coordinatorOrigin bool) (dup *producerBatch, err error) {
	e := s.m[h.ProducerID]
	lastSeq := h.LastSequence()
	if e != nil && !h.IsControl() && !coordinatorOrigin {
		if d := e.findDuplicate(h.ProducerEpoch, h.BaseSequence, lastSeq); d != nil {
			return d, nil
		}
	}
	cur := int16(noProducerEpoch)
	if e != nil {
		cur = e.epoch
	}
	if h.ProducerEpoch < cur {
		return nil, fmt.Errorf("%w: producer %d epoch %d is older than the current epoch %d",
			ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, cur)
	}
	if h.IsControl() {
		return nil, nil
	}
	if e != nil && e.txnFirst >= 0 && !h.IsTransactional() {
		// ProducerAppendInfo.appendDataBatch: a plain idempotent write
		// while the producer's transaction is open.
		return nil, fmt.Errorf("%w: producer %d sent a non-transactional batch while its transaction from offset %d is open",
			ErrInvalidTxnState, h.ProducerID, e.txnFirst)
	}
	if coordinatorOrigin {
		return nil, nil // no sequence for AppendOrigin.COORDINATOR
	}
	if h.ProducerEpoch != cur {
		if h.BaseSequence != 0 && cur != noProducerEpoch {
			return nil, fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, got %d (current epoch %d)",
				ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence, cur)
		}
		return nil, nil
	}
	if cur == noProducerEpoch {
		return nil, nil
	}
	if ls := e.lastSeq(); !inSequence(ls, h.BaseSequence) {
		return nil, fmt.Errorf("%w: producer %d epoch %d sent sequence %d, expected %d",
			ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence, int64(ls)+1)
	}
	return nil, nil
}

// completedTxn is a transaction ended by a marker (Kafka's CompletedTxn).
type completedTxn struct {
	producerID  int64
	firstOffset int64
	lastOffset  int64 // the marker's offset
	abort       bool
}

// update records an appended (or, during recovery, replayed) batch.
// seenMs is the wall-clock time of the append (or of the recovery): the
// producer counts as active then even if its batches carry no or old
// timestamps, which Kafka's expiration (on batch timestamps alone) does
// not do; it avoids expiring a producer right after a restart.
//
// A transactional data batch of a producer without an ongoing transaction
// starts one at its base offset; a control batch with a marker (m.kind >=
// 0) ends it, moving the producer's epoch and coordinator epoch
// (ProducerAppendInfo.appendDataBatch and appendEndTxnMarker). ok reports
// a transaction that had data (Kafka emits no CompletedTxn for an empty
// one). An empty control batch (m.kind < 0: its marker was cleaned away)
// changes nothing, as in Kafka.
func (s *producerState) update(h *BatchHeader, seenMs int64, m txnMarker) (done completedTxn, ok bool) {
	if h.ProducerID < 0 {
		return done, false
	}
	if h.IsControl() && m.kind < 0 {
		return done, false
	}
	if s.m == nil {
		s.m = make(map[int64]*producerEntry)
	}
	e := s.m[h.ProducerID]
	if e == nil {
		e = &producerEntry{epoch: h.ProducerEpoch, txnFirst: -1, coordEpoch: -1}
		s.m[h.ProducerID] = e
	}
	e.setEpoch(h.ProducerEpoch)
	e.lastTs = max(h.MaxTimestamp, seenMs)
	if h.IsControl() {
		if e.txnFirst >= 0 {
			done = completedTxn{producerID: h.ProducerID, firstOffset: e.txnFirst, lastOffset: h.BaseOffset, abort: m.kind == markerAbort}
			ok = true
			e.txnFirst = -1
			delete(s.txns, h.ProducerID)
		}
		e.coordEpoch = m.coordEpoch
		return done, ok
	}
	if h.Attributes&attrTransactional != 0 && e.txnFirst < 0 {
		e.txnFirst = h.BaseOffset
		if s.txns == nil {
			s.txns = make(map[int64]int64)
		}
		s.txns[h.ProducerID] = h.BaseOffset
	}
	e.add(producerBatch{
		firstSeq:   h.BaseSequence,
		lastSeq:    h.LastSequence(),
		baseOffset: h.BaseOffset,
		lastOffset: h.LastOffset(),
		maxTs:      h.MaxTimestamp,
	})
	return done, false
}

// expire forgets producers last seen before cutoff (Kafka's
// producer.id.expiration.ms), so that the map does not grow without bound.
// A producer with an ongoing transaction is never expired
// (ProducerStateManager.isProducerExpired): its transaction still holds
// the last stable offset back.
func (s *producerState) expire(cutoff int64) int {
	n := 0
	for id, e := range s.m {
		if e.lastTs < cutoff && e.txnFirst < 0 {
			delete(s.m, id)
			n++
		}
	}
	return n
}

// ActiveProducer is one producer of a partition's producer state, as
// DescribeProducers (KIP-664) reports it: Kafka's ProducerStateEntry seen
// through Partition.activeProducerState.
type ActiveProducer struct {
	ProducerID    int64
	ProducerEpoch int16
	// LastSequence is the last sequence of the newest cached batch of
	// the current epoch, -1 when none (e.g. after a marker bumped it).
	LastSequence int32
	// LastTimestamp (ms) is when the producer last appended: its last
	// batch's max timestamp, or the broker's clock at that append when
	// later (see producerState.update).
	LastTimestamp int64
	// CoordinatorEpoch is that of the producer's last marker, -1 before.
	CoordinatorEpoch int32
	// CurrentTxnStartOffset is the first offset of the producer's ongoing
	// transaction, -1 when none.
	CurrentTxnStartOffset int64
}

// ActiveProducers returns the producers of the partition's producer state
// (Kafka's UnifiedLog.activeProducers), ordered by producer id. It is a
// copy, taken under the append lock.
func (p *Partition) ActiveProducers() []ActiveProducer {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	out := make([]ActiveProducer, 0, len(p.producers.m))
	for id, e := range p.producers.m {
		out = append(out, ActiveProducer{
			ProducerID: id, ProducerEpoch: e.epoch, LastSequence: e.lastSeq(), LastTimestamp: e.lastTs,
			CoordinatorEpoch: e.coordEpoch, CurrentTxnStartOffset: e.txnFirst,
		})
	}
	slices.SortFunc(out, func(a, b ActiveProducer) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
	return out
}
