package groups

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/coordinator"
)

// TxnCommitRequest is a TxnOffsetCommit (KIP-98, KIP-447): offsets
// committed inside producer ProducerID's transaction. They are appended
// to __consumer_offsets in a transactional batch of that producer and
// stay pending (invisible to OffsetFetch, UNSTABLE_OFFSET_COMMIT with
// require_stable) until the transaction coordinator writes the COMMIT
// marker (CompleteTxn), or are dropped on ABORT, as Kafka's
// OffsetMetadataManager keeps pendingTransactionalOffsets.
type TxnCommitRequest struct {
	Group         string
	ProducerID    int64
	ProducerEpoch int16
	MemberID      string  // "" for v0-v2 (no group metadata)
	InstanceID    *string // v3+
	Generation    int32   // -1 for v0-v2
	Offsets       []OffsetCommit
}

// TxnCommit handles a TxnOffsetCommit; the results are as Commit's. As in
// Kafka, the group is created (Empty) when unknown, and a request naming
// a member (v3+) is checked against the current generation.
func (c *Coordinator) TxnCommit(req TxnCommitRequest) (groupErr int16, partErrs []int16) {
	partErrs = make([]int16, len(req.Offsets))
	fail := func(code int16) (int16, []int16) {
		for i := range partErrs {
			partErrs[i] = code
		}
		return code, partErrs
	}
	g, code := c.lockGroup(req.Group, true)
	if code != 0 {
		return fail(code)
	}
	defer g.mu.Unlock()
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		// GroupMetadataManager.validateTxnOffsetCommit / classic group's
		// validateOffsetCommit for transactional commits.
		if code := validateMember(g, req.MemberID, req.InstanceID); code != 0 {
			return fail(code)
		}
		if req.Generation != g.generation {
			return fail(kerr.IllegalGeneration.Code)
		}
	}
	vals, recs := c.offsetRecords(g, req.Offsets, partErrs)
	if len(recs) == 0 {
		return 0, partErrs
	}
	wo := coordinator.WriteOptions{Transactional: true, ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch}
	err := c.rt.Write(PartitionFor(g.id, c.numPartitions), recs, wo, func(int64) {
		pend := g.pendingTxn[req.ProducerID]
		if pend == nil {
			pend = map[TopicPartition]offsetValue{}
			if g.pendingTxn == nil {
				g.pendingTxn = map[int64]map[TopicPartition]offsetValue{}
			}
			g.pendingTxn[req.ProducerID] = pend
		}
		for i, o := range req.Offsets {
			if partErrs[i] == 0 {
				pend[o.TopicPartition] = vals[i]
			}
		}
	})
	if err != nil {
		c.log.Error("appending transactional offsets to __consumer_offsets failed", "group", g.id, "producer_id", req.ProducerID, "err", err)
		code := storeErrCode(err)
		if e := errCodeOf(err); e == kerr.InvalidProducerEpoch.Code || e == kerr.InvalidTxnState.Code {
			code = kerr.ProducerFenced.Code
		}
		for i := range partErrs {
			if partErrs[i] == 0 {
				partErrs[i] = code
			}
		}
	}
	return 0, partErrs
}

func errCodeOf(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return 0
}

// CompleteTxn writes the transaction marker of producerID to
// __consumer_offsets partition partition (the transaction coordinator's
// WriteTxnMarkers for that partition) and then applies it: on commit the
// producer's pending offsets of every group of that partition become
// committed, on abort they are dropped (Kafka's
// OffsetMetadataManager.replayEndTransactionMarker).
func (c *Coordinator) CompleteTxn(partition int32, producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32) error {
	if c.closed.Load() {
		return fmt.Errorf("group coordinator closed: %w", kerr.NotCoordinator)
	}
	if err := c.rt.WriteMarker(partition, producerID, producerEpoch, commit, coordinatorEpoch, nil); err != nil {
		return err
	}
	c.mu.RLock()
	var gs []*group
	for id, g := range c.groups {
		if PartitionFor(id, c.numPartitions) == partition {
			gs = append(gs, g)
		}
	}
	c.mu.RUnlock()
	for _, g := range gs {
		g.mu.Lock()
		g.applyTxnMarker(producerID, commit)
		g.mu.Unlock()
	}
	return nil
}

// applyTxnMarker settles producerID's pending offsets. Called with g.mu
// held (or while loading, before the group is published).
func (g *group) applyTxnMarker(producerID int64, commit bool) {
	pend, ok := g.pendingTxn[producerID]
	if !ok {
		return
	}
	delete(g.pendingTxn, producerID)
	if commit {
		for tp, v := range pend {
			g.offsets[tp] = v
		}
	}
}

// hasPendingTxn reports whether a transaction holds a pending offset for
// tp (OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT).
func (g *group) hasPendingTxn(tp TopicPartition) bool {
	for _, pend := range g.pendingTxn {
		if _, ok := pend[tp]; ok {
			return true
		}
	}
	return false
}

// PartitionFor is the __consumer_offsets partition of group id.
func (c *Coordinator) PartitionFor(id string) int32 { return PartitionFor(id, c.numPartitions) }
