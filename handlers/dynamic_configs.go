package handlers

import (
	"strconv"
	"strings"

	"samsa/config"
	"samsa/controller"
)

// cfg is the configuration that topic defaults and this broker's
// described configs come from: Config with the dynamic broker configs
// merged in (ApplyConfigChanges), or Config itself before the first
// merge and without dynamic broker configs (a single node).
func (h *Handlers) cfg() *config.Config {
	if c := h.dynConfig.Load(); c != nil {
		return c
	}
	return h.Config
}

// RefreshDynamicConfigs merges the controller's dynamic broker configs
// of this broker (/config/brokers/<id>) and the cluster default
// (/config/brokers/<default>) into the topic defaults, as Kafka's
// DynamicBrokerConfig does for DynamicLogConfig (KIP-226): a Kafka 3.9
// broker, or another Samsa broker, that sets log.retention.ms,
// message.max.bytes, min.insync.replicas or another topic default for
// the cluster changes it on every broker. Keys Samsa does not apply at
// run time (log.cleaner.threads, say) are logged once each time the set
// of them changes. Cached produce settings are dropped so that the next
// produce resolves them again. A no-op without dynamic broker configs.
func (h *Handlers) RefreshDynamicConfigs() {
	dyn, ok := h.Controller.(DynamicBrokerConfigs)
	if !ok {
		return
	}
	h.dynMu.Lock()
	defer h.dynMu.Unlock()
	own := dyn.BrokerConfigs(strconv.Itoa(int(h.Config.BrokerID)))
	def := dyn.BrokerConfigs(brokerDefaultEntity)
	// The replication throttles are applied by the replica manager.
	for k := range dynamicBrokerKeys {
		delete(own, k)
		delete(def, k)
	}
	c, ignored := h.Config.WithDynamic(own, def)
	h.dynConfig.Store(c)
	h.produceSettings.Clear()
	if s := strings.Join(ignored, ", "); s != h.dynIgnored {
		h.dynIgnored = s
		if s != "" {
			h.Logger.Warn("ignoring dynamic broker configs Samsa does not apply at run time (set them in server.properties)", "configs", s)
		}
	}
}

// ApplyConfigChanges is RefreshDynamicConfigs followed by pushing every
// topic's resolved log settings to its open partitions: the controller
// calls it after each topic or dynamic broker config change it reads
// from ZooKeeper, whichever broker made it (Kafka's TopicConfigHandler
// and BrokerConfigHandler run on every broker from the change
// notification). Safe to call from several goroutines; the last call
// leaves the newest settings.
func (h *Handlers) ApplyConfigChanges() {
	h.applyMu.Lock()
	defer h.applyMu.Unlock()
	h.RefreshDynamicConfigs()
	if h.Logs == nil {
		return
	}
	for _, t := range h.Controller.Topics() {
		h.applyPartitionConfig(t)
	}
}

// applyPartitionConfig pushes t's resolved log settings to its open
// partitions.
func (h *Handlers) applyPartitionConfig(t controller.Topic) {
	cfg := h.partitionConfig(t)
	for _, p := range t.Partitions {
		if lp, ok := h.Logs.Partition(t.Name, p.Index); ok {
			lp.SetConfig(cfg)
		}
	}
}

// dynamicLogConfigs describes the topic defaults set in a dynamic broker
// config map (the cluster default's, for DescribeConfigs of the broker
// resource ""), with source.
func dynamicLogConfigs(m map[string]string, source config.Source) []describedConfig {
	defs := map[string]config.BrokerConfigDef{}
	for _, d := range config.BrokerConfigDefs() {
		defs[d.Name] = d
	}
	var out []describedConfig
	for _, k := range sortedConfigKeys(m) {
		if !config.IsDynamicLogKey(k) {
			continue
		}
		v := m[k]
		d := defs[k]
		out = append(out, describedConfig{name: k, value: &v, source: int8(source), typ: int8(d.Type), doc: d.Doc,
			synonyms: []config.Synonym{{Name: k, Value: v, Source: source}}})
	}
	return out
}
