package handlers

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/protocol"
)

// DescribeTopicPartitions v0 (KIP-966), which kafka-topics --describe uses
// from Kafka 3.8 on. Results are paged: at most response_partition_limit
// partitions per response, continued from a (topic, partition) cursor.
func init() { register(0, 0, (*Handlers).describeTopicPartitions) }

func (h *Handlers) describeTopicPartitions(_ context.Context, _ *protocol.Request, req *kmsg.DescribeTopicPartitionsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	limit := int(req.ResponsePartitionLimit)
	if limit <= 0 {
		limit = 2000
	}

	// Topics are answered in name order, as the cursor requires.
	var names []string
	if len(req.Topics) == 0 {
		for _, t := range h.Controller.Topics() {
			names = append(names, t.Name)
		}
	} else {
		for _, t := range req.Topics {
			names = append(names, t.Topic)
		}
		sort.Strings(names)
	}
	startPartition := int32(0)
	if c := req.Cursor; c != nil {
		i := sort.SearchStrings(names, c.Topic)
		names = names[i:]
		startPartition = c.Partition
	}

	for i, name := range names {
		if i > 0 && names[i-1] == name {
			continue
		}
		t, ok := h.Controller.Topic(name)
		if !ok {
			rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
			rt.Topic, rt.ErrorCode = kmsg.StringPtr(name), kerr.UnknownTopicOrPartition.Code
			rt.AuthorizedOperations = topicAuthorizedOps // Kafka fills it for unknown topics too
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		first := int32(0)
		if req.Cursor != nil && name == req.Cursor.Topic {
			first = startPartition
		}
		rt, next := describeTopicPartitionsTopic(t, first, limit)
		resp.Topics = append(resp.Topics, rt)
		limit -= len(rt.Partitions)
		if next >= 0 || (limit <= 0 && i+1 < len(names)) {
			cur := kmsg.NewDescribeTopicPartitionsResponseNextCursor()
			cur.Topic, cur.Partition = name, next
			if next < 0 {
				cur.Topic, cur.Partition = names[i+1], 0
			}
			resp.NextCursor = &cur
			break
		}
	}
	return resp, nil
}

// describeTopicPartitionsTopic describes up to limit partitions of t from
// partition first on. next is the first partition left out, or -1.
func describeTopicPartitionsTopic(t controller.Topic, first int32, limit int) (kmsg.DescribeTopicPartitionsResponseTopic, int32) {
	rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
	name := t.Name
	rt.Topic, rt.TopicID, rt.IsInternal = &name, t.ID, t.Internal
	rt.AuthorizedOperations = topicAuthorizedOps // always filled, as by Kafka
	rt.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
	next := int32(-1)
	for _, p := range t.Partitions {
		if p.Index < first {
			continue
		}
		if len(rt.Partitions) == limit {
			next = p.Index
			break
		}
		rp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
		rp.Partition, rp.LeaderID, rp.LeaderEpoch = p.Index, p.Leader, p.LeaderEpoch
		rp.Replicas, rp.ISR, rp.OfflineReplicas = nonNil(p.Replicas), nonNil(p.ISR), nonNil(p.OfflineReplicas)
		rp.EligibleLeaderReplicas, rp.LastKnownELR = []int32{}, []int32{}
		rt.Partitions = append(rt.Partitions, rp)
	}
	return rt, next
}
