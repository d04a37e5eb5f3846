package handlers

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/txn"
)

// TxnForward asks the coordinator of a transactional id on another
// broker to verify (verifyOnly) or add a partition to the producer's
// ongoing transaction, as Kafka's AddPartitionsToTxnManager does with
// AddPartitionsToTxn v4. Its error wraps the coordinator's code
// (NETWORK_EXCEPTION when the coordinator could not be reached).
type TxnForward func(ctx context.Context, id string, pid int64, epoch int16, tp txn.TP, verifyOnly bool) error

// SetTxnForward sets the forwarding of transaction checks (the broker,
// in cluster mode, before its listeners serve). Without it every check
// is made by this broker's transaction coordinator.
func (h *Handlers) SetTxnForward(f TxnForward) { h.txnForward = f }

// txnVerify is Txn.Verify at the transactional id's coordinator: here,
// or through txnForward when another broker is the coordinator.
func (h *Handlers) txnVerify(ctx context.Context, id string, pid int64, epoch int16, tp txn.TP) error {
	if h.txnForward != nil && errors.Is(h.Txn.Owns(id), kerr.NotCoordinator) {
		return h.txnForward(ctx, id, pid, epoch, tp, true)
	}
	return h.Txn.Verify(id, pid, epoch, tp)
}

// txnAdd is Txn.AddPartitions (transaction version 2, a partition
// leader's implicit add, KIP-890 part 2) at the transactional id's
// coordinator.
func (h *Handlers) txnAdd(ctx context.Context, id string, pid int64, epoch int16, tp txn.TP) error {
	if h.txnForward != nil && errors.Is(h.Txn.Owns(id), kerr.NotCoordinator) {
		return h.txnForward(ctx, id, pid, epoch, tp, false)
	}
	return h.Txn.AddPartitions(id, pid, epoch, []txn.TP{tp}, 2)
}
