package config

import (
	"errors"
	"fmt"
	"strconv"
)

// TopicConfigDef describes one topic-level config of Kafka 4.1: what
// CreateTopics and AlterConfigs accept and what DescribeConfigs reports
// for a topic.
type TopicConfigDef struct {
	Name string
	Type ConfigType
	// Default is Kafka's built-in default, as DescribeConfigs prints it:
	// the value when neither the topic nor any broker key sets it.
	Default string
	// BrokerSynonym is the broker key that supplies the default, the
	// first of its synonym chain (retention.ms: log.retention.ms, then
	// log.retention.minutes, then log.retention.hours); "" if none.
	BrokerSynonym string
	// ValidValues is Kafka's rendering of the constraint ("[0,...]",
	// "[CreateTime, LogAppendTime]"); "" when any value of the type goes.
	ValidValues string
	Doc         string

	v     validator
	chain []synonymKey
}

// synonymKey is one broker key in a topic config's synonym chain, with
// the factor that converts its unit to the topic config's (hours to ms).
type synonymKey struct {
	name   string
	factor int64
}

func syn(names ...string) []synonymKey {
	out := make([]synonymKey, len(names))
	for i, n := range names {
		out[i] = synonymKey{name: n, factor: 1}
	}
	return out
}

const (
	msPerMinute = 60 * 1000
	msPerHour   = 60 * msPerMinute
)

// topicConfigDefs is Kafka 4.1's LogConfig definition, sorted by name.
// Names, types, defaults, ranges and broker synonyms were read from
// Kafka's LogConfig and ServerTopicConfigSynonyms. Not included:
// message.format.version, message.timestamp.difference.max.ms and
// message.downconversion.enable, which Kafka 4 no longer accepts.
var topicConfigDefs = []TopicConfigDef{
	{Name: "cleanup.policy", Default: "delete", v: listIn("compact", "delete"), chain: syn("log.cleanup.policy"),
		Doc: "What happens to old segments: delete drops them after the retention limits, compact keeps the newest record per key, and both may be listed."},
	{Name: "compression.gzip.level", Default: "-1", v: gzipLevel(), chain: syn("compression.gzip.level"),
		Doc: "Level used when the broker writes gzip batches."},
	{Name: "compression.lz4.level", Default: "9", v: intBetween(1, 17), chain: syn("compression.lz4.level"),
		Doc: "Level used when the broker writes lz4 batches."},
	{Name: "compression.type", Default: "producer", v: strIn(compressionTypes...), chain: syn("compression.type"),
		Doc: "Codec batches are stored with; producer stores them as the producer compressed them, uncompressed stores them without compression."},
	{Name: "compression.zstd.level", Default: "3", v: intBetween(-131072, 22), chain: syn("compression.zstd.level"),
		Doc: "Level used when the broker writes zstd batches."},
	{Name: "delete.retention.ms", Default: "86400000", v: longAtLeast(0), chain: syn("log.cleaner.delete.retention.ms"),
		Doc: "How long a tombstone survives compaction, which bounds how long a reader starting from the beginning has to see the deletion."},
	{Name: "file.delete.delay.ms", Default: "60000", v: longAtLeast(0), chain: syn("log.segment.delete.delay.ms"),
		Doc: "Grace period between dropping a segment and removing its files."},
	{Name: "flush.messages", Default: maxInt64, v: longAtLeast(1), chain: syn("log.flush.interval.messages"),
		Doc: "Number of records after which the partition is synced to disk; the default leaves syncing to the operating system."},
	{Name: "flush.ms", Default: maxInt64, v: longAtLeast(0), chain: syn("log.flush.interval.ms", "log.flush.scheduler.interval.ms"),
		Doc: "Time after which unsynced data is synced to disk; the default leaves syncing to the operating system."},
	{Name: "follower.replication.throttled.replicas", Default: "", v: throttledReplicas(),
		Doc: "Replicas, as partition:broker pairs or *, whose follower-side replication is throttled."},
	{Name: "index.interval.bytes", Default: "4096", v: intAtLeast(0),
		chain: syn("log.index.interval.bytes"),
		Doc:   "Bytes of log between two offset index entries; smaller means a larger index and more precise seeks."},
	{Name: "leader.replication.throttled.replicas", Default: "", v: throttledReplicas(),
		Doc: "Replicas, as partition:broker pairs or *, whose leader-side replication is throttled."},
	{Name: "local.retention.bytes", Default: "-2", v: longAtLeast(-2), chain: syn("log.local.retention.bytes"),
		Doc: "For tiered topics, the size kept on local disk; -2 means the same as retention.bytes."},
	{Name: "local.retention.ms", Default: "-2", v: longAtLeast(-2), chain: syn("log.local.retention.ms"),
		Doc: "For tiered topics, the time data is kept on local disk; -2 means the same as retention.ms."},
	{Name: "max.compaction.lag.ms", Default: maxInt64, v: longAtLeast(1), chain: syn("log.cleaner.max.compaction.lag.ms"),
		Doc: "Longest time a record may wait before it becomes eligible for compaction."},
	{Name: "max.message.bytes", Default: "1048588", v: intAtLeast(0), chain: syn("message.max.bytes"),
		Doc: "Largest record batch, after compression, the topic accepts."},
	{Name: "message.timestamp.after.max.ms", Default: "3600000", v: longAtLeast(0), chain: syn("log.message.timestamp.after.max.ms"),
		Doc: "With CreateTime, how far ahead of the broker's clock a record timestamp may be before the batch is rejected."},
	{Name: "message.timestamp.before.max.ms", Default: maxInt64, v: longAtLeast(0), chain: syn("log.message.timestamp.before.max.ms"),
		Doc: "With CreateTime, how far behind the broker's clock a record timestamp may be before the batch is rejected."},
	{Name: "message.timestamp.type", Default: "CreateTime", v: strIn("CreateTime", "LogAppendTime"), chain: syn("log.message.timestamp.type"),
		Doc: "Whether stored records keep the producer's timestamp (CreateTime) or get the broker's append time (LogAppendTime)."},
	{Name: "min.cleanable.dirty.ratio", Default: "0.5", v: doubleBetween(0, 1), chain: syn("log.cleaner.min.cleanable.ratio"),
		Doc: "Share of the log that must be uncompacted before the cleaner works on it; higher means fewer, cheaper cleanings and more duplicates on disk."},
	{Name: "min.compaction.lag.ms", Default: "0", v: longAtLeast(0), chain: syn("log.cleaner.min.compaction.lag.ms"),
		Doc: "Shortest time a record stays uncompacted, so readers get a window to see every update."},
	{Name: "min.insync.replicas", Default: "1", v: intAtLeast(1), chain: syn("min.insync.replicas"),
		Doc: "How many in-sync replicas must hold a write for an acks=all produce to succeed."},
	{Name: "preallocate", Default: "false", v: boolean(), chain: syn("log.preallocate"),
		Doc: "Whether a new segment's file is allocated at full size up front."},
	{Name: "remote.log.copy.disable", Default: "false", v: boolean(),
		Doc: "For tiered topics, stops uploading new segments while keeping what is already tiered readable."},
	{Name: "remote.log.delete.on.disable", Default: "false", v: boolean(),
		Doc: "Confirms that tiered data may be deleted when tiered storage is turned off for the topic."},
	{Name: "remote.storage.enable", Default: "false", v: boolean(),
		Doc: "Turns on tiered storage for the topic."},
	{Name: "retention.bytes", Default: "-1", v: long(), chain: syn("log.retention.bytes"),
		Doc: "Size a partition may reach before its oldest segments are deleted under the delete policy; negative means no size limit."},
	{Name: "retention.ms", Default: "604800000", v: longAtLeast(-1),
		chain: []synonymKey{{"log.retention.ms", 1}, {"log.retention.minutes", msPerMinute}, {"log.retention.hours", msPerHour}},
		Doc:   "Age after which segments are deleted under the delete policy; -1 keeps data forever."},
	{Name: "segment.bytes", Default: "1073741824", v: intAtLeast(1048576), chain: syn("log.segment.bytes"),
		Doc: "Size at which the active segment is closed and a new one started; retention works a whole segment at a time."},
	{Name: "segment.index.bytes", Default: "10485760", v: intAtLeast(4), chain: syn("log.index.size.max.bytes"),
		Doc: "Size reserved for each segment's offset index."},
	{Name: "segment.jitter.ms", Default: "0", v: longAtLeast(0),
		chain: []synonymKey{{"log.roll.jitter.ms", 1}, {"log.roll.jitter.hours", msPerHour}},
		Doc:   "Upper bound of a random amount taken off segment.ms, so that many partitions do not roll at once."},
	{Name: "segment.ms", Default: "604800000", v: longAtLeast(1),
		chain: []synonymKey{{"log.roll.ms", 1}, {"log.roll.hours", msPerHour}},
		Doc:   "Age after which the active segment is closed even if not full, so that retention and compaction can reach its data."},
	{Name: "unclean.leader.election.enable", Default: "false", v: boolean(), chain: syn("unclean.leader.election.enable"),
		Doc: "Whether a replica that is not in sync may become leader when no in-sync one is left, at the cost of losing data."},
}

var topicIndex = func() map[string]*TopicConfigDef {
	m := make(map[string]*TopicConfigDef, len(topicConfigDefs))
	for i := range topicConfigDefs {
		d := &topicConfigDefs[i]
		d.Type = d.v.typ
		d.ValidValues = d.v.valid
		if len(d.chain) > 0 {
			d.BrokerSynonym = d.chain[0].name
		}
		m[d.Name] = d
	}
	return m
}()

// TopicConfigDefs returns every topic config Kafka 4.1 defines, sorted by
// name, for DescribeConfigs (which reports them all for a topic) and for
// documentation.
func TopicConfigDefs() []TopicConfigDef {
	return append([]TopicConfigDef(nil), topicConfigDefs...)
}

// LookupTopicConfig finds a topic config by its exact (case-sensitive)
// name, as Kafka does.
func LookupTopicConfig(name string) (TopicConfigDef, bool) {
	d, ok := topicIndex[name]
	if !ok {
		return TopicConfigDef{}, false
	}
	return *d, true
}

// ErrUnknownTopicConfig is wrapped by ValidateTopicConfig's error for a
// name that is not a Kafka topic config.
var ErrUnknownTopicConfig = errors.New("unknown topic config")

// ValidateTopicConfig checks one topic config the way Kafka does before
// CreateTopics or AlterConfigs applies it, so the caller can answer
// INVALID_CONFIG with the returned text. A bad value yields a *ValueError;
// an unknown name an error wrapping ErrUnknownTopicConfig.
func ValidateTopicConfig(name, value string) error {
	d, ok := topicIndex[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTopicConfig, name)
	}
	if _, err := d.v.check(value); err != nil {
		return &ValueError{Key: name, Value: value, Reason: err.Error()}
	}
	return nil
}

// NormalizeTopicConfig validates value like ValidateTopicConfig and
// returns it the way Kafka stores and reports it (trimmed; booleans lower
// case; numbers canonical; list elements joined by ",").
func NormalizeTopicConfig(name, value string) (string, error) {
	if err := ValidateTopicConfig(name, value); err != nil {
		return "", err
	}
	v, _ := topicIndex[name].v.check(value)
	return v, nil
}

// ValidateTopicConfigs validates a whole set of topic overrides, adding
// the rules Kafka applies across configs: min.compaction.lag.ms may not
// exceed max.compaction.lag.ms (an unset one takes this broker's
// default), and remote.storage.enable=true is refused because Samsa, like
// a Kafka broker with remote.log.storage.system.enable=false, has no
// tiered storage.
func (c *Config) ValidateTopicConfigs(configs map[string]string) error {
	for _, name := range sortedKeys(configs) {
		if err := ValidateTopicConfig(name, configs[name]); err != nil {
			return err
		}
	}
	if v, ok := configs["remote.storage.enable"]; ok && javaTrim(v) != "" {
		if n, _ := NormalizeTopicConfig("remote.storage.enable", v); n == "true" {
			return &ValueError{Key: "remote.storage.enable", Value: v,
				Reason: "tiered storage is disabled in the broker, so a topic cannot use remote log storage"}
		}
	}
	lag := func(name string) int64 {
		v, ok := configs[name]
		if ok {
			v, _ = NormalizeTopicConfig(name, v)
		} else {
			v, _, _ = c.TopicDefault(name)
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	if minLag, maxLag := lag("min.compaction.lag.ms"), lag("max.compaction.lag.ms"); minLag > maxLag {
		return &ValueError{Key: "min.compaction.lag.ms", Value: strconv.FormatInt(minLag, 10),
			Reason: "larger than max.compaction.lag.ms " + strconv.FormatInt(maxLag, 10)}
	}
	return nil
}
