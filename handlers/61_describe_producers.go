package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// DescribeProducers v0 (KIP-664, kafka-transactions.sh describe-producers):
// per partition, the producers of its producer state (Kafka's
// KafkaApis.handleDescribeProducersRequest and
// ReplicaManager.activeProducerState). A topic or partition that does not
// exist is UNKNOWN_TOPIC_OR_PARTITION; a partition being deleted
// (closed log) is NOT_LEADER_OR_FOLLOWER. On a single node this broker
// leads every partition.
func init() { register(0, 0, (*Handlers).describeProducers) }

func (h *Handlers) describeProducers(_ context.Context, r *protocol.Request, req *kmsg.DescribeProducersRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		t, ok := h.Controller.Topic(rt.Topic)
		for _, idx := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = idx
			if !ok || idx < 0 || int(idx) >= len(t.Partitions) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			p, err := h.partition(t, idx)
			if err != nil {
				sp.ErrorCode = logErrCode(err)
				if sp.ErrorCode == kerr.UnknownServerError.Code {
					r.Logger.Error("describe producers failed", "topic", rt.Topic, "partition", idx, "err", err)
				}
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			for _, a := range p.ActiveProducers() {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID, ap.ProducerEpoch, ap.LastSequence, ap.LastTimestamp = a.ProducerID, int32(a.ProducerEpoch), a.LastSequence, a.LastTimestamp
				ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = a.CoordinatorEpoch, a.CurrentTxnStartOffset
				sp.ActiveProducers = append(sp.ActiveProducers, ap)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
