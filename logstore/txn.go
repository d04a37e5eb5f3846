package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// Transactions on the log side (see doc.go, "Transactions"): control
// batches holding Kafka's EndTransactionMarker, the last stable offset,
// and the aborted-transaction index.

// Control record types (Kafka's ControlRecordType); the key of a control
// record is version int16 (0) + type int16.
const (
	markerAbort  = 0
	markerCommit = 1
)

// markerBatchSize is the size of a marker batch as AppendMarker writes it:
// the 61-byte header and one 17-byte record (length 16, attributes,
// timestamp delta 0, offset delta 0, key length 4, key, value length 6,
// value, header count 0).
const markerBatchSize = BatchHeaderSize + 17

// txnMarker is a decoded EndTransactionMarker. kind is markerAbort,
// markerCommit, or -1 for a control batch without a usable marker (an
// empty control batch the cleaner left, or a type Kafka does not know).
type txnMarker struct {
	kind       int8
	coordEpoch int32
}

var noMarker = txnMarker{kind: -1, coordEpoch: -1}

// TxnMarker is the EndTransactionMarker held by a control batch (Kafka's
// org.apache.kafka.common.record.EndTransactionMarker): COMMIT or ABORT and
// the epoch of the coordinator that wrote it.
type TxnMarker struct {
	Commit           bool
	CoordinatorEpoch int32
}

var errNotMarker = errors.New("not a transaction marker")

// ParseTxnMarker decodes the marker of a control batch (the whole batch,
// header included), as Kafka's EndTransactionMarker.deserialize and
// ControlRecordType.parse read it: the first record's key is version
// int16 + type int16 (0 ABORT, 1 COMMIT), its value version int16 +
// coordinator epoch int32; longer keys and values (later versions) are
// read by their prefix, negative versions refused. It returns
// ErrCorruptBatch-wrapped errors for anything else, including compressed
// control batches (Kafka never writes them) and batches without records.
func ParseTxnMarker(batch []byte) (TxnMarker, error) {
	m, err := parseMarker(batch)
	if err != nil {
		return TxnMarker{}, err
	}
	if m.kind < 0 {
		return TxnMarker{}, fmt.Errorf("%w: %w: control batch without a marker", ErrCorruptBatch, errNotMarker)
	}
	return TxnMarker{Commit: m.kind == markerCommit, CoordinatorEpoch: m.coordEpoch}, nil
}

// parseMarker is ParseTxnMarker, answering noMarker (and no error) for an
// empty control batch.
func parseMarker(batch []byte) (txnMarker, error) {
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return noMarker, err
	}
	bad := func(why string) (txnMarker, error) {
		return noMarker, fmt.Errorf("%w: %w: %s", ErrCorruptBatch, errNotMarker, why)
	}
	if !h.IsControl() {
		return bad("not a control batch")
	}
	if h.TotalSize() > len(batch) {
		return bad("truncated batch")
	}
	if h.NumRecords == 0 {
		return noMarker, nil
	}
	if h.Compression() != 0 {
		return bad("compressed control batch")
	}
	recs := batch[BatchHeaderSize:h.TotalSize()]
	length, n := binary.Varint(recs)
	if n <= 0 || length <= 0 || length > int64(len(recs)-n) {
		return bad("bad record length")
	}
	body := recs[n : n+int(length)]
	p := 1 // attributes
	if len(body) < p {
		return bad("short record")
	}
	for i := 0; i < 2; i++ { // timestamp delta, offset delta
		_, k := binary.Varint(body[p:])
		if k <= 0 {
			return bad("bad varint")
		}
		p += k
	}
	kl, k := binary.Varint(body[p:])
	if k <= 0 || kl < 4 || kl > int64(len(body)-p-k) {
		return bad("bad control record key")
	}
	p += k
	key := body[p : p+int(kl)]
	p += int(kl)
	if int16(binary.BigEndian.Uint16(key)) < 0 {
		return bad("negative control record key version")
	}
	typ := int16(binary.BigEndian.Uint16(key[2:]))
	if typ != markerAbort && typ != markerCommit {
		return bad(fmt.Sprintf("control record type %d is not a transaction marker", typ))
	}
	vl, k := binary.Varint(body[p:])
	if k <= 0 || vl < 6 || vl > int64(len(body)-p-k) {
		return bad("bad marker value")
	}
	p += k
	val := body[p : p+int(vl)]
	if int16(binary.BigEndian.Uint16(val)) < 0 {
		return bad("negative marker value version")
	}
	return txnMarker{kind: int8(typ), coordEpoch: int32(binary.BigEndian.Uint32(val[2:]))}, nil
}

// appendMarkerBatch encodes a control batch holding one
// EndTransactionMarker (key version 0, value version 0), as Kafka's
// MemoryRecords.withEndTransactionMarker builds it: transactional and
// control attributes, base sequence -1, one record at offset delta 0,
// CreateTime ts. The base offset is set by the append.
func appendMarkerBatch(dst []byte, pid int64, epoch int16, commit bool, coordEpoch, leaderEpoch int32, ts int64) []byte {
	be := binary.BigEndian
	start := len(dst)
	dst = be.AppendUint64(dst, 0)
	dst = be.AppendUint32(dst, uint32(markerBatchSize-batchLengthOverhead))
	dst = be.AppendUint32(dst, uint32(leaderEpoch))
	dst = append(dst, 2)
	dst = be.AppendUint32(dst, 0) // CRC, below
	dst = be.AppendUint16(dst, attrTransactional|attrControl)
	dst = be.AppendUint32(dst, 0) // last offset delta
	dst = be.AppendUint64(dst, uint64(ts))
	dst = be.AppendUint64(dst, uint64(ts))
	dst = be.AppendUint64(dst, uint64(pid))
	dst = be.AppendUint16(dst, uint16(epoch))
	dst = be.AppendUint32(dst, math.MaxUint32) // base sequence -1
	dst = be.AppendUint32(dst, 1)
	typ := uint16(markerAbort)
	if commit {
		typ = markerCommit
	}
	dst = binary.AppendVarint(dst, 16) // record length
	dst = append(dst, 0)               // attributes
	dst = binary.AppendVarint(dst, 0)  // timestamp delta
	dst = binary.AppendVarint(dst, 0)  // offset delta
	dst = binary.AppendVarint(dst, 4)
	dst = be.AppendUint16(dst, 0) // key version
	dst = be.AppendUint16(dst, typ)
	dst = binary.AppendVarint(dst, 6)
	dst = be.AppendUint16(dst, 0) // value version
	dst = be.AppendUint32(dst, uint32(coordEpoch))
	dst = binary.AppendVarint(dst, 0) // headers
	b := dst[start:]
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return dst
}

// AbortedTxn is one entry of the aborted-transaction index (Kafka's
// AbortedTxn in the .txnindex): the producer, the first offset of its
// aborted transaction, the offset of the ABORT marker, and the last
// stable offset right after the marker was written.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// AppendMarker writes a transaction marker (COMMIT or ABORT) for producer
// pid at the end of the log: the coordinator's WriteTxnMarkers (Kafka's
// UnifiedLog.appendAsLeader with AppendOrigin.COORDINATOR and
// ProducerAppendInfo.appendEndTxnMarker). It ends the producer's ongoing
// transaction, moving the last stable offset, and an ABORT of a
// transaction that had data adds an aborted-transaction index entry in
// the same index commit as the batch's own entry.
//
// Refusals, as Kafka's:
//   - ErrInvalidProducerEpoch (INVALID_PRODUCER_EPOCH): epoch older than
//     the producer's current one; with transactionVersion >= 2 (KIP-890,
//     the coordinator bumps the epoch for every marker) also an equal
//     epoch, except the retry of a marker already written (equal epoch,
//     no transaction open), which is written again;
//   - ErrCoordinatorFenced (TRANSACTION_COORDINATOR_FENCED):
//     coordinatorEpoch older than the last marker's for this producer.
//
// A marker for a producer without an ongoing transaction is written (it
// changes nothing but the producer's epochs), as Kafka does.
// leaderEpoch is stamped in the batch as for any append.
func (p *Partition) AppendMarker(pid int64, epoch int16, commit bool, coordinatorEpoch, leaderEpoch int32, transactionVersion int16) (AppendResult, error) {
	if pid < 0 {
		return AppendResult{}, fmt.Errorf("%w: marker for producer id %d", ErrInvalidRecord, pid)
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed.Load() {
		return AppendResult{}, ErrPartitionClosed
	}
	now := p.st().now().UnixMilli()
	batch := appendMarkerBatch(make([]byte, 0, markerBatchSize), pid, epoch, commit, coordinatorEpoch, leaderEpoch, now)
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return AppendResult{}, err
	}
	kind := int8(markerAbort)
	if commit {
		kind = markerCommit
	}
	return p.appendLocked(batch, h, &txnMarker{kind: kind, coordEpoch: coordinatorEpoch}, transactionVersion, false, false)
}

// checkMarker applies ProducerAppendInfo.appendEndTxnMarker's checks to a
// marker of producer h.ProducerID with epoch h.ProducerEpoch (see
// AppendMarker). An empty control batch (m.kind < 0) is accepted.
func (s *producerState) checkMarker(h *BatchHeader, m *txnMarker, transactionVersion int16) error {
	e := s.m[h.ProducerID]
	if e == nil || m.kind < 0 {
		return nil
	}
	epoch, cur := h.ProducerEpoch, e.epoch
	invalid := epoch < cur
	if transactionVersion >= 2 && epoch == cur && e.txnFirst >= 0 {
		invalid = true
	}
	if invalid {
		cmp := "<"
		if transactionVersion >= 2 {
			cmp = "<="
		}
		return fmt.Errorf("%w: marker epoch %d of producer %d is %s the last seen epoch %d (TV%d)",
			ErrInvalidProducerEpoch, epoch, h.ProducerID, cmp, cur, transactionVersion)
	}
	if e.coordEpoch > m.coordEpoch {
		return fmt.Errorf("%w: marker of producer %d has coordinator epoch %d, the last one was %d",
			ErrCoordinatorFenced, h.ProducerID, m.coordEpoch, e.coordEpoch)
	}
	return nil
}

// LastStableOffset is the partition's last stable offset (Kafka's
// UnifiedLog.lastStableOffset): the first offset of the earliest ongoing
// transaction, but not below the log start offset (as Kafka's
// updateFirstUnstableOffset clamps it after DeleteRecords or retention),
// or the high watermark when none is open. read_committed consumers read
// below it.
func (p *Partition) LastStableOffset() int64 {
	return min(p.HighWatermark(), max(p.firstUnstable.Load(), p.logStart.Load()))
}

// ReadCommitted is Read for a read_committed Fetch (Kafka's
// FetchIsolation.TXN_COMMITTED): only batches starting below the last
// stable offset are returned (an offset at or past it, up to the log end,
// gives an empty result), with the aborted transactions overlapping the
// returned batches (Kafka's UnifiedLog.collectAbortedTransactions: index
// entries whose marker is at or after offset and whose first offset is
// below the end of the returned data). aborted is nil when there are none.
func (p *Partition) ReadCommitted(offset int64, maxBytes int32) (res ReadResult, aborted []AbortedTxn, err error) {
	res, err = p.read(offset, maxBytes, false, true, false, false)
	if err != nil || len(res.Batches) == 0 || p.lastAborted.Load() < offset {
		// No ABORT marker at or after offset: no index seek (the
		// common case for read_committed consumers of topics without
		// aborted transactions, e.g. librdkafka's default).
		return res, nil, err
	}
	upper := offset
	for b := res.Batches; len(b) >= BatchHeaderSize; {
		h, _ := ParseBatchHeader(b)
		upper = h.LastOffset() + 1
		b = b[h.TotalSize():]
	}
	aborted, err = p.abortedTxns(offset, upper)
	if err != nil {
		res.Release()
		return ReadResult{}, nil, fmt.Errorf("%w: aborted transaction index %s-%d: %w", ErrStorage, p.topic, p.partition, err)
	}
	return res, aborted, nil
}

// ReadCommittedFile is ReadCommitted as a file range (see ReadFile),
// cut at the last stable offset with an index lookup. When an ABORT
// marker lies at or after offset, the aborted-transaction list needs the
// returned batches' offsets, so it reads them as ReadCommitted does and
// the result holds Batches instead.
func (p *Partition) ReadCommittedFile(offset int64, maxBytes int32) (res ReadResult, aborted []AbortedTxn, err error) {
	res, err = p.read(offset, maxBytes, false, true, false, true)
	// A result with Batches instead of a range (readFile fell back to
	// reading after a swap) needs its aborted list like any other.
	if err != nil || p.lastAborted.Load() < offset || (res.File == nil && len(res.Batches) == 0) {
		return res, nil, err
	}
	res.Release()
	return p.ReadCommitted(offset, maxBytes)
}

// cutAt returns the length of the longest prefix of whole batches in b
// whose base offsets are below limit.
func cutAt(b []byte, limit int64) int {
	off := 0
	for len(b)-off >= BatchHeaderSize {
		if int64(binary.BigEndian.Uint64(b[off+offBaseOffset:])) >= limit {
			break
		}
		l := int64(int32(binary.BigEndian.Uint32(b[off+offLength:])))
		total := l + batchLengthOverhead
		if l < minBatchLength || int64(off)+total > int64(len(b)) {
			break
		}
		off += int(total)
	}
	return off
}

// AbortedTransactions lists the aborted-transaction index entries whose
// marker is at or after from and whose first offset is below upper, in
// marker order (DescribeProducers-style tooling and tests).
func (p *Partition) AbortedTransactions(from, upper int64) ([]AbortedTxn, error) {
	return p.abortedTxns(from, upper)
}

// abortedTxns reads the aborted-transaction index in the log's current
// location. A log-dir move's swap (jbod.go) changes the location and
// drops the old one's index data, so a lookup that straddled one
// (swapSeq changed) is done again: an empty answer from the dropped
// index would pass aborted records to read_committed consumers.
func (p *Partition) abortedTxns(from, upper int64) ([]AbortedTxn, error) {
	for {
		seq := p.swapSeq.Load()
		l := p.lc()
		if testHookLoc != nil {
			testHookLoc("aborted")
		}
		ab, err := l.store.idx.abortedTxns(l.pid, from, upper, nil)
		if p.swapSeq.Load() == seq {
			return ab, err
		}
	}
}

// OngoingTxn returns the first offset of producer pid's ongoing
// transaction in this partition, or -1 (DescribeProducers'
// current_txn_start_offset).
func (p *Partition) OngoingTxn(pid int64) int64 {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	return p.producers.ongoingTxn(pid)
}

// Aborted-transaction index ('x' key space).
const (
	ksAborted      = 'x' // 'x' pid(uint32) markerOffset(int64) -> version(1) producerId(8) firstOffset(8) lastStableOffset(8)
	abortedVersion = 0
	abortedValLen  = 1 + 8 + 8 + 8
)

func appendAbortedKey(dst []byte, pid uint32, markerOffset int64) []byte {
	dst = appendPrefix(dst, ksAborted, pid)
	return binary.BigEndian.AppendUint64(dst, uint64(markerOffset))
}

func appendAbortedValue(dst []byte, t *AbortedTxn) []byte {
	be := binary.BigEndian
	dst = append(dst, abortedVersion)
	dst = be.AppendUint64(dst, uint64(t.ProducerID))
	dst = be.AppendUint64(dst, uint64(t.FirstOffset))
	return be.AppendUint64(dst, uint64(t.LastStableOffset))
}

// setAborted adds the index entry of an aborted transaction to b.
func setAborted(b *pebble.Batch, pid uint32, t *AbortedTxn) error {
	var kb [offsetKeyLen]byte
	var vb [abortedValLen]byte
	return b.Set(appendAbortedKey(kb[:0], pid, t.LastOffset), appendAbortedValue(vb[:0], t), nil)
}

// lastAbortedOffset returns the greatest marker offset in the partition's
// aborted-transaction index, or -1.
func (x *index) lastAbortedOffset(pid uint32) (int64, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return -1, errIndexClosed
	}
	lo := appendPrefix(nil, ksAborted, pid)
	it, err := x.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
	if err != nil {
		return -1, err
	}
	defer it.Close()
	if !it.Last() {
		return -1, it.Error()
	}
	if k := it.Key(); len(k) == offsetKeyLen {
		return int64(binary.BigEndian.Uint64(k[5:])), nil
	}
	return -1, fmt.Errorf("logstore: malformed aborted transaction index key (%d bytes)", len(it.Key()))
}

// abortedTxns collects the aborted transactions with marker offset >=
// from and first offset < upper, stopping, as Kafka's
// TransactionIndex.collectAbortedTxns does, at the first entry whose last
// stable offset is >= upper: every transaction aborted later started at or
// after that offset.
func (x *index) abortedTxns(pid uint32, from, upper int64, dst []AbortedTxn) ([]AbortedTxn, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return dst, errIndexClosed
	}
	lo := appendAbortedKey(nil, pid, max(from, 0))
	hi := prefixEnd(appendPrefix(nil, ksAborted, pid))
	it, err := x.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return dst, err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != offsetKeyLen || len(v) != abortedValLen || v[0] != abortedVersion {
			return dst, fmt.Errorf("logstore: malformed aborted transaction index entry (key %d bytes, value %d bytes)", len(k), len(v))
		}
		be := binary.BigEndian
		t := AbortedTxn{
			ProducerID:       int64(be.Uint64(v[1:])),
			FirstOffset:      int64(be.Uint64(v[9:])),
			LastOffset:       int64(be.Uint64(k[5:])),
			LastStableOffset: int64(be.Uint64(v[17:])),
		}
		if t.FirstOffset < upper {
			dst = append(dst, t)
		}
		if t.LastStableOffset >= upper {
			break
		}
	}
	return dst, it.Error()
}
