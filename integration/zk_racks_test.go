package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
	"samsa/replica"
)

// rackCluster is a three-broker ZooKeeper cluster with broker.rack a, b
// and c for brokers 1, 2 and 3, each with its HTTP listener (metrics) at
// httpBase[id], and the given extra properties per broker.
type rackCluster struct {
	*zkCluster
	httpBase map[int32]string
}

func startRackCluster(t *testing.T, extra func(id int32) []string) *rackCluster {
	t.Helper()
	rc := &rackCluster{httpBase: map[int32]string{}}
	ports := map[int32]int{}
	for id := int32(1); id <= 3; id++ {
		ports[id] = testbroker.FreePort(t)
		rc.httpBase[id] = fmt.Sprintf("http://127.0.0.1:%d", ports[id])
	}
	rc.zkCluster = startZKClusterEach(t, 3, func(id int32) []string {
		return append([]string{
			"broker.rack=" + string(rune('a'+id-1)),
			fmt.Sprintf("samsa.http.listeners=http://127.0.0.1:%d", ports[id]),
		}, extra(id)...)
	})
	rc.waitAgree("cluster formed", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		return len(m.Brokers) == 3 && m.ControllerID > 0
	})
	return rc
}

// createAssigned creates a one-partition topic whose replicas are exactly
// replicas (the first is the preferred leader) and waits until all of
// them are in sync everywhere.
func (rc *rackCluster) createAssigned(topic string, replicas ...int32) {
	rc.t.Helper()
	cl := newClient(rc.t, rc.seeds()[0], kgo.SeedBrokers(rc.seeds()...))
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(ctxT(rc.t), cl)
	if err != nil {
		rc.t.Fatalf("CreateTopics %s: %v", topic, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		rc.t.Fatalf("CreateTopics %s: %v", topic, err)
	}
	rc.waitAgree(topic+" led by "+strconv.Itoa(int(replicas[0])), 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, topic, 0)
		return mp.Leader == replicas[0] && len(mp.ISR) == len(replicas)
	})
}

// produceN produces n records "<topic>-<i>" to the topic with acks=all.
func (rc *rackCluster) produceN(topic string, n int) {
	rc.t.Helper()
	cl := newClient(rc.t, rc.seeds()[0], kgo.SeedBrokers(rc.seeds()...), kgo.DefaultProduceTopic(topic))
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: []byte(topic + "-" + strconv.Itoa(i))}
	}
	if err := cl.ProduceSync(ctxT(rc.t), recs...).FirstErr(); err != nil {
		rc.t.Fatalf("produce to %s: %v", topic, err)
	}
}

// topicCounter is broker id's BrokerTopicMetrics counter name for topic
// (0 when the broker has no series for it).
func (rc *rackCluster) topicCounter(id int32, name, topic string) float64 {
	rc.t.Helper()
	v, _ := metricValue(scrape(rc.t, rc.httpBase[id]), name, "topic", topic)
	return v
}

// consumerFetch sends one consumer Fetch of topic-0 at offset with the
// given version and rack_id to broker id on a raw connection.
func (rc *rackCluster) consumerFetch(id int32, version int16, topic, rack string, offset int64) kmsg.FetchResponseTopicPartition {
	rc.t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = version, -1, 0, 1, 1<<20
	req.SessionEpoch, req.Rack = -1, rack
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 0, offset, 1<<20, -1
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	conn := dialRawConn(rc.t, rc.brokers[id].Addr())
	if err := conn.send(req); err != nil {
		rc.t.Fatal(err)
	}
	r, err := conn.recv(req, 10*time.Second)
	if err != nil {
		rc.t.Fatalf("Fetch v%d to broker %d: %v", version, id, err)
	}
	resp := r.(*kmsg.FetchResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		rc.t.Fatalf("Fetch v%d to broker %d: %+v", version, id, resp)
	}
	return resp.Topics[0].Partitions[0]
}

// TestZKFetchFromClosestReplica (KIP-392): brokers in racks a, b and c.
// Topic "near" is led by broker 1 (rack a, replica.selector.class =
// RackAwareReplicaSelector): a franz-go consumer with rack c reads every
// record, and the record bytes went out of broker 3, the rack-c follower
// (its BrokerTopicMetrics BytesOut for the topic covers the whole log;
// nothing else fetches from a follower). Topic "far" is led by broker 2,
// which has no replica.selector.class: the same consumer reads from the
// leader only and broker 3 serves it nothing. Raw fetches then check the
// answers themselves: the leader names replica 3 for rack c (no records,
// the leader's offsets) and nobody for rack a, the client's rack empty
// or another rack; a follower refuses consumer fetches below v11
// (NOT_LEADER_OR_FOLLOWER), serves v11+ up to its high watermark, and
// answers OFFSET_OUT_OF_RANGE past its log end.
func TestZKFetchFromClosestReplica(t *testing.T) {
	rc := startRackCluster(t, func(id int32) []string {
		if id == 2 {
			return nil
		}
		return []string{"replica.selector.class=" + replica.RackAwareReplicaSelectorClass}
	})
	const n = 300
	rc.createAssigned("near", 1, 2, 3)
	rc.createAssigned("far", 2, 3, 1)
	rc.produceN("near", n)
	rc.produceN("far", n)

	consume := func(topic string) {
		t.Helper()
		cl := newClient(t, rc.seeds()[0], kgo.SeedBrokers(rc.seeds()...), kgo.Rack("c"),
			kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
		pollExactly(t, cl, valueSet(topic+"-", 0, n), 20*time.Second)
		cl.Close()
	}

	consume("near")
	logSize := func(id int32, topic string) int64 {
		all, err := newAdmin(t, rc.brokers[id].Addr()).DescribeBrokerLogDirs(ctxT(t), id, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range all {
			if p, ok := d.Topics.Lookup(topic, 0); ok {
				return p.Size
			}
		}
		t.Fatalf("broker %d has no log of %s-0", id, topic)
		return 0
	}
	size := logSize(1, "near")
	out3 := rc.topicCounter(3, "kafka_server_brokertopicmetrics_bytesout_total", "near")
	t.Logf("near: log %d bytes; rack-c follower sent %v bytes of it to the consumer", size, out3)
	if out3 < float64(size) {
		t.Errorf("rack-c follower sent %v bytes of near, want the whole log (%d bytes) read from it", out3, size)
	}
	if f := rc.topicCounter(3, "kafka_server_brokertopicmetrics_totalfetchrequests_total", "near"); f == 0 {
		t.Errorf("rack-c follower served no fetch of near")
	}
	if out2 := rc.topicCounter(2, "kafka_server_brokertopicmetrics_bytesout_total", "near"); out2 != 0 {
		t.Errorf("rack-b follower sent %v bytes of near, want 0", out2)
	}

	consume("far")
	if f := rc.topicCounter(3, "kafka_server_brokertopicmetrics_totalfetchrequests_total", "far"); f != 0 {
		t.Errorf("without replica.selector.class on the leader, broker 3 served %v fetches of far, want 0", f)
	}
	if out := rc.topicCounter(2, "kafka_server_brokertopicmetrics_bytesout_total", "far"); out < float64(logSize(2, "far")) {
		t.Errorf("leader of far sent %v bytes, want at least its log", out)
	}

	// The leader's answers.
	sp := rc.consumerFetch(1, 12, "near", "c", 0)
	if sp.ErrorCode != 0 || sp.PreferredReadReplica != 3 || len(sp.RecordBatches) != 0 || sp.HighWatermark != n {
		t.Errorf("leader, rack c: error %d preferred %d, %d record bytes, hw %d; want replica 3, no records, hw %d",
			sp.ErrorCode, sp.PreferredReadReplica, len(sp.RecordBatches), sp.HighWatermark, n)
	}
	for _, rack := range []string{"a", "", "z"} {
		sp := rc.consumerFetch(1, 12, "near", rack, 0)
		if sp.ErrorCode != 0 || sp.PreferredReadReplica != -1 || len(sp.RecordBatches) == 0 {
			t.Errorf("leader, rack %q: error %d preferred %d, %d record bytes; want the leader's records", rack, sp.ErrorCode, sp.PreferredReadReplica, len(sp.RecordBatches))
		}
	}
	if sp := rc.consumerFetch(2, 12, "far", "c", 0); sp.PreferredReadReplica != -1 || len(sp.RecordBatches) == 0 {
		t.Errorf("leader without selector, rack c: preferred %d, %d record bytes", sp.PreferredReadReplica, len(sp.RecordBatches))
	}

	// The follower's answers.
	// A follower learns the leader's high watermark one fetch later
	// (up to replica.fetch.wait.max.ms).
	deadline := time.Now().Add(5 * time.Second)
	for rc.consumerFetch(3, 12, "near", "c", 0).HighWatermark != n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if sp := rc.consumerFetch(3, 10, "near", "", 0); sp.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("follower, Fetch v10: error %d, want NOT_LEADER_OR_FOLLOWER", sp.ErrorCode)
	}
	sp = rc.consumerFetch(3, 12, "near", "c", 0)
	if sp.ErrorCode != 0 || sp.HighWatermark != n || len(sp.RecordBatches) == 0 || sp.PreferredReadReplica != -1 {
		t.Errorf("follower, Fetch v12: error %d hw %d, %d record bytes, preferred %d", sp.ErrorCode, sp.HighWatermark, len(sp.RecordBatches), sp.PreferredReadReplica)
	}
	if sp := rc.consumerFetch(3, 12, "near", "c", n); sp.ErrorCode != 0 || len(sp.RecordBatches) != 0 {
		t.Errorf("follower at its high watermark: error %d, %d record bytes; want nothing", sp.ErrorCode, len(sp.RecordBatches))
	}
	if sp := rc.consumerFetch(3, 12, "near", "c", n+1000); sp.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("follower past its log end: error %d, want OFFSET_OUT_OF_RANGE", sp.ErrorCode)
	}

	// The Java client follows preferred_read_replica the same way with
	// client.rack.
	t.Run("JavaConsumerClientRack", func(t *testing.T) {
		consumer := kafkaTool(t, "kafka-console-consumer.sh")
		before := rc.topicCounter(3, "kafka_server_brokertopicmetrics_bytesout_total", "near")
		out := runTool(t, "", consumer, "--bootstrap-server", strings.Join(rc.seeds(), ","), "--topic", "near",
			"--from-beginning", "--max-messages", strconv.Itoa(n), "--timeout-ms", "20000",
			"--consumer-property", "client.rack=c", "--group", "racks-java")
		got := map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "near-") {
				got[l] = true
			}
		}
		if len(got) != n {
			t.Fatalf("kafka-console-consumer printed %d distinct records, want %d:\n%s", len(got), n, out)
		}
		after := rc.topicCounter(3, "kafka_server_brokertopicmetrics_bytesout_total", "near")
		t.Logf("Java consumer: rack-c follower sent %v bytes of near (log %d bytes)", after-before, size)
		if after-before < float64(size) {
			t.Errorf("rack-c follower sent %v bytes of near to the Java consumer, want the whole log (%d bytes)", after-before, size)
		}
	})
}
