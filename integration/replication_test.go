package integration

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/kmsgfix"
	"samsa/internal/testbroker"
)

// The replication tests start three in-process brokers (ids 1, 2, 3) and
// play the ZooKeeper controller's part themselves: they send
// LeaderAndIsr and StopReplica with kmsg and answer the leaders'
// AlterPartition requests on a listener of their own (controller id 100).

const controllerID = 100

// replRequest sends one request over a fresh connection and decodes the
// answer: the inter-broker requests are not advertised by a single node,
// so clients that check ApiVersions would not send them.
func replRequest(t *testing.T, addr string, req kmsg.Request) kmsg.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("replication-test"))
	// StopReplica v4 in Kafka 3.9's field order, as a Kafka controller
	// sends it.
	if _, err := c.Write(f.AppendRequest(nil, kmsgfix.Request(req), 1)); err != nil {
		t.Fatal(err)
	}
	var sz [4]byte
	if _, err := io.ReadFull(c, sz[:]); err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	body := make([]byte, binary.BigEndian.Uint32(sz[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	body = body[4:] // correlation id
	resp := req.ResponseKind()
	if resp.IsFlexible() {
		body = body[1:] // empty header tags
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decode %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// fakeController answers AlterPartition as Kafka's ZooKeeper controller
// does when it accepts the change: the proposed ISR with the partition
// epoch (ZooKeeper version) plus one.
type fakeController struct {
	ln net.Listener
	mu sync.Mutex
	// isr is the last ISR accepted, by "topic-partition".
	isr    map[string][]int32
	epochs map[string]int32
}

func startFakeController(t *testing.T) *fakeController {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeController{ln: ln, isr: map[string][]int32{}, epochs: map[string]int32{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go fc.serve(c)
		}
	}()
	return fc
}

func (fc *fakeController) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		var sz [4]byte
		if _, err := io.ReadFull(r, sz[:]); err != nil {
			return
		}
		b := make([]byte, binary.BigEndian.Uint32(sz[:]))
		if _, err := io.ReadFull(r, b); err != nil || len(b) < 10 {
			return
		}
		key, version := int16(binary.BigEndian.Uint16(b)), int16(binary.BigEndian.Uint16(b[2:]))
		corr := b[4:8]
		n := int16(binary.BigEndian.Uint16(b[8:]))
		b = b[10+max(int(n), 0):]
		if key != 56 || len(b) < 1 {
			return
		}
		b = b[1:] // header tags (none)
		req := kmsg.NewPtrAlterPartitionRequest()
		req.Version = version
		if err := req.ReadFrom(b); err != nil {
			return
		}
		resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
		fc.mu.Lock()
		for _, rt := range req.Topics {
			st := kmsg.NewAlterPartitionResponseTopic()
			st.Topic, st.TopidID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewAlterPartitionResponseTopicPartition()
				sp.Partition, sp.LeaderID, sp.LeaderEpoch = rp.Partition, req.BrokerID, rp.LeaderEpoch
				for _, e := range rp.NewEpochISR {
					sp.ISR = append(sp.ISR, e.BrokerID)
				}
				if req.Version < 3 {
					sp.ISR = rp.NewISR
				}
				sp.PartitionEpoch = rp.PartitionEpoch + 1
				k := fmt.Sprintf("%x-%d", rt.TopicID, rp.Partition)
				fc.isr[k], fc.epochs[k] = sp.ISR, sp.PartitionEpoch
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		fc.mu.Unlock()
		out := append([]byte{0, 0, 0, 0}, corr...)
		out = append(out, 0) // header tags
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// cluster is three brokers and the test's controller.
type cluster struct {
	t       *testing.T
	brokers map[int32]*testbroker.Broker
	ctrl    *fakeController
	live    []kmsg.LeaderAndISRRequestLiveLeader
	topicID [16]byte
	epoch   int32 // controller epoch
}

func startCluster(t *testing.T, topic string, topicConfigs map[string]*string, overrides ...string) *cluster {
	c := &cluster{t: t, brokers: map[int32]*testbroker.Broker{}, ctrl: startFakeController(t), topicID: [16]byte{0xab, 1}, epoch: 1}
	for id := int32(1); id <= 3; id++ {
		b := testbroker.Start(t, testbroker.InProcess, append([]string{"broker.id=" + strconv.Itoa(int(id)),
			"replica.fetch.wait.max.ms=100", "replica.fetch.backoff.ms=50", "log.cleaner.enable=false",
			"samsa.controller.requests.enable=true"}, overrides...)...)
		c.brokers[id] = b
		// Each broker's own single-node metadata knows the topic; the
		// test's LeaderAndIsr decides who leads.
		if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 1, 1, topicConfigs, topic); err != nil {
			t.Fatal(err)
		}
		host, port, _ := net.SplitHostPort(b.Addr())
		p, _ := strconv.Atoi(port)
		l := kmsg.NewLeaderAndISRRequestLiveLeader()
		l.BrokerID, l.Host, l.Port = id, host, int32(p)
		c.live = append(c.live, l)
	}
	host, port, _ := net.SplitHostPort(c.ctrl.ln.Addr().String())
	p, _ := strconv.Atoi(port)
	l := kmsg.NewLeaderAndISRRequestLiveLeader()
	l.BrokerID, l.Host, l.Port = controllerID, host, int32(p)
	c.live = append(c.live, l)
	return c
}

// leaderAndIsr sends the partition state to the given brokers, as the
// controller does after an election, and fails on any error.
func (c *cluster) leaderAndIsr(topic string, leader, leaderEpoch int32, isr, replicas []int32, zkVersion int32, to ...int32) {
	c.t.Helper()
	for _, id := range to {
		req := kmsg.NewPtrLeaderAndISRRequest()
		req.Version = 7
		req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = controllerID, c.epoch, -1
		req.LiveLeaders = c.live
		ts := kmsg.NewLeaderAndISRRequestTopicState()
		ts.Topic, ts.TopicID = topic, c.topicID
		ps := kmsg.NewLeaderAndISRRequestTopicPartition()
		ps.ControllerEpoch, ps.Leader, ps.LeaderEpoch = c.epoch, leader, leaderEpoch
		ps.ISR, ps.Replicas, ps.ZKVersion = isr, replicas, zkVersion
		ts.PartitionStates = []kmsg.LeaderAndISRRequestTopicPartition{ps}
		req.TopicStates = []kmsg.LeaderAndISRRequestTopicState{ts}
		resp := replRequest(c.t, c.brokers[id].Addr(), req).(*kmsg.LeaderAndISRResponse)
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			c.t.Fatalf("LeaderAndIsr to %d: %+v", id, resp)
		}
	}
}

func (c *cluster) stopReplica(topic string, leaderEpoch int32, to int32) {
	c.t.Helper()
	req := kmsg.NewPtrStopReplicaRequest()
	req.Version = 4
	req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = controllerID, c.epoch, -1
	st := kmsg.NewStopReplicaRequestTopic()
	st.Topic = topic
	ps := kmsg.NewStopReplicaRequestTopicPartitionState()
	ps.Partition, ps.LeaderEpoch = 0, leaderEpoch
	st.PartitionStates = []kmsg.StopReplicaRequestTopicPartitionState{ps}
	req.Topics = []kmsg.StopReplicaRequestTopic{st}
	resp := replRequest(c.t, c.brokers[to].Addr(), req).(*kmsg.StopReplicaResponse)
	if resp.ErrorCode != 0 || resp.Partitions[0].ErrorCode != 0 {
		c.t.Fatalf("StopReplica to %d: %+v", to, resp)
	}
}

// produceRaw sends one batch of n records to broker id with acks and a
// timeout and returns the partition's answer.
func (c *cluster) produceRaw(id int32, topic string, acks int16, timeoutMs int32, n int) kmsg.ProduceResponseTopicPartition {
	c.t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version = 11
	req.Acks, req.TimeoutMillis = acks, timeoutMs
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = recordBatch(n)
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{rp}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	resp := replRequest(c.t, c.brokers[id].Addr(), req).(*kmsg.ProduceResponse)
	return resp.Topics[0].Partitions[0]
}

// recordBatch is a v2 batch of n small records without a producer id.
func recordBatch(n int) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte("v" + strconv.Itoa(i))}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		FirstOffset: 0, Magic: 2, LastOffsetDelta: int32(n - 1),
		FirstTimestamp: time.Now().UnixMilli(), MaxTimestamp: time.Now().UnixMilli(),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(n), Records: recs,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// consumerFetch is a consumer's Fetch (replica id -1) of partition 0 from
// offset at broker id.
func (c *cluster) consumerFetch(id int32, topic string, offset int64) kmsg.FetchResponseTopicPartition {
	c.t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID = -1
	req.MaxBytes, req.SessionEpoch = 1<<20, -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = offset, 1<<20, -1
	ft.Partitions = []kmsg.FetchRequestTopicPartition{fp}
	req.Topics = []kmsg.FetchRequestTopic{ft}
	return replRequest(c.t, c.brokers[id].Addr(), req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
}

// lastOffsetOf is one past the last record in batches (-1: none).
func lastOffsetOf(batches []byte) int64 {
	end := int64(-1)
	for len(batches) >= 61 {
		n := int(binary.BigEndian.Uint32(batches[8:])) + 12
		if n > len(batches) {
			break
		}
		end = int64(binary.BigEndian.Uint64(batches)) + int64(binary.BigEndian.Uint32(batches[23:])) + 1
		batches = batches[n:]
	}
	return end
}

// logBytes reads a partition's whole log on broker id.
func (c *cluster) logBytes(id int32, topic string) []byte {
	c.t.Helper()
	p := c.brokers[id].Partition(topic, 0)
	var out []byte
	for off := p.LogStartOffset(); off < p.LogEndOffset(); {
		res, err := p.ReadReplica(off, 1<<20)
		if err != nil {
			c.t.Fatal(err)
		}
		out = append(out, res.Batches...)
		next := lastOffsetOf(res.Batches)
		res.Release()
		if next <= off {
			break
		}
		off = next
	}
	return out
}

func TestReplicationAcksAllHighWatermarkAndLeaderChange(t *testing.T) {
	const topic = "repl"
	two := "2"
	c := startCluster(t, topic, map[string]*string{"min.insync.replicas": &two})
	all := []int32{1, 2, 3}
	c.leaderAndIsr(topic, 1, 1, all, all, 0, 1, 2, 3)

	// An acks=all idempotent producer: every acknowledgement comes after
	// both followers have the record.
	cl := newClient(t, c.brokers[1].Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	for i := 0; i < 20; i++ {
		r, err := cl.ProduceSync(ctxT(t), kgo.StringRecord("r"+strconv.Itoa(i))).First()
		if err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		for _, f := range []int32{2, 3} {
			if leo := c.brokers[f].Partition(topic, 0).LogEndOffset(); leo <= r.Offset {
				t.Fatalf("record at %d acknowledged while follower %d's log ends at %d", r.Offset, f, leo)
			}
		}
	}
	hw := c.brokers[1].Partition(topic, 0).HighWatermark()
	if hw != 20 {
		t.Fatalf("leader high watermark %d, want 20", hw)
	}

	// Followers stop (StopReplica without delete): acks=1 writes land on
	// the leader only, and consumers do not see them.
	c.stopReplica(topic, -1, 2)
	c.stopReplica(topic, -1, 3)
	if sp := c.produceRaw(1, topic, 1, 5000, 3); sp.ErrorCode != 0 || sp.BaseOffset != 20 {
		t.Fatalf("acks=1 produce: %+v", sp)
	}
	fr := c.consumerFetch(1, topic, 0)
	if fr.ErrorCode != 0 || fr.HighWatermark != 20 || lastOffsetOf(fr.RecordBatches) != 20 {
		t.Fatalf("consumer fetch: error %d, hw %d, records up to %d; want hw 20 and nothing above it", fr.ErrorCode, fr.HighWatermark, lastOffsetOf(fr.RecordBatches))
	}
	if fr := c.consumerFetch(1, topic, 20); fr.ErrorCode != 0 || len(fr.RecordBatches) != 0 {
		t.Fatalf("consumer fetch at the high watermark: error %d, %d bytes", fr.ErrorCode, len(fr.RecordBatches))
	}
	// acks=all cannot complete while the followers are away: the request
	// timeout answers it.
	start := time.Now()
	if sp := c.produceRaw(1, topic, -1, 300, 1); sp.ErrorCode != kerr.RequestTimedOut.Code {
		t.Fatalf("acks=all without followers: %+v", sp)
	} else if time.Since(start) < 300*time.Millisecond {
		t.Fatalf("acks=all answered after %v, before its timeout", time.Since(start))
	}

	// The controller elects broker 2 (epoch 2, ISR 2 and 3, both of which
	// stopped at 20): broker 1's tail past 20 has diverged.
	c.leaderAndIsr(topic, 2, 2, []int32{2, 3}, all, 1, 2, 3)
	c.leaderAndIsr(topic, 2, 2, []int32{2, 3}, all, 1, 1)
	// The deposed leader refuses writes at once, naming the new leader
	// (KIP-951).
	sp := c.produceRaw(1, topic, 1, 5000, 1)
	if sp.ErrorCode != kerr.NotLeaderForPartition.Code || sp.CurrentLeader.LeaderID != 2 || sp.CurrentLeader.LeaderEpoch != 2 {
		t.Fatalf("produce at the deposed leader: %+v", sp)
	}
	// The deposed leader, now a follower, serves consumers' Fetch v11+
	// (KIP-392: Kafka's fetchOnlyLeader is false once a fetch carries
	// client metadata) and refuses older versions.
	if fr := c.consumerFetch(1, topic, 0); fr.ErrorCode != 0 {
		t.Fatalf("fetch v12 at the deposed leader: error %d", fr.ErrorCode)
	}
	{
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.MaxBytes = 10, -1, 1<<20
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = topic
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 1<<20, -1
		ft.Partitions = []kmsg.FetchRequestTopicPartition{fp}
		req.Topics = []kmsg.FetchRequestTopic{ft}
		if code := replRequest(t, c.brokers[1].Addr(), req).(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
			t.Fatalf("fetch v10 at the deposed leader answered %d, want NOT_LEADER_OR_FOLLOWER", code)
		}
	}
	// Epochs newer than the leader's are unknown to it (ListOffsets and
	// OffsetForLeaderEpoch check CurrentLeaderEpoch too).
	{
		lo := kmsg.NewPtrListOffsetsRequest()
		lo.Version, lo.ReplicaID = 9, -1
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = topic
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.CurrentLeaderEpoch, lp.Timestamp = 3, -1
		lt.Partitions = []kmsg.ListOffsetsRequestTopicPartition{lp}
		lo.Topics = []kmsg.ListOffsetsRequestTopic{lt}
		if code := replRequest(t, c.brokers[2].Addr(), lo).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownLeaderEpoch.Code {
			t.Fatalf("ListOffsets with a future leader epoch answered %d", code)
		}
		oe := kmsg.NewPtrOffsetForLeaderEpochRequest()
		oe.Version, oe.ReplicaID = 4, -1
		ot := kmsg.NewOffsetForLeaderEpochRequestTopic()
		ot.Topic = topic
		op := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		op.CurrentLeaderEpoch, op.LeaderEpoch = 1, 1
		ot.Partitions = []kmsg.OffsetForLeaderEpochRequestTopicPartition{op}
		oe.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{ot}
		if code := replRequest(t, c.brokers[2].Addr(), oe).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.FencedLeaderEpoch.Code {
			t.Fatalf("OffsetForLeaderEpoch with an old leader epoch answered %d", code)
		}
		op.CurrentLeaderEpoch = 2
		ot.Partitions = []kmsg.OffsetForLeaderEpochRequestTopicPartition{op}
		oe.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{ot}
		sp := replRequest(t, c.brokers[2].Addr(), oe).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
		if sp.ErrorCode != 0 || sp.LeaderEpoch != 1 || sp.EndOffset != 20 {
			t.Fatalf("OffsetForLeaderEpoch(1) at the new leader: %+v; want epoch 1 ending at 20", sp)
		}
	}
	// A fetch in the old epoch is fenced.
	{
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.MaxBytes, req.SessionEpoch = 12, -1, 1<<20, -1
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = topic
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 1<<20, 1
		ft.Partitions = []kmsg.FetchRequestTopicPartition{fp}
		req.Topics = []kmsg.FetchRequestTopic{ft}
		if code := replRequest(t, c.brokers[2].Addr(), req).(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.FencedLeaderEpoch.Code {
			t.Fatalf("fetch with an old leader epoch answered %d", code)
		}
	}
	// Broker 1, now a follower, truncates its diverged tail through
	// OffsetForLeaderEpoch and then copies broker 2's log.
	// Not idempotent: each broker's single-node metadata hands out
	// producer ids on its own, so broker 2 would give this client the id
	// the first producer had (whose state it replicated). A cluster
	// controller allocates producer id blocks cluster-wide.
	cl2 := newClient(t, c.brokers[2].Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0), kgo.DisableIdempotentWrite())
	for i := 0; i < 5; i++ {
		if _, err := cl2.ProduceSync(ctxT(t), kgo.StringRecord("s"+strconv.Itoa(i))).First(); err != nil {
			t.Fatalf("produce to the new leader: %v", err)
		}
	}
	waitFor(t, "broker 1 to catch up with broker 2", 15*time.Second, func() bool {
		return c.brokers[1].Partition(topic, 0).LogEndOffset() == c.brokers[2].Partition(topic, 0).LogEndOffset()
	})
	l1, l2 := c.logBytes(1, topic), c.logBytes(2, topic)
	if !bytes.Equal(l1, l2) {
		t.Fatalf("broker 1's log (%d bytes) differs from the leader's (%d bytes)", len(l1), len(l2))
	}
	if leo := c.brokers[2].Partition(topic, 0).LogEndOffset(); leo != 25 {
		t.Fatalf("leader log end %d, want 20 + 5", leo)
	}
	epochs, err := c.brokers[1].Partition(topic, 0).LeaderEpochs()
	if err != nil || len(epochs) != 2 || epochs[1].Epoch != 2 || epochs[1].StartOffset != 20 {
		t.Fatalf("broker 1 leader epochs %v, %v", epochs, err)
	}
	// The ISR expands with broker 1 once it caught up, through the
	// controller's AlterPartition answer.
	waitFor(t, "ISR [1 2 3]", 15*time.Second, func() bool {
		return reflect.DeepEqual(c.brokers[2].Replicas().Get(topic, 0).State().ISR, []int32{1, 2, 3})
	})
}

func TestReplicationISRShrinkAndNotEnoughReplicas(t *testing.T) {
	const topic = "shrink"
	three := "3"
	c := startCluster(t, topic, map[string]*string{"min.insync.replicas": &three}, "replica.lag.time.max.ms=600")
	all := []int32{1, 2, 3}
	c.leaderAndIsr(topic, 1, 1, all, all, 0, 1, 2, 3)
	if sp := c.produceRaw(1, topic, -1, 5000, 2); sp.ErrorCode != 0 {
		t.Fatalf("acks=all with the full ISR: %+v", sp)
	}
	// Follower 3 stops; after replica.lag.time.max.ms the leader drops it
	// from the ISR (AlterPartition, accepted by the controller).
	c.stopReplica(topic, -1, 3)
	if sp := c.produceRaw(1, topic, 1, 5000, 1); sp.ErrorCode != 0 {
		t.Fatalf("acks=1: %+v", sp)
	}
	leader := c.brokers[1].Replicas().Get(topic, 0)
	waitFor(t, "ISR shrink to [1 2]", 15*time.Second, func() bool { return reflect.DeepEqual(leader.State().ISR, []int32{1, 2}) })
	if st := leader.State(); st.PartitionEpoch != 1 {
		t.Fatalf("partition epoch %d after the controller's answer, want 1", st.PartitionEpoch)
	}
	// ISR 2 < min.insync.replicas 3: acks=all refused before the append,
	// acks=1 still works.
	if sp := c.produceRaw(1, topic, -1, 5000, 1); sp.ErrorCode != kerr.NotEnoughReplicas.Code {
		t.Fatalf("acks=all below min ISR: %+v", sp)
	}
	before := c.brokers[1].Partition(topic, 0).LogEndOffset()
	if sp := c.produceRaw(1, topic, 1, 5000, 1); sp.ErrorCode != 0 || sp.BaseOffset != before {
		t.Fatalf("acks=1 below min ISR: %+v", sp)
	}
	// Broker 3 restarts and comes back as follower (the controller sends
	// it the current state); it catches up and rejoins.
	c.brokers[3].Restart()
	c.leaderAndIsr(topic, 1, 1, []int32{1, 2}, all, 1, 3)
	waitFor(t, "ISR back to [1 2 3]", 15*time.Second, func() bool { return reflect.DeepEqual(leader.State().ISR, []int32{1, 2, 3}) })
	if sp := c.produceRaw(1, topic, -1, 5000, 1); sp.ErrorCode != 0 {
		t.Fatalf("acks=all after the ISR healed: %+v", sp)
	}
	if got := c.brokers[3].Partition(topic, 0).LogEndOffset(); got != c.brokers[1].Partition(topic, 0).LogEndOffset() {
		t.Fatalf("follower 3 at %d", got)
	}
	// A request from an older controller epoch is refused whole.
	c.epoch = 0
	req := kmsg.NewPtrLeaderAndISRRequest()
	req.Version, req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = 7, controllerID, 0, -1
	if code := replRequest(t, c.brokers[3].Addr(), req).(*kmsg.LeaderAndISRResponse).ErrorCode; code != kerr.StaleControllerEpoch.Code {
		t.Fatalf("LeaderAndIsr from a stale controller answered %d", code)
	}
	// StopReplica with delete removes the follower's log.
	c.epoch = 1
	sr := kmsg.NewPtrStopReplicaRequest()
	sr.Version, sr.ControllerID, sr.ControllerEpoch, sr.BrokerEpoch = 4, controllerID, 1, -1
	st := kmsg.NewStopReplicaRequestTopic()
	st.Topic = topic
	ps := kmsg.NewStopReplicaRequestTopicPartitionState()
	ps.Partition, ps.LeaderEpoch, ps.Delete = 0, -2, true
	st.PartitionStates = []kmsg.StopReplicaRequestTopicPartitionState{ps}
	sr.Topics = []kmsg.StopReplicaRequestTopic{st}
	if resp := replRequest(t, c.brokers[3].Addr(), sr).(*kmsg.StopReplicaResponse); resp.ErrorCode != 0 || resp.Partitions[0].ErrorCode != 0 {
		t.Fatalf("StopReplica delete: %+v", resp)
	}
	if _, err := os.Stat(filepath.Join(c.brokers[3].DataDir(), topic+"-0")); !os.IsNotExist(err) {
		t.Fatalf("log dir after StopReplica delete: %v", err)
	}
	if c.brokers[3].Replicas().Get(topic, 0) != nil {
		t.Fatal("replica still managed after StopReplica")
	}
}

func TestReplicationHighWatermarkCheckpointSurvivesRestart(t *testing.T) {
	const topic = "hwck"
	c := startCluster(t, topic, nil)
	all := []int32{1, 2, 3}
	c.leaderAndIsr(topic, 1, 1, all, all, 0, 1, 2, 3)
	if sp := c.produceRaw(1, topic, -1, 5000, 5); sp.ErrorCode != 0 {
		t.Fatalf("acks=all: %+v", sp)
	}
	c.stopReplica(topic, -1, 2)
	c.stopReplica(topic, -1, 3)
	if sp := c.produceRaw(1, topic, 1, 5000, 3); sp.ErrorCode != 0 {
		t.Fatalf("acks=1: %+v", sp)
	}
	// The restarted leader takes its high watermark from
	// replication-offset-checkpoint: the 3 records only it has stay
	// invisible to consumers.
	c.brokers[1].Restart()
	c.leaderAndIsr(topic, 1, 2, all, all, 1, 1)
	fr := c.consumerFetch(1, topic, 0)
	if fr.ErrorCode != 0 || fr.HighWatermark != 5 || lastOffsetOf(fr.RecordBatches) != 5 {
		t.Fatalf("after restart: error %d, hw %d, records up to %d; want hw 5", fr.ErrorCode, fr.HighWatermark, lastOffsetOf(fr.RecordBatches))
	}
	if leo := c.brokers[1].Partition(topic, 0).LogEndOffset(); leo != 8 {
		t.Fatalf("log end %d after restart, want 8", leo)
	}
}

// TestControllerRequestsRefusedOnSingleNode: without zookeeper.connect (or
// the test key) a broker closes the connection on LeaderAndIsr, as before
// replication existed, so no client can reassign or delete its logs.
func TestControllerRequestsRefusedOnSingleNode(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	c, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := kmsg.NewPtrStopReplicaRequest()
	req.Version = 4
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("t"))
	if _, err := c.Write(f.AppendRequest(nil, req, 1)); err != nil {
		t.Fatal(err)
	}
	var b1 [1]byte
	if n, err := c.Read(b1[:]); err == nil || n != 0 {
		t.Fatalf("StopReplica answered on a single node (%d bytes, %v)", n, err)
	}
}

// TestOffsetForLeaderEpochSingleNode: a single node answers from its
// leader-epoch cache exactly what it answered before replication (and
// what Kafka answers, see conformance TestOffsetForLeaderEpoch).
func TestOffsetForLeaderEpochSingleNode(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 1, 1, nil, "ofle"); err != nil {
		t.Fatal(err)
	}
	ask := func(epoch int32) (int32, int64) {
		t.Helper()
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.Version, req.ReplicaID = 4, -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "ofle"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.LeaderEpoch, rp.CurrentLeaderEpoch = epoch, -1
		rt.Partitions = []kmsg.OffsetForLeaderEpochRequestTopicPartition{rp}
		req.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{rt}
		sp := replRequest(t, b.Addr(), req).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
		if sp.ErrorCode != 0 {
			t.Fatalf("epoch %d: error %d", epoch, sp.ErrorCode)
		}
		return sp.LeaderEpoch, sp.EndOffset
	}
	for _, c := range []struct {
		req, epoch int32
		end        int64
	}{{-1, -1, -1}, {0, 0, 0}, {1, -1, -1}} {
		if e, end := ask(c.req); e != c.epoch || end != c.end {
			t.Fatalf("empty log, epoch %d: (%d, %d), want (%d, %d)", c.req, e, end, c.epoch, c.end)
		}
	}
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("ofle"))
	if err := cl.ProduceSync(ctxT(t), kgo.StringRecord("a"), kgo.StringRecord("b")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		req, epoch int32
		end        int64
	}{{0, 0, 2}, {1, -1, -1}, {5, -1, -1}, {-1, -1, -1}} {
		if e, end := ask(c.req); e != c.epoch || end != c.end {
			t.Fatalf("epoch %d: (%d, %d), want (%d, %d)", c.req, e, end, c.epoch, c.end)
		}
	}
}
