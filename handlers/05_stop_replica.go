package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// StopReplica v0-v4 (Kafka 3.9's ZooKeeper controller sends v4): the
// controller tells this broker to stop leading or following partitions,
// and with delete set to remove their logs (replica.Manager.StopReplica).
func init() { register(0, 4, (*Handlers).stopReplica) }

func (h *Handlers) stopReplica(_ context.Context, r *protocol.Request, req *kmsg.StopReplicaRequest) (kmsg.Response, error) {
	if h.Replicas == nil {
		resp := req.ResponseKind().(*kmsg.StopReplicaResponse)
		resp.ErrorCode = kerr.UnsupportedVersion.Code // no replica manager
		return resp, nil
	}
	resp := h.Replicas.StopReplica(req)
	if resp.ErrorCode != 0 {
		r.Logger.Warn("StopReplica refused", "controller", req.ControllerID, "controller_epoch", req.ControllerEpoch, "error_code", resp.ErrorCode)
	}
	return resp, nil
}
