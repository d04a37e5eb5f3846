package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// Heartbeat v0-v4.
func init() { register(0, 4, (*Handlers).heartbeat) }

func (h *Handlers) heartbeat(_ context.Context, _ *protocol.Request, req *kmsg.HeartbeatRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = h.Groups.Heartbeat(req.Group, req.MemberID, req.InstanceID, req.Generation)
	return resp, nil
}
