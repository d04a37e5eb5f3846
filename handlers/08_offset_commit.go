package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/groups"
	"samsa/protocol"
)

// OffsetCommit v2-v10 (Kafka 4 serves 2 and up; v10 names topics by id,
// and an unknown id is UNKNOWN_TOPIC_ID).
func init() { register(2, 10, (*Handlers).offsetCommit) }

func (h *Handlers) offsetCommit(_ context.Context, _ *protocol.Request, req *kmsg.OffsetCommitRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	cr := groups.CommitRequest{Group: req.Group, MemberID: req.MemberID, InstanceID: req.InstanceID, Generation: req.Generation}
	// codes holds each partition's answer; -1 marks those sent to the
	// coordinator, whose answers fill them in order.
	codes := make([][]int16, len(req.Topics))
	for i, rt := range req.Topics {
		t, known := h.Controller.Topic(rt.Topic)
		unknown := kerr.UnknownTopicOrPartition.Code
		if req.Version >= 10 {
			t, known = h.Controller.TopicByID(controller.TopicID(rt.TopicID))
			rt.Topic, unknown = t.Name, kerr.UnknownTopicID.Code
		}
		codes[i] = make([]int16, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			switch {
			case !known:
				codes[i][j] = unknown
				continue
			case rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions):
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			codes[i][j] = -1
			leaderEpoch := rp.LeaderEpoch
			if req.Version < 6 {
				leaderEpoch = -1
			}
			cr.Offsets = append(cr.Offsets, groups.OffsetCommit{
				TopicPartition: groups.TopicPartition{Topic: rt.Topic, Partition: rp.Partition},
				Offset:         rp.Offset, LeaderEpoch: leaderEpoch, Metadata: rp.Metadata,
			})
		}
	}
	groupErr, partErrs := int16(0), []int16(nil)
	if len(cr.Offsets) > 0 {
		groupErr, partErrs = h.Groups.Commit(cr)
	}
	fillCommitCodes(codes, groupErr, partErrs)
	for i, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for j, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, codes[i][j]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// fillCommitCodes completes the per-partition answers of an offset commit
// (OffsetCommit, TxnOffsetCommit): codes[i][j] holds the answer decided
// before the coordinator, or -1 for a partition sent to it; those take
// the coordinator's group error, or else its answers in request order.
func fillCommitCodes(codes [][]int16, groupErr int16, partErrs []int16) {
	k := 0
	for i := range codes {
		for j, c := range codes[i] {
			if c != -1 {
				continue
			}
			codes[i][j] = groupErr
			if groupErr == 0 && k < len(partErrs) {
				codes[i][j] = partErrs[k]
			}
			k++
		}
	}
}
