package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

type quotaComp struct {
	typ  string
	name *string
}

func alterQuotasReq(version int16, validateOnly bool, entity []quotaComp, ops ...kmsg.AlterClientQuotasRequestEntryOp) *kmsg.AlterClientQuotasRequest {
	req := kmsg.NewPtrAlterClientQuotasRequest()
	req.Version, req.ValidateOnly = version, validateOnly
	e := kmsg.NewAlterClientQuotasRequestEntry()
	for _, c := range entity {
		ec := kmsg.NewAlterClientQuotasRequestEntryEntity()
		ec.Type, ec.Name = c.typ, c.name
		e.Entity = append(e.Entity, ec)
	}
	e.Ops = ops
	req.Entries = append(req.Entries, e)
	return req
}

func quotaOp(key string, value float64, remove bool) kmsg.AlterClientQuotasRequestEntryOp {
	op := kmsg.NewAlterClientQuotasRequestEntryOp()
	op.Key, op.Value, op.Remove = key, value, remove
	return op
}

func describeQuotasReq(version int16, strict bool, comps ...kmsg.DescribeClientQuotasRequestComponent) *kmsg.DescribeClientQuotasRequest {
	req := kmsg.NewPtrDescribeClientQuotasRequest()
	req.Version, req.Strict, req.Components = version, strict, comps
	return req
}

func quotaFilter(typ string, match kmsg.QuotasMatchType, name *string) kmsg.DescribeClientQuotasRequestComponent {
	c := kmsg.NewDescribeClientQuotasRequestComponent()
	c.EntityType, c.MatchType, c.Match = typ, match, name
	return c
}

// waitQuotas polls DescribeClientQuotas on each side, without comparing,
// until it answers want entries: Kafka applies AlterClientQuotas through
// its controller, so a broker shows the change a moment later.
func (c *sc) waitQuotas(req *kmsg.DescribeClientQuotasRequest, want int) {
	c.t.Helper()
	for _, s := range c.sides {
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, err := s.roundTrip(req)
			if err == nil {
				if dr := r.(*kmsg.DescribeClientQuotasResponse); dr.ErrorCode == 0 && len(dr.Entries) == want {
					break
				}
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("%s: DescribeClientQuotas never showed %d entries", s.Name, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestClientQuotas compares AlterClientQuotas and DescribeClientQuotas
// (KIP-546) for user, client-id, user+client-id (default client id) and
// ip entities: successes, validate_only, removal, Kafka's validation
// errors, and describe filters (exact, default, specified, strict) with
// their errors. Entity names are unique to the run, so that the shared
// Kafka's earlier quotas do not show.
func TestClientQuotas(t *testing.T) {
	c := scenario(t)
	user := strings.ReplaceAll(c.topic("user"), ".", "-")
	client := strings.ReplaceAll(c.topic("client"), ".", "-")
	ip := "10.9.8.7"
	for _, v := range []int16{0, 1} {
		c.at("v%d set", v)
		c.same(alterQuotasReq(v, false, []quotaComp{{"user", &user}},
			quotaOp("producer_byte_rate", 1048576, false), quotaOp("request_percentage", 12.5, false)))
		c.same(alterQuotasReq(v, false, []quotaComp{{"user", &user}, {"client-id", nil}},
			quotaOp("consumer_byte_rate", 2048, false), quotaOp("controller_mutation_rate", 1e6, false)))
		c.same(alterQuotasReq(v, false, []quotaComp{{"client-id", &client}},
			quotaOp("producer_byte_rate", 1e12, false)))
		c.same(alterQuotasReq(v, false, []quotaComp{{"ip", &ip}}, quotaOp("connection_creation_rate", 1000, false)))

		c.at("v%d validation", v)
		for _, req := range []*kmsg.AlterClientQuotasRequest{
			alterQuotasReq(v, false, []quotaComp{{"ip", &ip}}, quotaOp("producer_byte_rate", 5, false)),
			alterQuotasReq(v, false, []quotaComp{{"user", &user}}, quotaOp("connection_creation_rate", 5, false)),
			alterQuotasReq(v, false, []quotaComp{{"user", &user}}, quotaOp("producer_byte_rate", 1.5, false)),
			alterQuotasReq(v, false, []quotaComp{{"user", &user}}, quotaOp("producer_byte_rate", -3, false)),
			alterQuotasReq(v, false, []quotaComp{{"user", &user}}, quotaOp("producer_byte_rate", 0, false)),
			alterQuotasReq(v, false, []quotaComp{{"user", &user}}, quotaOp("no_such_quota", 5, false)),
			alterQuotasReq(v, false, []quotaComp{{"ip", nil}}, quotaOp("connection_creation_rate", 3e9, false)),
			alterQuotasReq(v, false, []quotaComp{{"group", &user}}, quotaOp("producer_byte_rate", 5, false)),
			alterQuotasReq(v, false, []quotaComp{{"user", new(string)}}, quotaOp("producer_byte_rate", 5, false)),
			alterQuotasReq(v, false, []quotaComp{{"ip", &ip}, {"user", &user}}, quotaOp("connection_creation_rate", 5, false)),
			alterQuotasReq(v, false, []quotaComp{{"user", &user}},
				quotaOp("producer_byte_rate", 5, false), quotaOp("producer_byte_rate", 6, false)),
			alterQuotasReq(v, false, nil, quotaOp("producer_byte_rate", 5, false)),
			// validate_only, on the default user too: nothing is written.
			alterQuotasReq(v, true, []quotaComp{{"user", nil}}, quotaOp("producer_byte_rate", 5, false)),
			alterQuotasReq(v, true, []quotaComp{{"user", &user}}, quotaOp("producer_byte_rate", 5, false)),
			// Removing a key that is not set.
			alterQuotasReq(v, false, []quotaComp{{"client-id", &client}}, quotaOp("consumer_byte_rate", 0, true)),
		} {
			c.same(req)
		}
	}
	// The same entity twice in one request: one answer, "Ignoring
	// duplicate entity", while the first entry's change is applied.
	dup := user + "-dup"
	c.at("duplicate entity")
	twice := alterQuotasReq(1, false, []quotaComp{{"user", &dup}}, quotaOp("producer_byte_rate", 10, false))
	twice.Entries = append(twice.Entries, alterQuotasReq(1, false, []quotaComp{{"user", &dup}}, quotaOp("consumer_byte_rate", 20, false)).Entries...)
	c.same(twice)
	exact := func(typ, name string) kmsg.DescribeClientQuotasRequestComponent {
		return quotaFilter(typ, 0, &name)
	}
	c.waitQuotas(describeQuotasReq(1, false, exact("user", user)), 2)
	c.waitQuotas(describeQuotasReq(1, true, exact("user", dup)), 1)
	c.same(describeQuotasReq(1, true, exact("user", dup)))
	for _, v := range []int16{0, 1} {
		c.at("v%d describe", v)
		c.same(describeQuotasReq(v, true, exact("user", user)))
		c.same(describeQuotasReq(v, true, exact("user", user), quotaFilter("client-id", 1, nil)))
		c.same(describeQuotasReq(v, true, exact("client-id", client)))
		c.same(describeQuotasReq(v, true, exact("ip", ip)))
		c.same(describeQuotasReq(v, false, exact("user", user), quotaFilter("client-id", 2, nil)))
		c.at("v%d describe errors", v)
		c.same(describeQuotasReq(v, false, quotaFilter("topic", 2, nil)))
		c.same(describeQuotasReq(v, false, quotaFilter("", 2, nil)))
		c.same(describeQuotasReq(v, false, quotaFilter("user", 0, nil)))
		c.same(describeQuotasReq(v, false, quotaFilter("user", 1, &user)))
		c.same(describeQuotasReq(v, false, quotaFilter("user", 2, &user)))
		c.same(describeQuotasReq(v, false, quotaFilter("user", 7, nil)))
		c.same(describeQuotasReq(v, false, quotaFilter("user", 2, nil), quotaFilter("user", 1, nil)))
		c.same(describeQuotasReq(v, false, quotaFilter("ip", 2, nil), quotaFilter("client-id", 2, nil)))
	}
	c.at("remove")
	c.same(alterQuotasReq(1, false, []quotaComp{{"user", &user}},
		quotaOp("producer_byte_rate", 0, true), quotaOp("request_percentage", 0, true)))
	c.same(alterQuotasReq(1, false, []quotaComp{{"ip", &ip}}, quotaOp("connection_creation_rate", 0, true)))
	c.waitQuotas(describeQuotasReq(1, true, exact("user", user)), 0)
	c.same(describeQuotasReq(1, false, exact("user", user)))
	c.same(describeQuotasReq(1, true, exact("ip", ip)))
}
