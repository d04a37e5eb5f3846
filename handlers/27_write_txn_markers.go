package handlers

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/groups"
	"samsa/protocol"
)

// WriteTxnMarkers v1-v2 (KIP-98; v0 removed in Kafka 4.0 by KIP-896, v2
// carries the marker's transaction version, KIP-890): the request a
// transaction coordinator sends to partition leaders to write COMMIT or
// ABORT markers. Samsa's own coordinator writes its markers in-process
// (txn.MarkerWriter); this serves another coordinator or an operator tool.
// Per marker and partition, as Kafka's
// KafkaApis.handleWriteTxnMarkersRequest answers:
//   - a topic or partition that does not exist: UNKNOWN_TOPIC_OR_PARTITION;
//   - a __consumer_offsets partition goes through the group coordinator
//     (which settles the producer's pending transactional offsets), whose
//     NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE /
//     COORDINATOR_LOAD_IN_PROGRESS become NOT_LEADER_OR_FOLLOWER;
//   - any other partition gets the marker appended (Partition.AppendMarker:
//     INVALID_PRODUCER_EPOCH for an older epoch, TRANSACTION_COORDINATOR_FENCED
//     for an older coordinator epoch, INVALID_RECORD for a negative
//     producer id).
func init() { register(1, 2, (*Handlers).writeTxnMarkers) }

// markerTimeout bounds the wait for the in-sync replicas of a marker
// written to a replicated partition (Kafka uses request.timeout.ms,
// 30 s).
const markerTimeout = 30 * time.Second

func (h *Handlers) writeTxnMarkers(ctx context.Context, r *protocol.Request, req *kmsg.WriteTxnMarkersRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	for _, m := range req.Markers {
		sm := kmsg.NewWriteTxnMarkersResponseMarker()
		sm.ProducerID = m.ProducerID
		for _, rt := range m.Topics {
			st := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			st.Topic = rt.Topic
			t, ok := h.Controller.Topic(rt.Topic)
			for _, idx := range rt.Partitions {
				sp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				sp.Partition = idx
				if !ok || idx < 0 || int(idx) >= len(t.Partitions) {
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
					st.Partitions = append(st.Partitions, sp)
					continue
				}
				var err error
				if rt.Topic == groups.OffsetsTopic {
					if h.Groups == nil {
						err = kerr.NotLeaderForPartition
					} else {
						err = h.Groups.CompleteTxn(idx, m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch)
					}
				} else if p, perr := h.partition(t, idx); perr != nil {
					err = perr
				} else if rp, lerr := h.Replicas.Lookup(rt.Topic, idx); lerr != nil {
					err = lerr
				} else if rp != nil {
					// A replicated partition: the marker is written under
					// leadership, in the leader's epoch, and answered once
					// the in-sync replicas have it (Kafka appends markers
					// with acks=all).
					var last int64
					var epoch int32
					epoch, err = rp.AppendAsLeader(-1, int(h.produceSettingsFor(t).minISR), func(leaderEpoch int32) error {
						res, err := p.AppendMarker(m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch, leaderEpoch, int16(m.TransactionVersion))
						last = res.LastOffset
						return err
					})
					if err == nil {
						err = rp.WaitReplicated(ctx, epoch, last+1, int(h.produceSettingsFor(t).minISR), time.Now().Add(markerTimeout))
					}
				} else {
					_, err = p.AppendMarker(m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch, t.Partitions[idx].LeaderEpoch, int16(m.TransactionVersion))
				}
				sp.ErrorCode = logErrCode(err)
				switch sp.ErrorCode {
				case kerr.NotCoordinator.Code, kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code:
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				case kerr.UnknownServerError.Code:
					r.Logger.Error("writing transaction marker failed", "topic", rt.Topic, "partition", idx, "producer_id", m.ProducerID, "err", err)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			sm.Topics = append(sm.Topics, st)
		}
		resp.Markers = append(resp.Markers, sm)
	}
	return resp, nil
}
