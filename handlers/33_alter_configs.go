package handlers

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// AlterConfigs v0-v2, the legacy whole-set replacement older tools send.
func init() { register(0, 2, (*Handlers).alterConfigs) }

var errDuplicateResource = fmt.Errorf("resource named more than once in the request: %w", kerr.InvalidRequest)

func (h *Handlers) alterConfigs(ctx context.Context, r *protocol.Request, req *kmsg.AlterConfigsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	resources := make([]alterRequest, 0, len(req.Resources))
	for _, rr := range req.Resources {
		changes := make([]configChange, 0, len(rr.Configs))
		for _, c := range rr.Configs {
			changes = append(changes, configChange{name: c.Name, op: kmsg.IncrementalAlterConfigOpSet, value: c.Value})
		}
		resources = append(resources, alterRequest{rr.ResourceType, rr.ResourceName, changes})
	}
	for _, res := range h.alterAll(ctx, r, resources, true, req.ValidateOnly) {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName, rr.ErrorCode, rr.ErrorMessage = res.typ, res.name, res.code, res.msg
		resp.Resources = append(resp.Resources, rr)
	}
	return resp, nil
}

// alterRequest is one resource of an AlterConfigs or
// IncrementalAlterConfigs request, with its changes.
type alterRequest struct {
	typ     kmsg.ConfigResourceType
	name    string
	changes []configChange
}

// alterResult is the outcome for one resource.
type alterResult struct {
	typ  kmsg.ConfigResourceType
	name string
	code int16
	msg  *string
}

// alterAll applies both config-altering APIs' requests: resources named
// twice are all rejected with INVALID_REQUEST, as Kafka does, and each
// other resource is altered on its own.
func (h *Handlers) alterAll(ctx context.Context, r *protocol.Request, resources []alterRequest, replace, validateOnly bool) []alterResult {
	type key struct {
		t kmsg.ConfigResourceType
		n string
	}
	count := make(map[key]int, len(resources))
	for _, a := range resources {
		count[key{a.typ, a.name}]++
	}
	out := make([]alterResult, 0, len(resources))
	for _, a := range resources {
		var err error
		if count[key{a.typ, a.name}] > 1 {
			err = errDuplicateResource
		} else {
			err = h.alterResource(ctx, a.typ, a.name, a.changes, replace, validateOnly)
		}
		res := alterResult{typ: a.typ, name: a.name}
		if err != nil {
			res.code, res.msg = errCode(err), errMessage(err)
			if res.code == kerr.UnknownServerError.Code {
				r.Logger.Error("alter configs failed", "resource", a.name, "err", err)
			}
		} else if !validateOnly {
			r.Logger.Info("altered configs", "resource_type", a.typ.String(), "resource", a.name)
		}
		out = append(out, res)
	}
	return out
}
