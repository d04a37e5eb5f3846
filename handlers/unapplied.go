package handlers

import (
	"sort"
	"strings"
)

// unappliedTopicConfigs are topic configs Samsa accepts, validates, stores
// and describes (so that Kafka's tools and clients that set them work) but
// does not act on, with the reason. Setting one logs a warning naming it
// (warnUnapplied); README's configuration section lists them too.
var unappliedTopicConfigs = map[string]string{
	"file.delete.delay.ms":                    "segments are deleted at once, once no reader holds them",
	"index.interval.bytes":                    "the offset and time index is a Pebble database with one entry per batch",
	"segment.index.bytes":                     "the offset and time index is a Pebble database, not per-segment index files",
	"segment.jitter.ms":                       "segments roll at segment.ms exactly",
	"preallocate":                             "segment files are not preallocated",
	"follower.replication.throttled.replicas": "replication is not implemented (single node)",
	"leader.replication.throttled.replicas":   "replication is not implemented (single node)",
	"unclean.leader.election.enable":          "leader election is not implemented (single node)",
	"local.retention.bytes":                   "tiered storage is not implemented",
	"local.retention.ms":                      "tiered storage is not implemented",
	"remote.storage.enable":                   "tiered storage is not implemented",
	"remote.log.copy.disable":                 "tiered storage is not implemented",
	"remote.log.delete.on.disable":            "tiered storage is not implemented",
}

// warnUnapplied logs one warning per config of configs that Samsa stores
// but does not apply.
func (h *Handlers) warnUnapplied(topic string, configs map[string]string) {
	keys := make([]string, 0, len(configs))
	for k := range configs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if why, ok := unappliedTopicConfigs[k]; ok {
			h.Logger.Warn("topic config accepted but not applied", "topic", topic, "config", k, "value", configs[k], "reason", why)
		}
	}
}

// compactOnly reports whether cleanup.policy lists compact without delete:
// Kafka then deletes no segment for time or size.
func compactOnly(policy string) bool {
	compact, del := false, false
	for _, p := range strings.Split(policy, ",") {
		switch strings.TrimSpace(p) {
		case "compact":
			compact = true
		case "delete":
			del = true
		}
	}
	return compact && !del
}
