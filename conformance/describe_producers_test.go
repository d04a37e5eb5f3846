package conformance

import (
	"time"

	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// untilOK sends req(s) to one side until ok accepts the answer (Kafka's
// coordinators and new partitions answer retriable errors for a moment),
// at most 15 s, and returns the last answer.
func untilOK(c *sc, s *side, req func(s *side) kmsg.Request, ok func(kmsg.Response) bool) kmsg.Response {
	c.t.Helper()
	var r kmsg.Response
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var err error
		r, err = roundTrip(s.Addr, req(s))
		if err != nil {
			c.t.Fatalf("%s: setup: %v", s.Name, err)
		}
		if ok(r) || time.Now().After(deadline) {
			return r
		}
	}
}

// openProducers makes, on each side, an idempotent producer ("idem") that
// appended a batch of 3 records to topic-0 and a transactional producer
// ("txn", transactional id tid) whose transaction on topic-0 is open with
// a batch of 2 records. The producer ids go to side.Vals. Each setup
// answer is compared.
func openProducers(c *sc, topic, tid string) {
	c.t.Helper()
	for _, tx := range []bool{false, true} {
		for i, s := range c.sides {
			r := untilOK(c, s, func(*side) kmsg.Request {
				req := kmsg.NewPtrInitProducerIDRequest()
				req.Version, req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch = 5, 60000, -1, -1
				if tx {
					req.TransactionalID = &tid
				}
				return req
			}, func(r kmsg.Response) bool { return r.(*kmsg.InitProducerIDResponse).ErrorCode == 0 })
			ir := r.(*kmsg.InitProducerIDResponse)
			if ir.ErrorCode != 0 {
				c.fail("InitProducerID v5", "ErrorCode", itoa(ir.ErrorCode), "(setup, side "+itoa(int16(i))+")")
				c.t.FailNow()
			}
			if tx {
				s.Vals["txn"] = ir.ProducerID
			} else {
				s.Vals["idem"] = ir.ProducerID
			}
		}
	}
	c.at("AddPartitionsToTxn")
	c.do(func(s *side) kmsg.Request {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch = 3, tid, s.Vals["txn"].(int64), 0
		t := kmsg.NewAddPartitionsToTxnRequestTopic()
		t.Topic, t.Partitions = topic, []int32{0}
		req.Topics = append(req.Topics, t)
		return req
	})
	ts := baseTime()
	for _, who := range []string{"idem", "txn"} {
		c.at("produce %s", who)
		mk := func(s *side) kmsg.Request {
			o := batchOpts{firstTs: ts, pid: s.Vals[who].(int64), seq: 0}
			recs := values("a", "b", "c")
			if who == "txn" {
				o.attrs, recs = 0x10, values("x", "y")
			}
			req := produceReq(11, -1, topic, 0, makeBatch(o, recs...))
			if who == "txn" {
				req.TransactionID = &tid
			}
			return req
		}
		untilOK(c, c.sides[0], func(*side) kmsg.Request { return listOffsetsReq(7, topic, 0, -1, 0) },
			func(r kmsg.Response) bool {
				return r.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].ErrorCode == 0
			})
		c.do(mk)
	}
}

// describeProducersReq asks for the given partitions of topic.
func describeProducersReq(topic string, partitions ...int32) *kmsg.DescribeProducersRequest {
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = topic, partitions
	req.Topics = append(req.Topics, rt)
	return req
}

// compareProducers compares two DescribeProducers answers with each
// side's producer ids replaced by their role (1 idem, 2 txn; each
// cluster allocates its own ids) and timestamps by their presence (1 when
// set; the broker's clock).
func compareProducers(c *sc, k, s kmsg.Response) {
	c.t.Helper()
	api := "DescribeProducers v0"
	c.entry.apis[api] = true
	if k == nil || s == nil {
		c.fail(api, "", describeAnswer(k), describeAnswer(s))
		return
	}
	for i, r := range []*kmsg.DescribeProducersResponse{k.(*kmsg.DescribeProducersResponse), s.(*kmsg.DescribeProducersResponse)} {
		role := map[int64]int64{}
		if v, ok := c.sides[i].Vals["idem"].(int64); ok {
			role[v] = 1
		}
		if v, ok := c.sides[i].Vals["txn"].(int64); ok {
			role[v] = 2
		}
		for ti := range r.Topics {
			for pi := range r.Topics[ti].Partitions {
				aps := r.Topics[ti].Partitions[pi].ActiveProducers
				for ai := range aps {
					if n, ok := role[aps[ai].ProducerID]; ok {
						aps[ai].ProducerID = n
					} else {
						aps[ai].ProducerID = -100 // someone else's
					}
					if aps[ai].LastTimestamp > 0 {
						aps[ai].LastTimestamp = 1
					}
				}
			}
		}
	}
	for _, d := range compare(61, k, s) {
		c.fail(api, d.path, d.kafka, d.samsa)
	}
}

// TestDescribeProducers: the producer state of a partition with an
// idempotent and an open transactional producer; an empty partition; a
// partition and a topic that do not exist.
func TestDescribeProducers(t *testing.T) {
	c := scenario(t)
	top := c.topic("t")
	tid := c.topic("tid")
	c.createTopic(top, 2, nil)
	openProducers(c, top, tid)
	c.at("idempotent and open transaction, empty partition, unknown partition")
	k, s := roundTripBoth(c, describeProducersReq(top, 0, 1, 7))
	if k == nil || len(k.(*kmsg.DescribeProducersResponse).Topics[0].Partitions[0].ActiveProducers) != 2 {
		c.t.Fatalf("setup: kafka does not list the two producers: %+v", k)
	}
	compareProducers(c, k, s)
	c.at("unknown topic")
	k, s = roundTripBoth(c, describeProducersReq(top+"-missing", 0))
	compareProducers(c, k, s)
}
