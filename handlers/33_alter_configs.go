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
	dups := duplicateResources(len(req.Resources), func(i int) (kmsg.ConfigResourceType, string) {
		return req.Resources[i].ResourceType, req.Resources[i].ResourceName
	})
	for i, rr := range req.Resources {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if dups[i] {
			err = errDuplicateResource
		} else {
			changes := make([]configChange, 0, len(rr.Configs))
			for _, c := range rr.Configs {
				changes = append(changes, configChange{name: c.Name, op: kmsg.IncrementalAlterConfigOpSet, value: c.Value})
			}
			err = h.alterResource(ctx, rr.ResourceType, rr.ResourceName, changes, true, req.ValidateOnly)
		}
		if err != nil {
			res.ErrorCode, res.ErrorMessage = errCode(err), errMessage(err)
			if res.ErrorCode == kerr.UnknownServerError.Code {
				r.Logger.Error("alter configs failed", "resource", rr.ResourceName, "err", err)
			}
		}
		resp.Resources = append(resp.Resources, res)
	}
	return resp, nil
}

// duplicateResources marks every resource that appears more than once in a
// request; Kafka rejects all copies with INVALID_REQUEST.
func duplicateResources(n int, at func(int) (kmsg.ConfigResourceType, string)) []bool {
	type key struct {
		t kmsg.ConfigResourceType
		n string
	}
	count := make(map[key]int, n)
	for i := 0; i < n; i++ {
		t, name := at(i)
		count[key{t, name}]++
	}
	out := make([]bool, n)
	for i := 0; i < n; i++ {
		t, name := at(i)
		out[i] = count[key{t, name}] > 1
	}
	return out
}
