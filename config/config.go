package config

import (
	"fmt"
	"math"
	"os"
	"strings"
)

// Config is the broker configuration Samsa runs with. Fields hold
// effective values: defaults, synonyms and unit conversions are already
// resolved, so the rest of Samsa never looks at raw keys. Values keeps
// what the user actually wrote, because DescribeConfigs must report it.
type Config struct {
	// Listeners are the addresses the broker binds (listeners, default
	// DefaultListeners), with controller listeners removed. An empty Host means every interface.
	Listeners []Listener
	// AdvertisedListeners are the addresses given to clients in metadata
	// (advertised.listeners). When unset they are the Listeners, with a
	// wildcard host (empty, 0.0.0.0 or ::) replaced by os.Hostname(). A
	// port of 0 (bind any free port) is left for the broker to replace
	// with the port it actually bound.
	AdvertisedListeners []Listener
	// SecurityProtocols maps each served listener name to its security
	// protocol (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL) from
	// listener.security.protocol.map. Package security reads the TLS and
	// SASL keys of each listener from Values.
	SecurityProtocols map[string]string
	// InterBrokerListenerName is inter.broker.listener.name (or the
	// listener named by security.inter.broker.protocol); see interBroker.
	InterBrokerListenerName string
	// HTTPListeners are the addresses of Samsa's HTTP listener
	// (samsa.http.listeners; /healthz, /readyz). None, the default, means
	// the HTTP listener is off.
	HTTPListeners []HTTPListener
	// ConsoleEnable (samsa.console.enable, default true) serves the web
	// console on the HTTP listener; ConsoleActionsEnable
	// (samsa.console.actions.enable, default false) lets it create topics
	// and reset offsets.
	ConsoleEnable, ConsoleActionsEnable bool
	// PprofEnable (samsa.debug.pprof.enable, default false) serves
	// /debug/pprof/ on the HTTP listener.
	PprofEnable bool
	// LogDirs are the data directories (log.dirs, else log.dir, both
	// comma-separated; default DefaultLogDir), as written: relative paths
	// are relative to the working directory.
	LogDirs []string
	// BrokerID is broker.id or node.id (they must agree when both are
	// set); default 0, and -1 also means 0 on a single node.
	BrokerID int32

	NumPartitions            int32 // num.partitions, default 1
	DefaultReplicationFactor int16 // default.replication.factor, default 1
	AutoCreateTopics         bool  // auto.create.topics.enable, default true
	MessageMaxBytes          int32 // message.max.bytes, default 1048588
	// MaxIncrementalFetchSessionCacheSlots is
	// max.incremental.fetch.session.cache.slots (default 1000).
	MaxIncrementalFetchSessionCacheSlots int32
	SocketRequestMaxBytes                int32 // socket.request.max.bytes, default 104857600
	// ConnectionsMaxIdleMs is connections.max.idle.ms, default 600000
	// (10 min): a connection with no request in flight and no bytes read
	// or written for that long is closed. Negative never closes, as in
	// Kafka's Selector.
	ConnectionsMaxIdleMs int64
	// MaxConnections, MaxConnectionsPerIP and MaxConnectionsPerIPOverrides
	// are max.connections, max.connections.per.ip (both default
	// 2147483647) and max.connections.per.ip.overrides (default empty;
	// parsed by quota.ParseOverrides), Kafka's ConnectionQuotas limits.
	MaxConnections               int32
	MaxConnectionsPerIP          int32
	MaxConnectionsPerIPOverrides string
	// QuotaWindowNum and QuotaWindowSizeSeconds are quota.window.num
	// (default 11) and quota.window.size.seconds (default 1): the sample
	// windows client quotas are measured over.
	QuotaWindowNum         int32
	QuotaWindowSizeSeconds int32

	// LogRetentionMs is log.retention.ms, else log.retention.minutes,
	// else log.retention.hours (default 168 hours); -1 means unlimited
	// (as in Kafka, any negative setting becomes -1).
	LogRetentionMs    int64
	LogRetentionBytes int64 // log.retention.bytes, default -1 (unlimited)
	LogSegmentBytes   int32 // log.segment.bytes, default 1 GiB, at least 1 MiB as in Kafka 4
	// LogRollMs is log.roll.ms, else log.roll.hours (default 168 hours).
	LogRollMs                   int64
	LogRetentionCheckIntervalMs int64 // log.retention.check.interval.ms, default 300000
	LogFlushIntervalMessages    int64 // log.flush.interval.messages, default math.MaxInt64 (never)
	// LogFlushIntervalMs is log.flush.interval.ms, else
	// log.flush.scheduler.interval.ms, whose default is math.MaxInt64:
	// math.MaxInt64 therefore means "not set, never flush on a timer",
	// exactly the value Kafka uses for the topic's flush.ms.
	LogFlushIntervalMs int64

	// The log cleaner (log compaction), as Kafka's log.cleaner.* keys.
	LogCleanerEnable             bool    // log.cleaner.enable, default true
	LogCleanerThreads            int32   // log.cleaner.threads, default 1
	LogCleanerDedupeBufferSize   int64   // log.cleaner.dedupe.buffer.size, default 134217728
	LogCleanerIOBufferSize       int32   // log.cleaner.io.buffer.size, default 524288
	LogCleanerIOBufferLoadFactor float64 // log.cleaner.io.buffer.load.factor, default 0.9
	LogCleanerBackoffMs          int64   // log.cleaner.backoff.ms, default 15000

	OffsetsRetentionMinutes      int32 // offsets.retention.minutes, default 10080
	GroupInitialRebalanceDelayMs int32 // group.initial.rebalance.delay.ms, default 3000
	GroupMinSessionTimeoutMs     int32 // group.min.session.timeout.ms, default 6000
	GroupMaxSessionTimeoutMs     int32 // group.max.session.timeout.ms, default 1800000
	GroupMaxSize                 int32 // group.max.size, default math.MaxInt32
	OffsetsTopicNumPartitions    int32 // offsets.topic.num.partitions, default 50
	OffsetsTopicSegmentBytes     int32 // offsets.topic.segment.bytes, default 104857600
	OffsetsTopicCompressionCodec int8  // offsets.topic.compression.codec, default 0 (none)
	// OffsetsRetentionCheckIntervalMs is offsets.retention.check.interval.ms
	// (default 600000).
	OffsetsRetentionCheckIntervalMs int64
	OffsetsLoadBufferSize           int32 // offsets.load.buffer.size, default 5242880
	MinInsyncReplicas               int32 // min.insync.replicas, default 1
	// ZookeeperConnect is zookeeper.connect: host:port[,...][/chroot].
	// Empty (the default) is a single node; set, the broker joins a
	// ZooKeeper-coordinated cluster.
	ZookeeperConnect string
	// ZookeeperSessionTimeoutMs is zookeeper.session.timeout.ms (default
	// 18000) and ZookeeperConnectionTimeoutMs zookeeper.connection.timeout.ms
	// (default: the session timeout).
	ZookeeperSessionTimeoutMs    int32
	ZookeeperConnectionTimeoutMs int32
	// BrokerRack is broker.rack; nil when unset.
	BrokerRack *string
	// UncleanLeaderElectionEnable is unclean.leader.election.enable
	// (default false): whether the controller may elect a leader outside
	// the ISR when no ISR member is alive.
	UncleanLeaderElectionEnable bool
	// OffsetsTopicReplicationFactor is offsets.topic.replication.factor
	// (default 3), capped at the live brokers when the topic is created.
	OffsetsTopicReplicationFactor int16

	// ControlledShutdownEnable (controlled.shutdown.enable, default true),
	// ControlledShutdownMaxRetries (controlled.shutdown.max.retries, 3) and
	// ControlledShutdownRetryBackoffMs (controlled.shutdown.retry.backoff.ms,
	// 5000): how a cluster-mode broker asks the controller to move its
	// leaderships away before it stops (Kafka's KafkaServer.controlledShutdown).
	ControlledShutdownEnable         bool
	ControlledShutdownMaxRetries     int32
	ControlledShutdownRetryBackoffMs int64
	// AutoLeaderRebalanceEnable (auto.leader.rebalance.enable, default
	// true), LeaderImbalanceCheckIntervalSeconds
	// (leader.imbalance.check.interval.seconds, 300) and
	// LeaderImbalancePerBrokerPercentage
	// (leader.imbalance.per.broker.percentage, 10): the controller's
	// periodic preferred-leader rebalance (KafkaController
	// .checkAndTriggerAutoLeaderRebalance).
	AutoLeaderRebalanceEnable           bool
	LeaderImbalanceCheckIntervalSeconds int64
	LeaderImbalancePerBrokerPercentage  int32

	// ControllerRequests is samsa.controller.requests.enable: serve
	// LeaderAndIsr and StopReplica although zookeeper.connect is unset.
	ControllerRequests bool

	// Replication (package replica), Kafka's names and defaults.
	NumReplicaFetchers   int32 // num.replica.fetchers, default 1
	ReplicaFetchMaxBytes int32 // replica.fetch.max.bytes, default 1048576
	// ReplicationQuotaWindowNum (replication.quota.window.num, 11) and
	// ReplicationQuotaWindowSizeSeconds (replication.quota.window.size
	// .seconds, 1) are the samples of the replication throttles' rates.
	ReplicationQuotaWindowNum                int
	ReplicationQuotaWindowSizeSeconds        int
	ReplicaFetchMinBytes                     int32 // replica.fetch.min.bytes, default 1
	ReplicaFetchResponseMaxBytes             int32 // replica.fetch.response.max.bytes, default 10485760
	ReplicaFetchWaitMaxMs                    int32 // replica.fetch.wait.max.ms, default 500
	ReplicaFetchBackoffMs                    int32 // replica.fetch.backoff.ms, default 1000
	ReplicaHighWatermarkCheckpointIntervalMs int64 // replica.high.watermark.checkpoint.interval.ms, default 5000
	ReplicaLagTimeMaxMs                      int64 // replica.lag.time.max.ms, default 30000
	// ReplicaSelectorClass is replica.selector.class (KIP-392), empty
	// when unset (Kafka's default: consumers read from leaders only).
	ReplicaSelectorClass string

	TransactionStateLogNumPartitions                     int32 // transaction.state.log.num.partitions, default 50
	TransactionStateLogSegmentBytes                      int32 // transaction.state.log.segment.bytes, default 104857600
	TransactionStateLogLoadBufferSize                    int32 // transaction.state.log.load.buffer.size, default 5242880
	TransactionMaxTimeoutMs                              int32 // transaction.max.timeout.ms, default 900000
	TransactionAbortTimedOutTransactionCleanupIntervalMs int32 // transaction.abort.timed.out.transaction.cleanup.interval.ms, default 10000
	TransactionalIDExpirationMs                          int32 // transactional.id.expiration.ms, default 604800000 (7 days)
	TransactionRemoveExpiredTransactionCleanupIntervalMs int32 // transaction.remove.expired.transaction.cleanup.interval.ms, default 3600000
	ProducerIDExpirationMs                               int32 // producer.id.expiration.ms, default 86400000 (1 day)

	// TransactionStateLogReplicationFactor is
	// transaction.state.log.replication.factor (default 3), capped like
	// OffsetsTopicReplicationFactor.
	TransactionStateLogReplicationFactor int16
	// TransactionStateLogMinISR is transaction.state.log.min.isr
	// (default 2), __transaction_state's min.insync.replicas.
	TransactionStateLogMinISR int32
	// OffsetsCommitTimeoutMs is offsets.commit.timeout.ms (default
	// 5000): how long a coordinator write waits for the in-sync
	// replicas.
	OffsetsCommitTimeoutMs int32

	// Values holds every key the user gave (the file, then overrides,
	// which win), exactly as given, including keys Samsa ignores. It is
	// the source of STATIC_BROKER_CONFIG values in DescribeConfigs. In
	// a copy made by WithDynamic it also holds the dynamic broker configs
	// merged in, and static holds the user's keys alone.
	Values map[string]string

	// Set by WithDynamic: the user's keys, and the dynamic broker configs
	// of this broker and of the cluster default (KIP-226).
	static, dynBroker, dynDefault map[string]string
}

// Default returns Samsa's defaults: Kafka's, except DefaultListeners,
// DefaultLogDir and broker id 0. It is what Load returns for an empty
// configuration, minus the log directory check.
func Default() *Config {
	l := []Listener{{Name: "PLAINTEXT", Host: "localhost", Port: 9092}}
	c := &Config{
		Listeners:                            l,
		AdvertisedListeners:                  append([]Listener(nil), l...),
		LogDirs:                              []string{DefaultLogDir},
		ConsoleEnable:                        true,
		NumPartitions:                        1,
		DefaultReplicationFactor:             1,
		AutoCreateTopics:                     true,
		MessageMaxBytes:                      1048588,
		MaxIncrementalFetchSessionCacheSlots: 1000,
		SocketRequestMaxBytes:                104857600,
		ConnectionsMaxIdleMs:                 600000,
		MaxConnections:                       2147483647,
		MaxConnectionsPerIP:                  2147483647,
		QuotaWindowNum:                       11,
		QuotaWindowSizeSeconds:               1,
		LogRetentionMs:                       168 * 3600 * 1000,
		LogRetentionBytes:                    -1,
		LogSegmentBytes:                      1 << 30,
		LogRollMs:                            168 * 3600 * 1000,
		LogRetentionCheckIntervalMs:          300000,
		LogFlushIntervalMessages:             math.MaxInt64,
		LogFlushIntervalMs:                   math.MaxInt64,
		OffsetsRetentionMinutes:              10080,
		GroupInitialRebalanceDelayMs:         3000,
		GroupMinSessionTimeoutMs:             6000,
		GroupMaxSessionTimeoutMs:             1800000,
		GroupMaxSize:                         math.MaxInt32,
		OffsetsTopicNumPartitions:            50,
		OffsetsTopicSegmentBytes:             104857600,
		OffsetsRetentionCheckIntervalMs:      600000,
		OffsetsLoadBufferSize:                5242880,
		MinInsyncReplicas:                    1,
		TransactionStateLogNumPartitions:     50,
		TransactionStateLogSegmentBytes:      104857600,
		TransactionStateLogLoadBufferSize:    5242880,
		TransactionMaxTimeoutMs:              900000,
		ZookeeperSessionTimeoutMs:            18000,
		ZookeeperConnectionTimeoutMs:         18000,
		InterBrokerListenerName:              "PLAINTEXT",
		OffsetsTopicReplicationFactor:        3,
		SecurityProtocols:                    map[string]string{"PLAINTEXT": "PLAINTEXT"},
		TransactionAbortTimedOutTransactionCleanupIntervalMs: 10000,
		TransactionalIDExpirationMs:                          604800000,
		TransactionRemoveExpiredTransactionCleanupIntervalMs: 3600000,
		ProducerIDExpirationMs:                               86400000,
		LogCleanerEnable:                                     true,
		LogCleanerThreads:                                    1,
		LogCleanerDedupeBufferSize:                           134217728,
		LogCleanerIOBufferSize:                               524288,
		LogCleanerIOBufferLoadFactor:                         0.9,
		LogCleanerBackoffMs:                                  15000,
		TransactionStateLogReplicationFactor:                 3,
		TransactionStateLogMinISR:                            2,
		OffsetsCommitTimeoutMs:                               5000,
		Values:                                               map[string]string{},
	}
	c.setReplicationDefaults()
	c.setLeadershipDefaults()
	return c
}

// setLeadershipDefaults sets Kafka's defaults of the controlled shutdown
// and leader rebalance keys.
func (c *Config) setLeadershipDefaults() {
	c.ControlledShutdownEnable = true
	c.ControlledShutdownMaxRetries = 3
	c.ControlledShutdownRetryBackoffMs = 5000
	c.AutoLeaderRebalanceEnable = true
	c.LeaderImbalanceCheckIntervalSeconds = 300
	c.LeaderImbalancePerBrokerPercentage = 10
}

// setReplicationDefaults sets Kafka's defaults of the replica.* keys.
func (c *Config) setReplicationDefaults() {
	c.NumReplicaFetchers = 1
	c.ReplicaFetchMaxBytes = 1048576
	c.ReplicationQuotaWindowNum = 11
	c.ReplicationQuotaWindowSizeSeconds = 1
	c.ReplicaFetchMinBytes = 1
	c.ReplicaFetchResponseMaxBytes = 10485760
	c.ReplicaFetchWaitMaxMs = 500
	c.ReplicaFetchBackoffMs = 1000
	c.ReplicaHighWatermarkCheckpointIntervalMs = 5000
	c.ReplicaLagTimeMaxMs = 30000
}

// Load builds the configuration the way kafka-server-start.sh does: the
// properties file at path (none if path is ""), then each override, a
// "key=value" string whose value may itself contain '='. A later setting
// of a key wins.
//
// Like Kafka, Load accepts keys it does not use; each one yields a warning
// (one line, meant for the log) rather than an error, so a stock Kafka
// server.properties starts Samsa. A value Samsa cannot use is an error,
// a *ValueError naming the key and value, and so is a log directory that
// cannot be created or written (see CheckLogDirs). Warnings gathered
// before an error are returned with it.
func Load(path string, overrides []string) (*Config, []string, error) {
	c, warnings, err := load(path, overrides)
	if err != nil {
		return nil, warnings, err
	}
	if err := c.CheckLogDirs(); err != nil {
		return nil, warnings, err
	}
	return c, warnings, nil
}

// load is Load without touching the file system beyond reading path.
func load(path string, overrides []string) (*Config, []string, error) {
	var entries []Property
	if path != "" {
		props, err := ReadPropertiesFile(path)
		if err != nil {
			return nil, nil, err
		}
		entries = props
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("invalid override %q: want key=value", o)
		}
		entries = append(entries, Property{Key: k, Value: v})
	}
	return build(entries)
}

// CheckLogDirs creates every log directory that does not exist and proves
// it writable by creating and removing a file, so that a bad path fails at
// startup with the key to fix instead of at the first produce.
func (c *Config) CheckLogDirs() error {
	for _, dir := range c.LogDirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return &ValueError{Key: "log.dirs", Value: dir, Reason: "cannot create directory: " + err.Error()}
		}
		f, err := os.CreateTemp(dir, ".samsa-write-check-*")
		if err != nil {
			return &ValueError{Key: "log.dirs", Value: dir, Reason: "directory is not writable: " + err.Error()}
		}
		name := f.Name()
		f.Close()
		if err := os.Remove(name); err != nil {
			return &ValueError{Key: "log.dirs", Value: dir, Reason: "cannot remove files in directory: " + err.Error()}
		}
	}
	return nil
}
