package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// DescribeGroups v0-v6. A group that does not exist is described as Dead;
// from v6 it also carries GROUP_ID_NOT_FOUND, as Kafka does.
func init() { register(0, 6, (*Handlers).describeGroups) }

func (h *Handlers) describeGroups(_ context.Context, _ *protocol.Request, req *kmsg.DescribeGroupsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, g := range req.Groups {
		d := h.Groups.Describe(g)
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group, rg.ErrorCode, rg.State, rg.ProtocolType, rg.Protocol = g, d.ErrorCode, d.State, d.ProtocolType, d.Protocol
		if d.ErrorCode == 0 && d.State == "Dead" && req.Version >= 6 {
			rg.ErrorCode = kerr.GroupIDNotFound.Code
			rg.ErrorMessage = kmsg.StringPtr("group " + g + " not found")
		}
		if req.IncludeAuthorizedOperations && rg.ErrorCode == 0 && d.State != "Dead" {
			rg.AuthorizedOperations = groupAuthorizedOps
		}
		for _, m := range d.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			rm.ProtocolMetadata, rm.MemberAssignment = nonNilBytes(m.Metadata), nonNilBytes(m.Assignment)
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
