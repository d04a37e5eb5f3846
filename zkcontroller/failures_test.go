package zkcontroller_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"samsa/controller"
	"samsa/internal/zkdata"
	"samsa/internal/zktest"
	"samsa/metrics"
	"samsa/zkcontroller"
)

func stateOf(t *testing.T, conn *zk.Conn, topic string, p int32) (zkdata.PartitionState, bool) {
	t.Helper()
	data, _, err := conn.Get(zkdata.StatePath(topic, p))
	if err != nil {
		return zkdata.PartitionState{}, false
	}
	st, err := zkdata.DecodePartitionState(data)
	return st, err == nil
}

func startController(t *testing.T, z *controller.ZK) *zkcontroller.Controller {
	t.Helper()
	return startControllerStats(t, z, nil)
}

func startControllerStats(t *testing.T, z *controller.ZK, stats *metrics.ControllerStats) *zkcontroller.Controller {
	t.Helper()
	c := zkcontroller.New(zkcontroller.Config{ZK: z, InterBrokerListener: "PLAINTEXT", Logger: slog.New(slog.DiscardHandler), Stats: stats})
	c.Start()
	t.Cleanup(c.Close)
	return c
}

func createTopic(t *testing.T, z *controller.ZK, name string, assignment ...[]int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := z.CreateTopic(ctx, controller.CreateTopic{Name: name, Assignments: assignment}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, name+" initialized", 10*time.Second, func() bool {
		st, ok := stateOf(t, z.Conn(), name, 0)
		return ok && st.Leader == assignment[0][0]
	})
}

// TestBrokerChangeSurvivesLostZooKeeperConnection: the controller's
// connection to ZooKeeper goes dead (blackholed) just as it handles a
// broker's death; its read of /brokers/ids fails with a lost connection.
// It is retried once the client reconnects within the session, so the
// dead leader is replaced (and the watch armed again) instead of the
// event being dropped for the rest of the term.
func TestBrokerChangeSurvivesLostZooKeeperConnection(t *testing.T) {
	s := zktest.Start(t)
	lk := newLink(t)
	lk.target.Store(s.Addr)
	z1 := openZKSession(t, lk.addr(), 1, 1, 4*time.Second)
	c1 := startController(t, z1)
	waitUntil(t, "broker 1 elected", 10*time.Second, func() bool { return c1.Epoch() == 1 })
	z2 := openZKAt(t, s.Addr, 2, 1)
	z3 := openZKAt(t, s.Addr, 3, 1)
	createTopic(t, z2, "t", []int32{3, 2})

	release := c1.Block()
	z3.Close()
	_ = z3
	time.Sleep(300 * time.Millisecond) // the watch event reaches broker 1's client
	lk.freeze()
	release()
	waitUntil(t, "broker 2 leads t-0", 15*time.Second, func() bool {
		st, ok := stateOf(t, z2.Conn(), "t", 0)
		return ok && st.Leader == 2 && st.LeaderEpoch == 1
	})
	// The /brokers/ids watch is armed again: broker 2, the only ISR
	// member, dying next leaves the partition leaderless.
	z2.Close()
	waitUntil(t, "t-0 leaderless after broker 2 died", 10*time.Second, func() bool {
		st, ok := stateOf(t, z1.Conn(), "t", 0)
		return ok && st.Leader == -1 && st.LeaderEpoch == 2
	})
	if c1.Epoch() != 1 {
		t.Fatalf("controller epoch %d, want broker 1 still controller at 1", c1.Epoch())
	}
}

// TestOnePartitionFailureDoesNotStopTheOthers: when a broker dies, a
// partition whose state cannot be changed (its znode was overwritten
// with something unreadable) is logged and skipped; the other partitions
// the broker led still get new leaders.
func TestOnePartitionFailureDoesNotStopTheOthers(t *testing.T) {
	s := zktest.Start(t)
	z1 := openZKAt(t, s.Addr, 1, 1)
	c1 := startController(t, z1)
	waitUntil(t, "broker 1 elected", 10*time.Second, func() bool { return c1.Epoch() == 1 })
	z2 := openZKAt(t, s.Addr, 2, 1)
	z3 := openZKAt(t, s.Addr, 3, 1)
	createTopic(t, z1, "a", []int32{3, 2})
	createTopic(t, z1, "b", []int32{3, 2})
	if _, err := z1.Conn().Set(zkdata.StatePath("a", 0), []byte("garbage"), -1); err != nil {
		t.Fatal(err)
	}
	z3.Close()
	waitUntil(t, "broker 2 leads b-0", 10*time.Second, func() bool {
		st, ok := stateOf(t, z2.Conn(), "b", 0)
		return ok && st.Leader == 2
	})
	if c1.Epoch() != 1 {
		t.Fatalf("controller epoch %d", c1.Epoch())
	}
}

// TestElectionWithLostReply: the reply to the election multi-op is lost
// after ZooKeeper applied it; on the retry ZooKeeper answers NODEEXISTS.
// As Kafka's checkControllerAndEpoch, the broker finds /controller is
// its own (this session) with the epoch it wrote and takes the win,
// rather than leaving /controller naming it with nobody active.
func TestElectionWithLostReply(t *testing.T) {
	s := zktest.Start(t)
	lk := newLink(t)
	lk.target.Store(s.Addr)
	lk.loseMulti.Store(true)
	z1 := openZKSession(t, lk.addr(), 1, 1, 4*time.Second)
	c1 := startController(t, z1)
	waitUntil(t, "broker 1 controller at epoch 1", 15*time.Second, func() bool { return c1.Epoch() == 1 && z1.IsActiveController() })
	if lk.loseMulti.Load() {
		t.Fatal("the election's reply was not lost; the test did not test anything")
	}
	data, _, err := z1.Conn().Get("/controller_epoch")
	if err != nil || string(data) != "1" {
		t.Fatalf("/controller_epoch = %s %v", data, err)
	}
}

// TestStoppingControllerKeepsSuccessorsZnode: a controller stopping after
// another broker took over (it has not handled the change yet) deletes
// /controller only conditionally on its own epoch's version, as Kafka's
// deleteController(epochZkVersion): the successor's /controller stays.
// Repeated, since whether the change or the stop is seen first was random
// before stopping took priority.
func TestStoppingControllerKeepsSuccessorsZnode(t *testing.T) {
	s := zktest.Start(t)
	zs := openZKAt(t, s.Addr, 2, 1)
	conn := zs.Conn()
	for i := 0; i < 4; i++ {
		z1 := openZKAt(t, s.Addr, 1, 1)
		c1 := startController(t, z1)
		waitUntil(t, "broker 1 elected", 10*time.Second, func() bool { return c1.Epoch() > 0 })
		release := c1.Block()
		// Broker 2's election, as its multi-op does it, once broker 1's
		// /controller is gone.
		if err := conn.Delete("/controller", -1); err != nil {
			t.Fatal(err)
		}
		_, st, err := conn.Get("/controller_epoch")
		if err != nil {
			t.Fatal(err)
		}
		next := c1.Epoch() + 1
		if _, err := conn.Multi(
			&zk.CreateRequest{Path: "/controller", Data: zkdata.EncodeController(2, time.Now().UnixMilli()), Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagEphemeral},
			&zk.SetDataRequest{Path: "/controller_epoch", Data: zkdata.EncodeControllerEpoch(next), Version: st.Version},
		); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the watch event is queued behind Block
		closed := make(chan struct{})
		go func() { c1.Close(); close(closed) }()
		time.Sleep(50 * time.Millisecond)
		release()
		<-closed
		data, _, err := conn.Get("/controller")
		if err != nil {
			t.Fatalf("round %d: successor's /controller deleted by the stopping controller: %v", i, err)
		}
		if id, _ := zkdata.DecodeController(data); id != 2 {
			t.Fatalf("round %d: /controller = %s", i, data)
		}
		// Next round: /controller free again.
		if err := conn.Delete("/controller", -1); err != nil {
			t.Fatal(err)
		}
		z1.Close()
	}
}

// TestSessionExpiryEndsTerm: the controller's ZooKeeper session expires
// (its link cut longer than the session timeout) and /controller, gone
// with it, is meanwhile re-created naming this broker by another session.
// On reconnecting the broker learns of the expiry and resigns at once, as
// Kafka does; it does not stay active on a /controller it does not own.
func TestSessionExpiryEndsTerm(t *testing.T) {
	s := zktest.Start(t)
	lk := newLink(t)
	lk.target.Store(s.Addr)
	z1 := openZKSession(t, lk.addr(), 1, 1, 2*time.Second)
	c1 := startController(t, z1)
	waitUntil(t, "broker 1 elected", 10*time.Second, func() bool { return c1.Epoch() == 1 })
	other := openZKAt(t, s.Addr, 2, 1)
	conn := other.Conn()
	lk.setCut(true)
	waitUntil(t, "broker 1's session expired", 10*time.Second, func() bool {
		ok, _, err := conn.Exists("/controller")
		return err == nil && !ok
	})
	if _, err := conn.Create("/controller", zkdata.EncodeController(1, time.Now().UnixMilli()), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	lk.setCut(false)
	waitUntil(t, "broker 1 resigned", 8*time.Second, func() bool { return c1.Epoch() == -1 && !z1.IsActiveController() })
	time.Sleep(500 * time.Millisecond)
	if c1.Epoch() != -1 {
		t.Fatalf("broker 1 controller again at epoch %d on a /controller it does not own", c1.Epoch())
	}
}

// TestOfflineElectionRecoveryState: an unclean election writes
// leader_recovery_state RECOVERING (1); a clean one keeps the partition's
// previous state (Kafka 3.9's Election.leaderForOffline, KIP-704).
func TestOfflineElectionRecoveryState(t *testing.T) {
	s := zktest.Start(t)
	z1 := openZKAt(t, s.Addr, 1, 1)
	m := metrics.New()
	c1 := startControllerStats(t, z1, m.Controller())
	waitUntil(t, "broker 1 elected", 10*time.Second, func() bool { return c1.Epoch() == 1 })
	zs := map[int32]*controller.ZK{}
	for id := int32(2); id <= 5; id++ {
		zs[id] = openZKAt(t, s.Addr, id, 1)
	}
	conn := z1.Conn()
	createTopic(t, z1, "u", []int32{2, 3})
	createTopic(t, z1, "k", []int32{4, 5})
	if err := z1.SetTopicConfigs(context.Background(), "u", map[string]string{"unclean.leader.election.enable": "true"}); err != nil {
		t.Fatal(err)
	}
	// k: leader 4 still recovering from an earlier unclean election.
	if _, err := conn.Set(zkdata.StatePath("k", 0), zkdata.EncodePartitionState(zkdata.PartitionState{Leader: 4, ISR: []int32{4, 5},
		ControllerEpoch: 1, LeaderRecoveryState: zkdata.LeaderRecovering}), -1); err != nil {
		t.Fatal(err)
	}
	// u: 3 leaves the ISR, returns out of sync, then 2 dies: unclean.
	zs[3].Close()
	waitUntil(t, "u: 3 out of the ISR", 10*time.Second, func() bool {
		st, ok := stateOf(t, conn, "u", 0)
		return ok && len(st.ISR) == 1 && st.ISR[0] == 2
	})
	zs[3] = openZKAt(t, s.Addr, 3, 1)
	time.Sleep(300 * time.Millisecond)
	zs[2].Close()
	waitUntil(t, "u: unclean leader 3", 10*time.Second, func() bool {
		st, ok := stateOf(t, conn, "u", 0)
		return ok && st.Leader == 3
	})
	if st, _ := stateOf(t, conn, "u", 0); st.LeaderRecoveryState != zkdata.LeaderRecovering || len(st.ISR) != 1 || st.ISR[0] != 3 {
		t.Fatalf("u after an unclean election: %+v, want RECOVERING with ISR [3]", st)
	}
	// k: 4 dies, 5 (in sync) is elected cleanly: the state stays RECOVERING.
	zs[4].Close()
	waitUntil(t, "k: leader 5", 10*time.Second, func() bool {
		st, ok := stateOf(t, conn, "k", 0)
		return ok && st.Leader == 5
	})
	if st, _ := stateOf(t, conn, "k", 0); st.LeaderRecoveryState != zkdata.LeaderRecovering {
		t.Fatalf("k after a clean election: %+v, want the previous RECOVERING kept", st)
	}
	// One unclean election (u), one clean (k): UncleanLeaderElectionsPerSec.
	if got := m.Controller().UncleanLeaderElections(); got != 1 {
		t.Errorf("UncleanLeaderElections = %d, want 1", got)
	}
}

// TestUndecodableStateDoesNotWedgeFailover: one partition's state znode
// cannot be decoded. The elected controller logs and skips that
// partition and completes its failover (other partitions initialized, the
// term kept), instead of resigning and every broker failing the same way.
func TestUndecodableStateDoesNotWedgeFailover(t *testing.T) {
	s := zktest.Start(t)
	z1 := openZKAt(t, s.Addr, 1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, name := range []string{"a", "b"} {
		if _, err := z1.CreateTopic(ctx, controller.CreateTopic{Name: name, Assignments: [][]int32{{1}}}); err != nil {
			t.Fatal(err)
		}
	}
	conn := z1.Conn()
	for _, p := range []string{zkdata.PartitionsPath("a"), zkdata.PartitionPath("a", 0)} {
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			t.Fatal(err)
		}
	}
	if _, err := conn.Create(zkdata.StatePath("a", 0), []byte("{not json"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c1 := startController(t, z1)
	waitUntil(t, "b-0 initialized", 10*time.Second, func() bool {
		st, ok := stateOf(t, conn, "b", 0)
		return ok && st.Leader == 1
	})
	time.Sleep(1500 * time.Millisecond)
	if c1.Epoch() != 1 {
		t.Fatalf("controller epoch %d: failover was retried", c1.Epoch())
	}
	if data, _, _ := conn.Get(zkdata.StatePath("a", 0)); string(data) != "{not json" {
		t.Fatalf("a-0 state overwritten: %s", data)
	}
}

// TestBrokerBouncedBetweenReads: broker 2's session ends and it registers
// again while the controller is busy, so the controller's next read of
// /brokers/ids finds the same id with a new epoch (czxid) and nothing
// else changed. As Kafka's processBrokerChange (bouncedBrokerIds), that
// is a failure followed by a startup: t-0, led by broker 2, moves to
// broker 3 (leader epoch 1, ISR [3]); u-0, whose only replica is broker
// 2, goes leaderless and is elected again on broker 2's startup (leader
// epoch 2). A controller comparing only the ids would change neither.
func TestBrokerBouncedBetweenReads(t *testing.T) {
	s := zktest.Start(t)
	z1 := openZKAt(t, s.Addr, 1, 1)
	c1 := startController(t, z1)
	waitUntil(t, "broker 1 elected", 10*time.Second, func() bool { return c1.Epoch() == 1 })
	z2 := openZKAt(t, s.Addr, 2, 1)
	openZKAt(t, s.Addr, 3, 1)
	createTopic(t, z1, "t", []int32{2, 3})
	createTopic(t, z1, "u", []int32{2})
	_, before, err := z1.Conn().Get(zkdata.BrokerPath(2))
	if err != nil {
		t.Fatal(err)
	}

	release := c1.Block()
	z2.Close() // the ephemeral registration goes with the session
	z2 = openZKAt(t, s.Addr, 2, 1)
	_, after, err := z1.Conn().Get(zkdata.BrokerPath(2))
	if err != nil {
		t.Fatal(err)
	}
	if after.Czxid == before.Czxid {
		t.Fatalf("broker 2 registered again with the same czxid %d", after.Czxid)
	}
	time.Sleep(300 * time.Millisecond) // the watch events reach broker 1's client
	release()

	waitUntil(t, "t-0 moved to broker 3 and u-0 elected again on broker 2", 10*time.Second, func() bool {
		st, ok := stateOf(t, z1.Conn(), "t", 0)
		su, ok2 := stateOf(t, z1.Conn(), "u", 0)
		return ok && ok2 && st.Leader == 3 && st.LeaderEpoch == 1 && su.Leader == 2 && su.LeaderEpoch == 2
	})
	st, _ := stateOf(t, z1.Conn(), "t", 0)
	if len(st.ISR) != 1 || st.ISR[0] != 3 {
		t.Errorf("t-0 ISR %v after broker 2 bounced, want [3]", st.ISR)
	}
	_ = z2
}
