package interop

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// toolsLog4j is Kafka's config/tools-log4j.properties (bin/kafka-run-class.sh
// gives it to every command-line tool): warnings and errors on stderr.
const toolsLog4j = `log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.stderr.Target=System.err
`

// kafkaTool runs one of Kafka 3.9's command-line tools (class in
// org.apache.kafka.tools, as bin/kafka-topics.sh and the others run it)
// with --bootstrap-server set to every live broker, and returns its
// stdout. The test fails when the tool exits non-zero, takes longer than
// a minute, or logs a warning or an error.
func (c *cluster) kafkaTool(class string, args ...string) string {
	c.t.Helper()
	dir := c.t.TempDir()
	cfg := filepath.Join(dir, "tools-log4j.properties")
	if err := os.WriteFile(cfg, []byte(toolsLog4j), 0o644); err != nil {
		c.t.Fatal(err)
	}
	argv := append([]string{"-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
		"-Dlog4j.configuration=file:" + cfg, "-cp", filepath.Join(libDir(), "*"), "org.apache.kafka.tools." + class,
		"--bootstrap-server", strings.Join(c.seeds(), ",")}, args...)
	cmd := exec.Command("java", argv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("%s: %v", class, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			c.t.Fatalf("%s %v: %v\nstdout:\n%s\nstderr:\n%s", class, args, err, out.String(), errb.String())
		}
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
		c.t.Fatalf("%s %v did not finish within a minute\nstdout:\n%s\nstderr:\n%s", class, args, out.String(), errb.String())
	}
	if strings.Contains(errb.String(), " WARN ") || strings.Contains(errb.String(), " ERROR ") {
		c.t.Fatalf("%s %v logged:\n%s", class, args, errb.String())
	}
	return out.String()
}

var (
	toolPartition = regexp.MustCompile(`(?m)^\s*Topic: (\S+)\s+Partition: (\d+)\s+Leader: (-?\d+)\s+Replicas: ([\d,]*)\s+Isr: ([\d,]*)`)
	toolTopic     = regexp.MustCompile(`(?m)^Topic: (\S+)\s+TopicId: \S+\s+PartitionCount: \d+\s+ReplicationFactor: 3\s+Configs: ?(.*)$`)
	toolGroupRow  = regexp.MustCompile(`(?m)^(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)`)
)

// checkTools is what an operator checks between two steps of a rolling
// migration, with Kafka 3.9's own tools: kafka-topics --describe of
// topics (replication factor 3, the topic configs in configs — whoever
// created the topic wrote them to /config/topics, and whichever broker
// answers DescribeConfigs reads them —, every partition has a live leader
// and its whole replica list in the ISR, and
// --under-replicated-partitions lists none),
// kafka-consumer-groups --describe of group (a committed offset and an
// active member for each partition of the first topic), and
// kafka-reassign-partitions --list (no reassignment under way).
func (c *cluster) checkTools(group string, configs map[string][]string, topics ...string) {
	c.t.Helper()
	start := time.Now()
	var live []string
	for _, n := range c.live() {
		live = append(live, itoa(n.id))
	}
	out := c.kafkaTool("TopicCommand", "--describe", "--topic", strings.Join(topics, "|"))
	described := map[string]bool{}
	for _, h := range toolTopic.FindAllStringSubmatch(out, -1) {
		described[h[1]] = true
		have := strings.Split(h[2], ",")
		for _, want := range configs[h[1]] {
			if !slices.Contains(have, want) {
				c.t.Fatalf("kafka-topics --describe: %s has configs %q, not %s:\n%s", h[1], h[2], want, out)
			}
		}
	}
	for _, tp := range topics {
		if !described[tp] {
			c.t.Fatalf("kafka-topics --describe: no replication factor 3 topic %s:\n%s", tp, out)
		}
	}
	rows := toolPartition.FindAllStringSubmatch(out, -1)
	perTopic := map[string]int{}
	for _, r := range rows {
		perTopic[r[1]]++
		replicas, isr := strings.Split(r[4], ","), strings.Split(r[5], ",")
		slices.Sort(replicas)
		slices.Sort(isr)
		if !slices.Contains(live, r[3]) || len(replicas) != 3 || !slices.Equal(replicas, isr) {
			c.t.Fatalf("kafka-topics --describe: %s-%s has leader %s, replicas %s, ISR %s (live brokers %v):\n%s", r[1], r[2], r[3], r[4], r[5], live, out)
		}
	}
	for _, tp := range topics {
		if perTopic[tp] == 0 {
			c.t.Fatalf("kafka-topics --describe listed no partition of %s:\n%s", tp, out)
		}
	}
	if out := c.kafkaTool("TopicCommand", "--describe", "--under-replicated-partitions"); strings.TrimSpace(out) != "" {
		c.t.Fatalf("kafka-topics --describe --under-replicated-partitions:\n%s", out)
	}

	out = c.kafkaTool("consumer.group.ConsumerGroupCommand", "--describe", "--group", group)
	parts := map[string]bool{}
	for _, r := range toolGroupRow.FindAllStringSubmatch(out, -1) {
		if r[1] != group || r[2] != topics[0] {
			continue
		}
		if _, err := strconv.ParseInt(r[4], 10, 64); err != nil || r[7] == "-" {
			c.t.Fatalf("kafka-consumer-groups --describe: partition %s has committed offset %s and member %s:\n%s", r[3], r[4], r[7], out)
		}
		parts[r[3]] = true
	}
	if len(parts) != 3 {
		c.t.Fatalf("kafka-consumer-groups --describe listed %d partitions of %s, want 3:\n%s", len(parts), topics[0], out)
	}

	if out := c.kafkaTool("reassign.ReassignPartitionsCommand", "--list"); !strings.Contains(out, "No partition reassignments found.") {
		c.t.Fatalf("kafka-reassign-partitions --list:\n%s", out)
	}
	c.t.Logf("Kafka tools agree (%v)", time.Since(start).Round(time.Millisecond))
}

// txnLog is one transactional id's transactions on a topic, across the
// coordinator moving from brokers of one kind to the other.
type txnLog struct {
	c          *cluster
	topic, id  string
	committed  []string
	producerID int64
	epoch      int16
}

// startTxnLog commits one transaction (three records to partition 0 of
// topic) and aborts one, which makes the first FindCoordinator create
// __transaction_state; it returns what was committed and the producer
// id and epoch the coordinator gave.
func (c *cluster) startTxnLog(topic string) *txnLog {
	c.t.Helper()
	l := &txnLog{c: c, topic: topic, id: topic + "-txn"}
	l.transact(0)
	return l
}

// commitAgain, from a client of the new kind's coordinator: the
// transactional id keeps its producer id (the coordinator loaded the
// state the old one wrote, and bumped the epoch), commits and aborts
// once more, and a read_committed consumer sees exactly the committed
// records, in order.
//
// A new transactional id then gets a producer id above every one in
// handedOut and the first id's: a coordinator of the new kind takes its
// block after the last one /latest_producer_id_block records (Kafka's
// ZkProducerIdManager), so no id is handed out twice.
func (l *txnLog) commitAgain(handedOut ...int64) {
	t := l.c.t
	t.Helper()
	pid, epoch := l.producerID, l.epoch
	l.transact(1)
	if l.producerID != pid || l.epoch <= epoch {
		t.Fatalf("transactional id %s: producer id %d epoch %d after the coordinator moved, was %d epoch %d: its state was not loaded",
			l.id, l.producerID, l.epoch, pid, epoch)
	}
	fresh := newClient(t, l.c.seeds(), kgo.TransactionalID(l.id+"-fresh"))
	newPID, _, err := fresh.ProducerID(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatalf("InitProducerId of a new transactional id: %v", err)
	}
	for _, old := range append(handedOut, pid) {
		if newPID <= old {
			t.Fatalf("a new transactional id got producer id %d, not above %d handed out before the move (ids %v)", newPID, old, append(handedOut, pid))
		}
	}
	t.Logf("a new transactional id got producer id %d (before the move: %v)", newPID, append(handedOut, pid))
	cons := newClient(t, l.c.seeds(), kgo.ConsumeTopics(l.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(500*time.Millisecond))
	ctx := ctxT(t, 30*time.Second)
	var got []string
	for len(got) < len(l.committed) && ctx.Err() == nil {
		cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if strings.Join(got, ",") != strings.Join(l.committed, ",") {
		t.Fatalf("read_committed consumer of %s read %v, committed %v", l.topic, got, l.committed)
	}
}

// transact runs round's committed and aborted transactions and records
// the producer id and epoch DescribeTransactions reports.
func (l *txnLog) transact(round int) {
	t := l.c.t
	t.Helper()
	ctx := ctxT(t, 60*time.Second)
	cl := newClient(t, l.c.seeds(), kgo.TransactionalID(l.id), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(20*time.Second), kgo.RequiredAcks(kgo.AllISRAcks()))
	defer cl.Close()
	for _, commit := range []bool{true, false} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var vs []string
		for i := 0; i < 3; i++ {
			v := fmt.Sprintf("round%d-%v-%d", round, commit, i)
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: l.topic, Partition: 0, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("transactional produce %s: %v", v, err)
			}
			vs = append(vs, v)
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end transaction of %s (commit %v): %v", l.id, commit, err)
		}
		if commit {
			l.committed = append(l.committed, vs...)
		}
	}
	ds, err := kadm.NewClient(cl).DescribeTransactions(ctx, l.id)
	if err != nil {
		t.Fatalf("describe transaction %s: %v", l.id, err)
	}
	d, ok := ds[l.id]
	if !ok || d.Err != nil {
		t.Fatalf("describe transaction %s: %+v", l.id, d)
	}
	l.producerID, l.epoch = d.ProducerID, d.ProducerEpoch
	t.Logf("transactional id %s: coordinator %s, producer id %d epoch %d, state %s", l.id, l.c.node(d.Coordinator), d.ProducerID, d.ProducerEpoch, d.State)
}

// moveController makes a broker of the given kind the controller while
// brokers of both kinds are live. Deleting /controller makes every broker
// try to create it again (Kafka's ControllerChangeHandler.handleDeletion,
// Samsa's watch), and the first create wins; Samsa's comes first every
// time (Kafka's Reelect reads /controller before creating it), so the
// brokers of the other kind are paused (SIGSTOP, well within their
// ZooKeeper session) until one of the wanted kind has won.
func (c *cluster) moveController(kafka bool) {
	c.t.Helper()
	if id := c.controllerID(); id > 0 && c.node(id).kafka == kafka {
		return
	}
	var paused []*node
	defer func() {
		for _, n := range paused {
			_ = n.signal(syscall.SIGCONT)
		}
	}()
	for _, n := range c.live() {
		if n.kafka != kafka {
			if err := n.signal(syscall.SIGSTOP); err != nil {
				c.t.Fatalf("pause %s: %v", n, err)
			}
			paused = append(paused, n)
		}
	}
	if err := c.conn.Delete("/kafka/controller", -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		c.t.Fatalf("delete /controller: %v", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if id := c.controllerID(); id > 0 && c.node(id).kafka == kafka {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no broker of the wanted kind (kafka %v) became controller within 3s; /controller names %d", kafka, c.controllerID())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, n := range paused {
		_ = n.signal(syscall.SIGCONT)
	}
	paused = nil
	ctl := c.controllerID()
	c.waitAgree(fmt.Sprintf("controller %d known to every broker", ctl), 30*time.Second,
		func(m *kmsg.MetadataResponse) bool { return m.ControllerID == ctl })
}

// signal sends sig to n's process.
func (n *node) signal(sig os.Signal) error {
	if n.kafka {
		return n.cmd.Process.Signal(sig)
	}
	return n.samsa.Signal(sig)
}

// controlledShutdownSucceeded reports whether n, stopped, said its
// controlled shutdown succeeded (Kafka's KafkaServer and Samsa each log
// it once the controller answered with no partitions remaining).
func (n *node) controlledShutdownSucceeded() bool {
	if n.kafka {
		return strings.Contains(n.output(), "Controlled shutdown request returned successfully")
	}
	return strings.Contains(n.output(), `msg="controlled shutdown succeeded"`)
}
