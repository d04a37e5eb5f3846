package integration

import (
	"errors"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

func TestTopicAdmin(t *testing.T) {
	eachMode(t, func(t *testing.T, b *testbroker.Broker) {
		ctx := ctxT(t)
		adm := newAdmin(t, b.Addr())

		created, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": kadm.StringPtr("3600000"), "cleanup.policy": kadm.StringPtr("compact")}, "orders")
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if created.NumPartitions != 3 || created.ReplicationFactor != 1 || created.ID == (kadm.TopicID{}) {
			t.Fatalf("create response: %+v", created)
		}
		if c := created.Configs["retention.ms"]; c.Value == nil || *c.Value != "3600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Fatalf("create response retention.ms: %+v", c)
		}
		if _, err := adm.CreateTopic(ctx, -1, -1, nil, "defaults"); err != nil {
			t.Fatalf("create with broker defaults: %v", err)
		}

		topics, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if got := topics.Names(); !equal(got, []string{"defaults", "orders"}) {
			t.Fatalf("topics = %v", got)
		}
		orders := topics["orders"]
		if orders.ID != created.ID || len(orders.Partitions) != 3 {
			t.Fatalf("orders = %+v", orders)
		}
		for _, p := range orders.Partitions {
			if p.Leader != 0 || !equal32(p.Replicas, []int32{0}) || !equal32(p.ISR, []int32{0}) || p.Err != nil {
				t.Fatalf("partition %+v", p)
			}
		}
		if len(topics["defaults"].Partitions) != 1 {
			t.Fatalf("defaults topic should have num.partitions=1 partitions: %+v", topics["defaults"])
		}

		// The values a user sets are the values they read back.
		rcs, err := adm.DescribeTopicConfigs(ctx, "orders")
		if err != nil {
			t.Fatalf("describe configs: %v", err)
		}
		rc, err := rcs.On("orders", nil)
		if err != nil {
			t.Fatalf("describe configs: %v", err)
		}
		got := map[string]kadm.Config{}
		for _, c := range rc.Configs {
			got[c.Key] = c
		}
		if c := got["retention.ms"]; c.MaybeValue() != "3600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Fatalf("retention.ms = %+v", c)
		}
		if c := got["cleanup.policy"]; c.MaybeValue() != "compact" {
			t.Fatalf("cleanup.policy = %+v", c)
		}
		if c := got["segment.bytes"]; c.MaybeValue() != "1073741824" || c.Source != kmsg.ConfigSourceDefaultConfig {
			t.Fatalf("segment.bytes = %+v", c)
		}

		// Grow, and refuse to shrink.
		if _, err := adm.UpdatePartitions(ctx, 5, "orders"); err != nil {
			t.Fatalf("grow: %v", err)
		}
		resp, err := adm.UpdatePartitions(ctx, 2, "orders")
		if err != nil {
			t.Fatalf("shrink request: %v", err)
		}
		if err := resp["orders"].Err; !errors.Is(err, kerr.InvalidPartitions) {
			t.Fatalf("shrink: got %v, want INVALID_PARTITIONS", err)
		}
		topics, _ = adm.ListTopics(ctx, "orders")
		if n := len(topics["orders"].Partitions); n != 5 {
			t.Fatalf("after grow: %d partitions", n)
		}

		// Delete by name, then by id (DeleteTopics v6).
		if _, err := adm.DeleteTopic(ctx, "orders"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		defs, _ := adm.ListTopics(ctx, "defaults")
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.Version = 6
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.TopicID = defs["defaults"].ID
		req.Topics = append(req.Topics, rt)
		dresp, err := req.RequestWith(ctx, newClient(t, b.Addr()))
		if err != nil {
			t.Fatalf("delete by id: %v", err)
		}
		if len(dresp.Topics) != 1 || dresp.Topics[0].ErrorCode != 0 || dresp.Topics[0].Topic == nil || *dresp.Topics[0].Topic != "defaults" {
			t.Fatalf("delete by id response: %+v", dresp.Topics)
		}
		// A fresh client: kadm serves metadata from its client's cache for
		// up to MetadataMinAge.
		topics, err = newAdmin(t, b.Addr()).ListTopics(ctx)
		if err != nil || len(topics) != 0 {
			t.Fatalf("after deletes: %v %v", topics.Names(), err)
		}
	})
}

func TestCreateTopicErrors(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	ctx := ctxT(t)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "exists"); err != nil {
		t.Fatal(err)
	}
	long := make([]byte, 250)
	for i := range long {
		long[i] = 'a'
	}
	cases := []struct {
		name    string
		topic   string
		parts   int32
		rf      int16
		configs map[string]*string
		want    *kerr.Error
	}{
		{"exists", "exists", 1, 1, nil, kerr.TopicAlreadyExists},
		{"dot", ".", 1, 1, nil, kerr.InvalidTopicException},
		{"dotdot", "..", 1, 1, nil, kerr.InvalidTopicException},
		{"bad char", "a/b", 1, 1, nil, kerr.InvalidTopicException},
		{"too long", string(long), 1, 1, nil, kerr.InvalidTopicException},
		{"empty", "", 1, 1, nil, kerr.InvalidTopicException},
		{"rf above brokers", "rf", 1, 3, nil, kerr.InvalidReplicationFactor},
		{"zero partitions", "zp", 0, 1, nil, kerr.InvalidPartitions},
		{"unknown config", "uc", 1, 1, map[string]*string{"no.such.config": kadm.StringPtr("1")}, kerr.InvalidConfig},
		{"bad config value", "bv", 1, 1, map[string]*string{"retention.ms": kadm.StringPtr("soon")}, kerr.InvalidConfig},
		{"bad enum value", "be", 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("shred")}, kerr.InvalidConfig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := adm.CreateTopics(ctx, c.parts, c.rf, c.configs, c.topic)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			if got := resp[c.topic].Err; !errors.Is(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	topics, _ := adm.ListTopics(ctx)
	if names := topics.Names(); !equal(names, []string{"exists"}) {
		t.Fatalf("failed creates left topics behind: %v", names)
	}

	// validate_only checks everything and creates nothing.
	resp, err := adm.ValidateCreateTopics(ctx, 4, 1, nil, "dry")
	if err != nil || resp["dry"].Err != nil || resp["dry"].NumPartitions != 4 {
		t.Fatalf("validate only: %+v %v", resp, err)
	}
	topics, _ = adm.ListTopics(ctx)
	if _, ok := topics["dry"]; ok {
		t.Fatal("validate_only created the topic")
	}

	// Deleting an unknown topic.
	dr, err := adm.DeleteTopics(ctx, "nope")
	if err != nil || !errors.Is(dr["nope"].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("delete unknown: %+v %v", dr, err)
	}
}

func TestRestartKeepsTopics(t *testing.T) {
	eachMode(t, func(t *testing.T, b *testbroker.Broker) {
		ctx := ctxT(t)
		adm := newAdmin(t, b.Addr())
		if _, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.bytes": kadm.StringPtr("12345")}, "keep"); err != nil {
			t.Fatal(err)
		}
		before, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		meta, err := adm.BrokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		adm.Close()

		b.Restart()

		adm = newAdmin(t, b.Addr())
		after, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after["keep"].ID != before["keep"].ID || len(after["keep"].Partitions) != 2 {
			t.Fatalf("after restart: %+v, before: %+v", after["keep"], before["keep"])
		}
		meta2, err := adm.BrokerMetadata(ctx)
		if err != nil || meta2.Cluster != meta.Cluster || meta.Cluster == "" {
			t.Fatalf("cluster id changed: %q -> %q (%v)", meta.Cluster, meta2.Cluster, err)
		}
		rcs, err := adm.DescribeTopicConfigs(ctx, "keep")
		if err != nil {
			t.Fatal(err)
		}
		rc, _ := rcs.On("keep", nil)
		found := false
		for _, c := range rc.Configs {
			if c.Key == "retention.bytes" {
				found = c.MaybeValue() == "12345"
			}
		}
		if !found {
			t.Fatalf("retention.bytes override lost across restart: %+v", rc.Configs)
		}
	})
}

func TestMetadataAutoCreate(t *testing.T) {
	t.Run("enabled", func(t *testing.T) {
		b := testbroker.Start(t, testbroker.InProcess, "num.partitions=4")
		cl := newClient(t, b.Addr())
		req := kmsg.NewPtrMetadataRequest()
		req.AllowAutoTopicCreation = true
		for _, n := range []string{"auto", "bad/name"} {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(n)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]kmsg.MetadataResponseTopic{}
		for _, rt := range resp.Topics {
			byName[*rt.Topic] = rt
		}
		// The triggering request is answered UNKNOWN_TOPIC_OR_PARTITION,
		// as by Kafka 4.x (conformance TestMetadata); the next one sees
		// the topic.
		if a := byName["auto"]; a.ErrorCode != kerr.UnknownTopicOrPartition.Code || len(a.Partitions) != 0 {
			t.Fatalf("auto-creating request: %+v", a)
		}
		resp, err = req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		for _, rt := range resp.Topics {
			byName[*rt.Topic] = rt
		}
		if a := byName["auto"]; a.ErrorCode != 0 || len(a.Partitions) != 4 || a.TopicID == [16]byte{} {
			t.Fatalf("auto-created topic: %+v", a)
		}
		if bad := byName["bad/name"]; bad.ErrorCode != kerr.InvalidTopicException.Code {
			t.Fatalf("invalid name: error %d, want INVALID_TOPIC_EXCEPTION", bad.ErrorCode)
		}

		// Without allow_auto_topic_creation nothing is created.
		req.AllowAutoTopicCreation = false
		req.Topics = req.Topics[:1]
		req.Topics[0].Topic = kmsg.StringPtr("not-created")
		resp, err = req.RequestWith(ctxT(t), cl)
		if err != nil || resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("no auto create: %+v %v", resp, err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		b := testbroker.Start(t, testbroker.InProcess, "auto.create.topics.enable=false")
		cl := newClient(t, b.Addr())
		req := kmsg.NewPtrMetadataRequest()
		req.AllowAutoTopicCreation = true
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("auto")
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil || resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("auto create disabled: %+v %v", resp, err)
		}
	})
}

func TestDescribeClusterAndTopicPartitions(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	ctx := ctxT(t)
	cl := newClient(t, b.Addr())
	adm := kadm.NewClient(cl)
	for _, n := range []string{"b", "a", "c"} {
		if _, err := adm.CreateTopic(ctx, 3, 1, nil, n); err != nil {
			t.Fatal(err)
		}
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	dresp, err := dc.RequestWith(ctx, cl)
	if err != nil || dresp.ErrorCode != 0 || len(dresp.Brokers) != 1 || dresp.Brokers[0].NodeID != 0 || dresp.ClusterID == "" || dresp.ControllerID != 0 {
		t.Fatalf("describe cluster: %+v %v", dresp, err)
	}

	// Page through all partitions two at a time.
	var seen []string
	var cursor *kmsg.DescribeTopicPartitionsRequestCursor
	for i := 0; i < 10; i++ {
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		req.ResponsePartitionLimit = 2
		req.Cursor = cursor
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				seen = append(seen, *rt.Topic+string(rune('0'+p.Partition)))
			}
		}
		if resp.NextCursor == nil {
			break
		}
		cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
	}
	want := []string{"a0", "a1", "a2", "b0", "b1", "b2", "c0", "c1", "c2"}
	if !equal(seen, want) {
		t.Fatalf("paged partitions = %v, want %v", seen, want)
	}
}

func TestApiVersionsMatchesServedVersions(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	adm := newAdmin(t, b.Addr())
	vs, err := adm.ApiVersions(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var keys []int16
	for _, bv := range vs.Sorted() {
		if bv.Err != nil {
			t.Fatal(bv.Err)
		}
		bv.EachKeySorted(func(key, min, max int16) { keys = append(keys, key) })
		for _, want := range []struct{ key, max int16 }{{18, 4}, {3, 13}, {19, 7}, {20, 6}, {32, 4}} {
			_, max, ok := bv.KeyVersions(want.key)
			if !ok || max < want.max {
				t.Fatalf("api %d advertised max %d, want at least %d", want.key, max, want.max)
			}
		}
	}
	if !sort.SliceIsSorted(keys, func(i, j int) bool { return keys[i] < keys[j] }) {
		t.Fatalf("keys not sorted: %v", keys)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equal32(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
