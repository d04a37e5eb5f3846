package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/groups"
	"samsa/internal/testbroker"
	"samsa/internal/zktest"
)

// startCoordCluster is startZKCluster with three partitions for both
// internal topics (fewer elections to wait for) and extra broker
// properties.
func startCoordCluster(t *testing.T, extra ...string) *zkCluster {
	t.Helper()
	zs := zktest.Start(t)
	c := &zkCluster{t: t, zk: zs, brokers: map[int32]*testbroker.Broker{}}
	for id := int32(1); id <= 3; id++ {
		c.brokers[id] = testbroker.Start(t, testbroker.Binary, append([]string{
			"zookeeper.connect=" + zs.Addr + "/kafka",
			"broker.id=" + strconv.Itoa(int(id)),
			"zookeeper.session.timeout.ms=" + strconv.Itoa(zkSessionMs),
			"group.initial.rebalance.delay.ms=0",
			"offsets.topic.num.partitions=3",
			"transaction.state.log.num.partitions=3",
			"transaction.abort.timed.out.transaction.cleanup.interval.ms=1000"}, extra...)...)
	}
	conn, _, err := zk.Connect([]string{zs.Addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	c.conn = conn
	c.waitAgree("cluster formed", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		return len(m.Brokers) == 3 && m.ControllerID > 0
	})
	return c
}

// waitTopic waits until every partition of topic has a leader and n
// replicas in sync everywhere.
func (c *zkCluster) waitTopic(topic string, parts int32, n int) {
	c.t.Helper()
	c.waitAgree(topic+" led", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		for p := int32(0); p < parts; p++ {
			mp := partitionOf(m, topic, p)
			if mp.Leader < 0 || len(mp.ISR) != n {
				return false
			}
		}
		return true
	})
}

func (c *zkCluster) seeds() []string {
	var out []string
	for id := int32(1); id <= int32(len(c.brokers)); id++ {
		out = append(out, c.brokers[id].Addr())
	}
	return out
}

// findCoordinator asks a live broker for key's coordinator (typ 0 group,
// 1 transaction) until one is answered.
func (c *zkCluster) findCoordinator(key string, typ int8) int32 {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.Version, fc.CoordinatorType, fc.CoordinatorKeys = 4, typ, []string{key}
		r := request[*kmsg.FindCoordinatorResponse](c.t, c.anyLive().Addr(), fc)
		if co := r.Coordinators[0]; co.ErrorCode == 0 && c.brokers[co.NodeID] != nil && c.brokers[co.NodeID].Alive() {
			return co.NodeID
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("FindCoordinator(%q, %d): %+v", key, typ, r.Coordinators[0])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitInternalISR waits until the internal topic's partition for key has
// three replicas all in sync, as every broker sees it.
func (c *zkCluster) waitInternalISR(topic, key string, n int) kmsg.MetadataResponseTopicPartition {
	c.t.Helper()
	p := groups.PartitionFor(key, 3)
	m := c.waitAgree(topic+" replicated", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, topic, p)
		return mp.Leader >= 0 && len(mp.Replicas) == 3 && len(mp.ISR) == n
	})
	return partitionOf(m, topic, p)
}

func (c *zkCluster) produceSeq(t *testing.T, cl *kgo.Client, topic, prefix string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		r := &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: []byte(prefix + strconv.Itoa(i))}
		if err := cl.ProduceSync(ctxT(t), r).FirstErr(); err != nil {
			c.dumpErrors(topic)
			t.Fatalf("produce %s%d: %v", prefix, i, err)
		}
	}
}

// pollExactly polls cl until it got want records, failing on a duplicate
// or a record outside want.
func pollExactly(t *testing.T, cl *kgo.Client, want map[string]bool, timeout time.Duration) []*kgo.Record {
	t.Helper()
	seen := map[string]bool{}
	var recs []*kgo.Record
	deadline := time.Now().Add(timeout)
	for len(seen) < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d records within %v", len(seen), len(want), timeout)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(topic string, p int32, err error) {
			if err != context.DeadlineExceeded {
				t.Logf("fetch error %s-%d: %v", topic, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			v := string(r.Value)
			if !want[v] {
				t.Fatalf("consumed %q, not among the %d expected (re-consumed or foreign)", v, len(want))
			}
			if seen[v] {
				t.Fatalf("consumed %q twice", v)
			}
			seen[v] = true
			recs = append(recs, r)
		})
	}
	return recs
}

func valueSet(prefix string, from, n int) map[string]bool {
	m := map[string]bool{}
	for i := from; i < from+n; i++ {
		m[prefix+strconv.Itoa(i)] = true
	}
	return m
}

// TestZKGroupCoordinatorFailover: a consumer group keeps consuming while
// the broker that is its coordinator is killed -9 and restarted; its
// committed offsets, replicated with acks=all to the other replicas of
// its __consumer_offsets partition, survive exactly, and a consumer that
// takes over after the failover starts where the last commit left off.
func TestZKGroupCoordinatorFailover(t *testing.T) {
	c := startCoordCluster(t)
	seeds := c.seeds()
	adm := kadm.NewClient(newClient(t, seeds[0], kgo.SeedBrokers(seeds...)))
	if res, err := adm.CreateTopic(ctxT(t), 3, 3, nil, "events"); err != nil || res.Err != nil {
		t.Fatalf("create topic: %v %v", err, res.Err)
	}
	c.waitTopic("events", 3, 3)
	prod := newClient(t, seeds[0], kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()))
	c.produceSeq(t, prod, "events", "v", 0, 150)

	const group = "failover-group"
	consumer := func() *kgo.Client {
		return newClient(t, seeds[0], kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics("events"),
			kgo.DisableAutoCommit(), kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
			kgo.FetchMaxWait(500*time.Millisecond))
	}
	a := consumer()
	pollExactly(t, a, valueSet("v", 0, 150), 30*time.Second)
	if err := a.CommitUncommittedOffsets(ctxT(t)); err != nil {
		t.Fatalf("commit: %v", err)
	}
	committed, err := adm.FetchOffsets(ctxT(t), group)
	if err != nil || committed.Error() != nil {
		t.Fatalf("fetch offsets: %v %v", err, committed.Error())
	}
	var total int64
	committed.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 150 {
		t.Fatalf("committed offsets sum to %d, want 150: %v", total, committed)
	}

	coord := c.findCoordinator(group, 0)
	gp := c.waitInternalISR("__consumer_offsets", group, 3)
	if gp.Leader != coord {
		t.Fatalf("coordinator %d is not the leader %d of the group's partition", coord, gp.Leader)
	}
	// The commit went to every replica before it was acknowledged.
	for id, b := range c.brokers {
		dir := filepath.Join(b.DataDir(), "__consumer_offsets-"+strconv.Itoa(int(groups.PartitionFor(group, 3))))
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		var size int64
		for _, l := range logs {
			if fi, err := os.Stat(l); err == nil {
				size += fi.Size()
			}
		}
		if size == 0 {
			t.Errorf("broker %d's replica of the group's partition (%s) is empty", id, dir)
		}
	}
	// Another broker is not the group's coordinator: NOT_COORDINATOR.
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version = 8
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	of.Groups = append(of.Groups, rg)
	if r := request[*kmsg.OffsetFetchResponse](t, c.anyLive(coord).Addr(), of); r.Groups[0].ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("OffsetFetch at a broker that is not the coordinator: %v", kerr.ErrorForCode(r.Groups[0].ErrorCode))
	}
	killedAt := time.Now()
	c.brokers[coord].Kill()

	// The group's offsets are answered, unchanged, by the new coordinator.
	newCoord := c.findCoordinator(group, 0)
	t.Logf("coordinator %d killed; FindCoordinator answers broker %d after %v", coord, newCoord, time.Since(killedAt).Round(time.Millisecond))
	adm2 := kadm.NewClient(newClient(t, c.anyLive().Addr(), kgo.SeedBrokers(c.anyLive().Addr())))
	var after kadm.OffsetResponses
	for deadline := time.Now().Add(20 * time.Second); ; {
		after, err = adm2.FetchOffsets(ctxT(t), group)
		if err == nil && after.Error() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fetch offsets after the kill: %v %v", err, after.Error())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("broker %d answers the group's offsets after %v", newCoord, time.Since(killedAt).Round(time.Millisecond))
	if newCoord == coord {
		t.Fatalf("coordinator is still the killed broker %d", coord)
	}
	committed.Each(func(o kadm.OffsetResponse) {
		got, ok := after.Lookup(o.Topic, o.Partition)
		if !ok || got.At != o.At {
			t.Errorf("%s-%d: committed %d before the kill, %d (found %v) after", o.Topic, o.Partition, o.At, got.At, ok)
		}
	})

	// The same consumer keeps consuming through the failover and commits
	// at the new coordinator.
	c.produceSeq(t, prod, "events", "v", 150, 150)
	pollExactly(t, a, valueSet("v", 150, 150), 40*time.Second)
	if err := a.CommitUncommittedOffsets(ctxT(t)); err != nil {
		t.Fatalf("commit after failover: %v", err)
	}

	c.brokers[coord].Restart()
	c.waitInternalISR("__consumer_offsets", group, 3)

	// A new member after the first leaves starts at the last commit:
	// nothing is consumed twice.
	a.Close()
	c.produceSeq(t, prod, "events", "v", 300, 60)
	b := consumer()
	pollExactly(t, b, valueSet("v", 300, 60), 40*time.Second)
	if err := b.CommitUncommittedOffsets(ctxT(t)); err != nil {
		t.Fatalf("commit after restart: %v", err)
	}
	final, err := adm2.FetchOffsets(ctxT(t), group)
	if err != nil || final.Error() != nil {
		t.Fatalf("fetch offsets at the end: %v %v", err, final.Error())
	}
	total = 0
	final.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 360 {
		t.Fatalf("final committed offsets sum to %d, want 360", total)
	}

}

// TestZKTxnCoordinatorFailover: the transaction coordinator of a
// transactional id is killed -9 between transactions; the producer's
// next transaction and a new producer's InitProducerId work at the new
// coordinator, markers reach partition leaders on other brokers, and a
// read_committed consumer sees every committed transaction exactly once
// and nothing of the aborted one, with no transaction left hanging.
func TestZKTxnCoordinatorFailover(t *testing.T) {
	c := startCoordCluster(t)
	seeds := c.seeds()
	adm := kadm.NewClient(newClient(t, seeds[0], kgo.SeedBrokers(seeds...)))
	if res, err := adm.CreateTopic(ctxT(t), 3, 3, nil, "tx"); err != nil || res.Err != nil {
		t.Fatalf("create topic: %v %v", err, res.Err)
	}
	c.waitTopic("tx", 3, 3)
	const tid = "failover-txn"
	producer := func() *kgo.Client {
		return newClient(t, seeds[0], kgo.SeedBrokers(seeds...), kgo.TransactionalID(tid), kgo.TransactionTimeout(20*time.Second),
			kgo.DefaultProduceTopic("tx"))
	}
	txn := func(cl *kgo.Client, from, n int, commit bool) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := from; i < from+n; i++ {
			r := &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte("t" + strconv.Itoa(i)), Partition: int32(i % 3)}
			if err := cl.ProduceSync(ctxT(t), r).FirstErr(); err != nil {
				c.dumpErrors("tx")
				t.Fatalf("transactional produce %d: %v", i, err)
			}
		}
		if err := cl.EndTransaction(ctxT(t), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end transaction (commit %v) of %d..%d: %v", commit, from, from+n-1, err)
		}
	}
	p1 := producer()
	txn(p1, 0, 30, true)
	txn(p1, 1000, 9, false) // aborted: never visible

	coord := c.findCoordinator(tid, 1)
	tp := c.waitInternalISR("__transaction_state", tid, 3)
	if tp.Leader != coord {
		t.Fatalf("transaction coordinator %d is not the leader %d of the id's partition", coord, tp.Leader)
	}
	dtr := kmsg.NewPtrDescribeTransactionsRequest()
	dtr.TransactionalIDs = []string{tid}
	if r := request[*kmsg.DescribeTransactionsResponse](t, c.anyLive(coord).Addr(), dtr); r.TransactionStates[0].ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("DescribeTransactions at a broker that is not the coordinator: %v", kerr.ErrorForCode(r.TransactionStates[0].ErrorCode))
	}
	killedAt := time.Now()
	c.brokers[coord].Kill()

	// The producer's next transaction goes to the new coordinator.
	txn(p1, 30, 30, true)
	t.Logf("transaction coordinator %d killed; next transaction committed after %v", coord, time.Since(killedAt).Round(time.Millisecond))
	newCoord := c.findCoordinator(tid, 1)
	if newCoord == coord {
		t.Fatalf("transaction coordinator is still the killed broker %d", coord)
	}

	// A new producer with the same id fences the first one (InitProducerId
	// at the new coordinator bumps the epoch) and commits.
	p2 := producer()
	txn(p2, 60, 30, true)
	if err := p1.BeginTransaction(); err == nil {
		r := &kgo.Record{Value: []byte("zombie")}
		perr := p1.ProduceSync(ctxT(t), r).FirstErr()
		eerr := p1.EndTransaction(ctxT(t), kgo.TryCommit)
		if perr == nil && eerr == nil {
			t.Fatal("the fenced producer committed a transaction")
		}
	}

	c.brokers[coord].Restart()
	c.waitInternalISR("__transaction_state", tid, 3)
	txn(p2, 90, 30, true)

	// Every committed record once, nothing of the aborted transaction
	// or the zombie: the last stable offset passed everything, so no
	// transaction hangs.
	cons := newClient(t, seeds[0], kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("tx"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	pollExactly(t, cons, valueSet("t", 0, 120), 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	fs := cons.PollFetches(ctx)
	cancel()
	fs.EachRecord(func(r *kgo.Record) { t.Errorf("extra record %q after the committed ones", r.Value) })

	dt, err := adm.DescribeTransactions(ctxT(t), tid)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := dt[tid]
	if !ok || d.Err != nil || !slices.Contains([]string{"CompleteCommit", "Empty"}, d.State) {
		t.Fatalf("transaction %q: %+v (%v)", tid, d, ok)
	}
	// The last stable offset equals the high watermark on every partition.
	ends, err := adm.ListEndOffsets(ctxT(t), "tx")
	if err != nil {
		t.Fatal(err)
	}
	lso := listOffsetsReadCommitted(t, c, "tx")
	ends.Each(func(o kadm.ListedOffset) {
		if lso[o.Partition] != o.Offset {
			t.Errorf("tx-%d: last stable offset %d, high watermark %d: a transaction hangs", o.Partition, lso[o.Partition], o.Offset)
		}
	})
}

// listOffsetsReadCommitted asks each partition's leader for its last
// stable offset (ListOffsets latest with read_committed).
func listOffsetsReadCommitted(t *testing.T, c *zkCluster, topic string) map[int32]int64 {
	t.Helper()
	m := metadataFrom(t, c.anyLive().Addr())
	out := map[int32]int64{}
	for _, mt := range m.Topics {
		if *mt.Topic != topic {
			continue
		}
		for _, mp := range mt.Partitions {
			req := kmsg.NewPtrListOffsetsRequest()
			req.Version, req.IsolationLevel = 7, 1
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = mp.Partition, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			r := request[*kmsg.ListOffsetsResponse](t, c.brokers[mp.Leader].Addr(), req)
			got := r.Topics[0].Partitions[0]
			if got.ErrorCode != 0 {
				t.Fatalf("ListOffsets %s-%d at %d: %v", topic, mp.Partition, mp.Leader, kerr.ErrorForCode(got.ErrorCode))
			}
			out[mp.Partition] = got.Offset
		}
	}
	return out
}

// dumpErrors logs the brokers' error and warning lines and those naming
// topic, to explain a failure.
func (c *zkCluster) dumpErrors(topic string) {
	for id, b := range c.brokers {
		for _, l := range strings.Split(b.Output(), "\n") {
			if strings.Contains(l, topic) || strings.Contains(l, "ERROR") || strings.Contains(l, "WARN") || strings.Contains(l, "msg=\"controller:") {
				c.t.Logf("broker %d: %s", id, l)
			}
		}
	}
}

// TestZKDeposedCoordinatorUnloads: a group coordinator paused past its
// ZooKeeper session loses the partition's leadership; after SIGCONT it
// registers again with a new broker epoch, which the controller treats as
// a bounced broker (KafkaController.processBrokerChange: onBrokerFailure,
// then onBrokerStartup), so its LeaderAndIsr makes the broker a follower:
// it unloads the group (NOT_COORDINATOR) and its successor has every
// commit. Until then the deposed coordinator still believes it leads, but
// no offset commit it takes may be acknowledged (its followers fetch from
// the new leader, and the controller refuses its stale-epoch ISR
// shrinks). Run once with an ordinary broker paused and once with the
// controller itself paused (a failover, the old controller resuming as a
// bounced broker).
func TestZKDeposedCoordinatorUnloads(t *testing.T) {
	for _, tc := range []struct {
		name       string
		controller bool
	}{{"broker", false}, {"controller", true}} {
		t.Run(tc.name, func(t *testing.T) { testDeposedCoordinator(t, tc.controller) })
	}
}

func testDeposedCoordinator(t *testing.T, pauseController bool) {
	// Without this the controller's first automatic preferred leader
	// election (5 s after it was elected, as Kafka's
	// scheduleAutoLeaderRebalanceTask) can hand the partition back to the
	// resumed broker once it rejoined the ISR: it is then rightly the
	// coordinator again, and the test would see that instead of the
	// deposition.
	c := startCoordCluster(t, "auto.leader.rebalance.enable=false")
	seeds := c.seeds()
	adm := kadm.NewClient(newClient(t, seeds[0], kgo.SeedBrokers(seeds...)))
	offs := make(kadm.Offsets)
	for p := int32(0); p < 3; p++ {
		offs.Add(kadm.Offset{Topic: "events", Partition: p, At: 120, LeaderEpoch: -1})
	}
	if res, err := adm.CreateTopic(ctxT(t), 3, 3, nil, "events"); err != nil || res.Err != nil {
		t.Fatalf("create topic: %v %v", err, res.Err)
	}
	c.waitTopic("events", 3, 3)
	commit := func(group string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; {
			r, err := adm.CommitOffsets(ctxT(t), group, offs)
			if err == nil && r.Error() == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("commit: %v %v", err, r.Error())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The first commit creates __consumer_offsets; then a group is picked
	// whose coordinator is (or is not) the controller.
	commit("deposed-probe")
	c.waitInternalISR("__consumer_offsets", "deposed-probe", 3)
	m := c.waitAgree("__consumer_offsets led", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		for p := int32(0); p < 3; p++ {
			if mp := partitionOf(m, "__consumer_offsets", p); mp.Leader < 0 || len(mp.ISR) != 3 {
				return false
			}
		}
		return true
	})
	group := ""
	for i := 0; i < 100 && group == ""; i++ {
		g := "deposed-group-" + strconv.Itoa(i)
		leader := partitionOf(m, "__consumer_offsets", groups.PartitionFor(g, 3)).Leader
		if (leader == m.ControllerID) == pauseController {
			group = g
		}
	}
	if group == "" {
		t.Fatalf("no group led as wanted (controller %d): %s", m.ControllerID, summary(m))
	}
	commit(group)
	c.waitInternalISR("__consumer_offsets", group, 3)
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version = 8
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	of.Groups = append(of.Groups, rg)
	paused := c.findCoordinator(group, 0)
	if (paused == m.ControllerID) != pauseController {
		t.Fatalf("coordinator of %s is %d, controller %d", group, paused, m.ControllerID)
	}
	start := time.Now()
	if err := c.brokers[paused].Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var moved int32
	for deadline := time.Now().Add(20 * time.Second); ; {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.Version, fc.CoordinatorKeys = 4, []string{group}
		r := request[*kmsg.FindCoordinatorResponse](t, c.anyLive(paused).Addr(), fc)
		if co := r.Coordinators[0]; co.ErrorCode == 0 && co.NodeID != paused {
			moved = co.NodeID
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("coordinator did not move away from the paused broker %d", paused)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("coordinator of %s moved from broker %d (controller: %v) to %d %v after SIGSTOP",
		group, paused, pauseController, moved, time.Since(start).Round(time.Millisecond))
	if err := c.brokers[paused].Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	// Commits sent to the deposed coordinator right after it resumes
	// (offset 500) must never be acknowledged: it is no longer the
	// partition's leader, whatever it believes until LeaderAndIsr comes.
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group, oc.Generation = 8, group, -1
	oct := kmsg.NewOffsetCommitRequestTopic()
	oct.Topic = "events" // by name up to v9, by id from v10 (franz-go sends the newest version both sides know)
	for _, mt := range m.Topics {
		if *mt.Topic == "events" {
			oct.TopicID = mt.TopicID
		}
	}
	for p := int32(0); p < 3; p++ {
		ocp := kmsg.NewOffsetCommitRequestTopicPartition()
		ocp.Partition, ocp.Offset, ocp.LeaderEpoch = p, 500, -1
		oct.Partitions = append(oct.Partitions, ocp)
	}
	oc.Topics = append(oc.Topics, oct)
	var stale []string
	for deadline := time.Now().Add(20 * time.Second); ; {
		r := request[*kmsg.OffsetCommitResponse](t, c.brokers[paused].Addr(), oc)
		code := r.Topics[0].Partitions[0].ErrorCode
		if code == 0 {
			c.dumpErrors("__consumer_offsets-" + strconv.Itoa(int(groups.PartitionFor(group, 3))))
			t.Fatalf("the deposed coordinator %d acknowledged an offset commit %v after SIGCONT", paused, time.Since(resumed).Round(time.Millisecond))
		}
		if code == kerr.NotCoordinator.Code {
			break
		}
		stale = append(stale, kerr.ErrorForCode(code).Error())
		if time.Now().After(deadline) {
			c.dumpErrors("__consumer_offsets-" + strconv.Itoa(int(groups.PartitionFor(group, 3))))
			t.Fatalf("the deposed coordinator %d still takes commits for the group: %v", paused, stale)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		r := request[*kmsg.OffsetFetchResponse](t, c.brokers[paused].Addr(), of)
		if r.Groups[0].ErrorCode == kerr.NotCoordinator.Code {
			break
		}
		if time.Now().After(deadline) {
			c.dumpErrors("__consumer_offsets-" + strconv.Itoa(int(groups.PartitionFor(group, 3))))
			t.Fatalf("the deposed coordinator %d still answers the group: %v", paused, kerr.ErrorForCode(r.Groups[0].ErrorCode))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("broker %d answered NOT_COORDINATOR %v after SIGCONT (commits refused before: %v)", paused, time.Since(resumed).Round(time.Millisecond), stale)
	r := request[*kmsg.OffsetFetchResponse](t, c.brokers[moved].Addr(), of)
	var sum int64
	for _, rt := range r.Groups[0].Topics {
		for _, rp := range rt.Partitions {
			sum += rp.Offset
		}
	}
	if r.Groups[0].ErrorCode != 0 || sum != 360 {
		t.Fatalf("offsets at the new coordinator %d after the pause: %v, sum %d, want 360", moved, kerr.ErrorForCode(r.Groups[0].ErrorCode), sum)
	}
}
