package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/groups"
	"samsa/protocol"
)

// OffsetFetch v1-v10 (v8+ asks for several groups at once; v10 names
// topics by id: an unknown id is answered UNKNOWN_TOPIC_ID per partition).
func init() { register(1, 10, (*Handlers).offsetFetch) }

func (h *Handlers) offsetFetch(_ context.Context, _ *protocol.Request, req *kmsg.OffsetFetchRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, g := range req.Groups {
			byID := req.Version >= 10
			var unknownIDs []kmsg.OffsetFetchRequestGroupTopic
			tps := requested(g.Topics, func(t kmsg.OffsetFetchRequestGroupTopic) (string, []int32) {
				if !byID {
					return t.Topic, t.Partitions
				}
				topic, ok := h.Controller.TopicByID(controller.TopicID(t.TopicID))
				if !ok {
					unknownIDs = append(unknownIDs, t)
					return "", nil
				}
				return topic.Name, t.Partitions
			})
			code, offsets := h.Groups.Fetch(g.Group, tps, req.RequireStable)
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, code
			for _, ts := range byTopic(offsets) {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = ts[0].Topic
				if byID {
					t, ok := h.Controller.Topic(rt.Topic)
					if !ok {
						continue // a committed topic deleted meanwhile has no id to name it by
					}
					rt.Topic, rt.TopicID = "", [16]byte(t.ID)
				}
				for _, o := range ts {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = o.Partition, o.Offset, o.LeaderEpoch, o.Metadata, o.ErrorCode
					rt.Partitions = append(rt.Partitions, rp)
				}
				rg.Topics = append(rg.Topics, rt)
			}
			for _, t := range unknownIDs {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.TopicID = t.TopicID
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, kerr.UnknownTopicID.Code
					rp.Metadata = kmsg.StringPtr("")
					rt.Partitions = append(rt.Partitions, rp)
				}
				rg.Topics = append(rg.Topics, rt)
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return resp, nil
	}
	tps := requested(req.Topics, func(t kmsg.OffsetFetchRequestTopic) (string, []int32) { return t.Topic, t.Partitions })
	code, offsets := h.Groups.Fetch(req.Group, tps, req.RequireStable)
	resp.ErrorCode = code
	for _, ts := range byTopic(offsets) {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = ts[0].Topic
		for _, o := range ts {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = o.Partition, o.Offset, o.LeaderEpoch, o.Metadata, o.ErrorCode
			if req.Version < 2 && code != 0 {
				// v0-v1 have no group-level error: it goes on every partition.
				rp.ErrorCode = code
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// requested flattens the topics of an OffsetFetch request (either
// version's topic type) into partitions. Null topics, "every committed
// partition", stay nil; an empty list stays empty.
func requested[T any](topics []T, parts func(T) (string, []int32)) []groups.TopicPartition {
	if topics == nil {
		return nil
	}
	out := []groups.TopicPartition{}
	for _, t := range topics {
		name, ps := parts(t)
		for _, p := range ps {
			out = append(out, groups.TopicPartition{Topic: name, Partition: p})
		}
	}
	return out
}

// byTopic groups offsets by topic, keeping first-seen topic order.
func byTopic(offsets []groups.CommittedOffset) [][]groups.CommittedOffset {
	idx := map[string]int{}
	var out [][]groups.CommittedOffset
	for _, o := range offsets {
		i, ok := idx[o.Topic]
		if !ok {
			i = len(out)
			idx[o.Topic] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], o)
	}
	return out
}
