package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/groups"
	"samsa/protocol"
)

// OffsetDelete v0: remove a group's committed offsets for some partitions.
func init() { register(0, 0, (*Handlers).offsetDelete) }

func (h *Handlers) offsetDelete(_ context.Context, _ *protocol.Request, req *kmsg.OffsetDeleteRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	var tps []groups.TopicPartition
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tps = append(tps, groups.TopicPartition{Topic: t.Topic, Partition: p.Partition})
		}
	}
	groupErr, partErrs := h.Groups.DeleteOffsets(req.Group, tps)
	resp.ErrorCode = groupErr
	if groupErr != 0 {
		return resp, nil
	}
	k := 0
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			if k < len(partErrs) {
				rp.ErrorCode = partErrs[k]
			}
			k++
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
