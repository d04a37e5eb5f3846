package conformance

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTxnV2EndTxn: transaction version 2 (KIP-890 part 2) as a 4.x
// client runs it against a broker that finalizes transaction.version 2:
// Produce v12 adds its partition implicitly, EndTxn v5 bumps the epoch
// and answers the new one, a retry of the ended transaction (the epoch
// before the bump) is answered again, an abort with nothing open bumps
// the epoch too, a commit with nothing open is refused, a write with
// the epoch before the bump is refused, and TxnOffsetCommit v5 adds the
// group's partition without AddOffsetsToTxn. Producer ids are each
// broker's own: EndTxn's ProducerID compares as "the side's producer
// id" (or -1).
func TestTxnV2EndTxn(t *testing.T) {
	c := scenario(t)
	topic, tid, group := c.topic(""), c.topic("tid"), c.topic("group")
	c.createTopic(topic, 2, nil)
	for _, s := range c.sides {
		r := untilOK(c, s, func(*side) kmsg.Request {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.Version, req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch = 5, 60000, -1, -1
			req.TransactionalID = &tid
			return req
		}, func(r kmsg.Response) bool { return r.(*kmsg.InitProducerIDResponse).ErrorCode == 0 })
		s.Vals["pid"] = r.(*kmsg.InitProducerIDResponse).ProducerID
	}
	pid := func(s *side) int64 { return s.Vals["pid"].(int64) }
	ts := baseTime()
	seq := map[int32]int32{}
	produce := func(label string, p int32, epoch int16, n int) {
		c.at("%s", label)
		first := seq[p]
		c.do(func(s *side) kmsg.Request {
			vals := make([]string, n)
			for i := range vals {
				vals[i] = "v"
			}
			o := batchOpts{firstTs: ts, pid: pid(s), epoch: epoch, seq: first, attrs: 0x10}
			req := produceReq(12, -1, topic, p, makeBatch(o, values(vals...)...))
			req.TransactionID = &tid
			return req
		})
		seq[p] = first + int32(n)
	}
	// Kafka answers EndTxn once PrepareCommit/PrepareAbort is written and
	// writes the markers after; Samsa answers once they are written. Wait
	// for both to settle before the next step, so answers compare.
	settle := func() {
		for _, s := range c.sides {
			untilOK(c, s, func(*side) kmsg.Request {
				req := kmsg.NewPtrDescribeTransactionsRequest()
				req.TransactionalIDs = []string{tid}
				return req
			}, func(r kmsg.Response) bool {
				st := r.(*kmsg.DescribeTransactionsResponse).TransactionStates
				return len(st) == 1 && st[0].State != "PrepareCommit" && st[0].State != "PrepareAbort"
			})
		}
	}
	end := func(label string, commit bool, epoch int16) {
		defer settle()
		c.at("%s", label)
		var out [2]kmsg.EndTxnResponse
		for i, s := range c.sides {
			req := kmsg.NewPtrEndTxnRequest()
			req.Version, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = 5, tid, pid(s), epoch, commit
			r, err := roundTrip(s.Addr, req)
			if err != nil {
				c.t.Fatalf("%s: EndTxn v5: %v", s.Name, err)
			}
			out[i] = *r.(*kmsg.EndTxnResponse)
			if out[i].ProducerID == pid(s) {
				out[i].ProducerID = 0 // "this side's producer id"
			}
		}
		c.entry.apis["EndTxn v5"] = true
		for _, d := range compare(26, &out[0], &out[1]) {
			c.fail("EndTxn v5", d.path, d.kafka, d.samsa)
		}
	}

	produce("Produce v12, partition 0 added implicitly", 0, 0, 2)
	produce("Produce v12, partition 1 added implicitly", 1, 0, 1)
	end("EndTxn v5 commit: epoch 0 -> 1", true, 0)
	end("EndTxn v5 commit again with epoch 0 (a retry)", true, 0)
	end("EndTxn v5 abort with epoch 0 (not the ended transaction's outcome)", false, 0)
	end("EndTxn v5 commit with nothing open", true, 1)
	seq = map[int32]int32{}
	produce("Produce v12 with the bumped epoch 1", 0, 1, 1)
	produce("Produce v12 with the ended epoch 0", 1, 0, 1)
	end("EndTxn v5 abort: epoch 1 -> 2", false, 1)
	end("EndTxn v5 abort with nothing open: epoch 2 -> 3", false, 2)
	end("EndTxn v5 abort again with epoch 2 (a retry)", false, 2)
	end("EndTxn v5 with a stale epoch", true, 1)

	// TxnOffsetCommit v5 without AddOffsetsToTxn, then commit.
	seq = map[int32]int32{}
	produce("Produce v12 with epoch 3", 0, 3, 1)
	for _, s := range c.sides {
		untilOK(c, s, func(*side) kmsg.Request { return findCoordinatorReq(3, 0, group) },
			func(r kmsg.Response) bool { return r.(*kmsg.FindCoordinatorResponse).ErrorCode == 0 })
	}
	c.at("TxnOffsetCommit v5 with no AddOffsetsToTxn")
	c.do(func(s *side) kmsg.Request {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.Version, req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = 5, tid, group, pid(s), 3
		req.Generation = -1
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = 0, 7, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return req
	})
	c.at("DescribeTransactions of the open transaction")
	var ds [2]*kmsg.DescribeTransactionsResponse
	for i, s := range c.sides {
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{tid}
		r, err := roundTrip(s.Addr, req)
		if err != nil {
			c.t.Fatalf("%s: DescribeTransactions: %v", s.Name, err)
		}
		ds[i] = r.(*kmsg.DescribeTransactionsResponse)
		for j := range ds[i].TransactionStates {
			st := &ds[i].TransactionStates[j]
			if st.ProducerID == pid(s) {
				st.ProducerID = 0 // this side's producer id
			}
			if st.StartTimestamp > 0 {
				st.StartTimestamp = 1 // a wall-clock time on each side
			}
		}
	}
	c.entry.apis["DescribeTransactions v0"] = true
	for _, d := range compare(65, ds[0], ds[1]) {
		c.fail("DescribeTransactions v0", d.path, d.kafka, d.samsa)
	}
	end("EndTxn v5 commit with the group's offsets: epoch 3 -> 4", true, 3)
	c.at("OffsetFetch after the commit")
	c.do(func(s *side) kmsg.Request {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version, req.Group = 7, group
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		req.Topics = append(req.Topics, rt)
		return req
	})
}
