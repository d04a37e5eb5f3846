package handlers

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/config"
	"samsa/controller"
)

// brokersFor returns the live brokers with the endpoint of the listener the
// client connected through, as Kafka does: a client on listener X is only
// ever told about X endpoints.
func (h *Handlers) brokersFor(listener string) []controller.Broker {
	brokers := h.Controller.Brokers()
	self := h.Config.BrokerID
	if h.Cluster != nil {
		// Every broker's endpoints are known; a broker without this
		// listener is left out, as Kafka's MetadataCache does.
		out := brokers[:0]
		for _, b := range brokers {
			for _, l := range b.Listeners {
				if l.Name == listener {
					b.Host, b.Port = l.Host, l.Port
					out = append(out, b)
					break
				}
			}
		}
		return out
	}
	for i := range brokers {
		if brokers[i].ID != self {
			continue
		}
		for _, l := range h.Config.AdvertisedListeners {
			if l.Name == listener {
				brokers[i].Host, brokers[i].Port = l.Host, l.Port
			}
		}
	}
	return brokers
}

// topicSpec is a topic to create as a client asked for it, before broker
// defaults are applied.
type topicSpec struct {
	name              string
	numPartitions     int32 // -1: num.partitions
	replicationFactor int16 // -1: default.replication.factor
	assignments       [][]int32
	configs           map[string]string
	validateOnly      bool
}

// createTopic applies broker defaults, validates configs and creates the
// topic. It is shared by CreateTopics and Metadata's auto-creation so both
// make the same topic from the same request.
func (h *Handlers) createTopic(ctx context.Context, s topicSpec) (controller.Topic, error) {
	if s.numPartitions == -1 && len(s.assignments) == 0 {
		s.numPartitions = h.Config.NumPartitions
	}
	if s.replicationFactor == -1 && len(s.assignments) == 0 {
		s.replicationFactor = h.Config.DefaultReplicationFactor
	}
	if len(s.assignments) > 0 && (s.numPartitions != -1 || s.replicationFactor != -1) {
		return controller.Topic{}, fmt.Errorf("both replica assignments and partition count or replication factor given: %w", kerr.InvalidRequest)
	}
	if len(s.assignments) > 0 {
		s.numPartitions, s.replicationFactor = -1, -1
	}
	if len(s.assignments) == 0 {
		if s.numPartitions <= 0 {
			return controller.Topic{}, fmt.Errorf("number of partitions must be larger than 0: %w", kerr.InvalidPartitions)
		}
		if s.replicationFactor <= 0 {
			return controller.Topic{}, fmt.Errorf("replication factor must be larger than 0: %w", kerr.InvalidReplicationFactor)
		}
	}
	configs, err := h.normalizeTopicConfigs(s.configs)
	if err != nil {
		return controller.Topic{}, err
	}
	s.configs = configs
	t, err := h.Controller.CreateTopic(ctx, controller.CreateTopic{
		Name:              s.name,
		NumPartitions:     s.numPartitions,
		ReplicationFactor: s.replicationFactor,
		Assignments:       s.assignments,
		Configs:           s.configs,
		ValidateOnly:      s.validateOnly,
	})
	if err == nil && !s.validateOnly {
		if lerr := h.createLogs(t, 0); lerr != nil {
			return controller.Topic{}, h.undoCreateTopic(t, lerr)
		}
		h.warnUnapplied(t.Name, s.configs)
	}
	return t, err
}

// undoCreateTopic removes a topic whose partition logs could not all be
// created (a full or failing disk), so that CreateTopics is atomic: the
// client gets the storage error and its retry creates the topic afresh
// instead of getting TOPIC_ALREADY_EXISTS for a topic without logs.
func (h *Handlers) undoCreateTopic(t controller.Topic, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.Controller.DeleteTopic(ctx, t.Name); err != nil {
		h.Logger.Error("removing half-created topic failed", "topic", t.Name, "err", err)
	}
	if err := h.Logs.DeleteTopic(t.Name); err != nil {
		h.Logger.Error("removing logs of half-created topic failed", "topic", t.Name, "err", err)
	}
	return fmt.Errorf("creating the logs of topic %q: %w", t.Name, cause)
}

// createLogs creates the logs of t's partitions from index first on, as
// Kafka does when a topic is created or grown, so that they exist (and
// show in DescribeLogDirs) before any record arrives. It stops at the
// first failure and returns it (logged too); a partition whose log is
// missing is opened again on first use.
func (h *Handlers) createLogs(t controller.Topic, first int) error {
	cfg := h.partitionConfig(t)
	for _, p := range t.Partitions[first:] {
		if h.Cluster != nil && !slices.Contains(p.Replicas, h.Config.BrokerID) {
			// Another broker's replica: it creates its log when the
			// controller's LeaderAndIsr reaches it.
			continue
		}
		if _, err := h.Logs.CreatePartition(t.Name, p.Index, cfg); err != nil {
			h.Logger.Error("creating partition log failed", "topic", t.Name, "partition", p.Index, "err", err)
			return err
		}
	}
	return nil
}

// normalizeTopicConfigs validates a topic's overrides, alone and together
// (against this broker's topic defaults, dynamic ones included), and
// returns them in the form Kafka stores and reports (booleans lower case,
// canonical numbers). In a ZooKeeper cluster the Kafka 3.9-only configs
// are accepted too, each validated on its own. Errors are INVALID_CONFIG.
func (h *Handlers) normalizeTopicConfigs(in map[string]string) (map[string]string, error) {
	if len(in) == 0 {
		return in, nil
	}
	out := make(map[string]string, len(in))
	current := make(map[string]string, len(in)) // Kafka 4's configs, validated together
	for _, k := range sortedKeys(in) {
		if _, legacy := h.lookupLegacyTopicConfig(k); legacy {
			v, err := config.NormalizeLegacyTopicConfig(k, in[k])
			if err != nil {
				return nil, fmt.Errorf("%v: %w", err, kerr.InvalidConfig)
			}
			out[k] = v
			continue
		}
		v, err := config.NormalizeTopicConfig(k, in[k])
		if err != nil {
			return nil, fmt.Errorf("%v: %w", err, kerr.InvalidConfig)
		}
		out[k], current[k] = v, v
	}
	if err := h.cfg().ValidateTopicConfigs(current); err != nil {
		return nil, fmt.Errorf("%v: %w", err, kerr.InvalidConfig)
	}
	return out, nil
}

// lookupTopicConfig finds a topic config Samsa accepts: one of Kafka 4's,
// or, in a ZooKeeper cluster, one Kafka 3.9 still has
// (config.LookupLegacyTopicConfig).
func (h *Handlers) lookupTopicConfig(name string) (config.TopicConfigDef, bool) {
	if d, ok := config.LookupTopicConfig(name); ok {
		return d, true
	}
	return h.lookupLegacyTopicConfig(name)
}

// lookupLegacyTopicConfig finds a Kafka 3.9-only topic config, in a
// ZooKeeper cluster only (a single node is Kafka 4's dialect).
func (h *Handlers) lookupLegacyTopicConfig(name string) (config.TopicConfigDef, bool) {
	if h.Cluster == nil {
		return config.TopicConfigDef{}, false
	}
	return config.LookupLegacyTopicConfig(name)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// replicationFactor is the replica count of a topic's first partition.
func replicationFactor(t controller.Topic) int16 {
	if len(t.Partitions) == 0 {
		return 0
	}
	return int16(len(t.Partitions[0].Replicas))
}

// nonNil returns s, or an empty slice for nil: Kafka arrays are never null
// where the schema says they are not nullable.
func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// lookupTopic finds a topic by id (Produce and Fetch v13+) or by name.
// A missing topic is UNKNOWN_TOPIC_ID or UNKNOWN_TOPIC_OR_PARTITION, and
// the returned topic still carries the name asked for.
func (h *Handlers) lookupTopic(byID bool, name string, id [16]byte) (controller.Topic, error) {
	if byID {
		t, ok := h.Controller.TopicByID(controller.TopicID(id))
		if !ok {
			// A topic id LeaderAndIsr gave that the metadata does not
			// know (yet): resolve it by name.
			if n, found := h.Replicas.TopicName(id); found {
				if t, ok = h.Controller.Topic(n); ok {
					return t, nil
				}
			}
			return t, kerr.UnknownTopicID
		}
		return t, nil
	}
	t, ok := h.Controller.Topic(name)
	if !ok {
		return controller.Topic{Name: name}, kerr.UnknownTopicOrPartition
	}
	return t, nil
}

// selfEndpoint is this broker as clients on listener must reach it.
func (h *Handlers) selfEndpoint(listener string) controller.Broker {
	for _, b := range h.brokersFor(listener) {
		if b.ID == h.Config.BrokerID {
			return b
		}
	}
	return controller.Broker{ID: h.Config.BrokerID}
}
