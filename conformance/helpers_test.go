package conformance

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// createTopic creates a topic on both brokers (and compares the answers).
func (c *sc) createTopic(name string, partitions int32, configs map[string]string) {
	c.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis = 7, 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	for k, v := range configs {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, cfg)
	}
	req.Topics = append(req.Topics, rt)
	k, _ := c.same(req)
	if k.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode != 0 {
		c.t.Fatalf("kafka could not create %s: error %d", name, k.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode)
	}
	c.waitTopic(name, partitions)
}

// produceReq is a Produce request of one batch to one partition.
func produceReq(version int16, acks int16, topic string, partition int32, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, acks, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// produce appends batch to partition on both brokers with acks=all. A
// Kafka that has just created the topic may still answer
// NOT_LEADER_OR_FOLLOWER or UNKNOWN_TOPIC_OR_PARTITION for a moment (its
// metadata propagates asynchronously): Kafka's side is retried, as a
// client would, until it appends; then both answers are compared.
func (c *sc) produce(topic string, partition int32, batch []byte) {
	c.t.Helper()
	req := produceReq(12, -1, topic, partition, batch)
	var k kmsg.Response
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var err error
		k, err = roundTrip(c.sides[0].Addr, req)
		if err != nil {
			c.t.Fatalf("kafka: setup produce to %s: %v", topic, err)
		}
		code := k.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
		if code == 0 {
			break
		}
		if (code != 3 && code != 6) || time.Now().After(deadline) {
			c.t.Fatalf("kafka refused a setup produce to %s: error %d", topic, code)
		}
	}
	s, err := roundTrip(c.sides[1].Addr, req)
	if err != nil {
		c.t.Fatalf("samsa: setup produce to %s: %v", topic, err)
	}
	c.entry.apis["Produce v12"] = true
	for _, d := range compare(0, k, s) {
		c.fail("Produce v12", d.path, d.kafka, d.samsa)
	}
}

// fetchReq is a full Fetch (no session) of one partition.
func fetchReq(version int16, topic string, partition int32, offset int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes, req.MaxWaitMillis, req.MinBytes = version, 1<<20, 0, 0
	req.SessionID, req.SessionEpoch = 0, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 1<<20
	rp.CurrentLeaderEpoch, rp.LogStartOffset, rp.LastFetchedEpoch = -1, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// withTopicID sets, for Fetch v13+ and Produce v13+, each side's own id
// of the topic (looked up with Metadata).
func (c *sc) topicID(s *side, topic string) [16]byte {
	c.t.Helper()
	key := "topic-id:" + topic
	if id, ok := s.Vals[key]; ok {
		return id.([16]byte)
	}
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := roundTrip(s.Addr, req)
	if err != nil {
		c.t.Fatalf("%s: metadata: %v", s.Name, err)
	}
	id := resp.(*kmsg.MetadataResponse).Topics[0].TopicID
	s.Vals[key] = id
	return id
}

// listOffsetsReq asks for one partition's offset at timestamp ts.
func listOffsetsReq(version int16, topic string, partition int32, ts int64, isolation int8) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID, req.IsolationLevel = version, -1, isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch, rp.MaxNumOffsets = partition, ts, -1, 1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// deleteRecords moves the log start of a partition on both brokers.
func (c *sc) deleteRecords(version int16, topic string, partition int32, before int64) {
	c.t.Helper()
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.Version, req.TimeoutMillis = version, 10000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = partition, before
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	c.same(req)
}

// baseTime is a timestamp a minute in the past, the same for both brokers
// within a scenario (and within message.timestamp.*.max.ms).
func baseTime() int64 { return time.Now().Add(-time.Minute).UnixMilli() }

func ptr[T any](v T) *T { return &v }

// waitTopic waits until both brokers list topic in Metadata with at least
// the given number of partitions (default 1) led, without comparing:
// Kafka's brokers learn of new topics and partitions asynchronously.
func (c *sc) waitTopic(topic string, partitions ...int32) {
	c.t.Helper()
	want := 1
	if len(partitions) > 0 {
		want = int(partitions[0])
	}
	for _, s := range c.sides {
		deadline := time.Now().Add(15 * time.Second)
		for {
			r, err := roundTrip(s.Addr, metadataReq(12, topic))
			if err == nil {
				mt := r.(*kmsg.MetadataResponse).Topics[0]
				led := 0
				for _, p := range mt.Partitions {
					if p.Leader >= 0 {
						led++
					}
				}
				if mt.ErrorCode == 0 && led >= want {
					break
				}
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("%s: topic %s not ready after 15s", s.Name, topic)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
