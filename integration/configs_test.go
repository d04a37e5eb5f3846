package integration

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

func topicConfigValue(t *testing.T, adm *kadm.Client, topic, key string) kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if c.Key == key {
			return c
		}
	}
	t.Fatalf("%s has no config %s", topic, key)
	return kadm.Config{}
}

func TestAlterTopicConfigs(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "log.retention.hours=24")
	ctx := ctxT(t)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "cfg"); err != nil {
		t.Fatal(err)
	}
	// The default comes from the broker's log.retention.hours; as in
	// Kafka, whose ConfigHelper drops the synonyms listed before
	// log.retention.ms, the source reads DEFAULT_CONFIG.
	c := topicConfigValue(t, adm, "cfg", "retention.ms")
	if c.MaybeValue() != "86400000" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("retention.ms default = %+v", c)
	}

	resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("1000")},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")},
	}, "cfg")
	if err != nil || resp[0].Err != nil {
		t.Fatalf("alter: %+v %v", resp, err)
	}
	if c := topicConfigValue(t, adm, "cfg", "retention.ms"); c.MaybeValue() != "1000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("after set: %+v", c)
	}
	if c := topicConfigValue(t, adm, "cfg", "cleanup.policy"); c.MaybeValue() != "delete,compact" {
		t.Fatalf("after append: %+v", c)
	}

	resp, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "retention.ms"}}, "cfg")
	if err != nil || resp[0].Err != nil {
		t.Fatalf("delete config: %+v %v", resp, err)
	}
	if c := topicConfigValue(t, adm, "cfg", "retention.ms"); c.MaybeValue() != "86400000" {
		t.Fatalf("after delete: %+v", c)
	}

	for _, bad := range []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("x")},
		{Op: kadm.SetConfig, Name: "not.a.config", Value: kadm.StringPtr("1")},
		{Op: kadm.AppendConfig, Name: "retention.ms", Value: kadm.StringPtr("1")},
	} {
		resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{bad}, "cfg")
		if err != nil || !errors.Is(resp[0].Err, kerr.InvalidConfig) {
			t.Fatalf("%+v: got %+v %v, want INVALID_CONFIG", bad, resp, err)
		}
	}
	resp, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("1")}}, "missing")
	if err != nil || !errors.Is(resp[0].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("unknown topic: %+v %v", resp, err)
	}
}

func TestDescribeBrokerConfigs(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "num.partitions=7")
	adm := newAdmin(t, b.Addr())
	rcs, err := adm.DescribeBrokerConfigs(ctxT(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rc := range rcs {
		if rc.Err != nil {
			t.Fatal(rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key == "num.partitions" {
				found = true
				if c.MaybeValue() != "7" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
					t.Fatalf("num.partitions = %+v", c)
				}
			}
		}
	}
	if !found {
		t.Fatal("num.partitions not described")
	}
	// Another broker id is not this broker.
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: "5"}}
	// Sent straight to broker 0: kgo would route a broker resource to
	// the broker it names.
	raw, err := newClient(t, b.Addr()).Broker(0).Request(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	resp := raw.(*kmsg.DescribeConfigsResponse)
	if len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("foreign broker id: %+v %v", resp, err)
	}
}

// TestProduceFollowsAlteredConfig: a topic config changed after produces
// started applies to the next batch (produce settings are cached per topic).
func TestProduceFollowsAlteredConfig(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctxT(t), 1, 1, nil, "alt"); err != nil {
		t.Fatal(err)
	}
	big := rawBatch(string(make([]byte, 3000)), -1, -1, -1)
	if p := produceRaw(t, b.Addr(), 9, 1, "alt", big); p.ErrorCode != 0 {
		t.Fatalf("before alter: error %d", p.ErrorCode)
	}
	resp, err := adm.AlterTopicConfigs(ctxT(t), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("2000")}}, "alt")
	if err != nil || resp[0].Err != nil {
		t.Fatalf("alter: %+v %v", resp, err)
	}
	if p := produceRaw(t, b.Addr(), 9, 1, "alt", big); p.ErrorCode != kerr.MessageTooLarge.Code {
		t.Fatalf("after lowering max.message.bytes: error %d, want MESSAGE_TOO_LARGE", p.ErrorCode)
	}
}
