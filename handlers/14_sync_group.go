package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/groups"
	"samsa/protocol"
)

// SyncGroup v0-v5: followers wait for the leader's assignment.
func init() { register(0, 5, (*Handlers).syncGroup) }

func (h *Handlers) syncGroup(ctx context.Context, _ *protocol.Request, req *kmsg.SyncGroupRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	if req.Version >= 5 && (req.ProtocolType == nil || req.Protocol == nil) {
		// From v5 both are mandatory, as Kafka checks.
		resp.ErrorCode = kerr.InconsistentGroupProtocol.Code
		resp.MemberAssignment = []byte{}
		return resp, nil
	}
	sr := groups.SyncRequest{
		Group:        req.Group,
		MemberID:     req.MemberID,
		InstanceID:   req.InstanceID,
		Generation:   req.Generation,
		ProtocolType: req.ProtocolType,
		ProtocolName: req.Protocol,
	}
	if len(req.GroupAssignment) > 0 {
		sr.Assignments = make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			sr.Assignments[a.MemberID] = a.MemberAssignment
		}
	}
	out := h.Groups.Sync(ctx, sr)
	resp.ErrorCode, resp.ProtocolType, resp.Protocol, resp.MemberAssignment = out.ErrorCode, out.ProtocolType, out.ProtocolName, out.Assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return resp, nil
}
