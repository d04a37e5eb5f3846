package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// mustBuild loads without the log directory check, so fixtures that name
// /tmp/kafka-logs do not create it.
func mustBuild(t *testing.T, path string, overrides ...string) (*Config, []string) {
	t.Helper()
	c, w, err := load(path, overrides)
	if err != nil {
		t.Fatalf("load(%q, %q): %v", path, overrides, err)
	}
	return c, w
}

func notImplemented(keys ...string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = "ignoring " + k + ": not implemented by Samsa"
	}
	return out
}

func TestDefault(t *testing.T) {
	c := Default()
	want := &Config{
		Listeners:                            []Listener{{"PLAINTEXT", "localhost", 9092}},
		AdvertisedListeners:                  []Listener{{"PLAINTEXT", "localhost", 9092}},
		LogDirs:                              []string{"./samsa-data"},
		NumPartitions:                        1,
		DefaultReplicationFactor:             1,
		AutoCreateTopics:                     true,
		ConsoleEnable:                        true,
		MessageMaxBytes:                      1048588,
		MaxIncrementalFetchSessionCacheSlots: 1000,
		SocketRequestMaxBytes:                104857600,
		ConnectionsMaxIdleMs:                 600000,
		MaxConnections:                       2147483647,
		MaxConnectionsPerIP:                  2147483647,
		QuotaWindowNum:                       11,
		QuotaWindowSizeSeconds:               1,
		LogRetentionMs:                       604800000,
		LogRetentionBytes:                    -1,
		LogSegmentBytes:                      1073741824,
		LogRollMs:                            604800000,
		LogRetentionCheckIntervalMs:          300000,
		LogFlushIntervalMessages:             math.MaxInt64,
		LogFlushIntervalMs:                   math.MaxInt64,
		OffsetsRetentionMinutes:              10080,
		LogCleanerEnable:                     true,
		LogCleanerThreads:                    1,
		LogCleanerDedupeBufferSize:           134217728,
		LogCleanerIOBufferSize:               524288,
		LogCleanerIOBufferLoadFactor:         0.9,
		LogCleanerBackoffMs:                  15000,
		GroupInitialRebalanceDelayMs:         3000,
		GroupMinSessionTimeoutMs:             6000,
		GroupMaxSessionTimeoutMs:             1800000,
		GroupMaxSize:                         math.MaxInt32,
		OffsetsTopicNumPartitions:            50,
		OffsetsTopicSegmentBytes:             104857600, OffsetsRetentionCheckIntervalMs: 600000, OffsetsLoadBufferSize: 5242880,
		MinInsyncReplicas:             1,
		ZookeeperSessionTimeoutMs:     18000,
		ZookeeperConnectionTimeoutMs:  18000,
		InterBrokerListenerName:       "PLAINTEXT",
		OffsetsTopicReplicationFactor: 3, TransactionStateLogReplicationFactor: 3, TransactionStateLogMinISR: 2, OffsetsCommitTimeoutMs: 5000,
		NumReplicaFetchers: 1, ReplicaFetchMaxBytes: 1048576, ReplicationQuotaWindowNum: 11, ReplicationQuotaWindowSizeSeconds: 1, ReplicaFetchMinBytes: 1,
		ReplicaFetchResponseMaxBytes: 10485760, ReplicaFetchWaitMaxMs: 500, ReplicaFetchBackoffMs: 1000,
		ReplicaHighWatermarkCheckpointIntervalMs: 5000, ReplicaLagTimeMaxMs: 30000,
		ControlledShutdownEnable: true, ControlledShutdownMaxRetries: 3, ControlledShutdownRetryBackoffMs: 5000,
		AutoLeaderRebalanceEnable: true, LeaderImbalanceCheckIntervalSeconds: 300, LeaderImbalancePerBrokerPercentage: 10,
		TransactionStateLogNumPartitions: 50, TransactionStateLogSegmentBytes: 104857600,
		TransactionStateLogLoadBufferSize: 5242880, TransactionMaxTimeoutMs: 900000,
		TransactionAbortTimedOutTransactionCleanupIntervalMs: 10000,
		TransactionalIDExpirationMs:                          604800000, TransactionRemoveExpiredTransactionCleanupIntervalMs: 3600000,
		ProducerIDExpirationMs: 86400000,
		Values:                 map[string]string{},
		SecurityProtocols:      map[string]string{"PLAINTEXT": "PLAINTEXT"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() = %+v\nwant %+v", c, want)
	}
	// An empty configuration resolves to exactly the defaults.
	got, w := mustBuild(t, "")
	if !reflect.DeepEqual(got, want) || len(w) != 0 {
		t.Errorf("empty load = %+v, %q", got, w)
	}
}

func TestLoadKafka3Fixture(t *testing.T) {
	c, w := mustBuild(t, "testdata/kafka3-server.properties")
	wantW := notImplemented("num.network.threads", "num.io.threads", "socket.send.buffer.bytes", "socket.receive.buffer.bytes",
		"num.recovery.threads.per.data.dir")
	if !reflect.DeepEqual(w, wantW) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(w, "\n"), strings.Join(wantW, "\n"))
	}
	if c.BrokerID != 0 || !reflect.DeepEqual(c.LogDirs, []string{"/tmp/kafka-logs"}) || c.ZookeeperConnect != "localhost:2181" ||
		c.LogRetentionMs != 604800000 || c.GroupInitialRebalanceDelayMs != 0 || c.NumPartitions != 1 || c.SocketRequestMaxBytes != 104857600 {
		t.Errorf("config = %+v", c)
	}
	if want := []Listener{{"PLAINTEXT", "localhost", 9092}}; !reflect.DeepEqual(c.Listeners, want) || !reflect.DeepEqual(c.AdvertisedListeners, want) {
		t.Errorf("listeners = %v, advertised %v", c.Listeners, c.AdvertisedListeners)
	}
	if c.Values["log.dirs"] != "/tmp/kafka-logs" || c.Values["num.io.threads"] != "8" || len(c.Values) != 17 {
		t.Errorf("Values = %v", c.Values)
	}
}

func TestLoadKafka4Fixture(t *testing.T) {
	c, w := mustBuild(t, "testdata/kafka4-server.properties")
	wantW := notImplemented("process.roles", "controller.quorum.bootstrap.servers",
		"num.network.threads", "num.io.threads", "socket.send.buffer.bytes", "socket.receive.buffer.bytes",
		"num.recovery.threads.per.data.dir", "share.coordinator.state.topic.replication.factor",
		"share.coordinator.state.topic.min.isr")
	if !reflect.DeepEqual(w, wantW) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(w, "\n"), strings.Join(wantW, "\n"))
	}
	if c.BrokerID != 1 || !reflect.DeepEqual(c.LogDirs, []string{"/tmp/kraft-combined-logs"}) || c.LogSegmentBytes != 1<<30 {
		t.Errorf("config = %+v", c)
	}
	if want := []Listener{{"PLAINTEXT", "", 9092}}; !reflect.DeepEqual(c.Listeners, want) {
		t.Errorf("listeners = %v, want %v (controller excluded)", c.Listeners, want)
	}
	if want := []Listener{{"PLAINTEXT", "localhost", 9092}}; !reflect.DeepEqual(c.AdvertisedListeners, want) {
		t.Errorf("advertised = %v, want %v", c.AdvertisedListeners, want)
	}
}

func TestLoadOverridesBeatFile(t *testing.T) {
	dir := t.TempDir()
	c, _, err := Load("testdata/kafka4-server.properties", []string{
		"num.partitions=3", "node.id=7", "log.dirs=" + dir, "log.retention.hours=1", "num.partitions= 4",
		"zookeeper.connect=zk:2181/chroot=x",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.NumPartitions != 4 || c.BrokerID != 7 || c.LogRetentionMs != 3600000 || !reflect.DeepEqual(c.LogDirs, []string{dir}) {
		t.Errorf("config = %+v", c)
	}
	if c.Values["num.partitions"] != " 4" || c.Values["node.id"] != "7" || c.Values["process.roles"] != "broker,controller" {
		t.Errorf("Values must hold the last raw value of each key: %v", c.Values)
	}
	if c.ZookeeperConnect != "zk:2181/chroot=x" {
		t.Errorf("override value with '=': %q", c.ZookeeperConnect)
	}
}

func TestLoadWarnings(t *testing.T) {
	_, w := mustBuild(t, "", "foo.bar=1", "num.io.threads=2", "foo.bar=2", "listener.name.plaintext.ssl.keystore.location=/x", "listener.name.plaintext.foo.bar=1",
		"log.cleaner.io.max.bytes.per.second=5", "compression.type=lz4", "process.roles=broker",
		// OAUTHBEARER's JWKS validator keys, broker-wide and per listener.
		"sasl.oauthbearer.jwks.endpoint.url=http://x", "listener.name.sasl.oauthbearer.sasl.oauthbearer.expected.audience=a",
		"listener.name.sasl.oauthbearer.sasl.server.callback.handler.class=c", "listener.name.sasl.sasl.oauthbearer.clock.skew.seconds=1",
		"listener.name.sasl.oauthbearer.sasl.oauthbearer.token.endpoint.url=x")
	want := []string{"ignoring unknown key foo.bar"}
	want = append(want, notImplemented("num.io.threads", "listener.name.plaintext.foo.bar",
		"log.cleaner.io.max.bytes.per.second", "process.roles", "listener.name.sasl.oauthbearer.sasl.oauthbearer.token.endpoint.url")...)
	if !reflect.DeepEqual(w, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(w, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadDerivedValues(t *testing.T) {
	tests := []struct {
		overrides []string
		check     func(c *Config) bool
	}{
		{[]string{"log.retention.minutes=10"}, func(c *Config) bool { return c.LogRetentionMs == 600000 }},
		{[]string{"log.retention.ms=5", "log.retention.minutes=10", "log.retention.hours=1"}, func(c *Config) bool { return c.LogRetentionMs == 5 }},
		{[]string{"log.retention.minutes=10", "log.retention.hours=1"}, func(c *Config) bool { return c.LogRetentionMs == 600000 }},
		{[]string{"log.retention.hours=-1"}, func(c *Config) bool { return c.LogRetentionMs == -1 }},
		{[]string{"log.retention.ms=-100"}, func(c *Config) bool { return c.LogRetentionMs == -1 }},
		{[]string{"log.roll.hours=1"}, func(c *Config) bool { return c.LogRollMs == 3600000 }},
		{[]string{"log.roll.ms=10", "log.roll.hours=1"}, func(c *Config) bool { return c.LogRollMs == 10 }},
		{[]string{"log.flush.scheduler.interval.ms=1000"}, func(c *Config) bool { return c.LogFlushIntervalMs == 1000 }},
		{[]string{"log.flush.interval.ms=10", "log.flush.scheduler.interval.ms=1000"}, func(c *Config) bool { return c.LogFlushIntervalMs == 10 }},
		{[]string{"log.flush.interval.messages=1"}, func(c *Config) bool { return c.LogFlushIntervalMessages == 1 }},
		{[]string{"log.segment.bytes=1048576"}, func(c *Config) bool { return c.LogSegmentBytes == 1048576 }},
		{[]string{"log.retention.bytes=-5"}, func(c *Config) bool { return c.LogRetentionBytes == -5 }},
		{[]string{"message.max.bytes=+2000"}, func(c *Config) bool { return c.MessageMaxBytes == 2000 }},
		{[]string{"min.insync.replicas=2"}, func(c *Config) bool { return c.MinInsyncReplicas == 2 }},
		{[]string{"broker.id=-1"}, func(c *Config) bool { return c.BrokerID == 0 }},
		{[]string{"broker.id=5", "node.id=5"}, func(c *Config) bool { return c.BrokerID == 5 }},
		{[]string{"broker.id=6"}, func(c *Config) bool { return c.BrokerID == 6 }},
		{[]string{"log.dir=/a"}, func(c *Config) bool { return reflect.DeepEqual(c.LogDirs, []string{"/a"}) }},
		{[]string{"log.dir=/a", "log.dirs=/b, /c,"}, func(c *Config) bool { return reflect.DeepEqual(c.LogDirs, []string{"/b", "/c"}) }},
		{[]string{"auto.create.topics.enable=FALSE"}, func(c *Config) bool { return !c.AutoCreateTopics }},
		{[]string{"default.replication.factor=3"}, func(c *Config) bool { return c.DefaultReplicationFactor == 3 }},
		{[]string{"group.min.session.timeout.ms=1", "group.max.session.timeout.ms=2", "group.max.size=10",
			"group.initial.rebalance.delay.ms=0", "offsets.retention.minutes=5", "offsets.topic.num.partitions=1",
			"socket.request.max.bytes=1000", "log.retention.check.interval.ms=7", "connections.max.idle.ms=-1"}, func(c *Config) bool {
			return c.GroupMinSessionTimeoutMs == 1 && c.GroupMaxSessionTimeoutMs == 2 && c.GroupMaxSize == 10 &&
				c.GroupInitialRebalanceDelayMs == 0 && c.OffsetsRetentionMinutes == 5 && c.OffsetsTopicNumPartitions == 1 &&
				c.SocketRequestMaxBytes == 1000 && c.LogRetentionCheckIntervalMs == 7 && c.ConnectionsMaxIdleMs == -1
		}},
	}
	for _, tt := range tests {
		c, _ := mustBuild(t, "", tt.overrides...)
		if !tt.check(c) {
			t.Errorf("%q: unexpected config %+v", tt.overrides, c)
		}
	}
}

func TestLoadBadValues(t *testing.T) {
	tests := []struct {
		overrides []string
		key       string
		value     string
	}{
		{[]string{"num.partitions=abc"}, "num.partitions", "abc"},
		{[]string{"num.partitions=0"}, "num.partitions", "0"},
		{[]string{"num.partitions=99999999999"}, "num.partitions", "99999999999"},
		{[]string{"num.partitions=1.5"}, "num.partitions", "1.5"},
		{[]string{"default.replication.factor=0"}, "default.replication.factor", "0"},
		{[]string{"default.replication.factor=40000"}, "default.replication.factor", "40000"},
		{[]string{"auto.create.topics.enable=yes"}, "auto.create.topics.enable", "yes"},
		{[]string{"auto.create.topics.enable=1"}, "auto.create.topics.enable", "1"},
		{[]string{"message.max.bytes=-1"}, "message.max.bytes", "-1"},
		{[]string{"socket.request.max.bytes=0"}, "socket.request.max.bytes", "0"},
		{[]string{"log.retention.bytes=1GB"}, "log.retention.bytes", "1GB"},
		{[]string{"log.segment.bytes=100"}, "log.segment.bytes", "100"},
		{[]string{"log.segment.bytes=-1"}, "log.segment.bytes", "-1"},
		{[]string{"log.retention.ms=0"}, "log.retention.ms", "0"},
		{[]string{"log.retention.hours=0"}, "log.retention.hours", "0"},
		{[]string{"log.retention.minutes=abc"}, "log.retention.minutes", "abc"},
		{[]string{"log.roll.ms=0"}, "log.roll.ms", "0"},
		{[]string{"log.roll.hours=0"}, "log.roll.hours", "0"},
		{[]string{"log.flush.interval.ms=-5"}, "log.flush.interval.ms", "-5"},
		{[]string{"log.flush.interval.messages=0"}, "log.flush.interval.messages", "0"},
		{[]string{"log.retention.check.interval.ms=0"}, "log.retention.check.interval.ms", "0"},
		{[]string{"offsets.retention.minutes=0"}, "offsets.retention.minutes", "0"},
		{[]string{"group.max.size=0"}, "group.max.size", "0"},
		{[]string{"group.initial.rebalance.delay.ms=-1"}, "group.initial.rebalance.delay.ms", "-1"},
		{[]string{"group.min.session.timeout.ms=10000", "group.max.session.timeout.ms=5000"}, "group.max.session.timeout.ms", "5000"},
		{[]string{"group.min.session.timeout.ms=2000000"}, "group.min.session.timeout.ms", "2000000"},
		{[]string{"offsets.topic.num.partitions=0"}, "offsets.topic.num.partitions", "0"},
		{[]string{"min.insync.replicas=0"}, "min.insync.replicas", "0"},
		{[]string{"node.id=-1"}, "node.id", "-1"},
		{[]string{"broker.id=-2"}, "broker.id", "-2"},
		{[]string{"broker.id=1", "node.id=2"}, "node.id", "2"},
		{[]string{"compression.type=brotli"}, "compression.type", "brotli"},
		{[]string{"compression.gzip.level=0"}, "compression.gzip.level", "0"},
		{[]string{"log.cleanup.policy=delete,archive"}, "log.cleanup.policy", "delete,archive"},
		{[]string{"log.cleaner.min.cleanable.ratio=1.5"}, "log.cleaner.min.cleanable.ratio", "1.5"},
		{[]string{"log.message.timestamp.type=createtime"}, "log.message.timestamp.type", "createtime"},
		{[]string{"log.cleaner.min.compaction.lag.ms=10", "log.cleaner.max.compaction.lag.ms=5"}, "log.cleaner.min.compaction.lag.ms", "10"},
		{[]string{"log.preallocate=on"}, "log.preallocate", "on"},
		{[]string{"listeners=garbage"}, "listeners", "garbage"},
		{[]string{"listeners=PLAINTEXT://:99999"}, "listeners", "PLAINTEXT://:99999"},
		{[]string{"listeners=PLAINTEXT://host"}, "listeners", "PLAINTEXT://host"},
		{[]string{"listeners=PLAINTEXT://:9092,plaintext://:9093"}, "listeners", "PLAINTEXT://:9092,plaintext://:9093"},
		{[]string{"listeners=PLAINTEXT://:9092,OTHER://:9092", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT"},
			"listeners", "PLAINTEXT://:9092,OTHER://:9092"},
		{[]string{"listeners=FOO://:9092"}, "listeners", "FOO://:9092"},
		{[]string{"listeners="}, "listeners", ""},
		{[]string{"listeners=CONTROLLER://:9093", "controller.listener.names=CONTROLLER"}, "listeners", "CONTROLLER://:9093"},
		{[]string{"listener.security.protocol.map=FOO"}, "listener.security.protocol.map", "FOO"},
		{[]string{"inter.broker.listener.name=PLAINTEXT", "security.inter.broker.protocol=PLAINTEXT"}, "inter.broker.listener.name", "PLAINTEXT"},
		{[]string{"inter.broker.listener.name=OTHER"}, "inter.broker.listener.name", "OTHER"},
		{[]string{"listeners=PLAINTEXT://:9092,SSL://:9093", "advertised.listeners=PLAINTEXT://h:9092", "security.inter.broker.protocol=SSL"}, "security.inter.broker.protocol", "SSL"},
		{[]string{"listener.security.protocol.map=FOO:TLS"}, "listener.security.protocol.map", "FOO:TLS"},
		{[]string{"advertised.listeners=PLAINTEXT://0.0.0.0:9092"}, "advertised.listeners", "PLAINTEXT://0.0.0.0:9092"},
		{[]string{"advertised.listeners=PLAINTEXT://[::]:9092"}, "advertised.listeners", "PLAINTEXT://[::]:9092"},
		{[]string{"advertised.listeners=OTHER://h:9092", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT"},
			"advertised.listeners", "OTHER://h:9092"},
		{[]string{"advertised.listeners=nonsense"}, "advertised.listeners", "nonsense"},
		{[]string{"advertised.listeners=SSL://h:9093"}, "advertised.listeners", "SSL://h:9093"},
		{[]string{"log.dirs="}, "log.dirs", ""},
		{[]string{"log.dirs=/a,/a"}, "log.dirs", "/a,/a"},
		{[]string{"log.dir= , "}, "log.dir", " , "},
	}
	for _, tt := range tests {
		_, _, err := load("", tt.overrides)
		var ve *ValueError
		if !errors.As(err, &ve) {
			t.Errorf("%q: error = %v, want *ValueError", tt.overrides, err)
			continue
		}
		if ve.Key != tt.key || ve.Value != tt.value || ve.Reason == "" {
			t.Errorf("%q: got %+v, want key %q value %q", tt.overrides, ve, tt.key, tt.value)
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.key) || !strings.Contains(msg, `"`+tt.value+`"`) || strings.Contains(msg, "\n") {
			t.Errorf("%q: message %q must name key and quoted value on one line", tt.overrides, msg)
		}
	}
}

func TestValueErrorMessage(t *testing.T) {
	_, _, err := load("", []string{"num.partitions=abc"})
	if got, want := err.Error(), `invalid value "abc" for num.partitions: not an integer`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLoadInputErrors(t *testing.T) {
	if _, _, err := Load(filepath.Join(t.TempDir(), "none.properties"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.properties")
	os.WriteFile(bad, []byte("a=1\nb=\\uZZZZ\n"), 0o644)
	if _, _, err := Load(bad, nil); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("malformed file: %v", err)
	}
	for _, o := range []string{"noequals", "=value"} {
		if _, _, err := Load("", []string{o}); err == nil {
			t.Errorf("override %q: no error", o)
		}
	}
	// Warnings gathered before the error are returned with it.
	_, w, err := Load("", []string{"foo=1", "num.partitions=x"})
	if err == nil || len(w) != 1 {
		t.Errorf("got %q, %v", w, err)
	}
}

func TestCheckLogDirs(t *testing.T) {
	base := t.TempDir()
	nested := filepath.Join(base, "a", "b")
	c := Default()
	c.LogDirs = []string{nested, base}
	if err := c.CheckLogDirs(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(nested); err != nil || !fi.IsDir() {
		t.Fatalf("not created: %v", err)
	}
	if ents, _ := os.ReadDir(nested); len(ents) != 0 {
		t.Errorf("check left files behind: %v", ents)
	}
	// A regular file where a directory is needed cannot be fixed by MkdirAll,
	// even as root.
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o644)
	bad := filepath.Join(file, "sub")
	_, _, err := Load("", []string{"log.dirs=" + base + "," + bad})
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Key != "log.dirs" || ve.Value != bad {
		t.Errorf("got %v, want ValueError for log.dirs %q", err, bad)
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(base, "ro")
		os.Mkdir(ro, 0o555)
		c.LogDirs = []string{ro}
		if err := c.CheckLogDirs(); !errors.As(err, &ve) || ve.Key != "log.dirs" {
			t.Errorf("read-only dir: %v", err)
		}
	}
}
