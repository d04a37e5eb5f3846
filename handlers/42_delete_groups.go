package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// DeleteGroups v0-v2.
func init() { register(0, 2, (*Handlers).deleteGroups) }

func (h *Handlers) deleteGroups(_ context.Context, r *protocol.Request, req *kmsg.DeleteGroupsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, g := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group, rg.ErrorCode = g, h.Groups.Delete(g)
		if rg.ErrorCode == 0 {
			r.Logger.Info("deleted group", "group", g)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}
