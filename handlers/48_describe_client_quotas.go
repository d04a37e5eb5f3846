package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// DescribeClientQuotas v0-v1 (KIP-546). Samsa has no client quotas yet
// (AlterClientQuotas is not served), so every valid filter matches no
// entity: an empty list, as Kafka answers when no quota is set.
// kafka-configs --describe --entity-type users asks it before describing
// the user's SCRAM credentials.
func init() { register(0, 1, (*Handlers).describeClientQuotas) }

func (h *Handlers) describeClientQuotas(_ context.Context, _ *protocol.Request, req *kmsg.DescribeClientQuotasRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	seen := map[string]bool{}
	for _, c := range req.Components {
		switch c.EntityType {
		case "user", "client-id", "ip":
		default:
			resp.ErrorCode = kerr.InvalidRequest.Code
			resp.ErrorMessage = kmsg.StringPtr("Custom entity type '" + c.EntityType + "' not supported")
			return resp, nil
		}
		if seen[c.EntityType] {
			resp.ErrorCode = kerr.InvalidRequest.Code
			resp.ErrorMessage = kmsg.StringPtr("Duplicate " + c.EntityType + " filter component entity type")
			return resp, nil
		}
		seen[c.EntityType] = true
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	return resp, nil
}
