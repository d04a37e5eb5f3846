package config

import "fmt"

// ConfigType is the type of a configuration entry, numbered exactly like
// the config_type field of Kafka's DescribeConfigs response (and like
// kmsg.ConfigType), so a handler can put it on the wire with a plain
// conversion.
type ConfigType int8

// The config types, with Kafka's numbers.
const (
	TypeUnknown  ConfigType = 0
	TypeBoolean  ConfigType = 1
	TypeString   ConfigType = 2
	TypeInt      ConfigType = 3
	TypeShort    ConfigType = 4
	TypeLong     ConfigType = 5
	TypeDouble   ConfigType = 6
	TypeList     ConfigType = 7
	TypeClass    ConfigType = 8
	TypePassword ConfigType = 9
)

var typeNames = [...]string{"UNKNOWN", "BOOLEAN", "STRING", "INT", "SHORT", "LONG", "DOUBLE", "LIST", "CLASS", "PASSWORD"}

// String returns Kafka's upper-case name of the type, as it appears in
// Kafka's own error messages and documentation.
func (t ConfigType) String() string {
	if t >= 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("ConfigType(%d)", int8(t))
}

// Source says where a configuration value came from, numbered exactly like
// the config_source field of Kafka's DescribeConfigs response (and like
// kmsg.ConfigSource). Samsa has no dynamic broker configuration, so only
// SourceDynamicTopic, SourceStaticBroker and SourceDefault are produced by
// this package; the other Kafka values are defined so that callers can
// name them.
type Source int8

// The config sources, with Kafka's numbers.
const (
	SourceUnknown              Source = 0
	SourceDynamicTopic         Source = 1 // a per-topic override (Kafka's TOPIC_CONFIG / DYNAMIC_TOPIC_CONFIG)
	SourceDynamicBroker        Source = 2
	SourceDynamicDefaultBroker Source = 3
	SourceStaticBroker         Source = 4 // set in server.properties or with --override
	SourceDefault              Source = 5 // nobody set it: the built-in default
	SourceDynamicBrokerLogger  Source = 6
)

var sourceNames = [...]string{"UNKNOWN", "DYNAMIC_TOPIC_CONFIG", "DYNAMIC_BROKER_CONFIG", "DYNAMIC_DEFAULT_BROKER_CONFIG",
	"STATIC_BROKER_CONFIG", "DEFAULT_CONFIG", "DYNAMIC_BROKER_LOGGER_CONFIG"}

// String returns the name Kafka's admin client uses for the source, which
// is what kafka-configs.sh prints next to each synonym.
func (s Source) String() string {
	if s >= 0 && int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return fmt.Sprintf("Source(%d)", int8(s))
}

// Synonym is one entry of a DescribeConfigs synonym list: a key that could
// supply the value, the value it has there, and where it was set. Kafka
// lists synonyms most-preferred first, so the first one is the one in
// effect.
type Synonym struct {
	Name   string
	Value  string
	Source Source
}

// ValueError reports a configuration value Samsa cannot accept. It names
// the key and the offending value so that the operator can find the line
// to fix; Reason says what is wrong in a few words.
type ValueError struct {
	Key    string
	Value  string
	Reason string
}

// Error renders the problem on one line (the value is quoted, so a value
// containing a newline cannot break the line).
func (e *ValueError) Error() string {
	return fmt.Sprintf("invalid value %q for %s: %s", e.Value, e.Key, e.Reason)
}
