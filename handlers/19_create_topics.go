package handlers

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// CreateTopics v2-v7, the versions Kafka 4.x serves (KIP-896 removed 0-1;
// a client tested against Samsa must not depend on versions Kafka refuses).
func init() { register(2, 7, (*Handlers).createTopics) }

func (h *Handlers) createTopics(ctx context.Context, r *protocol.Request, req *kmsg.CreateTopicsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	if h.notController() {
		for _, rt := range req.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic, st.ErrorCode = rt.Topic, kerr.NotController.Code
			st.NumPartitions, st.ReplicationFactor = -1, -1
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	}
	seen := make(map[string]int, len(req.Topics))
	for _, t := range req.Topics {
		seen[t.Topic]++
	}
	reported := make(map[string]bool, len(req.Topics))
	for _, rt := range req.Topics {
		if reported[rt.Topic] {
			continue
		}
		reported[rt.Topic] = true
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		// Kafka answers a failed topic with an empty config list, not
		// null (v5+).
		st.Configs = []kmsg.CreateTopicsResponseTopicConfig{}
		if seen[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = kmsg.StringPtr("duplicate topic name " + rt.Topic + " in request")
			resp.Topics = append(resp.Topics, st)
			continue
		}
		spec, err := createTopicSpec(rt, req.ValidateOnly)
		if err == nil {
			var t = spec
			topic, cerr := h.createTopic(ctx, t)
			if cerr == nil {
				if !req.ValidateOnly {
					st.TopicID = topic.ID
					r.Logger.Info("created topic", "topic", topic.Name, "partitions", len(topic.Partitions), "replication_factor", replicationFactor(topic))
				}
				st.NumPartitions, st.ReplicationFactor = int32(len(topic.Partitions)), replicationFactor(topic)
				for _, c := range h.topicConfigs(topic.Configs) {
					rc := kmsg.NewCreateTopicsResponseTopicConfig()
					rc.Name, rc.Value, rc.ReadOnly, rc.Source, rc.IsSensitive = c.name, c.value, c.readOnly, c.source, c.sensitive
					st.Configs = append(st.Configs, rc)
				}
			}
			err = cerr
		}
		if err != nil {
			st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
			if st.ErrorCode == kerr.UnknownServerError.Code {
				r.Logger.Error("create topic failed", "topic", rt.Topic, "err", err)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// createTopicSpec checks the request's shape (assignments numbered 0..n-1,
// no null config values) and turns it into a topicSpec.
func createTopicSpec(rt kmsg.CreateTopicsRequestTopic, validateOnly bool) (topicSpec, error) {
	s := topicSpec{
		name:              rt.Topic,
		numPartitions:     rt.NumPartitions,
		replicationFactor: rt.ReplicationFactor,
		validateOnly:      validateOnly,
	}
	if len(rt.ReplicaAssignment) > 0 {
		as := append([]kmsg.CreateTopicsRequestTopicReplicaAssignment(nil), rt.ReplicaAssignment...)
		sort.Slice(as, func(i, j int) bool { return as[i].Partition < as[j].Partition })
		for i, a := range as {
			if a.Partition != int32(i) {
				return s, fmt.Errorf("partitions in the replica assignment must be numbered 0 to %d: %w", len(as)-1, kerr.InvalidReplicaAssignment)
			}
			s.assignments = append(s.assignments, a.Replicas)
		}
	}
	if len(rt.Configs) > 0 {
		s.configs = make(map[string]string, len(rt.Configs))
		for _, c := range rt.Configs {
			if c.Value == nil {
				return s, fmt.Errorf("null value not supported for topic config %s: %w", c.Name, kerr.InvalidConfig)
			}
			s.configs[c.Name] = *c.Value
		}
	}
	return s, nil
}
