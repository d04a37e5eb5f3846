package conformance

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestApiVersions compares the version ranges of the APIs Samsa serves
// (APIs Samsa does not implement yet are left out; the README lists
// them) and the answer to an unsupported ApiVersions version (KIP-511).
func TestApiVersions(t *testing.T) {
	c := scenario(t)
	for _, v := range []int16{0, 3, 4} {
		c.at("v%d", v)
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName, req.ClientSoftwareVersion = "conformance", "1.0"
		k, s := roundTripBoth(c, req)
		if k == nil || s == nil {
			c.fail("ApiVersions", "", describeAnswer(k), describeAnswer(s))
			continue
		}
		ka, sa := k.(*kmsg.ApiVersionsResponse), s.(*kmsg.ApiVersionsResponse)
		served := map[int16]bool{}
		for _, a := range sa.ApiKeys {
			served[a.ApiKey] = true
		}
		var kept []kmsg.ApiVersionsResponseApiKey
		for _, a := range ka.ApiKeys {
			if served[a.ApiKey] {
				kept = append(kept, a)
			}
		}
		ka.ApiKeys = kept
		c.entry.apis["ApiVersions v"+itoa(v)] = true
		for _, d := range compare(18, ka, sa) {
			c.fail("ApiVersions v"+itoa(v), d.path, d.kafka, d.samsa)
		}
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 99
	c.at("unsupported version 99")
	k, s := roundTripBoth(c, req)
	if (k == nil) != (s == nil) {
		c.fail("ApiVersions v99", "", describeAnswer(k), describeAnswer(s))
	}
}

// roundTripBoth sends req to both brokers without comparing.
func roundTripBoth(c *sc, req kmsg.Request) (kmsg.Response, kmsg.Response) {
	c.t.Helper()
	var out [2]kmsg.Response
	for i, s := range c.sides {
		r, err := roundTrip(s.Addr, req)
		if err != nil && err != errNoAnswer {
			if req.GetVersion() == 99 {
				continue // an unparsable v99 answer counts as an answer
			}
			c.t.Fatalf("%s: %v", s.Name, err)
		}
		out[i] = r
	}
	return out[0], out[1]
}

func itoa(v int16) string { return strconv.Itoa(int(v)) }

func metadataReq(version int16, topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = version
	req.AllowAutoTopicCreation = false
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// TestMetadata: known, unknown and repeated topics, authorized operations
// (KIP-430: with no authorizer Kafka fills every operation the resource
// supports), auto-creation.
func TestMetadata(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 2, nil)
	c.at("v0 known topic")
	c.same(metadataReq(0, topic))
	for _, v := range []int16{1, 4, 8, 10, 12, 13} {
		c.at("known and unknown")
		unknown := c.topic("nope" + itoa(v))
		c.same(metadataReq(v, topic, unknown))
		if v < 4 {
			c.waitTopic(unknown) // v1-v3 imply auto-creation
		}
		c.at("repeated topic")
		c.same(metadataReq(v, topic, topic))
		if v >= 8 {
			c.at("authorized operations")
			req := metadataReq(v, topic)
			req.IncludeTopicAuthorizedOperations = true
			if v <= 10 {
				req.IncludeClusterAuthorizedOperations = true
			}
			c.same(req)
		}
		if v >= 4 {
			c.at("auto-create")
			auto := c.topic("auto" + itoa(v))
			req := metadataReq(v, auto)
			req.AllowAutoTopicCreation = true
			c.same(req)
			c.waitTopic(auto)
			c.same(metadataReq(v, auto))
		}
	}
	c.at("all topics")
	all := kmsg.NewPtrMetadataRequest()
	all.Version = 12
	k, sm := roundTripBoth(c, all)
	for _, mine := range []string{topic} {
		in := func(r kmsg.Response) bool {
			for _, t := range r.(*kmsg.MetadataResponse).Topics {
				if t.Topic != nil && *t.Topic == mine {
					return true
				}
			}
			return false
		}
		if in(k) != in(sm) {
			c.fail("Metadata v12", "Topics["+mine+"] in all topics", fmt.Sprint(in(k)), fmt.Sprint(in(sm)))
		}
	}
	c.at("invalid topic name")
	req := metadataReq(12, "bad name!")
	req.AllowAutoTopicCreation = true
	c.same(req)
}

// TestDescribeCluster: with and without authorized operations.
func TestDescribeCluster(t *testing.T) {
	c := scenario(t)
	for _, v := range []int16{0, 1, 2} {
		for _, ops := range []bool{false, true} {
			c.at("include_cluster_authorized_operations=%v", ops)
			req := kmsg.NewPtrDescribeClusterRequest()
			req.Version, req.IncludeClusterAuthorizedOperations = v, ops
			if v >= 1 {
				req.EndpointType = 1
			}
			c.same(req)
		}
	}
}

func createTopicsReq(version int16, validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis, req.ValidateOnly = version, 30000, validateOnly
	req.Topics = topics
	return req
}

func newTopic(name string, partitions int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	for i := 0; i+1 < len(configs); i += 2 {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = configs[i], kmsg.StringPtr(configs[i+1])
		rt.Configs = append(rt.Configs, cfg)
	}
	return rt
}

// TestCreateTopics: success with defaults and configs, validate-only,
// errors (exists, bad partitions, bad replication factor, bad configs,
// unknown configs, invalid names, internal names, repeated in one request).
func TestCreateTopics(t *testing.T) {
	c := scenario(t)
	for _, v := range []int16{2, 4, 5, 7} {
		name := func(s string) string { return c.topic(s + itoa(v)) }
		c.at("defaults")
		c.same(createTopicsReq(v, false, newTopic(name("a"), -1, -1)))
		c.at("configs")
		c.same(createTopicsReq(v, false, newTopic(name("b"), 3, 1, "retention.ms", "1000", "cleanup.policy", "compact")))
		c.at("exists")
		c.same(createTopicsReq(v, false, newTopic(name("b"), 3, 1)))
		c.at("validate only")
		c.same(createTopicsReq(v, true, newTopic(name("c"), 2, 1)))
		c.same(createTopicsReq(v, false, newTopic(name("c"), 0, 1)))
		c.at("bad replication factor")
		c.same(createTopicsReq(v, false, newTopic(name("d"), 1, 3)))
		c.same(createTopicsReq(v, false, newTopic(name("d"), 1, 0)))
		c.at("bad config value")
		c.same(createTopicsReq(v, false, newTopic(name("e"), 1, 1, "retention.ms", "soon")))
		c.at("unknown config")
		c.same(createTopicsReq(v, false, newTopic(name("f"), 1, 1, "no.such.config", "1")))
		c.at("invalid names")
		c.same(createTopicsReq(v, false, newTopic("bad name!", 1, 1), newTopic("..", 1, 1), newTopic("", 1, 1)))
		c.at("repeated in one request")
		c.same(createTopicsReq(v, false, newTopic(name("g"), 1, 1), newTopic(name("g"), 1, 1)))
		c.at("assignments")
		rt := newTopic(name("h"), -1, -1)
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = 0, []int32{0}
		a2 := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a2.Partition, a2.Replicas = 1, []int32{7}
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a, a2)
		c.same(createTopicsReq(v, false, rt))
	}
}

// TestDeleteTopics: by name and by id, unknown, repeated.
func TestDeleteTopics(t *testing.T) {
	c := scenario(t)
	for _, v := range []int16{1, 5, 6} {
		name := c.topic("d" + itoa(v))
		c.createTopic(name, 1, nil)
		c.at("unknown")
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.Version, req.TimeoutMillis = v, 30000
		if v >= 6 {
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = kmsg.StringPtr(name + "-nope")
			req.Topics = append(req.Topics, rt)
		} else {
			req.TopicNames = []string{name + "-nope"}
		}
		c.same(req)
		c.at("existing")
		req = kmsg.NewPtrDeleteTopicsRequest()
		req.Version, req.TimeoutMillis = v, 30000
		if v >= 6 {
			c.do(func(s *side) kmsg.Request {
				r := kmsg.NewPtrDeleteTopicsRequest()
				r.Version, r.TimeoutMillis = v, 30000
				rt := kmsg.NewDeleteTopicsRequestTopic()
				rt.TopicID = c.topicID(s, name)
				r.Topics = append(r.Topics, rt)
				return r
			})
			c.at("unknown id")
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.TopicID = [16]byte{1, 2, 3}
			req.Topics = append(req.Topics, rt)
			c.same(req)
		} else {
			req.TopicNames = []string{name}
			c.same(req)
		}
	}
}

// TestCreatePartitions: grow, same count, shrink, unknown, validate only.
func TestCreatePartitions(t *testing.T) {
	c := scenario(t)
	for _, v := range []int16{0, 3} {
		name := c.topic("p" + itoa(v))
		c.createTopic(name, 1, nil)
		for _, n := range []int32{3, 3, 2} {
			c.at("to %d", n)
			req := kmsg.NewPtrCreatePartitionsRequest()
			req.Version, req.TimeoutMillis = v, 30000
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = name, n
			rt2 := kmsg.NewCreatePartitionsRequestTopic()
			rt2.Topic, rt2.Count = name+"-nope", n
			req.Topics = append(req.Topics, rt, rt2)
			c.same(req)
			c.waitTopic(name, n)
		}
		c.at("validate only")
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Version, req.TimeoutMillis, req.ValidateOnly = v, 30000, true
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = name, 5
		req.Topics = append(req.Topics, rt)
		c.same(req)
		c.same(metadataReq(12, name))
	}
}

func describeConfigsReq(version int16, synonyms, docs bool, resources ...kmsg.DescribeConfigsRequestResource) *kmsg.DescribeConfigsRequest {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version, req.IncludeSynonyms, req.IncludeDocumentation = version, synonyms, docs
	req.Resources = resources
	return req
}

func configResource(typ kmsg.ConfigResourceType, name string, keys ...string) kmsg.DescribeConfigsRequestResource {
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName = typ, name
	if keys != nil {
		r.ConfigNames = keys
	}
	return r
}

// TestDescribeConfigs: a topic's whole config with and without
// synonyms, selected keys, unknown topics, the broker's selected keys.
func TestDescribeConfigs(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 1, map[string]string{"retention.ms": "12345", "cleanup.policy": "compact"})
	for _, v := range []int16{1, 4} {
		c.at("whole topic")
		c.same(describeConfigsReq(v, v >= 1, v >= 3, configResource(kmsg.ConfigResourceTypeTopic, topic)))
		c.at("selected keys")
		c.same(describeConfigsReq(v, v >= 1, false, configResource(kmsg.ConfigResourceTypeTopic, topic, "retention.ms", "segment.bytes", "no.such.key")))
		c.at("unknown topic")
		c.same(describeConfigsReq(v, false, false, configResource(kmsg.ConfigResourceTypeTopic, topic+"-nope")))
		c.at("broker keys")
		c.same(describeConfigsReq(v, v >= 1, false, configResource(kmsg.ConfigResourceTypeBroker, "0",
			"num.partitions", "log.retention.hours", "message.max.bytes", "auto.create.topics.enable", "log.segment.bytes",
			"max.connections", "max.connections.per.ip", "max.connections.per.ip.overrides", "quota.window.num", "quota.window.size.seconds")))
		c.at("other broker")
		c.same(describeConfigsReq(v, false, false, configResource(kmsg.ConfigResourceTypeBroker, "7", "num.partitions")))
	}
}

// TestAlterConfigs: AlterConfigs and IncrementalAlterConfigs on topics,
// valid, invalid, unknown, validate-only; then describe.
func TestAlterConfigs(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 1, nil)
	for _, v := range []int16{0, 2} {
		for _, kv := range [][2]string{{"retention.ms", "5000"}, {"retention.ms", "never"}, {"no.such.key", "1"}, {"min.insync.replicas", "0"}} {
			c.at("AlterConfigs %s=%s", kv[0], kv[1])
			req := kmsg.NewPtrAlterConfigsRequest()
			req.Version = v
			r := kmsg.NewAlterConfigsRequestResource()
			r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
			cfg := kmsg.NewAlterConfigsRequestResourceConfig()
			cfg.Name, cfg.Value = kv[0], kmsg.StringPtr(kv[1])
			r.Configs = append(r.Configs, cfg)
			r2 := kmsg.NewAlterConfigsRequestResource()
			r2.ResourceType, r2.ResourceName = kmsg.ConfigResourceTypeTopic, topic+"-nope"
			r2.Configs = append(r2.Configs, cfg)
			req.Resources = append(req.Resources, r, r2)
			c.same(req)
		}
	}
	for _, v := range []int16{0, 1} {
		for _, op := range []kmsg.IncrementalAlterConfigOp{kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete, kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract} {
			for _, kv := range [][2]string{{"retention.ms", "7000"}, {"cleanup.policy", "compact"}, {"segment.bytes", "1"}, {"no.such.key", "1"}, {"retention.ms", "never"}} {
				c.at("IncrementalAlterConfigs op %d %s=%s", op, kv[0], kv[1])
				req := kmsg.NewPtrIncrementalAlterConfigsRequest()
				req.Version = v
				r := kmsg.NewIncrementalAlterConfigsRequestResource()
				r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
				cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
				cfg.Name, cfg.Value, cfg.Op = kv[0], kmsg.StringPtr(kv[1]), op
				r.Configs = append(r.Configs, cfg)
				r2 := kmsg.NewIncrementalAlterConfigsRequestResource()
				r2.ResourceType, r2.ResourceName = kmsg.ConfigResourceTypeTopic, topic+"-nope"
				r2.Configs = append(r2.Configs, cfg)
				req.Resources = append(req.Resources, r, r2)
				c.same(req)
			}
		}
	}
	c.at("after")
	c.same(describeConfigsReq(4, false, false, configResource(kmsg.ConfigResourceTypeTopic, topic, "retention.ms", "cleanup.policy", "segment.bytes")))
}

// TestDescribeTopicPartitions: known, unknown, paging cursor.
func TestDescribeTopicPartitions(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 3, nil)
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.Version, req.ResponsePartitionLimit = 0, 2
	for _, n := range []string{topic, topic + "-nope"} {
		rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
		rt.Topic = n
		req.Topics = append(req.Topics, rt)
	}
	c.at("limit 2")
	c.same(req)
	c.at("cursor")
	req.Cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: topic, Partition: 2}
	c.same(req)
}

// TestDescribeLogDirs: selected topics (the brokers' other topics differ).
func TestDescribeLogDirs(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 2, nil)
	c.produce(topic, 1, makeBatch(batchOpts{firstTs: baseTime(), pid: -1, epoch: -1, seq: -1}, values("a", "b")...))
	for _, v := range []int16{1, 4, 5} {
		req := kmsg.NewPtrDescribeLogDirsRequest()
		req.Version = v
		rt := kmsg.NewDescribeLogDirsRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0, 1, 5}
		req.Topics = append(req.Topics, rt)
		c.same(req)
	}
}

// TestVersionsOutsideRange sends, for every API Samsa serves, a request
// one version below and one above the range Kafka advertises: both
// brokers must close the connection (Kafka answers no unsupported
// version except ApiVersions, KIP-511).
func TestVersionsOutsideRange(t *testing.T) {
	c := scenario(t)
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	av.ClientSoftwareName, av.ClientSoftwareVersion = "conformance", "1.0"
	k, s := roundTripBoth(c, av)
	served := map[int16]bool{}
	for _, a := range s.(*kmsg.ApiVersionsResponse).ApiKeys {
		served[a.ApiKey] = true
	}
	for _, a := range k.(*kmsg.ApiVersionsResponse).ApiKeys {
		if !served[a.ApiKey] || a.ApiKey == 18 {
			continue
		}
		for _, v := range []int16{a.MinVersion - 1, a.MaxVersion + 1} {
			req := kmsg.RequestForKey(a.ApiKey)
			if req == nil || v < 0 || v > req.MaxVersion() {
				continue // kmsg cannot encode it
			}
			req.SetVersion(v)
			c.at("%s v%d", kmsg.NameForKey(a.ApiKey), v)
			c.same(req)
		}
	}
}
