package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// LeaderAndIsr v0-v7 (Kafka 3.9's ZooKeeper controller sends v7 with
// inter.broker.protocol.version=3.9): the controller makes this broker
// leader or follower of partitions. The replica manager applies it (see
// package replica: controller and leader epoch checks, the partition
// state machine).
func init() { register(0, 7, (*Handlers).leaderAndIsr) }

func (h *Handlers) leaderAndIsr(_ context.Context, r *protocol.Request, req *kmsg.LeaderAndISRRequest) (kmsg.Response, error) {
	if h.Replicas == nil {
		resp := req.ResponseKind().(*kmsg.LeaderAndISRResponse)
		resp.ErrorCode = kerr.UnsupportedVersion.Code // no replica manager
		return resp, nil
	}
	resp := h.Replicas.LeaderAndIsr(req)
	if resp.ErrorCode != 0 {
		r.Logger.Warn("LeaderAndIsr refused", "controller", req.ControllerID, "controller_epoch", req.ControllerEpoch, "error_code", resp.ErrorCode)
	}
	return resp, nil
}
