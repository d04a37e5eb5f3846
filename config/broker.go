package config

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
)

// BrokerConfigDef describes a broker key Samsa reports when DescribeConfigs
// asks about a broker resource. Samsa reports the keys it implements
// rather than all of Kafka's, so that an operator is never shown a
// setting that has no effect.
type BrokerConfigDef struct {
	Name string
	Type ConfigType
	Doc  string
	// Sensitive values (passwords) are reported as null; no key Samsa
	// implements is sensitive today.
	Sensitive bool
	// ReadOnly is always true here: these come from server.properties.
	// In a ZooKeeper cluster DescribeConfigs reports the topic defaults
	// a dynamic broker config may change (IsDynamicLogKey) as not
	// read-only.
	ReadOnly bool
}

var brokerConfigDefs = func() []BrokerConfigDef {
	var out []BrokerConfigDef
	for _, k := range samsaBrokerKeys {
		if !k.hidden {
			out = append(out, BrokerConfigDef{Name: k.name, Type: k.v.typ, Doc: k.doc, Sensitive: k.v.typ == TypePassword, ReadOnly: true})
		}
	}
	slices.SortFunc(out, func(a, b BrokerConfigDef) int { return cmp.Compare(a.Name, b.Name) })
	return out
}()

// BrokerConfigDefs returns the broker keys Samsa reports in
// DescribeConfigs, sorted by name.
func BrokerConfigDefs() []BrokerConfigDef {
	return slices.Clone(brokerConfigDefs)
}

// BrokerValue returns a broker key's value as DescribeConfigs reports it:
// the user's value in Kafka's canonical form (trimmed, booleans lower
// case, numbers without sign or padding) with STATIC_BROKER_CONFIG, or
// Samsa's default with DEFAULT_CONFIG. An empty value with
// DEFAULT_CONFIG means the key has no default, which Kafka reports as a
// null value. As in Kafka, setting either broker.id or node.id sets both.
// ok is false for a name BrokerConfigDefs does not list. In a copy made
// by WithDynamic, a dynamic broker config of the key comes first (this
// broker's, then the cluster default's), as written, with its source.
func (c *Config) BrokerValue(name string) (value string, source Source, ok bool) {
	bk := samsaKeyIndex[name]
	if bk == nil || bk.hidden {
		return "", SourceUnknown, false
	}
	if name == "broker.id" || name == "node.id" {
		_, b := c.Values["broker.id"]
		_, n := c.Values["node.id"]
		source = SourceDefault
		if b || n {
			source = SourceStaticBroker
		}
		return strconv.Itoa(int(c.BrokerID)), source, true
	}
	if v, src, ok := c.DynamicValue(name); ok {
		return v, src, true
	}
	raw, set := c.StaticValues()[name]
	if !set {
		return bk.def, SourceDefault, true
	}
	v, err := bk.v.check(raw)
	if err != nil {
		v = javaTrim(raw)
	}
	return v, SourceStaticBroker, true
}

// BrokerSynonyms lists the synonyms DescribeConfigs reports for broker key
// name, as Kafka's ConfigHelper.configSynonyms builds them: over the
// key's synonym group (log.retention.ms, .minutes and .hours are one
// group; most keys are a group of one), first every key the user set in
// server.properties (STATIC_BROKER_CONFIG, the value as written), then
// every key with a default (DEFAULT_CONFIG), and finally every entry
// before the first one named name is dropped. So a key set by the user
// lists itself twice, static then default (measured, Kafka 4.3.1).
func (c *Config) BrokerSynonyms(name string) []Synonym {
	group := []string{name}
	for _, d := range topicIndex {
		if slices.ContainsFunc(d.chain, func(k synonymKey) bool { return k.name == name }) && len(d.chain) > 1 {
			group = group[:0]
			for _, k := range d.chain {
				group = append(group, k.name)
			}
			break
		}
	}
	var out []Synonym
	for _, level := range []struct {
		values map[string]string
		source Source
	}{{c.dynBroker, SourceDynamicBroker}, {c.dynDefault, SourceDynamicDefaultBroker}, {c.StaticValues(), SourceStaticBroker}} {
		for _, g := range group {
			if raw, set := level.values[g]; set {
				out = append(out, Synonym{Name: g, Value: raw, Source: level.source})
			}
		}
	}
	for _, g := range group {
		if bk := samsaKeyIndex[g]; bk != nil && !bk.null {
			out = append(out, Synonym{Name: g, Value: bk.def, Source: SourceDefault})
		}
	}
	if i := slices.IndexFunc(out, func(s Synonym) bool { return s.Name == name }); i >= 0 {
		return out[i:]
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
