package handlers

import (
	"context"
	"fmt"
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
	next := make(map[string]string, len(t.Configs))
	if !replace {
		for k, v := range t.Configs {
			next[k] = v
		}
	}
	seen := make(map[string]bool, len(changes))
	for _, c := range changes {
		if seen[c.name] {
			return fmt.Errorf("config %s given twice: %w", c.name, kerr.InvalidRequest)
		}
		seen[c.name] = true
		def, known := config.LookupTopicConfig(c.name)
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
				cur, _, _ = h.Config.TopicDefault(c.name)
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
		def, known := config.LookupTopicConfig(c.name)
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
// static in Samsa (read from server.properties), so changing them is
// refused with a message saying so.
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
		return fmt.Errorf("samsa does not support dynamic broker configs; set them in server.properties: %w", kerr.InvalidConfig)
	default:
		return fmt.Errorf("unsupported resource type %d: %w", typ, kerr.InvalidRequest)
	}
}
