package handlers

import (
	"context"
	"regexp"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// DescribeTransactions v0 (KIP-664): each transactional id's state, or
// TRANSACTIONAL_ID_NOT_FOUND (TransactionCoordinator.handleDescribeTransactions).
func init() { register(0, 0, (*Handlers).describeTransactions) }

func (h *Handlers) describeTransactions(_ context.Context, _ *protocol.Request, req *kmsg.DescribeTransactionsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		s := kmsg.NewDescribeTransactionsResponseTransactionState()
		s.TransactionalID, s.ProducerID, s.ProducerEpoch, s.StartTimestamp = id, -1, -1, -1
		if h.Txn == nil {
			s.ErrorCode = kerr.CoordinatorNotAvailable.Code
		} else if err := h.Txn.Owns(id); err != nil {
			// Cluster mode: another broker is the coordinator (or the
			// id's partition is loading), as Kafka answers.
			s.ErrorCode = errCode(err)
		} else if desc, found := h.Txn.Describe(id); !found {
			s.ErrorCode = kerr.TransactionalIDNotFound.Code
		} else {
			s.State, s.TimeoutMillis, s.StartTimestamp, s.ProducerID, s.ProducerEpoch = desc.State, desc.TimeoutMs, desc.StartMs, desc.ProducerID, desc.Epoch
			for _, tp := range desc.Partitions {
				if n := len(s.Topics); n > 0 && s.Topics[n-1].Topic == tp.Topic {
					s.Topics[n-1].Partitions = append(s.Topics[n-1].Partitions, tp.Partition)
					continue
				}
				t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				t.Topic, t.Partitions = tp.Topic, []int32{tp.Partition}
				s.Topics = append(s.Topics, t)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, s)
	}
	return resp, nil
}

// ListTransactions v0-v2 (KIP-664, KIP-994, KIP-1152): the transactional
// ids of this coordinator, filtered by state, producer id, running time
// (v1+) and a regular expression of the id (v2+; a bad one is
// INVALID_REGULAR_EXPRESSION).
func init() { register(0, 2, (*Handlers).listTransactions) }

func (h *Handlers) listTransactions(_ context.Context, _ *protocol.Request, req *kmsg.ListTransactionsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	if h.Txn == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	var re *regexp.Regexp
	if req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		var err error
		if re, err = regexp.Compile(*req.TransactionalIDPattern); err != nil {
			resp.ErrorCode = kerr.InvalidRegularExpression.Code
			return resp, nil
		}
	}
	states := map[string]bool{}
	for _, s := range req.StateFilters {
		states[s] = true
	}
	pids := map[int64]bool{}
	for _, p := range req.ProducerIDFilters {
		pids[p] = true
	}
	now := time.Now().UnixMilli()
	for _, d := range h.Txn.List() {
		if len(states) > 0 && !states[d.State] || len(pids) > 0 && !pids[d.ProducerID] || re != nil && !re.MatchString(d.ID) {
			continue
		}
		if req.DurationFilterMillis >= 0 && req.Version >= 1 && (d.State != "Ongoing" || now-d.StartMs < req.DurationFilterMillis) {
			continue
		}
		s := kmsg.NewListTransactionsResponseTransactionState()
		s.TransactionalID, s.ProducerID, s.TransactionState = d.ID, d.ProducerID, d.State
		resp.TransactionStates = append(resp.TransactionStates, s)
	}
	return resp, nil
}
