package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
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
		if !n.kafka {
			continue
		}
		if bad := kafkaProblems(n.output(), c.shutDownAddr); len(bad) > 0 {
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

	// Both kinds advertise the same finalized features (none, in
	// ZooKeeper mode): clients pick the transaction protocol from them.
	if kf, sf := finalizedFeatures(t, k1), finalizedFeatures(t, s3); kf != sf {
		t.Fatalf("finalized features: kafka-1 %s, samsa-3 %s", kf, sf)
	}

	// acks=all through both kinds of leader, with seeds of either kind.
	acked := newAckedLog()
	acked.produceSync(t, producer(t, []string{s3.Addr()}), topic, []int32{0, 1, 2}, 50)
	acked.produceSync(t, producer(t, []string{k2.Addr()}), topic, []int32{0, 1, 2}, 50)
	consumeAll(t, []string{s3.Addr()}, topic, acked)
	consumeAll(t, []string{k1.Addr()}, topic, acked)

	// Auto-creation at either kind of broker: the broker writes the
	// topic's znodes, Kafka's controller elects the leaders.
	c.autoCreate("auto-at-samsa", s3)
	c.autoCreate("auto-at-kafka", k2)

	// Consumer groups coordinated by each broker commit offsets; after
	// the brokers below die or stop, Kafka 1 coordinates them all and
	// must have loaded what Samsa wrote to __consumer_offsets.
	commits := c.commitGroups(topic)

	// Transactions whose coordinators are on either kind of broker
	// (__transaction_state spread over all three), writing to leaders of
	// either kind: WriteTxnMarkers and AddPartitionsToTxn verification
	// go both ways.
	c.transactions(topic)

	// Deletion by Kafka's controller: Samsa answers StopReplica(delete)
	// and removes its replicas, so that the controller can finish.
	c.createTopic("doomed", [][]int32{{3, 1, 2}, {1, 2, 3}}, nil)
	c.waitAgree("doomed replicated", 30*time.Second, fullISR("doomed", 2, 1, 2, 3), "doomed")
	c.deleteTopic("doomed")
	c.waitDeleted("doomed", k1, k2, s3)

	// KIP-704 with Kafka's controller: uc-0 on [2 3 1] allows unclean
	// elections and its ISR is set to [2] by hand (as if 3 and 1 had
	// fallen behind; Kafka's controller reads the state znode when it
	// elects). Kafka 2 dies below: the controller elects Samsa uncleanly
	// and sends it RECOVERING; Samsa leads, and its AlterPartition adding
	// Kafka 1 says RECOVERED, which the controller writes.
	c.createTopic("uc", [][]int32{{2, 3, 1}}, map[string]string{"unclean.leader.election.enable": "true"})
	c.waitAgree("uc replicated", 30*time.Second, all(fullISR("uc", 1, 1, 2, 3), leaderIs("uc", 0, 2)), "uc")
	ucState := func() (leader int32, isr []int32, recovery int) {
		data, _, err := c.conn.Get("/kafka/brokers/topics/uc/partitions/0/state")
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Leader   int32   `json:"leader"`
			ISR      []int32 `json:"isr"`
			Recovery int     `json:"leader_recovery_state"`
		}
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatalf("uc-0 state %s: %v", data, err)
		}
		return st.Leader, st.ISR, st.Recovery
	}
	{
		data, zst, err := c.conn.Get("/kafka/brokers/topics/uc/partitions/0/state")
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatal(err)
		}
		st["isr"] = []int32{2}
		data, _ = json.Marshal(st)
		if _, err := c.conn.Set("/kafka/brokers/topics/uc/partitions/0/state", data, zst.Version); err != nil {
			t.Fatal(err)
		}
	}

	// kill -9 of p0's Kafka leader: Kafka's controller elects Samsa, which
	// has what it fetched from Kafka.
	c.kill(2)
	c.waitAgree("samsa leads p0 after kafka-2 died", 30*time.Second, leaderIs(topic, 0, 3), topic)
	deadline := time.Now().Add(20 * time.Second)
	for {
		leader, isr, recovery := ucState()
		if leader == 3 && recovery == 0 && slices.Contains(isr, 1) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("uc-0 after the unclean election: leader %d ISR %v leader_recovery_state %d, want leader 3, ISR with 1, RECOVERED", leader, isr, recovery)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !slices.ContainsFunc(strings.Split(s3.output(), "\n"), func(l string) bool {
		return strings.Contains(l, "marked RECOVERING") && strings.Contains(l, "uc-0")
	}) {
		t.Error("samsa-3 did not get LeaderAndIsr with RECOVERING for uc-0 from Kafka's controller")
	}
	ucAcked := newAckedLog()
	ucAcked.produceSync(t, producer(t, []string{k1.Addr()}), "uc", []int32{0}, 10)
	consumeAll(t, []string{s3.Addr()}, "uc", ucAcked)
	acked.produceSync(t, producer(t, []string{k1.Addr()}), topic, []int32{0, 1, 2}, 30)

	// Samsa's controlled shutdown, run by Kafka's controller: Kafka 1
	// leads everything with what it fetched from Samsa.
	c.stop(3)
	c.waitAgree("kafka-1 leads all after samsa's controlled shutdown", 30*time.Second,
		all(leaderIs(topic, 0, 1), leaderIs(topic, 1, 1), leaderIs(topic, 2, 1)), topic)
	consumeAll(t, []string{k1.Addr()}, topic, acked)
	c.checkGroups(k1, topic, commits)
	if out := s3.output(); !strings.Contains(out, "controlled shutdown succeeded") {
		t.Errorf("samsa-3's controlled shutdown through Kafka's controller did not succeed:\n%s", tail(out, 3000))
	}
	c.checkKafkaLogs(k1)
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
	c.autoCreate("auto-at-kafka", k2)
	acked := newAckedLog()
	acked.produceSync(t, producer(t, c.seeds()), topic, []int32{0, 1, 2}, 60)

	// Deleting a topic sends StopReplica to the Kafka brokers; they must
	// read the controller epoch in it right (or they refuse every later
	// LeaderAndIsr of the real epoch as stale, which the failover below
	// needs).
	c.createTopic("doomed", [][]int32{{1, 2, 3}, {2, 3, 1}}, nil)
	c.waitAgree("doomed replicated", 30*time.Second, fullISR("doomed", 2, 1, 2, 3), "doomed")
	c.deleteTopic("doomed")
	c.waitDeleted("doomed", c.node(1), k2, s3)

	// KIP-704 and ISR change notifications with Samsa's controller:
	// uc-0 on [1 2 3] allows unclean elections; its ISR is set to [1] by
	// hand with an /isr_change_notification znode, as a Kafka broker on
	// an IBP below 2.7 does, so Samsa's controller re-reads it. When
	// Kafka 1 dies below, Samsa's controller elects Kafka 2 uncleanly
	// (RECOVERING); Kafka 2's AlterPartition adding Samsa 3 says
	// RECOVERED.
	c.createTopic("uc", [][]int32{{1, 2, 3}}, map[string]string{"unclean.leader.election.enable": "true"})
	c.waitAgree("uc replicated", 30*time.Second, all(fullISR("uc", 1, 1, 2, 3), leaderIs("uc", 0, 1)), "uc")
	const ucPath = "/kafka/brokers/topics/uc/partitions/0/state"
	ucState := func() (leader int32, isr []int32, recovery int) {
		data, _, err := c.conn.Get(ucPath)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Leader   int32   `json:"leader"`
			ISR      []int32 `json:"isr"`
			Recovery int     `json:"leader_recovery_state"`
		}
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatalf("uc-0 state %s: %v", data, err)
		}
		return st.Leader, st.ISR, st.Recovery
	}
	{
		data, zst, err := c.conn.Get(ucPath)
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatal(err)
		}
		st["isr"] = []int32{1}
		data, _ = json.Marshal(st)
		if _, err := c.conn.Set(ucPath, data, zst.Version); err != nil {
			t.Fatal(err)
		}
		if _, err := c.conn.Create("/kafka/isr_change_notification/isr_change_", []byte(`{"version":1,"partitions":[{"topic":"uc","partition":0}]}`),
			zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.waitAgree("uc-0's ISR [1] from the notification", 15*time.Second, func(m *kmsg.MetadataResponse) bool {
		for _, tp := range m.Topics {
			if *tp.Topic == "uc" && len(tp.Partitions) == 1 {
				return slices.Equal(tp.Partitions[0].ISR, []int32{1})
			}
		}
		return false
	}, "uc")

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
	deadline := time.Now().Add(20 * time.Second)
	for {
		leader, isr, recovery := ucState()
		if leader == 2 && recovery == 0 && slices.Contains(isr, 3) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("uc-0 after the unclean election: leader %d ISR %v leader_recovery_state %d, want leader 2, ISR with 3, RECOVERED", leader, isr, recovery)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(s3.output(), "unclean leader election") {
		t.Error("samsa-3's controller logged no unclean leader election")
	}
	ucAcked := newAckedLog()
	ucAcked.produceSync(t, producer(t, c.seeds()), "uc", []int32{0}, 10)
	consumeAll(t, []string{s3.Addr()}, "uc", ucAcked)

	// A Kafka broker 1 with an empty log dir: Kafka 2 (p0, p1) and Samsa
	// (p2) leaders add it back to the ISR through Samsa's controller.
	k1 := c.startKafka(1)
	c.waitAgree("kafka-1 back in every ISR", 45*time.Second, fullISR(topic, 3, 1, 2, 3), topic)
	consumeAll(t, []string{k1.Addr()}, topic, acked)

	// Controlled shutdown of a Kafka broker through Samsa's controller
	// (ControlledShutdown v3 from Kafka 3.9): Kafka 2 hands its
	// leaderships over and says it succeeded.
	c.stop(2)
	if out := k2.output(); !strings.Contains(out, "Controlled shutdown request returned successfully") {
		t.Errorf("kafka-2's controlled shutdown through Samsa's controller did not succeed:\n%s", tail(out, 3000))
	}
	c.waitAgree("no partition led by kafka-2", 30*time.Second, all(leaderIs(topic, 0, 1), leaderIs(topic, 1, 3)), topic)
	acked.produceSync(t, producer(t, c.seeds()), topic, []int32{0, 1, 2}, 20)
	k2 = c.startKafka(2)
	c.waitAgree("kafka-2 back in every ISR", 45*time.Second, fullISR(topic, 3, 1, 2, 3), topic)
	consumeAll(t, []string{k2.Addr()}, topic, acked)

	// A consumer group whose coordinator may be any broker reads
	// everything and commits; then Samsa stops (its controller resigns,
	// a Kafka broker takes over the controller and the coordinators Samsa
	// had), and the group's offsets read back through Kafka are the
	// partitions' ends: Kafka loaded the group records Samsa wrote.
	ends := c.groupReadAll(topic, "readers", acked)
	c.stop(3)
	c.waitAgree("a Kafka controller after samsa-3 stopped", 30*time.Second, func(m *kmsg.MetadataResponse) bool {
		return m.ControllerID == 1 || m.ControllerID == 2
	}, topic)
	c.checkGroups(k1, topic, map[string]map[int32]int64{"readers": ends})

	// Deletion by the Kafka controller: StopReplica(delete) to every
	// replica (samsa-3's when it is back).
	s3 = c.startSamsa(3)
	c.deleteTopic(topic)
	c.waitDeleted(topic, k1, k2, s3)
	c.checkKafkaLogs(c.history...)
}

// groupReadAll reads every acknowledged record of topic as a member of
// group, commits, leaves the group, and returns the committed offsets.
func (c *cluster) groupReadAll(topic, group string, a *ackedLog) map[int32]int64 {
	t := c.t
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	want := 0
	for _, v := range a.acked {
		want += len(v)
	}
	a.mu.Unlock()
	ends := map[int32]int64{}
	got := 0
	for got < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			got++
			ends[r.Partition] = r.Offset + 1
		})
	}
	if got < want {
		t.Fatalf("group %s read %d of %d records", group, got, want)
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("group %s commit: %v", group, err)
	}
	cl.Close() // leaves the group: an Empty group with offsets
	return ends
}

// deleteTopic asks the controller to delete topic.
func (c *cluster) deleteTopic(topic string) {
	c.t.Helper()
	cl := newClient(c.t, c.seeds())
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 15000
	req.TopicNames = []string{topic}
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt) // kgo sends the newest version both know (v6+ names topics here)
	resp, err := req.RequestWith(ctxT(c.t, 20*time.Second), cl)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		c.t.Fatalf("DeleteTopics %s: %v", topic, err)
	}
}

// waitDeleted waits until the controller has finished deleting topic
// (its znode and deletion marker are gone, which needs every replica's
// StopReplica answer) and none of nodes keeps a partition dir of it.
func (c *cluster) waitDeleted(topic string, nodes ...*node) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok1, _, err1 := c.conn.Exists("/kafka/brokers/topics/" + topic)
		ok2, _, err2 := c.conn.Exists("/kafka/admin/delete_topics/" + topic)
		var left string
		for _, n := range nodes {
			left += partitionDirs(n, topic)
		}
		if err1 == nil && err2 == nil && !ok1 && !ok2 && left == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("topic %s not deleted within 30s: znode %v, marker %v, partition dirs left: %s", topic, ok1, ok2, left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// partitionDirs lists n's live partition dirs of topic (Kafka renames a
// deleted one to <topic>-<p>.<id>-delete first).
func partitionDirs(n *node, topic string) string {
	dir := filepath.Join(n.dir, "logs")
	if !n.kafka {
		dir = n.samsa.DataDir()
	}
	ents, err := os.ReadDir(dir)
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

// transactions commits one and aborts one transaction for each of six
// transactional ids (their coordinators spread over the brokers: the
// first FindCoordinator creates __transaction_state with 3 partitions
// and replication factor 3), each writing to every partition of topic,
// and checks a read_committed consumer sees exactly the committed
// records, in order.
func (c *cluster) transactions(topic string) {
	t := c.t
	t.Helper()
	ctx := ctxT(t, 60*time.Second)
	coordinators := map[int32]int{}
	var committed []string
	for i := 0; i < 6; i++ {
		id := fmt.Sprintf("txn-%d", i)
		cl := newClient(t, c.seeds(), kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.TransactionTimeout(20*time.Second))
		for _, commit := range []bool{true, false} {
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			for p := int32(0); p < 3; p++ {
				v := fmt.Sprintf("%s-%v-%d", id, commit, p)
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Key: []byte("txn"), Value: []byte(v)}).FirstErr(); err != nil {
					t.Fatalf("transactional produce %s: %v", v, err)
				}
				if commit {
					committed = append(committed, v)
				}
			}
			if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
				t.Fatalf("end transaction %s (commit %v): %v", id, commit, err)
			}
		}
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorType = 1
		req.CoordinatorKey = id
		req.CoordinatorKeys = []string{id}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Coordinators) == 1 {
			coordinators[resp.Coordinators[0].NodeID]++
		} else {
			coordinators[resp.NodeID]++
		}
	}
	t.Logf("transaction coordinators (broker: ids): %v", coordinators)
	kinds := map[bool]bool{}
	for id := range coordinators {
		kinds[c.node(id).kafka] = true
	}
	if len(kinds) != 2 {
		t.Errorf("transaction coordinators %v are not of both kinds; the test did not cover both", coordinators)
	}
	// read_committed: only the committed transactional records.
	cons := newClient(t, c.seeds(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var got []string
	want := map[string]bool{}
	for _, v := range committed {
		want[v] = true
	}
	for len(got) < len(committed) && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == "txn" {
				got = append(got, string(r.Value))
			}
		})
	}
	for _, v := range got {
		if !want[v] {
			t.Fatalf("read_committed consumer saw %s (aborted or unknown); all: %v", v, got)
		}
	}
	if len(got) != len(committed) {
		t.Fatalf("read_committed consumer saw %d of %d committed records: %v", len(got), len(committed), got)
	}
}

// finalizedFeatures is n's ApiVersions v4 finalized features and epoch.
func finalizedFeatures(t *testing.T, n *node) string {
	t.Helper()
	cl := newClient(t, []string{n.Addr()})
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 4
	req.ClientSoftwareName, req.ClientSoftwareVersion = "interop", "1"
	resp, err := cl.SeedBrokers()[0].Request(ctxT(t, 10*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.(*kmsg.ApiVersionsResponse)
	s := fmt.Sprintf("epoch %d:", r.FinalizedFeaturesEpoch)
	for _, f := range r.FinalizedFeatures {
		s += fmt.Sprintf(" %s=%d-%d", f.Name, f.MinVersionLevel, f.MaxVersionLevel)
	}
	return s
}

// commitGroups commits, for six consumer groups (their coordinators
// spread over the brokers), offsets 1..3 of topic's partitions with
// metadata, and returns group -> partition -> offset.
func (c *cluster) commitGroups(topic string) map[string]map[int32]int64 {
	t := c.t
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	adm := kadm.NewClient(newClient(t, c.seeds()))
	out := map[string]map[int32]int64{}
	coordinators := map[int32]int{}
	for i := 0; i < 6; i++ {
		g := fmt.Sprintf("group-%d", i)
		offs := kadm.Offsets{}
		out[g] = map[int32]int64{}
		for p := int32(0); p < 3; p++ {
			o := int64(i + int(p) + 1)
			offs.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1, Metadata: "m-" + g})
			out[g][p] = o
		}
		resp, err := adm.CommitOffsets(ctx, g, offs)
		if err != nil || resp.Error() != nil {
			t.Fatalf("commit %s: %v %v", g, err, resp.Error())
		}
		ds, err := adm.DescribeGroups(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		coordinators[ds[g].Coordinator.NodeID]++
	}
	t.Logf("group coordinators (broker: groups): %v", coordinators)
	return out
}

// checkGroups reads every group's committed offsets back through n (and
// the metadata commitGroups gave them).
func (c *cluster) checkGroups(n *node, topic string, want map[string]map[int32]int64) {
	t := c.t
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	adm := kadm.NewClient(newClient(t, []string{n.Addr()}))
	for g, parts := range want {
		got, err := adm.FetchOffsets(ctx, g)
		if err != nil {
			t.Fatalf("fetch offsets of %s through %s: %v", g, n, err)
		}
		for p, o := range parts {
			r, ok := got.Lookup(topic, p)
			if !ok || r.Err != nil || r.At != o || strings.HasPrefix(g, "group-") && r.Metadata != "m-"+g {
				t.Errorf("%s %s-%d through %s: %+v (ok %v), want offset %d", g, topic, p, n, r, ok, o)
			}
		}
	}
}

// autoCreate produces to a topic that does not exist through n alone
// (auto.create.topics.enable, num.partitions=2, default.replication.factor=3)
// and waits until every broker agrees on its fully replicated partitions.
func (c *cluster) autoCreate(topic string, n *node) {
	t := c.t
	t.Helper()
	cl := newClient(t, []string{n.Addr()}, kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err := cl.ProduceSync(ctxT(t, 30*time.Second), &kgo.Record{Topic: topic, Value: []byte("first")}).FirstErr(); err != nil {
		t.Fatalf("produce to auto-created %s through %s: %v", topic, n, err)
	}
	c.waitAgree(topic+" auto-created through "+n.String(), 30*time.Second, fullISR(topic, 2), topic)
}
