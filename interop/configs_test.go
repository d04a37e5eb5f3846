package interop

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestConfigsQuotasACLsBothWays: in a cluster of one Apache Kafka 3.9
// broker (the controller) and one Samsa broker,
// both with Kafka's ZooKeeper authorizer (AclAuthorizer,
// allow.everyone.if.no.acl.found), what an admin client changes through
// one kind is what the other kind describes and enforces: topic configs
// (max.message.bytes refuses a produce to a partition the other kind
// leads, or lets it through once raised; those of a topic Kafka created
// without a replica on Samsa; Kafka 3.9's configs that Kafka 4 removed), client quotas (listed alike by
// both, and throttling the other kind's produce responses), ACLs (listed,
// and TOPIC_AUTHORIZATION_FAILED on the other kind), and dynamic broker
// configs: replication throttles at the cluster default (source
// DYNAMIC_DEFAULT_BROKER_CONFIG on the other kind) and per broker (the
// znode identical to Kafka's own), and topic defaults at the cluster
// default (message.max.bytes and log.retention.ms, described and
// enforced for a topic without overrides). Every change notification in
// /config/changes has Kafka's format.
func TestConfigsQuotasACLsBothWays(t *testing.T) {
	c := newCluster(t)
	auth := []string{"authorizer.class.name=kafka.security.authorizer.AclAuthorizer", "allow.everyone.if.no.acl.found=true"}
	// A cluster default message.max.bytes restarts Kafka's log cleaner
	// threads (LogCleaner.reconfigure), each allocating its dedupe
	// buffer anew: the default 128 MiB does not fit twice in -Xmx256m.
	k1 := c.startKafka(1, append(auth, "log.cleaner.dedupe.buffer.size=4194304")...)
	c.waitController(1, 10*time.Second)
	s2 := c.startSamsa(2, auth...)

	// p0 led by Kafka, p1 by Samsa, for each topic.
	topics := []string{"iconf", "iconf-q", "iconf-acl-s", "iconf-acl-k1", "iconf-d"}
	for _, tp := range topics {
		c.createTopic(tp, [][]int32{{1, 2}, {2, 1}}, nil)
	}
	var conds []func(m *kmsg.MetadataResponse) bool
	for _, tp := range topics {
		conds = append(conds, fullISR(tp, 2, 1, 2), leaderIs(tp, 0, 1), leaderIs(tp, 1, 2))
	}
	// Created by Kafka's controller with an override, no replica on
	// Samsa: Kafka writes /config/topics/iconf-k without a change
	// notification.
	c.createTopic("iconf-k", [][]int32{{1}}, map[string]string{"max.message.bytes": "3000"})
	c.waitAgree("topics replicated, p0 led by kafka-1 and p1 by samsa-2", 30*time.Second, all(conds...), topics...)
	plain := newClient(t, c.seeds(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))

	{ // topic configs
		c.waitConfig(s2, kmsg.ConfigResourceTypeTopic, "iconf-k", "max.message.bytes", "3000", kmsg.ConfigSourceDynamicTopicConfig)
		// Samsa writes /config/topics/iconf; Kafka (leader of p0) reads it.
		c.alterConfigs(s2, kmsg.ConfigResourceTypeTopic, "iconf", "max.message.bytes", "4000", "retention.ms", "3600000")
		c.waitConfig(k1, kmsg.ConfigResourceTypeTopic, "iconf", "max.message.bytes", "4000", kmsg.ConfigSourceDynamicTopicConfig)
		c.waitConfig(k1, kmsg.ConfigResourceTypeTopic, "iconf", "retention.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig)
		waitProduce(t, plain, "iconf", 0, 6000, kerr.MessageTooLarge)
		waitProduce(t, plain, "iconf", 1, 6000, kerr.MessageTooLarge)
		// Kafka writes it back raised; Samsa (leader of p1) lets 6000
		// bytes through and still refuses 10000.
		c.alterConfigs(k1, kmsg.ConfigResourceTypeTopic, "iconf", "max.message.bytes", "8000")
		c.waitConfig(s2, kmsg.ConfigResourceTypeTopic, "iconf", "max.message.bytes", "8000", kmsg.ConfigSourceDynamicTopicConfig)
		c.waitConfig(s2, kmsg.ConfigResourceTypeTopic, "iconf", "retention.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig)
		waitProduce(t, plain, "iconf", 1, 6000, nil)
		waitProduce(t, plain, "iconf", 1, 10000, kerr.MessageTooLarge)
		waitProduce(t, plain, "iconf", 0, 6000, nil)

		// Topic configs Kafka 3.9 has and Kafka 4 removed, set through
		// Kafka: Samsa describes them, keeps them when it changes
		// another config, changes them itself, and applies
		// message.timestamp.difference.max.ms as Kafka 3.9 does.
		c.alterConfigs(k1, kmsg.ConfigResourceTypeTopic, "iconf", "message.downconversion.enable", "false", "message.timestamp.difference.max.ms", "600000")
		c.waitConfig(s2, kmsg.ConfigResourceTypeTopic, "iconf", "message.downconversion.enable", "false", kmsg.ConfigSourceDynamicTopicConfig)
		c.waitConfig(s2, kmsg.ConfigResourceTypeTopic, "iconf", "message.timestamp.difference.max.ms", "600000", kmsg.ConfigSourceDynamicTopicConfig)
		c.waitConfig(s2, kmsg.ConfigResourceTypeTopic, "iconf", "message.format.version", "3.0-IV1", kmsg.ConfigSourceDefaultConfig)
		c.alterConfigs(s2, kmsg.ConfigResourceTypeTopic, "iconf", "segment.ms", "86400000", "message.format.version", "3.0-IV1")
		c.waitConfig(k1, kmsg.ConfigResourceTypeTopic, "iconf", "segment.ms", "86400000", kmsg.ConfigSourceDynamicTopicConfig)
		c.waitConfig(k1, kmsg.ConfigResourceTypeTopic, "iconf", "message.downconversion.enable", "false", kmsg.ConfigSourceDynamicTopicConfig)
		c.waitConfig(k1, kmsg.ConfigResourceTypeTopic, "iconf", "message.format.version", "3.0-IV1", kmsg.ConfigSourceDynamicTopicConfig)
		// Only at Samsa's leader: Kafka's ReplicaManager logs a refused
		// timestamp at ERROR, which the log check would take for a
		// problem.
		waitProduceAt(t, plain, "iconf", 1, time.Now().Add(-20*time.Minute), kerr.InvalidTimestamp)
		waitProduceAt(t, plain, "iconf", 1, time.Now().Add(20*time.Minute), kerr.InvalidTimestamp)
		waitProduceAt(t, plain, "iconf", 1, time.Now().Add(-5*time.Minute), nil)
		waitProduceAt(t, plain, "iconf", 0, time.Now().Add(-5*time.Minute), nil)
	}

	{ // client quotas
		// Through Samsa: a client id that needs sanitizing
		// (/config/clients/<Sanitizer.sanitize(id)>); Kafka (leader of
		// p0) lists it and throttles that client.
		const viaSamsa = "iconf samsa/1*"
		c.alterQuota(s2, map[string]string{"client-id": viaSamsa}, "producer_byte_rate", 1024)
		c.waitQuota(k1, map[string]string{"client-id": viaSamsa}, "producer_byte_rate", 1024)
		waitThrottled(t, c.seeds(), viaSamsa, "iconf-q", 0, 1)
		// Through Kafka: user ANONYMOUS (every PLAINTEXT client) with a
		// client id (/config/users/ANONYMOUS/clients/<id>); Samsa (leader
		// of p1) lists it and throttles that client.
		const viaKafka = "iconf-kafka"
		c.alterQuota(k1, map[string]string{"user": "ANONYMOUS", "client-id": viaKafka}, "producer_byte_rate", 1024)
		c.waitQuota(s2, map[string]string{"user": "ANONYMOUS", "client-id": viaKafka}, "producer_byte_rate", 1024)
		waitThrottled(t, c.seeds(), viaKafka, "iconf-q", 1, 2)
		// Both wrote the same config znode format.
		k := c.znodeJSON("/config/users/ANONYMOUS/clients/" + viaKafka)
		s := c.znodeJSON("/config/clients/iconf%20samsa%2F1%2A")
		if k != s {
			t.Errorf("quota znodes differ: kafka-1 wrote %s, samsa-2 wrote %s", k, s)
		}
		// Both list every quota the same way, entity parts in the same
		// order (Kafka 3.9's ZooKeeper mode: user before client-id).
		if k, s := listQuotas(t, k1), listQuotas(t, s2); !slices.Equal(k, s) {
			t.Errorf("DescribeClientQuotas differ:\nkafka-1 %q\nsamsa-2 %q", k, s)
		}
	}

	{ // ACLs
		for _, tp := range []string{"iconf-acl-s", "iconf-acl-k1"} {
			waitProduce(t, plain, tp, 0, 10, nil)
			waitProduce(t, plain, tp, 1, 10, nil)
		}
		// Through Samsa: a literal DENY (/kafka-acl/Topic/iconf-acl-s);
		// through Kafka: a prefixed one
		// (/kafka-acl-extended/prefixed/Topic/iconf-acl-k).
		denyWrite := func(via *node, name string, pattern kmsg.ACLResourcePatternType) {
			req := kmsg.NewPtrCreateACLsRequest()
			cr := kmsg.NewCreateACLsRequestCreation()
			cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = kmsg.ACLResourceTypeTopic, name, pattern
			cr.Principal, cr.Host = "User:ANONYMOUS", "*"
			cr.Operation, cr.PermissionType = kmsg.ACLOperationWrite, kmsg.ACLPermissionTypeDeny
			req.Creations = append(req.Creations, cr)
			resp := ask[*kmsg.CreateACLsResponse](t, via, req)
			if err := kerr.ErrorForCode(resp.Results[0].ErrorCode); err != nil {
				t.Fatalf("CreateAcls through %s: %v", via, err)
			}
		}
		denyWrite(s2, "iconf-acl-s", kmsg.ACLResourcePatternTypeLiteral)
		denyWrite(k1, "iconf-acl-k", kmsg.ACLResourcePatternTypePrefixed)
		want := []string{
			"TOPIC:LITERAL:iconf-acl-s User:ANONYMOUS@* WRITE DENY",
			"TOPIC:PREFIXED:iconf-acl-k User:ANONYMOUS@* WRITE DENY",
		}
		for _, n := range []*node{k1, s2} {
			waitFor(t, n.String()+" lists both ACLs", 10*time.Second, func() (bool, string) {
				got := describeACLs(t, n)
				return slices.Equal(got, want), fmt.Sprint(got)
			})
		}
		for _, tp := range []string{"iconf-acl-s", "iconf-acl-k1"} {
			waitProduce(t, plain, tp, 0, 10, kerr.TopicAuthorizationFailed)
			waitProduce(t, plain, tp, 1, 10, kerr.TopicAuthorizationFailed)
		}
		// Both wrote the same ACL znode format.
		k := strings.ReplaceAll(c.znodeJSON("/kafka-acl-extended/prefixed/Topic/iconf-acl-k"), "iconf-acl-k", "X")
		s := strings.ReplaceAll(c.znodeJSON("/kafka-acl/Topic/iconf-acl-s"), "iconf-acl-s", "X")
		if k != s {
			t.Errorf("ACL znodes differ: kafka-1 wrote %s, samsa-2 wrote %s", k, s)
		}
	}

	{ // broker configs
		// Cluster defaults (/config/brokers/<default>), one through each
		// kind, described by the other as its own broker's config and as
		// the default resource.
		c.alterConfigs(s2, kmsg.ConfigResourceTypeBroker, "", "leader.replication.throttled.rate", "10000000")
		c.waitConfig(k1, kmsg.ConfigResourceTypeBroker, "1", "leader.replication.throttled.rate", "10000000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		c.waitConfig(k1, kmsg.ConfigResourceTypeBroker, "", "leader.replication.throttled.rate", "10000000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		c.alterConfigs(k1, kmsg.ConfigResourceTypeBroker, "", "follower.replication.throttled.rate", "20000000")
		c.waitConfig(s2, kmsg.ConfigResourceTypeBroker, "2", "follower.replication.throttled.rate", "20000000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		c.waitConfig(s2, kmsg.ConfigResourceTypeBroker, "", "follower.replication.throttled.rate", "20000000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		c.waitConfig(s2, kmsg.ConfigResourceTypeBroker, "2", "leader.replication.throttled.rate", "10000000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		c.waitConfig(k1, kmsg.ConfigResourceTypeBroker, "1", "follower.replication.throttled.rate", "20000000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)

		// Per broker: a broker answers only for itself (Kafka's
		// ZkAdminManager and ConfigHelper refuse another id), so the
		// other kind sees a per-broker config only through ZooKeeper:
		// each writes /config/brokers/<own id> as the other does, and a
		// per-broker value overrides the default set through the other
		// kind.
		c.alterConfigs(s2, kmsg.ConfigResourceTypeBroker, "2", "replica.alter.log.dirs.io.max.bytes.per.second", "40000000", "follower.replication.throttled.rate", "30000000")
		c.alterConfigs(k1, kmsg.ConfigResourceTypeBroker, "1", "replica.alter.log.dirs.io.max.bytes.per.second", "40000000", "follower.replication.throttled.rate", "30000000")
		c.waitConfig(s2, kmsg.ConfigResourceTypeBroker, "2", "follower.replication.throttled.rate", "30000000", kmsg.ConfigSourceDynamicBrokerConfig)
		c.waitConfig(k1, kmsg.ConfigResourceTypeBroker, "1", "follower.replication.throttled.rate", "30000000", kmsg.ConfigSourceDynamicBrokerConfig)
		c.waitConfig(s2, kmsg.ConfigResourceTypeBroker, "2", "replica.alter.log.dirs.io.max.bytes.per.second", "40000000", kmsg.ConfigSourceDynamicBrokerConfig)
		c.waitConfig(k1, kmsg.ConfigResourceTypeBroker, "1", "replica.alter.log.dirs.io.max.bytes.per.second", "40000000", kmsg.ConfigSourceDynamicBrokerConfig)
		if k, s := c.znodeJSON("/config/brokers/1"), c.znodeJSON("/config/brokers/2"); k != s {
			t.Errorf("per-broker config znodes differ: kafka-1 wrote %s, samsa-2 wrote %s", k, s)
		}

		// Topic defaults (Kafka's DynamicLogConfig) at the cluster
		// default, through each kind: the other kind describes a topic
		// without overrides with the new default (source
		// DYNAMIC_DEFAULT_BROKER_CONFIG) and enforces it on the
		// partition it leads.
		c.alterConfigs(k1, kmsg.ConfigResourceTypeBroker, "", "message.max.bytes", "5000")
		c.waitConfig(s2, kmsg.ConfigResourceTypeTopic, "iconf-d", "max.message.bytes", "5000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		c.waitConfig(s2, kmsg.ConfigResourceTypeBroker, "", "message.max.bytes", "5000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		c.waitConfig(s2, kmsg.ConfigResourceTypeBroker, "2", "message.max.bytes", "5000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		waitProduce(t, plain, "iconf-d", 1, 6000, kerr.MessageTooLarge)
		c.alterConfigs(s2, kmsg.ConfigResourceTypeBroker, "", "message.max.bytes", "7000", "log.retention.ms", "3600000")
		c.waitConfig(k1, kmsg.ConfigResourceTypeTopic, "iconf-d", "max.message.bytes", "7000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		c.waitConfig(k1, kmsg.ConfigResourceTypeTopic, "iconf-d", "retention.ms", "3600000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		c.waitConfig(s2, kmsg.ConfigResourceTypeTopic, "iconf-d", "retention.ms", "3600000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		waitProduce(t, plain, "iconf-d", 0, 6000, nil)
		waitProduce(t, plain, "iconf-d", 0, 8000, kerr.MessageTooLarge)
		waitProduce(t, plain, "iconf-d", 1, 6000, nil)
		waitProduce(t, plain, "iconf-d", 1, 8000, kerr.MessageTooLarge)
	}

	// Every change notification (both kinds wrote some) is Kafka's
	// {"version":2,"entity_path":...}.
	changes, _, err := c.conn.Children("/kafka/config/changes")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(changes)
	var paths []string
	for _, ch := range changes {
		var v struct {
			Version    int    `json:"version"`
			EntityPath string `json:"entity_path"`
		}
		raw := c.znodeJSON("/config/changes/" + ch)
		if err := json.Unmarshal([]byte(raw), &v); err != nil || v.Version != 2 || v.EntityPath == "" || strings.Count(raw, ":") != 2 {
			t.Errorf("config change %s: %s (%v)", ch, raw, err)
		}
		paths = append(paths, v.EntityPath)
	}
	t.Logf("config change notifications: %v", paths)
	c.checkKafkaLogs(k1)
}

// ask sends req to n alone (a client seeded with n only, on the seed
// connection) and returns n's answer.
func ask[R kmsg.Response](t *testing.T, n *node, req kmsg.Request) R {
	t.Helper()
	cl := newClient(t, []string{n.Addr()})
	resp, err := cl.SeedBrokers()[0].Request(ctxT(t, 15*time.Second), req)
	if err != nil {
		t.Fatalf("%T to %s: %v", req, n, err)
	}
	return resp.(R)
}

// alterConfigs sets name=value pairs on one resource with
// IncrementalAlterConfigs sent to via.
func (c *cluster) alterConfigs(via *node, typ kmsg.ConfigResourceType, name string, kv ...string) {
	c.t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = typ, name
	for i := 0; i+1 < len(kv); i += 2 {
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Op, cfg.Value = kv[i], kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(kv[i+1])
		r.Configs = append(r.Configs, cfg)
	}
	req.Resources = append(req.Resources, r)
	resp := ask[*kmsg.IncrementalAlterConfigsResponse](c.t, via, req)
	if err := kerr.ErrorForCode(resp.Resources[0].ErrorCode); err != nil {
		c.t.Fatalf("IncrementalAlterConfigs %v %q %v through %s: %v %s", typ, name, kv, via, err, deref(resp.Resources[0].ErrorMessage))
	}
}

// waitConfig waits until n's DescribeConfigs of the resource shows key
// with value and source.
func (c *cluster) waitConfig(n *node, typ kmsg.ConfigResourceType, name, key, value string, source kmsg.ConfigSource) {
	c.t.Helper()
	waitFor(c.t, fmt.Sprintf("%s describes %v %q %s=%s (%v)", n, typ, name, key, value, source), 10*time.Second, func() (bool, string) {
		req := kmsg.NewPtrDescribeConfigsRequest()
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName, r.ConfigNames = typ, name, []string{key}
		req.Resources = append(req.Resources, r)
		resp := ask[*kmsg.DescribeConfigsResponse](c.t, n, req)
		got := resp.Resources[0]
		if got.ErrorCode != 0 {
			return false, fmt.Sprintf("error %v %s", kerr.ErrorForCode(got.ErrorCode), deref(got.ErrorMessage))
		}
		for _, cfg := range got.Configs {
			if cfg.Name == key {
				v := deref(cfg.Value)
				return v == value && cfg.Source == source, fmt.Sprintf("%s=%s (%v)", key, v, cfg.Source)
			}
		}
		return false, "not listed"
	})
}

// alterQuota sets one quota of an entity (entity type -> name) with
// AlterClientQuotas sent to via.
func (c *cluster) alterQuota(via *node, entity map[string]string, key string, value float64) {
	c.t.Helper()
	req := kmsg.NewPtrAlterClientQuotasRequest()
	e := kmsg.NewAlterClientQuotasRequestEntry()
	for typ, name := range entity {
		ec := kmsg.NewAlterClientQuotasRequestEntryEntity()
		ec.Type, ec.Name = typ, kmsg.StringPtr(name)
		e.Entity = append(e.Entity, ec)
	}
	op := kmsg.NewAlterClientQuotasRequestEntryOp()
	op.Key, op.Value = key, value
	e.Ops = append(e.Ops, op)
	req.Entries = append(req.Entries, e)
	resp := ask[*kmsg.AlterClientQuotasResponse](c.t, via, req)
	if err := kerr.ErrorForCode(resp.Entries[0].ErrorCode); err != nil {
		c.t.Fatalf("AlterClientQuotas %v through %s: %v %s", entity, via, err, deref(resp.Entries[0].ErrorMessage))
	}
}

// waitQuota waits until n's DescribeClientQuotas (strict, exact match of
// every component) lists exactly that entity with key=value.
func (c *cluster) waitQuota(n *node, entity map[string]string, key string, value float64) {
	c.t.Helper()
	waitFor(c.t, fmt.Sprintf("%s lists quota %v %s=%v", n, entity, key, value), 10*time.Second, func() (bool, string) {
		req := kmsg.NewPtrDescribeClientQuotasRequest()
		req.Strict = true
		for typ, name := range entity {
			comp := kmsg.NewDescribeClientQuotasRequestComponent()
			comp.EntityType, comp.MatchType, comp.Match = typ, kmsg.QuotasMatchTypeExact, kmsg.StringPtr(name)
			req.Components = append(req.Components, comp)
		}
		resp := ask[*kmsg.DescribeClientQuotasResponse](c.t, n, req)
		if resp.ErrorCode != 0 {
			return false, fmt.Sprintf("error %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		var s string
		for _, e := range resp.Entries {
			got := map[string]string{}
			for _, ec := range e.Entity {
				if ec.Name != nil {
					got[ec.Type] = *ec.Name
				}
			}
			for _, v := range e.Values {
				s += fmt.Sprintf("%v %s=%v; ", got, v.Key, v.Value)
				if fmt.Sprint(got) == fmt.Sprint(entity) && v.Key == key && v.Value == value && len(resp.Entries) == 1 {
					return true, s
				}
			}
		}
		return false, s
	})
}

// listQuotas is every quota n lists (DescribeClientQuotas with no
// filter), one line each, entity parts in the order n gave them, sorted.
func listQuotas(t *testing.T, n *node) []string {
	resp := ask[*kmsg.DescribeClientQuotasResponse](t, n, kmsg.NewPtrDescribeClientQuotasRequest())
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("DescribeClientQuotas at %s: %v", n, err)
	}
	var out []string
	for _, e := range resp.Entries {
		var parts []string
		for _, ec := range e.Entity {
			parts = append(parts, ec.Type+"="+deref(ec.Name))
		}
		for _, v := range e.Values {
			out = append(out, fmt.Sprintf("%s %s=%v", strings.Join(parts, ","), v.Key, v.Value))
		}
	}
	slices.Sort(out)
	return out
}

// throttleCounter counts produce responses with a throttle time, per
// broker (kgo's OnBrokerThrottle hook).
type throttleCounter struct{ by [8]atomic.Int32 }

func (h *throttleCounter) OnBrokerThrottle(meta kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 && meta.NodeID >= 0 && int(meta.NodeID) < len(h.by) {
		h.by[meta.NodeID].Add(1)
	}
}

// waitThrottled produces 7000-byte records with clientID to topic's
// partition p (led by broker leader) until leader answers one with a
// throttle time (at most six: the 1024 B/s quota is measured over at
// least ten 1 s windows, so the second or third exceeds it).
func waitThrottled(t *testing.T, seeds []string, clientID, topic string, p, leader int32) {
	t.Helper()
	h := &throttleCounter{}
	cl := newClient(t, seeds, kgo.ClientID(clientID), kgo.WithHooks(h), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.LeaderAck()), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx := ctxT(t, 45*time.Second)
	value := make([]byte, 7000)
	for i := 0; i < 6; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: value}).FirstErr(); err != nil {
			t.Fatalf("produce as %q to %s-%d: %v", clientID, topic, p, err)
		}
		if h.by[leader].Load() > 0 {
			t.Logf("client %q throttled by broker %d after %d produces of 7000 bytes", clientID, leader, i+1)
			return
		}
	}
	t.Fatalf("client %q never throttled by broker %d after 42000 bytes at 1024 B/s", clientID, leader)
}

// waitProduce produces one record of size bytes to topic's partition p
// until the result is want (nil: acknowledged), for at most 10 s: a
// change another broker wrote to ZooKeeper takes a notification to
// apply.
func waitProduce(t *testing.T, cl *kgo.Client, topic string, p int32, size int, want error) {
	t.Helper()
	waitFor(t, fmt.Sprintf("produce of %d bytes to %s-%d gets %v", size, topic, p, want), 10*time.Second, func() (bool, string) {
		ctx := ctxT(t, 10*time.Second)
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: make([]byte, size)}).FirstErr()
		if want == nil {
			return err == nil, fmt.Sprint(err)
		}
		return errors.Is(err, want), fmt.Sprint(err)
	})
}

// waitProduceAt is waitProduce of a small record with timestamp ts.
func waitProduceAt(t *testing.T, cl *kgo.Client, topic string, p int32, ts time.Time, want error) {
	t.Helper()
	waitFor(t, fmt.Sprintf("produce at %v to %s-%d gets %v", ts.Format(time.TimeOnly), topic, p, want), 10*time.Second, func() (bool, string) {
		err := cl.ProduceSync(ctxT(t, 10*time.Second), &kgo.Record{Topic: topic, Partition: p, Value: []byte("ts"), Timestamp: ts}).FirstErr()
		if want == nil {
			return err == nil, fmt.Sprint(err)
		}
		return errors.Is(err, want), fmt.Sprint(err)
	})
}

// describeACLs lists every ACL n knows, one line each, sorted.
func describeACLs(t *testing.T, n *node) []string {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	resp := ask[*kmsg.DescribeACLsResponse](t, n, req)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("DescribeAcls at %s: %v", n, err)
	}
	var out []string
	for _, r := range resp.Resources {
		for _, a := range r.ACLs {
			out = append(out, fmt.Sprintf("%s:%s:%s %s@%s %s %s", r.ResourceType, r.ResourcePatternType, r.ResourceName, a.Principal, a.Host, a.Operation, a.PermissionType))
		}
	}
	slices.Sort(out)
	return out
}

// znodeJSON is the znode at kafkaPath (under the chroot /kafka),
// re-encoded with sorted keys so that two writers' JSON compare equal
// when they mean the same.
func (c *cluster) znodeJSON(kafkaPath string) string {
	c.t.Helper()
	data, _, err := c.conn.Get("/kafka" + kafkaPath)
	if err != nil {
		c.t.Fatalf("read %s: %v", kafkaPath, err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return "invalid JSON: " + string(data)
	}
	out, _ := json.Marshal(v) // maps are marshalled with sorted keys
	return string(out)
}

// waitFor polls cond every 200 ms until it holds, and fails the test
// with cond's last description after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last: %s", what, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// deref is *s, or "<null>".
func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}
