package conformance

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestListOffsetsAfterDeleteRecordsInsideBatch: a batch with offsets 0-3
// and out-of-order timestamps, a second batch, then the log start moved
// into the first batch. Lookups by time must judge each record by its own
// timestamp and offset, not the batch's.
func TestListOffsetsAfterDeleteRecordsInsideBatch(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 1, nil)
	T := baseTime()
	c.produce(topic, 0, makeBatch(batchOpts{firstTs: T + 10, pid: -1, epoch: -1, seq: -1},
		rec{value: []byte("a"), tsDelta: 0}, rec{value: []byte("b"), tsDelta: 80},
		rec{value: []byte("c"), tsDelta: 10}, rec{value: []byte("d"), tsDelta: 20}))
	c.produce(topic, 0, makeBatch(batchOpts{firstTs: T + 40, pid: -1, epoch: -1, seq: -1}, values("e")...))
	probe := func() {
		for _, v := range []int16{1, 10} {
			for _, ts := range []int64{-1, -2, -3, -4, T, T + 35, T + 50, T + 90} {
				if ts == -3 && v < 7 || ts == -4 && v < 8 {
					continue
				}
				c.at("timestamp %s", relTs(ts, T))
				c.same(listOffsetsReq(v, topic, 0, ts, 0))
			}
		}
	}
	probe()
	c.deleteRecords(2, topic, 0, 2)
	probe()
	c.deleteRecords(2, topic, 0, 4)
	probe()
}

// TestFetchOutOfRange: offsets below the log start, at and above the end.
func TestFetchOutOfRange(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 1, nil)
	c.produce(topic, 0, makeBatch(batchOpts{firstTs: baseTime(), pid: -1, epoch: -1, seq: -1}, values("0", "1", "2", "3", "4")...))
	c.deleteRecords(0, topic, 0, 2)
	for _, v := range []int16{4, 12} {
		for _, off := range []int64{0, 1, 2, 4, 5, 6, 100} {
			c.at("offset %d", off)
			c.same(fetchReq(v, topic, 0, off))
		}
	}
	for _, off := range []int64{1, 2, 5, 6} {
		c.at("offset %d", off)
		c.do(func(s *side) kmsg.Request {
			r := fetchReq(18, "", 0, off)
			r.Topics[0].TopicID = c.topicID(s, topic)
			return r
		})
	}
}

// TestFetchUnknown: unknown topics, partitions and topic ids.
func TestFetchUnknown(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 1, nil)
	for _, v := range []int16{4, 12} {
		c.same(fetchReq(v, topic+"-nope", 0, 0))
		c.same(fetchReq(v, topic, 7, 0))
		c.same(fetchReq(v, topic, -1, 0))
	}
	c.same(fetchReq(18, "", 0, 0)) // zero topic id
	c.do(func(s *side) kmsg.Request {
		r := fetchReq(18, "", 3, 0)
		r.Topics[0].TopicID = c.topicID(s, topic)
		return r
	})
}

// TestFetchSessionSentinels: kafka-go sends session id -1 and epoch -1;
// epoch -1 and 0 are full fetches (KIP-227), an unknown session at epoch
// > 0 is FETCH_SESSION_ID_NOT_FOUND.
func TestFetchSessionSentinels(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 1, nil)
	c.produce(topic, 0, makeBatch(batchOpts{firstTs: baseTime(), pid: -1, epoch: -1, seq: -1}, values("x", "y")...))
	for _, se := range [][2]int32{{-1, -1}, {0, -1}, {0, 0}, {12345, 1}, {12345, -1}} {
		r := fetchReq(12, topic, 0, 0)
		r.SessionID, r.SessionEpoch = se[0], se[1]
		c.at("session id %d epoch %d", se[0], se[1])
		c.same(r)
	}
}

// TestTopicCompressionType: a topic's compression.type decides how batches
// are stored (Kafka recompresses on append; producer keeps what was sent).
func TestTopicCompressionType(t *testing.T) {
	c := scenario(t)
	T := baseTime()
	for _, codec := range []string{"producer", "uncompressed", "gzip", "lz4", "zstd", "snappy"} {
		topic := c.topic(codec)
		c.at("compression.type=%s", codec)
		c.createTopic(topic, 1, map[string]string{"compression.type": codec})
		c.produce(topic, 0, makeBatch(batchOpts{firstTs: T, pid: -1, epoch: -1, seq: -1}, values("plain-1", "plain-2")...))
		c.produce(topic, 0, makeBatch(batchOpts{firstTs: T, pid: -1, epoch: -1, seq: -1, codec: kgo.CodecGzip}, values("gzip-1", "gzip-2")...))
		c.same(fetchReq(12, topic, 0, 0))
	}
}

// TestMinInsyncAboveReplicationFactor: min.insync.replicas=2 on a topic
// with one replica; Kafka 3.7+ caps the minimum at the replication factor
// (KAFKA-15583).
func TestMinInsyncAboveReplicationFactor(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 1, map[string]string{"min.insync.replicas": "2"})
	T := baseTime()
	for _, acks := range []int16{-1, 1, 0} {
		if acks == 0 {
			continue // no answer from either
		}
		c.at("acks %d", acks)
		c.same(produceReq(12, acks, topic, 0, makeBatch(batchOpts{firstTs: T, pid: -1, epoch: -1, seq: -1}, values("m")...)))
	}
	c.same(fetchReq(12, topic, 0, 0))
}

// TestProduceErrors: unknown topics and partitions, bad acks, internal
// topics, old versions.
func TestProduceErrors(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 1, nil)
	b := makeBatch(batchOpts{firstTs: baseTime(), pid: -1, epoch: -1, seq: -1}, values("v")...)
	for _, v := range []int16{3, 12} {
		c.same(produceReq(v, 1, topic+"-nope", 0, b))
		c.same(produceReq(v, 1, topic, 5, b))
		c.same(produceReq(v, 2, topic, 0, b))
		c.same(produceReq(v, 1, "__consumer_offsets", 0, b))
	}
	c.same(produceReq(2, 1, topic, 0, b))
	c.same(produceReq(0, 1, topic, 0, b))
	c.do(func(s *side) kmsg.Request {
		r := produceReq(13, 1, "", 0, b)
		r.Topics[0].TopicID = c.topicID(s, topic)
		return r
	})
	c.same(fetchReq(12, topic, 0, 0))
}

// TestListOffsetsErrors: unknown topics and partitions, every special
// timestamp on an empty log.
func TestListOffsetsErrors(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 2, nil)
	c.produce(topic, 0, makeBatch(batchOpts{firstTs: baseTime(), pid: -1, epoch: -1, seq: -1}, values("a", "b")...))
	for _, v := range []int16{1, 10, 11} {
		c.same(listOffsetsReq(v, topic+"-nope", 0, -1, 0))
		c.same(listOffsetsReq(v, topic, 9, -1, 0))
		for _, ts := range []int64{-1, -2, -3, -4, -5, -6, -7, 0, 1} {
			if ts == -3 && v < 7 || ts == -4 && v < 8 || ts == -5 && v < 9 || ts <= -6 && v < 11 {
				continue
			}
			c.at("timestamp %d, partition 0", ts)
			c.same(listOffsetsReq(v, topic, 0, ts, 0))
			c.at("timestamp %d, empty partition", ts)
			c.same(listOffsetsReq(v, topic, 1, ts, 1))
		}
	}
}

// TestDeleteRecords: below, at and above the high watermark, -1 (to the
// high watermark), unknown partitions.
func TestDeleteRecords(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 1, nil)
	c.produce(topic, 0, makeBatch(batchOpts{firstTs: baseTime(), pid: -1, epoch: -1, seq: -1}, values("0", "1", "2")...))
	for _, before := range []int64{1, 0, 5, -1, 3} {
		c.at("before %d", before)
		for _, v := range []int16{0, 2} {
			req := kmsg.NewPtrDeleteRecordsRequest()
			req.Version, req.TimeoutMillis = v, 10000
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Partition, rp.Offset = 0, before
			rp2 := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp2.Partition, rp2.Offset = 4, 0
			rt.Partitions = append(rt.Partitions, rp, rp2)
			req.Topics = append(req.Topics, rt)
			c.same(req)
		}
	}
}

// TestOffsetForLeaderEpoch: known, future and unknown epochs.
func TestOffsetForLeaderEpoch(t *testing.T) {
	c := scenario(t)
	topic := c.topic("")
	c.createTopic(topic, 1, nil)
	c.createTopic(topic+".empty", 1, nil)
	for _, epoch := range []int32{-1, 0, 1} {
		c.at("empty log, epoch %d", epoch)
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.Version, req.ReplicaID = 4, -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic + ".empty"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch, rp.CurrentLeaderEpoch = 0, epoch, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		c.same(req)
	}
	c.produce(topic, 0, makeBatch(batchOpts{firstTs: baseTime(), pid: -1, epoch: -1, seq: -1}, values("0", "1")...))
	for _, v := range []int16{2, 4} {
		for _, epoch := range []int32{0, 1, -1, 5} {
			c.at("epoch %d", epoch)
			req := kmsg.NewPtrOffsetForLeaderEpochRequest()
			req.Version, req.ReplicaID = v, -1
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition, rp.LeaderEpoch, rp.CurrentLeaderEpoch = 0, epoch, -1
			rp2 := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp2.Partition, rp2.LeaderEpoch, rp2.CurrentLeaderEpoch = 3, epoch, -1
			rt.Partitions = append(rt.Partitions, rp, rp2)
			req.Topics = append(req.Topics, rt)
			c.same(req)
		}
	}
}

// relTs shows a timestamp relative to the scenario's base time.
func relTs(ts, base int64) string {
	if ts < 0 {
		return fmt.Sprint(ts)
	}
	return fmt.Sprintf("T%+d", ts-base)
}
