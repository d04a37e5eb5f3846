package handlers

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// InitProducerId v0-v5 for idempotent producers. Without a transactional
// id Kafka hands out a fresh producer id at epoch 0 on every call (its
// transaction coordinator "blindly accepts" such requests), which is also
// how a producer recovers from an error that needs a new epoch.
// With a transactional id the transaction coordinator answers (see
// txn.Coordinator.InitProducerID): an empty id is INVALID_REQUEST, as in
// Kafka.
func init() { register(0, 5, (*Handlers).initProducerID) }

func (h *Handlers) initProducerID(ctx context.Context, r *protocol.Request, req *kmsg.InitProducerIDRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		if *req.TransactionalID == "" {
			resp.ErrorCode = kerr.InvalidRequest.Code
			return resp, nil
		}
		if h.Txn == nil {
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return resp, nil
		}
		h.ensureTxnTopic(r)
		pid, epoch, err := h.Txn.InitProducerID(ctx, *req.TransactionalID, req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch)
		if err != nil {
			resp.ErrorCode = fencedCode(errCode(err), req.Version < 4)
			r.Logger.Debug("InitProducerId refused", "transactional_id", *req.TransactionalID, "err", fmt.Errorf("%w", err))
			return resp, nil
		}
		resp.ProducerID, resp.ProducerEpoch = pid, epoch
		return resp, nil
	}
	id, err := h.Controller.AllocateProducerIDs(ctx, 1)
	if err != nil {
		r.Logger.Error("allocating producer id failed", "err", err)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp, nil
}
