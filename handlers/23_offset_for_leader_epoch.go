package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// OffsetForLeaderEpoch v2-v4, which the Java consumer uses to validate its
// position after a leader change and followers use to find where their
// log diverged from the leader's. A replicated partition answers from its
// leader-epoch cache (logstore's leader-epoch-checkpoint); so does a
// single node's, whose epoch never changes (one entry: the current epoch
// ends at the log end offset).
func init() { register(2, 4, (*Handlers).offsetForLeaderEpoch) }

func (h *Handlers) offsetForLeaderEpoch(_ context.Context, _ *protocol.Request, req *kmsg.OffsetForLeaderEpochRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		t, ok := h.Controller.Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition, sp.LeaderEpoch, sp.EndOffset = rp.Partition, -1, -1
			switch {
			case !ok || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case h.Replicas.Get(rt.Topic, rp.Partition) != nil || h.Replicas.ClusterMode():
				// A replicated partition: its leader answers from the
				// leader-epoch cache (Kafka's
				// Partition.lastOffsetForLeaderEpoch).
				rpart, err := h.Replicas.Lookup(rt.Topic, rp.Partition)
				if err == nil {
					err = rpart.CheckLeader(rp.CurrentLeaderEpoch)
				}
				if err != nil {
					sp.ErrorCode = errCode(err)
					break
				}
				epoch, end, err := rpart.Log().EndOffsetForEpoch(rp.LeaderEpoch)
				if err != nil {
					sp.ErrorCode = logErrCode(err)
					break
				}
				sp.LeaderEpoch, sp.EndOffset = epoch, end
			default:
				part := t.Partitions[rp.Partition]
				if err := checkLeaderEpoch(part, rp.CurrentLeaderEpoch); err != nil {
					sp.ErrorCode = errCode(err)
					break
				}
				p, err := h.partition(t, rp.Partition)
				if err != nil {
					sp.ErrorCode = errCode(err)
					break
				}
				// The partition's epoch starts no later than the log end
				// (as Partition.makeLeader records it), then the cache
				// answers: epoch -1 or one above every known epoch
				// (-1, -1), the current epoch ends where the log ends.
				err = p.AssignEpochStart(part.LeaderEpoch)
				if err == nil {
					sp.LeaderEpoch, sp.EndOffset, err = p.EndOffsetForEpoch(rp.LeaderEpoch)
				}
				if err != nil {
					sp.LeaderEpoch, sp.EndOffset = -1, -1
					sp.ErrorCode = logErrCode(err)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
