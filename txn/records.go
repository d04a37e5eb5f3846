package txn

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/coordinator"
)

// txnKey is the record key of a transactional id: TxnMetadataKey version
// 0 (Kafka's TransactionLogKey; key version 0 is the type "transaction").
func txnKey(id string) []byte {
	k := kmsg.NewTxnMetadataKey()
	k.TransactionalID = id
	return k.AppendTo(nil)
}

// txnValue is the TxnMetadataValue of n as Kafka's TransactionLog writes
// it with transaction.version 2 finalized: version 1, whose tagged fields
// carry the previous and next producer ids and the client's transaction
// version (KIP-890 part 2).
func txnValue(n *txnState) []byte {
	v := kmsg.NewTxnMetadataValue()
	v.Version = 1
	v.ProducerID, v.ProducerEpoch, v.TimeoutMillis, v.State = n.pid, n.epoch, n.timeoutMs, n.state
	v.PreviousProducerID, v.NextProducerID, v.ClientTransactionVersion = n.lastPid, n.nextPid, n.tv
	v.LastUpdateTimestamp, v.StartTimestamp = n.updateMs, n.startMs
	byTopic := map[string]int{}
	for _, tp := range sortedTPs(n.partitions) {
		i, ok := byTopic[tp.Topic]
		if !ok {
			i = len(v.Topics)
			byTopic[tp.Topic] = i
			t := kmsg.NewTxnMetadataValueTopic()
			t.Topic = tp.Topic
			v.Topics = append(v.Topics, t)
		}
		v.Topics[i].Partitions = append(v.Topics[i].Partitions, tp.Partition)
	}
	if v.Topics == nil && n.state != kmsg.TransactionStateEmpty {
		// Kafka's TransactionLog.valueToBytes writes null partitions for
		// Empty only, and its readTxnRecordValue reads them for every
		// other state: a null there (a CompleteCommit, say) fails Kafka
		// 3.9's loading of the whole partition (NullPointerException)
		// once a Kafka broker takes over as coordinator.
		v.Topics = []kmsg.TxnMetadataValueTopic{}
	}
	return v.AppendTo(nil)
}

// shard replays one __transaction_state partition.
type shard struct {
	c       *Coordinator
	id      int32
	loading map[string]*txnMeta
}

// Replay applies one record: the last value of a key wins, a tombstone
// (transactional.id.expiration) forgets the id. Keys of a version other
// than 0 are skipped, as Kafka's loader skips unknown record types.
func (s *shard) Replay(_ int64, rec coordinator.Record) error {
	if len(rec.Key) < 2 {
		return fmt.Errorf("key of %d bytes", len(rec.Key))
	}
	if binary.BigEndian.Uint16(rec.Key) != 0 {
		return nil
	}
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(rec.Key); err != nil {
		return fmt.Errorf("transaction key: %w", err)
	}
	if rec.Value == nil {
		delete(s.loading, k.TransactionalID)
		return nil
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(rec.Value); err != nil {
		return fmt.Errorf("transaction value of %q: %w", k.TransactionalID, err)
	}
	m := &txnMeta{id: k.TransactionalID, txnState: txnState{pid: v.ProducerID, lastPid: -1, epoch: v.ProducerEpoch, lastEpoch: -1,
		timeoutMs: v.TimeoutMillis, state: v.State, startMs: v.StartTimestamp, updateMs: v.LastUpdateTimestamp, partitions: map[TP]struct{}{}, nextPid: -1}}
	if v.Version >= 1 {
		m.tv = v.ClientTransactionVersion
		if v.PreviousProducerID >= 0 {
			m.lastPid = v.PreviousProducerID
		}
		if v.NextProducerID >= 0 {
			m.nextPid = v.NextProducerID
		}
	}
	for _, t := range v.Topics {
		for _, p := range t.Partitions {
			m.partitions[TP{t.Topic, p}] = struct{}{}
		}
	}
	s.loading[k.TransactionalID] = m
	return nil
}

// LoadComplete publishes the loaded transactional ids.
func (s *shard) LoadComplete() {
	s.c.mu.Lock()
	for id, m := range s.loading {
		if _, ok := s.c.txns[id]; !ok {
			s.c.txns[id] = m
		}
	}
	s.c.mu.Unlock()
	s.loading = nil
}

// Unload forgets the partition's transactional ids.
func (s *shard) Unload() {
	s.c.mu.Lock()
	var gone []*txnMeta
	for id, m := range s.c.txns {
		if s.c.PartitionFor(id) == s.id {
			delete(s.c.txns, id)
			gone = append(gone, m)
		}
	}
	s.c.mu.Unlock()
	// The runtime calls Unload without its partition mu, so taking each
	// id's mu (which operations hold across their writes) is in order:
	// whoever holds one finishes (its writes fail, the partition being
	// unloaded) and whoever comes next looks the id up again.
	for _, m := range gone {
		m.mu.Lock()
		m.removed = true
		m.mu.Unlock()
	}
}
