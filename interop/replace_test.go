package interop

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestReplaceKafkaBrokersOneByOne is the migration procedure: a cluster
// of three Apache Kafka 3.9 brokers serves an acks=all producer and a
// consumer group; one at a time, a Kafka broker is stopped (SIGTERM:
// controlled shutdown) and a Samsa broker with the same broker.id and an
// empty log dir takes its place, and the next one goes only once Samsa
// is back in every ISR (of the topic, __consumer_offsets and
// __transaction_state). The controller role moves from Kafka to Samsa on
// the way. At the end nothing acknowledged is lost, the log holds
// exactly the acknowledged records in order, the group's consumer saw
// every record in order per partition (at least once: a rewind to its
// committed offset after a coordinator move is allowed, a gap or
// reordering is not), and a transactional id whose transactions Kafka
// coordinated goes on with Samsa as its coordinator.
func TestReplaceKafkaBrokersOneByOne(t *testing.T) {
	replaceOneByOne(t, false)
}

// TestReplaceSamsaBrokersOneByOne is the way back (issue 13, "a Kafka
// 3.9 broker joins a Samsa cluster and takes over replicas"): the same
// procedure from three Samsa brokers to three Apache Kafka 3.9 brokers.
// Kafka brokers with empty log dirs replicate from Samsa leaders, Kafka
// takes the controller role once the last Samsa broker is gone (or
// earlier, when it wins the election), and Kafka's group and transaction
// coordinators load the __consumer_offsets and __transaction_state
// records Samsa wrote.
func TestReplaceSamsaBrokersOneByOne(t *testing.T) {
	replaceOneByOne(t, true)
}

// replaceOneByOne starts three brokers of one kind (Samsa when toKafka,
// else Kafka), puts them under load, and replaces each in turn, in
// broker.id order, with a broker of the other kind. At each step the
// Kafka CLI tools run against the cluster (checkTools).
func replaceOneByOne(t *testing.T, toKafka bool) {
	c := newCluster(t)
	replace := func(id int32) {
		if toKafka {
			c.startKafka(id)
		} else {
			c.startSamsa(id)
		}
	}
	if toKafka {
		c.startSamsa(1)
		c.waitController(1, 10*time.Second)
		c.startSamsa(2)
		c.startSamsa(3)
	} else {
		c.startKafka(1)
		c.waitController(1, 10*time.Second)
		c.launchKafka(2)
		c.launchKafka(3)
		c.waitUp(c.node(2), 60*time.Second)
		c.waitUp(c.node(3), 60*time.Second)
	}

	const topic = "orders"
	const nparts = 3
	const group = "orders-readers"
	const txnTopic = "payments"
	c.createTopic(topic, [][]int32{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}}, map[string]string{"min.insync.replicas": "2"})
	c.waitAgree("topic on three brokers", 30*time.Second, fullISR(topic, nparts, 1, 2, 3), topic)
	c.createTopic(txnTopic, [][]int32{{1, 2, 3}}, map[string]string{"min.insync.replicas": "2"})

	// The producer: acks=all, idempotent, one record per partition in
	// flight at a time (ordered acks), until stopped.
	acked := newAckedLog()
	prod := producer(t, c.seeds())
	stopProd := make(chan struct{})
	var prodWG sync.WaitGroup
	prodErrs := make(chan error, nparts)
	for p := int32(0); p < nparts; p++ {
		prodWG.Add(1)
		go func(p int32) {
			defer prodWG.Done()
			for n := 0; ; n++ {
				select {
				case <-stopProd:
					return
				default:
				}
				v := recordValue(p, n)
				ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
				err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: v}).FirstErr()
				cancel()
				if err != nil {
					prodErrs <- fmt.Errorf("produce %s: %w", v, err)
					return
				}
				acked.mu.Lock()
				acked.acked[p] = append(acked.acked[p], string(v))
				acked.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}(p)
	}

	// The consumer group: commits as it goes (franz-go's autocommit).
	seen := &seenLog{got: map[int32][]int{}}
	cons := newClient(t, c.seeds(), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond),
		kgo.AutoCommitInterval(500*time.Millisecond), kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(time.Second))
	consCtx, stopCons := context.WithCancel(context.Background())
	consDone := make(chan struct{})
	go func() {
		defer close(consDone)
		for consCtx.Err() == nil {
			fs := cons.PollFetches(consCtx)
			fs.EachRecord(func(r *kgo.Record) { seen.add(t, r) })
		}
	}()
	t.Cleanup(func() { stopCons(); <-consDone })

	// A transactional id commits once, which creates __transaction_state
	// (3 partitions, RF 3) and leaves its state there for the brokers of
	// the other kind to load.
	txns := c.startTxnLog(txnTopic)
	prodID, _, err := prod.ProducerID(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatalf("the producer's id: %v", err)
	}
	// Six groups without members commit offsets (with metadata) once:
	// only the coordinators of the new kind loading what the old ones
	// wrote can answer them at the end.
	committed := c.commitGroups(topic)

	// The internal topics are created by the first FindCoordinator; wait
	// until they are fully replicated, so their replicas move along too.
	replicated := all(fullISR(topic, nparts, 1, 2, 3), fullISR(txnTopic, 1, 1, 2, 3),
		fullISR("__consumer_offsets", 3, 1, 2, 3), fullISR("__transaction_state", 3, 1, 2, 3))
	topics := []string{topic, txnTopic, "__consumer_offsets", "__transaction_state"}
	// The internal topics' configs are the ones Kafka gives them
	// (GroupCoordinator.offsetsTopicConfigs,
	// TransactionStateManager.transactionTopicConfigs): compacted, or a
	// group's offsets would go with retention after the move.
	configs := map[string][]string{
		topic: {"min.insync.replicas=2"}, txnTopic: {"min.insync.replicas=2"},
		"__consumer_offsets":  {"cleanup.policy=compact", "compression.type=producer", "segment.bytes=104857600"},
		"__transaction_state": {"cleanup.policy=compact", "compression.type=uncompressed", "min.insync.replicas=2", "segment.bytes=104857600", "unclean.leader.election.enable=false"},
	}
	c.waitAgree("internal topics fully replicated", 30*time.Second, replicated, topics...)
	waitProgress(t, acked, seen, 20)
	c.checkTools(group, configs, topics...)

	for _, id := range []int32{1, 2, 3} {
		start := time.Now()
		old := c.node(id)
		c.stop(id) // controlled shutdown, Kafka's or Samsa's
		stopped := time.Since(start)
		if !old.controlledShutdownSucceeded() {
			t.Errorf("%s's controlled shutdown did not succeed:\n%s", old, tail(old.output(), 3000))
		}
		replace(id)
		c.waitAgree(fmt.Sprintf("%s in every ISR", c.node(id)), 45*time.Second,
			replicated, topics...)
		t.Logf("broker %d: stopped in %v, %s in every ISR %v after; controller now %d", id, stopped.Round(time.Millisecond),
			c.node(id), (time.Since(start) - stopped).Round(time.Millisecond), c.controllerID())
		select {
		case err := <-prodErrs:
			t.Fatal(err)
		default:
		}
		if id == 1 {
			// The controller role moves to the new kind while brokers of
			// both kinds are live, so that the other two brokers' controlled
			// shutdowns go through it.
			c.moveController(toKafka)
			t.Logf("controller moved to %s", c.node(c.controllerID()))
		}
		waitProgress(t, acked, seen, 10)
		c.checkTools(group, configs, topics...)
	}

	close(stopProd)
	prodWG.Wait()
	select {
	case err := <-prodErrs:
		t.Fatal(err)
	default:
	}
	// The group reads everything acknowledged, in order.
	deadline := time.Now().Add(30 * time.Second)
	for !seen.covers(acked) {
		if time.Now().After(deadline) {
			t.Fatalf("consumer group did not read every acknowledged record within 30s: %s", seen.report(acked))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if bad := seen.orderProblems(); bad != "" {
		t.Fatal(bad)
	}
	// A coordinator that lost the group's committed offsets would make
	// the group start again from the beginning: a rewind is at most what
	// was read since the last autocommit (500 ms) plus a rebalance.
	if back := seen.maxRewind(); back > 100 {
		t.Fatalf("the group re-read %d records of a partition: its committed offsets were lost on the way", back)
	} else {
		t.Logf("largest redelivery: %d records", back)
	}
	// The log (now on brokers of the new kind only) is exactly what was
	// acknowledged.
	consumeAll(t, c.seeds(), topic, acked)
	var total int
	for _, v := range acked.acked {
		total += len(v)
	}
	// The transactional id goes on with a coordinator of the new kind,
	// which loaded the state the old one wrote.
	txns.commitAgain(prodID)
	c.checkGroups(c.node(1), topic, committed)
	t.Logf("%d records acknowledged and read back; controller %d", total, c.controllerID())
	for _, n := range c.history {
		if n.kafka {
			c.checkKafkaLogs(n)
		}
	}
	ctl := c.controllerID()
	if ctl < 1 {
		t.Fatalf("no controller at the end")
	}
	if n := c.node(ctl); n.kafka != toKafka {
		t.Fatalf("the controller at the end is %s", n)
	}
}

// waitProgress waits until the producer acknowledged and the group read
// at least n more records of every partition.
func waitProgress(t *testing.T, a *ackedLog, s *seenLog, n int) {
	t.Helper()
	a.mu.Lock()
	base := map[int32]int{}
	for p, v := range a.acked {
		base[p] = len(v)
	}
	a.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		a.mu.Lock()
		for p := int32(0); p < 3; p++ {
			if len(a.acked[p]) < base[p]+n || s.max(p) < base[p]+n-1 {
				ok = false
			}
		}
		a.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress within 30s: %s", s.report(a))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// seenLog is what the consumer group read, per partition, as record
// numbers in delivery order.
type seenLog struct {
	mu  sync.Mutex
	got map[int32][]int
}

func (s *seenLog) add(t *testing.T, r *kgo.Record) {
	p, n, ok := strings.Cut(string(r.Value), "-")
	pi, _ := strconv.Atoi(p)
	ni, err := strconv.Atoi(n)
	if !ok || err != nil || int32(pi) != r.Partition {
		t.Errorf("unexpected record %q in partition %d", r.Value, r.Partition)
		return
	}
	s.mu.Lock()
	s.got[r.Partition] = append(s.got[r.Partition], ni)
	s.mu.Unlock()
}

func (s *seenLog) max(p int32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := -1
	for _, n := range s.got[p] {
		m = max(m, n)
	}
	return m
}

// covers: every acknowledged record was read.
func (s *seenLog) covers(a *ackedLog) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, v := range a.acked {
		if s.max(p) < len(v)-1 {
			return false
		}
	}
	return true
}

// orderProblems: per partition, each record is the one after the
// previous, or a rewind (redelivery from an earlier offset); never a
// gap, and the first is record 0.
func (s *seenLog) orderProblems() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, ns := range s.got {
		prev := -1
		for i, n := range ns {
			if n > prev+1 {
				return fmt.Sprintf("partition %d: record %d read right after %d (position %d): a gap", p, n, prev, i)
			}
			prev = n
		}
	}
	return ""
}

// maxRewind is the most records a partition was read again.
func (s *seenLog) maxRewind() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	back := 0
	for _, ns := range s.got {
		for i := 1; i < len(ns); i++ {
			if ns[i] <= ns[i-1] {
				back = max(back, ns[i-1]-ns[i]+1)
			}
		}
	}
	return back
}

func (s *seenLog) report(a *ackedLog) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var parts []string
	for p := int32(0); p < 3; p++ {
		parts = append(parts, fmt.Sprintf("p%d acked %d read up to %d", p, len(a.acked[p]), s.max(p)))
	}
	return strings.Join(parts, "; ")
}
