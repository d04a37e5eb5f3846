package config

import (
	"fmt"
	"slices"
	"testing"
)

// TestWithDynamic: dynamic broker configs (KIP-226) supply topic
// defaults with Kafka's precedence (per broker over cluster default over
// server.properties; within a synonym chain the first key set at any
// level), sources and synonym order (ConfigHelper.configSynonyms), and
// leave the static Config untouched.
func TestWithDynamic(t *testing.T) {
	c, _, err := Load("", []string{"log.retention.hours=5", "message.max.bytes=2000"})
	if err != nil {
		t.Fatal(err)
	}
	d, ignored := c.WithDynamic(
		map[string]string{"message.max.bytes": "3000", "log.cleaner.threads": "2"},
		map[string]string{"message.max.bytes": "4000", "log.retention.ms": "60000", "min.insync.replicas": "0"})
	if want := []string{"log.cleaner.threads=2", "min.insync.replicas=0"}; !slices.Equal(ignored, want) {
		t.Errorf("ignored %v, want %v", ignored, want)
	}
	check := func(c *Config, name, value string, source Source, synonyms string) {
		t.Helper()
		v, s, syn := c.TopicDefault(name)
		if v != value || s != source || fmt.Sprint(syn) != synonyms {
			t.Errorf("%s: %s (%v) %v, want %s (%v) %s", name, v, s, syn, value, source, synonyms)
		}
	}
	check(d, "max.message.bytes", "3000", SourceDynamicBroker,
		"[{message.max.bytes 3000 DYNAMIC_BROKER_CONFIG} {message.max.bytes 4000 DYNAMIC_DEFAULT_BROKER_CONFIG} {message.max.bytes 2000 STATIC_BROKER_CONFIG} {message.max.bytes 1048588 DEFAULT_CONFIG}]")
	// log.retention.ms (dynamic) is first in the chain: it beats the
	// static log.retention.hours.
	check(d, "retention.ms", "60000", SourceDynamicDefaultBroker,
		"[{log.retention.ms 60000 DYNAMIC_DEFAULT_BROKER_CONFIG} {log.retention.hours 5 STATIC_BROKER_CONFIG} {log.retention.hours 168 DEFAULT_CONFIG}]")
	check(d, "min.insync.replicas", "1", SourceDefault, "[{min.insync.replicas 1 DEFAULT_CONFIG}]")
	check(c, "max.message.bytes", "2000", SourceStaticBroker, "[{message.max.bytes 2000 STATIC_BROKER_CONFIG} {message.max.bytes 1048588 DEFAULT_CONFIG}]")
	if d.MessageMaxBytes != 3000 || c.MessageMaxBytes != 2000 || d.LogRetentionMs != 60000 {
		t.Errorf("fields: dynamic MessageMaxBytes %d LogRetentionMs %d, static MessageMaxBytes %d", d.MessageMaxBytes, d.LogRetentionMs, c.MessageMaxBytes)
	}
	if v, s, _ := d.BrokerValue("message.max.bytes"); v != "3000" || s != SourceDynamicBroker {
		t.Errorf("BrokerValue(message.max.bytes) = %s (%v)", v, s)
	}
	// A merged set that is no valid topic config is ignored as a whole.
	bad, ignored := c.WithDynamic(nil, map[string]string{"log.cleaner.min.compaction.lag.ms": "10", "log.cleaner.max.compaction.lag.ms": "5"})
	if bad != c || len(ignored) != 1 {
		t.Errorf("invalid combination: got %p (static %p), ignored %v", bad, c, ignored)
	}
	// A copy of a copy starts from the static values again.
	if d2, _ := d.WithDynamic(nil, nil); d2.MessageMaxBytes != 2000 {
		t.Errorf("WithDynamic(nil, nil) of a dynamic copy: MessageMaxBytes %d, want the static 2000", d2.MessageMaxBytes)
	}
}
