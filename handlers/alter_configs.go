package handlers

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/config"
)

// configTypeList is Kafka's config_type for comma-separated lists, the only
// type APPEND and SUBTRACT apply to.
const configTypeList = 7

// configChange is one requested change to a topic's overrides.
type configChange struct {
	name  string
	op    kmsg.IncrementalAlterConfigOp
	value *string
}

// alterTopicConfigs applies changes to a topic's overrides, validates the
// result and stores it unless validateOnly. replace drops every override
// not named in changes first (the legacy AlterConfigs semantics).
func (h *Handlers) alterTopicConfigs(ctx context.Context, topic string, changes []configChange, replace, validateOnly bool) error {
	// Read-modify-write of the overrides: two concurrent alters of one
	// topic must not lose each other's changes.
	h.alterMu.Lock()
	defer h.alterMu.Unlock()
	t, ok := h.Controller.Topic(topic)
	if !ok {
		// Kafka validates the configs before it looks for the topic
		// (measured, Kafka 4.3.1: a bad value for an unknown topic is
		// INVALID_CONFIG, a good one UNKNOWN_TOPIC_OR_PARTITION).
		if err := h.validateChanges(changes); err != nil {
			return err
		}
		return fmt.Errorf("topic %s does not exist: %w", topic, kerr.UnknownTopicOrPartition)
	}
	cur := t.Configs
	if zc, ok := h.Controller.(zkConfigReader); ok && !replace {
		// Kafka's ZkAdminManager reads the overrides from ZooKeeper:
		// this broker's copy may not have a change another broker has
		// just made (its notification is on the way), which writing
		// back the copy would undo.
		fresh, err := zc.TopicConfigFromZooKeeper(topic)
		if err != nil {
			return err
		}
		cur = fresh
	}
	next := make(map[string]string, len(cur))
	if !replace {
		for k, v := range cur {
			next[k] = v
		}
	}
	seen := make(map[string]bool, len(changes))
	for _, c := range changes {
		if seen[c.name] {
			return fmt.Errorf("config %s given twice: %w", c.name, kerr.InvalidRequest)
		}
		seen[c.name] = true
		def, known := h.lookupTopicConfig(c.name)
		if !known {
			if c.op == kmsg.IncrementalAlterConfigOpDelete {
				continue // deleting a config that cannot be set is a no-op in Kafka
			}
			return fmt.Errorf("unknown topic config %s: %w", c.name, kerr.InvalidConfig)
		}
		switch c.op {
		case kmsg.IncrementalAlterConfigOpSet:
			if c.value == nil {
				return fmt.Errorf("null value not supported for %s: %w", c.name, kerr.InvalidRequest)
			}
			next[c.name] = *c.value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(next, c.name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if int8(def.Type) != configTypeList {
				return fmt.Errorf("config %s is not a list; append and subtract apply to lists only: %w", c.name, kerr.InvalidConfig)
			}
			cur, ok := next[c.name]
			if !ok {
				cur, _, _ = h.cfg().TopicDefault(c.name)
			}
			var arg string
			if c.value != nil {
				arg = *c.value
			}
			next[c.name] = editList(cur, arg, c.op == kmsg.IncrementalAlterConfigOpAppend)
		default:
			return fmt.Errorf("unknown config operation %d: %w", c.op, kerr.InvalidRequest)
		}
	}
	next, err := h.normalizeTopicConfigs(next)
	if err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	if err := h.Controller.SetTopicConfigs(ctx, topic, next); err != nil {
		return err
	}
	h.applyTopicConfig(topic)
	h.warnUnapplied(topic, next)
	return nil
}

// validateChanges checks the values a change sets on their own, as if
// they were a topic's whole set of overrides.
func (h *Handlers) validateChanges(changes []configChange) error {
	set := make(map[string]string, len(changes))
	for _, c := range changes {
		def, known := h.lookupTopicConfig(c.name)
		switch {
		case !known && c.op != kmsg.IncrementalAlterConfigOpDelete:
			return fmt.Errorf("unknown topic config %s: %w", c.name, kerr.InvalidConfig)
		case !known:
		case (c.op == kmsg.IncrementalAlterConfigOpAppend || c.op == kmsg.IncrementalAlterConfigOpSubtract) && int8(def.Type) != configTypeList:
			return fmt.Errorf("config %s is not a list; append and subtract apply to lists only: %w", c.name, kerr.InvalidConfig)
		case c.op == kmsg.IncrementalAlterConfigOpSet && c.value != nil:
			set[c.name] = *c.value
		}
	}
	_, err := h.normalizeTopicConfigs(set)
	return err
}

// editList appends the items of arg missing from the comma-separated list
// cur, or removes them from it.
func editList(cur, arg string, add bool) string {
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	items := split(cur)
	for _, a := range split(arg) {
		idx := -1
		for i, it := range items {
			if it == a {
				idx = i
				break
			}
		}
		switch {
		case add && idx < 0:
			items = append(items, a)
		case !add && idx >= 0:
			items = append(items[:idx], items[idx+1:]...)
		}
	}
	return strings.Join(items, ",")
}

// alterResource routes a config change to its resource. Broker configs are
// static (read from server.properties) except, in a ZooKeeper cluster,
// the replication throttles and topic defaults alterBrokerConfigs takes;
// changing others is refused with a message saying so.
func (h *Handlers) alterResource(ctx context.Context, typ kmsg.ConfigResourceType, name string, changes []configChange, replace, validateOnly bool) error {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		return h.alterTopicConfigs(ctx, name, changes, replace, validateOnly)
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		if name != "" {
			if err := h.checkBrokerResource(name); err != nil {
				return err
			}
		}
		if dyn, ok := h.Controller.(DynamicBrokerConfigs); ok && typ == kmsg.ConfigResourceTypeBroker {
			return h.alterBrokerConfigs(ctx, dyn, name, changes, replace, validateOnly)
		}
		return fmt.Errorf("samsa does not support dynamic broker configs; set them in server.properties: %w", kerr.InvalidConfig)
	default:
		return fmt.Errorf("unsupported resource type %d: %w", typ, kerr.InvalidRequest)
	}
}

// zkConfigReader reads config overrides from ZooKeeper itself rather than
// from the broker's copy (controller.ZK), for the read-modify-write of
// IncrementalAlterConfigs as Kafka's ZkAdminManager does it
// (AdminZkClient.fetchEntityConfig). Errors are ZooKeeper's, wrapped.
type zkConfigReader interface {
	TopicConfigFromZooKeeper(name string) (map[string]string, error)
	BrokerConfigsFromZooKeeper(entity string) (map[string]string, error)
}

// DynamicBrokerConfigs is what a controller offers when brokers have
// dynamic configs: ZooKeeper mode's /config/brokers/<id> and
// /config/brokers/<default> (controller.ZK).
type DynamicBrokerConfigs interface {
	BrokerConfigs(entity string) map[string]string
	SetBrokerConfigs(ctx context.Context, entity string, configs map[string]string) error
}

// brokerDefaultEntity is the entity of an empty broker resource name:
// the cluster-wide dynamic defaults.
const brokerDefaultEntity = "<default>"

// dynamicBrokerKeys are the broker configs Samsa lets change at run time:
// the replication throttles of KIP-73 (Kafka's DynamicConfig.Broker:
// LONG, at least 0, default Long.MAX_VALUE), and replica.alter.log.dirs.io
// .max.bytes.per.second, the throttle of moves between a broker's log
// dirs (kafka-reassign-partitions --replica-alter-log-dirs-throttle sets
// and clears it).
var dynamicBrokerKeys = map[string]string{
	"leader.replication.throttled.rate":              "A long representing the upper bound (bytes/sec) on replication traffic for leaders enumerated in the property leader.replication.throttled.replicas (for each topic).",
	"follower.replication.throttled.rate":            "A long representing the upper bound (bytes/sec) on replication traffic for followers enumerated in the property follower.replication.throttled.replicas (for each topic).",
	"replica.alter.log.dirs.io.max.bytes.per.second": "A long representing the upper bound (bytes/sec) on disk IO used for moving replica between log directories on the same broker.",
}

// alterBrokerConfigs changes a broker entity's dynamic configs
// (ZkAdminManager.alterBrokerConfigs): dynamicBrokerKeys, each a long >= 0,
// and the topic defaults of Kafka's DynamicLogConfig (config.IsDynamicLogKey,
// validated as in server.properties and as a whole); INVALID_CONFIG for
// anything else. replace (legacy AlterConfigs) drops the ones not named.
func (h *Handlers) alterBrokerConfigs(ctx context.Context, dyn DynamicBrokerConfigs, name string, changes []configChange, replace, validateOnly bool) error {
	h.alterMu.Lock()
	defer h.alterMu.Unlock()
	entity := name
	if entity == "" {
		entity = brokerDefaultEntity
	}
	next := map[string]string{}
	if !replace {
		next = dyn.BrokerConfigs(entity)
		if zc, ok := dyn.(zkConfigReader); ok {
			// As for topics: ZooKeeper's, not this broker's copy.
			fresh, err := zc.BrokerConfigsFromZooKeeper(entity)
			if err != nil {
				return err
			}
			next = fresh
		}
		if next == nil {
			next = map[string]string{}
		}
	}
	seen := map[string]bool{}
	for _, c := range changes {
		if seen[c.name] {
			return fmt.Errorf("config %s given twice: %w", c.name, kerr.InvalidRequest)
		}
		seen[c.name] = true
		if _, ok := dynamicBrokerKeys[c.name]; !ok {
			if !config.IsDynamicLogKey(c.name) {
				return fmt.Errorf("samsa does not support changing broker config %s dynamically; set it in server.properties: %w", c.name, kerr.InvalidConfig)
			}
			if err := setDynamicLogKey(next, c); err != nil {
				return err
			}
			continue
		}
		switch c.op {
		case kmsg.IncrementalAlterConfigOpSet:
			if c.value == nil {
				return fmt.Errorf("null value not supported for %s: %w", c.name, kerr.InvalidRequest)
			}
			v, err := strconv.ParseInt(strings.TrimSpace(*c.value), 10, 64)
			if err != nil {
				return fmt.Errorf("Invalid value %s for configuration %s: Not a number of type LONG: %w", *c.value, c.name, kerr.InvalidConfig)
			}
			if v < 0 {
				return fmt.Errorf("Invalid value %d for configuration %s: Value must be at least 0: %w", v, c.name, kerr.InvalidConfig)
			}
			next[c.name] = strconv.FormatInt(v, 10)
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(next, c.name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			return fmt.Errorf("config %s is not a list; append and subtract apply to lists only: %w", c.name, kerr.InvalidConfig)
		default:
			return fmt.Errorf("unknown config operation %d: %w", c.op, kerr.InvalidRequest)
		}
	}
	// The topic defaults must still make a valid topic config together
	// (Kafka's DynamicLogConfig.validateReconfiguration).
	own, def := dyn.BrokerConfigs(strconv.Itoa(int(h.Config.BrokerID))), dyn.BrokerConfigs(brokerDefaultEntity)
	if entity == brokerDefaultEntity {
		def = next
	} else {
		own = next
	}
	if _, ignored := h.Config.WithDynamic(own, def); len(ignored) == 1 && strings.HasPrefix(ignored[0], "every dynamic broker config: ") {
		return fmt.Errorf("%s: %w", strings.TrimPrefix(ignored[0], "every dynamic broker config: "), kerr.InvalidConfig)
	}
	if validateOnly {
		return nil
	}
	return dyn.SetBrokerConfigs(ctx, entity, next)
}

// setDynamicLogKey applies one change of a topic default (a dynamic log
// key, Kafka's DynamicLogConfig) to a dynamic broker config map: set
// validates the value with the key's server.properties rules.
func setDynamicLogKey(next map[string]string, c configChange) error {
	switch c.op {
	case kmsg.IncrementalAlterConfigOpSet:
		if c.value == nil {
			return fmt.Errorf("null value not supported for %s: %w", c.name, kerr.InvalidRequest)
		}
		v, err := config.CheckDynamicLogValue(c.name, *c.value)
		if err != nil {
			return fmt.Errorf("Invalid value %s for configuration %s: %v: %w", *c.value, c.name, err, kerr.InvalidConfig)
		}
		next[c.name] = v
	case kmsg.IncrementalAlterConfigOpDelete:
		delete(next, c.name)
	case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
		return fmt.Errorf("append and subtract of broker config %s are not supported; set the whole value: %w", c.name, kerr.InvalidConfig)
	default:
		return fmt.Errorf("unknown config operation %d: %w", c.op, kerr.InvalidRequest)
	}
	return nil
}

// dynamicBrokerConfigs describes the dynamic configs set for broker
// resource name ("" for the cluster default): per broker, the broker's
// own (DYNAMIC_BROKER_CONFIG) or else the default's
// (DYNAMIC_DEFAULT_BROKER_CONFIG), with both as synonyms.
func (h *Handlers) dynamicBrokerConfigs(name string) []describedConfig {
	dyn, ok := h.Controller.(DynamicBrokerConfigs)
	if !ok {
		return nil
	}
	def := dyn.BrokerConfigs(brokerDefaultEntity)
	var own map[string]string
	if name != "" {
		own = dyn.BrokerConfigs(name)
	}
	var out []describedConfig
	if name == "" {
		// The cluster default's topic defaults; this broker's resource
		// describes them with its other keys (brokerConfigs).
		out = dynamicLogConfigs(def, config.SourceDynamicDefaultBroker)
	}
	for _, k := range sortedConfigKeys(dynamicBrokerKeys) {
		dc := describedConfig{name: k, typ: int8(config.TypeLong), doc: dynamicBrokerKeys[k]}
		if v, ok := own[k]; ok {
			dc.synonyms = append(dc.synonyms, config.Synonym{Name: k, Value: v, Source: config.SourceDynamicBroker})
		}
		if v, ok := def[k]; ok {
			dc.synonyms = append(dc.synonyms, config.Synonym{Name: k, Value: v, Source: config.SourceDynamicDefaultBroker})
		}
		if len(dc.synonyms) == 0 {
			continue
		}
		v := dc.synonyms[0].Value
		dc.value, dc.source = &v, int8(dc.synonyms[0].Source)
		out = append(out, dc)
	}
	return out
}

func sortedConfigKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
