package conformance

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"testing"
)

// TestFetchSessions: incremental fetch sessions (KIP-227) as a consumer
// drives them: a full fetch that creates a session, incremental fetches
// with nothing new, with new records on one partition, with a partition
// forgotten, then the session errors (wrong epoch, unknown id, topic ids
// switched on) and the close. Session ids are random on each broker
// (allow-listed); each side's own id is used in its requests.
func TestFetchSessions(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 3, nil)
	c.produce(topic, 0, makeBatch(batchOpts{firstTs: baseTime(), pid: -1, epoch: -1, seq: -1}, values("a", "b")...))
	c.produce(topic, 1, makeBatch(batchOpts{firstTs: baseTime(), pid: -1, epoch: -1, seq: -1}, values("c")...))

	type part struct {
		p      int32
		offset int64
	}
	fetch := func(s *side, version int16, epoch int32, sessionID int32, parts []part, forget []int32) *kmsg.FetchRequest {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxBytes, req.MaxWaitMillis, req.MinBytes = version, 1<<20, 0, 0
		req.SessionID, req.SessionEpoch = sessionID, epoch
		if len(parts) > 0 {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = topic
			if version >= 13 {
				rt.Topic, rt.TopicID = "", c.topicID(s, topic)
			}
			for _, p := range parts {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p.p, p.offset, 1<<20
				rp.CurrentLeaderEpoch, rp.LogStartOffset, rp.LastFetchedEpoch = -1, -1, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		if len(forget) > 0 {
			ft := kmsg.NewFetchRequestForgottenTopic()
			ft.Topic, ft.Partitions = topic, forget
			req.ForgottenTopics = append(req.ForgottenTopics, ft)
		}
		return req
	}
	id := func(s *side) int32 { return s.Vals["session"].(int32) }

	c.at("full fetch, epoch 0")
	k, m := c.do(func(s *side) kmsg.Request { return fetch(s, 12, 0, 0, []part{{0, 0}, {1, 0}, {2, 0}}, nil) })
	for i, r := range []kmsg.Response{k, m} {
		fr, ok := r.(*kmsg.FetchResponse)
		if !ok {
			t.Fatalf("%s: no fetch answer", c.sides[i].Name)
		}
		if fr.SessionID == 0 {
			t.Errorf("%s created no fetch session", c.sides[i].Name)
		}
		c.sides[i].Vals["session"] = fr.SessionID
	}
	c.at("incremental, positions moved, nothing new")
	c.do(func(s *side) kmsg.Request { return fetch(s, 12, 1, id(s), []part{{0, 2}, {1, 1}}, nil) })
	c.produce(topic, 2, makeBatch(batchOpts{firstTs: baseTime(), pid: -1, epoch: -1, seq: -1}, values("d")...))
	c.at("incremental, a record in partition 2")
	c.do(func(s *side) kmsg.Request { return fetch(s, 12, 2, id(s), nil, nil) })
	c.at("incremental, partition 1 forgotten, partition 2 moved")
	c.do(func(s *side) kmsg.Request { return fetch(s, 12, 3, id(s), []part{{2, 1}}, []int32{1}) })
	c.produce(topic, 1, makeBatch(batchOpts{firstTs: baseTime(), pid: -1, epoch: -1, seq: -1}, values("e")...))
	c.at("incremental, new record in the forgotten partition 1")
	c.do(func(s *side) kmsg.Request { return fetch(s, 12, 4, id(s), nil, nil) })
	c.at("incremental, a stale epoch")
	c.do(func(s *side) kmsg.Request { return fetch(s, 12, 2, id(s), nil, nil) })
	c.at("incremental, topic ids on a session made without them")
	c.do(func(s *side) kmsg.Request { return fetch(s, 13, 5, id(s), nil, nil) })
	c.at("incremental, the session still at epoch 5")
	c.do(func(s *side) kmsg.Request { return fetch(s, 12, 5, id(s), nil, nil) })
	c.at("incremental, an unknown session id")
	c.do(func(s *side) kmsg.Request { return fetch(s, 12, 1, id(s)^0x40000000, nil, nil) })
	c.at("close the session (epoch -1)")
	c.do(func(s *side) kmsg.Request { return fetch(s, 12, -1, id(s), []part{{0, 2}}, nil) })
	c.at("incremental on the closed session")
	c.do(func(s *side) kmsg.Request { return fetch(s, 12, 6, id(s), nil, nil) })

	c.at("full fetch with topic ids, epoch 0")
	k, m = c.do(func(s *side) kmsg.Request { return fetch(s, 17, 0, 0, []part{{0, 0}, {1, 0}}, nil) })
	for i, r := range []kmsg.Response{k, m} {
		if fr, ok := r.(*kmsg.FetchResponse); ok {
			c.sides[i].Vals["session"] = fr.SessionID
		}
	}
	c.at("incremental with topic ids, nothing new")
	c.do(func(s *side) kmsg.Request { return fetch(s, 17, 1, id(s), []part{{0, 2}, {1, 2}}, nil) })
	c.at("incremental without topic ids on a topic-id session")
	c.do(func(s *side) kmsg.Request { return fetch(s, 12, 2, id(s), nil, nil) })
}
