package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/groups"
	"samsa/protocol"
)

// LeaveGroup v0-v5; members are batched from v3.
func init() { register(0, 5, (*Handlers).leaveGroup) }

func (h *Handlers) leaveGroup(_ context.Context, _ *protocol.Request, req *kmsg.LeaveGroupRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	var members []groups.LeaveMember
	if req.Version < 3 {
		members = []groups.LeaveMember{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			members = append(members, groups.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID, Reason: m.Reason})
		}
	}
	groupErr, results := h.Groups.Leave(req.Group, members)
	resp.ErrorCode = groupErr
	if req.Version < 3 {
		// One member and no per-member list: its error is the answer.
		if groupErr == 0 && len(results) == 1 {
			resp.ErrorCode = results[0].ErrorCode
		}
		return resp, nil
	}
	for _, res := range results {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = res.MemberID, res.InstanceID, res.ErrorCode
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}
