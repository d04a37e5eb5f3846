package integration

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Partition reassignment (issue 13): Kafka 3.9's ZooKeeper-mode
// KafkaController.onPartitionReassignment driven by the stock
// kafka-reassign-partitions tool and raw AlterPartitionReassignments /
// ListPartitionReassignments requests, on four Samsa binaries.

// adminClient is a franz-go client over every broker; it sends admin
// requests to the controller.
func (c *zkCluster) adminClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.seeds()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createAssigned creates a one-partition topic on exactly replicas.
func (c *zkCluster) createAssigned(t *testing.T, topic string, replicas ...int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(ctxT(t), c.adminClient(t))
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create %s: %v %+v", topic, err, resp)
	}
	c.waitAgree(topic+" in sync", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, topic, 0)
		return mp.Leader > 0 && len(mp.ISR) == len(replicas)
	})
}

// fill writes n records of size random bytes to topic (acks=all).
func (c *zkCluster) fill(t *testing.T, topic string, n, size int) {
	t.Helper()
	cl := c.adminClient(t, kgo.ProducerBatchMaxBytes(64<<10), kgo.ProducerLinger(5*time.Millisecond)) // batches smaller than replica.fetch.max.bytes
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ferr error
	for i := 0; i < n; i++ {
		wg.Add(1)
		val := make([]byte, size) // random: the producer compresses
		_, _ = rand.Read(val)
		cl.Produce(ctxT(t), &kgo.Record{Topic: topic, Value: val}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				ferr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ferr != nil {
		t.Fatalf("fill %s: %v", topic, ferr)
	}
}

// produceNumbered produces records numbered 0, 1, 2, ... (the number,
// then pad dots) one at a time with ProduceSync until the returned stop
// is called; stop returns the numbers acknowledged, in order, and the
// error that ended the producer early, if any.
func produceNumbered(prod *kgo.Client, pad int) (stop func() (acked []int, err error)) {
	done := make(chan struct{})
	var acked []int
	var prodErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i) + strings.Repeat(".", pad))}).FirstErr()
			cancel()
			if err != nil {
				prodErr = err
				return
			}
			acked = append(acked, i)
		}
	}()
	return func() ([]int, error) {
		close(done)
		wg.Wait()
		return acked, prodErr
	}
}

// listReassignments asks the controller for topic's partition 0.
func (c *zkCluster) listReassignments(t *testing.T, topic string) *kmsg.ListPartitionReassignmentsResponse {
	t.Helper()
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	rt := kmsg.NewListPartitionReassignmentsRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), c.adminClient(t))
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("ListPartitionReassignments: %v %+v", err, resp)
	}
	return resp
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func moveJSON(topic string, replicas ...int32) string {
	return fmt.Sprintf(`{"version":1,"partitions":[{"topic":%q,"partition":0,"replicas":[%s]}]}`, topic, joinIDs(replicas))
}

// waitVerified runs --verify until it reports the partition completed.
func waitVerified(t *testing.T, tool, bootstrap, file, topic string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := runTool(t, "", tool, "--bootstrap-server", bootstrap, "--verify", "--reassignment-json-file", file)
		if strings.Contains(out, "Reassignment of partition "+topic+"-0 is completed") {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("--verify did not report completion within %v:\n%s", timeout, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func hasLogDir(c *zkCluster, id int32, topic string) bool {
	_, err := os.Stat(filepath.Join(c.brokers[id].DataDir(), topic+"-0"))
	return err == nil
}

// logBytes is the size of broker id's log segments of topic's partition 0.
func logBytes(c *zkCluster, id int32, topic string) int64 {
	files, _ := filepath.Glob(filepath.Join(c.brokers[id].DataDir(), topic+"-0", "*.log"))
	var n int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n
}

func waitNoLogDir(t *testing.T, c *zkCluster, id int32, topic string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for hasLogDir(c, id, topic) {
		if time.Now().After(deadline) {
			var lines []string
			for _, l := range strings.Split(c.brokers[id].Output(), "\n") {
				if strings.Contains(l, topic) || strings.Contains(l, "StopReplica") {
					lines = append(lines, l)
				}
			}
			t.Fatalf("broker %d still has a log dir for %s-0; its log:\n%s", id, topic, strings.Join(lines, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestZKReassignExecuteVerify moves a partition from brokers {1,2,3} to
// {2,3,4} with kafka-reassign-partitions --generate, --execute and
// --verify while an idempotent acks=all producer writes to it: the
// removed replica's log goes, the new one is in sync, and every
// acknowledged record is there once, in order.
func TestZKReassignExecuteVerify(t *testing.T) {
	tool := kafkaTool(t, "kafka-reassign-partitions.sh")
	c := startZKCluster(t, 4)
	bootstrap := strings.Join(c.seeds(), ",")
	const topic = "moving"
	c.createAssigned(t, topic, 1, 2, 3)

	out := runTool(t, "", tool, "--bootstrap-server", bootstrap, "--generate", "--broker-list", "2,3,4",
		"--topics-to-move-json-file", writeFile(t, "topics.json", `{"version":1,"topics":[{"topic":"moving"}]}`))
	if !strings.Contains(out, `Current partition replica assignment`) || !strings.Contains(out, `"replicas":[1,2,3]`) ||
		!strings.Contains(out, "Proposed partition reassignment configuration") {
		t.Fatalf("--generate printed:\n%s", out)
	}
	prop := out[strings.Index(out, "Proposed partition reassignment configuration"):]
	for _, id := range []string{"2", "3", "4"} {
		if !strings.Contains(prop, id) {
			t.Fatalf("proposal does not use broker %s:\n%s", id, prop)
		}
	}

	// The producer writes until the reassignment is verified.
	prod := c.adminClient(t, kgo.DefaultProduceTopic(topic), kgo.RecordRetries(1000), kgo.ProducerLinger(0))
	stopProducing := produceNumbered(prod, 1000)
	time.Sleep(300 * time.Millisecond)

	file := writeFile(t, "move.json", moveJSON(topic, 2, 3, 4))
	out = runTool(t, "", tool, "--bootstrap-server", bootstrap, "--execute", "--reassignment-json-file", file)
	if !strings.Contains(out, "Successfully started partition reassignment for moving-0") {
		t.Fatalf("--execute printed:\n%s", out)
	}
	waitVerified(t, tool, bootstrap, file, topic, 20*time.Second)
	time.Sleep(300 * time.Millisecond) // a few more writes after the move
	acked, prodErr := stopProducing()
	if prodErr != nil {
		t.Fatalf("producer failed after %d records: %v", len(acked), prodErr)
	}
	if len(acked) < 10 {
		t.Fatalf("only %d records acknowledged", len(acked))
	}

	m := c.waitAgree("moved to 2,3,4", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, topic, 0)
		return slices.Equal(mp.Replicas, []int32{2, 3, 4}) && len(mp.ISR) == 3 && mp.Leader >= 2
	})
	t.Logf("after the move: %s; %d records acknowledged", summary(m), len(acked))
	waitNoLogDir(t, c, 1, topic)
	if !hasLogDir(c, 4, topic) {
		t.Fatal("broker 4 has no log dir for moving-0")
	}
	data, _ := c.get("/brokers/topics/" + topic)
	if !strings.Contains(string(data), `"partitions":{"0":[2,3,4]}`) || !strings.Contains(string(data), `"adding_replicas":{}`) {
		t.Errorf("topic znode after the move: %s", data)
	}

	// Every acknowledged record, once and in order, from the new replicas.
	cons := c.adminClient(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	next := 0
	deadline := time.Now().Add(15 * time.Second)
	for next < len(acked) && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cons.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			n, _ := strconv.Atoi(strings.TrimRight(string(r.Value), "."))
			if next < len(acked) && n != acked[next] {
				t.Fatalf("record %d read where %d was expected (offset %d)", n, acked[next], r.Offset)
			}
			next++
		})
	}
	if next < len(acked) {
		t.Fatalf("read %d of %d acknowledged records", next, len(acked))
	}
}

// TestZKReassignCancelAndList starts a throttled (so slow) reassignment
// of {1,2,3} to {2,3,4}: ListPartitionReassignments shows it with its
// adding and removing replicas, the throttle configs are as
// kafka-configs describes them, --cancel restores {1,2,3} and drops the
// new replica's log, and the API's errors are Kafka's.
func TestZKReassignCancelAndList(t *testing.T) {
	tool := kafkaTool(t, "kafka-reassign-partitions.sh")
	configs := kafkaTool(t, "kafka-configs.sh")
	// Small fetches: the 20 kB/s throttle then holds from the first one.
	c := startZKClusterWith(t, 4, "replica.fetch.max.bytes=65536")
	bootstrap := strings.Join(c.seeds(), ",")
	const topic = "cancelled"
	c.createAssigned(t, topic, 1, 2, 3)
	c.fill(t, topic, 200, 10000) // 2 MB

	file := writeFile(t, "move.json", moveJSON(topic, 2, 3, 4))
	out := runTool(t, "", tool, "--bootstrap-server", bootstrap, "--execute", "--throttle", "20000", "--reassignment-json-file", file)
	if !strings.Contains(out, "The inter-broker throttle limit was set to 20000 B/s") {
		t.Fatalf("--execute printed:\n%s", out)
	}
	resp := c.listReassignments(t, topic)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("no reassignment listed: %+v", resp)
	}
	lp := resp.Topics[0].Partitions[0]
	if !slices.Equal(lp.Replicas, []int32{2, 3, 4, 1}) || !slices.Equal(lp.AddingReplicas, []int32{4}) || !slices.Equal(lp.RemovingReplicas, []int32{1}) {
		t.Fatalf("listed %+v, want replicas [2 3 4 1] adding [4] removing [1]", lp)
	}
	out = runTool(t, "", tool, "--bootstrap-server", bootstrap, "--list")
	if !strings.Contains(out, "cancelled-0: replicas: 2,3,4,1. adding: 4. removing: 1.") {
		t.Errorf("--list printed:\n%s", out)
	}
	data, _ := c.get("/brokers/topics/" + topic)
	if !strings.Contains(string(data), `"adding_replicas":{"0":[4]}`) || !strings.Contains(string(data), `"removing_replicas":{"0":[1]}`) {
		t.Errorf("topic znode during the move: %s", data)
	}
	// The throttles the tool set, as kafka-configs describes them.
	out = runTool(t, "", configs, "--bootstrap-server", bootstrap, "--describe", "--entity-type", "brokers", "--entity-name", "4")
	if !strings.Contains(out, "leader.replication.throttled.rate=20000") || !strings.Contains(out, "follower.replication.throttled.rate=20000") {
		t.Errorf("broker 4's dynamic configs:\n%s", out)
	}
	out = runTool(t, "", configs, "--bootstrap-server", bootstrap, "--describe", "--entity-type", "topics", "--entity-name", topic)
	if !strings.Contains(out, "leader.replication.throttled.replicas=0:1,0:2,0:3") || !strings.Contains(out, "follower.replication.throttled.replicas=0:4") {
		t.Errorf("topic configs:\n%s", out)
	}

	// API errors, at the controller.
	alter := func(topic string, p int32, replicas []int32) kmsg.AlterPartitionAssignmentsResponseTopicPartition {
		req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
		rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = p, replicas
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctxT(t), c.adminClient(t))
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("AlterPartitionReassignments: %v %+v", err, resp)
		}
		return resp.Topics[0].Partitions[0]
	}
	for _, tc := range []struct {
		topic    string
		p        int32
		replicas []int32
		code     int16
	}{
		{"nosuch", 0, []int32{1}, kerr.UnknownTopicOrPartition.Code},
		{topic, 5, []int32{1}, kerr.UnknownTopicOrPartition.Code},
		{topic, 0, []int32{}, kerr.InvalidReplicaAssignment.Code},
		{topic, 0, []int32{2, 2}, kerr.InvalidReplicaAssignment.Code},
		{topic, 0, []int32{1, 9}, kerr.InvalidReplicaAssignment.Code},
		{"nosuch", 0, nil, kerr.NoReassignmentInProgress.Code},
	} {
		if got := alter(tc.topic, tc.p, tc.replicas); got.ErrorCode != tc.code {
			t.Errorf("reassign %s-%d to %v: %s, want %s", tc.topic, tc.p, tc.replicas, kerr.ErrorForCode(got.ErrorCode), kerr.ErrorForCode(tc.code))
		}
	}
	// Another broker than the controller answers NOT_CONTROLLER.
	ctl := c.waitAgree("controller elected", 10*time.Second, func(m *kmsg.MetadataResponse) bool { return m.ControllerID > 0 }).ControllerID
	other := c.brokers[1]
	if ctl == 1 {
		other = c.brokers[2]
	}
	lreq := kmsg.NewPtrListPartitionReassignmentsRequest()
	if r := request[*kmsg.ListPartitionReassignmentsResponse](t, other.Addr(), lreq); r.ErrorCode != kerr.NotController.Code {
		t.Errorf("ListPartitionReassignments at a non-controller: %s", kerr.ErrorForCode(r.ErrorCode))
	}

	out = runTool(t, "", tool, "--bootstrap-server", bootstrap, "--cancel", "--reassignment-json-file", file)
	if !strings.Contains(out, "Successfully cancelled partition reassignment for: cancelled-0") {
		t.Fatalf("--cancel printed:\n%s", out)
	}
	// Back on ORS = RS - AR = [2,3,1]: as Kafka says
	// (updateCurrentReassignment), the original order cannot be restored
	// once the target's replicas were put first.
	c.waitAgree("back on 1,2,3", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, topic, 0)
		return slices.Equal(mp.Replicas, []int32{2, 3, 1}) && len(mp.ISR) == 3
	})
	data, _ = c.get("/brokers/topics/" + topic)
	if !strings.Contains(string(data), `"partitions":{"0":[2,3,1]}`) || !strings.Contains(string(data), `"adding_replicas":{}`) ||
		!strings.Contains(string(data), `"removing_replicas":{}`) {
		t.Errorf("topic znode after --cancel: %s", data)
	}
	if r := c.listReassignments(t, topic); len(r.Topics) != 0 {
		t.Errorf("still listed after --cancel: %+v", r.Topics)
	}
	waitNoLogDir(t, c, 4, topic)
	// --cancel also cleared the throttles (no --preserve-throttles).
	out = runTool(t, "", configs, "--bootstrap-server", bootstrap, "--describe", "--entity-type", "brokers", "--entity-name", "4")
	if strings.Contains(out, "throttled.rate") {
		t.Errorf("throttle left after --cancel:\n%s", out)
	}
}

// TestZKReassignThrottle moves a partition holding 5 MB under a 1 MB/s
// --throttle: it takes seconds instead of a fraction of one, and
// --verify then removes the broker and topic throttles. The quota lets
// data through in steps of about a window's worth (1 MB) as old samples
// expire, and the first two steps can both land before the first sample
// (the throttle's windows start when --execute sets it, before the move):
// 5 MB leaves several steps to measure the rate over.
func TestZKReassignThrottle(t *testing.T) {
	tool := kafkaTool(t, "kafka-reassign-partitions.sh")
	configs := kafkaTool(t, "kafka-configs.sh")
	// Two samples of 1 s: the quota admits a burst of about one second's
	// worth, so the rate shows within seconds; small fetches, and a
	// follower that looks again every 100 ms when its quota held it back
	// (replica.fetch.backoff.ms), make it even.
	c := startZKClusterWith(t, 4, "replication.quota.window.num=2", "replica.fetch.max.bytes=65536", "replica.fetch.backoff.ms=100")
	bootstrap := strings.Join(c.seeds(), ",")
	const topic = "throttled"
	c.createAssigned(t, topic, 1, 2, 3)
	c.fill(t, topic, 500, 10000) // 5 MB

	file := writeFile(t, "move.json", moveJSON(topic, 2, 3, 4))
	const rate = 1000000
	start := time.Now()
	out := runTool(t, "", tool, "--bootstrap-server", bootstrap, "--execute", "--throttle", strconv.Itoa(rate), "--reassignment-json-file", file)
	if !strings.Contains(out, "Successfully started partition reassignment for throttled-0") {
		t.Fatalf("--execute printed:\n%s", out)
	}
	// Broker 4's log size, sampled until it is in sync: the rate after
	// the first MB (the quota's burst) is the throttle's.
	type point struct {
		at    time.Time
		bytes int64
	}
	var points []point
	deadline := time.Now().Add(25 * time.Second)
	for {
		points = append(points, point{time.Now(), logBytes(c, 4, topic)})
		mp := partitionOf(metadataFrom(t, c.brokers[2].Addr()), topic, 0)
		if slices.Contains(mp.ISR, 4) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker 4 not in sync within 25s; its log has %d bytes", points[len(points)-1].bytes)
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	last := points[len(points)-1]
	var from *point
	for i := range points {
		if points[i].bytes >= 1<<20 {
			from = &points[i]
			break
		}
	}
	if from == nil || last.bytes-from.bytes < 1<<20 {
		var b strings.Builder
		for _, p := range points {
			fmt.Fprintf(&b, " %dms:%d", p.at.Sub(start).Milliseconds(), p.bytes)
		}
		t.Fatalf("too few samples to measure the rate:%s", b.String())
	}
	steady := float64(last.bytes-from.bytes) / last.at.Sub(from.at).Seconds()
	t.Logf("%d bytes moved under a %d B/s throttle in %v; %.0f B/s after the first MB", last.bytes, rate, took, steady)
	if steady > 1.5*rate || steady < 0.3*rate {
		t.Errorf("replication ran at %.0f B/s under a %d B/s throttle", steady, rate)
	}
	out = waitVerified(t, tool, bootstrap, file, topic, 10*time.Second)
	if !strings.Contains(out, "Clearing broker-level throttles") || !strings.Contains(out, "Clearing topic-level throttles on topic throttled") {
		t.Errorf("--verify printed:\n%s", out)
	}
	for _, id := range []string{"1", "4"} {
		out = runTool(t, "", configs, "--bootstrap-server", bootstrap, "--describe", "--entity-type", "brokers", "--entity-name", id)
		if strings.Contains(out, "throttled.rate") {
			t.Errorf("broker %s keeps a throttle after --verify:\n%s", id, out)
		}
	}
	out = runTool(t, "", configs, "--bootstrap-server", bootstrap, "--describe", "--entity-type", "topics", "--entity-name", topic)
	if strings.Contains(out, "throttled.replicas") {
		t.Errorf("topic keeps a throttle after --verify:\n%s", out)
	}
}

// TestZKReassignControllerFailover kills the controller in the middle of
// a (throttled) reassignment: the next controller finishes it from the
// topic znode's adding/removing replicas.
func TestZKReassignControllerFailover(t *testing.T) {
	c := startZKClusterWith(t, 4, "replica.fetch.max.bytes=65536", "replication.quota.window.num=2")
	ctl := c.waitAgree("controller elected", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return m.ControllerID > 0 && len(m.Brokers) == 4
	}).ControllerID
	var others []int32
	for id := int32(1); id <= 4; id++ {
		if id != ctl {
			others = append(others, id)
		}
	}
	a, b, d := others[0], others[1], others[2]
	const topic = "failover"
	c.createAssigned(t, topic, a, b)
	c.fill(t, topic, 150, 10000) // 1.5 MB

	// A throttle of 200 kB/s on every broker keeps the move going for
	// seconds (set through IncrementalAlterConfigs, as the tool does).
	for id := int32(1); id <= 4; id++ {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(id))
		for _, k := range []string{"leader.replication.throttled.rate", "follower.replication.throttled.rate"} {
			cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			cfg.Name, cfg.Value = k, kmsg.StringPtr("200000")
			res.Configs = append(res.Configs, cfg)
		}
		req.Resources = append(req.Resources, res)
		r := request[*kmsg.IncrementalAlterConfigsResponse](t, c.brokers[id].Addr(), req)
		if r.Resources[0].ErrorCode != 0 {
			t.Fatalf("set throttle on %d: %s", id, kerr.ErrorForCode(r.Resources[0].ErrorCode))
		}
	}
	treq := kmsg.NewPtrIncrementalAlterConfigsRequest()
	tres := kmsg.NewIncrementalAlterConfigsRequestResource()
	tres.ResourceType, tres.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	for k, v := range map[string]string{"leader.replication.throttled.replicas": "*", "follower.replication.throttled.replicas": "*"} {
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Value = k, kmsg.StringPtr(v)
		tres.Configs = append(tres.Configs, cfg)
	}
	treq.Resources = append(treq.Resources, tres)
	if r, err := treq.RequestWith(ctxT(t), c.adminClient(t)); err != nil || r.Resources[0].ErrorCode != 0 {
		t.Fatalf("topic throttle: %v %+v", err, r)
	}
	time.Sleep(300 * time.Millisecond) // config changes reach every broker

	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Partition, rp.Replicas = 0, []int32{b, d}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), c.adminClient(t))
	if err != nil || resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("AlterPartitionReassignments: %v %+v", err, resp)
	}
	if r := c.listReassignments(t, topic); len(r.Topics) != 1 {
		t.Fatalf("reassignment not in progress before the kill: %+v", r)
	}
	c.brokers[ctl].Kill()
	c.waitAgree("new controller", 15*time.Second, func(m *kmsg.MetadataResponse) bool {
		return m.ControllerID > 0 && m.ControllerID != ctl
	}, ctl)
	c.waitAgree("moved to "+joinIDs([]int32{b, d}), 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, topic, 0)
		return slices.Equal(mp.Replicas, []int32{b, d}) && len(mp.ISR) == 2
	}, ctl)
	if r := c.listReassignments(t, topic); len(r.Topics) != 0 {
		t.Errorf("still listed: %+v", r.Topics)
	}
	waitNoLogDir(t, c, a, topic)
	finished := false
	for id, br := range c.brokers {
		if id != ctl && strings.Contains(br.Output(), `msg="controller: reassignment completed" topic=failover`) {
			finished = true
		}
	}
	if !finished {
		t.Error("no surviving broker completed the reassignment as controller")
	}

	// The legacy /admin/reassign_partitions znode (old tools, mixed
	// clusters): the controller applies it and deletes it when done.
	legacy := fmt.Sprintf(`{"version":1,"partitions":[{"topic":%q,"partition":0,"replicas":[%d,%d]}]}`, topic, d, b)
	if _, err := c.conn.Create("/kafka/admin/reassign_partitions", []byte(legacy), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /admin/reassign_partitions: %v", err)
	}
	c.waitAgree("reordered through zookeeper", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return slices.Equal(partitionOf(m, topic, 0).Replicas, []int32{d, b})
	}, ctl)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, _, err := c.conn.Exists("/kafka/admin/reassign_partitions")
		if err == nil && !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/admin/reassign_partitions not deleted (%v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
