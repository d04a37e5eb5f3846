package config

import (
	"slices"
	"strconv"
)

// TopicDefault resolves what a topic gets for config name when the topic
// itself does not set it, for DescribeConfigs: the value, its source, and
// the synonyms that could supply it, most-preferred first.
//
// The value comes from the first broker key of the synonym chain the user
// set (converted to the topic config's unit, e.g. log.retention.hours to
// ms), else from the chain's defaults, else from Kafka's built-in
// default. The source is STATIC_BROKER_CONFIG when the user set a chain
// key, DEFAULT_CONFIG otherwise. Synonyms are listed as Kafka's
// ConfigHelper lists them: the chain keys the user set, in chain order,
// with the values as written, then the chain keys that have a default,
// with that default; then, like Kafka, every synonym before the first one
// named like the chain's first key is dropped. So with nothing set,
// retention.ms lists no synonym (log.retention.ms has no default, and
// log.retention.hours' default is dropped), and when only
// log.retention.hours is set, retention.ms is reported with source
// DEFAULT_CONFIG and no synonyms while its value is the converted hours
// (measured against Kafka 4.3.1 by the conformance suite).
//
// In a copy made by WithDynamic the dynamic broker configs come first, as
// in Kafka's ConfigHelper: this broker's (DYNAMIC_BROKER_CONFIG), then the
// cluster default's (DYNAMIC_DEFAULT_BROKER_CONFIG), then the static
// ones, each level in chain order; the value is then the merged one.
//
// An unknown name returns ("", SourceUnknown, nil).
func (c *Config) TopicDefault(name string) (value string, source Source, synonyms []Synonym) {
	d, ok := topicIndex[name]
	if !ok {
		return "", SourceUnknown, nil
	}
	for _, level := range []struct {
		values map[string]string
		source Source
	}{{c.dynBroker, SourceDynamicBroker}, {c.dynDefault, SourceDynamicDefaultBroker}, {c.StaticValues(), SourceStaticBroker}} {
		for _, s := range d.chain {
			if raw, set := level.values[s.name]; set {
				synonyms = append(synonyms, Synonym{Name: s.name, Value: raw, Source: level.source})
			}
		}
	}
	for _, s := range d.chain {
		if bk := samsaKeyIndex[s.name]; !bk.null {
			synonyms = append(synonyms, Synonym{Name: s.name, Value: bk.def, Source: SourceDefault})
		}
	}
	if i := slices.IndexFunc(synonyms, func(s Synonym) bool { return s.Name == d.chain[0].name }); i >= 0 {
		synonyms = synonyms[i:]
	} else {
		synonyms = nil
	}
	source = SourceDefault
	if len(synonyms) > 0 {
		source = synonyms[0].Source
	}
	return c.topicDefaultValue(d), source, synonyms
}

// topicDefaultValue prefers the Config field when the topic default has
// one, so that a Config adjusted in code (tests do) reports what the
// broker actually uses.
func (c *Config) topicDefaultValue(d *TopicConfigDef) string {
	switch d.Name {
	case "retention.ms":
		return i64(c.LogRetentionMs)
	case "retention.bytes":
		return i64(c.LogRetentionBytes)
	case "segment.bytes":
		return i64(int64(c.LogSegmentBytes))
	case "segment.ms":
		return i64(c.LogRollMs)
	case "flush.messages":
		return i64(c.LogFlushIntervalMessages)
	case "flush.ms":
		return i64(c.LogFlushIntervalMs)
	case "max.message.bytes":
		return i64(int64(c.MessageMaxBytes))
	case "min.insync.replicas":
		return i64(int64(c.MinInsyncReplicas))
	}
	v, _, _ := c.chainValue(d)
	return v
}

// chainValue resolves d's value from broker keys: the first chain key the
// user set (from says which; set is true), else the first chain key with
// a default, else d.Default. Units are converted, and for retention.ms a
// negative value becomes -1 as in Kafka. A user value that does not
// validate (only possible if Values was edited after Load) is returned
// trimmed but otherwise as written.
func (c *Config) chainValue(d *TopicConfigDef) (value, from string, set bool) {
	value = d.Default
	i := slices.IndexFunc(d.chain, func(s synonymKey) bool { _, ok := c.Values[s.name]; return ok })
	if i >= 0 {
		s := d.chain[i]
		v, err := samsaKeyIndex[s.name].v.check(c.Values[s.name])
		if err != nil {
			return javaTrim(c.Values[s.name]), s.name, true
		}
		value, from, set = v, s.name, true
	} else if i = slices.IndexFunc(d.chain, func(s synonymKey) bool { return !samsaKeyIndex[s.name].null }); i >= 0 {
		value, from = samsaKeyIndex[d.chain[i].name].def, d.chain[i].name
	} else {
		return value, "", false
	}
	factor := d.chain[i].factor
	if factor == 1 && d.Name != "retention.ms" {
		return value, from, set
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return value, from, set
	}
	n *= factor
	if d.Name == "retention.ms" && n < 0 {
		n = -1
	}
	return i64(n), from, set
}
