package integration

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/zkdata"
)

// TestZKConfigChangesApplyEverywhere: a config change made through one
// broker of a ZooKeeper cluster applies on another broker's open logs and
// produce checks, as Kafka's DynamicConfigManager applies every
// /config/changes notification on every broker (interop finding 6, seen
// first with a Kafka 3.9 broker writing the change):
//   - a topic's retention.ms set through broker 1 deletes old records on
//     broker 2, which leads the partition (broker 2 used to keep the log
//     settings it opened the log with);
//   - a cluster default message.max.bytes (/config/brokers/<default>, a
//     dynamic broker config of Kafka's DynamicLogConfig) set through
//     broker 1 is broker 2's max.message.bytes for a topic without
//     overrides (DescribeConfigs source DYNAMIC_DEFAULT_BROKER_CONFIG) and
//     refuses a larger batch (Samsa used to refuse the key, and to ignore
//     it when a Kafka broker wrote it);
//   - Kafka 3.9's topic configs that Kafka 4 removed are kept, described
//     and applied (message.timestamp.difference.max.ms);
//   - the overrides of a topic created the way Kafka 3.9 creates one (no
//     change notification) are known to a broker without a replica.
func TestZKConfigChangesApplyEverywhere(t *testing.T) {
	c := startZKClusterWith(t, 2, "log.retention.check.interval.ms=200")
	b1, b2 := c.brokers[1].Addr(), c.brokers[2].Addr()
	cl := newClient(t, b1, kgo.SeedBrokers(b1, b2), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(0))
	ctx := ctxT(t)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ctt := kmsg.NewCreateTopicsRequestTopic()
	ctt.Topic, ctt.NumPartitions, ctt.ReplicationFactor = "dyn", -1, -1
	a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	a.Partition, a.Replicas = 0, []int32{2, 1}
	ctt.ReplicaAssignment = append(ctt.ReplicaAssignment, a)
	ct.Topics = append(ct.Topics, ctt)
	if cr, err := ct.RequestWith(ctx, cl); err != nil || cr.Topics[0].ErrorCode != 0 {
		t.Fatalf("create dyn: %v %+v", err, cr)
	}
	c.waitAgree("dyn led by broker 2 with both in the ISR", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		p := partitionOf(m, "dyn", 0)
		return p.Leader == 2 && len(p.ISR) == 2
	})
	old := time.Now().Add(-2 * time.Hour)
	for i := 0; i < 3; i++ {
		r := &kgo.Record{Topic: "dyn", Value: []byte(fmt.Sprint(i)), Timestamp: old}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	earliest := func() int64 {
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "dyn"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -2
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := request[*kmsg.ListOffsetsResponse](t, b2, req)
		return resp.Topics[0].Partitions[0].Offset
	}
	if e := earliest(); e != 0 {
		t.Fatalf("earliest offset %d before retention.ms changed", e)
	}
	alter := func(addr string, typ kmsg.ConfigResourceType, name, key, value string) error {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = typ, name
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Value = key, kmsg.StringPtr(value)
		r.Configs = append(r.Configs, cfg)
		req.Resources = append(req.Resources, r)
		resp := request[*kmsg.IncrementalAlterConfigsResponse](t, addr, req)
		return kerr.ErrorForCode(resp.Resources[0].ErrorCode)
	}
	if err := alter(b1, kmsg.ConfigResourceTypeTopic, "dyn", "retention.ms", "3600000"); err != nil {
		t.Fatalf("retention.ms through broker 1: %v", err)
	}
	waitUntil(t, "broker 2 deletes the records older than the new retention.ms", func() (bool, string) {
		e := earliest()
		return e == 3, fmt.Sprintf("earliest offset %d", e)
	})

	if err := alter(b1, kmsg.ConfigResourceTypeBroker, "", "log.segment.bytes", "100"); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("log.segment.bytes=100 at the cluster default: %v, want INVALID_CONFIG (segment.bytes is at least 1 MiB)", err)
	}
	if err := alter(b1, kmsg.ConfigResourceTypeBroker, "", "message.max.bytes", "5000"); err != nil {
		t.Fatalf("message.max.bytes at the cluster default through broker 1: %v", err)
	}
	waitUntil(t, "broker 2 describes max.message.bytes 5000 from the cluster default", func() (bool, string) {
		req := kmsg.NewPtrDescribeConfigsRequest()
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName, r.ConfigNames = kmsg.ConfigResourceTypeTopic, "dyn", []string{"max.message.bytes"}
		req.Resources = append(req.Resources, r)
		resp := request[*kmsg.DescribeConfigsResponse](t, b2, req)
		if len(resp.Resources) != 1 || len(resp.Resources[0].Configs) != 1 {
			return false, fmt.Sprintf("%+v", resp)
		}
		got := resp.Resources[0].Configs[0]
		if got.Value == nil {
			return false, "null value"
		}
		return *got.Value == "5000" && got.Source == kmsg.ConfigSourceDynamicDefaultBrokerConfig, fmt.Sprintf("%s (%v)", *got.Value, got.Source)
	})
	waitUntil(t, "broker 2 refuses a 6000-byte batch", func() (bool, string) {
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dyn", Value: make([]byte, 6000)}).FirstErr()
		return errors.Is(err, kerr.MessageTooLarge), fmt.Sprint(err)
	})

	// Kafka 3.9's topic configs that Kafka 4 removed (interop finding 8):
	// stored, kept when another config changes, described, and
	// message.timestamp.difference.max.ms applied as by Kafka 3.9.
	if err := alter(b1, kmsg.ConfigResourceTypeTopic, "dyn", "message.downconversion.enable", "false"); err != nil {
		t.Fatalf("message.downconversion.enable: %v", err)
	}
	if err := alter(b1, kmsg.ConfigResourceTypeTopic, "dyn", "message.timestamp.difference.max.ms", "600000"); err != nil {
		t.Fatalf("message.timestamp.difference.max.ms: %v", err)
	}
	if err := alter(b2, kmsg.ConfigResourceTypeTopic, "dyn", "message.format.version", "2.x"); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("message.format.version=2.x: %v, want INVALID_CONFIG", err)
	}
	// An override whose notification has not reached broker 2 (here:
	// none was written) survives a change through broker 2, which reads
	// the overrides from ZooKeeper as Kafka's ZkAdminManager does
	// (interop finding 10).
	data, _ := c.get("/config/topics/dyn")
	cur, err := zkdata.DecodeConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	cur["flush.ms"] = "1000"
	if _, err := c.conn.Set("/kafka/config/topics/dyn", zkdata.EncodeConfig(cur), -1); err != nil {
		t.Fatal(err)
	}
	if err := alter(b2, kmsg.ConfigResourceTypeTopic, "dyn", "segment.ms", "86400000"); err != nil {
		t.Fatalf("segment.ms next to Kafka 3.9 overrides: %v", err)
	}
	data, _ = c.get("/config/topics/dyn")
	if want := `{"version":1,"config":{"flush.ms":"1000","message.downconversion.enable":"false","message.timestamp.difference.max.ms":"600000","retention.ms":"3600000","segment.ms":"86400000"}}`; string(data) != want {
		t.Errorf("/config/topics/dyn: %s, want %s", data, want)
	}
	def, _ := c.get("/config/brokers/<default>")
	dcur, err := zkdata.DecodeConfig(def)
	if err != nil {
		t.Fatal(err)
	}
	dcur["log.retention.ms"] = "7200000"
	if _, err := c.conn.Set("/kafka/config/brokers/<default>", zkdata.EncodeConfig(dcur), -1); err != nil {
		t.Fatal(err)
	}
	if err := alter(b2, kmsg.ConfigResourceTypeBroker, "", "log.segment.bytes", "2097152"); err != nil {
		t.Fatalf("log.segment.bytes at the cluster default through broker 2: %v", err)
	}
	def, _ = c.get("/config/brokers/<default>")
	if want := `{"version":1,"config":{"log.retention.ms":"7200000","log.segment.bytes":"2097152","message.max.bytes":"5000"}}`; string(def) != want {
		t.Errorf("/config/brokers/<default>: %s, want %s", def, want)
	}
	waitUntil(t, "broker 2 refuses a timestamp 20 minutes old", func() (bool, string) {
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dyn", Value: []byte("old"), Timestamp: time.Now().Add(-20 * time.Minute)}).FirstErr()
		return errors.Is(err, kerr.InvalidTimestamp), fmt.Sprint(err)
	})
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dyn", Value: []byte("recent"), Timestamp: time.Now().Add(-5 * time.Minute)}).FirstErr(); err != nil {
		t.Fatalf("a timestamp 5 minutes old: %v", err)
	}

	// A topic created as a Kafka 3.9 broker creates one
	// (AdminZkClient.createTopicWithAssignment: /config/topics/<name>,
	// then /brokers/topics/<name>, no change notification), with no
	// replica on broker 2: broker 2 still knows its overrides
	// (interop finding 9).
	if _, err := c.conn.Create("/kafka/config/topics/kafka-made", zkdata.EncodeConfig(map[string]string{"max.message.bytes": "3000"}), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	assign := zkdata.Topic{ID: zkdata.TopicID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, Replicas: map[int32][]int32{0: {1}}}
	if _, err := c.conn.Create("/kafka/brokers/topics/kafka-made", zkdata.EncodeTopic(assign), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "broker 2 describes the overrides of a topic made without a notification", func() (bool, string) {
		req := kmsg.NewPtrDescribeConfigsRequest()
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName, r.ConfigNames = kmsg.ConfigResourceTypeTopic, "kafka-made", []string{"max.message.bytes"}
		req.Resources = append(req.Resources, r)
		resp := request[*kmsg.DescribeConfigsResponse](t, b2, req)
		if len(resp.Resources) != 1 || len(resp.Resources[0].Configs) != 1 || resp.Resources[0].Configs[0].Value == nil {
			return false, fmt.Sprintf("%+v", resp.Resources)
		}
		got := resp.Resources[0].Configs[0]
		return *got.Value == "3000" && got.Source == kmsg.ConfigSourceDynamicTopicConfig, fmt.Sprintf("%s (%v)", *got.Value, got.Source)
	})
}

// waitUntil polls cond every 100 ms for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s; last: %s", what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
