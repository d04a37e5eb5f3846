package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
	"samsa/quota"
)

// DescribeClientQuotas v0-v1 (KIP-546), answered from the quotas the
// broker enforces, with Kafka 4's filter validation
// (ClientQuotasImage.describe).
func init() { register(0, 1, (*Handlers).describeClientQuotas) }

func (h *Handlers) describeClientQuotas(_ context.Context, r *protocol.Request, req *kmsg.DescribeClientQuotasRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	comps := make([]quota.FilterComponent, len(req.Components))
	for i, c := range req.Components {
		comps[i] = quota.FilterComponent{Type: c.EntityType, MatchType: int8(c.MatchType), Match: c.Match}
	}
	f, err := quota.ParseFilter(comps, req.Strict)
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errCode(err), errMessage(err)
		return resp, nil
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	for _, e := range h.Quotas.Entries() {
		if !f.Matches(e.Entity) {
			continue
		}
		re := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, p := range wireParts(e.Entity, h.Cluster != nil) {
			ee := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ee.Type, ee.Name = p.Type, p.Part.NamePtr()
			re.Entity = append(re.Entity, ee)
		}
		for _, k := range sortedKeys(e.Values) {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, e.Values[k]
			re.Values = append(re.Values, v)
		}
		resp.Entries = append(resp.Entries, re)
	}
	return resp, nil
}

// wireParts orders an entity's parts as Kafka's answers do: in KRaft
// mode the iteration order of its HashMap, client-id before user; in a
// ZooKeeper cluster (zk true) as a Kafka 3.9 ZooKeeper broker does, user
// before client-id (ZkAdminManager.userClientIdToEntity builds the map in
// that order; measured in interop TestConfigsQuotasACLsBothWays).
func wireParts(e quota.Entity, zk bool) []struct {
	Type string
	Part quota.Part
} {
	ps := e.Parts()
	if !zk && len(ps) == 2 && ps[0].Type == quota.TypeUser && ps[1].Type == quota.TypeClientID {
		ps[0], ps[1] = ps[1], ps[0]
	}
	return ps
}
