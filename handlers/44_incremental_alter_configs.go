package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// IncrementalAlterConfigs v0-v1: what kafka-configs --alter sends.
func init() { register(0, 1, (*Handlers).incrementalAlterConfigs) }

func (h *Handlers) incrementalAlterConfigs(ctx context.Context, r *protocol.Request, req *kmsg.IncrementalAlterConfigsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	resources := make([]alterRequest, 0, len(req.Resources))
	for _, rr := range req.Resources {
		changes := make([]configChange, 0, len(rr.Configs))
		for _, c := range rr.Configs {
			changes = append(changes, configChange{name: c.Name, op: c.Op, value: c.Value})
		}
		resources = append(resources, alterRequest{rr.ResourceType, rr.ResourceName, changes})
	}
	for _, res := range h.alterAll(ctx, r, resources, false, req.ValidateOnly) {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName, rr.ErrorCode, rr.ErrorMessage = res.typ, res.name, res.code, res.msg
		resp.Resources = append(resp.Resources, rr)
	}
	return resp, nil
}
