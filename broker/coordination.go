package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/coordinator"
	"samsa/groups"
	"samsa/logstore"
	"samsa/replica"
	"samsa/txn"
)

// leaderAppender makes the coordinators' writes to an internal topic go
// through this broker's leadership of the partition, as Kafka's
// GroupMetadataManager and TransactionStateManager append with
// ReplicaManager.appendRecords(requiredAcks = -1): the batch is appended
// only while this broker leads the partition in the epoch the
// coordinator loaded it in (else NOT_COORDINATOR), stamped with that
// epoch, and the write is acknowledged once the high watermark passes it
// (WaitReplicated: NOT_ENOUGH_REPLICAS(_AFTER_APPEND),
// NOT_LEADER_OR_FOLLOWER when leadership moved, REQUEST_TIMED_OUT after
// offsets.commit.timeout.ms). minISR is the topic's min.insync.replicas.
func leaderAppender(replicas *replica.Manager, topic string, minISR func(string) int, timeout time.Duration) coordinator.Appender {
	return func(partition, epoch int32, fn func(int32) (int64, error)) error {
		rp := replicas.Get(topic, partition)
		if rp == nil {
			return fmt.Errorf("%s-%d has no replica here: %w", topic, partition, kerr.NotCoordinator)
		}
		n := minISR(topic)
		var next int64
		le, err := rp.AppendAsLeader(-1, n, func(leaderEpoch int32) error {
			if leaderEpoch != epoch {
				return fmt.Errorf("%s-%d: leader epoch %d, coordinator loaded in %d: %w", topic, partition, leaderEpoch, epoch, kerr.NotCoordinator)
			}
			var err error
			next, err = fn(leaderEpoch)
			return err
		})
		if err != nil {
			return err
		}
		return rp.WaitReplicated(context.Background(), le, next, n, time.Now().Add(timeout))
	}
}

// replicaLogs is the coordinators' access to an internal topic's logs in
// cluster mode: the log of the replica LeaderAndIsr made this broker
// leader of (the replica manager opened it, possibly before UpdateMetadata
// brought the topic into the metadata cache), never a log made on the
// side.
func replicaLogs(replicas *replica.Manager, topic string) coordinator.LogSource {
	return func(p int32, _ bool) (*logstore.Partition, error) {
		rp := replicas.Get(topic, p)
		if rp == nil {
			return nil, fmt.Errorf("%s-%d has no replica here: %w", topic, p, kerr.NotCoordinator)
		}
		return rp.Log(), nil
	}
}

// wireCoordinators makes the group and transaction coordinators follow
// this broker's leadership of __consumer_offsets and __transaction_state
// partitions (Kafka's ReplicaManager onLeadershipChange callback): leader
// loads, anything else unloads. Partitions this broker already leads are
// elected at once.
func wireCoordinators(replicas *replica.Manager, gc *groups.Coordinator, tc *txn.Coordinator) {
	tell := func(tp replica.TP, leader bool, epoch int32) {
		switch tp.Topic {
		case groups.OffsetsTopic:
			if leader {
				gc.OnElection(tp.Partition, epoch)
			} else {
				gc.OnResignation(tp.Partition, epoch)
			}
		case txn.StateTopic:
			if leader {
				tc.OnElection(tp.Partition, epoch)
			} else {
				tc.OnResignation(tp.Partition, epoch)
			}
		}
	}
	replicas.SetLeadershipListener(tell)
	for _, p := range replicas.Partitions() {
		if p.Topic != groups.OffsetsTopic && p.Topic != txn.StateTopic {
			continue
		}
		if st := p.State(); st.Role == replica.RoleLeader {
			tell(p.TP, true, st.LeaderEpoch)
		}
	}
}

// markerRetry bounds how long one partition's transaction marker is
// retried while its leader moves (Kafka's TransactionMarkerChannelManager
// retries until the leader takes it; here the transaction then stays
// prepared and the coordinator's periodic Complete takes over).
const markerRetry = 15 * time.Second

// remoteMarkers sends WriteTxnMarkers (v1, as Kafka 3.9 brokers send
// it) to the leader of a partition this broker does not lead, over the
// inter-broker listener, one connection per broker.
type remoteMarkers struct {
	self int32
	ctrl controller.Controller
	addr func(id int32) (string, bool)
	log  *slog.Logger

	mu    sync.Mutex // guards conns
	conns map[int32]*replica.Conn
}

func (r *remoteMarkers) conn(id int32) (*replica.Conn, error) {
	addr, ok := r.addr(id)
	if !ok {
		return nil, fmt.Errorf("broker %d's address is unknown: %w", id, kerr.NotLeaderForPartition)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.conns[id]
	if c == nil {
		c = replica.NewConn(addr, "broker-"+strconv.Itoa(int(r.self))+"-txn-marker-sender", 10*time.Second)
		r.conns[id] = c
	}
	return c, nil
}

func (r *remoteMarkers) drop(id int32, c *replica.Conn) {
	c.Close()
	r.mu.Lock()
	if r.conns[id] == c {
		delete(r.conns, id)
	}
	r.mu.Unlock()
}

func (r *remoteMarkers) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, c := range r.conns {
		c.Close()
		delete(r.conns, id)
	}
}

// send writes one marker at the partition's current leader, retrying
// retriable answers (leader moving, not yet known) for markerRetry. local
// writes it here when this broker is the leader.
func (r *remoteMarkers) send(topic string, partition int32, pid int64, epoch int16, commit bool, coordEpoch int32, local func() error) error {
	deadline := time.Now().Add(markerRetry)
	for {
		err := r.sendOnce(topic, partition, pid, epoch, commit, coordEpoch, local)
		if err == nil || !retriableMarkerErr(err) || time.Now().After(deadline) {
			return err
		}
		r.log.Debug("retrying transaction marker", "topic", topic, "partition", partition, "producer_id", pid, "err", err)
		time.Sleep(100 * time.Millisecond)
	}
}

func retriableMarkerErr(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable || errors.Is(err, kerr.NotCoordinator) || errors.Is(err, kerr.NotLeaderForPartition)
	}
	return true // network errors
}

func (r *remoteMarkers) sendOnce(topic string, partition int32, pid int64, epoch int16, commit bool, coordEpoch int32, local func() error) error {
	t, ok := r.ctrl.Topic(topic)
	if !ok || int(partition) >= len(t.Partitions) {
		return nil // deleted: Kafka drops its markers
	}
	leader := t.Partitions[partition].Leader
	if leader < 0 {
		return fmt.Errorf("%s-%d has no leader: %w", topic, partition, kerr.NotLeaderForPartition)
	}
	if leader == r.self {
		return local()
	}
	c, err := r.conn(leader)
	if err != nil {
		return err
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = 1
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = pid, epoch, commit, coordEpoch
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = topic, []int32{partition}
	m.Topics = append(m.Topics, mt)
	req.Markers = append(req.Markers, m)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Request(ctx, req)
	if err != nil {
		r.drop(leader, c)
		return fmt.Errorf("WriteTxnMarkers to broker %d: %w", leader, err)
	}
	for _, rm := range resp.(*kmsg.WriteTxnMarkersResponse).Markers {
		for _, rt := range rm.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return fmt.Errorf("WriteTxnMarkers to broker %d for %s-%d: %w", leader, topic, partition, err)
				}
				return nil
			}
		}
	}
	return fmt.Errorf("WriteTxnMarkers to broker %d: no answer for %s-%d", leader, topic, partition)
}

// txnForward asks the coordinator of transactional id (the leader of its
// __transaction_state partition) to verify or add tp in the producer's
// ongoing transaction, with AddPartitionsToTxn v4 (Kafka's
// AddPartitionsToTxnManager; VerifyOnly for KIP-890 part 1's check, an
// add for part 2's implicit adds, which the coordinator counts as
// transaction version 2). Errors wrap the coordinator's code;
// connection failures are NETWORK_EXCEPTION, an unknown coordinator
// COORDINATOR_NOT_AVAILABLE.
func (r *remoteMarkers) txnForward(ctx context.Context, id string, pid int64, epoch int16, tp txn.TP, verifyOnly bool) error {
	t, ok := r.ctrl.Topic(txn.StateTopic)
	if !ok || len(t.Partitions) == 0 {
		return fmt.Errorf("%s does not exist: %w", txn.StateTopic, kerr.CoordinatorNotAvailable)
	}
	leader := t.Partitions[groups.PartitionFor(id, int32(len(t.Partitions)))].Leader
	if leader < 0 || leader == r.self {
		return fmt.Errorf("no coordinator for transactional id %q (leader %d): %w", id, leader, kerr.CoordinatorNotAvailable)
	}
	c, err := r.conn(leader)
	if err != nil {
		return fmt.Errorf("%v: %w", err, kerr.CoordinatorNotAvailable)
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 4
	tr := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, tr.VerifyOnly = id, pid, epoch, verifyOnly
	tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	tt.Topic, tt.Partitions = tp.Topic, []int32{tp.Partition}
	tr.Topics = append(tr.Topics, tt)
	req.Transactions = append(req.Transactions, tr)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := c.Request(ctx, req)
	if err != nil {
		r.drop(leader, c)
		return fmt.Errorf("AddPartitionsToTxn to broker %d: %v: %w", leader, err, kerr.NetworkException)
	}
	ar := resp.(*kmsg.AddPartitionsToTxnResponse)
	if err := kerr.ErrorForCode(ar.ErrorCode); err != nil {
		return fmt.Errorf("AddPartitionsToTxn to broker %d: %w", leader, err)
	}
	for _, rt := range ar.Transactions {
		for _, t := range rt.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return fmt.Errorf("AddPartitionsToTxn to broker %d for %s-%d: %w", leader, tp.Topic, tp.Partition, err)
				}
				return nil
			}
		}
	}
	return fmt.Errorf("AddPartitionsToTxn to broker %d: no answer for %s-%d: %w", leader, tp.Topic, tp.Partition, kerr.NetworkException)
}
