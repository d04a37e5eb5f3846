package config

import (
	"slices"
	"strconv"
	"strings"
)

// builder turns the user's key/value pairs into a Config.
type builder struct {
	c        *Config
	norm     map[string]string // implemented keys the user set, canonical form
	warnings []string
	host     string // this machine's name, once looked up (see localHost)
}

// build applies entries (later ones win) on top of Default. Checks run in
// a fixed order: each implemented key's own type and range (in the order
// the user first wrote the keys), then values derived from several keys
// (topic defaults, broker id, log dirs, group timeouts), then listeners.
func build(entries []Property) (*Config, []string, error) {
	b := &builder{c: Default(), norm: map[string]string{}}
	var order []string
	for _, e := range entries {
		if _, seen := b.c.Values[e.Key]; !seen {
			order = append(order, e.Key)
		}
		b.c.Values[e.Key] = e.Value
	}
	for _, k := range order {
		if w := keyWarning(k); w != "" {
			b.warnings = append(b.warnings, w)
		}
	}
	for _, k := range order {
		bk := samsaKeyIndex[k]
		if bk == nil {
			continue
		}
		v, err := bk.v.check(b.c.Values[k])
		if err != nil {
			return nil, b.warnings, b.bad(k, err.Error())
		}
		b.norm[k] = v
	}
	for _, step := range []func() error{b.topicDefaults, b.simpleFields, b.brokerID, b.logDirs, b.groupTimeouts, b.listeners, b.httpListeners} {
		if err := step(); err != nil {
			return nil, b.warnings, err
		}
	}
	return b.c, b.warnings, nil
}

// bad reports a problem with key, showing the value as the user wrote it
// (or the default, if the user did not set the key).
func (b *builder) bad(key, reason string) error {
	v, ok := b.c.Values[key]
	if !ok {
		v = samsaKeyIndex[key].def
	}
	return &ValueError{Key: key, Value: v, Reason: reason}
}

func (b *builder) warn(w string) { b.warnings = append(b.warnings, w) }

// value returns the canonical value of an implemented key: the user's, or
// the default ("" for keys without one).
func (b *builder) value(key string) string {
	if v, ok := b.norm[key]; ok {
		return v
	}
	return samsaKeyIndex[key].def
}

func (b *builder) int64Of(key string) int64 {
	n, _ := strconv.ParseInt(b.value(key), 10, 64) // validated already
	return n
}

// topicDefaults computes every topic default that broker keys supply and
// checks it with the topic config's own rules, as Kafka does when it
// builds its default LogConfig at startup (so log.roll.ms=0 is rejected
// because segment.ms must be at least 1). The Config fields that are topic
// defaults are set from the same values.
func (b *builder) topicDefaults() error {
	c := b.c
	resolved := map[string]int64{}
	for i := range topicConfigDefs {
		d := &topicConfigDefs[i]
		if len(d.chain) == 0 {
			continue
		}
		v, from, set := c.chainValue(d)
		if !set {
			continue
		}
		if _, err := d.v.check(v); err != nil {
			return b.bad(from, "gives "+d.Name+" "+v+", which "+err.Error())
		}
		if d.Name == "retention.ms" && v == "0" {
			return b.bad(from, "retention must be -1 (unlimited) or at least 1 ms")
		}
	}
	for _, name := range []string{"retention.ms", "retention.bytes", "segment.bytes", "segment.ms", "flush.messages", "flush.ms",
		"max.message.bytes", "min.insync.replicas", "min.compaction.lag.ms", "max.compaction.lag.ms"} {
		v, _, _ := c.chainValue(topicIndex[name])
		resolved[name], _ = strconv.ParseInt(v, 10, 64)
	}
	if resolved["min.compaction.lag.ms"] > resolved["max.compaction.lag.ms"] {
		return b.bad("log.cleaner.min.compaction.lag.ms", "larger than log.cleaner.max.compaction.lag.ms")
	}
	c.LogRetentionMs = resolved["retention.ms"]
	c.LogRetentionBytes = resolved["retention.bytes"]
	c.LogSegmentBytes = int32(resolved["segment.bytes"])
	c.LogRollMs = resolved["segment.ms"]
	c.LogFlushIntervalMessages = resolved["flush.messages"]
	c.LogFlushIntervalMs = resolved["flush.ms"]
	c.MessageMaxBytes = int32(resolved["max.message.bytes"])
	c.MinInsyncReplicas = int32(resolved["min.insync.replicas"])
	return nil
}

// simpleFields sets the fields that come from exactly one key.
func (b *builder) simpleFields() error {
	c := b.c
	c.NumPartitions = int32(b.int64Of("num.partitions"))
	c.MaxIncrementalFetchSessionCacheSlots = int32(b.int64Of("max.incremental.fetch.session.cache.slots"))
	c.DefaultReplicationFactor = int16(b.int64Of("default.replication.factor"))
	c.AutoCreateTopics = b.value("auto.create.topics.enable") == "true"
	c.SocketRequestMaxBytes = int32(b.int64Of("socket.request.max.bytes"))
	c.ConnectionsMaxIdleMs = b.int64Of("connections.max.idle.ms")
	c.MaxConnections = int32(b.int64Of("max.connections"))
	c.MaxConnectionsPerIP = int32(b.int64Of("max.connections.per.ip"))
	c.MaxConnectionsPerIPOverrides = b.value("max.connections.per.ip.overrides")
	c.QuotaWindowNum = int32(b.int64Of("quota.window.num"))
	c.QuotaWindowSizeSeconds = int32(b.int64Of("quota.window.size.seconds"))
	if c.MaxConnectionsPerIP == 0 && strings.TrimSpace(c.MaxConnectionsPerIPOverrides) == "" {
		return b.bad("max.connections.per.ip", "can be set to zero only if max.connections.per.ip.overrides property is set")
	}
	c.LogRetentionCheckIntervalMs = b.int64Of("log.retention.check.interval.ms")
	c.OffsetsRetentionMinutes = int32(b.int64Of("offsets.retention.minutes"))
	c.LogCleanerEnable = b.value("log.cleaner.enable") == "true"
	c.LogCleanerThreads = int32(b.int64Of("log.cleaner.threads"))
	c.LogCleanerDedupeBufferSize = b.int64Of("log.cleaner.dedupe.buffer.size")
	c.LogCleanerIOBufferSize = int32(b.int64Of("log.cleaner.io.buffer.size"))
	c.LogCleanerBackoffMs = b.int64Of("log.cleaner.backoff.ms")
	if f, err := strconv.ParseFloat(b.value("log.cleaner.io.buffer.load.factor"), 64); err == nil {
		c.LogCleanerIOBufferLoadFactor = f
	}
	c.GroupInitialRebalanceDelayMs = int32(b.int64Of("group.initial.rebalance.delay.ms"))
	c.GroupMinSessionTimeoutMs = int32(b.int64Of("group.min.session.timeout.ms"))
	c.GroupMaxSessionTimeoutMs = int32(b.int64Of("group.max.session.timeout.ms"))
	c.GroupMaxSize = int32(b.int64Of("group.max.size"))
	c.OffsetsTopicNumPartitions = int32(b.int64Of("offsets.topic.num.partitions"))
	c.OffsetsTopicSegmentBytes = int32(b.int64Of("offsets.topic.segment.bytes"))
	c.OffsetsTopicCompressionCodec = int8(b.int64Of("offsets.topic.compression.codec"))
	c.OffsetsRetentionCheckIntervalMs = b.int64Of("offsets.retention.check.interval.ms")
	c.OffsetsLoadBufferSize = int32(b.int64Of("offsets.load.buffer.size"))
	c.TransactionStateLogNumPartitions = int32(b.int64Of("transaction.state.log.num.partitions"))
	c.TransactionStateLogSegmentBytes = int32(b.int64Of("transaction.state.log.segment.bytes"))
	c.TransactionStateLogLoadBufferSize = int32(b.int64Of("transaction.state.log.load.buffer.size"))
	c.TransactionMaxTimeoutMs = int32(b.int64Of("transaction.max.timeout.ms"))
	c.TransactionAbortTimedOutTransactionCleanupIntervalMs = int32(b.int64Of("transaction.abort.timed.out.transaction.cleanup.interval.ms"))
	c.TransactionalIDExpirationMs = int32(b.int64Of("transactional.id.expiration.ms"))
	c.TransactionRemoveExpiredTransactionCleanupIntervalMs = int32(b.int64Of("transaction.remove.expired.transaction.cleanup.interval.ms"))
	c.ProducerIDExpirationMs = int32(b.int64Of("producer.id.expiration.ms"))
	c.ZookeeperConnect = b.value("zookeeper.connect")
	c.ZookeeperSessionTimeoutMs = int32(b.int64Of("zookeeper.session.timeout.ms"))
	c.ZookeeperConnectionTimeoutMs = c.ZookeeperSessionTimeoutMs
	if _, ok := b.norm["zookeeper.connection.timeout.ms"]; ok {
		c.ZookeeperConnectionTimeoutMs = int32(b.int64Of("zookeeper.connection.timeout.ms"))
	}
	if r, ok := b.norm["broker.rack"]; ok && r != "" {
		c.BrokerRack = &r
	}
	c.UncleanLeaderElectionEnable = b.value("unclean.leader.election.enable") == "true"
	c.ControlledShutdownEnable = b.value("controlled.shutdown.enable") == "true"
	c.ControlledShutdownMaxRetries = int32(b.int64Of("controlled.shutdown.max.retries"))
	c.ControlledShutdownRetryBackoffMs = b.int64Of("controlled.shutdown.retry.backoff.ms")
	c.AutoLeaderRebalanceEnable = b.value("auto.leader.rebalance.enable") == "true"
	c.LeaderImbalanceCheckIntervalSeconds = b.int64Of("leader.imbalance.check.interval.seconds")
	c.LeaderImbalancePerBrokerPercentage = int32(b.int64Of("leader.imbalance.per.broker.percentage"))
	c.OffsetsTopicReplicationFactor = int16(b.int64Of("offsets.topic.replication.factor"))
	c.TransactionStateLogReplicationFactor = int16(b.int64Of("transaction.state.log.replication.factor"))
	c.TransactionStateLogMinISR = int32(b.int64Of("transaction.state.log.min.isr"))
	c.OffsetsCommitTimeoutMs = int32(b.int64Of("offsets.commit.timeout.ms"))
	c.ControllerRequests = b.value(ControllerRequestsKey) == "true"
	c.NumReplicaFetchers = int32(b.int64Of("num.replica.fetchers"))
	c.ReplicaFetchMaxBytes = int32(b.int64Of("replica.fetch.max.bytes"))
	c.ReplicationQuotaWindowNum = int(b.int64Of("replication.quota.window.num"))
	c.ReplicationQuotaWindowSizeSeconds = int(b.int64Of("replication.quota.window.size.seconds"))
	c.ReplicaFetchMinBytes = int32(b.int64Of("replica.fetch.min.bytes"))
	c.ReplicaFetchResponseMaxBytes = int32(b.int64Of("replica.fetch.response.max.bytes"))
	c.ReplicaFetchWaitMaxMs = int32(b.int64Of("replica.fetch.wait.max.ms"))
	c.ReplicaFetchBackoffMs = int32(b.int64Of("replica.fetch.backoff.ms"))
	c.ReplicaHighWatermarkCheckpointIntervalMs = b.int64Of("replica.high.watermark.checkpoint.interval.ms")
	c.ReplicaLagTimeMaxMs = b.int64Of("replica.lag.time.max.ms")
	c.ReplicaSelectorClass = b.value("replica.selector.class")
	return nil
}

// brokerID follows Kafka 4: broker.id and node.id are synonyms and must
// agree when both are given.
func (b *builder) brokerID() error {
	bid, bset := b.norm["broker.id"]
	nid, nset := b.norm["node.id"]
	if bset && nset && bid != nid {
		return b.bad("node.id", "differs from broker.id "+bid+"; set one, or both to the same id")
	}
	id := int64(0)
	if nset {
		id = b.int64Of("node.id")
	} else if bset {
		id = b.int64Of("broker.id")
	}
	if id < 0 {
		id = 0
	}
	b.c.BrokerID = int32(id)
	return nil
}

// logDirs reads log.dirs, else log.dir, as Kafka's comma-separated list.
func (b *builder) logDirs() error {
	key := "log.dirs"
	if _, ok := b.norm[key]; !ok {
		key = "log.dir"
	}
	var dirs []string
	for _, d := range strings.Split(b.value(key), ",") {
		if d = javaTrim(d); d != "" {
			if slices.Contains(dirs, d) {
				return b.bad(key, "directory "+d+" is listed twice")
			}
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return b.bad(key, "at least one log directory is needed")
	}
	b.c.LogDirs = dirs
	return nil
}

// groupTimeouts rejects a session timeout window no member could satisfy
// (Kafka accepts it and then fails every JoinGroup).
func (b *builder) groupTimeouts() error {
	if b.c.GroupMinSessionTimeoutMs > b.c.GroupMaxSessionTimeoutMs {
		key := "group.max.session.timeout.ms"
		if _, ok := b.norm[key]; !ok {
			key = "group.min.session.timeout.ms"
		}
		return b.bad(key, "group.min.session.timeout.ms is larger than group.max.session.timeout.ms")
	}
	return nil
}

// ControllerRequestsKey is the Samsa-only key that makes a broker without
// zookeeper.connect serve the ZooKeeper controller's requests to brokers
// (LeaderAndIsr, StopReplica): the replication tests play the controller.
const ControllerRequestsKey = "samsa.controller.requests.enable"
