package config

import (
	"fmt"
	"sort"
	"strings"
)

// LogFormatKey is the Samsa-only key choosing the format of the broker's
// own logs: "text" or "json" (log/slog's TextHandler or JSONHandler).
// Kafka configures its logging through log4j files instead; unset, the
// SAMSA_LOG_FORMAT environment variable decides, else text.
const LogFormatKey = "samsa.log.format"

// LogFormat is samsa.log.format as set, or "" when unset.
func (c *Config) LogFormat() string { return c.Values[LogFormatKey] }

// KeysHelp lists every broker key Samsa applies, sorted, each with its
// default and what it does, for samsa --help. Keys a server.properties
// may hold that Samsa does not apply are not listed (Samsa warns about
// each at start-up).
func KeysHelp() string {
	keys := make([]brokerKey, len(samsaBrokerKeys))
	copy(keys, samsaBrokerKeys)
	sort.Slice(keys, func(i, j int) bool { return keys[i].name < keys[j].name })
	var b strings.Builder
	b.WriteString("Broker configs Samsa applies (set in server.properties or with --override key=value):\n\n")
	for _, k := range keys {
		def := k.def
		switch {
		case k.null && def == "":
			def = "(none)"
		case def == "":
			def = `""`
		}
		fmt.Fprintf(&b, "  %s (default %s)\n      %s\n", k.name, def, k.doc)
	}
	b.WriteString("\nTopic configs are Kafka's (kafka-configs --entity-type topics); see README.md.\n")
	return b.String()
}
