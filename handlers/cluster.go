package handlers

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// Cluster is what the handlers need from a ZooKeeper-mode broker beyond
// the Controller interface: the metadata cache UpdateMetadata feeds, and
// the controller role's requests.
type Cluster interface {
	// IsActiveController reports whether this broker is the elected
	// controller.
	IsActiveController() bool
	// BrokerEpoch is this broker's current epoch (its registration's
	// czxid).
	BrokerEpoch() int64
	// LiveBrokers is the number of registered brokers in ZooKeeper, which
	// caps an internal topic's replication factor at its creation.
	LiveBrokers() (int, error)
	// ApplyUpdateMetadata applies UpdateMetadata to the metadata cache;
	// kerr.StaleControllerEpoch when the controller is stale.
	ApplyUpdateMetadata(req *kmsg.UpdateMetadataRequest) error
	// AlterPartition and AllocateProducerIDs are served by the controller
	// role (NOT_CONTROLLER when this broker is not the controller).
	AlterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse
	AllocateProducerIDs(ctx context.Context, req *kmsg.AllocateProducerIDsRequest) *kmsg.AllocateProducerIDsResponse
	// ControlledShutdown and ElectLeaders are served by the controller
	// role too (Kafka 3.9's KafkaController.controlledShutdown and
	// electLeaders): NOT_CONTROLLER elsewhere.
	ControlledShutdown(ctx context.Context, req *kmsg.ControlledShutdownRequest) *kmsg.ControlledShutdownResponse
	ElectLeaders(ctx context.Context, req *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse
	// AlterPartitionReassignments and ListPartitionReassignments
	// (KIP-455) are served by the controller role as Kafka 3.9's
	// ZooKeeper mode does: NOT_CONTROLLER at the top elsewhere.
	AlterPartitionReassignments(ctx context.Context, req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse
	ListPartitionReassignments(ctx context.Context, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse
}

// The inter-broker APIs this package serves in ZooKeeper mode, at the
// versions Kafka 3.9 serves them (LeaderAndIsr and StopReplica belong to
// the replica manager).
func init() {
	registerCluster(0, 8, (*Handlers).updateMetadata)
	registerCluster(0, 3, (*Handlers).alterPartition)
	registerCluster(0, 0, (*Handlers).allocateProducerIDs)
	registerCluster(0, 3, (*Handlers).controlledShutdown)
	// ElectLeaders is an admin API, but only a ZooKeeper-mode cluster has
	// leaders to elect.
	registerCluster(0, 2, (*Handlers).electLeaders)
	// Partition reassignments likewise (Kafka 3.9 serves v0; v1 is
	// KIP-860's allowReplicationFactorChange).
	registerCluster(0, 1, (*Handlers).alterPartitionReassignments)
	registerCluster(0, 0, (*Handlers).listPartitionReassignments)
}

func (h *Handlers) alterPartitionReassignments(ctx context.Context, r *protocol.Request, req *kmsg.AlterPartitionAssignmentsRequest) (kmsg.Response, error) {
	resp := h.Cluster.AlterPartitionReassignments(ctx, req)
	n := 0
	for _, t := range req.Topics {
		n += len(t.Partitions)
	}
	r.Logger.Info("AlterPartitionReassignments served", "partitions", n, "error", errName(resp.ErrorCode))
	return resp, nil
}

func (h *Handlers) listPartitionReassignments(ctx context.Context, _ *protocol.Request, req *kmsg.ListPartitionReassignmentsRequest) (kmsg.Response, error) {
	return h.Cluster.ListPartitionReassignments(ctx, req), nil
}

// updateMetadata is KafkaApis.handleUpdateMetadataRequest: a request for
// an older broker epoch (this broker registered again since) gets
// STALE_BROKER_EPOCH, one from an older controller epoch
// STALE_CONTROLLER_EPOCH; otherwise the cache takes it.
func (h *Handlers) updateMetadata(_ context.Context, r *protocol.Request, req *kmsg.UpdateMetadataRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.UpdateMetadataResponse)
	if req.Version >= 5 && req.BrokerEpoch != -1 && req.BrokerEpoch < h.Cluster.BrokerEpoch() {
		r.Logger.Info("UpdateMetadata for an older broker epoch ignored", "broker_epoch", req.BrokerEpoch, "current", h.Cluster.BrokerEpoch())
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp, nil
	}
	if err := h.Cluster.ApplyUpdateMetadata(req); err != nil {
		if errors.Is(err, kerr.StaleControllerEpoch) {
			r.Logger.Info("UpdateMetadata from a stale controller refused", "controller", req.ControllerID, "controller_epoch", req.ControllerEpoch)
		}
		resp.ErrorCode = errCode(err)
	}
	return resp, nil
}

func (h *Handlers) alterPartition(ctx context.Context, _ *protocol.Request, req *kmsg.AlterPartitionRequest) (kmsg.Response, error) {
	return h.Cluster.AlterPartition(ctx, req), nil
}

func (h *Handlers) allocateProducerIDs(ctx context.Context, _ *protocol.Request, req *kmsg.AllocateProducerIDsRequest) (kmsg.Response, error) {
	return h.Cluster.AllocateProducerIDs(ctx, req), nil
}

func (h *Handlers) controlledShutdown(ctx context.Context, r *protocol.Request, req *kmsg.ControlledShutdownRequest) (kmsg.Response, error) {
	resp := h.Cluster.ControlledShutdown(ctx, req)
	r.Logger.Info("ControlledShutdown served", "broker", req.BrokerID, "broker_epoch", req.BrokerEpoch,
		"error", errName(resp.ErrorCode), "partitions_remaining", len(resp.PartitionsRemaining))
	return resp, nil
}

func (h *Handlers) electLeaders(ctx context.Context, _ *protocol.Request, req *kmsg.ElectLeadersRequest) (kmsg.Response, error) {
	return h.Cluster.ElectLeaders(ctx, req), nil
}

func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}

// notController reports whether a request only the controller serves
// (CreateTopics, CreatePartitions, DeleteTopics) must be answered
// NOT_CONTROLLER here, as Kafka 3.9's KafkaApis does in ZooKeeper mode.
func (h *Handlers) notController() bool {
	return h.Cluster != nil && !h.Cluster.IsActiveController()
}
