package handlers

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/groups"
	"samsa/protocol"
	"samsa/txn"
)

// TxnOffsetCommit v0-v5: offsets committed inside a transaction, pending
// in the group coordinator until the transaction's marker
// (KafkaApis.handleTxnOffsetCommitRequest). The group's
// __consumer_offsets partition must have been added with AddOffsetsToTxn
// (else INVALID_TXN_STATE), except at v5+ (transaction version 2,
// KIP-890 part 2), which adds it to the transaction implicitly.
func init() { register(0, 5, (*Handlers).txnOffsetCommit) }

func (h *Handlers) txnOffsetCommit(ctx context.Context, _ *protocol.Request, req *kmsg.TxnOffsetCommitRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	tr := groups.TxnCommitRequest{Group: req.Group, ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch, Generation: -1}
	if req.Version >= 3 {
		tr.MemberID, tr.InstanceID, tr.Generation = req.MemberID, req.InstanceID, req.Generation
	}
	var pre error
	if h.Txn == nil || h.Groups == nil {
		pre = kerr.CoordinatorNotAvailable
	} else {
		tp := txn.TP{Topic: offsetsTopic, Partition: h.Groups.PartitionFor(req.Group)}
		pre = h.txnVerify(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, tp)
		if req.Version >= 5 && errors.Is(pre, kerr.InvalidTxnState) {
			// KIP-890 part 2: clients on transaction version 2 send no
			// AddOffsetsToTxn; v5 adds the group's partition itself.
			pre = h.txnAdd(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, tp)
		}
	}
	codes := make([][]int16, len(req.Topics))
	for i, rt := range req.Topics {
		t, known := h.Controller.Topic(rt.Topic)
		codes[i] = make([]int16, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			switch {
			case pre != nil:
				codes[i][j] = fencedCode(errCode(pre), req.Version < 3)
				continue
			case !known || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions):
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			codes[i][j] = -1
			le := rp.LeaderEpoch
			if req.Version < 2 {
				le = -1
			}
			tr.Offsets = append(tr.Offsets, groups.OffsetCommit{
				TopicPartition: groups.TopicPartition{Topic: rt.Topic, Partition: rp.Partition},
				Offset:         rp.Offset, LeaderEpoch: le, Metadata: rp.Metadata,
			})
		}
	}
	groupErr, partErrs := int16(0), []int16(nil)
	if len(tr.Offsets) > 0 {
		groupErr, partErrs = h.Groups.TxnCommit(tr)
	}
	fillCommitCodes(codes, groupErr, partErrs)
	for i, rt := range req.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, codes[i][j]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
