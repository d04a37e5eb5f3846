package integration

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
	"samsa/replica"
)

// rackCluster is a three-broker ZooKeeper cluster with broker.rack a, b
// and c for brokers 1, 2 and 3, each with its HTTP listener (metrics) at
// httpBase[id], and the given extra properties per broker.
type rackCluster struct {
	*zkCluster
	httpBase map[int32]string
}

func startRackCluster(t *testing.T, extra func(id int32) []string) *rackCluster {
	t.Helper()
	rc := &rackCluster{httpBase: map[int32]string{}}
	ports := map[int32]int{}
	for id := int32(1); id <= 3; id++ {
		ports[id] = testbroker.FreePort(t)
		rc.httpBase[id] = fmt.Sprintf("http://127.0.0.1:%d", ports[id])
	}
	rc.zkCluster = startZKClusterEach(t, 3, func(id int32) []string {
		return append([]string{
			"broker.rack=" + string(rune('a'+id-1)),
			fmt.Sprintf("samsa.http.listeners=http://127.0.0.1:%d", ports[id]),
		}, extra(id)...)
	})
	rc.waitAgree("cluster formed", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		return len(m.Brokers) == 3 && m.ControllerID > 0
	})
	return rc
}

// createAssigned creates a one-partition topic whose replicas are exactly
// replicas (the first is the preferred leader) and waits until all of
// them are in sync everywhere.
func (rc *rackCluster) createAssigned(topic string, replicas ...int32) {
	rc.t.Helper()
	cl := newClient(rc.t, rc.seeds()[0], kgo.SeedBrokers(rc.seeds()...))
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(ctxT(rc.t), cl)
	if err != nil {
		rc.t.Fatalf("CreateTopics %s: %v", topic, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		rc.t.Fatalf("CreateTopics %s: %v", topic, err)
	}
	rc.waitAgree(topic+" led by "+strconv.Itoa(int(replicas[0])), 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, topic, 0)
		return mp.Leader == replicas[0] && len(mp.ISR) == len(replicas)
	})
}

// produceN produces n records "<topic>-<i>" to the topic with acks=all.
func (rc *rackCluster) produceN(topic string, n int) {
	rc.t.Helper()
	cl := newClient(rc.t, rc.seeds()[0], kgo.SeedBrokers(rc.seeds()...), kgo.DefaultProduceTopic(topic))
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: []byte(topic + "-" + strconv.Itoa(i))}
	}
	if err := cl.ProduceSync(ctxT(rc.t), recs...).FirstErr(); err != nil {
		rc.t.Fatalf("produce to %s: %v", topic, err)
	}
}

// topicCounter is broker id's BrokerTopicMetrics counter name for topic
// (0 when the broker has no series for it).
func (rc *rackCluster) topicCounter(id int32, name, topic string) float64 {
	rc.t.Helper()
	v, _ := metricValue(scrape(rc.t, rc.httpBase[id]), name, "topic", topic)
	return v
}

// consumerFetch sends one consumer Fetch of topic-0 at offset with the
// given version and rack_id to broker id on a raw connection.
func (rc *rackCluster) consumerFetch(id int32, version int16, topic, rack string, offset int64) kmsg.FetchResponseTopicPartition {
	rc.t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = version, -1, 0, 1, 1<<20
	req.SessionEpoch, req.Rack = -1, rack
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 0, offset, 1<<20, -1
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	conn := dialRawConn(rc.t, rc.brokers[id].Addr())
	if err := conn.send(req); err != nil {
		rc.t.Fatal(err)
	}
	r, err := conn.recv(req, 10*time.Second)
	if err != nil {
		rc.t.Fatalf("Fetch v%d to broker %d: %v", version, id, err)
	}
	resp := r.(*kmsg.FetchResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		rc.t.Fatalf("Fetch v%d to broker %d: %+v", version, id, resp)
	}
	return resp.Topics[0].Partitions[0]
}

// TestZKFetchFromClosestReplica (KIP-392): brokers in racks a, b and c.
// Topic "near" is led by broker 1 (rack a, replica.selector.class =
// RackAwareReplicaSelector): a franz-go consumer with rack c reads every
// record, and the record bytes went out of broker 3, the rack-c follower
// (its BrokerTopicMetrics BytesOut for the topic covers the whole log;
// nothing else fetches from a follower). Topic "far" is led by broker 2,
// which has no replica.selector.class: the same consumer reads from the
// leader only and broker 3 serves it nothing. Raw fetches then check the
// answers themselves: the leader names replica 3 for rack c (no records,
// the leader's offsets) and nobody for rack a, the client's rack empty
// or another rack; a follower refuses consumer fetches below v11
// (NOT_LEADER_OR_FOLLOWER), serves v11+ up to its high watermark, and
// answers OFFSET_OUT_OF_RANGE past its log end.
func TestZKFetchFromClosestReplica(t *testing.T) {
	rc := startRackCluster(t, func(id int32) []string {
		if id == 2 {
			return nil
		}
		return []string{"replica.selector.class=" + replica.RackAwareReplicaSelectorClass}
	})
	const n = 300
	rc.createAssigned("near", 1, 2, 3)
	rc.createAssigned("far", 2, 3, 1)
	rc.produceN("near", n)
	rc.produceN("far", n)

	consume := func(topic string) {
		t.Helper()
		cl := newClient(t, rc.seeds()[0], kgo.SeedBrokers(rc.seeds()...), kgo.Rack("c"),
			kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
		pollExactly(t, cl, valueSet(topic+"-", 0, n), 20*time.Second)
		cl.Close()
	}

	consume("near")
	logSize := func(id int32, topic string) int64 {
		all, err := newAdmin(t, rc.brokers[id].Addr()).DescribeBrokerLogDirs(ctxT(t), id, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range all {
			if p, ok := d.Topics.Lookup(topic, 0); ok {
				return p.Size
			}
		}
		t.Fatalf("broker %d has no log of %s-0", id, topic)
		return 0
	}
	size := logSize(1, "near")
	out3 := rc.topicCounter(3, "kafka_server_brokertopicmetrics_bytesout_total", "near")
	t.Logf("near: log %d bytes; rack-c follower sent %v bytes of it to the consumer", size, out3)
	if out3 < float64(size) {
		t.Errorf("rack-c follower sent %v bytes of near, want the whole log (%d bytes) read from it", out3, size)
	}
	if f := rc.topicCounter(3, "kafka_server_brokertopicmetrics_totalfetchrequests_total", "near"); f == 0 {
		t.Errorf("rack-c follower served no fetch of near")
	}
	if out2 := rc.topicCounter(2, "kafka_server_brokertopicmetrics_bytesout_total", "near"); out2 != 0 {
		t.Errorf("rack-b follower sent %v bytes of near, want 0", out2)
	}

	consume("far")
	if f := rc.topicCounter(3, "kafka_server_brokertopicmetrics_totalfetchrequests_total", "far"); f != 0 {
		t.Errorf("without replica.selector.class on the leader, broker 3 served %v fetches of far, want 0", f)
	}
	if out := rc.topicCounter(2, "kafka_server_brokertopicmetrics_bytesout_total", "far"); out < float64(logSize(2, "far")) {
		t.Errorf("leader of far sent %v bytes, want at least its log", out)
	}

	// The leader's answers.
	sp := rc.consumerFetch(1, 12, "near", "c", 0)
	if sp.ErrorCode != 0 || sp.PreferredReadReplica != 3 || len(sp.RecordBatches) != 0 || sp.HighWatermark != n {
		t.Errorf("leader, rack c: error %d preferred %d, %d record bytes, hw %d; want replica 3, no records, hw %d",
			sp.ErrorCode, sp.PreferredReadReplica, len(sp.RecordBatches), sp.HighWatermark, n)
	}
	for _, rack := range []string{"a", "", "z"} {
		sp := rc.consumerFetch(1, 12, "near", rack, 0)
		if sp.ErrorCode != 0 || sp.PreferredReadReplica != -1 || len(sp.RecordBatches) == 0 {
			t.Errorf("leader, rack %q: error %d preferred %d, %d record bytes; want the leader's records", rack, sp.ErrorCode, sp.PreferredReadReplica, len(sp.RecordBatches))
		}
	}
	if sp := rc.consumerFetch(2, 12, "far", "c", 0); sp.PreferredReadReplica != -1 || len(sp.RecordBatches) == 0 {
		t.Errorf("leader without selector, rack c: preferred %d, %d record bytes", sp.PreferredReadReplica, len(sp.RecordBatches))
	}

	// The follower's answers.
	// A follower learns the leader's high watermark one fetch later
	// (up to replica.fetch.wait.max.ms).
	deadline := time.Now().Add(5 * time.Second)
	for rc.consumerFetch(3, 12, "near", "c", 0).HighWatermark != n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if sp := rc.consumerFetch(3, 10, "near", "", 0); sp.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("follower, Fetch v10: error %d, want NOT_LEADER_OR_FOLLOWER", sp.ErrorCode)
	}
	sp = rc.consumerFetch(3, 12, "near", "c", 0)
	if sp.ErrorCode != 0 || sp.HighWatermark != n || len(sp.RecordBatches) == 0 || sp.PreferredReadReplica != -1 {
		t.Errorf("follower, Fetch v12: error %d hw %d, %d record bytes, preferred %d", sp.ErrorCode, sp.HighWatermark, len(sp.RecordBatches), sp.PreferredReadReplica)
	}
	if sp := rc.consumerFetch(3, 12, "near", "c", n); sp.ErrorCode != 0 || len(sp.RecordBatches) != 0 {
		t.Errorf("follower at its high watermark: error %d, %d record bytes; want nothing", sp.ErrorCode, len(sp.RecordBatches))
	}
	if sp := rc.consumerFetch(3, 12, "near", "c", n+1000); sp.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("follower past its log end: error %d, want OFFSET_OUT_OF_RANGE", sp.ErrorCode)
	}

	// The Java client follows preferred_read_replica the same way with
	// client.rack.
	t.Run("JavaConsumerClientRack", func(t *testing.T) {
		consumer := kafkaTool(t, "kafka-console-consumer.sh")
		before := rc.topicCounter(3, "kafka_server_brokertopicmetrics_bytesout_total", "near")
		out := runTool(t, "", consumer, "--bootstrap-server", strings.Join(rc.seeds(), ","), "--topic", "near",
			"--from-beginning", "--max-messages", strconv.Itoa(n), "--timeout-ms", "20000",
			"--consumer-property", "client.rack=c", "--group", "racks-java")
		got := map[string]bool{}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "near-") {
				got[l] = true
			}
		}
		if len(got) != n {
			t.Fatalf("kafka-console-consumer printed %d distinct records, want %d:\n%s", len(got), n, out)
		}
		after := rc.topicCounter(3, "kafka_server_brokertopicmetrics_bytesout_total", "near")
		t.Logf("Java consumer: rack-c follower sent %v bytes of near (log %d bytes)", after-before, size)
		if after-before < float64(size) {
			t.Errorf("rack-c follower sent %v bytes of near to the Java consumer, want the whole log (%d bytes)", after-before, size)
		}
	})
}

// alterLogDir sends AlterReplicaLogDirs v2 for one partition to broker id
// and returns the partition's error code.
func (rc *rackCluster) alterLogDir(id int32, dir, topic string, partition int32) int16 {
	rc.t.Helper()
	req := kmsg.NewPtrAlterReplicaLogDirsRequest()
	req.Version = 2
	d := kmsg.NewAlterReplicaLogDirsRequestDir()
	d.Dir = dir
	dt := kmsg.NewAlterReplicaLogDirsRequestDirTopic()
	dt.Topic, dt.Partitions = topic, []int32{partition}
	d.Topics = append(d.Topics, dt)
	req.Dirs = append(req.Dirs, d)
	conn := dialRawConn(rc.t, rc.brokers[id].Addr())
	if err := conn.send(req); err != nil {
		rc.t.Fatal(err)
	}
	r, err := conn.recv(req, 10*time.Second)
	if err != nil {
		rc.t.Fatalf("AlterReplicaLogDirs to broker %d: %v", id, err)
	}
	resp := r.(*kmsg.AlterReplicaLogDirsResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].Topic != topic || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].Partition != partition {
		rc.t.Fatalf("AlterReplicaLogDirs answer %+v", resp)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// logDirsJSON is kafka-log-dirs.sh --describe's JSON (Kafka's
// LogDirsCommand).
type logDirsJSON struct {
	Brokers []struct {
		Broker  int32 `json:"broker"`
		LogDirs []struct {
			LogDir     string  `json:"logDir"`
			Error      *string `json:"error"`
			Partitions []struct {
				Partition string `json:"partition"`
				Size      int64  `json:"size"`
				OffsetLag int64  `json:"offsetLag"`
				IsFuture  bool   `json:"isFuture"`
			} `json:"partitions"`
		} `json:"logDirs"`
	} `json:"brokers"`
}

// TestZKLogDirsEveryBroker: every broker of a three-broker cluster
// answers DescribeLogDirs for its own replicas (topic "all" on 1, 2, 3;
// "pair" on 2 and 3 only), with sizes that agree once the followers
// caught up and offset lag 0; kafka-log-dirs.sh --broker-list 1,2,3
// prints the same. Broker 1 has two log.dirs (JBOD), both listed, its
// one replica in the first (fewest logs, ties to the first), and
// AlterReplicaLogDirs answers as Kafka does: NONE for the dir the
// replica is in, LOG_DIR_NOT_FOUND for an unknown path,
// REPLICA_NOT_AVAILABLE for a partition the broker holds no replica of,
// INVALID_TOPIC_EXCEPTION for a topic name too long for a future log's
// directory; and NONE for the second dir, after which the replica moves
// there while the leader keeps it in the ISR and the data stays whole.
func TestZKLogDirsEveryBroker(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	rc := startRackCluster(t, func(id int32) []string {
		if id == 1 {
			return []string{"log.dirs=" + dirA + "," + dirB}
		}
		return nil
	})
	rc.createAssigned("all", 1, 2, 3)
	rc.createAssigned("pair", 2, 3)
	rc.produceN("all", 200)
	rc.produceN("pair", 100)

	adm := newAdmin(t, rc.seeds()[0])
	want := map[int32][]string{1: {"all"}, 2: {"all", "pair"}, 3: {"all", "pair"}}
	var described map[int32]map[string]int64 // broker -> topic -> size of partition 0
	deadline := time.Now().Add(10 * time.Second)
	for {
		all, err := adm.DescribeAllLogDirs(ctxT(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		described = map[int32]map[string]int64{}
		agree := len(all) == 3
		for id, dirs := range all {
			if n := map[bool]int{true: 2, false: 1}[id == 1]; len(dirs) != n {
				t.Fatalf("broker %d lists %d log dirs, want %d: %+v", id, len(dirs), n, dirs)
			}
			described[id] = map[string]int64{}
			for _, d := range dirs {
				if d.Err != nil || d.TotalBytes <= 0 {
					t.Fatalf("broker %d dir %+v", id, d)
				}
				if id == 1 && d.Dir != dirA && d.Dir != dirB {
					t.Errorf("broker 1 lists %s, want %s and %s (log.dirs)", d.Dir, dirA, dirB)
				}
				if id == 1 && d.Dir == dirB && len(d.Topics) != 0 {
					t.Errorf("broker 1 holds %v in %s, want its one replica in the first dir (fewest logs, ties to the first)", d.Topics, dirB)
				}
				d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
					if p.Topic == "all" || p.Topic == "pair" {
						described[id][p.Topic] = p.Size
						if p.OffsetLag != 0 || p.IsFuture {
							t.Errorf("broker %d %s-%d: offset lag %d future %v", id, p.Topic, p.Partition, p.OffsetLag, p.IsFuture)
						}
					}
				})
			}
			if len(described[id]) != len(want[id]) {
				agree = false
			}
		}
		if agree {
			for _, topic := range []string{"all", "pair"} {
				size := described[2][topic]
				for id, topics := range want {
					if slices.Contains(topics, topic) && described[id][topic] != size || size == 0 {
						agree = false
					}
				}
			}
		}
		if agree {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log dirs never agreed on the replicas' sizes: %v", described)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("DescribeLogDirs: %v", described)

	t.Run("kafka-log-dirs", func(t *testing.T) {
		tool := kafkaTool(t, "kafka-log-dirs.sh")
		out := runTool(t, "", tool, "--describe", "--bootstrap-server", strings.Join(rc.seeds(), ","), "--broker-list", "1,2,3", "--topic-list", "all,pair")
		i := strings.Index(out, "{")
		if i < 0 || !strings.Contains(out, "Received log directory information from brokers 1,2,3") {
			t.Fatalf("kafka-log-dirs printed:\n%s", out)
		}
		var got logDirsJSON
		if err := json.Unmarshal([]byte(strings.TrimSpace(out[i:])), &got); err != nil {
			t.Fatalf("kafka-log-dirs JSON: %v\n%s", err, out)
		}
		if len(got.Brokers) != 3 {
			t.Fatalf("kafka-log-dirs lists %d brokers:\n%s", len(got.Brokers), out)
		}
		for _, b := range got.Brokers {
			if b.Broker == 1 && len(b.LogDirs) == 2 {
				if b.LogDirs[1].LogDir == dirA {
					b.LogDirs[0], b.LogDirs[1] = b.LogDirs[1], b.LogDirs[0]
				}
				if b.LogDirs[1].LogDir != dirB || len(b.LogDirs[1].Partitions) != 0 {
					t.Errorf("broker 1 second log dir: %+v", b.LogDirs[1])
				}
				b.LogDirs = b.LogDirs[:1]
			}
			if len(b.LogDirs) != 1 || b.LogDirs[0].Error != nil {
				t.Fatalf("broker %d log dirs: %+v", b.Broker, b.LogDirs)
			}
			if b.Broker == 1 && b.LogDirs[0].LogDir != dirA {
				t.Errorf("broker 1 log dir %s, want %s", b.LogDirs[0].LogDir, dirA)
			}
			seen := map[string]int64{}
			for _, p := range b.LogDirs[0].Partitions {
				if p.OffsetLag != 0 || p.IsFuture {
					t.Errorf("broker %d %s: offsetLag %d isFuture %v", b.Broker, p.Partition, p.OffsetLag, p.IsFuture)
				}
				seen[strings.TrimSuffix(p.Partition, "-0")] = p.Size
			}
			if !maps.Equal(seen, described[b.Broker]) {
				t.Errorf("broker %d: kafka-log-dirs printed %v, DescribeLogDirs answered %v", b.Broker, seen, described[b.Broker])
			}
		}
	})

	for _, c := range []struct {
		what  string
		dir   string
		topic string
		want  int16
	}{
		{"the replica's own dir", dirA, "all", 0},
		{"a path that is no log dir", filepath.Join(dirA, "elsewhere"), "all", kerr.LogDirNotFound.Code},
		{"a partition with no replica here", dirB, "pair", kerr.ReplicaNotAvailable.Code},
		{"a topic name too long for a future log dir", dirA, strings.Repeat("x", 249), kerr.InvalidTopicException.Code},
	} {
		if got := rc.alterLogDir(1, c.dir, c.topic, 0); got != c.want {
			t.Errorf("AlterReplicaLogDirs, %s: error %v, want %v", c.what, kerr.ErrorForCode(got), kerr.ErrorForCode(c.want))
		}
	}
	// The move, with kafka-reassign-partitions.sh's log_dirs: broker 1's
	// replica of all-0 ends up in dirB, whole, while the cluster keeps
	// taking writes.
	rc.produceN("all", 50)
	tool := kafkaTool(t, "kafka-reassign-partitions.sh")
	file := writeFile(t, "dirs.json", `{"version":1,"partitions":[{"topic":"all","partition":0,"replicas":[1,2,3],"log_dirs":["`+dirB+`","any","any"]}]}`)
	out := runTool(t, "", tool, "--bootstrap-server", strings.Join(rc.seeds(), ","), "--execute", "--reassignment-json-file", file,
		"--replica-alter-log-dirs-throttle", "50000000")
	if !strings.Contains(out, "Successfully started moving log directory to "+dirB+" for replica all-0 with broker 1") {
		t.Fatalf("--execute printed:\n%s", out)
	}
	rc.produceN("all", 50)
	deadline = time.Now().Add(15 * time.Second)
	for {
		all, err := adm.DescribeAllLogDirs(ctxT(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		sizes := map[string]int64{}
		future := false
		for id, dirs := range all {
			for _, d := range dirs {
				d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
					if p.Topic == "all" {
						future = future || p.IsFuture
						sizes[fmt.Sprintf("%d:%s", id, d.Dir)] = p.Size
					}
				})
			}
		}
		k1 := "1:" + dirB
		if !future && sizes[k1] > 0 && sizes[k1] == sizes["2:"+all[2].Sorted()[0].Dir] && len(sizes) == 3 {
			t.Logf("all-0 after the move: %v", sizes)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker 1's replica of all-0 never settled in %s: %v (future %v)", dirB, sizes, future)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out = runTool(t, "", tool, "--bootstrap-server", strings.Join(rc.seeds(), ","), "--verify", "--reassignment-json-file", file)
	if !strings.Contains(out, "Reassignment of replica all-0-1 completed successfully") {
		t.Errorf("--verify printed:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dirA, "all-0")); !os.IsNotExist(err) {
		t.Errorf("%s still holds all-0 after the move (stat: %v)", dirA, err)
	}
}
