package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
	"samsa/txn"
)

// AddPartitionsToTxn v0-v5 (KafkaApis.handleAddPartitionsToTxnRequest):
// v0-v3 are the client's single transaction; v4+ are batches of
// transactions as brokers send them, where VerifyOnly asks whether the
// partitions are already in the ongoing transaction (KIP-890 part 1).
// Unknown topics or partitions answer UNKNOWN_TOPIC_OR_PARTITION and the
// others of the transaction OPERATION_NOT_ATTEMPTED, as Kafka does.
func init() { register(0, 5, (*Handlers).addPartitionsToTxn) }

func (h *Handlers) addPartitionsToTxn(_ context.Context, r *protocol.Request, req *kmsg.AddPartitionsToTxnRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if req.Version < 4 {
		tr := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch = req.TransactionalID, req.ProducerID, req.ProducerEpoch
		for _, t := range req.Topics {
			tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
			tt.Topic, tt.Partitions = t.Topic, t.Partitions
			tr.Topics = append(tr.Topics, tt)
		}
		res := h.addPartitionsOne(r, &tr, 1)
		for i := range res.Topics {
			for j := range res.Topics[i].Partitions {
				res.Topics[i].Partitions[j].ErrorCode = fencedCode(res.Topics[i].Partitions[j].ErrorCode, req.Version < 2)
			}
		}
		for _, t := range res.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
	for i := range req.Transactions {
		resp.Transactions = append(resp.Transactions, h.addPartitionsOne(r, &req.Transactions[i], 2))
	}
	return resp, nil
}

// addPartitionsOne answers one transaction of an AddPartitionsToTxn; tv
// is the client transaction version the adds count as (1 from a client,
// v0-v3; 2 from a partition leader's batch, v4+, which at KIP-890 part 2
// adds the partitions of Produce v12+ implicitly).
func (h *Handlers) addPartitionsOne(r *protocol.Request, tr *kmsg.AddPartitionsToTxnRequestTransaction, tv int16) kmsg.AddPartitionsToTxnResponseTransaction {
	out := kmsg.NewAddPartitionsToTxnResponseTransaction()
	out.TransactionalID = tr.TransactionalID
	codes := make([][]int16, len(tr.Topics))
	var tps []txn.TP
	unknown := false
	for i, t := range tr.Topics {
		topic, ok := h.Controller.Topic(t.Topic)
		codes[i] = make([]int16, len(t.Partitions))
		for j, p := range t.Partitions {
			if !ok || p < 0 || int(p) >= len(topic.Partitions) {
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
				unknown = true
				continue
			}
			tps = append(tps, txn.TP{Topic: t.Topic, Partition: p})
		}
	}
	var err error
	switch {
	case h.Txn == nil:
		err = kerr.CoordinatorNotAvailable
	case unknown:
		err = kerr.OperationNotAttempted
	case tr.VerifyOnly:
		// Per partition: in the transaction or not.
		k := 0
		for i, t := range tr.Topics {
			for j := range t.Partitions {
				if e := h.Txn.Verify(tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, tps[k]); e != nil {
					codes[i][j] = errCode(e)
				}
				k++
			}
		}
	default:
		err = h.Txn.AddPartitions(tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, tps, tv)
		if err != nil {
			r.Logger.Debug("AddPartitionsToTxn refused", "transactional_id", tr.TransactionalID, "err", err)
		}
	}
	for i, t := range tr.Topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
		rt.Topic = t.Topic
		for j, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
			rp.Partition, rp.ErrorCode = p, codes[i][j]
			if rp.ErrorCode == 0 && err != nil {
				rp.ErrorCode = errCode(err)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		out.Topics = append(out.Topics, rt)
	}
	return out
}

// AddOffsetsToTxn v0-v4: the group's __consumer_offsets partition joins
// the transaction (KafkaApis.handleAddOffsetsToTxnRequest).
func init() { register(0, 4, (*Handlers).addOffsetsToTxn) }

func (h *Handlers) addOffsetsToTxn(_ context.Context, r *protocol.Request, req *kmsg.AddOffsetsToTxnRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if h.Txn == nil || h.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	h.ensureOffsetsTopic(r)
	tp := txn.TP{Topic: offsetsTopic, Partition: h.Groups.PartitionFor(req.Group)}
	if err := h.Txn.AddPartitions(req.TransactionalID, req.ProducerID, req.ProducerEpoch, []txn.TP{tp}, 1); err != nil {
		resp.ErrorCode = fencedCode(errCode(err), req.Version < 2)
	}
	return resp, nil
}

// EndTxn v0-v5: commit or abort (KafkaApis.handleEndTxnRequest). v5+ is
// a client on transaction version 2 (KIP-890 part 2): the coordinator
// bumps the epoch with every transaction and the answer carries the
// producer id and epoch to go on with.
func init() { register(0, 5, (*Handlers).endTxn) }

func (h *Handlers) endTxn(ctx context.Context, r *protocol.Request, req *kmsg.EndTxnRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if h.Txn == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	pid, epoch, err := h.Txn.EndTxn(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit, req.Version >= 5)
	if err != nil {
		resp.ErrorCode = fencedCode(errCode(err), req.Version < 2)
		r.Logger.Debug("EndTxn refused", "transactional_id", req.TransactionalID, "err", err)
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = pid, epoch
	return resp, nil
}

// fencedCode is PRODUCER_FENCED as a request version knows it: versions
// before KIP-588 (AddPartitionsToTxn, AddOffsetsToTxn and EndTxn v0-v1,
// InitProducerId v0-v3, TxnOffsetCommit v0-v2) get INVALID_PRODUCER_EPOCH,
// as Kafka answers them (measured for EndTxn and AddPartitionsToTxn v0).
func fencedCode(code int16, old bool) int16 {
	if old && code == kerr.ProducerFenced.Code {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}
