package handlers

import (
	"context"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/logstore"
	"samsa/protocol"
)

// ListOffsets v1-v11 (Kafka 4.x serves 1 and up).
func init() { register(1, 11, (*Handlers).listOffsets) }

// Special ListOffsets timestamps.
const (
	listLatest         = -1
	listEarliest       = -2
	listMaxTimestamp   = -3 // KIP-734
	listEarliestLocal  = -4 // KIP-405: no tiered storage, so the log start
	listEarliestUpload = -5 // KIP-1005: nothing is ever pending upload
	// listEarliestPendingUpload is KIP-1023's -6 (v11): without tiered
	// storage nothing is pending upload.
	listEarliestPendingUpload = -6
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
				err = h.listPartitionOffset(t, rp, req.IsolationLevel, req.ReplicaID, &sp)
			}
			if err != nil {
				sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
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

func (h *Handlers) listPartitionOffset(t controller.Topic, rp kmsg.ListOffsetsRequestTopicPartition, isolation int8, replicaID int32, sp *kmsg.ListOffsetsResponseTopicPartition) error {
	if rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
		return kerr.UnknownTopicOrPartition
	}
	part := t.Partitions[rp.Partition]
	leaderEpoch := part.LeaderEpoch
	rpart, err := h.Replicas.Lookup(t.Name, rp.Partition)
	if err != nil {
		return err
	}
	if rpart != nil {
		// A replicated partition answers from its leader only.
		if err := rpart.CheckLeader(rp.CurrentLeaderEpoch); err != nil {
			return err
		}
		leaderEpoch = rpart.LeaderEpoch()
	} else if err := checkLeaderEpoch(part, rp.CurrentLeaderEpoch); err != nil {
		return err
	}
	p, err := h.partition(t, rp.Partition)
	if err != nil {
		return err
	}
	sp.LeaderEpoch = leaderEpoch
	switch ts := rp.Timestamp; {
	case ts == listLatest:
		// read_committed stops at the last stable offset (Kafka's
		// Partition.fetchOffsetForTimestamp, lastFetchableOffset); a
		// follower (replica id >= 0) gets the log end offset.
		sp.Offset = p.HighWatermark()
		if isolation == isolationReadCommitted {
			sp.Offset = p.LastStableOffset()
		} else if replicaID >= 0 {
			sp.Offset = p.LogEndOffset()
		}
	case ts == listEarliest, ts == listEarliestLocal:
		sp.Offset = p.LogStartOffset()
	case ts == listEarliestUpload, ts == listEarliestPendingUpload:
		sp.LeaderEpoch = -1
	case ts == listMaxTimestamp:
		maxTs, base := p.MaxTimestamp()
		if base < 0 {
			sp.LeaderEpoch = -1
			return nil
		}
		// Kafka names the record holding the largest timestamp of the
		// log's segments, even below the log start (measured, Kafka
		// 4.3.1), so the batch is read past the log start.
		res, err := p.ReadBelowStart(base, 1)
		if err != nil {
			return err
		}
		defer res.Release()
		found, err := scanByTimestamp(res.Batches, math.MinInt64, maxTs, sp)
		if err != nil || (found && fetchable(p, isolation, sp)) {
			return err
		}
		sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
		return nil
	case ts >= 0:
		found, err := findOffsetByTimestamp(p, ts, sp)
		if err != nil || (found && fetchable(p, isolation, sp)) {
			return err
		}
		sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
		return nil
	default:
		// Kafka answers a negative timestamp it does not know with
		// UNSUPPORTED_VERSION (measured, Kafka 4.3.1, timestamp -7 at v11).
		return fmt.Errorf("unknown special timestamp %d: %w", ts, kerr.UnsupportedVersion)
	}
	return nil
}

// fetchable applies Kafka's filter on timestamp lookups
// (Partition.fetchOffsetForTimestamp): a read_committed client is only
// told offsets below the last stable offset; otherwise nothing is found.
func fetchable(p *logstore.Partition, isolation int8, sp *kmsg.ListOffsetsResponseTopicPartition) bool {
	return isolation != isolationReadCommitted || sp.Offset < p.LastStableOffset()
}

// findOffsetByTimestamp answers ListOffsets for timestamp ts >= 0 as
// Kafka's UnifiedLog.fetchOffsetByTimestamp does: in the first segment
// whose largest timestamp is >= ts, the first record, in offset order,
// whose own timestamp is >= ts and whose offset is at or after the log
// start. Records are judged one by one (a batch's timestamps need not
// grow, and DeleteRecords may have cut into a batch); the search starts at
// the first batch of that segment whose max timestamp is >= ts (the time
// index) and does not go past the segment, like Kafka's.
func findOffsetByTimestamp(p *logstore.Partition, ts int64, sp *kmsg.ListOffsetsResponseTopicPartition) (bool, error) {
	from, _, ok := p.OffsetForTimestamp(ts)
	if !ok {
		return false, nil
	}
	end := p.SegmentEnd(from)
	logStart := p.LogStartOffset()
	for from < end && from < p.HighWatermark() {
		res, err := p.Read(from, 1<<20)
		if err != nil {
			if errorsIs(err, logstore.ErrOffsetOutOfRange) {
				return false, nil // retention took the segment meanwhile
			}
			return false, err
		}
		found, err := scanByTimestamp(res.Batches, logStart, ts, sp)
		next := lastOffsetOf(res.Batches)
		res.Release()
		if err != nil || found {
			return found, err
		}
		if next < from {
			return false, nil
		}
		from = next + 1
	}
	return false, nil
}

// lastOffsetOf is the last offset of the last whole batch in b, or -1.
func lastOffsetOf(b []byte) int64 {
	last := int64(-1)
	for len(b) >= logstore.BatchHeaderSize {
		h, err := logstore.ParseBatchHeader(b)
		if err != nil || h.TotalSize() > len(b) {
			break
		}
		last = h.LastOffset()
		b = b[h.TotalSize():]
	}
	return last
}

// scanByTimestamp looks through whole batches in b for the first record
// at or after offset minOffset whose timestamp is >= ts (for LogAppendTime
// batches, every record carries the batch's max timestamp) and fills sp
// with its offset, timestamp and its batch's partition leader epoch.
// Batches whose max timestamp is below ts are skipped without decoding;
// the others are walked with logstore.ScanRecords, which streams a
// compressed batch through a small window without copying records, so a
// batch that decompresses to hundreds of MiB costs time, not memory.
func scanByTimestamp(b []byte, minOffset, ts int64, sp *kmsg.ListOffsetsResponseTopicPartition) (bool, error) {
	for len(b) >= logstore.BatchHeaderSize {
		h, err := logstore.ParseBatchHeader(b)
		if err != nil || h.TotalSize() > len(b) {
			return false, nil
		}
		raw := b[:h.TotalSize()]
		b = b[h.TotalSize():]
		if h.MaxTimestamp < ts || h.LastOffset() < minOffset {
			continue
		}
		if h.Attributes&0x08 != 0 { // LogAppendTime
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = max(h.BaseOffset, minOffset), h.MaxTimestamp, h.PartitionLeaderEpoch
			return true, nil
		}
		found := false
		err = logstore.ScanRecords(raw, h, 0, func(r logstore.StoredRecord) error {
			off, rts := h.BaseOffset+int64(r.OffsetDelta), h.BaseTimestamp+r.TimestampDelta
			if off >= minOffset && rts >= ts {
				sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, rts, h.PartitionLeaderEpoch
				found = true
				return logstore.ErrStopScan
			}
			return nil
		})
		if found {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("scan batch at %d: %w", h.BaseOffset, err)
		}
	}
	return false, nil
}
