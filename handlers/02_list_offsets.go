package handlers

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/logstore"
	"samsa/protocol"
)

// ListOffsets v1-v10 (Kafka 4.x serves 1 and up).
func init() { register(1, 10, (*Handlers).listOffsets) }

// Special ListOffsets timestamps.
const (
	listLatest         = -1
	listEarliest       = -2
	listMaxTimestamp   = -3 // KIP-734
	listEarliestLocal  = -4 // KIP-405: no tiered storage, so the log start
	listEarliestUpload = -5 // KIP-1005: nothing is ever pending upload
)

func (h *Handlers) listOffsets(_ context.Context, r *protocol.Request, req *kmsg.ListOffsetsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		t, ok := h.Controller.Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			var err error
			if !ok {
				err = kerr.UnknownTopicOrPartition
			} else {
				err = h.listPartitionOffset(t, rp, req.IsolationLevel, &sp)
			}
			if err != nil {
				sp.ErrorCode = logErrCode(err)
				if sp.ErrorCode == kerr.UnknownServerError.Code {
					r.Logger.Error("list offsets failed", "topic", rt.Topic, "partition", rp.Partition, "err", err)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func (h *Handlers) listPartitionOffset(t controller.Topic, rp kmsg.ListOffsetsRequestTopicPartition, isolation int8, sp *kmsg.ListOffsetsResponseTopicPartition) error {
	if rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
		return kerr.UnknownTopicOrPartition
	}
	part := t.Partitions[rp.Partition]
	if err := checkLeaderEpoch(part, rp.CurrentLeaderEpoch); err != nil {
		return err
	}
	p, err := h.partition(t, rp.Partition)
	if err != nil {
		return err
	}
	sp.LeaderEpoch = part.LeaderEpoch
	switch ts := rp.Timestamp; {
	case ts == listLatest:
		// read_committed stops at the last stable offset, which equals the
		// high watermark until transactions exist.
		sp.Offset = p.HighWatermark()
	case ts == listEarliest, ts == listEarliestLocal:
		sp.Offset = p.LogStartOffset()
	case ts == listEarliestUpload:
		sp.LeaderEpoch = -1
	case ts == listMaxTimestamp:
		maxTs, base := p.MaxTimestamp()
		if base < 0 {
			sp.LeaderEpoch = -1
			return nil
		}
		sp.Offset, sp.Timestamp, err = firstRecordAtOrAfter(p, base, maxTs)
		return err
	case ts >= 0:
		base, _, found := p.OffsetForTimestamp(ts)
		if !found {
			sp.LeaderEpoch = -1
			return nil
		}
		sp.Offset, sp.Timestamp, err = firstRecordAtOrAfter(p, base, ts)
		return err
	default:
		return fmt.Errorf("unknown special timestamp %d: %w", ts, kerr.InvalidRequest)
	}
	return nil
}

// firstRecordAtOrAfter refines a batch-level timestamp lookup to the first
// record at or after offset from, in the batch holding from, whose
// timestamp is >= ts, as Kafka answers ListOffsets. Only this one batch is
// decoded. from may lie inside the batch when the log start offset does.
func firstRecordAtOrAfter(p *logstore.Partition, from, ts int64) (offset, timestamp int64, err error) {
	base := from
	res, err := p.Read(from, 1)
	if err != nil {
		return -1, -1, err
	}
	defer res.Release()
	if len(res.Batches) < logstore.BatchHeaderSize {
		return -1, -1, nil
	}
	var batch kmsg.RecordBatch
	if err := batch.ReadFrom(res.Batches); err != nil {
		return -1, -1, fmt.Errorf("decode batch at %d: %w", base, err)
	}
	if batch.Attributes&0x08 != 0 {
		// LogAppendTime: every record carries the batch's max timestamp.
		return max(batch.FirstOffset, from), batch.MaxTimestamp, nil
	}
	raw, err := kgo.DefaultDecompressor().Decompress(batch.Records, kgo.CompressionCodecType(batch.Attributes&0x07))
	if err != nil {
		return -1, -1, fmt.Errorf("decompress batch at %d: %w", base, err)
	}
	for i := int32(0); i < batch.NumRecords && len(raw) > 0; i++ {
		length, n := binary.Varint(raw)
		if n <= 0 || length < 0 || int64(len(raw)-n) < length {
			break
		}
		var rec kmsg.Record
		if err := rec.ReadFrom(raw[:n+int(length)]); err != nil {
			break
		}
		raw = raw[n+int(length):]
		if off := batch.FirstOffset + int64(rec.OffsetDelta); off < from {
			continue
		}
		if rts := batch.FirstTimestamp + rec.TimestampDelta64; rts >= ts {
			return batch.FirstOffset + int64(rec.OffsetDelta), rts, nil
		}
	}
	// The batch's max timestamp said a match is here; fall back to the
	// batch's last record if the records disagree.
	return batch.FirstOffset + int64(batch.LastOffsetDelta), batch.MaxTimestamp, nil
}
