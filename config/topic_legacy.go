package config

import (
	"fmt"
	"regexp"
	"strings"
)

// legacyTopicConfigDefs are the topic configs Kafka 3.9 still defines and
// Kafka 4 removed (KIP-724: message.format.version and
// message.downconversion.enable; KIP-937: message.timestamp.difference
// .max.ms), with Kafka 3.9's LogConfig types and defaults. In a ZooKeeper
// cluster, which Kafka 3.9 brokers may share, Samsa stores and describes
// them like any other topic config, so that an override a Kafka 3.9
// broker wrote to /config/topics survives an IncrementalAlterConfigs
// through Samsa and shows in its DescribeConfigs. Samsa serves no
// down-conversion and writes only the current record format, as a Kafka
// 3.9 broker with inter.broker.protocol.version 3.0 or later does
// whatever these say; message.timestamp.difference.max.ms is applied as
// Kafka 3.9 applies it (a fallback for message.timestamp.before.max.ms
// and .after.max.ms, see LegacyTimestampDifference).
var legacyTopicConfigDefs = []TopicConfigDef{
	{Name: "message.downconversion.enable", Type: TypeBoolean, Default: "true", BrokerSynonym: "log.message.downconversion.enable",
		v: boolean(), Doc: "Kafka 3.9: whether the broker down-converts records for old fetch versions. Stored and described only; Samsa serves no fetch version that needs it."},
	{Name: "message.format.version", Type: TypeString, Default: "3.0-IV1", BrokerSynonym: "log.message.format.version",
		v: validator{typ: TypeString, valid: "[0.8.0, ..., 3.9-IV0]"}, Doc: "Kafka 3.9: the record format version the broker writes; ignored, as by Kafka 3.9 with inter.broker.protocol.version 3.0 or later."},
	{Name: "message.timestamp.difference.max.ms", Type: TypeLong, Default: "9223372036854775807", BrokerSynonym: "log.message.timestamp.difference.max.ms",
		v: longAtLeast(0), Doc: "Kafka 3.9 (deprecated): the largest difference allowed between a record's timestamp and the broker's clock, used where message.timestamp.before.max.ms or .after.max.ms is not set."},
}

// metadataVersion is the shape of a Kafka MetadataVersion string
// (MetadataVersionValidator): "0.10.2", "2.8", "3.0-IV1".
var metadataVersion = regexp.MustCompile(`^\d+\.\d+(\.\d+)?(-IV\d+)?$`)

// LookupLegacyTopicConfig finds a Kafka 3.9 topic config that Kafka 4
// removed (see legacyTopicConfigDefs).
func LookupLegacyTopicConfig(name string) (TopicConfigDef, bool) {
	for _, d := range legacyTopicConfigDefs {
		if d.Name == name {
			return d, true
		}
	}
	return TopicConfigDef{}, false
}

// LegacyTopicConfigDefs returns the Kafka 3.9 topic configs Kafka 4
// removed, sorted by name.
func LegacyTopicConfigDefs() []TopicConfigDef {
	return append([]TopicConfigDef(nil), legacyTopicConfigDefs...)
}

// NormalizeLegacyTopicConfig validates a value of a Kafka 3.9-only topic
// config as Kafka 3.9's LogConfig does and returns it as Kafka stores it.
// A bad value is a *ValueError; a name that is no such config wraps
// ErrUnknownTopicConfig.
func NormalizeLegacyTopicConfig(name, value string) (string, error) {
	d, ok := LookupLegacyTopicConfig(name)
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrUnknownTopicConfig, name)
	}
	v, err := d.v.check(value)
	if err == nil && name == "message.format.version" && !metadataVersion.MatchString(v) {
		err = fmt.Errorf("unknown metadata version %q", strings.TrimSpace(value))
	}
	if err != nil {
		return "", &ValueError{Key: name, Value: value, Reason: err.Error()}
	}
	return v, nil
}
