package zkcontroller

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/internal/zkdata"
	"samsa/internal/zktest"
	"samsa/metadatacache"
)

func openZK(t *testing.T, addr string, id int32) *controller.ZK {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Nothing listens on these endpoints: the controller's requests to
	// brokers fail and are dropped, which this test does not need.
	z, err := controller.OpenZK(ctx, controller.ZKConfig{Connect: addr, SessionTimeout: 2 * time.Second, BrokerID: id,
		Endpoints: []zkdata.Endpoint{{Listener: "PLAINTEXT", Host: "127.0.0.1", Port: 1, SecurityProtocol: "PLAINTEXT"}},
		Cache:     metadatacache.New("PLAINTEXT"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	return z
}

func waitFor(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeposedControllerIsFenced: a controller whose epoch was taken over
// behind its back (it has not noticed yet) cannot write partition state:
// its conditional write fails on /controller_epoch's version, it answers
// NOT_CONTROLLER and resigns, and the state znode is unchanged.
func TestDeposedControllerIsFenced(t *testing.T) {
	s := zktest.Start(t)
	z1 := openZK(t, s.Addr, 1)
	z2 := openZK(t, s.Addr, 2)
	c1 := New(Config{ZK: z1, InterBrokerListener: "PLAINTEXT", Logger: slog.New(slog.DiscardHandler)})
	c1.Start()
	t.Cleanup(c1.Close)
	waitFor(t, "broker 1 elected", func() bool { return c1.Epoch() == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	tp, err := z1.CreateTopic(ctx, controller.CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 2})
	if err != nil {
		t.Fatal(err)
	}
	conn := z1.Conn()
	var state []byte
	waitFor(t, "partition state written", func() bool {
		state, _, err = conn.Get("/brokers/topics/t/partitions/0/state")
		return err == nil
	})
	st, err := zkdata.DecodePartitionState(state)
	if err != nil || st.ControllerEpoch != 1 || len(st.ISR) != 2 {
		t.Fatalf("state %s: %v", state, err)
	}
	leader := st.Leader
	zl := z1
	if leader == 2 {
		zl = z2
	}
	alter := func() *kmsg.AlterPartitionResponse {
		req := kmsg.NewPtrAlterPartitionRequest()
		req.Version, req.BrokerID, req.BrokerEpoch = 3, leader, zl.BrokerEpoch()
		rt := kmsg.NewAlterPartitionRequestTopic()
		rt.TopicID = tp.ID
		p := kmsg.NewAlterPartitionRequestTopicPartition()
		e := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
		e.BrokerID, e.BrokerEpoch = leader, zl.BrokerEpoch()
		p.NewEpochISR = []kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{e}
		rt.Partitions = append(rt.Partitions, p)
		req.Topics = append(req.Topics, rt)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return c1.AlterPartition(ctx, req)
	}

	// Another controller's election, as its multi-op would do it, except
	// that /controller is left alone so broker 1 gets no watch event.
	if _, err := conn.Set("/controller_epoch", zkdata.EncodeControllerEpoch(2), -1); err != nil {
		t.Fatal(err)
	}
	r := alter()
	code := r.ErrorCode
	if code == 0 && len(r.Topics) > 0 {
		code = r.Topics[0].Partitions[0].ErrorCode
	}
	if code != kerr.NotController.Code {
		t.Fatalf("AlterPartition at the deposed controller: %v", kerr.ErrorForCode(code))
	}
	after, _, _ := conn.Get("/brokers/topics/t/partitions/0/state")
	if string(after) != string(state) {
		t.Fatalf("deposed controller wrote state: %s -> %s", state, after)
	}
	waitFor(t, "broker 1 resigned", func() bool { return c1.Epoch() == -1 && !z1.IsActiveController() })
	if r := alter(); r.ErrorCode != kerr.NotController.Code {
		t.Fatalf("AlterPartition after resigning: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	// With /controller gone, broker 2 wins the next election with epoch 3.
	c2 := New(Config{ZK: z2, InterBrokerListener: "PLAINTEXT", Logger: slog.New(slog.DiscardHandler)})
	c2.Start()
	t.Cleanup(c2.Close)
	if err := conn.Delete("/controller", -1); err != nil && err != zk.ErrNoNode {
		t.Fatal(err)
	}
	waitFor(t, "a new controller at epoch 3", func() bool { return c1.Epoch() == 3 || c2.Epoch() == 3 })
	data, _, _ := conn.Get("/controller_epoch")
	if string(data) != "3" {
		t.Fatalf("/controller_epoch = %s", data)
	}
}

func readState(t *testing.T, conn *zk.Conn, topic string, p int32) (zkdata.PartitionState, int32) {
	t.Helper()
	data, st, err := conn.Get(zkdata.StatePath(topic, p))
	if err != nil {
		t.Fatal(err)
	}
	s, err := zkdata.DecodePartitionState(data)
	if err != nil {
		t.Fatal(err)
	}
	return s, st.Version
}

// startFirstController starts broker 1's controller on a fresh
// ZooKeeper and waits until it is elected (controller epoch 1).
func startFirstController(t *testing.T, addr string) (*controller.ZK, *Controller) {
	t.Helper()
	z1 := openZK(t, addr, 1)
	c1 := New(Config{ZK: z1, InterBrokerListener: "PLAINTEXT", Logger: slog.New(slog.DiscardHandler)})
	c1.Start()
	t.Cleanup(c1.Close)
	waitFor(t, "broker 1 elected", func() bool { return c1.Epoch() == 1 })
	return z1, c1
}

// TestOfflineElection: a partition whose only in-sync replica dies stays
// leaderless, keeping that replica as its ISR, unless
// unclean.leader.election.enable lets a live out-of-sync replica lead;
// when the in-sync replica's broker returns, it leads again.
func TestOfflineElection(t *testing.T) {
	s := zktest.Start(t)
	z1, _ := startFirstController(t, s.Addr)
	conn := z1.Conn()

	z2 := openZK(t, s.Addr, 2)
	z3 := openZK(t, s.Addr, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	for _, name := range []string{"clean", "unclean"} {
		if _, err := z1.CreateTopic(ctx, controller.CreateTopic{Name: name, Assignments: [][]int32{{2, 3}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := z1.SetTopicConfigs(context.Background(), "unclean", map[string]string{"unclean.leader.election.enable": "true"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"clean", "unclean"} {
		waitFor(t, name+" initialized", func() bool { ok, _, _ := conn.Exists(zkdata.StatePath(name, 0)); return ok })
		st, _ := readState(t, conn, name, 0)
		if st.Leader != 2 || len(st.ISR) != 2 {
			t.Fatalf("%s: %+v", name, st)
		}
	}
	// Broker 3 dies: it leaves both ISRs, leader epoch 1.
	z3.Close()
	for _, name := range []string{"clean", "unclean"} {
		waitFor(t, name+": 3 out of the ISR", func() bool {
			st, _ := readState(t, conn, name, 0)
			return st.Leader == 2 && len(st.ISR) == 1 && st.ISR[0] == 2 && st.LeaderEpoch == 1
		})
	}
	// Broker 3 returns (not in sync), then broker 2, the only ISR
	// member, dies.
	z3 = openZK(t, s.Addr, 3)
	time.Sleep(300 * time.Millisecond)
	z2.Close()
	waitFor(t, "clean: leaderless, ISR kept", func() bool {
		st, _ := readState(t, conn, "clean", 0)
		return st.Leader == -1 && len(st.ISR) == 1 && st.ISR[0] == 2 && st.LeaderEpoch == 2
	})
	waitFor(t, "unclean: out-of-sync replica 3 leads", func() bool {
		st, _ := readState(t, conn, "unclean", 0)
		return st.Leader == 3 && len(st.ISR) == 1 && st.ISR[0] == 3 && st.LeaderEpoch == 2
	})
	// Broker 2 returns: it leads "clean" again.
	z2 = openZK(t, s.Addr, 2)
	waitFor(t, "clean: broker 2 leads again", func() bool {
		st, _ := readState(t, conn, "clean", 0)
		return st.Leader == 2 && st.LeaderEpoch == 3
	})
	_ = z2
	_ = z3
}

// TestOfflineElectionDynamicDefault: unclean.leader.election.enable set
// as a dynamic cluster-default broker config (/config/brokers/<default>)
// lets an out-of-sync replica lead a topic without its own override, as
// Kafka's controller follows DynamicLogConfig.
func TestOfflineElectionDynamicDefault(t *testing.T) {
	s := zktest.Start(t)
	z1, _ := startFirstController(t, s.Addr)
	conn := z1.Conn()
	z2 := openZK(t, s.Addr, 2)
	z3 := openZK(t, s.Addr, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := z1.CreateTopic(ctx, controller.CreateTopic{Name: "d", Assignments: [][]int32{{2, 3}}}); err != nil {
		t.Fatal(err)
	}
	if err := z1.SetBrokerConfigs(ctx, controller.BrokerDefaultEntity, map[string]string{"unclean.leader.election.enable": "true"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "default config seen", func() bool {
		return z1.BrokerConfigs(controller.BrokerDefaultEntity)["unclean.leader.election.enable"] == "true"
	})
	waitFor(t, "d initialized", func() bool { ok, _, _ := conn.Exists(zkdata.StatePath("d", 0)); return ok })
	z3.Close()
	waitFor(t, "3 out of the ISR", func() bool {
		st, _ := readState(t, conn, "d", 0)
		return st.Leader == 2 && len(st.ISR) == 1 && st.ISR[0] == 2
	})
	z3 = openZK(t, s.Addr, 3)
	time.Sleep(300 * time.Millisecond)
	z2.Close()
	waitFor(t, "out-of-sync replica 3 leads", func() bool {
		st, _ := readState(t, conn, "d", 0)
		return st.Leader == 3 && len(st.ISR) == 1 && st.ISR[0] == 3
	})
	_ = z3
}
