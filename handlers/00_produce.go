package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/logstore"
	"samsa/protocol"
)

// Produce v0-v13. Like Kafka 4.x, versions 0-2 are advertised (some
// librdkafka releases refuse a broker whose Produce minimum is above 0,
// KAFKA-18659) but answered with UNSUPPORTED_VERSION per partition, since
// their message formats are gone.
func init() { register(0, 13, (*Handlers).produce) }

func (h *Handlers) produce(ctx context.Context, r *protocol.Request, req *kmsg.ProduceRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	var topLevel error
	switch {
	case req.Version < 3:
		topLevel = fmt.Errorf("produce v%d is not supported: %w", req.Version, kerr.UnsupportedVersion)
	case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
		topLevel = fmt.Errorf("acks must be -1, 0 or 1, not %d: %w", req.Acks, kerr.InvalidRequiredAcks)
	}
	nowMs := time.Now().UnixMilli()
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		t, terr := h.lookupTopic(req.Version >= 13, rt.Topic, rt.TopicID)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			err := topLevel
			if err == nil {
				err = terr
			}
			if err == nil {
				err = h.appendPartition(t, rp, req.Acks, nowMs, &sp)
			}
			if err != nil {
				sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
				sp.ErrorCode = logErrCode(err)
				if req.Version >= 8 {
					sp.ErrorMessage = errMessage(err)
					sp.ErrorRecords = recordErrors(err)
				}
				switch {
				case sp.ErrorCode == kerr.UnknownServerError.Code:
					r.Logger.Error("produce failed", "topic", t.Name, "partition", rp.Partition, "err", err)
				case sp.ErrorCode == kerr.InvalidRecord.Code || sp.ErrorCode == kerr.CorruptMessage.Code:
					r.Logger.Warn("produce rejected", "topic", t.Name, "partition", rp.Partition, "err", err)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == 0 {
		return nil, nil
	}
	return resp, nil
}

func (h *Handlers) appendPartition(t controller.Topic, rp kmsg.ProduceRequestTopicPartition, acks int16, nowMs int64, sp *kmsg.ProduceResponseTopicPartition) error {
	if t.Internal {
		return fmt.Errorf("cannot append to internal topic %s: %w", t.Name, kerr.InvalidTopicException)
	}
	p, err := h.partition(t, rp.Partition)
	if err != nil {
		return err
	}
	set := h.produceSettingsFor(t)
	lim := set.limits
	lim.nowMs = nowMs
	hdr, err := validateBatch(rp.Records, lim)
	if err != nil {
		return err
	}
	part := t.Partitions[rp.Partition]
	if acks == -1 && int64(len(part.ISR)) < set.minISR {
		return fmt.Errorf("in-sync replicas %d below min.insync.replicas %d: %w", len(part.ISR), set.minISR, kerr.NotEnoughReplicas)
	}
	res, err := p.Append(rp.Records, hdr)
	if err != nil {
		return err
	}
	if acks == -1 {
		// The leader waits for every in-sync replica. On a single node the
		// leader is the only one and the append above already counts; the
		// cluster controller will supply a waiter here.
		if err := h.waitReplicated(t, part, res.LastOffset); err != nil {
			return err
		}
	}
	sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = res.BaseOffset, res.LogAppendTime, res.LogStartOffset
	return nil
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
