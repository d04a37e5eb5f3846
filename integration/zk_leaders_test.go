package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// leadersOf maps each partition of topic to its leader.
func leadersOf(m *kmsg.MetadataResponse, topic string) map[int32]kmsg.MetadataResponseTopicPartition {
	out := map[int32]kmsg.MetadataResponseTopicPartition{}
	for _, t := range m.Topics {
		if *t.Topic == topic {
			for _, p := range t.Partitions {
				out[p.Partition] = p
			}
		}
	}
	return out
}

// createZKTopic creates topic with n partitions and replication factor 3
// through the controller and waits until every broker knows its leaders.
func (c *zkCluster) createZKTopic(topic string, n int32) *kmsg.MetadataResponse {
	c.t.Helper()
	c.waitAgree("every broker registered", 15*time.Second, func(m *kmsg.MetadataResponse) bool {
		return len(m.Brokers) == len(c.brokers) && m.ControllerID >= 0
	})
	adm := newAdmin(c.t, c.anyLive().Addr())
	if _, err := adm.CreateTopic(ctxT(c.t), n, 3, nil, topic); err != nil {
		c.t.Fatalf("create %s: %v", topic, err)
	}
	return c.waitAgree("topic "+topic+" led everywhere", 15*time.Second, func(m *kmsg.MetadataResponse) bool {
		ps := leadersOf(m, topic)
		if len(ps) != int(n) {
			return false
		}
		for _, p := range ps {
			if p.Leader < 0 {
				return false
			}
		}
		return true
	})
}

// stateZnode reads a partition's state znode: leader, ISR and the zxid of
// its last write.
func (c *zkCluster) stateZnode(topic string, p int32) (leader int32, isr []int32, mzxid int64) {
	c.t.Helper()
	data, st := c.get("/brokers/topics/" + topic + "/partitions/" + strconv.Itoa(int(p)) + "/state")
	var s struct {
		Leader int32   `json:"leader"`
		ISR    []int32 `json:"isr"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		c.t.Fatalf("state znode %s-%d: %v", topic, p, err)
	}
	return s.Leader, s.ISR, st.Mzxid
}

// TestZKControlledShutdown: SIGTERM to a broker leading partitions of an
// RF 3 topic moves every one of them to another ISR member while the
// broker is still registered (ControlledShutdown), takes it out of the
// ISRs, and the process exits promptly.
func TestZKControlledShutdown(t *testing.T) {
	c := startZKClusterWith(t, 3, "auto.leader.rebalance.enable=false")
	m := c.createZKTopic("cs", 6)
	t.Logf("topic created")
	// The victim is a broker that is not the controller (the controller
	// case is covered below) and leads some partitions.
	victim := int32(-1)
	for id := range c.brokers {
		if id == m.ControllerID {
			continue
		}
		for _, p := range leadersOf(m, "cs") {
			if p.Leader == id {
				victim = id
			}
		}
	}
	if victim < 0 {
		t.Fatalf("no non-controller broker leads a partition: %s", summary(m))
	}
	before := leadersOf(m, "cs")
	var led []int32
	for p, mp := range before {
		if mp.Leader == victim {
			led = append(led, p)
		}
	}
	slices.Sort(led)

	// Requests the controller refuses, as Kafka 3.9's does.
	cs := func(addr string, id int32, epoch int64) int16 {
		req := kmsg.NewPtrControlledShutdownRequest()
		req.BrokerID, req.BrokerEpoch = id, epoch
		return request[*kmsg.ControlledShutdownResponse](t, addr, req).ErrorCode
	}
	_, reg := c.get("/brokers/ids/" + strconv.Itoa(int(victim)))
	if code := cs(c.brokers[victim].Addr(), victim, reg.Czxid); code != kerr.NotController.Code {
		t.Errorf("ControlledShutdown at a non-controller: %v, want NOT_CONTROLLER", kerr.ErrorForCode(code))
	}
	if code := cs(c.brokers[m.ControllerID].Addr(), 99, 5); code != kerr.BrokerNotAvailable.Code {
		t.Errorf("ControlledShutdown of an unknown broker: %v, want BROKER_NOT_AVAILABLE", kerr.ErrorForCode(code))
	}
	if code := cs(c.brokers[m.ControllerID].Addr(), victim, reg.Czxid-1); code != kerr.StaleBrokerEpoch.Code {
		t.Errorf("ControlledShutdown with an old broker epoch: %v, want STALE_BROKER_EPOCH", kerr.ErrorForCode(code))
	}

	start := time.Now()
	if err := c.brokers[victim].Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.brokers[victim].Exited():
	case <-time.After(10 * time.Second):
		t.Fatalf("broker %d still running 10s after SIGTERM\n%s", victim, c.brokers[victim].Output())
	}
	took := time.Since(start)
	if code := c.brokers[victim].ExitCode(); code != 0 {
		t.Fatalf("broker %d exited with %d\n%s", victim, code, c.brokers[victim].Output())
	}
	t.Logf("broker %d (leading partitions %v) stopped %v after SIGTERM", victim, led, took)
	if took > 5*time.Second {
		t.Errorf("controlled shutdown took %v; want a prompt exit", took)
	}
	if out := c.brokers[victim].Output(); !strings.Contains(out, "controlled shutdown succeeded") {
		t.Errorf("broker %d did not report a successful controlled shutdown:\n%s", victim, out)
	}

	// The registration is gone now; its deletion is the last change of
	// /brokers/ids' children, so that node's pzxid is its zxid. Every
	// leadership move was written before it, i.e. by the controlled
	// shutdown and not by the failure handling.
	waitNoNode(t, c, "/brokers/ids/"+strconv.Itoa(int(victim)))
	t.Logf("registration of %d gone", victim)
	_, ids := c.get("/brokers/ids")
	for _, p := range led {
		leader, isr, mzxid := c.stateZnode("cs", p)
		if leader == victim || !slices.Contains(before[p].ISR, leader) {
			t.Errorf("cs-%d: leader %d, want a member of the old ISR %v other than %d", p, leader, before[p].ISR, victim)
		}
		if slices.Contains(isr, victim) {
			t.Errorf("cs-%d: ISR %v still holds the stopped broker %d", p, isr, victim)
		}
		if mzxid >= ids.Pzxid {
			t.Errorf("cs-%d: leadership moved at zxid %#x, after broker %d's registration went (%#x): not a controlled shutdown", p, mzxid, victim, ids.Pzxid)
		}
	}
	// It left the ISRs of the partitions it followed the same way.
	for p := range before {
		if slices.Contains(led, p) {
			continue
		}
		_, isr, mzxid := c.stateZnode("cs", p)
		if slices.Contains(isr, victim) || mzxid >= ids.Pzxid {
			t.Errorf("cs-%d: ISR %v at zxid %#x; want broker %d out of it before %#x", p, isr, mzxid, victim, ids.Pzxid)
		}
	}
	// Metadata from every remaining broker shows it.
	c.waitAgree("new leaders everywhere", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		for _, p := range led {
			mp := leadersOf(m, "cs")[p]
			if mp.Leader == victim || mp.Leader < 0 || !slices.Contains(before[p].ISR, mp.Leader) {
				return false
			}
		}
		return true
	})

	// The controller itself shuts down the same way: its leaderships
	// move before it resigns.
	m = metadataFrom(t, c.anyLive().Addr())
	ctrl := m.ControllerID
	var ctrlLed []int32
	for p, mp := range leadersOf(m, "cs") {
		if mp.Leader == ctrl {
			ctrlLed = append(ctrlLed, p)
		}
	}
	if len(ctrlLed) == 0 {
		t.Logf("controller %d leads nothing now; controller case not exercised", ctrl)
		return
	}
	if err := c.brokers[ctrl].Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.brokers[ctrl].Exited():
	case <-time.After(10 * time.Second):
		t.Fatalf("controller %d still running 10s after SIGTERM", ctrl)
	}
	waitNoNode(t, c, "/brokers/ids/"+strconv.Itoa(int(ctrl)))
	t.Logf("registration of controller %d gone", ctrl)
	_, ids = c.get("/brokers/ids")
	for _, p := range ctrlLed {
		leader, _, mzxid := c.stateZnode("cs", p)
		if leader == ctrl || leader < 0 || mzxid >= ids.Pzxid {
			t.Errorf("cs-%d: leader %d written at %#x; want it moved off controller %d before %#x", p, leader, mzxid, ctrl, ids.Pzxid)
		}
	}
}

func waitNoNode(t *testing.T, c *zkCluster, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, _, err := c.conn.Exists("/kafka" + path)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restartLeader stops a broker that leads partitions of topic (not the
// controller), starts it again and waits until every broker sees it back
// with leadership elsewhere: no longer preferred, and (until it catches
// up) out of the ISRs.
func (c *zkCluster) restartLeader(topic string) (int32, *kmsg.MetadataResponse) {
	c.t.Helper()
	m := metadataFrom(c.t, c.anyLive().Addr())
	victim := int32(-1)
	for _, p := range leadersOf(m, topic) {
		if p.Leader != m.ControllerID {
			victim = p.Leader
		}
	}
	if victim < 0 {
		c.t.Fatalf("no leader to restart: %s", summary(m))
	}
	c.brokers[victim].Restart()
	m = c.waitAgree("broker back", 15*time.Second, func(m *kmsg.MetadataResponse) bool {
		return slices.ContainsFunc(m.Brokers, func(b kmsg.MetadataResponseBroker) bool { return b.NodeID == victim })
	})
	return victim, m
}

// waitRejoined waits until every broker sees broker victim back in the
// ISRs of topic: its follower caught up and the leaders added it with
// AlterPartition.
func (c *zkCluster) waitRejoined(topic string, victim int32) *kmsg.MetadataResponse {
	c.t.Helper()
	return c.waitAgree("broker back in the ISRs", 15*time.Second, func(m *kmsg.MetadataResponse) bool {
		for _, p := range leadersOf(m, topic) {
			if !slices.Contains(p.ISR, victim) {
				return false
			}
		}
		return true
	})
}

func preferredEverywhere(topic string) func(m *kmsg.MetadataResponse) bool {
	return func(m *kmsg.MetadataResponse) bool {
		ps := leadersOf(m, topic)
		if len(ps) == 0 {
			return false
		}
		for _, p := range ps {
			if len(p.Replicas) == 0 || p.Leader != p.Replicas[0] {
				return false
			}
		}
		return true
	}
}

func electRequest(typ int8, topic string, parts ...int32) *kmsg.ElectLeadersRequest {
	req := kmsg.NewPtrElectLeadersRequest()
	req.Version, req.ElectionType, req.TimeoutMillis = 2, typ, 10000
	if topic != "" {
		rt := kmsg.NewElectLeadersRequestTopic()
		rt.Topic, rt.Partitions = topic, parts
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func electCodes(r *kmsg.ElectLeadersResponse) map[string]int16 {
	out := map[string]int16{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			out[t.Topic+"-"+strconv.Itoa(int(p.Partition))] = p.ErrorCode
		}
	}
	return out
}

// TestZKElectLeaders: after a leader broker restarts, leadership is not
// preferred; ElectLeaders answers as Kafka 3.9's controller does, and
// kafka-leader-election.sh restores the preferred leaders.
func TestZKElectLeaders(t *testing.T) {
	c := startZKClusterWith(t, 3, "auto.leader.rebalance.enable=false")
	c.createZKTopic("pl", 6)
	victim, m := c.restartLeader("pl")
	m = c.waitRejoined("pl", victim)
	var notPreferred []int32
	for p, mp := range leadersOf(m, "pl") {
		if mp.Leader != mp.Replicas[0] {
			notPreferred = append(notPreferred, p)
		}
		if mp.Leader == victim {
			t.Fatalf("restarted broker %d leads pl-%d again without an election: %s", victim, p, summary(m))
		}
	}
	slices.Sort(notPreferred)
	if len(notPreferred) == 0 {
		t.Fatalf("leadership preferred everywhere after restarting broker %d: %s", victim, summary(m))
	}
	ctrl := c.brokers[m.ControllerID]
	other := c.anyLive(m.ControllerID)
	preferredOne := int32(-1)
	for p := range leadersOf(m, "pl") {
		if !slices.Contains(notPreferred, p) {
			preferredOne = p
		}
	}

	// Another broker: NOT_CONTROLLER per partition (ZooKeeper mode does
	// not forward).
	r := request[*kmsg.ElectLeadersResponse](t, other.Addr(), electRequest(0, "pl", notPreferred[0]))
	if got := electCodes(r)["pl-"+strconv.Itoa(int(notPreferred[0]))]; r.ErrorCode != 0 || got != kerr.NotController.Code {
		t.Fatalf("ElectLeaders at a non-controller: top %d, partition %v", r.ErrorCode, kerr.ErrorForCode(got))
	}
	// The controller: unknown partitions, partitions already preferred,
	// unclean election where the leader lives.
	r = request[*kmsg.ElectLeadersResponse](t, ctrl.Addr(), electRequest(0, "pl", 99))
	if got := electCodes(r)["pl-99"]; got != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("pl-99: %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(got))
	}
	r = request[*kmsg.ElectLeadersResponse](t, ctrl.Addr(), electRequest(0, "nosuch", 0))
	if got := electCodes(r)["nosuch-0"]; got != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("nosuch-0: %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(got))
	}
	if preferredOne >= 0 {
		r = request[*kmsg.ElectLeadersResponse](t, ctrl.Addr(), electRequest(0, "pl", preferredOne))
		if got := electCodes(r)["pl-"+strconv.Itoa(int(preferredOne))]; got != kerr.ElectionNotNeeded.Code {
			t.Errorf("already preferred pl-%d: %v, want ELECTION_NOT_NEEDED", preferredOne, kerr.ErrorForCode(got))
		}
	}
	r = request[*kmsg.ElectLeadersResponse](t, ctrl.Addr(), electRequest(1, "pl", notPreferred[0]))
	if got := electCodes(r)["pl-"+strconv.Itoa(int(notPreferred[0]))]; got != kerr.ElectionNotNeeded.Code {
		t.Errorf("unclean election with a live leader: %v, want ELECTION_NOT_NEEDED", kerr.ErrorForCode(got))
	}

	// kafka-leader-election.sh, one partition, then all of them.
	tool := leaderElectionTool(t)
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, tool, append([]string{"--bootstrap-server", other.Addr()}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kafka-leader-election.sh %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	one := notPreferred[0]
	out := run("--election-type", "preferred", "--topic", "pl", "--partition", strconv.Itoa(int(one)))
	t.Logf("kafka-leader-election.sh --topic pl --partition %d:\n%s", one, out)
	if !strings.Contains(out, "Successfully completed leader election (PREFERRED) for partitions pl-"+strconv.Itoa(int(one))) {
		t.Errorf("unexpected output:\n%s", out)
	}
	c.waitAgree("pl-"+strconv.Itoa(int(one))+" preferred", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := leadersOf(m, "pl")[one]
		return mp.Leader == mp.Replicas[0]
	})
	out = run("--election-type", "preferred", "--all-topic-partitions")
	t.Logf("kafka-leader-election.sh --all-topic-partitions:\n%s", out)
	if len(notPreferred) > 1 && !strings.Contains(out, "Successfully completed leader election (PREFERRED)") {
		t.Errorf("unexpected output:\n%s", out)
	}
	c.waitAgree("preferred leaders restored", 10*time.Second, preferredEverywhere("pl"))
	// Nothing left to do: for all partitions the controller leaves out
	// the ones that needed no election, so the tool prints nothing; for a
	// named partition it says a valid replica leads already.
	out = run("--election-type", "preferred", "--all-topic-partitions")
	if strings.TrimSpace(out) != "" {
		t.Errorf("second --all-topic-partitions run printed:\n%s", out)
	}
	out = run("--election-type", "preferred", "--topic", "pl", "--partition", strconv.Itoa(int(one)))
	if !strings.Contains(out, "Valid replica already elected for partitions pl-"+strconv.Itoa(int(one))) {
		t.Errorf("second run for pl-%d printed:\n%s", one, out)
	}

	// Unclean elections: uc-0 on brokers [a b], uc1-0 on [a] alone, a and
	// b not the controller.
	m = metadataFrom(t, ctrl.Addr())
	var a, b int32 = -1, -1
	for id := range c.brokers {
		switch {
		case id == m.ControllerID:
		case a < 0:
			a = id
		default:
			b = id
		}
	}
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.TimeoutMillis = 10000
	for name, rs := range map[string][]int32{"uc": {a, b}, "uc1": {a}} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, -1, -1
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = 0, rs
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		ct.Topics = append(ct.Topics, rt)
	}
	for _, rt := range request[*kmsg.CreateTopicsResponse](t, ctrl.Addr(), ct).Topics {
		if rt.ErrorCode != 0 {
			t.Fatalf("create %s: %v", rt.Topic, kerr.ErrorForCode(rt.ErrorCode))
		}
	}
	m = c.waitAgree("uc and uc1 led by a", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return leadersOf(m, "uc")[0].Leader == a && leadersOf(m, "uc1")[0].Leader == a
	})
	// b stops (its controlled shutdown takes it out of uc-0's ISR), a
	// dies, b comes back: b lives but is not in the ISR [a].
	c.waitAgree("uc-0 in sync", 15*time.Second, func(m *kmsg.MetadataResponse) bool {
		return slices.Contains(leadersOf(m, "uc")[0].ISR, b)
	})
	c.brokers[b].Stop()
	c.waitAgree("b out of uc-0's ISR", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return slices.Equal(leadersOf(m, "uc")[0].ISR, []int32{a})
	})
	c.brokers[a].Kill()
	c.brokers[b].Restart()
	c.waitAgree("uc and uc1 leaderless, b back", 15*time.Second, func(m *kmsg.MetadataResponse) bool {
		back := slices.ContainsFunc(m.Brokers, func(x kmsg.MetadataResponseBroker) bool { return x.NodeID == b })
		uc := leadersOf(m, "uc")[0]
		return back && uc.Leader == -1 && slices.Equal(uc.ISR, []int32{a}) && leadersOf(m, "uc1")[0].Leader == -1
	})
	r = request[*kmsg.ElectLeadersResponse](t, ctrl.Addr(), electRequest(0, "uc", 0))
	if got := electCodes(r)["uc-0"]; got != kerr.PreferredLeaderNotAvailable.Code {
		t.Errorf("preferred election for uc-0 with its preferred replica dead: %v, want PREFERRED_LEADER_NOT_AVAILABLE", kerr.ErrorForCode(got))
	}
	r = request[*kmsg.ElectLeadersResponse](t, ctrl.Addr(), electRequest(1, "uc1", 0))
	if got := electCodes(r)["uc1-0"]; got != kerr.EligibleLeadersNotAvailable.Code {
		t.Errorf("unclean election for uc1-0 with no live replica: %v, want ELIGIBLE_LEADERS_NOT_AVAILABLE", kerr.ErrorForCode(got))
	}
	r = request[*kmsg.ElectLeadersResponse](t, ctrl.Addr(), electRequest(1, "uc", 0))
	if got := electCodes(r)["uc-0"]; got != 0 {
		t.Fatalf("unclean election for uc-0: %v", kerr.ErrorForCode(got))
	}
	c.waitAgree("uc-0 led by the out-of-sync replica", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		p := leadersOf(m, "uc")[0]
		return p.Leader == b && slices.Equal(p.ISR, []int32{b})
	})
	// KIP-704: the unclean election wrote RECOVERING; b, the new leader,
	// marks it RECOVERED and says so in the AlterPartition that brings a
	// back into the ISR, after which the znode has no
	// leader_recovery_state (Kafka writes it only when not RECOVERED).
	if rs := c.recoveryState("uc", 0); rs != 1 {
		t.Fatalf("leader_recovery_state %d after the unclean election, want 1 (RECOVERING)", rs)
	}
	c.fill(t, "uc", 20, 100)
	c.brokers[a].Restart()
	c.waitAgree("a back in uc-0's ISR", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		p := leadersOf(m, "uc")[0]
		return p.Leader == b && len(p.ISR) == 2
	})
	if rs := c.recoveryState("uc", 0); rs != 0 {
		t.Fatalf("leader_recovery_state %d after the ISR grew, want 0 (RECOVERED)", rs)
	}
	cl := c.adminClient(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"uc": {0: kgo.NewOffset().AtStart()}}))
	got := 0
	for got < 20 {
		fs := cl.PollFetches(ctxT(t))
		if err := fs.Err(); err != nil {
			t.Fatalf("consuming uc after recovery: %v", err)
		}
		got += fs.NumRecords()
	}
}

// recoveryState reads a partition state znode's leader_recovery_state
// (0, RECOVERED, when absent, as Kafka's TopicPartitionStateZNode).
func (c *zkCluster) recoveryState(topic string, p int32) int {
	c.t.Helper()
	data, _ := c.get("/brokers/topics/" + topic + "/partitions/" + strconv.Itoa(int(p)) + "/state")
	var s struct {
		Recovery int `json:"leader_recovery_state"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		c.t.Fatalf("state znode %s-%d: %v", topic, p, err)
	}
	return s.Recovery
}

// leaderElectionTool is compat-tests/bin/kafka-leader-election.sh, which
// needs Java (and Maven once, for the jars).
func leaderElectionTool(t *testing.T) string {
	t.Helper()
	requireTool(t, "java")
	if _, err := os.Stat(filepath.Join("..", "compat-tests", "clients", "tools", "target", "lib", ".pom.sha256")); err != nil {
		requireTool(t, "mvn")
	}
	p, err := filepath.Abs(filepath.Join("..", "compat-tests", "bin", "kafka-leader-election.sh"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestZKAutoLeaderRebalance: with a short leader.imbalance.check.interval
// .seconds the controller moves leadership back to the preferred replicas
// by itself after a leader broker restarts.
func TestZKAutoLeaderRebalance(t *testing.T) {
	c := startZKClusterWith(t, 3, "leader.imbalance.check.interval.seconds=1")
	m := c.createZKTopic("ar", 6)
	epochs := map[int32]int32{}
	for p, mp := range leadersOf(m, "ar") {
		epochs[p] = mp.LeaderEpoch
	}
	victim, _ := c.restartLeader("ar")
	c.waitRejoined("ar", victim)
	m = c.waitAgree("preferred leaders restored by the controller", 20*time.Second, preferredEverywhere("ar"))
	moved := 0
	for p, mp := range leadersOf(m, "ar") {
		if mp.Leader == victim {
			if mp.LeaderEpoch < epochs[p]+2 {
				t.Errorf("ar-%d: leader epoch %d; want at least two elections (away and back) since %d", p, mp.LeaderEpoch, epochs[p])
			}
			moved++
		}
	}
	if moved == 0 {
		t.Fatalf("broker %d prefers no partition: %s", victim, summary(m))
	}
}

// TestZKRackAwareAssignment: with broker.rack set, CreateTopics and
// CreatePartitions place replicas as Kafka's rack-aware assignment does:
// broker 1 alone in rack a, brokers 2 and 3 in rack b, so every partition
// with two replicas has one on broker 1 and one in rack b.
func TestZKRackAwareAssignment(t *testing.T) {
	c := startZKClusterEach(t, 3, func(id int32) []string {
		if id == 1 {
			return []string{"broker.rack=a"}
		}
		return []string{"broker.rack=b"}
	})
	t.Logf("cluster up")
	adm := newAdmin(t, c.anyLive().Addr())
	if _, err := adm.CreateTopic(ctxT(t), 6, 2, nil, "racks"); err != nil {
		t.Fatal(err)
	}
	t.Logf("topic created")
	if _, err := adm.CreatePartitions(ctxT(t), 3, "racks"); err != nil {
		t.Fatal(err)
	}
	t.Logf("partitions created")
	m := c.waitAgree("racks led everywhere", 15*time.Second, func(m *kmsg.MetadataResponse) bool {
		ps := leadersOf(m, "racks")
		if len(ps) != 9 {
			return false
		}
		for _, p := range ps {
			if p.Leader < 0 {
				return false
			}
		}
		return true
	})
	leaders := map[int32]int{}
	for p, mp := range leadersOf(m, "racks") {
		rs := mp.Replicas
		if len(rs) != 2 || !slices.Contains(rs, 1) || rs[0] == rs[1] {
			t.Errorf("racks-%d on %v: want broker 1 (rack a) and one of 2, 3 (rack b)", p, rs)
		}
		leaders[rs[0]]++
	}
	// The rack-alternated list is [1 2 3]: leaders go round it.
	if leaders[1] != 3 || leaders[2] != 3 || leaders[3] != 3 {
		t.Errorf("preferred leaders per broker %v, want 3 each", leaders)
	}
	for _, b := range m.Brokers {
		want := "b"
		if b.NodeID == 1 {
			want = "a"
		}
		if b.Rack == nil || *b.Rack != want {
			t.Errorf("broker %d rack %v in Metadata, want %s", b.NodeID, b.Rack, want)
		}
	}
}

// TestZKAutoLeaderRebalanceThreshold: a broker whose imbalance does not
// exceed leader.imbalance.per.broker.percentage keeps its partitions led
// elsewhere. At 100 % even a broker leading none of its preferred
// partitions (ratio 1.0) is not rebalanced.
func TestZKAutoLeaderRebalanceThreshold(t *testing.T) {
	c := startZKClusterWith(t, 3, "leader.imbalance.check.interval.seconds=1", "leader.imbalance.per.broker.percentage=100")
	c.createZKTopic("th", 6)
	victim, _ := c.restartLeader("th")
	m := c.waitRejoined("th", victim)
	ctrl := c.brokers[m.ControllerID]
	// Wait for two more imbalance checks by the controller.
	const check = "processing automatic preferred replica leader election"
	seen := strings.Count(ctrl.Output(), check)
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(ctrl.Output(), check) < seen+2 {
		if time.Now().After(deadline) {
			t.Fatalf("controller %d did not check leader imbalance twice within 15s", m.ControllerID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	m = c.waitAgree("metadata", 5*time.Second, func(*kmsg.MetadataResponse) bool { return true })
	for p, mp := range leadersOf(m, "th") {
		if mp.Leader == victim {
			t.Errorf("th-%d moved back to broker %d although its imbalance (1.0) does not exceed 100%%", p, victim)
		}
	}
}

// TestZKFollowerAfterEmptyEpoch: a broker that led an epoch without
// writing in it follows the next leader and stays in sync. Broker 2
// leads epoch 1 (broker 1's controlled shutdown) without a write, then
// follows broker 1 again (preferred election, epoch 2): its leader-epoch
// cache ends with epoch 1 at the log end, which broker 1 never had.
// Kafka's follower drops it when the leader's DivergingEpoch makes it
// truncate to its log end (UnifiedLog.truncateTo); a follower that kept
// it fetched with LastFetchedEpoch 1 forever, each answer the same
// DivergingEpoch, and acks=all produces waited until the leader took it
// out of the ISR (replica.lag.time.max.ms, 30 s).
func TestZKFollowerAfterEmptyEpoch(t *testing.T) {
	c := startZKClusterWith(t, 2, "auto.leader.rebalance.enable=false")
	c.createAssigned(t, "ee", 1, 2)
	produce := func(what string) {
		t.Helper()
		cl := c.adminClient(t, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(10*time.Second))
		for i := 0; i < 5; i++ {
			if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "ee", Value: []byte(what)}).FirstErr(); err != nil {
				t.Fatalf("acks=all produce %s: %v", what, err)
			}
		}
	}
	produce("epoch 0")
	c.brokers[1].Restart() // controlled shutdown: broker 2 leads epoch 1
	c.waitAgree("broker 1 back in the ISR, broker 2 leading", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, "ee", 0)
		return mp.Leader == 2 && len(mp.ISR) == 2
	})
	m := metadataFrom(t, c.anyLive().Addr())
	r := request[*kmsg.ElectLeadersResponse](t, c.brokers[m.ControllerID].Addr(), electRequest(0, "ee", 0))
	if got := electCodes(r)["ee-0"]; r.ErrorCode != 0 || got != 0 {
		t.Fatalf("preferred election: top %d, partition %v", r.ErrorCode, kerr.ErrorForCode(got))
	}
	c.waitAgree("broker 1 leading epoch 2", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, "ee", 0)
		return mp.Leader == 1 && mp.LeaderEpoch == 2 && len(mp.ISR) == 2
	})
	start := time.Now()
	produce("epoch 2") // needs broker 2's fetches
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("5 acks=all records in epoch 2 took %v: broker 2 did not replicate them", took.Round(time.Millisecond))
	} else {
		t.Logf("5 acks=all records in epoch 2 took %v", took.Round(time.Millisecond))
	}
	m = c.waitAgree("broker 2 still in the ISR", 5*time.Second, func(m *kmsg.MetadataResponse) bool {
		return len(partitionOf(m, "ee", 0).ISR) == 2
	})
	t.Log(summary(m))
}
