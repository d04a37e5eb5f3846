package config

import (
	"slices"
	"testing"
)

func TestBrokerConfigDefs(t *testing.T) {
	defs := BrokerConfigDefs()
	var names []string
	for _, d := range defs {
		names = append(names, d.Name)
		if !d.ReadOnly || d.Sensitive || d.Type == TypeUnknown || d.Doc == "" {
			t.Errorf("%+v", d)
		}
		if !slices.Contains(kafkaBrokerKeys, d.Name) {
			t.Errorf("%s is not a Kafka 4 broker key", d.Name)
		}
		if _, _, ok := Default().BrokerValue(d.Name); !ok {
			t.Errorf("BrokerValue(%s) not ok", d.Name)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("not sorted: %q", names)
	}
	for _, n := range []string{"listeners", "log.retention.hours", "log.segment.bytes", "compression.type", "node.id"} {
		if !slices.Contains(names, n) {
			t.Errorf("%s missing", n)
		}
	}
	if slices.Contains(names, "zookeeper.connect") {
		t.Error("zookeeper.connect is not a Kafka 4 key and must not be reported")
	}
}

func TestBrokerValue(t *testing.T) {
	c, _ := mustBuild(t, "", "num.partitions= 3", "auto.create.topics.enable=TRUE", "node.id=4", "log.cleanup.policy=compact , delete")
	tests := []struct {
		name   string
		value  string
		source Source
		ok     bool
	}{
		{"num.partitions", "3", SourceStaticBroker, true},
		{"auto.create.topics.enable", "true", SourceStaticBroker, true},
		{"node.id", "4", SourceStaticBroker, true},
		{"broker.id", "4", SourceStaticBroker, true},
		{"log.cleanup.policy", "compact,delete", SourceStaticBroker, true},
		{"log.retention.hours", "168", SourceDefault, true},
		{"log.retention.ms", "", SourceDefault, true},
		{"listeners", "PLAINTEXT://localhost:9092", SourceDefault, true},
		{"log.dir", "./samsa-data", SourceDefault, true},
		{"message.max.bytes", "1048588", SourceDefault, true},
		{"zookeeper.connect", "", SourceUnknown, false},
		{"num.network.threads", "", SourceUnknown, false},
		{"nonsense", "", SourceUnknown, false},
	}
	for _, tt := range tests {
		v, s, ok := c.BrokerValue(tt.name)
		if v != tt.value || s != tt.source || ok != tt.ok {
			t.Errorf("BrokerValue(%s) = %q %v %v, want %q %v %v", tt.name, v, s, ok, tt.value, tt.source, tt.ok)
		}
	}
	if v, s, _ := Default().BrokerValue("broker.id"); v != "0" || s != SourceDefault {
		t.Errorf("default broker.id = %q %v", v, s)
	}
}
