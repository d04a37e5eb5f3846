package config

import (
	"regexp"
	"strconv"
	"strings"
)

// brokerKey describes a broker key Samsa implements: how its value is
// checked, its default, and whether DescribeConfigs reports it.
type brokerKey struct {
	name string
	v    validator
	// def is the default as DescribeConfigs prints it; null means Kafka
	// has no default for the key (it reports a null value).
	def  string
	null bool
	doc  string
	// hidden keys are accepted but not reported by DescribeConfigs,
	// because Kafka 4 does not know them either.
	hidden bool
}

const (
	maxInt32 = "2147483647"
	maxInt64 = "9223372036854775807"
)

// Samsa's defaults that deliberately differ from Kafka's.
const (
	// DefaultListeners binds loopback only: a development broker should
	// not be reachable from the network unless asked to be. Kafka's
	// default is PLAINTEXT://:9092.
	DefaultListeners = "PLAINTEXT://localhost:9092"
	// DefaultLogDir keeps data next to where Samsa was started rather than
	// under /tmp (Kafka's /tmp/kafka-logs), which many systems wipe.
	DefaultLogDir = "./samsa-data"
)

// defaultProtocolMap is Kafka's default listener.security.protocol.map,
// spelled exactly as Kafka 4.1 reports it.
const defaultProtocolMap = "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"

var compressionTypes = []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}

// gzipLevel mirrors Kafka's gzip level validator: 1..9, or -1 for zlib's
// default level.
func gzipLevel() validator {
	v := intBetween(1, 9)
	v.also = []int64{-1}
	v.valid = "[1,...,9] or -1"
	return v
}

// throttledReplicas mirrors Kafka's ThrottledReplicaListValidator: "*" or
// a list of partition:broker pairs.
func throttledReplicas() validator {
	return validator{typ: TypeList, element: regexp.MustCompile(`^([0-9]+:[0-9]+)?$`), star: true,
		valid: "[partitionId]:[brokerId],[partitionId]:[brokerId],..."}
}

// replicaSelector accepts the replica.selector.class values Samsa
// implements (Kafka's CLASS type; an unknown class fails Kafka's start).
func replicaSelector() validator {
	return validator{typ: TypeClass, oneOf: []string{"", "org.apache.kafka.common.replica.LeaderSelector", "org.apache.kafka.common.replica.RackAwareReplicaSelector"},
		valid: "[org.apache.kafka.common.replica.RackAwareReplicaSelector, org.apache.kafka.common.replica.LeaderSelector]"}
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// samsaBrokerKeys are the broker keys Samsa implements, with Kafka 4.1's
// type, range and default for each (except DefaultListeners,
// DefaultLogDir and the broker id, where Samsa differs on purpose). The
// first group sets Config fields; the second group only supplies topic
// defaults (see TopicDefault). Ranges tighter than Kafka's are marked.
var samsaBrokerKeys = []brokerKey{
	{name: "advertised.listeners", v: str(), null: true, doc: "Addresses clients are told to connect to, as NAME://host:port; by default the listeners themselves."},
	{name: "auto.create.topics.enable", v: boolean(), def: "true", doc: "Whether a metadata request or produce for an unknown topic creates it with the broker defaults."},
	{name: "broker.id", v: intAtLeast(-1), def: "0", doc: "This broker's id; a synonym of node.id. -1 (Kafka's \"generate one\") means 0 on a single node."},
	{name: "connections.max.idle.ms", v: long(), def: "600000", doc: "Milliseconds a connection may go without traffic and without a request in flight before the broker closes it; negative never closes."},
	{name: "controller.listener.names", v: str(), null: true, doc: "Listeners reserved for the KRaft controller; Samsa does not serve them."},
	{name: "default.replication.factor", v: intBetween(1, 32767), def: "1", doc: "Replication factor of topics created without one (Samsa: at least 1)."},
	{name: "group.initial.rebalance.delay.ms", v: intAtLeast(0), def: "3000", doc: "How long a new classic group waits for more members before its first rebalance (Samsa: at least 0)."},
	{name: "group.max.session.timeout.ms", v: intAtLeast(0), def: "1800000", doc: "Largest session timeout a classic group member may ask for (Samsa: at least 0)."},
	{name: "group.max.size", v: intAtLeast(1), def: maxInt32, doc: "Most members a classic consumer group may have."},
	{name: "group.min.session.timeout.ms", v: intAtLeast(0), def: "6000", doc: "Smallest session timeout a classic group member may ask for (Samsa: at least 0)."},
	{name: "listener.security.protocol.map", v: str(), def: defaultProtocolMap, doc: "Security protocol of each listener name, as NAME:PROTOCOL pairs."},
	{name: "listeners", v: str(), def: DefaultListeners, doc: "Addresses the broker binds, as NAME://host:port; an empty host means every interface."},
	{name: "log.cleaner.backoff.ms", v: longAtLeast(0), def: "15000", doc: "Pause of a cleaner thread that found no log to compact."},
	{name: "log.cleaner.dedupe.buffer.size", v: longAtLeast(0), def: "134217728", doc: "Memory, in bytes, of the cleaners' offset maps, split over the threads (24 bytes a key)."},
	{name: "log.cleaner.enable", v: boolean(), def: "true", doc: "Whether the log cleaner runs; without it compacted topics are not compacted."},
	{name: ConsoleEnableKey, v: boolean(), def: "true", hidden: true, doc: "Whether the HTTP listener (samsa.http.listeners) also serves the web console at /."},
	{name: ConsoleActionsEnableKey, v: boolean(), def: "false", hidden: true, doc: "Whether the web console may change anything (create topics, reset a group's offsets); read-only when false."},
	{name: PprofEnableKey, v: boolean(), def: "false", hidden: true, doc: "Whether the HTTP listener serves Go's runtime profiles under /debug/pprof/ (CPU, heap, goroutines, mutex), for profiling a running broker."},
	{name: LogFormatKey, v: strIn("text", "json"), null: true, hidden: true, doc: "Format of Samsa's own log lines on stderr: text (slog's key=value lines) or json (one JSON object per line); unset means $SAMSA_LOG_FORMAT, else text."},
	{name: "log.cleaner.io.buffer.load.factor", v: doubleBetween(0, 1), def: "0.9", doc: "How full a cleaner's offset map may get."},
	{name: "log.cleaner.io.buffer.size", v: intAtLeast(0), def: "524288", doc: "Read and write buffer, in bytes, of a cleaner thread."},
	{name: "log.cleaner.threads", v: intAtLeast(0), def: "1", doc: "Number of cleaner threads compacting logs in parallel."},
	{name: "log.dir", v: str(), def: DefaultLogDir, doc: "Data directory, used when log.dirs is not set."},
	{name: "log.dirs", v: str(), null: true, doc: "Comma-separated data directories; overrides log.dir."},
	{name: "log.flush.interval.messages", v: longAtLeast(1), def: maxInt64, doc: "Messages a partition may accumulate before it is forced to disk."},
	{name: "log.flush.interval.ms", v: long(), null: true, doc: "Milliseconds a message may stay unflushed; falls back to log.flush.scheduler.interval.ms."},
	{name: "log.flush.scheduler.interval.ms", v: long(), def: maxInt64, doc: "Fallback for log.flush.interval.ms."},
	{name: "log.retention.bytes", v: long(), def: "-1", doc: "Size a partition may grow to before old segments are deleted; negative means no limit."},
	{name: "log.retention.check.interval.ms", v: longAtLeast(1), def: "300000", doc: "How often the broker looks for segments to delete."},
	{name: "log.retention.hours", v: integer(), def: "168", doc: "Retention time in hours, used when neither log.retention.ms nor log.retention.minutes is set."},
	{name: "log.retention.minutes", v: integer(), null: true, doc: "Retention time in minutes, used when log.retention.ms is not set."},
	{name: "log.retention.ms", v: long(), null: true, doc: "How long data is kept before deletion; -1 keeps it forever."},
	{name: "log.roll.hours", v: intAtLeast(1), def: "168", doc: "Age in hours after which a new segment is started, used when log.roll.ms is not set."},
	{name: "log.roll.ms", v: long(), null: true, doc: "Age after which a new segment is started even if the active one is not full."},
	{name: "log.segment.bytes", v: intAtLeast(1048576), def: "1073741824", doc: "Size at which a new segment is started."},
	{name: "max.connections", v: intAtLeast(0), def: maxInt32, doc: "Most connections the broker keeps open; beyond it the broker stops accepting until one closes."},
	{name: "max.connections.per.ip", v: intAtLeast(0), def: maxInt32, doc: "Most connections from one IP address; an extra one is closed at once."},
	{name: "max.connections.per.ip.overrides", v: str(), def: "", doc: "Per-IP or per-host exceptions to max.connections.per.ip, as host:count pairs separated by commas."},
	{name: "quota.window.num", v: intAtLeast(1), def: "11", doc: "Number of sample windows client quotas are measured over."},
	{name: "quota.window.size.seconds", v: intAtLeast(1), def: "1", doc: "Length in seconds of one client quota sample window."},
	{name: "max.incremental.fetch.session.cache.slots", v: intAtLeast(0), def: "1000", doc: "Most incremental fetch sessions (KIP-227) kept at once; 0 answers every fetch without a session."},
	{name: "message.max.bytes", v: intAtLeast(0), def: "1048588", doc: "Largest record batch a topic accepts, unless the topic sets max.message.bytes."},
	{name: "min.insync.replicas", v: intAtLeast(1), def: "1", doc: "Replicas that must have a write before an acks=all produce succeeds."},
	{name: "num.replica.fetchers", v: intAtLeast(1), def: "1", doc: "Fetcher goroutines per source broker that replicate its partitions to this one."},
	{name: "replication.quota.window.num", v: intAtLeast(1), def: "11", doc: "Number of samples the replication throttles' byte rates are measured over (KIP-73)."},
	{name: "replication.quota.window.size.seconds", v: intAtLeast(1), def: "1", doc: "Length of each replication throttle rate sample, in seconds."},
	{name: "replica.fetch.max.bytes", v: intAtLeast(0), def: "1048576", doc: "Bytes a follower asks for per partition in one fetch (at least one batch is returned)."},
	{name: "replica.fetch.min.bytes", v: intAtLeast(1), def: "1", doc: "Bytes a follower's fetch waits for before the leader answers."},
	{name: "replica.fetch.response.max.bytes", v: intAtLeast(0), def: "10485760", doc: "Bytes a follower asks for in one whole fetch response."},
	{name: "replica.fetch.wait.max.ms", v: intAtLeast(0), def: "500", doc: "Longest time the leader holds a follower's fetch waiting for data."},
	{name: "replica.fetch.backoff.ms", v: intAtLeast(0), def: "1000", doc: "Pause of a follower's fetcher after a failed fetch."},
	{name: "replica.high.watermark.checkpoint.interval.ms", v: longAtLeast(1), def: "5000", doc: "How often high watermarks are written to replication-offset-checkpoint."},
	{name: "replica.selector.class", v: replicaSelector(), null: true, doc: "KIP-392: org.apache.kafka.common.replica.RackAwareReplicaSelector lets the leader send a consumer with client.rack to an in-sync replica in its rack (Fetch v11+); unset or org.apache.kafka.common.replica.LeaderSelector: leaders only."},
	{name: "replica.lag.time.max.ms", v: longAtLeast(1), def: "30000", doc: "A follower that has not caught up with the leader's log end for this long leaves the ISR."},
	{name: "node.id", v: intAtLeast(0), def: "0", doc: "This node's id; a synonym of broker.id."},
	{name: "num.partitions", v: intAtLeast(1), def: "1", doc: "Partition count of topics created without one."},
	{name: "offsets.retention.minutes", v: intAtLeast(1), def: "10080", doc: "How long committed offsets of an empty group are kept."},
	{name: "offsets.topic.num.partitions", v: intAtLeast(1), def: "50", doc: "Partition count of the __consumer_offsets topic."},
	{name: "offsets.topic.segment.bytes", v: intAtLeast(1), def: "104857600", doc: "Segment size of the __consumer_offsets topic."},
	{name: "offsets.topic.compression.codec", v: intBetween(0, 4), def: "0", doc: "Codec of the batches the group coordinator writes to __consumer_offsets: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd."},
	{name: "offsets.topic.replication.factor", v: rangeOf(TypeShort, 1, 32767, false), def: "3", doc: "Replication factor of __consumer_offsets in a cluster, capped at the live brokers when the topic is created; a single node keeps one replica."},
	{name: "offsets.retention.check.interval.ms", v: longAtLeast(1), def: "600000", doc: "How often expired committed offsets are looked for."},
	{name: "offsets.load.buffer.size", v: intAtLeast(1), def: "5242880", doc: "Bytes read at a time when loading groups and offsets from __consumer_offsets."},
	{name: "transaction.state.log.replication.factor", v: rangeOf(TypeShort, 1, 32767, false), def: "3", doc: "Replication factor of __transaction_state in a cluster, capped at the live brokers when the topic is created; a single node keeps one replica."},
	{name: "transaction.state.log.min.isr", v: intAtLeast(1), def: "2", doc: "min.insync.replicas of __transaction_state, set on the topic when it is created."},
	{name: "offsets.commit.timeout.ms", v: intAtLeast(1), def: "5000", doc: "How long a coordinator write (offset commit, group metadata, transaction state) waits for the in-sync replicas before failing."},
	{name: "transaction.state.log.num.partitions", v: intAtLeast(1), def: "50", doc: "Partition count of the __transaction_state topic."},
	{name: "transaction.state.log.segment.bytes", v: intAtLeast(1), def: "104857600", doc: "Segment size of the __transaction_state topic."},
	{name: "transaction.state.log.load.buffer.size", v: intAtLeast(1), def: "5242880", doc: "Bytes read at a time when loading transaction state from __transaction_state."},
	{name: "transaction.max.timeout.ms", v: intAtLeast(1), def: "900000", doc: "Largest transaction.timeout.ms a producer may ask for (INVALID_TRANSACTION_TIMEOUT above it)."},
	{name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", v: intAtLeast(1), def: "10000", doc: "How often transactions older than their timeout are looked for and aborted."},
	{name: "transactional.id.expiration.ms", v: intAtLeast(1), def: "604800000", doc: "How long a transactional id with no transaction open is kept after its last update before the coordinator forgets it (a tombstone in __transaction_state)."},
	{name: "transaction.remove.expired.transaction.cleanup.interval.ms", v: intAtLeast(1), def: "3600000", doc: "How often transactional ids past transactional.id.expiration.ms are looked for and removed."},
	{name: "producer.id.expiration.ms", v: intAtLeast(1), def: "86400000", doc: "How long a partition keeps the state of a producer it has not seen write (idempotence, sequence numbers); producers with an open transaction are kept. Checked every log.retention.check.interval.ms."},
	{name: "socket.request.max.bytes", v: intAtLeast(1), def: "104857600", doc: "Largest request the broker will read."},
	{name: HTTPListenersKey, v: str(), null: true, hidden: true, doc: "Samsa's HTTP listener for /healthz, /readyz and later /metrics, as a comma-separated list of http://host:port; off when unset or empty."},
	{name: ControllerRequestsKey, v: boolean(), def: "false", hidden: true, doc: "Serve the ZooKeeper controller's LeaderAndIsr and StopReplica without zookeeper.connect (tests that play the controller); always served in cluster mode."},
	{name: "zookeeper.connect", v: str(), null: true, hidden: true, doc: "ZooKeeper connection string host:port[,host:port...][/chroot]; set, it makes this broker a member of a ZooKeeper-coordinated cluster (Kafka 3.x's ZooKeeper mode)."},
	{name: "zookeeper.session.timeout.ms", v: intAtLeast(1), def: "18000", hidden: true, doc: "ZooKeeper session timeout: a broker whose session expires is taken for dead."},
	{name: "zookeeper.connection.timeout.ms", v: intAtLeast(1), null: true, hidden: true, doc: "How long start-up waits to connect to ZooKeeper; unset means zookeeper.session.timeout.ms."},
	{name: "broker.rack", v: str(), null: true, hidden: true, doc: "Rack of this broker, registered in ZooKeeper and reported in Metadata."},
	{name: "controlled.shutdown.enable", v: boolean(), def: "true", doc: "In a ZooKeeper cluster, whether a broker stopping (SIGTERM) first asks the controller (ControlledShutdown) to move leadership of its partitions to other in-sync replicas."},
	// Kafka 4 dropped these two and leader.imbalance.per.broker.percentage
	// (ZooKeeper mode's): hidden from DescribeConfigs like other keys
	// Kafka 4 does not know.
	{name: "controlled.shutdown.max.retries", v: integer(), def: "3", hidden: true, doc: "How many ControlledShutdown attempts a stopping broker makes before it stops anyway."},
	{name: "controlled.shutdown.retry.backoff.ms", v: long(), def: "5000", hidden: true, doc: "Wait between ControlledShutdown attempts, in milliseconds."},
	{name: "auto.leader.rebalance.enable", v: boolean(), def: "true", doc: "Whether the controller moves leadership back to preferred replicas when a broker's leader imbalance exceeds leader.imbalance.per.broker.percentage (checked every leader.imbalance.check.interval.seconds)."},
	{name: "leader.imbalance.check.interval.seconds", v: longAtLeast(1), def: "300", doc: "How often the controller checks leader imbalance, in seconds."},
	{name: "leader.imbalance.per.broker.percentage", v: integer(), def: "10", hidden: true, doc: "Share (in percent) of a broker's preferred partitions that may be led elsewhere before the controller rebalances leadership."},
	{name: "inter.broker.listener.name", v: str(), null: true, hidden: true, doc: "Listener other brokers and the controller reach this broker on; unset means the listener named after security.inter.broker.protocol (PLAINTEXT)."},

	// Broker keys that only supply topic defaults.
	{name: "compression.type", v: strIn(compressionTypes...), def: "producer", doc: "Default compression of stored batches; producer keeps what the producer sent."},
	{name: "compression.gzip.level", v: gzipLevel(), def: "-1", doc: "Default gzip level when the broker recompresses."},
	{name: "compression.lz4.level", v: intBetween(1, 17), def: "9", doc: "Default lz4 level when the broker recompresses."},
	{name: "compression.zstd.level", v: intBetween(-131072, 22), def: "3", doc: "Default zstd level when the broker recompresses."},
	{name: "log.cleaner.delete.retention.ms", v: longAtLeast(0), def: "86400000", doc: "Default time tombstones are kept in compacted topics."},
	{name: "log.cleaner.max.compaction.lag.ms", v: longAtLeast(1), def: maxInt64, doc: "Default longest time a record may stay uncompacted."},
	{name: "log.cleaner.min.cleanable.ratio", v: doubleBetween(0, 1), def: "0.5", doc: "Default share of a log that must be uncompacted before it is cleaned."},
	{name: "log.cleaner.min.compaction.lag.ms", v: longAtLeast(0), def: "0", doc: "Default shortest time a record stays uncompacted."},
	{name: "log.cleanup.policy", v: listIn("compact", "delete"), def: "delete", doc: "Default cleanup policy: delete, compact, or both."},
	{name: "log.index.interval.bytes", v: intAtLeast(0), def: "4096", doc: "Default spacing, in bytes, of offset index entries."},
	{name: "log.index.size.max.bytes", v: intAtLeast(4), def: "10485760", doc: "Default largest size of a segment's offset index."},
	{name: "log.local.retention.bytes", v: longAtLeast(-2), def: "-2", doc: "Default local size limit for tiered topics; -2 means use retention.bytes."},
	{name: "log.local.retention.ms", v: longAtLeast(-2), def: "-2", doc: "Default local time limit for tiered topics; -2 means use retention.ms."},
	{name: "log.message.timestamp.after.max.ms", v: longAtLeast(0), def: "3600000", doc: "Default of how far in the future a CreateTime timestamp may be."},
	{name: "log.message.timestamp.before.max.ms", v: longAtLeast(0), def: maxInt64, doc: "Default of how far in the past a CreateTime timestamp may be."},
	{name: "log.message.timestamp.type", v: strIn("CreateTime", "LogAppendTime"), def: "CreateTime", doc: "Default timestamp kind: the producer's or the broker's."},
	{name: "log.preallocate", v: boolean(), def: "false", doc: "Default of whether segment files are preallocated."},
	{name: "log.roll.jitter.hours", v: intAtLeast(0), def: "0", doc: "Default roll jitter in hours, used when log.roll.jitter.ms is not set."},
	{name: "log.roll.jitter.ms", v: long(), null: true, doc: "Default random amount subtracted from the roll time."},
	{name: "log.segment.delete.delay.ms", v: longAtLeast(0), def: "60000", doc: "Default delay before a deleted segment's files are removed."},
	{name: "unclean.leader.election.enable", v: boolean(), def: "false", doc: "Default of whether an out-of-sync replica may become leader."},
}

var samsaKeyIndex = func() map[string]*brokerKey {
	m := make(map[string]*brokerKey, len(samsaBrokerKeys))
	for i := range samsaBrokerKeys {
		m[samsaBrokerKeys[i].name] = &samsaBrokerKeys[i]
	}
	return m
}()

var kafkaKeyIndex = func() map[string]bool {
	m := make(map[string]bool, len(kafkaBrokerKeys)+len(kafkaLegacyBrokerKeys))
	for _, k := range kafkaBrokerKeys {
		m[k] = true
	}
	for _, k := range kafkaLegacyBrokerKeys {
		m[k] = true
	}
	return m
}()

// keyWarning classifies a key the user set and returns the warning to
// print, or "" if Samsa implements the key.
func keyWarning(key string) string {
	if samsaKeyIndex[key] != nil || isSecurityKey(key) {
		return ""
	}
	if kafkaKeyIndex[key] || strings.HasPrefix(key, "listener.name.") {
		return "ignoring " + key + ": not implemented by Samsa"
	}
	return "ignoring unknown key " + key
}
