package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
	"samsa/internal/zktest"
)

// zkSessionMs is every broker's zookeeper.session.timeout.ms: short, so
// that a kill -9 is noticed within seconds.
const zkSessionMs = 6000

// libDir is interop/target/lib next to this file
// (scripts/install-kafka39.sh).
func libDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "target", "lib")
}

// requireKafka skips the test when java or Kafka 3.9's jars are missing
// (fails it under SAMSA_REQUIRE_TOOLS=1).
func requireKafka(t *testing.T) {
	t.Helper()
	why := ""
	if _, err := exec.LookPath("java"); err != nil {
		why = "java not found (scripts/install-test-deps.sh java installs it)"
	} else if jars, _ := filepath.Glob(filepath.Join(libDir(), "kafka_2.13-3.9*.jar")); len(jars) == 0 {
		why = "Kafka 3.9 jars missing in " + libDir() + " (run scripts/install-kafka39.sh, or make interop)"
	}
	if why == "" {
		return
	}
	if os.Getenv("SAMSA_REQUIRE_TOOLS") == "1" {
		t.Fatalf("Kafka 3.9 needed: %s", why)
	}
	t.Skipf("skipping: %s", why)
}

// cluster is one real ZooKeeper with Apache Kafka 3.9 brokers and Samsa
// binaries registered under the chroot /kafka.
type cluster struct {
	t     *testing.T
	zk    *zktest.Server
	conn  *zk.Conn
	mu    sync.Mutex
	nodes map[int32]*node
	// every node ever started, for dumpLogs
	history []*node
}

// node is one broker, either a Kafka JVM or a Samsa binary.
type node struct {
	id    int32
	kafka bool
	port  int
	dir   string // Kafka's config and log dir parent
	cmd   *exec.Cmd
	out   *syncBuffer
	done  chan struct{}
	samsa *testbroker.Broker
}

func (n *node) Addr() string { return fmt.Sprintf("127.0.0.1:%d", n.port) }

func (n *node) String() string {
	if n.kafka {
		return fmt.Sprintf("kafka-%d", n.id)
	}
	return fmt.Sprintf("samsa-%d", n.id)
}

// alive reports whether the broker process runs.
func (n *node) alive() bool {
	if !n.kafka {
		return n.samsa.Alive()
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// output is what the broker printed (Kafka: log4j at WARN and the
// state-change logger's INFO; Samsa: slog).
func (n *node) output() string {
	if n.kafka {
		return n.out.String()
	}
	return n.samsa.Output()
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	requireKafka(t)
	zs := zktest.Start(t)
	conn, _, err := zk.Connect([]string{zs.Addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	testbroker.BinaryPath(t) // built now, not inside a timed step
	c := &cluster{t: t, zk: zs, conn: conn, nodes: map[int32]*node{}}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("SAMSA_INTEROP_LOGS") == "1" {
			c.dumpLogs()
		}
	})
	return c
}

type quietZK struct{}

func (quietZK) Printf(string, ...any) {}

// kafkaLog4j keeps Kafka 3.9 (log4j 1 via reload4j) quiet: warnings and
// errors, plus the state-change logger, whose INFO lines show what the
// broker made of each LeaderAndIsr, UpdateMetadata and StopReplica.
const kafkaLog4j = `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.state.change.logger=INFO
log4j.logger.kafka.controller.KafkaController=INFO
log4j.logger.kafka.server.ReplicaFetcherThread=INFO
log4j.logger.kafka.server.KafkaServer=INFO
`

// startKafka starts an Apache Kafka 3.9 broker (kafka.Kafka
// server.properties) and returns once it has registered in ZooKeeper and
// accepts connections.
func (c *cluster) startKafka(id int32, props ...string) *node {
	c.t.Helper()
	n := c.launchKafka(id, props...)
	c.waitUp(n, 60*time.Second)
	return n
}

// launchKafka starts the JVM without waiting (startKafka waits); several
// can start at once.
func (c *cluster) launchKafka(id int32, props ...string) *node {
	c.t.Helper()
	dir := c.t.TempDir()
	n := &node{id: id, kafka: true, port: testbroker.FreePort(c.t), dir: dir, out: &syncBuffer{}, done: make(chan struct{})}
	base := []string{
		"broker.id=" + strconv.Itoa(int(id)),
		"listeners=PLAINTEXT://" + n.Addr(),
		"log.dirs=" + filepath.Join(dir, "logs"),
		"zookeeper.connect=" + c.zk.Addr + "/kafka",
		"zookeeper.session.timeout.ms=" + strconv.Itoa(zkSessionMs),
		"inter.broker.protocol.version=3.9",
		"offsets.topic.num.partitions=3",
		"offsets.topic.replication.factor=3",
		"transaction.state.log.replication.factor=3",
		"transaction.state.log.min.isr=2",
		"transaction.state.log.num.partitions=3",
		"default.replication.factor=3",
		"num.partitions=2",
		"group.initial.rebalance.delay.ms=0",
		"num.network.threads=2",
		"num.io.threads=2",
		"num.recovery.threads.per.data.dir=1",
		"background.threads=2",
		"controlled.shutdown.retry.backoff.ms=500",
		"log.flush.offset.checkpoint.interval.ms=1000",
	}
	cfg := strings.Join(append(base, props...), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "server.properties"), []byte(cfg), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "log4j.properties"), []byte(kafkaLog4j), 0o644); err != nil {
		c.t.Fatal(err)
	}
	n.cmd = exec.Command("java", "-Xmx256m", "-Xms64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Djava.awt.headless=true", "-Dlog4j.configuration=file:"+filepath.Join(dir, "log4j.properties"),
		"-cp", filepath.Join(libDir(), "*"), "kafka.Kafka", filepath.Join(dir, "server.properties"))
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		c.t.Fatalf("start kafka %d: %v", id, err)
	}
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	c.t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		<-n.done
	})
	c.mu.Lock()
	c.nodes[id] = n
	c.history = append(c.history, n)
	c.mu.Unlock()
	return n
}

// startSamsa starts a Samsa binary with an empty log dir and waits for
// its registration.
func (c *cluster) startSamsa(id int32, props ...string) *node {
	c.t.Helper()
	b := testbroker.Start(c.t, testbroker.Binary, append([]string{
		"zookeeper.connect=" + c.zk.Addr + "/kafka",
		"broker.id=" + strconv.Itoa(int(id)),
		"zookeeper.session.timeout.ms=" + strconv.Itoa(zkSessionMs),
		"group.initial.rebalance.delay.ms=0",
		"offsets.topic.num.partitions=3",
		"offsets.topic.replication.factor=3",
		"transaction.state.log.num.partitions=3",
		"transaction.state.log.replication.factor=3",
		"default.replication.factor=3",
		"num.partitions=2",
		"controlled.shutdown.retry.backoff.ms=500",
	}, props...)...)
	n := &node{id: id, samsa: b}
	_, port, _ := strings.Cut(b.Addr(), ":")
	n.port, _ = strconv.Atoi(port)
	c.mu.Lock()
	c.nodes[id] = n
	c.history = append(c.history, n)
	c.mu.Unlock()
	c.waitUp(n, 20*time.Second)
	return n
}

// waitUp waits until n is registered in /brokers/ids with its own
// endpoint and accepts connections.
func (c *cluster) waitUp(n *node, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		data, _, err := c.conn.Get(fmt.Sprintf("/kafka/brokers/ids/%d", n.id))
		if err == nil && strings.Contains(string(data), n.Addr()) {
			if testbroker.WaitListening(n.Addr(), time.Second, n.doneCh()) == nil {
				return
			}
		}
		if !n.alive() {
			c.t.Fatalf("%s exited at start:\n%s", n, tail(n.output(), 4000))
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not registered within %v:\n%s", n, timeout, tail(n.output(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (n *node) doneCh() <-chan struct{} {
	if n.kafka {
		return n.done
	}
	return n.samsa.Exited()
}

// stop shuts n down with SIGTERM (both do a controlled shutdown) and waits.
func (c *cluster) stop(id int32) {
	c.t.Helper()
	n := c.node(id)
	if !n.kafka {
		n.samsa.Stop()
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(40 * time.Second):
		c.t.Fatalf("%s ignored SIGTERM for 40s:\n%s", n, tail(n.output(), 4000))
	}
}

// kill stops n with SIGKILL.
func (c *cluster) kill(id int32) {
	c.t.Helper()
	n := c.node(id)
	if !n.kafka {
		n.samsa.Kill()
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.done
}

func (c *cluster) node(id int32) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[id]
	if n == nil {
		c.t.Fatalf("no broker %d", id)
	}
	return n
}

func (c *cluster) live() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ns []*node
	for _, n := range c.nodes {
		if n.alive() {
			ns = append(ns, n)
		}
	}
	slices.SortFunc(ns, func(a, b *node) int { return int(a.id - b.id) })
	return ns
}

func (c *cluster) seeds() []string {
	var s []string
	for _, n := range c.live() {
		s = append(s, n.Addr())
	}
	return s
}

// controllerID is the broker id in /controller, or -1.
func (c *cluster) controllerID() int32 {
	data, _, err := c.conn.Get("/kafka/controller")
	if err != nil {
		return -1
	}
	m := regexp.MustCompile(`"brokerid":(\d+)`).FindSubmatch(data)
	if m == nil {
		return -1
	}
	id, _ := strconv.Atoi(string(m[1]))
	return int32(id)
}

func (c *cluster) waitController(id int32, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for c.controllerID() != id {
		if time.Now().After(deadline) {
			c.t.Fatalf("controller is %d, not %d, after %v", c.controllerID(), id, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metadata asks one broker.
func metadata(t *testing.T, addr string, topics ...string) (*kmsg.MetadataResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	for _, tp := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(tp)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// summary is what every broker must agree on: brokers, controller, and
// each partition's leader, epoch, replicas and ISR (ISR sorted: Kafka
// keeps the order AlterPartition gave, which differs between leaders).
func summary(m *kmsg.MetadataResponse) string {
	var ids []int32
	for _, b := range m.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	s := fmt.Sprintf("brokers=%v controller=%d", ids, m.ControllerID)
	topics := slices.Clone(m.Topics)
	slices.SortFunc(topics, func(a, b kmsg.MetadataResponseTopic) int { return strings.Compare(*a.Topic, *b.Topic) })
	for _, tp := range topics {
		ps := slices.Clone(tp.Partitions)
		slices.SortFunc(ps, func(a, b kmsg.MetadataResponseTopicPartition) int { return int(a.Partition - b.Partition) })
		for _, p := range ps {
			isr := slices.Clone(p.ISR)
			slices.Sort(isr)
			s += fmt.Sprintf(" %s-%d:err=%d,leader=%d/%d,replicas=%v,isr=%v", *tp.Topic, p.Partition, p.ErrorCode, p.Leader, p.LeaderEpoch, p.Replicas, isr)
		}
	}
	return s
}

// waitAgree waits until every live broker answers the same Metadata for
// topics and ok holds for it, and returns it.
func (c *cluster) waitAgree(what string, timeout time.Duration, ok func(m *kmsg.MetadataResponse) bool, topics ...string) *kmsg.MetadataResponse {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		var first *kmsg.MetadataResponse
		agree := true
		last = ""
		for _, n := range c.live() {
			m, err := metadata(c.t, n.Addr(), topics...)
			if err != nil {
				agree = false
				last += fmt.Sprintf(" %s: %v;", n, err)
				continue
			}
			if first == nil {
				first = m
			} else if summary(m) != summary(first) {
				agree = false
			}
			last += fmt.Sprintf(" %s: %s;", n, summary(m))
		}
		if agree && first != nil && ok(first) {
			return first
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not reached within %v; last metadata:%s", what, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fullISR is a waitAgree condition: every broker in ids is listed, and
// every partition of topic (nparts of them) has a leader and all its
// replicas in the ISR.
func fullISR(topic string, nparts int, ids ...int32) func(m *kmsg.MetadataResponse) bool {
	return func(m *kmsg.MetadataResponse) bool {
		var got []int32
		for _, b := range m.Brokers {
			got = append(got, b.NodeID)
		}
		for _, id := range ids {
			if !slices.Contains(got, id) {
				return false
			}
		}
		for _, t := range m.Topics {
			if *t.Topic != topic {
				continue
			}
			if len(t.Partitions) != nparts {
				return false
			}
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 || p.Leader < 0 || len(p.ISR) != len(p.Replicas) {
					return false
				}
			}
			return true
		}
		return false
	}
}

// kafkaProblems returns the lines of n's output (a Kafka broker) that are
// errors, or warnings other than the ones Kafka itself logs in a healthy
// cluster whose brokers come and go.
func kafkaProblems(out string, shuttingDown func(addr string) bool) []string {
	var bad []string
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		if !strings.Contains(line, "] ERROR ") && !strings.Contains(line, "] WARN ") {
			continue
		}
		if benignKafkaWarning.MatchString(line) {
			continue
		}
		// A follower that fetched with the old leader epoch from a leader
		// that already has the new one (FENCED_LEADER_EPOCH) stops
		// fetching that partition until its own LeaderAndIsr arrives
		// (AbstractFetcherThread.onPartitionFenced): Kafka leaders answer
		// the same.
		if m := failedPartition.FindStringSubmatch(line); m != nil && strings.Contains(out, "Partition "+m[1]+" has an older epoch") {
			continue
		}
		// A Kafka controller loses the connection to a broker that is
		// shutting down (or to itself, shutting down), or stops the send
		// thread of any broker that went away (the exception is then
		// InterruptedException): the controller sends the last
		// StopReplica as the broker's controlled shutdown succeeds, and
		// a Kafka broker stops its socket server right after
		// (KafkaServer.shutdown), as a Samsa broker stops its listeners.
		// A Samsa broker that closed the connection on a request it
		// refused (a "closing connection" warning) is not excused.
		if m := failedSend.FindStringSubmatch(line); m != nil &&
			(shuttingDown(m[1]) || i+1 < len(lines) && strings.HasPrefix(lines[i+1], "java.lang.InterruptedException")) {
			continue
		}
		bad = append(bad, line)
	}
	return bad
}

var (
	failedPartition = regexp.MustCompile(`Partition (\S+) marked as failed`)
	failedSend      = regexp.MustCompile(`Controller \d+ (?:epoch \d+ )?fails to send (?:a )?request .*?to broker (\S+) \(id: \d+ `)
)

// benignKafkaWarning matches what Kafka 3.9 brokers log among themselves
// too: a peer that is not (or no longer) listening, a fetch session or
// fetch that failed because its leader went away, a partition a follower
// learns of before the leader does (UNKNOWN_TOPIC_ID/..._OR_PARTITION,
// "may be returned transiently"), and the warnings of its own start-up.
var benignKafkaWarning = regexp.MustCompile(strings.Join([]string{
	`could not be established`,
	`was unsuccessful`,
	`Error in response for fetch request`,
	`Error sending fetch request`,
	`may be returned transiently`,
	`Disconnecting from node`,
	`Connection to node .* terminated`,
	`Unexpected error in request completion`, // a controller's request to a broker that died
	`No checkpointed highwatermark`,
	`Unable to read .*checkpoint`,
	`Received UNKNOWN_TOPIC_OR_PARTITION`,
	`Received NOT_LEADER_OR_FOLLOWER`,
	`Stopped fetchers`,
	`found orphaned`,
	`The broker is not the controller`,
	`Retrying controlled shutdown`,
	`Failed to send request to controller`,
	`Error while fetching metadata`,
	`LEADER_NOT_AVAILABLE`,
	// A new leader whose high watermark lags a follower's (each learnt
	// it from the old leader's fetch responses, one a round later)
	// answers the follower's first fetch with its own: Kafka's
	// UnifiedLog.maybeUpdateHighWatermark takes it even when lower.
	// Kafka leaders do the same (Partition.fetchRecords reads the
	// watermark before the fetch moves it).
	`Non-monotonic update of high watermark`,
	// ZooKeeper stalled for seconds on this shared machine (every
	// broker's session at once); the session survives or the broker
	// registers again, as in a Kafka-only cluster.
	`Client session timed out, have not heard from server`,
	`Closing socket connection. Attempting reconnect`,
}, "|"))

// shutDownAddr reports whether addr (host:port) is a Kafka broker's, or
// a Samsa broker's that was stopped with SIGTERM and closed no
// connection on a request it refused: a broker whose connections a
// controller may lose as it shuts down.
func (c *cluster) shutDownAddr(addr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.history {
		if n.Addr() != addr {
			continue
		}
		if n.kafka {
			return true
		}
		out := n.samsa.Output()
		return strings.Contains(out, `msg="shutting down" signal=terminated`) &&
			!samsaRefused.MatchString(out)
	}
	return false
}

// samsaRefused matches a Samsa broker's log line for a connection it
// closed because of the request (protocol/conn.go).
var samsaRefused = regexp.MustCompile(`level=(?:WARN|ERROR) msg="closing connection`)

// dumpLogs logs the tail of every broker's output, for a failed test,
// and writes all of it to interop/target/logs/<test>/<broker>.log.
func (c *cluster) dumpLogs() {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir := filepath.Join(filepath.Dir(libDir()), "logs", c.t.Name())
	_ = os.MkdirAll(dir, 0o755)
	for i, n := range c.history {
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d-%s.log", i, n)), []byte(n.output()), 0o644)
		c.t.Logf("==== %s output (tail; all of it in %s):\n%s", n, dir, tail(n.output(), 3000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() < 8<<20 {
		s.b.Write(p)
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
