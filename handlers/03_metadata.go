package handlers

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/protocol"
)

// Metadata, every version kmsg knows (Kafka 4.1 serves 0-13).
func init() { register(0, 13, (*Handlers).metadata) }

func (h *Handlers) metadata(ctx context.Context, r *protocol.Request, req *kmsg.MetadataRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	for _, b := range h.brokersFor(r.Listener) {
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port, mb.Rack = b.ID, b.Host, b.Port, b.Rack
		resp.Brokers = append(resp.Brokers, mb)
	}
	clusterID := h.Controller.ClusterID()
	resp.ClusterID = &clusterID
	resp.ControllerID = h.Controller.ControllerID()

	// v0: an empty list means all topics; v1+: null means all topics.
	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		for _, t := range h.Controller.Topics() {
			resp.Topics = append(resp.Topics, metadataTopic(t))
		}
		setMetadataAuthorizedOps(req, resp)
		return resp, nil
	}
	// Before v4 there is no flag and Kafka treats it as true.
	allowAuto := req.Version < 4 || req.AllowAutoTopicCreation
	seen := make(map[string]bool, len(req.Topics))
	for _, rt := range req.Topics {
		if rt.Topic != nil {
			// Kafka answers each named topic once, however often it is
			// asked for.
			if seen[*rt.Topic] {
				continue
			}
			seen[*rt.Topic] = true
		}
		if rt.Topic == nil {
			id := controller.TopicID(rt.TopicID)
			t, ok := h.Controller.TopicByID(id)
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.ErrorCode, mt.TopicID = kerr.UnknownTopicID.Code, rt.TopicID
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, metadataTopic(t))
			continue
		}
		resp.Topics = append(resp.Topics, h.metadataByName(ctx, r, *rt.Topic, allowAuto))
	}
	setMetadataAuthorizedOps(req, resp)
	return resp, nil
}

// setMetadataAuthorizedOps fills the authorized operations the request
// asked for (KIP-430): of every topic answered without error, and of the
// cluster (v8-v10).
func setMetadataAuthorizedOps(req *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) {
	if req.IncludeClusterAuthorizedOperations && req.Version >= 8 && req.Version <= 10 {
		resp.AuthorizedOperations = clusterAuthorizedOps
	}
	if req.IncludeTopicAuthorizedOperations && req.Version >= 8 {
		for i := range resp.Topics {
			if resp.Topics[i].ErrorCode == 0 {
				resp.Topics[i].AuthorizedOperations = topicAuthorizedOps
			}
		}
	}
}

func (h *Handlers) metadataByName(ctx context.Context, r *protocol.Request, name string, allowAuto bool) kmsg.MetadataResponseTopic {
	if t, ok := h.Controller.Topic(name); ok {
		return metadataTopic(t)
	}
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = &name
	mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
	if !allowAuto || !h.Config.AutoCreateTopics {
		return mt
	}
	if h.Cluster != nil {
		// Kafka answers at once and lets the client ask again; a
		// cluster's CreateTopic would otherwise wait for the leaders.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	t, err := h.createTopic(ctx, topicSpec{name: name, numPartitions: -1, replicationFactor: -1})
	switch {
	case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
		// Kafka creates the topic through its controller and answers the
		// request that triggered it with UNKNOWN_TOPIC_OR_PARTITION and
		// no partitions (measured, Kafka 4.3.1); clients ask again. The
		// topic is ready here at once, so the next request sees it.
		if err == nil {
			r.Logger.Info("auto-created topic", "topic", name, "partitions", len(t.Partitions))
		}
	default:
		mt.ErrorCode = errCode(err)
		if mt.ErrorCode == kerr.UnknownServerError.Code {
			r.Logger.Error("auto-creating topic failed", "topic", name, "err", err)
		}
	}
	return mt
}

func metadataTopic(t controller.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic, mt.TopicID, mt.IsInternal = &name, t.ID, t.Internal
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, 0, len(t.Partitions))
	for _, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition, mp.Leader, mp.LeaderEpoch = p.Index, p.Leader, p.LeaderEpoch
		mp.Replicas, mp.ISR, mp.OfflineReplicas = nonNil(p.Replicas), nonNil(p.ISR), nonNil(p.OfflineReplicas)
		if p.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
