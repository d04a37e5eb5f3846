package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// leaderIs is a waitAgree condition on one partition's leader.
func leaderIs(topic string, p, leader int32) func(m *kmsg.MetadataResponse) bool {
	return func(m *kmsg.MetadataResponse) bool {
		for _, t := range m.Topics {
			if *t.Topic != topic {
				continue
			}
			for _, mp := range t.Partitions {
				if mp.Partition == p {
					return mp.Leader == leader
				}
			}
		}
		return false
	}
}

func all(conds ...func(m *kmsg.MetadataResponse) bool) func(m *kmsg.MetadataResponse) bool {
	return func(m *kmsg.MetadataResponse) bool {
		for _, c := range conds {
			if !c(m) {
				return false
			}
		}
		return true
	}
}

// checkKafkaLogs fails the test for any error or unexpected warning a
// Kafka broker logged.
func (c *cluster) checkKafkaLogs(nodes ...*node) {
	c.t.Helper()
	for _, n := range nodes {
		if bad := kafkaProblems(n.output()); len(bad) > 0 {
			c.t.Errorf("%s logged %d problems, first: %s", n, len(bad), strings.Join(bad[:min(5, len(bad))], "\n"))
		}
	}
}

// TestKafkaControllerSamsaReplicas: Apache Kafka 3.9 is the controller of
// a cluster of two Kafka brokers and one Samsa broker. A topic whose
// partitions are led by each kind is replicated both ways: Samsa follows
// a Kafka leader (and takes over from it after kill -9), Kafka follows a
// Samsa leader (and takes over after Samsa's controlled shutdown, which
// Kafka's controller runs), and every acknowledged acks=all record is
// read back in order from the last broker standing.
func TestKafkaControllerSamsaReplicas(t *testing.T) {
	c := newCluster(t)
	k1 := c.startKafka(1)
	c.waitController(1, 10*time.Second)
	k2 := c.launchKafka(2)
	s3 := c.startSamsa(3)
	c.waitUp(k2, 60*time.Second)

	// p0: Kafka leads, Samsa is next in line. p1: Samsa leads, Kafka
	// follows. p2: Kafka only leads, Samsa follows last.
	const topic = "mixed"
	c.createTopic(topic, [][]int32{{2, 3, 1}, {3, 1, 2}, {1, 2, 3}}, nil)
	m := c.waitAgree("topic replicated on all three", 30*time.Second, all(fullISR(topic, 3, 1, 2, 3), leaderIs(topic, 0, 2), leaderIs(topic, 1, 3)), topic)
	if len(m.Brokers) != 3 || m.ControllerID != 1 {
		t.Fatalf("metadata: %s", summary(m))
	}

	// acks=all through both kinds of leader, with seeds of either kind.
	acked := newAckedLog()
	acked.produceSync(t, producer(t, []string{s3.Addr()}), topic, []int32{0, 1, 2}, 50)
	acked.produceSync(t, producer(t, []string{k2.Addr()}), topic, []int32{0, 1, 2}, 50)
	consumeAll(t, []string{s3.Addr()}, topic, acked)
	consumeAll(t, []string{k1.Addr()}, topic, acked)

	// kill -9 of p0's Kafka leader: Kafka's controller elects Samsa, which
	// has what it fetched from Kafka.
	c.kill(2)
	c.waitAgree("samsa leads p0 after kafka-2 died", 30*time.Second, leaderIs(topic, 0, 3), topic)
	acked.produceSync(t, producer(t, []string{k1.Addr()}), topic, []int32{0, 1, 2}, 30)

	// Samsa's controlled shutdown, run by Kafka's controller: Kafka 1
	// leads everything with what it fetched from Samsa.
	c.stop(3)
	c.waitAgree("kafka-1 leads all after samsa's controlled shutdown", 30*time.Second,
		all(leaderIs(topic, 0, 1), leaderIs(topic, 1, 1), leaderIs(topic, 2, 1)), topic)
	consumeAll(t, []string{k1.Addr()}, topic, acked)
	c.checkKafkaLogs(k1)
	if out := k1.output(); !strings.Contains(out, "Shutting down broker 3") && !strings.Contains(out, "controlled shutdown") {
		t.Logf("kafka-1 did not log samsa-3's controlled shutdown at INFO")
	}
}

// TestSamsaControllerKafkaReplicas: Samsa is the controller of a cluster
// with two Apache Kafka 3.9 brokers. Kafka accepts its LeaderAndIsr,
// UpdateMetadata and StopReplica (no error in its log), Kafka leaders
// change the ISR through Samsa's controller (AlterPartition), kill -9 of
// a Kafka leader fails over, and topic deletion removes the Kafka
// replicas.
func TestSamsaControllerKafkaReplicas(t *testing.T) {
	c := newCluster(t)
	s3 := c.startSamsa(3)
	c.waitController(3, 10*time.Second)
	c.launchKafka(1)
	k2 := c.launchKafka(2)
	c.waitUp(c.node(1), 60*time.Second)
	c.waitUp(k2, 60*time.Second)

	const topic = "mixed"
	c.createTopic(topic, [][]int32{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}}, nil)
	m := c.waitAgree("topic replicated on all three", 30*time.Second, all(fullISR(topic, 3, 1, 2, 3), leaderIs(topic, 0, 1)), topic)
	if m.ControllerID != 3 {
		t.Fatalf("metadata: %s", summary(m))
	}
	acked := newAckedLog()
	acked.produceSync(t, producer(t, c.seeds()), topic, []int32{0, 1, 2}, 60)

	// kill -9 of Kafka 1: Samsa's controller elects Kafka 2 for p0 and
	// takes 1 out of every ISR.
	c.kill(1)
	c.waitAgree("kafka-2 leads p0 after kafka-1 died", 30*time.Second, func(m *kmsg.MetadataResponse) bool {
		if !leaderIs(topic, 0, 2)(m) {
			return false
		}
		for _, tp := range m.Topics {
			for _, p := range tp.Partitions {
				if slices.Contains(p.ISR, 1) {
					return false
				}
			}
		}
		return true
	}, topic)
	acked.produceSync(t, producer(t, c.seeds()), topic, []int32{0, 1, 2}, 40)

	// A Kafka broker 1 with an empty log dir: Kafka 2 (p0, p1) and Samsa
	// (p2) leaders add it back to the ISR through Samsa's controller.
	k1 := c.startKafka(1)
	c.waitAgree("kafka-1 back in every ISR", 45*time.Second, fullISR(topic, 3, 1, 2, 3), topic)
	consumeAll(t, []string{k1.Addr()}, topic, acked)

	// Deletion: StopReplica(delete) to every replica.
	cl := newClient(t, []string{s3.Addr()})
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = 4
	req.TimeoutMillis = 15000
	req.TopicNames = []string{topic}
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt) // kgo sends the newest version both know (v6+ names topics here)
	dresp, err := req.RequestWith(ctxT(t, 20*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(dresp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("DeleteTopics: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, _, err := c.conn.Get("/kafka/brokers/topics/" + topic)
		left := kafkaPartitionDirs(t, k1, topic) + kafkaPartitionDirs(t, k2, topic)
		if err != nil && left == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic not deleted within 30s: znode err %v, Kafka partition dirs left: %s", err, left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.checkKafkaLogs(k1, k2)
}

// kafkaPartitionDirs lists n's live (not -delete) partition dirs of topic.
func kafkaPartitionDirs(t *testing.T, n *node, topic string) string {
	ents, err := os.ReadDir(filepath.Join(n.dir, "logs"))
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	var s string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), topic+"-") && !strings.HasSuffix(e.Name(), "-delete") {
			s += n.String() + ":" + e.Name() + " "
		}
	}
	return s
}
