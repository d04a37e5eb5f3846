package handlers

import (
	"context"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/protocol"
	"samsa/quota"
)

// DescribeClientQuotas v0-v1 and AlterClientQuotas v0-v1 (KIP-546), as
// Kafka's ClientQuotaControlManager and ClientQuotaImage answer them:
// kafka-configs --entity-type users / clients / ips.
func init() {
	register(0, 1, (*Handlers).describeClientQuotas)
	register(0, 1, (*Handlers).alterClientQuotas)
}

func (h *Handlers) describeClientQuotas(_ context.Context, _ *protocol.Request, req *kmsg.DescribeClientQuotasRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	seen := map[string]bool{}
	var matches []quota.Match
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
		m := quota.Match{Type: c.EntityType, Kind: int8(c.MatchType)}
		if c.MatchType == 0 {
			if c.Match == nil {
				resp.ErrorCode = kerr.InvalidRequest.Code
				resp.ErrorMessage = kmsg.StringPtr("Request specified MATCH_TYPE_EXACT, but no match string")
				return resp, nil
			}
			m.Name = *c.Match
		}
		if c.MatchType < 0 || c.MatchType > 2 {
			resp.ErrorCode = kerr.InvalidRequest.Code
			resp.ErrorMessage = kmsg.StringPtr("Unknown match type " + itoa16(int16(c.MatchType)))
			return resp, nil
		}
		matches = append(matches, m)
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	if h.Quotas == nil {
		return resp, nil
	}
	for _, q := range h.Quotas.Describe(matches, req.Strict) {
		e := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, p := range q.Entity {
			ee := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ee.Type, ee.Name = p.Type, p.Name
			e.Entity = append(e.Entity, ee)
		}
		keys := make([]string, 0, len(q.Values))
		for k := range q.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, q.Values[k]
			e.Values = append(e.Values, v)
		}
		resp.Entries = append(resp.Entries, e)
	}
	return resp, nil
}

func itoa16(v int16) string {
	if v < 0 {
		return "-" + itoa16(-v)
	}
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa16(v/10) + string(rune('0'+v%10))
}

func (h *Handlers) alterClientQuotas(ctx context.Context, r *protocol.Request, req *kmsg.AlterClientQuotasRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	var entities [][]controller.QuotaEntityPart
	var ops [][]quota.Op
	var idx []int
	seen := map[string]bool{}
	for _, e := range req.Entries {
		re := kmsg.NewAlterClientQuotasResponseEntry()
		var entity []controller.QuotaEntityPart
		for _, p := range e.Entity {
			ee := kmsg.NewAlterClientQuotasResponseEntryEntity()
			ee.Type, ee.Name = p.Type, p.Name
			re.Entity = append(re.Entity, ee)
			entity = append(entity, controller.QuotaEntityPart{Type: p.Type, Name: p.Name})
		}
		var eops []quota.Op
		for _, op := range e.Ops {
			eops = append(eops, quota.Op{Key: op.Key, Value: op.Value, Remove: op.Remove})
		}
		err := quota.Validate(entity, eops)
		if err == nil && seen[controller.QuotaEntityKey(entity)] {
			err = errorString("Ignoring duplicate entity")
		}
		if err != nil {
			re.ErrorCode, re.ErrorMessage = kerr.InvalidRequest.Code, kmsg.StringPtr(err.Error())
		} else {
			seen[controller.QuotaEntityKey(entity)] = true
			entities = append(entities, entity)
			ops = append(ops, eops)
			idx = append(idx, len(resp.Entries))
		}
		resp.Entries = append(resp.Entries, re)
	}
	if len(entities) == 0 || req.ValidateOnly {
		return resp, nil
	}
	if h.Quotas == nil {
		return nil, errorString("no quota manager")
	}
	if err := h.Quotas.Alter(ctx, entities, ops); err != nil {
		for _, i := range idx {
			resp.Entries[i].ErrorCode, resp.Entries[i].ErrorMessage = errCode(err), errMessage(err)
		}
		return resp, nil
	}
	r.Logger.Info("client quotas altered", "principal", r.Principal, "entities", len(entities))
	return resp, nil
}

// applyQuotas records a Produce request's or a Fetch response's bytes
// against the client's producer_byte_rate or consumer_byte_rate (Kafka's
// ClientQuotaManager) and, when over, sets throttle_time_ms and asks the
// connection to stop reading for that long (KIP-219: answer at once,
// then mute the channel). Samsa sends the fetched records with the
// throttle; Kafka answers a throttled fetch without records.
func (h *Handlers) applyQuotas(r *protocol.Request, resp kmsg.Response) {
	if h.Quotas == nil || !h.Quotas.Enabled() {
		return
	}
	clientID := ""
	if r.Header.ClientID != nil {
		clientID = *r.Header.ClientID
	}
	var key string
	var n int
	switch b := r.Body.(type) {
	case *kmsg.ProduceRequest:
		key = quota.ProducerByteRate
		for _, t := range b.Topics {
			for _, p := range t.Partitions {
				n += len(p.Records)
			}
		}
	case *kmsg.FetchRequest:
		f, ok := resp.(*kmsg.FetchResponse)
		if !ok || b.ReplicaID >= 0 || b.ReplicaState.ID >= 0 {
			return
		}
		key = quota.ConsumerByteRate
		for _, t := range f.Topics {
			for _, p := range t.Partitions {
				n += len(p.RecordBatches)
			}
		}
	default:
		return
	}
	throttle := h.Quotas.Record(key, r.Principal, clientID, n, time.Now())
	if throttle <= 0 {
		return
	}
	if t, ok := resp.(kmsg.SetThrottleResponse); ok {
		t.SetThrottle(throttle)
	}
	r.Mute = time.Duration(throttle) * time.Millisecond
}
