package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// FindCoordinator v0-v6, batched keys from v4. Kafka places a group on the
// leader of __consumer_offsets partition abs(hashCode(group)) %
// offsets.topic.num.partitions; on a single node every partition is led
// by this broker, so the answer is always this broker. A cluster
// controller will answer with that partition's leader. Transactional ids
// get this broker too: InitProducerId then refuses them until
// transactions exist. Share groups (type 2) are not served.
func init() { register(0, 6, (*Handlers).findCoordinator) }

const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

func (h *Handlers) findCoordinator(_ context.Context, r *protocol.Request, req *kmsg.FindCoordinatorRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
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
