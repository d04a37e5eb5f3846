package handlers

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/groups"
	"samsa/protocol"
	"samsa/txn"
)

// FindCoordinator v0-v6, batched keys from v4. Kafka places a group on the
// leader of __consumer_offsets partition abs(hashCode(group)) %
// offsets.topic.num.partitions; on a single node every partition is led
// by this broker, so the answer is always this broker. In ZooKeeper mode
// the answer is that partition's leader in the metadata cache, or
// COORDINATOR_NOT_AVAILABLE while it has none (KafkaApis.getCoordinator). Transactional ids
// are placed the same way on __transaction_state partition
// abs(hashCode(id)) % transaction.state.log.num.partitions, created on
// the first such lookup. Share groups (type 2) are not served.
func init() { register(0, 6, (*Handlers).findCoordinator) }

const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

func (h *Handlers) findCoordinator(_ context.Context, r *protocol.Request, req *kmsg.FindCoordinatorRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	switch req.CoordinatorType {
	case coordinatorGroup:
		h.ensureOffsetsTopic(r)
	case coordinatorTransaction:
		h.ensureTxnTopic(r)
	}
	self := h.selfEndpoint(r.Listener)
	answer := func(key string) kmsg.FindCoordinatorResponseCoordinator {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		if req.CoordinatorType != coordinatorGroup && req.CoordinatorType != coordinatorTransaction {
			c.NodeID, c.Port = -1, -1
			c.ErrorCode = kerr.InvalidRequest.Code
			c.ErrorMessage = kmsg.StringPtr("unsupported coordinator type")
			return c
		}
		if h.Cluster != nil {
			return h.clusterCoordinator(c, r.Listener, req.CoordinatorType)
		}
		c.NodeID, c.Host, c.Port = self.ID, self.Host, self.Port
		return c
	}
	if req.Version >= 4 {
		for _, k := range req.CoordinatorKeys {
			resp.Coordinators = append(resp.Coordinators, answer(k))
		}
		return resp, nil
	}
	c := answer(req.CoordinatorKey)
	resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
	return resp, nil
}

// offsetsTopic is Kafka's internal topic of committed offsets and group
// metadata, where the group coordinator keeps its state (see groups). It
// is created the way Kafka does, on the first FindCoordinator for a group
// (or the coordinator's first write), compacted, with
// offsets.topic.num.partitions partitions and offsets.topic.segment.bytes
// segments.
const offsetsTopic = "__consumer_offsets"

func (h *Handlers) ensureOffsetsTopic(r *protocol.Request) {
	created, err := h.EnsureOffsetsTopic()
	if err != nil {
		r.Logger.Error("creating __consumer_offsets failed", "err", err)
		return
	}
	if created {
		r.Logger.Info("created internal topic", "topic", offsetsTopic, "partitions", h.Config.OffsetsTopicNumPartitions)
	}
}

// EnsureOffsetsTopic creates __consumer_offsets if it does not exist and
// reports whether it did, with offsets.topic.replication.factor replicas
// in a cluster (capped at the live brokers); a single node keeps one. Batches are stored in the codec
// the coordinator wrote them with (compression.type=producer, as Kafka
// creates the topic).
func (h *Handlers) EnsureOffsetsTopic() (bool, error) {
	if _, ok := h.Controller.Topic(offsetsTopic); ok {
		return false, nil
	}
	_, err := h.Controller.CreateTopic(context.Background(), controller.CreateTopic{
		Name:              offsetsTopic,
		NumPartitions:     h.Config.OffsetsTopicNumPartitions,
		ReplicationFactor: h.internalTopicRF(h.Config.OffsetsTopicReplicationFactor),
		Configs: map[string]string{
			"cleanup.policy":   "compact",
			"compression.type": "producer",
			"segment.bytes":    strconv.Itoa(int(h.Config.OffsetsTopicSegmentBytes)),
		},
	})
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return false, fmt.Errorf("creating %s: %w", offsetsTopic, err)
	}
	return err == nil, nil
}

func (h *Handlers) ensureTxnTopic(r *protocol.Request) {
	created, err := h.EnsureTxnTopic()
	if err != nil {
		r.Logger.Error("creating __transaction_state failed", "err", err)
		return
	}
	if created {
		r.Logger.Info("created internal topic", "topic", txn.StateTopic, "partitions", h.Config.TransactionStateLogNumPartitions)
	}
}

// EnsureTxnTopic creates __transaction_state if it does not exist, as
// Kafka does on the first FindCoordinator for a transactional id:
// compacted, transaction.state.log.num.partitions partitions,
// transaction.state.log.segment.bytes segments, uncompressed
// (compression.type=uncompressed) and never elected uncleanly
// (unclean.leader.election.enable=false, whatever the broker default:
// a lost transaction state would let an ongoing transaction's records
// through, or a fenced producer write), as Kafka's
// TransactionStateManager.transactionTopicConfigs creates it.
func (h *Handlers) EnsureTxnTopic() (bool, error) {
	if _, ok := h.Controller.Topic(txn.StateTopic); ok {
		return false, nil
	}
	minISR := "1"
	if h.Cluster != nil {
		minISR = strconv.Itoa(int(h.Config.TransactionStateLogMinISR))
	}
	_, err := h.Controller.CreateTopic(context.Background(), controller.CreateTopic{
		Name:              txn.StateTopic,
		NumPartitions:     h.Config.TransactionStateLogNumPartitions,
		ReplicationFactor: h.internalTopicRF(h.Config.TransactionStateLogReplicationFactor),
		Configs: map[string]string{
			"cleanup.policy":      "compact",
			"compression.type":    "uncompressed",
			"min.insync.replicas": minISR,
			"segment.bytes":       strconv.Itoa(int(h.Config.TransactionStateLogSegmentBytes)),
			// The topic override wins over the broker default in the
			// controller's election (zkcontroller uncleanFor).
			"unclean.leader.election.enable": "false",
		},
	})
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return false, fmt.Errorf("creating %s: %w", txn.StateTopic, err)
	}
	return err == nil, nil
}

// internalTopicRF is the replication factor of an internal topic created
// now: 1 on a single node; in a cluster the topic's setting
// (offsets.topic.replication.factor, transaction.state.log.replication.factor)
// capped at the live brokers, as Kafka 3.9's AutoTopicCreationManager
// does.
func (h *Handlers) internalTopicRF(want int16) int16 {
	if h.Cluster == nil {
		return 1
	}
	rf := int(want)
	if n, err := h.Cluster.LiveBrokers(); err == nil && n < rf {
		rf = n
	}
	return int16(max(rf, 1))
}

// clusterCoordinator fills c with the leader of the internal topic
// partition that holds c.Key, as the metadata cache knows it.
func (h *Handlers) clusterCoordinator(c kmsg.FindCoordinatorResponseCoordinator, listener string, typ int8) kmsg.FindCoordinatorResponseCoordinator {
	topic := offsetsTopic
	if typ == coordinatorTransaction {
		topic = txn.StateTopic
	}
	unavailable := func() kmsg.FindCoordinatorResponseCoordinator {
		c.NodeID, c.Host, c.Port = -1, "", -1
		c.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return c
	}
	t, ok := h.Controller.Topic(topic)
	if !ok || len(t.Partitions) == 0 {
		return unavailable()
	}
	p := groups.PartitionFor(c.Key, int32(len(t.Partitions)))
	if int(p) >= len(t.Partitions) || t.Partitions[p].Leader < 0 {
		return unavailable()
	}
	leader := t.Partitions[p].Leader
	for _, b := range h.brokersFor(listener) {
		if b.ID == leader {
			c.NodeID, c.Host, c.Port = b.ID, b.Host, b.Port
			return c
		}
	}
	return unavailable()
}
