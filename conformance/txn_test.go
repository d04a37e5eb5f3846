package conformance

import (
	"time"

	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTxnCoordinator: InitProducerId with a transactional id (first
// epoch, bad timeouts, epoch bump), and the error paths of
// AddPartitionsToTxn and EndTxn, each broker with its own producer id.
func TestTxnCoordinator(t *testing.T) {
	c := scenario(t)
	tid := c.topic("tid")
	top := c.topic("t")
	c.createTopic(top, 1, nil)
	// Kafka creates __transaction_state on the first lookup and answers
	// COORDINATOR_NOT_AVAILABLE while it loads: wait for both.
	for i := 0; i < 100; i++ {
		k, s := roundTripBoth(c, findCoordinatorReq(3, 1, tid))
		if k != nil && s != nil && k.(*kmsg.FindCoordinatorResponse).ErrorCode == 0 && s.(*kmsg.FindCoordinatorResponse).ErrorCode == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	init := func(timeout int32) func(s *side) kmsg.Request {
		return func(s *side) kmsg.Request {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.Version, req.TransactionalID, req.TransactionTimeoutMillis = 4, &tid, timeout
			req.ProducerID, req.ProducerEpoch = -1, -1
			return req
		}
	}
	var k, s kmsg.Response
	for i := 0; i < 100; i++ { // the coordinator may still be loading
		k, s = roundTripBoth(c, init(60000)(nil))
		if k != nil && s != nil && k.(*kmsg.InitProducerIDResponse).ErrorCode == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.at("first init")
	kr, sr := *k.(*kmsg.InitProducerIDResponse), *s.(*kmsg.InitProducerIDResponse)
	c.sides[0].Vals["pid"], c.sides[1].Vals["pid"] = kr.ProducerID, sr.ProducerID
	kr.ProducerID, sr.ProducerID = 0, 0
	c.entry.apis["InitProducerID v4"] = true
	for _, d := range compare(22, &kr, &sr) {
		c.fail("InitProducerID v4", d.path, d.kafka, d.samsa)
	}
	c.at("timeout 0")
	c.do(init(0))
	c.at("timeout above transaction.max.timeout.ms")
	c.do(init(900001))

	pid := func(s *side) int64 { return s.Vals["pid"].(int64) }
	end := func(v int16, commit bool, epoch int16, pidDelta int64) func(s *side) kmsg.Request {
		return func(s *side) kmsg.Request {
			req := kmsg.NewPtrEndTxnRequest()
			req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = v, tid, pid(s)+pidDelta, epoch, commit
			return req
		}
	}
	add := func(v int16, topic string, epoch int16, id string) func(s *side) kmsg.Request {
		return func(s *side) kmsg.Request {
			req := kmsg.NewPtrAddPartitionsToTxnRequest()
			req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch = v, id, pid(s), epoch
			t := kmsg.NewAddPartitionsToTxnRequestTopic()
			t.Topic, t.Partitions = topic, []int32{0}
			req.Topics = append(req.Topics, t)
			return req
		}
	}
	for _, v := range []int16{0, 3} {
		c.at("EndTxn commit with nothing open")
		c.do(end(v, true, 0, 0))
		c.at("EndTxn wrong epoch")
		c.do(end(v, false, 3, 0))
		c.at("EndTxn wrong producer id")
		c.do(end(v, false, 0, 1))
		c.at("AddPartitionsToTxn unknown topic")
		c.do(add(v, top+"-missing", 0, tid))
		c.at("AddPartitionsToTxn unknown transactional id")
		c.do(add(v, top, 0, tid+"-unknown"))
		c.at("AddPartitionsToTxn wrong epoch")
		c.do(add(v, top, 2, tid))
	}
	c.at("AddPartitionsToTxn")
	c.do(add(3, top, 0, tid))
	c.at("EndTxn abort")
	c.do(end(3, false, 0, 0))
	// Kafka completes the abort asynchronously (CONCURRENT_TRANSACTIONS
	// meanwhile); Samsa before answering. Compare the steady state.
	for i := 0; i < 100; i++ {
		k, _ := c.sides[0].roundTrip(end(3, false, 0, 0)(c.sides[0]))
		if k != nil && k.(*kmsg.EndTxnResponse).ErrorCode != 51 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.at("EndTxn abort retried")
	c.do(end(3, false, 0, 0))
	c.at("EndTxn commit after abort")
	c.do(end(3, true, 0, 0))
	c.at("second init bumps the epoch")
	k, s = c.do(func(s *side) kmsg.Request {
		req := init(60000)(s).(*kmsg.InitProducerIDRequest)
		req.ProducerID, req.ProducerEpoch = pid(s), 0
		return req
	})
	_, _ = k, s
}
