package conformance

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTxnProduceOutsideTransaction: a transactional batch to a partition
// the producer's ongoing transaction never added (KIP-890 part 1's
// verification) is answered as Kafka answers it, as is one with the
// producer's next sequence to a partition it did add.
func TestTxnProduceOutsideTransaction(t *testing.T) {
	c := scenario(t)
	topic, tid := c.topic(""), c.topic("tid")
	c.createTopic(topic, 2, nil)
	openProducers(c, topic, tid)
	ts := baseTime()
	for _, v := range []int16{3, 9, 10, 11, 12} {
		c.at("transactional produce v%d to a partition not in the transaction", v)
		c.do(func(s *side) kmsg.Request {
			o := batchOpts{firstTs: ts, pid: s.Vals["txn"].(int64), seq: 0, attrs: 0x10}
			req := produceReq(v, -1, topic, 1, makeBatch(o, values("z")...))
			req.TransactionID = &tid
			return req
		})
	}
	for _, p := range []int32{1, 0} {
		c.at("transactional produce to partition %d", p)
		c.do(func(s *side) kmsg.Request {
			seq := int32(0)
			if p == 0 {
				seq = 2 // after the 2 records openProducers sent
			}
			o := batchOpts{firstTs: ts, pid: s.Vals["txn"].(int64), seq: seq, attrs: 0x10}
			req := produceReq(11, -1, topic, p, makeBatch(o, values("z")...))
			req.TransactionID = &tid
			return req
		})
	}
}

// TestTxnProduceFenced: after a second InitProducerId of the same
// transactional id fenced the first producer (aborting its transaction
// and bumping the epoch), the zombie's transactional batches, to a
// partition of its old transaction and to another, are answered as
// Kafka answers them (INVALID_PRODUCER_EPOCH, never PRODUCER_FENCED).
func TestTxnProduceFenced(t *testing.T) {
	c := scenario(t)
	topic, tid := c.topic(""), c.topic("tid")
	c.createTopic(topic, 2, nil)
	openProducers(c, topic, tid)
	for _, s := range c.sides {
		untilOK(c, s, func(*side) kmsg.Request {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.Version, req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch = 5, 60000, -1, -1
			req.TransactionalID = &tid
			return req
		}, func(r kmsg.Response) bool { return r.(*kmsg.InitProducerIDResponse).ErrorCode == 0 })
	}
	ts := baseTime()
	for _, v := range []int16{3, 9, 11, 12} {
		for _, p := range []int32{0, 1} {
			c.at("zombie produce v%d to partition %d", v, p)
			c.do(func(s *side) kmsg.Request {
				seq := int32(0)
				if p == 0 {
					seq = 2
				}
				o := batchOpts{firstTs: ts, pid: s.Vals["txn"].(int64), seq: seq, attrs: 0x10}
				req := produceReq(v, -1, topic, p, makeBatch(o, values("zombie")...))
				req.TransactionID = &tid
				return req
			})
		}
	}
}
