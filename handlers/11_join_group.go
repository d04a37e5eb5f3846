package handlers

import (
	"context"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/groups"
	"samsa/protocol"
)

// JoinGroup v0-v9 (classic protocol). The call blocks until the group's
// join phase completes, like Kafka's delayed join.
func init() { register(0, 9, (*Handlers).joinGroup) }

func (h *Handlers) joinGroup(ctx context.Context, r *protocol.Request, req *kmsg.JoinGroupRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	rebalance := req.RebalanceTimeoutMillis
	if req.Version == 0 {
		rebalance = req.SessionTimeoutMillis
	}
	jr := groups.JoinRequest{
		Group:              req.Group,
		MemberID:           req.MemberID,
		InstanceID:         req.InstanceID,
		ProtocolType:       req.ProtocolType,
		SessionTimeout:     time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		RebalanceTimeout:   time.Duration(rebalance) * time.Millisecond,
		ClientID:           r.Header.ClientIDString(),
		ClientHost:         clientHost(r.ClientAddr),
		RequireKnownMember: req.Version >= 4,
		// v9 clients understand skip_assignment for a static leader.
		SupportSkippingAssignment: req.Version >= 9,
		Reason:                    req.Reason,
	}
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, groups.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	out := h.Groups.Join(ctx, jr)
	resp.ErrorCode, resp.Generation = out.ErrorCode, out.Generation
	resp.ProtocolType, resp.Protocol = out.ProtocolType, out.ProtocolName
	resp.LeaderID, resp.MemberID, resp.SkipAssignment = out.LeaderID, out.MemberID, out.SkipAssignment
	for _, m := range out.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}

// clientHost is the client's address as Kafka reports it in group
// descriptions: "/" and the IP.
func clientHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return "/" + host
}
