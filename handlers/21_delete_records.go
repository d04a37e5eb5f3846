package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// DeleteRecords v0-v2: advance a partition's log start offset
// (kafka-delete-records.sh). Offset -1 means the high watermark.
func init() { register(0, 2, (*Handlers).deleteRecords) }

func (h *Handlers) deleteRecords(_ context.Context, r *protocol.Request, req *kmsg.DeleteRecordsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		t, ok := h.Controller.Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition, sp.LowWatermark = rp.Partition, -1
			if !ok || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			p, err := h.partition(t, rp.Partition)
			if err == nil {
				offset := rp.Offset
				if offset == -1 {
					offset = p.HighWatermark()
				}
				if offset < 0 || offset > p.HighWatermark() {
					err = kerr.OffsetOutOfRange
				} else {
					sp.LowWatermark, err = p.DeleteRecordsBefore(offset)
				}
			}
			if err != nil {
				sp.ErrorCode = logErrCode(err)
				if sp.ErrorCode == kerr.UnknownServerError.Code {
					r.Logger.Error("delete records failed", "topic", rt.Topic, "partition", rp.Partition, "err", err)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
