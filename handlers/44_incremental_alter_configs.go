package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// IncrementalAlterConfigs v0-v1: what kafka-configs --alter sends.
func init() { register(0, 1, (*Handlers).incrementalAlterConfigs) }

func (h *Handlers) incrementalAlterConfigs(ctx context.Context, r *protocol.Request, req *kmsg.IncrementalAlterConfigsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	dups := duplicateResources(len(req.Resources), func(i int) (kmsg.ConfigResourceType, string) {
		return req.Resources[i].ResourceType, req.Resources[i].ResourceName
	})
	for i, rr := range req.Resources {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if dups[i] {
			err = errDuplicateResource
		} else {
			changes := make([]configChange, 0, len(rr.Configs))
			for _, c := range rr.Configs {
				changes = append(changes, configChange{name: c.Name, op: c.Op, value: c.Value})
			}
			err = h.alterResource(ctx, rr.ResourceType, rr.ResourceName, changes, false, req.ValidateOnly)
		}
		if err != nil {
			res.ErrorCode, res.ErrorMessage = errCode(err), errMessage(err)
			if res.ErrorCode == kerr.UnknownServerError.Code {
				r.Logger.Error("alter configs failed", "resource", rr.ResourceName, "err", err)
			}
		} else if !req.ValidateOnly {
			r.Logger.Info("altered configs", "resource_type", rr.ResourceType.String(), "resource", rr.ResourceName)
		}
		resp.Resources = append(resp.Resources, res)
	}
	return resp, nil
}
