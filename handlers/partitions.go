package handlers

import (
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/config"
	"samsa/controller"
	"samsa/logstore"
)

// topicConfigValue is the effective value of a topic config: the topic's
// override, else the broker-derived default.
func (h *Handlers) topicConfigValue(t controller.Topic, name string) string {
	if v, ok := t.Configs[name]; ok {
		return v
	}
	v, _, _ := h.cfg().TopicDefault(name)
	return v
}

// topicConfigInt is topicConfigValue parsed as an integer; values are
// validated when set, so a parse failure means "unset" (def).
func (h *Handlers) topicConfigInt(t controller.Topic, name string, def int64) int64 {
	v, err := strconv.ParseInt(h.topicConfigValue(t, name), 10, 64)
	if err != nil {
		return def
	}
	return v
}

// produceSettings are the topic configs every produced batch is checked
// against. Resolving them goes through the broker-default chain of each
// config (allocating synonym lists), so they are resolved once per topic
// and reused while the topic's overrides stay the same.
type produceSettings struct {
	overrides map[string]string // the topic's overrides these were resolved from
	limits    batchLimits       // nowMs left zero
	minISR    int64
	levels    logstore.CompressionLevels
}

// produceSettingsFor returns t's produce settings from the cache, resolving
// them again when t's overrides differ from those they were made from (a
// comparison of the few overrides a topic has, no allocation). Entries are
// keyed by topic id, so a re-created topic never sees an old entry.
func (h *Handlers) produceSettingsFor(t controller.Topic) *produceSettings {
	if v, ok := h.produceSettings.Load(t.ID); ok {
		if s := v.(*produceSettings); maps.Equal(s.overrides, t.Configs) {
			return s
		}
	}
	s := &produceSettings{
		overrides: t.Configs,
		limits: batchLimits{
			maxBytes:      h.topicConfigInt(t, "max.message.bytes", int64(h.Config.MessageMaxBytes)),
			logAppendTime: h.topicConfigValue(t, "message.timestamp.type") == "LogAppendTime",
			beforeMaxMs:   h.topicConfigInt(t, "message.timestamp.before.max.ms", 1<<62),
			afterMaxMs:    h.topicConfigInt(t, "message.timestamp.after.max.ms", 3600000),
			codec:         codecID(h.topicConfigValue(t, "compression.type")),
			compacted:     strings.Contains(h.topicConfigValue(t, "cleanup.policy"), "compact"),
		},
		minISR: h.topicConfigInt(t, "min.insync.replicas", 1),
		levels: logstore.CompressionLevels{
			Gzip: int(h.topicConfigInt(t, "compression.gzip.level", -1)),
			LZ4:  int(h.topicConfigInt(t, "compression.lz4.level", 9)),
			Zstd: int(h.topicConfigInt(t, "compression.zstd.level", 3)),
		},
	}
	h.legacyTimestampDifference(t, &s.limits)
	h.produceSettings.Store(t.ID, s)
	if _, ok := h.Controller.TopicByID(t.ID); !ok {
		// t was deleted while this produce was under way: deleteTopic's
		// Delete may have run before the Store above, so drop the entry
		// here (the controller unpublishes the topic before deleteTopic
		// clears the cache, so one of the two removes it).
		h.produceSettings.Delete(t.ID)
	}
	return s
}

// codecID maps a compression.type value to the codec id batches are
// stored with, -1 for producer (keep the producer's codec).
func codecID(compressionType string) int {
	switch compressionType {
	case "uncompressed":
		return 0
	case "gzip":
		return 1
	case "snappy":
		return 2
	case "lz4":
		return 3
	case "zstd":
		return 4
	}
	return -1
}

// partitionConfig resolves the log settings of t's partitions.
func (h *Handlers) partitionConfig(t controller.Topic) logstore.PartitionConfig {
	retentionBytes, retentionMs := h.topicConfigInt(t, "retention.bytes", -1), h.topicConfigInt(t, "retention.ms", 7*24*3600*1000)
	policy := h.topicConfigValue(t, "cleanup.policy")
	if compactOnly(policy) {
		// Kafka deletes nothing by time or size on a compact-only topic.
		retentionBytes, retentionMs = -1, -1
	}
	compact := strings.Contains(policy, "compact")
	segmentMs := h.topicConfigInt(t, "segment.ms", 7*24*3600*1000)
	maxLag := h.topicConfigInt(t, "max.compaction.lag.ms", math.MaxInt64)
	if compact && maxLag > 0 && maxLag < segmentMs {
		// Kafka's LogConfig.maxSegmentMs: a compacted log rolls by
		// max.compaction.lag.ms so that no record waits longer.
		segmentMs = maxLag
	}
	ratio, err := strconv.ParseFloat(h.topicConfigValue(t, "min.cleanable.dirty.ratio"), 64)
	if err != nil {
		ratio = 0.5
	}
	return logstore.PartitionConfig{
		Compact:                compact,
		DeleteRetentionMs:      h.topicConfigInt(t, "delete.retention.ms", 86400000),
		MinCompactionLagMs:     h.topicConfigInt(t, "min.compaction.lag.ms", 0),
		MaxCompactionLagMs:     maxLag,
		MinCleanableDirtyRatio: ratio,
		SegmentBytes:           h.topicConfigInt(t, "segment.bytes", 1<<30),
		SegmentMs:              segmentMs,
		RetentionBytes:         retentionBytes,
		RetentionMs:            retentionMs,
		FlushMessages:          h.topicConfigInt(t, "flush.messages", math.MaxInt64),
		FlushMs:                h.topicConfigInt(t, "flush.ms", math.MaxInt64),
		LogAppendTime:          h.topicConfigValue(t, "message.timestamp.type") == "LogAppendTime",
		TopicID:                t.ID,
	}
}

// PartitionConfigFor gives the log settings of a partition the log store
// finds on disk at start (logstore.Options.ConfigFor), so retention and
// rolling follow the topic's settings from the first pass. ok is false
// for a partition of no current topic: its log is stray.
func (h *Handlers) PartitionConfigFor(topic string, partition int32) (logstore.PartitionConfig, bool) {
	t, ok := h.Controller.Topic(topic)
	if !ok || partition < 0 || int(partition) >= len(t.Partitions) {
		return logstore.PartitionConfig{}, false
	}
	return h.partitionConfig(t), true
}

// partition returns the log of partition idx of t for a client's request,
// opening it on first use. In a ZooKeeper cluster a partition this broker
// does not replicate is refused with NOT_LEADER_OR_FOLLOWER (the replica
// manager's Lookup) before its log is opened: opening would create it
// again, for example a replica that StopReplica has just deleted after a
// reassignment. Errors: kerr.UnknownTopicOrPartition for an index t lacks.
func (h *Handlers) partition(t controller.Topic, idx int32) (*logstore.Partition, error) {
	if _, err := h.Replicas.Lookup(t.Name, idx); err != nil {
		return nil, err
	}
	return h.openPartition(t, idx)
}

// openPartition is partition without the replica check, for the replica
// manager itself (OpenLog), which opens a log before it holds the
// partition.
func (h *Handlers) openPartition(t controller.Topic, idx int32) (*logstore.Partition, error) {
	if idx < 0 || int(idx) >= len(t.Partitions) {
		return nil, fmt.Errorf("%s has no partition %d: %w", t.Name, idx, kerr.UnknownTopicOrPartition)
	}
	if p, ok := h.Logs.Partition(t.Name, idx); ok {
		return p, nil
	}
	return h.Logs.CreatePartition(t.Name, idx, h.partitionConfig(t))
}

// OpenLog is the replica manager's way to a partition's log
// (replica.Deps.OpenLog): opened, or created with the topic's settings.
// Errors: kerr.UnknownTopicOrPartition for a partition the metadata does
// not have.
//
// In a ZooKeeper cluster the first LeaderAndIsr of a new topic arrives
// before the UpdateMetadata that brings the topic into the metadata cache
// (Kafka's ControllerBrokerRequestBatch sends them in that order). Kafka's
// ReplicaManager creates the log from LeaderAndIsr alone, with the
// overrides of the topic's config znode (LogManager.fetchTopicConfigOverrides);
// so does this, through the controller's TopicConfigFromZooKeeper.
func (h *Handlers) OpenLog(topic string, topicID [16]byte, partition int32) (*logstore.Partition, error) {
	t, ok := h.Controller.Topic(topic)
	if !ok || int(partition) >= len(t.Partitions) {
		zkc, isZK := h.Controller.(interface {
			TopicConfigFromZooKeeper(name string) (map[string]string, error)
		})
		if !isZK || partition < 0 {
			return nil, fmt.Errorf("topic %s: %w", topic, kerr.UnknownTopicOrPartition)
		}
		cfg, err := zkc.TopicConfigFromZooKeeper(topic)
		if err != nil {
			return nil, fmt.Errorf("topic %s: %w", topic, err)
		}
		t = controller.Topic{Name: topic, ID: controller.TopicID(topicID), Configs: cfg,
			Partitions: make([]controller.Partition, partition+1)}
		for i := range t.Partitions {
			t.Partitions[i].Index = int32(i)
		}
	}
	return h.openPartition(t, partition)
}

// applyTopicConfig pushes a topic's changed settings to its open
// partitions.
func (h *Handlers) applyTopicConfig(name string) {
	t, ok := h.Controller.Topic(name)
	if !ok {
		return
	}
	h.applyPartitionConfig(t)
}

// checkLeaderEpoch applies Kafka's fencing of a client's current leader
// epoch (-1: not given).
func checkLeaderEpoch(p controller.Partition, current int32) error {
	switch {
	case current < 0 || current == p.LeaderEpoch:
		return nil
	case current < p.LeaderEpoch:
		return kerr.FencedLeaderEpoch
	default:
		return kerr.UnknownLeaderEpoch
	}
}

// logErrCode maps logstore errors to Kafka codes.
func logErrCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errorsIs(err, logstore.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errorsIs(err, logstore.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errorsIs(err, logstore.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errorsIs(err, logstore.ErrUnknownProducerID):
		return kerr.UnknownProducerID.Code
	case errorsIs(err, logstore.ErrCorruptBatch):
		return kerr.CorruptMessage.Code
	case errorsIs(err, logstore.ErrPartitionClosed):
		return kerr.NotLeaderForPartition.Code
	default:
		return errCode(err)
	}
}

// legacyTimestampDifference applies a topic's
// message.timestamp.difference.max.ms (a Kafka 3.9 override, accepted in a
// ZooKeeper cluster only) as Kafka 3.9's LogConfig does: it bounds how far
// a timestamp may be behind, or ahead of, the broker's clock wherever
// message.timestamp.before.max.ms or .after.max.ms keeps Kafka 3.9's
// default, Long.MAX_VALUE. Samsa's default for .after.max.ms is Kafka 4's
// one hour, so there "keeps the default" means set by neither the topic
// nor the broker.
func (h *Handlers) legacyTimestampDifference(t controller.Topic, l *batchLimits) {
	v, ok := t.Configs["message.timestamp.difference.max.ms"]
	if !ok || h.Cluster == nil {
		return
	}
	diff, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return
	}
	unset := func(name string) bool {
		if _, ok := t.Configs[name]; ok {
			return false
		}
		_, source, _ := h.cfg().TopicDefault(name)
		return source == config.SourceDefault
	}
	if l.beforeMaxMs == math.MaxInt64 || unset("message.timestamp.before.max.ms") {
		l.beforeMaxMs = diff
	}
	if l.afterMaxMs == math.MaxInt64 || unset("message.timestamp.after.max.ms") {
		l.afterMaxMs = diff
	}
}

// MinInsyncReplicas is topic's min.insync.replicas (1 for an unknown
// topic), for the coordinators' acks=-1 writes to the internal topics.
func (h *Handlers) MinInsyncReplicas(topic string) int {
	t, ok := h.Controller.Topic(topic)
	if !ok {
		return 1
	}
	return int(h.produceSettingsFor(t).minISR)
}
