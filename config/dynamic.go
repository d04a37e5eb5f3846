package config

import (
	"maps"
	"sort"
)

// dynamicLogKeys are the broker keys a dynamic broker config may set to
// change the defaults of topic configs: every broker key of a topic
// config's synonym chain (Kafka's DynamicLogConfig.ReconfigurableConfigs,
// ServerTopicConfigSynonyms' broker names; message.format.version, the one
// Kafka leaves out, is not a Samsa topic config).
var dynamicLogKeys = func() map[string]bool {
	m := map[string]bool{}
	for i := range topicConfigDefs {
		for _, s := range topicConfigDefs[i].chain {
			m[s.name] = true
		}
	}
	return m
}()

// IsDynamicLogKey reports whether broker key name is one of the topic
// config defaults a dynamic broker config (KIP-226: /config/brokers/<id>
// or /config/brokers/<default> in ZooKeeper mode) may change at run time,
// as Kafka's DynamicLogConfig allows: log.retention.ms,
// message.max.bytes, min.insync.replicas and the others whose topic
// config has a broker synonym.
func IsDynamicLogKey(name string) bool { return dynamicLogKeys[name] }

// CheckDynamicLogValue validates value for dynamic log key name with the
// key's own rules (the same as in server.properties) and returns it in
// canonical form. Errors say why the value is refused.
func CheckDynamicLogValue(name, value string) (string, error) {
	return samsaKeyIndex[name].v.check(value)
}

// WithDynamic returns a copy of c in which the dynamic broker configs
// perBroker (this broker's /config/brokers/<id>) and clusterDefault
// (/config/brokers/<default>) supply topic config defaults as Kafka's
// DynamicBrokerConfig merges them: a per-broker value wins over the
// cluster default, which wins over server.properties; within a synonym
// chain the first key set at any level wins (so a static log.retention.ms
// still beats a dynamic log.retention.hours, as in Kafka). TopicDefault
// on the copy reports the dynamic values with sources
// DYNAMIC_BROKER_CONFIG / DYNAMIC_DEFAULT_BROKER_CONFIG and lists them as
// synonyms first (ConfigHelper.configSynonyms).
//
// Keys that are not dynamic log keys, and values that do not validate,
// are left out and returned in ignored ("<key>=<value>", sorted) for the
// caller to log: Kafka's DynamicBrokerConfig skips invalid dynamic
// values the same way. If the merged values give an invalid combination
// (min.compaction.lag.ms above max.compaction.lag.ms), the dynamic values
// are ignored altogether and c is returned with all of them in ignored.
func (c *Config) WithDynamic(perBroker, clusterDefault map[string]string) (d *Config, ignored []string) {
	static := c.Values
	if c.static != nil {
		static = c.static
	}
	keep := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			if !dynamicLogKeys[k] {
				ignored = append(ignored, k+"="+v)
				continue
			}
			if _, err := samsaKeyIndex[k].v.check(v); err != nil {
				ignored = append(ignored, k+"="+v)
				continue
			}
			out[k] = v
		}
		return out
	}
	cp := *c
	cp.static = static
	cp.dynBroker, cp.dynDefault = keep(perBroker), keep(clusterDefault)
	cp.Values = maps.Clone(static)
	maps.Copy(cp.Values, cp.dynDefault)
	maps.Copy(cp.Values, cp.dynBroker)
	sort.Strings(ignored)
	b := &builder{c: &cp, norm: map[string]string{}}
	if err := b.topicDefaults(); err != nil {
		return c, []string{"every dynamic broker config: " + err.Error()}
	}
	return &cp, ignored
}

// StaticValues are the keys of server.properties and the command line
// (Values without the dynamic broker configs WithDynamic merged in).
func (c *Config) StaticValues() map[string]string {
	if c.static != nil {
		return c.static
	}
	return c.Values
}

// DynamicValue is the dynamic broker config in force for broker key name,
// and its source (SourceDynamicBroker or SourceDynamicDefaultBroker); ok
// is false when neither sets it.
func (c *Config) DynamicValue(name string) (value string, source Source, ok bool) {
	if v, ok := c.dynBroker[name]; ok {
		return v, SourceDynamicBroker, true
	}
	if v, ok := c.dynDefault[name]; ok {
		return v, SourceDynamicDefaultBroker, true
	}
	return "", SourceUnknown, false
}
