package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/groups"
	"samsa/internal/testbroker"
	"samsa/internal/zktest"
)

// zkCluster is a real ZooKeeper and three Samsa binaries registered in it
// under the chroot /kafka.
type zkCluster struct {
	t       *testing.T
	zk      *zktest.Server
	conn    *zk.Conn
	brokers map[int32]*testbroker.Broker
	// paused brokers (SIGSTOP) are left out of waitAgree.
	paused map[int32]bool
}

const zkSessionMs = 2000

func startZKCluster(t *testing.T, n int) *zkCluster {
	t.Helper()
	return startZKClusterWith(t, n)
}

// startZKClusterWith is startZKCluster with more broker properties. The
// controlled shutdown backoff is short so that the last broker of a
// cluster, which has nobody to hand its leaderships to, stops in about a
// second instead of Kafka's 3 x 5 s.
func startZKClusterWith(t *testing.T, n int, props ...string) *zkCluster {
	t.Helper()
	return startZKClusterEach(t, n, func(int32) []string { return props })
}

// startZKClusterEach is startZKClusterWith with properties per broker id.
func startZKClusterEach(t *testing.T, n int, propsOf func(id int32) []string) *zkCluster {
	t.Helper()
	zs := zktest.Start(t)
	c := &zkCluster{t: t, zk: zs, brokers: map[int32]*testbroker.Broker{}}
	for id := int32(1); id <= int32(n); id++ {
		c.brokers[id] = testbroker.Start(t, testbroker.Binary, append([]string{
			"zookeeper.connect=" + zs.Addr + "/kafka",
			"broker.id=" + strconv.Itoa(int(id)),
			"zookeeper.session.timeout.ms=" + strconv.Itoa(zkSessionMs),
			"group.initial.rebalance.delay.ms=0",
			"offsets.topic.num.partitions=3",
			"controlled.shutdown.retry.backoff.ms=500"}, propsOf(id)...)...)
	}
	conn, _, err := zk.Connect([]string{zs.Addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	c.conn = conn
	// A broker listens before it has registered: wait for every
	// registration, so that topics are assigned over all of them.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ids, _, err := conn.Children("/kafka/brokers/ids")
		if err == nil && len(ids) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only brokers %v registered within 20s (%v)", ids, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

type quietZK struct{}

func (quietZK) Printf(string, ...any) {}

// request sends req to exactly one broker.
func request[R kmsg.Response](t *testing.T, addr string, req kmsg.Request) R {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatalf("%s to %s: %v", kmsg.NameForKey(req.Key()), addr, err)
	}
	return resp.(R)
}

func metadataFrom(t *testing.T, addr string) *kmsg.MetadataResponse {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	return request[*kmsg.MetadataResponse](t, addr, req)
}

// summary is what every broker must agree on: brokers, controller, and
// each partition's leader, epoch, replicas, ISR and offline replicas.
func summary(m *kmsg.MetadataResponse) string {
	var ids []int32
	for _, b := range m.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	s := fmt.Sprintf("brokers=%v controller=%d", ids, m.ControllerID)
	topics := slices.Clone(m.Topics)
	slices.SortFunc(topics, func(a, b kmsg.MetadataResponseTopic) int { return compareStr(*a.Topic, *b.Topic) })
	for _, tp := range topics {
		ps := slices.Clone(tp.Partitions)
		slices.SortFunc(ps, func(a, b kmsg.MetadataResponseTopicPartition) int { return int(a.Partition - b.Partition) })
		for _, p := range ps {
			s += fmt.Sprintf(" %s-%d:leader=%d/%d,replicas=%v,isr=%v,offline=%v", *tp.Topic, p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR, p.OfflineReplicas)
		}
	}
	return s
}

func compareStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// waitAgree waits until every live broker's Metadata (but except's and
// paused ones') is the same and satisfies ok, and returns it.
func (c *zkCluster) waitAgree(what string, timeout time.Duration, ok func(m *kmsg.MetadataResponse) bool, except ...int32) *kmsg.MetadataResponse {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		var first *kmsg.MetadataResponse
		agree := true
		for id, b := range c.brokers {
			if !b.Alive() || c.paused[id] || slices.Contains(except, id) {
				continue
			}
			m := metadataFrom(c.t, b.Addr())
			if first == nil {
				first = m
				last = summary(m)
			} else if summary(m) != last {
				agree = false
				last += "  VS  " + summary(m)
			}
		}
		if agree && first != nil && ok(first) {
			return first
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not reached within %v; last metadata: %s", what, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *zkCluster) get(path string) ([]byte, *zk.Stat) {
	c.t.Helper()
	data, st, err := c.conn.Get("/kafka" + path)
	if err != nil {
		c.t.Fatalf("zookeeper get %s: %v", path, err)
	}
	return data, st
}

func (c *zkCluster) controllerEpoch() int {
	c.t.Helper()
	data, _ := c.get("/controller_epoch")
	n, err := strconv.Atoi(string(data))
	if err != nil {
		c.t.Fatalf("/controller_epoch = %q", data)
	}
	return n
}

func (c *zkCluster) anyLive(except ...int32) *testbroker.Broker {
	for id, b := range c.brokers {
		if b.Alive() && !slices.Contains(except, id) {
			return b
		}
	}
	c.t.Fatal("no live broker")
	return nil
}

func (c *zkCluster) idOf(b *testbroker.Broker) int32 {
	for id, x := range c.brokers {
		if x == b {
			return id
		}
	}
	return -1
}

func partitionOf(m *kmsg.MetadataResponse, topic string, p int32) kmsg.MetadataResponseTopicPartition {
	for _, t := range m.Topics {
		if *t.Topic == topic {
			for _, mp := range t.Partitions {
				if mp.Partition == p {
					return mp
				}
			}
		}
	}
	return kmsg.MetadataResponseTopicPartition{Leader: -99}
}

// TestZKCluster forms a three-broker cluster on a real ZooKeeper and
// checks election, Kafka's znode layout, agreement of every broker's
// metadata, NOT_CONTROLLER for topic admin elsewhere, AlterPartition's
// checks, producer id blocks, leader failover and controller failover.
func TestZKCluster(t *testing.T) {
	c := startZKCluster(t, 3)

	// One controller, known to all three brokers, epoch 1.
	m := c.waitAgree("cluster formed", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		return len(m.Brokers) == 3 && m.ControllerID > 0
	})
	ctrlID := m.ControllerID
	data, _ := c.get("/controller")
	var ctrlZnode struct {
		Version  int   `json:"version"`
		BrokerID int32 `json:"brokerid"`
	}
	if err := json.Unmarshal(data, &ctrlZnode); err != nil || ctrlZnode.BrokerID != ctrlID || ctrlZnode.Version != 2 {
		t.Fatalf("/controller = %s, metadata says controller %d", data, ctrlID)
	}
	if e := c.controllerEpoch(); e != 1 {
		t.Fatalf("controller epoch after the first election = %d, want 1", e)
	}
	data, _ = c.get("/brokers/ids/2")
	var reg struct {
		Version   int               `json:"version"`
		Host      string            `json:"host"`
		Port      int32             `json:"port"`
		Endpoints []string          `json:"endpoints"`
		Map       map[string]string `json:"listener_security_protocol_map"`
		JmxPort   int32             `json:"jmx_port"`
		Timestamp string            `json:"timestamp"`
	}
	if err := json.Unmarshal(data, &reg); err != nil || reg.Version != 5 || reg.Endpoints[0] != "PLAINTEXT://"+c.brokers[2].Addr() ||
		reg.Map["PLAINTEXT"] != "PLAINTEXT" || reg.JmxPort != -1 || reg.Timestamp == "" || reg.Host != "127.0.0.1" {
		t.Fatalf("/brokers/ids/2 = %s", data)
	}

	// No feature supported or finalized, as a ZooKeeper-mode Kafka 3.9
	// broker (package interop measured it): clients then keep to
	// transaction.version 0/1, which Kafka 3.9 brokers in the same
	// cluster understand.
	avReq := kmsg.NewPtrApiVersionsRequest()
	avReq.Version = 4
	avReq.ClientSoftwareName, avReq.ClientSoftwareVersion = "test", "1"
	if av := request[*kmsg.ApiVersionsResponse](t, c.brokers[1].Addr(), avReq); len(av.SupportedFeatures) != 0 || len(av.FinalizedFeatures) != 0 || av.FinalizedFeaturesEpoch != 0 {
		t.Fatalf("ApiVersions features in ZooKeeper mode: supported %+v finalized %+v epoch %d", av.SupportedFeatures, av.FinalizedFeatures, av.FinalizedFeaturesEpoch)
	}

	// Topic admin at a non-controller: NOT_CONTROLLER, as Kafka 3.9.
	other := c.anyLive(ctrlID)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "t", 3, 3
	ct.Topics = append(ct.Topics, rt)
	if r := request[*kmsg.CreateTopicsResponse](t, other.Addr(), ct); r.Topics[0].ErrorCode != kerr.NotController.Code {
		t.Fatalf("CreateTopics at non-controller: %v", kerr.ErrorForCode(r.Topics[0].ErrorCode))
	}

	// kadm finds the controller through Metadata and creates the topic.
	adm := kadm.NewClient(newClient(t, other.Addr()))
	ctx := ctxT(t)
	res, err := adm.CreateTopic(ctx, 3, 3, nil, "t")
	if err != nil || res.Err != nil {
		t.Fatalf("create topic: %v %v", err, res.Err)
	}
	m = c.waitAgree("topic t led everywhere", 15*time.Second, func(m *kmsg.MetadataResponse) bool {
		for p := int32(0); p < 3; p++ {
			mp := partitionOf(m, "t", p)
			if mp.Leader < 0 || len(mp.ISR) != 3 || len(mp.Replicas) != 3 {
				return false
			}
		}
		return true
	})

	// Kafka's znodes, read back with a ZooKeeper client.
	data, _ = c.get("/brokers/topics/t")
	var assign struct {
		Version  int                `json:"version"`
		TopicID  string             `json:"topic_id"`
		Parts    map[string][]int32 `json:"partitions"`
		Adding   map[string][]int32 `json:"adding_replicas"`
		Removing map[string][]int32 `json:"removing_replicas"`
	}
	if err := json.Unmarshal(data, &assign); err != nil || assign.Version != 3 || assign.TopicID != controller.TopicID(res.ID).String() ||
		len(assign.Parts) != 3 || assign.Adding == nil || assign.Removing == nil {
		t.Fatalf("/brokers/topics/t = %s (topic id %s)", data, res.ID)
	}
	leaders := map[int32]bool{}
	for p := int32(0); p < 3; p++ {
		replicas := assign.Parts[strconv.Itoa(int(p))]
		mp := partitionOf(m, "t", p)
		if !slices.Equal(replicas, mp.Replicas) || len(replicas) != 3 {
			t.Fatalf("partition %d: znode replicas %v, metadata %v", p, replicas, mp.Replicas)
		}
		data, st := c.get(fmt.Sprintf("/brokers/topics/t/partitions/%d/state", p))
		var state map[string]any
		if err := json.Unmarshal(data, &state); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`{"version":1,"leader":%d,"leader_epoch":0,"controller_epoch":1,"isr":%s}`, replicas[0], jsonInts(replicas))
		if string(data) != want || st.Version != 0 || mp.Leader != replicas[0] {
			t.Fatalf("partition %d state = %s (version %d), want %s; metadata leader %d", p, data, st.Version, want, mp.Leader)
		}
		leaders[replicas[0]] = true
	}
	if len(leaders) != 3 {
		t.Errorf("leaders of the 3 partitions are %v; Kafka's assignment spreads them over all 3 brokers", leaders)
	}
	data, _ = c.get("/config/topics/t")
	if string(data) != `{"version":1,"config":{}}` {
		t.Errorf("/config/topics/t = %s", data)
	}

	// AlterPartition at the controller, as the leader of t-0 would send it.
	mp := partitionOf(m, "t", 0)
	leader := mp.Leader
	_, regStat := c.get(fmt.Sprintf("/brokers/ids/%d", leader))
	alter := func(addr string, brokerEpoch int64, leaderEpoch, partEpoch int32, isr ...int32) (int16, kmsg.AlterPartitionResponseTopicPartition) {
		req := kmsg.NewPtrAlterPartitionRequest()
		req.Version, req.BrokerID, req.BrokerEpoch = 3, leader, brokerEpoch
		tt := kmsg.NewAlterPartitionRequestTopic()
		tt.TopicID = res.ID
		p := kmsg.NewAlterPartitionRequestTopicPartition()
		p.Partition, p.LeaderEpoch, p.PartitionEpoch = 0, leaderEpoch, partEpoch
		for _, id := range isr {
			e := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
			e.BrokerID, e.BrokerEpoch = id, -1
			p.NewEpochISR = append(p.NewEpochISR, e)
		}
		tt.Partitions = append(tt.Partitions, p)
		req.Topics = append(req.Topics, tt)
		r := request[*kmsg.AlterPartitionResponse](t, addr, req)
		if r.ErrorCode != 0 {
			return r.ErrorCode, kmsg.AlterPartitionResponseTopicPartition{}
		}
		return r.Topics[0].Partitions[0].ErrorCode, r.Topics[0].Partitions[0]
	}
	ctrlAddr := c.brokers[ctrlID].Addr()
	if code, _ := alter(c.anyLive(ctrlID).Addr(), regStat.Czxid, 0, 0, leader); code != kerr.NotController.Code {
		t.Errorf("AlterPartition at a non-controller: %v", kerr.ErrorForCode(code))
	}
	if code, _ := alter(ctrlAddr, regStat.Czxid+1, 0, 0, leader); code != kerr.StaleBrokerEpoch.Code {
		t.Errorf("AlterPartition with another broker epoch: %v", kerr.ErrorForCode(code))
	}
	if code, _ := alter(ctrlAddr, regStat.Czxid, 0, 0, leader, 42); code != kerr.IneligibleReplica.Code {
		t.Errorf("AlterPartition with a dead replica in the ISR: %v", kerr.ErrorForCode(code))
	}
	code, got := alter(ctrlAddr, regStat.Czxid, 0, 0, leader)
	if code != 0 || !slices.Equal(got.ISR, []int32{leader}) || got.PartitionEpoch != 1 || got.LeaderID != leader {
		t.Fatalf("AlterPartition shrinking the ISR: %v %+v", kerr.ErrorForCode(code), got)
	}
	data, st := c.get("/brokers/topics/t/partitions/0/state")
	if want := fmt.Sprintf(`{"version":1,"leader":%d,"leader_epoch":0,"controller_epoch":1,"isr":[%d]}`, leader, leader); string(data) != want || st.Version != 1 {
		t.Fatalf("state after AlterPartition = %s v%d, want %s v1", data, st.Version, want)
	}
	if code, _ := alter(ctrlAddr, regStat.Czxid, 0, 0, mp.Replicas...); code != kerr.InvalidUpdateVersion.Code {
		t.Errorf("AlterPartition at an old partition epoch: %v", kerr.ErrorForCode(code))
	}
	if code, _ := alter(ctrlAddr, regStat.Czxid, -1, 1, mp.Replicas...); code != kerr.FencedLeaderEpoch.Code {
		t.Errorf("AlterPartition at an old leader epoch: %v", kerr.ErrorForCode(code))
	}
	code, got = alter(ctrlAddr, regStat.Czxid, 0, 1, mp.Replicas...)
	if code != 0 || !slices.Equal(got.ISR, mp.Replicas) || got.PartitionEpoch != 2 {
		t.Fatalf("AlterPartition expanding the ISR: %v %+v", kerr.ErrorForCode(code), got)
	}
	c.waitAgree("ISR change reached every broker", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return len(partitionOf(m, "t", 0).ISR) == 3
	})

	// CreatePartitions and DeleteTopics through the controller.
	if _, err := adm.CreateTopic(ctx, 1, 2, nil, "d"); err != nil {
		t.Fatal(err)
	}
	if r, err := adm.CreatePartitions(ctx, 2, "d"); err != nil || r["d"].Err != nil {
		t.Fatalf("create partitions: %v %v", err, r["d"].Err)
	}
	c.waitAgree("d grown to 3 partitions", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return partitionOf(m, "d", 2).Leader >= 0 && len(partitionOf(m, "d", 2).Replicas) == 2
	})
	data, _ = c.get("/brokers/topics/d")
	if err := json.Unmarshal(data, &assign); err != nil || len(assign.Parts) != 3 {
		t.Fatalf("/brokers/topics/d after CreatePartitions = %s", data)
	}
	if r, err := adm.DeleteTopics(ctx, "d"); err != nil || r["d"].Err != nil {
		t.Fatalf("delete: %v %v", err, r["d"].Err)
	}
	c.waitAgree("d deleted everywhere", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return partitionOf(m, "d", 0).Leader == -99
	})
	// The controller removes the znodes right after telling the brokers.
	for _, p := range []string{"/kafka/brokers/topics/d", "/kafka/config/topics/d", "/kafka/admin/delete_topics/d"} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			ok, _, err := c.conn.Exists(p)
			if !ok && err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still exists 5s after the topic left the metadata (%v)", p, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Producer ids come in blocks from /latest_producer_id_block.
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.Version = 4
	r := request[*kmsg.InitProducerIDResponse](t, other.Addr(), ip)
	if r.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	data, _ = c.get("/latest_producer_id_block")
	if want := fmt.Sprintf(`{"version":1,"broker":%d,"block_start":"%d","block_end":"%d"}`, c.idOf(other), r.ProducerID, r.ProducerID+999); string(data) != want {
		t.Errorf("/latest_producer_id_block = %s, want %s", data, want)
	}

	// FindCoordinator creates __consumer_offsets with
	// offsets.topic.replication.factor (3) replicas and answers the
	// leader of the group's partition, at every broker.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKeys = 4, []string{"g"}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := request[*kmsg.FindCoordinatorResponse](t, other.Addr(), fc)
		if r.Coordinators[0].ErrorCode == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FindCoordinator: %v", kerr.ErrorForCode(r.Coordinators[0].ErrorCode))
		}
		time.Sleep(100 * time.Millisecond)
	}
	m = c.waitAgree("__consumer_offsets led everywhere", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return partitionOf(m, "__consumer_offsets", 2).Leader >= 0
	})
	gp := partitionOf(m, "__consumer_offsets", groups.PartitionFor("g", 3))
	if len(gp.Replicas) != 3 {
		t.Errorf("__consumer_offsets replicas %v, want 3", gp.Replicas)
	}
	for id, b := range c.brokers {
		r := request[*kmsg.FindCoordinatorResponse](t, b.Addr(), fc)
		if co := r.Coordinators[0]; co.ErrorCode != 0 || co.NodeID != gp.Leader || co.Port != int32(mustPort(t, c.brokers[gp.Leader].Addr())) {
			t.Errorf("FindCoordinator at broker %d: %+v, want leader %d", id, co, gp.Leader)
		}
	}

	// A stale controller epoch is refused by every broker.
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.Version, um.ControllerID, um.ControllerEpoch, um.BrokerEpoch = 8, ctrlID, 0, -1
	if r := request[*kmsg.UpdateMetadataResponse](t, other.Addr(), um); r.ErrorCode != kerr.StaleControllerEpoch.Code {
		t.Errorf("UpdateMetadata from controller epoch 0: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	// Kill -9 the leader of a partition that the controller does not lead.
	var victim int32 = -1
	var victimPart int32
	for p := int32(0); p < 3; p++ {
		if l := partitionOf(m, "t", p).Leader; l != ctrlID {
			victim, victimPart = l, p
			break
		}
	}
	before := partitionOf(m, "t", victimPart)
	killed := time.Now()
	c.brokers[victim].Kill()
	m = c.waitAgree("leader moved off the killed broker", time.Duration(zkSessionMs)*time.Millisecond+10*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, "t", victimPart)
		return len(m.Brokers) == 2 && mp.Leader >= 0 && mp.Leader != victim && !slices.Contains(mp.ISR, victim) &&
			mp.LeaderEpoch > before.LeaderEpoch && slices.Equal(mp.OfflineReplicas, []int32{victim})
	})
	t.Logf("leadership of t-%d moved from broker %d to %d %v after kill -9 (session timeout %d ms)",
		victimPart, victim, partitionOf(m, "t", victimPart).Leader, time.Since(killed).Round(time.Millisecond), zkSessionMs)
	if !slices.Contains(before.ISR, partitionOf(m, "t", victimPart).Leader) {
		t.Fatalf("new leader %d was not in the ISR %v", partitionOf(m, "t", victimPart).Leader, before.ISR)
	}

	// Kill -9 the controller: the last broker takes over with epoch 2.
	killedCtrl := time.Now()
	c.brokers[ctrlID].Kill()
	survivor := c.anyLive()
	m = c.waitAgree("new controller", time.Duration(zkSessionMs)*time.Millisecond+10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return len(m.Brokers) == 1 && m.ControllerID != ctrlID && m.ControllerID > 0
	})
	t.Logf("controller moved from broker %d to %d %v after kill -9", ctrlID, m.ControllerID, time.Since(killedCtrl).Round(time.Millisecond))
	if e := c.controllerEpoch(); e != 2 {
		t.Errorf("controller epoch after failover = %d, want 2", e)
	}
	for p := int32(0); p < 3; p++ {
		mp := partitionOf(m, "t", p)
		if mp.Leader != m.ControllerID || !slices.Equal(mp.ISR, []int32{m.ControllerID}) {
			t.Errorf("t-%d after two deaths: leader %d isr %v, want the survivor %d alone", p, mp.Leader, mp.ISR, m.ControllerID)
		}
	}
	_ = survivor

	// The old controller epoch is fenced at the survivor.
	um.ControllerEpoch = 1
	if r := request[*kmsg.UpdateMetadataResponse](t, c.anyLive().Addr(), um); r.ErrorCode != kerr.StaleControllerEpoch.Code {
		t.Errorf("UpdateMetadata from the deposed controller's epoch: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	// The first victim returns: it registers again, learns the metadata,
	// follows the leaders, catches up and is put back in the ISR by the
	// leaders (AlterPartition), never by the controller alone.
	c.brokers[victim].Restart()
	c.waitAgree("restarted broker back in every ISR", 30*time.Second, func(m *kmsg.MetadataResponse) bool {
		if len(m.Brokers) != 2 {
			return false
		}
		for p := int32(0); p < 3; p++ {
			mp := partitionOf(m, "t", p)
			if !slices.Contains(mp.ISR, victim) || slices.Contains(mp.OfflineReplicas, victim) {
				return false
			}
		}
		return true
	})

	// A broker paused past its session timeout loses its registration;
	// resumed, its ZooKeeper client gets a new session and the broker
	// registers again with a new broker epoch.
	_, before2 := c.get(fmt.Sprintf("/brokers/ids/%d", victim))
	if err := c.brokers[victim].Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(time.Duration(zkSessionMs)*time.Millisecond + 10*time.Second)
	for {
		if ok, _, _ := c.conn.Exists(fmt.Sprintf("/kafka/brokers/ids/%d", victim)); !ok {
			break
		}
		if time.Now().After(deadline) {
			c.brokers[victim].Signal(syscall.SIGCONT)
			t.Fatal("paused broker's registration did not expire")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := c.brokers[victim].Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		if ok, _, _ := c.conn.Exists(fmt.Sprintf("/kafka/brokers/ids/%d", victim)); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("resumed broker did not register again")
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.waitAgree("paused broker registered again", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		return len(m.Brokers) == 2
	})
	if _, after := c.get(fmt.Sprintf("/brokers/ids/%d", victim)); after.Czxid == before2.Czxid {
		t.Errorf("broker epoch unchanged after a new session: %d", after.Czxid)
	}
}

func mustPort(t *testing.T, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

func jsonInts(ids []int32) string {
	b, _ := json.Marshal(ids)
	return string(b)
}
