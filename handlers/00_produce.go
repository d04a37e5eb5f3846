package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/logstore"
	"samsa/protocol"
	"samsa/quota"
	"samsa/replica"
	"samsa/txn"
)

// Produce v0-v13. Like Kafka 4.x, versions 0-2 are advertised (some
// librdkafka releases refuse a broker whose Produce minimum is above 0,
// KAFKA-18659) but, their message formats being gone, Kafka 4.3.1 closes
// the connection on them without an answer; so does Samsa.
func init() { register(0, 13, (*Handlers).produce) }

// produce follows KafkaApis.handleProduceRequest and
// ReplicaManager.appendToLocalLog: request-wide checks (transactional
// records without a transactional id), then per partition the topic and
// ProduceRequest.validateRecords (answers with log_start_offset -1), the
// acks check, then the log (LogValidator and the append; its failures
// carry the partition's log start offset, except the kinds
// ReplicaManager answers without it, see logStartOnError).
func (h *Handlers) produce(ctx context.Context, r *protocol.Request, req *kmsg.ProduceRequest) (kmsg.Response, error) {
	if req.Version < 3 {
		return nil, fmt.Errorf("produce v%d (message format v0/v1) is not served; Kafka 4 closes the connection too", req.Version)
	}
	var start time.Time
	if h.Quotas.Active() {
		start = time.Now()
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	var wholeRequest error
	if hasTransactionalRecords(req) && req.TransactionID == nil {
		wholeRequest = fmt.Errorf("transactional records need a transactional id: %w", kerr.TransactionalIDAuthorizationFailed)
	}
	var appends []pending
	var waits []*replicaWait
	nowMs := time.Now().UnixMilli()
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		t, terr := h.lookupTopic(req.Version >= 13, rt.Topic, rt.TopicID)
		if req.Version < 13 && controller.IsInternalTopic(rt.Topic) || terr == nil && t.Internal {
			terr = fmt.Errorf("cannot append to internal topic %s: %w", t.Name, kerr.InvalidTopicException)
		}
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, 0, len(rt.Partitions))
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			err := wholeRequest
			if err == nil {
				err = terr
			}
			if err == nil && (rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions)) {
				err = fmt.Errorf("%s has no partition %d: %w", t.Name, rp.Partition, kerr.UnknownTopicOrPartition)
			}
			st.Partitions = append(st.Partitions, sp)
			var batch []byte
			if err == nil {
				if unknownCodecBefore7(req.Version, rp.Records) {
					wholeRequest = fmt.Errorf("produce v%d batch with compression id %d: %w", req.Version, rp.Records[22]&7, kerr.UnknownServerError)
					continue
				}
				batch, err = checkRequestRecords(req.Version, rp.Records)
			}
			if err == nil && req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
				err = fmt.Errorf("acks must be -1, 0 or 1, not %d: %w", req.Acks, kerr.InvalidRequiredAcks)
			}
			if err != nil {
				h.produceFailed(r, req.Version, t.Name, &st.Partitions[len(st.Partitions)-1], err)
				continue
			}
			appends = append(appends, pending{t: t, batch: batch, sp: &st.Partitions[len(st.Partitions)-1]})
		}
		resp.Topics = append(resp.Topics, st)
	}
	if wholeRequest != nil {
		// ProduceRequest.getErrorResponse: every partition, nothing appended.
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				sp := &resp.Topics[i].Partitions[j]
				*sp = kmsg.NewProduceResponseTopicPartition()
				sp.Partition = req.Topics[i].Partitions[j].Partition
				sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
				h.produceFailed(r, req.Version, resp.Topics[i].Topic, sp, wholeRequest)
			}
		}
		appends = nil
	}
	// The appends, in parallel across partitions when the request is big
	// enough to pay for it (see appendAll); errors and the response's
	// broker hints are then applied in request order.
	outs := h.appendAll(ctx, req, appends, nowMs)
	for i, a := range appends {
		o := outs[i]
		if o.err != nil {
			if o.p != nil && logStartOnError(o.err) {
				a.sp.LogStartOffset = o.p.LogStartOffset()
			}
			h.produceFailed(r, req.Version, a.t.Name, a.sp, o.err)
			h.notLeaderHint(req.Version, resp, a.sp, o.err)
		}
		if o.w != nil {
			waits = append(waits, o.w)
		}
	}
	if len(waits) > 0 {
		// Kafka's DelayedProduce: every partition waits until the same
		// deadline, the request's timeout.
		deadline := time.Now().Add(time.Duration(req.TimeoutMillis) * time.Millisecond)
		for _, w := range waits {
			if err := w.rp.WaitReplicated(ctx, w.epoch, w.offset, w.minISR, deadline); err != nil {
				h.produceFailed(r, req.Version, w.topic, w.sp, err)
				h.notLeaderHint(req.Version, resp, w.sp, err)
			}
		}
	}
	h.countProduce(req, resp)
	if !start.IsZero() {
		h.produceQuota(r, req, resp, start)
	}
	if req.Acks == 0 {
		return nil, nil
	}
	return resp, nil
}

// pending is one partition's batch of a Produce request that passed the
// request-wide checks, with the response entry it fills.
type pending struct {
	t     controller.Topic
	batch []byte
	sp    *kmsg.ProduceResponseTopicPartition
}

// appendOutcome is what appending one pending batch gave: the log (nil
// when the partition could not be opened), an acks=all wait, or the error
// for the response.
type appendOutcome struct {
	p   *logstore.Partition
	w   *replicaWait
	err error
}

// parallelAppendMinBytes is the size of a Produce request's batches from
// which appendAll spreads its partitions over the cores. Below it a
// goroutine hand-off costs more than the page-cache copy it overlaps
// (a 1 MiB pwrite takes about 0.3 ms here).
const parallelAppendMinBytes = 256 << 10

// appendAll appends every pending batch and returns the outcomes in the
// same order. Kafka's ReplicaManager appends a request's partitions one
// after the other on its handler thread; the appends of different
// partitions are independent (each log has its own lock, and other
// connections already append concurrently), so a request of several
// partitions whose batches reach parallelAppendMinBytes is appended by up
// to GOMAXPROCS goroutines: the broker's time per request, during which
// a producer with one request in flight waits, shrinks from the sum of
// the partitions' copies into the page cache towards their maximum.
//
// Stays sequential, as in Kafka, for transactional requests (their
// verification with the coordinator may add partitions to the
// transaction one by one) and for a request naming one partition twice,
// whose batches must go in the request's order (their sequence numbers
// follow each other).
func (h *Handlers) appendAll(ctx context.Context, req *kmsg.ProduceRequest, appends []pending, nowMs int64) []appendOutcome {
	outs := make([]appendOutcome, len(appends))
	one := func(i int) {
		a := appends[i]
		rp := a.sp.Partition
		if req.TransactionID != nil {
			if err := h.verifyTxnBatch(ctx, req.Version, *req.TransactionID, a.t.Name, rp, a.batch); err != nil {
				outs[i].err = err
				return
			}
		}
		p, err := h.partition(a.t, rp)
		outs[i].p = p
		if err == nil {
			outs[i].w, err = h.appendPartition(a.t, p, rp, a.batch, req.Acks, nowMs, a.sp)
		}
		outs[i].err = err
	}
	workers := min(runtime.GOMAXPROCS(0), len(appends))
	if workers < 2 || req.TransactionID != nil || !parallelWorthIt(appends) {
		for i := range appends {
			one(i)
		}
		return outs
	}
	var next atomic.Int32
	var wg sync.WaitGroup
	// A panic in a worker goroutine would end the process; it is carried
	// back and raised again in the connection's goroutine, whose recover
	// closes the connection and logs it, as for a sequential append.
	// The batches point into the request's pooled frame, so every
	// worker must be done before the connection's goroutine goes on,
	// even when one of them panicked.
	var panicked atomic.Pointer[string]
	work := func() {
		defer func() {
			if r := recover(); r != nil {
				msg := fmt.Sprintf("%v\n%s", r, debug.Stack())
				panicked.CompareAndSwap(nil, &msg)
			}
		}()
		for i := int(next.Add(1) - 1); i < len(appends); i = int(next.Add(1) - 1) {
			one(i)
		}
	}
	for range workers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
	if p := panicked.Load(); p != nil {
		panic("appending in a parallel produce: " + *p)
	}
	return outs
}

// parallelWorthIt says whether appends are big enough for appendAll's
// goroutines and name each partition once.
func parallelWorthIt(appends []pending) bool {
	total := 0
	for _, a := range appends {
		total += len(a.batch)
	}
	if total < parallelAppendMinBytes {
		return false
	}
	type tp struct {
		topic     string
		partition int32
	}
	seen := make(map[tp]struct{}, len(appends))
	for _, a := range appends {
		k := tp{a.t.Name, a.sp.Partition}
		if _, dup := seen[k]; dup {
			return false
		}
		seen[k] = struct{}{}
	}
	return true
}

// produceQuota records the request's size against the producer's
// producer_byte_rate and, unless acks=0, its handling time against its
// request_percentage, and throttles by the larger throttle time
// (KafkaApis.handleProduceRequest). With acks=0 nothing is answered but
// the connection is still muted.
func (h *Handlers) produceQuota(r *protocol.Request, req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse, start time.Time) {
	user, client := quotaUser(r), quotaClientID(r)
	bwMs := h.Quotas.Record(quota.Produce, user, client, float64(r.Size))
	var reqMs int32
	if req.Acks != 0 {
		reqMs = h.Quotas.Record(quota.Request, user, client, quota.RequestValue(time.Since(start)))
	}
	throttleResponse(r, resp, bwMs, reqMs)
}

// verifyTxnBatch is the transaction verification of a transactional
// batch (KIP-890 part 1, transaction.partition.verification.enable): the
// partition must be in the ongoing transaction of the batch's producer
// id and epoch at the transaction coordinator. When it is not, Kafka
// 4.3.1 answers by Produce version (measured by the conformance suite,
// TestTxnProduceOutsideTransaction): v12+ (KIP-890 part 2, where clients
// no longer send AddPartitionsToTxn) adds the partition to the
// transaction and appends; v11 answers TRANSACTION_ABORTABLE (KIP-1050);
// older versions INVALID_TXN_STATE. The coordinator's PRODUCER_FENCED
// goes out as INVALID_PRODUCER_EPOCH, the error producers expect from
// Produce (Kafka's AddPartitionsToTxnManager; a fenced Java producer's
// send fails with InvalidProducerEpochException, measured against Kafka
// 4.3.1 by compat-tests java transactions-fencing); other errors such as
// INVALID_PRODUCER_ID_MAPPING go out as they are.
func (h *Handlers) verifyTxnBatch(ctx context.Context, version int16, id, topic string, partition int32, batch []byte) error {
	hdr, err := logstore.ParseBatchHeader(batch)
	if err != nil || !hdr.IsTransactional() {
		return nil // the log's checks answer bad batches
	}
	if h.Txn == nil {
		return kerr.InvalidTxnState
	}
	tp := txn.TP{Topic: topic, Partition: partition}
	err = h.txnVerify(ctx, id, hdr.ProducerID, hdr.ProducerEpoch, tp)
	if err == nil || !errors.Is(err, kerr.InvalidTxnState) {
		return produceFenced(err)
	}
	switch {
	case version >= 12:
		return produceFenced(h.txnAdd(ctx, id, hdr.ProducerID, hdr.ProducerEpoch, tp))
	case version == 11:
		return fmt.Errorf("%v: %w", err, kerr.TransactionAbortable)
	}
	return err
}

// produceFenced answers the coordinator's PRODUCER_FENCED as
// INVALID_PRODUCER_EPOCH (see verifyTxnBatch).
//
// Retriable coordinator errors (CONCURRENT_TRANSACTIONS, NETWORK_EXCEPTION,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE,
// NOT_COORDINATOR: the coordinator is moving) go out as
// NOT_ENOUGH_REPLICAS, as Kafka's ReplicaManager translates them, so
// that every producer retries the batch.
func produceFenced(err error) error {
	switch {
	case errors.Is(err, kerr.ProducerFenced):
		return fmt.Errorf("%v: %w", err, kerr.InvalidProducerEpoch)
	case errors.Is(err, kerr.ConcurrentTransactions), errors.Is(err, kerr.NetworkException),
		errors.Is(err, kerr.CoordinatorLoadInProgress), errors.Is(err, kerr.CoordinatorNotAvailable),
		errors.Is(err, kerr.NotCoordinator):
		return fmt.Errorf("verifying the transaction: %v: %w", err, kerr.NotEnoughReplicas)
	}
	return err
}

// countProduce adds a produce's partitions to the BrokerTopicMetrics, as
// ReplicaManager.appendToLocalLog marks them: request bytes and records
// appended for each partition that succeeded, failures otherwise.
// resp.Topics parallels req.Topics, and each topic's partitions too.
func (h *Handlers) countProduce(req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse) {
	for i := range resp.Topics {
		rt := &req.Topics[i]
		tc := h.topicCounters(req.Version >= 13, rt.Topic, rt.TopicID)
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].ErrorCode != 0 || tc == nil {
				h.Metrics.ProduceFailed(tc)
				continue
			}
			rec := rt.Partitions[j].Records
			h.Metrics.Produced(tc, len(rec), batchRecords(rec))
		}
	}
}

// logStartOnError says whether a failed append answers with the
// partition's log start offset: ReplicaManager.appendToLocalLog does for
// every failure inside the log except unknown partitions, leadership,
// MESSAGE_TOO_LARGE, CORRUPT_MESSAGE and storage errors, which it answers
// with -1.
func logStartOnError(err error) bool {
	switch logErrCode(err) {
	case kerr.UnknownTopicOrPartition.Code, kerr.NotLeaderForPartition.Code, kerr.MessageTooLarge.Code,
		kerr.RecordListTooLarge.Code, kerr.CorruptMessage.Code, kerr.KafkaStorageError.Code:
		return false
	}
	return true
}

// produceFailed fills sp with err and logs it once: hostile or broken
// batches at warn (the client's fault), server failures at error.
func (h *Handlers) produceFailed(r *protocol.Request, version int16, topic string, sp *kmsg.ProduceResponseTopicPartition, err error) {
	sp.BaseOffset, sp.LogAppendTime = -1, -1
	sp.ErrorCode = logErrCode(err)
	if version >= 8 {
		sp.ErrorMessage = errMessage(err)
		sp.ErrorRecords = recordErrors(err)
	}
	var ve *logstore.ValidationError
	switch {
	case errors.As(err, &ve) || sp.ErrorCode == kerr.CorruptMessage.Code || sp.ErrorCode == kerr.InvalidRecord.Code:
		r.Logger.Warn("produce rejected", "topic", topic, "partition", sp.Partition, "err", err)
	case sp.ErrorCode == kerr.UnknownServerError.Code:
		r.Logger.Error("produce failed", "topic", topic, "partition", sp.Partition, "err", err)
	}
}

// appendPartition validates batch against t's settings (Kafka's
// UnifiedLog.analyzeAndValidateRecords and LogValidator), stamps the
// partition's leader epoch, recompresses when compression.type asks for
// another codec, and appends. A partition the replica manager holds is
// appended under its leadership (NOT_LEADER_OR_FOLLOWER, fenced at once
// by a newer LeaderAndIsr) and, with acks=all, returns a wait for the
// in-sync replicas that the caller runs after all appends (Kafka's
// DelayedProduce); a single node's partition is done at once.
func (h *Handlers) appendPartition(t controller.Topic, p *logstore.Partition, idx int32, batch []byte, acks int16, nowMs int64, sp *kmsg.ProduceResponseTopicPartition) (*replicaWait, error) {
	set := h.produceSettingsFor(t)
	part := t.Partitions[idx]
	rp, err := h.Replicas.Lookup(t.Name, idx)
	if err != nil {
		return nil, err
	}
	if rp != nil {
		var res logstore.AppendResult
		epoch, err := rp.AppendAsLeader(acks, int(set.minISR), func(leaderEpoch int32) error {
			var err error
			res, err = h.appendValidated(p, set, batch, leaderEpoch, nowMs)
			return err
		})
		if err != nil {
			return nil, err
		}
		sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = res.BaseOffset, res.LogAppendTime, res.LogStartOffset
		if acks != -1 {
			return nil, nil
		}
		return &replicaWait{rp: rp, epoch: epoch, offset: res.LastOffset + 1, minISR: int(set.minISR), sp: sp, topic: t.Name}, nil
	}
	if acks == -1 && int64(len(part.ISR)) < set.minISR && int64(len(part.ISR)) < int64(len(part.Replicas)) {
		// Kafka 3.7+ (KAFKA-15583) caps min.insync.replicas at the
		// replication factor: with every replica in sync, acks=all
		// succeeds.
		return nil, fmt.Errorf("in-sync replicas %d below min.insync.replicas %d: %w", len(part.ISR), set.minISR, kerr.NotEnoughReplicas)
	}
	res, err := h.appendValidated(p, set, batch, part.LeaderEpoch, nowMs)
	if err != nil {
		return nil, err
	}
	if acks == -1 {
		// On a single node the leader is the only replica and the
		// append above already counts.
		if err := h.waitReplicated(t, part, res.LastOffset); err != nil {
			return nil, err
		}
	}
	sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = res.BaseOffset, res.LogAppendTime, res.LogStartOffset
	return nil, nil
}

// appendValidated is the validation, recompression, epoch stamping and
// append of appendPartition.
func (h *Handlers) appendValidated(p *logstore.Partition, set *produceSettings, batch []byte, leaderEpoch int32, nowMs int64) (logstore.AppendResult, error) {
	lim := set.limits
	lim.nowMs = nowMs
	hdr, err := validateBatch(batch, lim)
	if err != nil {
		return logstore.AppendResult{}, err
	}
	if lim.codec >= 0 && lim.codec != hdr.Compression() {
		// compression.type names another codec: Kafka's LogValidator
		// rebuilds the batch in it, then UnifiedLog checks the new size.
		// Recompress stops with MESSAGE_TOO_LARGE as soon as the new batch
		// (or one record of it) passes max.message.bytes, as UnifiedLog's
		// check after the rebuild answers, without building all of it.
		rb, err := logstore.Recompress(batch, hdr, lim.codec, set.levels, int(min(lim.maxBytes, math.MaxInt32)))
		if err != nil {
			return logstore.AppendResult{}, fmt.Errorf("recompressing for compression.type: %w", err)
		}
		defer rb.Release()
		batch, hdr = rb.Bytes, rb.Header
	}
	logstore.SetPartitionLeaderEpoch(batch, leaderEpoch)
	hdr.PartitionLeaderEpoch = leaderEpoch
	return p.Append(batch, hdr)
}

// replicaWait is an acks=all produce waiting for the in-sync replicas of
// a replicated partition.
type replicaWait struct {
	rp     *replica.Partition
	epoch  int32
	offset int64
	minISR int
	sp     *kmsg.ProduceResponseTopicPartition
	topic  string
}

// waitReplicated returns once every in-sync replica of part has the log up
// to lastOffset. With this broker as the only replica that is immediate.
func (h *Handlers) waitReplicated(t controller.Topic, part controller.Partition, lastOffset int64) error {
	for _, id := range part.ISR {
		if id != h.Config.BrokerID {
			return fmt.Errorf("replication to broker %d of %s-%d is not implemented: %w", id, t.Name, part.Index, kerr.NotEnoughReplicasAfterAppend)
		}
	}
	return nil
}

// recordErrors lists the records a batch was refused for, for
// ProduceResponse v8+ record_errors (KIP-467); nil when the fault is not
// in a particular record.
func recordErrors(err error) []kmsg.ProduceResponseTopicPartitionErrorRecord {
	var ve *logstore.ValidationError
	if !errors.As(err, &ve) || len(ve.RecordErrors) == 0 {
		return nil
	}
	out := make([]kmsg.ProduceResponseTopicPartitionErrorRecord, len(ve.RecordErrors))
	for i, re := range ve.RecordErrors {
		out[i] = kmsg.NewProduceResponseTopicPartitionErrorRecord()
		out[i].RelativeOffset = re.BatchIndex
		msg := re.Message
		out[i].ErrorMessage = &msg
	}
	return out
}

// notLeaderHint fills KIP-951's current leader of a partition answered
// NOT_LEADER_OR_FOLLOWER (Produce v10+), and the leader's endpoint in
// the response's node endpoints when the metadata knows it, so clients
// reroute without a Metadata round trip.
func (h *Handlers) notLeaderHint(version int16, resp *kmsg.ProduceResponse, sp *kmsg.ProduceResponseTopicPartition, err error) {
	var nl *replica.NotLeaderError
	if version < 10 || !errors.As(err, &nl) {
		return
	}
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = nl.Leader, nl.LeaderEpoch
	if nl.Leader < 0 {
		return
	}
	for _, b := range resp.Brokers {
		if b.NodeID == nl.Leader {
			return
		}
	}
	for _, b := range h.Controller.Brokers() {
		if b.ID == nl.Leader {
			e := kmsg.NewProduceResponseBroker()
			e.NodeID, e.Host, e.Port, e.Rack = b.ID, b.Host, b.Port, b.Rack
			resp.Brokers = append(resp.Brokers, e)
		}
	}
}
