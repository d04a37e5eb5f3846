package handlers

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
	"samsa/quota"
)

// AlterClientQuotas v0-v1 (KIP-546), validated as Kafka 4's
// ClientQuotaControlManager validates it: each entity succeeds or fails
// on its own, the changes of the entities that succeed are written in
// one synced batch, and validate_only checks without writing.
func init() { register(0, 1, (*Handlers).alterClientQuotas) }

func (h *Handlers) alterClientQuotas(ctx context.Context, r *protocol.Request, req *kmsg.AlterClientQuotasRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	store, _ := h.Controller.(quotaStore)

	h.quotaMu.Lock()
	defer h.quotaMu.Unlock()
	type result struct {
		entity quota.Entity
		comps  []quota.WireComponent
		err    error
	}
	results := make([]result, 0, len(req.Entries))
	// Kafka answers once per distinct entity: an entity named again is
	// not altered again and its answer becomes "Ignoring duplicate
	// entity" (the first occurrence's changes still apply).
	index := map[quota.Entity]int{}
	pending := map[quota.Entity]map[string]float64{}
	var order []quota.Entity
	for _, entry := range req.Entries {
		comps := make([]quota.WireComponent, len(entry.Entity))
		for i, c := range entry.Entity {
			comps[i] = quota.WireComponent{Type: c.Type, Name: c.Name}
		}
		e, err := quota.EntityFromWire(comps)
		if err == nil {
			if i, dup := index[e]; dup {
				results[i].err = fmt.Errorf("Ignoring duplicate entity %s: %w", e, kerr.InvalidRequest)
				continue
			}
			index[e] = len(results)
		}
		if err == nil && store == nil {
			err = fmt.Errorf("client quotas need the single-node metadata store: %w", kerr.UnsupportedVersion)
		}
		if err == nil {
			ops := make([]quota.Op, len(entry.Ops))
			for i, o := range entry.Ops {
				ops[i] = quota.Op{Key: o.Key, Value: o.Value, Remove: o.Remove}
			}
			next, changed, aerr := quota.Apply(e, h.Quotas.Values(e), ops)
			switch {
			case aerr != nil:
				err = aerr
			case changed:
				order = append(order, e)
				pending[e] = next
			}
		}
		results = append(results, result{entity: e, comps: comps, err: err})
	}
	if len(order) > 0 && !req.ValidateOnly {
		changes := make([]quota.Entry, len(order))
		for i, e := range order {
			changes[i] = quota.Entry{Entity: e, Values: pending[e]}
		}
		if err := store.SetClientQuotas(ctx, changes); err != nil {
			r.Logger.Warn("AlterClientQuotas: could not persist client quotas", "err", err)
			for i := range results {
				if results[i].err == nil {
					results[i].err = err
				}
			}
		} else {
			h.Quotas.Set(store.ClientQuotas())
		}
	}
	for _, res := range results {
		re := kmsg.NewAlterClientQuotasResponseEntry()
		re.ErrorCode, re.ErrorMessage = errCode(res.err), errMessage(res.err)
		for _, c := range orderWire(res.comps) {
			ee := kmsg.NewAlterClientQuotasResponseEntryEntity()
			ee.Type, ee.Name = c.Type, c.Name
			re.Entity = append(re.Entity, ee)
		}
		resp.Entries = append(resp.Entries, re)
	}
	return resp, nil
}

// orderWire puts a request entity's components in the order Kafka's
// answer lists them (client-id before user), keeping the last of a
// repeated type, as Kafka's map does.
func orderWire(comps []quota.WireComponent) []quota.WireComponent {
	rank := func(t string) int {
		switch t {
		case quota.TypeClientID:
			return 0
		case quota.TypeUser:
			return 1
		case quota.TypeIP:
			return 2
		}
		return 3
	}
	last := map[string]int{}
	for i, c := range comps {
		last[c.Type] = i
	}
	out := make([]quota.WireComponent, 0, len(last))
	for i, c := range comps {
		if last[c.Type] == i {
			out = append(out, c)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && rank(out[j].Type) < rank(out[j-1].Type); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
