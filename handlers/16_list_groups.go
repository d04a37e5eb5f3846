package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// ListGroups v0-v5 (state filter v4+, type filter v5+).
func init() { register(0, 5, (*Handlers).listGroups) }

func (h *Handlers) listGroups(_ context.Context, _ *protocol.Request, req *kmsg.ListGroupsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	for _, g := range h.Groups.List(req.StatesFilter, req.TypesFilter) {
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = g.Group, g.ProtocolType, g.State, g.Type
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}
