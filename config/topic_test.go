package config

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestKafkaNumbering(t *testing.T) {
	types := map[ConfigType]kmsg.ConfigType{TypeUnknown: kmsg.ConfigTypeUnknown, TypeBoolean: kmsg.ConfigTypeBoolean,
		TypeString: kmsg.ConfigTypeString, TypeInt: kmsg.ConfigTypeInt, TypeShort: kmsg.ConfigTypeShort, TypeLong: kmsg.ConfigTypeLong,
		TypeDouble: kmsg.ConfigTypeDouble, TypeList: kmsg.ConfigTypeList, TypeClass: kmsg.ConfigTypeClass, TypePassword: kmsg.ConfigTypePassword}
	for ours, theirs := range types {
		if kmsg.ConfigType(ours) != theirs {
			t.Errorf("%v = %d, kmsg says %d", ours, ours, theirs)
		}
	}
	sources := map[Source]kmsg.ConfigSource{SourceUnknown: kmsg.ConfigSourceUnknown, SourceDynamicTopic: kmsg.ConfigSourceDynamicTopicConfig,
		SourceDynamicBroker: kmsg.ConfigSourceDynamicBrokerConfig, SourceDynamicDefaultBroker: kmsg.ConfigSourceDynamicDefaultBrokerConfig,
		SourceStaticBroker: kmsg.ConfigSourceStaticBrokerConfig, SourceDefault: kmsg.ConfigSourceDefaultConfig,
		SourceDynamicBrokerLogger: kmsg.ConfigSourceDynamicBrokerLoggerConfig}
	for ours, theirs := range sources {
		if kmsg.ConfigSource(ours) != theirs {
			t.Errorf("%v = %d, kmsg says %d", ours, ours, theirs)
		}
	}
	if TypeLong.String() != "LONG" || SourceStaticBroker.String() != "STATIC_BROKER_CONFIG" {
		t.Error("String()")
	}
}

func TestTopicConfigDefs(t *testing.T) {
	want := []string{"cleanup.policy", "compression.gzip.level", "compression.lz4.level", "compression.type", "compression.zstd.level",
		"delete.retention.ms", "file.delete.delay.ms", "flush.messages", "flush.ms", "follower.replication.throttled.replicas",
		"index.interval.bytes", "leader.replication.throttled.replicas", "local.retention.bytes", "local.retention.ms",
		"max.compaction.lag.ms", "max.message.bytes", "message.timestamp.after.max.ms", "message.timestamp.before.max.ms",
		"message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
		"remote.log.copy.disable", "remote.log.delete.on.disable", "remote.storage.enable", "retention.bytes", "retention.ms",
		"segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms", "unclean.leader.election.enable"}
	defs := TopicConfigDefs()
	var names []string
	for _, d := range defs {
		names = append(names, d.Name)
		if d.Type == TypeUnknown || d.Doc == "" {
			t.Errorf("%s: incomplete %+v", d.Name, d)
		}
		if err := ValidateTopicConfig(d.Name, d.Default); err != nil {
			t.Errorf("%s: default %q invalid: %v", d.Name, d.Default, err)
		}
		for _, s := range topicIndex[d.Name].chain {
			if samsaKeyIndex[s.name] == nil {
				t.Errorf("%s: synonym %s is not an implemented broker key", d.Name, s.name)
			}
		}
		if got, ok := LookupTopicConfig(d.Name); !ok || got.Name != d.Name {
			t.Errorf("LookupTopicConfig(%s)", d.Name)
		}
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("names = %q\nwant %q", names, want)
	}
	defs[0].Name = "changed"
	if TopicConfigDefs()[0].Name != "cleanup.policy" {
		t.Error("TopicConfigDefs returned shared storage")
	}
	for name, want := range map[string]string{"retention.ms": "log.retention.ms", "segment.ms": "log.roll.ms", "max.message.bytes": "message.max.bytes",
		"min.cleanable.dirty.ratio": "log.cleaner.min.cleanable.ratio", "remote.storage.enable": ""} {
		if d, _ := LookupTopicConfig(name); d.BrokerSynonym != want {
			t.Errorf("%s: BrokerSynonym %q, want %q", name, d.BrokerSynonym, want)
		}
	}
	if d, _ := LookupTopicConfig("compression.gzip.level"); d.ValidValues != "[1,...,9] or -1" || d.Type != TypeInt {
		t.Errorf("gzip: %+v", d)
	}
	if _, ok := LookupTopicConfig("Retention.ms"); ok {
		t.Error("names are case-sensitive")
	}
}

func TestValidateTopicConfig(t *testing.T) {
	valid := map[string][]string{
		"preallocate":                             {"true", "false", "TRUE", " False "},
		"compression.type":                        {"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer", " gzip "},
		"message.timestamp.type":                  {"CreateTime", "LogAppendTime"},
		"segment.index.bytes":                     {"4", "2147483647", "+8"},
		"compression.gzip.level":                  {"-1", "1", "9"},
		"compression.lz4.level":                   {"1", "17"},
		"compression.zstd.level":                  {"-131072", "0", "22"},
		"retention.ms":                            {"-1", "0", "1", "9223372036854775807"},
		"retention.bytes":                         {"-5", "0", "-9223372036854775808"},
		"local.retention.ms":                      {"-2", "0"},
		"segment.ms":                              {"1"},
		"segment.bytes":                           {"1048576"},
		"max.message.bytes":                       {"0"},
		"min.cleanable.dirty.ratio":               {"0", "1", "0.5", "1e-1", ".25", "1.0"},
		"cleanup.policy":                          {"delete", "compact", "compact,delete", "delete , compact", ""},
		"leader.replication.throttled.replicas":   {"*", "0:1,1:2", "", " 0:1 , 2:3 "},
		"follower.replication.throttled.replicas": {"*"},
	}
	for name, values := range valid {
		for _, v := range values {
			if err := ValidateTopicConfig(name, v); err != nil {
				t.Errorf("ValidateTopicConfig(%s, %q) = %v", name, v, err)
			}
		}
	}
	invalid := map[string][]string{
		"preallocate":                           {"yes", "1", "", "t"},
		"compression.type":                      {"ZSTD", "brotli", "none", ""},
		"message.timestamp.type":                {"createtime", "NoTime"},
		"segment.index.bytes":                   {"3", "abc", "2147483648", "1.0", "4 4"},
		"compression.gzip.level":                {"0", "10", "-2"},
		"compression.lz4.level":                 {"0", "18"},
		"compression.zstd.level":                {"-131073", "23"},
		"retention.ms":                          {"-2", "9223372036854775808", "1h"},
		"local.retention.bytes":                 {"-3"},
		"segment.ms":                            {"0"},
		"segment.bytes":                         {"1048575", "14"},
		"max.message.bytes":                     {"-1"},
		"min.insync.replicas":                   {"0"},
		"min.cleanable.dirty.ratio":             {"1.01", "-0.1", "NaN", "abc", "Infinity"},
		"cleanup.policy":                        {"Compact", "compact,,delete", "delete,", "archive"},
		"leader.replication.throttled.replicas": {"0:a", "*,0:1", "0", "all"},
	}
	for name, values := range invalid {
		for _, v := range values {
			err := ValidateTopicConfig(name, v)
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Key != name || ve.Value != v {
				t.Errorf("ValidateTopicConfig(%s, %q) = %v, want *ValueError", name, v, err)
			}
		}
	}
	for _, name := range []string{"message.downconversion.enable", "message.format.version", "message.timestamp.difference.max.ms",
		"retention.hours", "RETENTION.MS", "log.retention.ms", ""} {
		if err := ValidateTopicConfig(name, "1"); !errors.Is(err, ErrUnknownTopicConfig) {
			t.Errorf("ValidateTopicConfig(%q) = %v, want ErrUnknownTopicConfig", name, err)
		}
	}
}

func TestNormalizeTopicConfig(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"preallocate", " TRUE ", "true"},
		{"cleanup.policy", "delete , compact", "delete,compact"},
		{"retention.ms", "+5", "5"},
		{"min.cleanable.dirty.ratio", ".5", "0.5"},
		{"min.cleanable.dirty.ratio", "1", "1.0"},
		{"min.cleanable.dirty.ratio", "0.0001", "1.0E-4"},
		{"compression.type", " lz4\t", "lz4"},
	} {
		got, err := NormalizeTopicConfig(tt.name, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeTopicConfig(%s, %q) = %q, %v; want %q", tt.name, tt.in, got, err, tt.want)
		}
	}
	if _, err := NormalizeTopicConfig("retention.ms", "x"); err == nil {
		t.Error("no error for bad value")
	}
}

func TestValidateTopicConfigs(t *testing.T) {
	c, _ := mustBuild(t, "", "log.cleaner.min.compaction.lag.ms=100")
	ok := []map[string]string{nil, {"retention.ms": "1000", "cleanup.policy": "compact"}, {"max.compaction.lag.ms": "100"},
		{"remote.storage.enable": "false"}}
	for _, m := range ok {
		if err := c.ValidateTopicConfigs(m); err != nil {
			t.Errorf("%v: %v", m, err)
		}
	}
	bad := []map[string]string{{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"}, {"max.compaction.lag.ms": "99"},
		{"remote.storage.enable": "TRUE"}, {"retention.ms": "x"}, {"nonsense": "1"}}
	for _, m := range bad {
		if err := c.ValidateTopicConfigs(m); err == nil {
			t.Errorf("%v: no error", m)
		}
	}
}

func TestTopicDefault(t *testing.T) {
	S := func(name, value string, src Source) Synonym { return Synonym{name, value, src} }
	maxLong := "9223372036854775807"
	tests := []struct {
		overrides []string
		topic     string
		value     string
		source    Source
		synonyms  []Synonym
	}{
		// Kafka's ConfigHelper drops the synonyms before the first one
		// named like the chain's first key (log.retention.ms), so unless
		// that one is set none is listed and the source is DEFAULT_CONFIG.
		{nil, "retention.ms", "604800000", SourceDefault, nil},
		{[]string{"log.retention.hours=24"}, "retention.ms", "86400000", SourceDefault, nil},
		{[]string{"log.retention.hours=24", "log.retention.minutes=30"}, "retention.ms", "1800000", SourceDefault, nil},
		{[]string{"log.retention.minutes=30", "log.retention.ms=1000"}, "retention.ms", "1000", SourceStaticBroker,
			[]Synonym{S("log.retention.ms", "1000", SourceStaticBroker), S("log.retention.minutes", "30", SourceStaticBroker),
				S("log.retention.hours", "168", SourceDefault)}},
		{[]string{"log.retention.hours=-1"}, "retention.ms", "-1", SourceDefault, nil},
		{nil, "compression.type", "producer", SourceDefault, []Synonym{S("compression.type", "producer", SourceDefault)}},
		{[]string{"compression.type= gzip"}, "compression.type", "gzip", SourceStaticBroker,
			[]Synonym{S("compression.type", " gzip", SourceStaticBroker), S("compression.type", "producer", SourceDefault)}},
		{nil, "remote.storage.enable", "false", SourceDefault, nil},
		{nil, "leader.replication.throttled.replicas", "", SourceDefault, nil},
		{nil, "flush.ms", maxLong, SourceDefault, nil},
		{[]string{"log.flush.interval.ms=50"}, "flush.ms", "50", SourceStaticBroker,
			[]Synonym{S("log.flush.interval.ms", "50", SourceStaticBroker), S("log.flush.scheduler.interval.ms", maxLong, SourceDefault)}},
		{[]string{"log.roll.hours=1"}, "segment.ms", "3600000", SourceDefault, nil},
		{[]string{"log.roll.ms=1000"}, "segment.ms", "1000", SourceStaticBroker,
			[]Synonym{S("log.roll.ms", "1000", SourceStaticBroker), S("log.roll.hours", "168", SourceDefault)}},
		{[]string{"log.roll.jitter.hours=2"}, "segment.jitter.ms", "7200000", SourceDefault, nil},
		{[]string{"message.max.bytes=2000"}, "max.message.bytes", "2000", SourceStaticBroker,
			[]Synonym{S("message.max.bytes", "2000", SourceStaticBroker), S("message.max.bytes", "1048588", SourceDefault)}},
		{[]string{"log.cleanup.policy=compact, delete"}, "cleanup.policy", "compact,delete", SourceStaticBroker,
			[]Synonym{S("log.cleanup.policy", "compact, delete", SourceStaticBroker), S("log.cleanup.policy", "delete", SourceDefault)}},
		{[]string{"log.cleaner.min.cleanable.ratio=0.25"}, "min.cleanable.dirty.ratio", "0.25", SourceStaticBroker,
			[]Synonym{S("log.cleaner.min.cleanable.ratio", "0.25", SourceStaticBroker), S("log.cleaner.min.cleanable.ratio", "0.5", SourceDefault)}},
		{[]string{"unclean.leader.election.enable=TRUE"}, "unclean.leader.election.enable", "true", SourceStaticBroker,
			[]Synonym{S("unclean.leader.election.enable", "TRUE", SourceStaticBroker), S("unclean.leader.election.enable", "false", SourceDefault)}},
		{nil, "local.retention.ms", "-2", SourceDefault, []Synonym{S("log.local.retention.ms", "-2", SourceDefault)}},
		{[]string{"min.insync.replicas=2"}, "min.insync.replicas", "2", SourceStaticBroker,
			[]Synonym{S("min.insync.replicas", "2", SourceStaticBroker), S("min.insync.replicas", "1", SourceDefault)}},
		{nil, "no.such.config", "", SourceUnknown, nil},
	}
	for _, tt := range tests {
		c, _ := mustBuild(t, "", tt.overrides...)
		value, source, synonyms := c.TopicDefault(tt.topic)
		if value != tt.value || source != tt.source || !reflect.DeepEqual(synonyms, tt.synonyms) {
			t.Errorf("%q %s = %q %v %+v\nwant %q %v %+v", tt.overrides, tt.topic, value, source, synonyms, tt.value, tt.source, tt.synonyms)
		}
	}
}

// Every topic config resolves to its Kafka default on a default broker.
func TestTopicDefaultMatchesKafkaDefaults(t *testing.T) {
	c := Default()
	for _, d := range TopicConfigDefs() {
		if v, _, _ := c.TopicDefault(d.Name); v != d.Default {
			t.Errorf("%s: %q, Kafka default %q", d.Name, v, d.Default)
		}
	}
}

// Fields changed in code are what TopicDefault reports.
func TestTopicDefaultUsesFields(t *testing.T) {
	c := Default()
	c.LogSegmentBytes = 2 << 20
	c.LogFlushIntervalMs = math.MaxInt64 - 1
	if v, _, _ := c.TopicDefault("segment.bytes"); v != "2097152" {
		t.Errorf("segment.bytes = %s", v)
	}
	if v, _, _ := c.TopicDefault("flush.ms"); v != "9223372036854775806" {
		t.Errorf("flush.ms = %s", v)
	}
}

// Every key Samsa implements or reports is one Kafka knows, except
// Samsa's own keys (samsa.*), which DescribeConfigs must not report.
func TestBrokerKeyTables(t *testing.T) {
	for _, k := range samsaBrokerKeys {
		if strings.HasPrefix(k.name, "samsa.") {
			if !k.hidden {
				t.Errorf("%s is Samsa's own key and must be hidden from DescribeConfigs", k.name)
			}
			continue
		}
		if !slices.Contains(kafkaBrokerKeys, k.name) && !slices.Contains(kafkaLegacyBrokerKeys, k.name) {
			t.Errorf("%s is not a Kafka broker key", k.name)
		}
		if !k.null {
			if _, err := k.v.check(k.def); err != nil {
				t.Errorf("%s: default %q invalid: %v", k.name, k.def, err)
			}
		}
	}
	if !slices.IsSorted(kafkaBrokerKeys) || !slices.IsSorted(kafkaLegacyBrokerKeys) {
		t.Error("key tables must stay sorted")
	}
}
