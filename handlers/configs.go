package handlers

import (
	"slices"
	"strings"

	"samsa/config"
)

// describedConfig is one config entry as DescribeConfigs and CreateTopics
// (v5+) report it.
type describedConfig struct {
	name      string
	value     *string
	readOnly  bool
	source    int8
	sensitive bool
	synonyms  []config.Synonym
	typ       int8
	doc       string
}

// topicConfigs describes every topic config Kafka defines for a topic with
// the given overrides: the override where the user set one (source
// DYNAMIC_TOPIC_CONFIG), else the default this broker's configuration
// gives. Synonyms are listed in Kafka's order: the topic override first,
// then the broker keys that would supply the default.
func (h *Handlers) topicConfigs(overrides map[string]string) []describedConfig {
	defs := config.TopicConfigDefs()
	out := make([]describedConfig, 0, len(defs))
	for _, d := range defs {
		value, source, synonyms := h.cfg().TopicDefault(d.Name)
		dc := describedConfig{name: d.Name, typ: int8(d.Type), doc: d.Doc, source: int8(source)}
		if v, ok := overrides[d.Name]; ok {
			value, dc.source = v, int8(config.SourceDynamicTopic)
			synonyms = append([]config.Synonym{{Name: d.Name, Value: v, Source: config.SourceDynamicTopic}}, synonyms...)
		}
		dc.value, dc.synonyms = &value, synonyms
		out = append(out, dc)
	}
	if h.Cluster == nil {
		return out
	}
	// A Kafka 3.9 broker describes the configs Kafka 4 removed too.
	for _, d := range config.LegacyTopicConfigDefs() {
		value := d.Default
		dc := describedConfig{name: d.Name, typ: int8(d.Type), doc: d.Doc, source: int8(config.SourceDefault),
			synonyms: []config.Synonym{{Name: d.BrokerSynonym, Value: d.Default, Source: config.SourceDefault}}}
		if v, ok := overrides[d.Name]; ok {
			value, dc.source = v, int8(config.SourceDynamicTopic)
			dc.synonyms = append([]config.Synonym{{Name: d.Name, Value: v, Source: config.SourceDynamicTopic}}, dc.synonyms...)
		}
		dc.value = &value
		out = append(out, dc)
	}
	slices.SortStableFunc(out, func(a, b describedConfig) int { return strings.Compare(a.name, b.name) })
	return out
}

// brokerConfigs describes the broker keys Samsa reports for its own broker
// resource: static configuration, read-only except for the topic defaults
// a dynamic broker config may change in a ZooKeeper cluster, which are
// reported with their dynamic value and source when one is set.
func (h *Handlers) brokerConfigs() []describedConfig {
	defs := config.BrokerConfigDefs()
	out := make([]describedConfig, 0, len(defs))
	c := h.cfg()
	_, dynamic := h.Controller.(DynamicBrokerConfigs)
	for _, d := range defs {
		value, source, ok := c.BrokerValue(d.Name)
		dc := describedConfig{name: d.Name, readOnly: !dynamic || !config.IsDynamicLogKey(d.Name), source: int8(source), sensitive: d.Sensitive, typ: int8(d.Type), doc: d.Doc}
		if ok && !d.Sensitive {
			dc.value = &value
			dc.synonyms = c.BrokerSynonyms(d.Name)
		}
		out = append(out, dc)
	}
	return out
}
