package handlers

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// DescribeConfigs v1-v4 (Kafka 4.x removed v0, KIP-896), for topics and
// this broker.
func init() { register(1, 4, (*Handlers).describeConfigs) }

func (h *Handlers) describeConfigs(_ context.Context, _ *protocol.Request, req *kmsg.DescribeConfigsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		configs, err := h.describeResource(rr)
		if err != nil {
			res.ErrorCode, res.ErrorMessage = errCode(err), errMessage(err)
			resp.Resources = append(resp.Resources, res)
			continue
		}
		var wanted map[string]bool
		if rr.ConfigNames != nil {
			wanted = make(map[string]bool, len(rr.ConfigNames))
			for _, n := range rr.ConfigNames {
				wanted[n] = true
			}
		}
		res.Configs = []kmsg.DescribeConfigsResponseResourceConfig{}
		for _, c := range configs {
			if wanted != nil && !wanted[c.name] {
				continue
			}
			rc := kmsg.NewDescribeConfigsResponseResourceConfig()
			rc.Name, rc.Value, rc.ReadOnly, rc.IsSensitive = c.name, c.value, c.readOnly, c.sensitive
			rc.Source, rc.ConfigType = kmsg.ConfigSource(c.source), kmsg.ConfigType(c.typ)
			// v0 has is_default instead of a source.
			rc.IsDefault = c.source == int8(kmsg.ConfigSourceDefaultConfig)
			if req.IncludeSynonyms {
				rc.ConfigSynonyms = []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{}
				for _, s := range c.synonyms {
					rs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					v := s.Value
					rs.Name, rs.Value, rs.Source = s.Name, &v, kmsg.ConfigSource(s.Source)
					rc.ConfigSynonyms = append(rc.ConfigSynonyms, rs)
				}
			}
			if req.IncludeDocumentation && c.doc != "" {
				doc := c.doc
				rc.Documentation = &doc
			}
			res.Configs = append(res.Configs, rc)
		}
		resp.Resources = append(resp.Resources, res)
	}
	return resp, nil
}

func (h *Handlers) describeResource(rr kmsg.DescribeConfigsRequestResource) ([]describedConfig, error) {
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		t, ok := h.Controller.Topic(rr.ResourceName)
		if !ok {
			return nil, fmt.Errorf("topic %s does not exist: %w", rr.ResourceName, kerr.UnknownTopicOrPartition)
		}
		return h.topicConfigs(t.Configs), nil
	case kmsg.ConfigResourceTypeBroker:
		if rr.ResourceName == "" {
			// Cluster-wide dynamic broker defaults.
			return h.dynamicBrokerConfigs(""), nil
		}
		if err := h.checkBrokerResource(rr.ResourceName); err != nil {
			return nil, err
		}
		return append(h.brokerConfigs(), h.dynamicBrokerConfigs(rr.ResourceName)...), nil
	case kmsg.ConfigResourceTypeBrokerLogger:
		if err := h.checkBrokerResource(rr.ResourceName); err != nil {
			return nil, err
		}
		return nil, nil
	default:
		return nil, fmt.Errorf("unsupported resource type %d: %w", rr.ResourceType, kerr.InvalidRequest)
	}
}

// checkBrokerResource accepts only this broker's id, as Kafka does.
func (h *Handlers) checkBrokerResource(name string) error {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil || int32(id) != h.Config.BrokerID {
		return fmt.Errorf("unexpected broker id, expected %d or empty string, but received %s: %w", h.Config.BrokerID, name, kerr.InvalidRequest)
	}
	return nil
}
