package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/faultproxy"
	"samsa/internal/testbroker"
	"samsa/internal/zktest"
)

// The fault-schedule tests run a real ZooKeeper and three Samsa binaries
// with a faultproxy in front of every broker listener and of ZooKeeper.
// Each broker advertises its proxy's address, so clients, replica
// fetchers, AlterPartition and the controller's requests all go through
// the proxies, and a test can kill -9, SIGSTOP/SIGCONT and restart a
// broker or cut the link between two brokers, or a broker and ZooKeeper
// (endpoint 0).

const (
	faultSessionMs = 3000 // zookeeper.session.timeout.ms
	faultLagMs     = 2500 // replica.lag.time.max.ms
	zkEndpoint     = 0
)

type faultCluster struct {
	*zkCluster
	net     *faultproxy.Net
	proxies map[int32]*faultproxy.Proxy
	pids    [4]atomic.Int64
}

func startFaultCluster(t *testing.T, extra ...string) *faultCluster {
	t.Helper()
	began := time.Now()
	t.Cleanup(func() { t.Logf("cluster lived %v", time.Since(began).Round(time.Millisecond)) })
	zs := zktest.Start(t)
	t.Logf("zookeeper started in %v", time.Since(began).Round(time.Millisecond))
	fc := &faultCluster{
		zkCluster: &zkCluster{t: t, zk: zs, brokers: map[int32]*testbroker.Broker{}, paused: map[int32]bool{}},
		proxies:   map[int32]*faultproxy.Proxy{},
	}
	fc.net = &faultproxy.Net{IDs: []int{1, 2, 3}, Pid: func(id int) int { return int(fc.pids[id].Load()) }}
	t.Cleanup(fc.net.Close)
	zp, err := fc.net.Add(zkEndpoint, zs.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ports := map[int32]int{}
	for id := int32(1); id <= 3; id++ {
		ports[id] = testbroker.FreePort(t)
		p, err := fc.net.Add(int(id), "127.0.0.1:"+strconv.Itoa(ports[id]))
		if err != nil {
			t.Fatal(err)
		}
		fc.proxies[id] = p
	}
	for id := int32(1); id <= 3; id++ {
		args := append([]string{
			"zookeeper.connect=" + zp.Addr() + "/kafka",
			"broker.id=" + strconv.Itoa(int(id)),
			"advertised.listeners=PLAINTEXT://" + fc.proxies[id].Addr(),
			"zookeeper.session.timeout.ms=" + strconv.Itoa(faultSessionMs),
			"replica.lag.time.max.ms=" + strconv.Itoa(faultLagMs),
			"replica.fetch.backoff.ms=200",
			"replica.fetch.wait.max.ms=200",
			"group.initial.rebalance.delay.ms=0",
			"offsets.topic.num.partitions=3",
		}, extra...)
		fc.brokers[id] = testbroker.StartOnPort(t, testbroker.Binary, ports[id], args...)
		fc.pids[id].Store(int64(fc.brokers[id].Pid()))
	}
	// A paused broker would ignore the SIGTERM of the brokers' cleanup.
	t.Cleanup(func() {
		fc.net.HealAll() // a broker cut from ZooKeeper would stop slowly
		for id := range fc.paused {
			fc.brokers[id].Signal(syscall.SIGCONT)
		}
		for id := int32(3); id >= 1; id-- {
			start := time.Now()
			fc.brokers[id].Stop()
			t.Logf("broker %d stopped in %v", id, time.Since(start).Round(time.Millisecond))
		}
	})
	conn, _, err := zk.Connect([]string{zs.Addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	fc.conn = conn
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("SAMSA_FAULT_LOGS") != "" {
			if os.Getenv("SAMSA_FAULT_DUMP") != "" {
				// Goroutine dumps (the Go runtime's answer to SIGQUIT).
				for id := int32(1); id <= 3; id++ {
					if fc.brokers[id].Alive() {
						fc.brokers[id].Signal(syscall.SIGCONT)
						fc.brokers[id].Signal(syscall.SIGQUIT)
						<-fc.brokers[id].Exited()
						fc.pids[id].Store(0)
					}
				}
			}
			for id := int32(1); id <= 3; id++ {
				t.Logf("broker %d output:\n%s", id, fc.brokers[id].Output())
			}
		}
	})
	fc.waitAgree("cluster formed", 30*time.Second, func(m *kmsg.MetadataResponse) bool {
		return len(m.Brokers) == 3 && m.ControllerID > 0
	})
	return fc
}

func (fc *faultCluster) seeds() []string {
	var s []string
	for id := int32(1); id <= 3; id++ {
		s = append(s, fc.proxies[id].Addr())
	}
	return s
}

func (fc *faultCluster) kill(id int32) {
	fc.brokers[id].Kill()
	fc.pids[id].Store(0)
}

func (fc *faultCluster) restart(id int32) {
	fc.brokers[id].Restart()
	fc.pids[id].Store(int64(fc.brokers[id].Pid()))
}

func (fc *faultCluster) pause(id int32) {
	if err := fc.brokers[id].Signal(syscall.SIGSTOP); err != nil {
		fc.t.Fatal(err)
	}
	fc.paused[id] = true
	// SIGSTOP is delivered asynchronously: wait until every thread of the
	// process is stopped (state T in /proc/<pid>/stat).
	stat := fmt.Sprintf("/proc/%d/stat", fc.brokers[id].Pid())
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(stat)
		if err != nil {
			fc.t.Fatalf("reading %s: %v", stat, err)
		}
		if f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:])); len(f) > 0 && f[0] == "T" {
			return
		}
		if time.Now().After(deadline) {
			fc.t.Fatalf("broker %d not stopped 5s after SIGSTOP: %s", id, data)
		}
		time.Sleep(time.Millisecond)
	}
}

func (fc *faultCluster) resume(id int32) {
	if err := fc.brokers[id].Signal(syscall.SIGCONT); err != nil {
		fc.t.Fatal(err)
	}
	delete(fc.paused, id)
}

// createTopic creates topic with rf replicas and min.insync.replicas=2 and
// waits until every partition has a leader and a full ISR everywhere.
func (fc *faultCluster) createTopic(topic string, partitions int32, rf int16) *kmsg.MetadataResponse {
	fc.t.Helper()
	adm := kadm.NewClient(newClient(fc.t, fc.seeds()[0], kgo.SeedBrokers(fc.seeds()...)))
	minISR := "2"
	res, err := adm.CreateTopic(ctxT(fc.t), partitions, rf, map[string]*string{"min.insync.replicas": &minISR}, topic)
	if err != nil || res.Err != nil {
		fc.t.Fatalf("create topic %s: %v %v", topic, err, res.Err)
	}
	return fc.waitFullISR(topic, partitions, int(rf), 20*time.Second)
}

func (fc *faultCluster) waitFullISR(topic string, partitions int32, rf int, timeout time.Duration) *kmsg.MetadataResponse {
	fc.t.Helper()
	return fc.waitAgree(topic+" fully replicated", timeout, func(m *kmsg.MetadataResponse) bool {
		for p := int32(0); p < partitions; p++ {
			mp := partitionOf(m, topic, p)
			if mp.Leader < 0 || len(mp.ISR) != rf || len(mp.Replicas) != rf {
				return false
			}
		}
		return true
	})
}

// rawConn is one Kafka connection for requests the test must see exactly
// as the broker answers them (no client retries).
type rawConn struct {
	c    net.Conn
	corr int32
}

func dialRawConn(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c}
}

func (r *rawConn) send(req kmsg.Request) error {
	r.corr++
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fault-test"))
	_, err := r.c.Write(f.AppendRequest(nil, req, r.corr))
	return err
}

func (r *rawConn) recv(req kmsg.Request, timeout time.Duration) (kmsg.Response, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	var sz [4]byte
	if _, err := io.ReadFull(r.c, sz[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(sz[:]))
	if _, err := io.ReadFull(r.c, body); err != nil {
		return nil, err
	}
	body = body[4:]
	resp := req.ResponseKind()
	if resp.IsFlexible() {
		body = body[1:]
	}
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body); err != nil {
		return nil, err
	}
	return resp, nil
}

// produceRaw sends one batch of n records with values "<tag>-<i>" to
// topic-partition and returns the partition's answer.
func produceReq(topic string, partition int32, acks int16, timeoutMs int32, tag string, n int) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, acks, timeoutMs
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batchOf(tag, n)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func batchOf(tag string, n int) []byte {
	rb := kmsg.RecordBatch{Magic: 2, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		LastOffsetDelta: int32(n - 1), NumRecords: int32(n), FirstTimestamp: time.Now().UnixMilli(), MaxTimestamp: time.Now().UnixMilli()}
	var recs []byte
	for i := 0; i < n; i++ {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(fmt.Sprintf("%s-%d", tag, i))}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	rb.Records = recs
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

func produceOnce(t *testing.T, addr string, req *kmsg.ProduceRequest) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	rc := dialRawConn(t, addr)
	if err := rc.send(req); err != nil {
		t.Fatal(err)
	}
	resp, err := rc.recv(req, 20*time.Second)
	if err != nil {
		t.Fatalf("produce to %s: %v", addr, err)
	}
	return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
}

// diskBatch is one record batch as a broker's segment files hold it.
type diskBatch struct {
	base, last int64
	epoch      int32
	raw        []byte
}

// diskLog reads the batches of topic-partition from broker id's segment
// files (Kafka's on-disk layout: <log.dir>/<topic>-<partition>/*.log).
func (fc *faultCluster) diskLog(id int32, topic string, p int32) []diskBatch {
	fc.t.Helper()
	dir := filepath.Join(fc.brokers[id].DataDir(), fmt.Sprintf("%s-%d", topic, p))
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	sort.Strings(files)
	var out []diskBatch
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fc.t.Fatal(err)
		}
		for len(data) >= 61 {
			n := int(binary.BigEndian.Uint32(data[8:])) + 12
			if n < 61 || n > len(data) {
				break
			}
			base := int64(binary.BigEndian.Uint64(data))
			out = append(out, diskBatch{base: base, last: base + int64(binary.BigEndian.Uint32(data[23:])),
				epoch: int32(binary.BigEndian.Uint32(data[12:])), raw: data[:n]})
			data = data[n:]
		}
	}
	return out
}

// upTo keeps the batches that end below hw.
func upTo(bs []diskBatch, hw int64) []diskBatch {
	var out []diskBatch
	for _, b := range bs {
		if b.last < hw {
			out = append(out, b)
		}
	}
	return out
}

// checkLogsAgree checks that every replica of topic-partition holds the
// same batches, byte for byte, below the leader's high watermark.
func (fc *faultCluster) checkLogsAgree(topic string, p int32, replicas []int32, hw int64) {
	fc.t.Helper()
	var ref []diskBatch
	var refID int32
	for i, id := range replicas {
		got := upTo(fc.diskLog(id, topic, p), hw)
		if len(got) > 0 && got[len(got)-1].last != hw-1 || len(got) == 0 && hw > 0 {
			fc.t.Errorf("%s-%d at broker %d: log below the high watermark %d ends at %v", topic, p, id, hw, lastOf(got))
		}
		if i == 0 {
			ref, refID = got, id
			continue
		}
		if len(got) != len(ref) {
			fc.t.Errorf("%s-%d: broker %d holds %d batches below hw %d, broker %d holds %d", topic, p, id, len(got), hw, refID, len(ref))
			continue
		}
		for j := range got {
			if !bytes.Equal(got[j].raw, ref[j].raw) {
				fc.t.Errorf("%s-%d: batch %d (offsets %d-%d epoch %d at broker %d, %d-%d epoch %d at broker %d) differs",
					topic, p, j, got[j].base, got[j].last, got[j].epoch, id, ref[j].base, ref[j].last, ref[j].epoch, refID)
				break
			}
		}
	}
}

func lastOf(bs []diskBatch) int64 {
	if len(bs) == 0 {
		return -1
	}
	return bs[len(bs)-1].last
}

// highWatermarks answers each partition's high watermark from its leader.
func (fc *faultCluster) highWatermarks(topic string) map[int32]int64 {
	fc.t.Helper()
	adm := kadm.NewClient(newClient(fc.t, fc.seeds()[0], kgo.SeedBrokers(fc.seeds()...)))
	ends, err := adm.ListEndOffsets(ctxT(fc.t), topic)
	if err != nil {
		fc.t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			fc.t.Fatalf("end offset of %s-%d: %v", o.Topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out
}

// consumeAll reads every partition of topic from its leader up to hws.
func (fc *faultCluster) consumeAll(topic string, hws map[int32]int64) map[int32][]*kgo.Record {
	fc.t.Helper()
	offs := map[int32]kgo.Offset{}
	for p := range hws {
		offs[p] = kgo.NewOffset().AtStart()
	}
	cl := newClient(fc.t, fc.seeds()[0], kgo.SeedBrokers(fc.seeds()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}))
	out := map[int32][]*kgo.Record{}
	done := func() bool {
		for p, hw := range hws {
			if n := len(out[p]); hw > 0 && (n == 0 || out[p][n-1].Offset < hw-1) {
				return false
			}
		}
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			fc.t.Fatalf("consuming %s: timed out; have %v of %v", topic, counts(out), hws)
		}
		fs.EachError(func(t string, p int32, err error) { fc.t.Logf("fetch %s-%d: %v", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) { out[r.Partition] = append(out[r.Partition], r) })
	}
	return out
}

func counts(m map[int32][]*kgo.Record) map[int32]int {
	c := map[int32]int{}
	for p, rs := range m {
		c[p] = len(rs)
	}
	return c
}

// TestClusterKillLeaders: an idempotent acks=all producer writes to
// several partitions (replication factor 3, min.insync.replicas=2) while
// the leader of partition 0 is killed -9 and restarted, then its new
// leader, then the controller. Every acknowledged record must be in the
// log exactly once and in order, no produce error may reach the
// application, and all replicas must hold the same log up to the high
// watermark.
func TestClusterKillLeaders(t *testing.T) {
	killLeaders(t, []string{"leader", "new leader", "controller"}, false)
}

// TestClusterKillLeadersBackToBack is TestClusterKillLeaders without the
// pauses: each victim is restarted as soon as its successor acknowledges a
// write, and the next leader is killed before the restarted broker is
// back in the ISR, so the ISR goes below min.insync.replicas for a while
// (NOT_ENOUGH_REPLICAS, which the producer retries).
func TestClusterKillLeadersBackToBack(t *testing.T) {
	killLeaders(t, []string{"leader", "new leader", "controller", "leader"}, true)
}

func killLeaders(t *testing.T, picks []string, backToBack bool) {
	fc := startFaultCluster(t)
	const topic, parts = "kl", 4
	fc.createTopic(topic, parts, 3)

	cl := newClient(t, fc.seeds()[0], kgo.SeedBrokers(fc.seeds()...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(2*time.Millisecond),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RetryTimeout(60*time.Second), kgo.MaxBufferedRecords(2000),
		// As a Java client, look up a moved leader at once (kgo's default
		// waits 5 s between metadata refreshes).
		kgo.MetadataMinAge(250*time.Millisecond))

	type ack struct {
		seq int
		off int64
	}
	var (
		mu       sync.Mutex
		acked    = map[int32][]ack{}
		prodErrs []error
		lastAck  atomic.Int64 // unix nanos of the latest ack of partition 0
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := int32(0); p < parts; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("%d-%08d", p, seq))}
				seq := seq
				cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						prodErrs = append(prodErrs, fmt.Errorf("partition %d seq %d: %w", p, seq, err))
						return
					}
					acked[p] = append(acked[p], ack{seq, r.Offset})
					if p == 0 {
						lastAck.Store(time.Now().UnixNano())
					}
				})
				if seq%50 == 49 {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	ackedOf := func(p int32) int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked[p])
	}
	waitAcks := func(what string, p int32, more int) time.Duration {
		t.Helper()
		start := time.Now()
		n := ackedOf(p)
		for ackedOf(p) < n+more {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s: no acknowledged writes to %s-%d for 30s (%d errors: %v)", what, topic, p, len(prodErrs), prodErrs)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitAcks("start", 0, 200)

	// One victim at a time: the leader of partition 0, then its new
	// leader, then the controller.
	for round, pick := range picks {
		m := fc.waitAgree("metadata", 10*time.Second, func(m *kmsg.MetadataResponse) bool { return len(m.Brokers) == 3 })
		victim := partitionOf(m, topic, 0).Leader
		if pick == "controller" {
			victim = m.ControllerID
		}
		killed := time.Now()
		t.Logf("round %d: kill -9 broker %d at %s", round, victim, killed.UTC().Format("15:04:05.000"))
		fc.kill(victim)
		before := lastAck.Load()
		for lastAck.Load() == before || lastAck.Load() < killed.UnixNano() {
			if time.Since(killed) > 30*time.Second {
				t.Fatalf("round %d: no write to %s-0 acknowledged within 30s of killing broker %d", round, topic, victim)
			}
			time.Sleep(2 * time.Millisecond)
		}
		// The first ack after the kill may come from the old leader's
		// last in-flight answers only if it was not the leader of p0;
		// when it was, this is the failover time.
		t.Logf("round %d (%s): killed broker %d; first ack on %s-0 %v later", round, pick, victim, topic, time.Since(killed).Round(time.Millisecond))
		if backToBack {
			fc.restart(victim)
			continue
		}
		waitAcks("after kill", 0, 200)
		restarted := time.Now()
		fc.restart(victim)
		fc.waitAgree("restarted broker back in every ISR", 40*time.Second, func(m *kmsg.MetadataResponse) bool {
			if len(m.Brokers) != 3 {
				return false
			}
			for p := int32(0); p < parts; p++ {
				if !slices.Contains(partitionOf(m, topic, p).ISR, victim) {
					return false
				}
			}
			return true
		})
		t.Logf("round %d: broker %d back in the ISR of every partition %v after restart", round, victim, time.Since(restarted).Round(time.Millisecond))
	}
	waitAcks("end", 0, 200)
	close(stop)
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.Flush(fctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	mu.Lock()
	if len(prodErrs) > 0 {
		t.Fatalf("%d produce errors reached the application, first: %v", len(prodErrs), prodErrs[0])
	}
	mu.Unlock()

	m := fc.waitFullISR(topic, parts, 3, 30*time.Second)
	hws := fc.highWatermarks(topic)
	got := fc.consumeAll(topic, hws)
	for p := int32(0); p < parts; p++ {
		// Every acknowledged record once, at the offset it was
		// acknowledged with, in production order; nothing else.
		acks := acked[p]
		sort.Slice(acks, func(i, j int) bool { return acks[i].seq < acks[j].seq })
		recs := got[p]
		if int64(len(recs)) != hws[p] || len(recs) != len(acks) {
			t.Errorf("%s-%d: %d acknowledged, %d records read, high watermark %d", topic, p, len(acks), len(recs), hws[p])
		}
		for i := 0; i < len(acks) && i < len(recs); i++ {
			want := fmt.Sprintf("%d-%08d", p, acks[i].seq)
			if acks[i].seq != i || string(recs[i].Value) != want || recs[i].Offset != acks[i].off {
				t.Errorf("%s-%d: record %d is %q at offset %d; acknowledged seq %d at offset %d", topic, p, i, recs[i].Value, recs[i].Offset, acks[i].seq, acks[i].off)
				break
			}
		}
		fc.checkLogsAgree(topic, p, partitionOf(m, topic, p).Replicas, hws[p])
	}
}

// TestClusterPausedLeaderFenced: a leader paused (SIGSTOP) past its
// ZooKeeper session is replaced; acks=all writes that reached it while
// paused are never acknowledged after it resumes, and back as a follower
// it truncates what it appended at its old epoch.
func TestClusterPausedLeaderFenced(t *testing.T) {
	fc := startFaultCluster(t)
	began := time.Now()
	phase := func(what string) { t.Logf("%v: %s", time.Since(began).Round(time.Millisecond), what) }
	const topic = "pf"
	m := fc.createTopic(topic, 1, 3)
	old := partitionOf(m, topic, 0)
	for i := 0; i < 3; i++ {
		if r := produceOnce(t, fc.proxies[old.Leader].Addr(), produceReq(topic, 0, -1, 10000, "before"+strconv.Itoa(i), 10)); r.ErrorCode != 0 {
			t.Fatalf("produce before the pause: %v", kerr.ErrorForCode(r.ErrorCode))
		}
	}

	zombie := old.Leader
	rc := dialRawConn(t, fc.proxies[zombie].Addr())
	// A tail only the old leader has: its followers are cut off for a
	// moment (shorter than replica.lag.time.max.ms, so the ISR stays) and
	// it takes an acks=1 write at its epoch.
	for _, f := range old.Replicas {
		if f != zombie {
			fc.net.Cut(int(zombie), int(f))
		}
	}
	if r := produceOnce(t, fc.proxies[zombie].Addr(), produceReq(topic, 0, 1, 5000, "tail", 10)); r.ErrorCode != 0 {
		t.Fatalf("acks=1 to the leader: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	fc.pause(zombie)
	for _, f := range old.Replicas {
		if f != zombie {
			fc.net.Heal(int(zombie), int(f))
		}
	}
	if end := lastOf(fc.diskLog(zombie, topic, 0)); end != 39 {
		t.Fatalf("old leader's log ends at %d, want 39 (30 replicated, 10 only there)", end)
	}
	paused := time.Now()
	// Sent while paused: they wait in the socket until it resumes.
	zreqs := []*kmsg.ProduceRequest{
		produceReq(topic, 0, -1, 5000, "zombie-a", 7),
		produceReq(topic, 0, -1, 5000, "zombie-b", 5),
	}
	for _, r := range zreqs {
		if err := rc.send(r); err != nil {
			t.Fatal(err)
		}
	}
	m = fc.waitAgree("leader replaced", time.Duration(faultSessionMs)*time.Millisecond+15*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, topic, 0)
		return mp.Leader >= 0 && mp.Leader != zombie && mp.LeaderEpoch > old.LeaderEpoch && !slices.Contains(mp.ISR, zombie)
	})
	nl := partitionOf(m, topic, 0)
	t.Logf("leader %d paused; broker %d leads at epoch %d after %v", zombie, nl.Leader, nl.LeaderEpoch, time.Since(paused).Round(time.Millisecond))
	if r := produceOnce(t, fc.proxies[nl.Leader].Addr(), produceReq(topic, 0, -1, 10000, "new-leader", 3)); r.ErrorCode != 0 {
		t.Fatalf("acks=all at the new leader: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	phase("new leader took a write")
	fc.resume(zombie)
	for i, r := range zreqs {
		sent := time.Now()
		defer func() { t.Logf("answer %d after %v", i, time.Since(sent)) }()
		resp, err := rc.recv(r, 15*time.Second)
		if err != nil {
			t.Logf("write %d to the resumed old leader: %v (not acknowledged)", i, err)
			break // the connection is gone; nothing more comes
		}
		p := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if p.ErrorCode == 0 {
			t.Errorf("write %d sent to the paused old leader was acknowledged at offset %d after it resumed", i, p.BaseOffset)
		} else {
			t.Logf("write %d to the resumed old leader: %v", i, kerr.ErrorForCode(p.ErrorCode))
		}
	}

	// Back as a follower, in the ISR, with the new leader's log.
	resumed := time.Now()
	m = fc.waitFullISR(topic, 1, 3, 30*time.Second)
	t.Logf("old leader back in the ISR %v after it resumed", time.Since(resumed).Round(time.Millisecond))
	if mp := partitionOf(m, topic, 0); mp.Leader != nl.Leader {
		t.Fatalf("leader moved again to %d", mp.Leader)
	}
	if r := produceOnce(t, fc.proxies[nl.Leader].Addr(), produceReq(topic, 0, -1, 10000, "after", 2)); r.ErrorCode != 0 {
		t.Fatalf("acks=all after the old leader rejoined: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	phase("acks=all after the rejoin")
	hw := fc.highWatermarks(topic)[0]
	if hw != 30+3+2 {
		t.Errorf("high watermark %d, want 35 (30 before, 3 at the new leader, 2 after)", hw)
	}
	for _, r := range fc.consumeAll(topic, map[int32]int64{0: hw})[0] {
		if strings.HasPrefix(string(r.Value), "zombie") || strings.HasPrefix(string(r.Value), "tail") {
			t.Errorf("write %q that only the fenced leader had is in the log at offset %d", r.Value, r.Offset)
		}
	}
	phase("consumed")
	waitLogsEqual(fc, topic, 0, partitionOf(m, topic, 0).Replicas, hw)
	phase("logs compared")
}

// TestClusterLeaderCutFromZooKeeper: a leader that loses ZooKeeper (its
// link to ZooKeeper is cut; clients and the other brokers still reach it)
// is replaced once its session expires. acks=all writes it takes meanwhile
// are never acknowledged, its acks=1 writes are a tail the others lack;
// when the link heals it registers again, follows the new leader and
// truncates that tail.
func TestClusterLeaderCutFromZooKeeper(t *testing.T) {
	fc := startFaultCluster(t)
	began := time.Now()
	phase := func(what string) { t.Logf("%v: %s", time.Since(began).Round(time.Millisecond), what) }
	const topic = "zc"
	m := fc.createTopic(topic, 3, 3)
	var part int32 = -1
	for p := int32(0); p < 3; p++ {
		if partitionOf(m, topic, p).Leader != m.ControllerID {
			part = p
			break
		}
	}
	old := partitionOf(m, topic, part)
	cutOff := old.Leader
	laddr := fc.proxies[cutOff].Addr()
	if r := produceOnce(t, laddr, produceReq(topic, part, -1, 10000, "before", 10)); r.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	cut := time.Now()
	fc.net.Cut(int(cutOff), zkEndpoint)
	m = fc.waitAgree("leader replaced", time.Duration(faultSessionMs)*time.Millisecond+15*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, topic, part)
		return mp.Leader >= 0 && mp.Leader != cutOff && mp.LeaderEpoch > old.LeaderEpoch && len(m.Brokers) == 2
	}, cutOff)
	nl := partitionOf(m, topic, part)
	t.Logf("broker %d cut from ZooKeeper; broker %d leads %s-%d at epoch %d after %v", cutOff, nl.Leader, topic, part, nl.LeaderEpoch, time.Since(cut).Round(time.Millisecond))

	// The cut-off broker still believes it leads: acks=1 lands in its log
	// only; acks=all is never acknowledged.
	r1 := produceOnce(t, laddr, produceReq(topic, part, 1, 5000, "zombie-one", 6))
	t.Logf("acks=1 to the cut-off leader: %v", kerr.ErrorForCode(r1.ErrorCode))
	if r := produceOnce(t, laddr, produceReq(topic, part, -1, 3000, "zombie-all", 4)); r.ErrorCode == 0 {
		t.Errorf("acks=all to the leader cut from ZooKeeper was acknowledged at offset %d", r.BaseOffset)
	} else {
		t.Logf("acks=all to the cut-off leader: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := produceOnce(t, fc.proxies[nl.Leader].Addr(), produceReq(topic, part, -1, 10000, "new-leader", 3)); r.ErrorCode != 0 {
		t.Fatalf("acks=all at the new leader: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	healed := time.Now()
	fc.net.Heal(int(cutOff), zkEndpoint)
	m = fc.waitAgree("cut-off broker back in the ISR", 30*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, topic, part)
		return len(m.Brokers) == 3 && len(mp.ISR) == 3
	})
	t.Logf("broker %d back in the ISR %v after the heal", cutOff, time.Since(healed).Round(time.Millisecond))
	if mp := partitionOf(m, topic, part); mp.Leader != nl.Leader {
		t.Fatalf("leader moved again to %d", mp.Leader)
	}
	phase("rejoined")
	hw := fc.highWatermarks(topic)[part]
	phase("high watermark read")
	if hw != 13 {
		t.Errorf("high watermark %d, want 13 (10 before, 3 at the new leader)", hw)
	}
	for _, r := range fc.consumeAll(topic, map[int32]int64{part: hw})[part] {
		if strings.HasPrefix(string(r.Value), "zombie") {
			t.Errorf("write %q that only the cut-off leader had is in the log at offset %d", r.Value, r.Offset)
		}
	}
	phase("consumed")
	waitLogsEqual(fc, topic, part, partitionOf(m, topic, part).Replicas, hw)
	phase("logs compared")
}

// TestClusterControllerCutFromZooKeeper: the controller loses ZooKeeper
// (only that link is cut). Another broker is elected with the next
// controller epoch and moves the partitions the old one led; the old
// controller resigns, so every broker keeps one view. After the heal it
// registers again, follows, and rejoins every ISR; writes acknowledged
// throughout are all in the log.
func TestClusterControllerCutFromZooKeeper(t *testing.T) {
	fc := startFaultCluster(t)
	const topic = "cc"
	m := fc.createTopic(topic, 3, 3)
	old := m.ControllerID
	epoch := fc.controllerEpoch()
	acked := map[int32]int64{}
	produceAll := func(tag string) {
		t.Helper()
		m := fc.waitAgree("leaders known", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
			for p := int32(0); p < 3; p++ {
				if partitionOf(m, topic, p).Leader < 0 {
					return false
				}
			}
			return true
		}, old)
		for p := int32(0); p < 3; p++ {
			l := partitionOf(m, topic, p).Leader
			r := produceOnce(t, fc.proxies[l].Addr(), produceReq(topic, p, -1, 10000, tag, 5))
			if r.ErrorCode != 0 {
				t.Fatalf("%s: acks=all to %s-%d at broker %d: %v", tag, topic, p, l, kerr.ErrorForCode(r.ErrorCode))
			}
			acked[p] += 5
		}
	}
	produceAll("before")

	cut := time.Now()
	fc.net.Cut(int(old), zkEndpoint)
	m = fc.waitAgree("new controller", time.Duration(faultSessionMs)*time.Millisecond+15*time.Second, func(m *kmsg.MetadataResponse) bool {
		if m.ControllerID <= 0 || m.ControllerID == old || len(m.Brokers) != 2 {
			return false
		}
		for p := int32(0); p < 3; p++ {
			if mp := partitionOf(m, topic, p); mp.Leader < 0 || mp.Leader == old {
				return false
			}
		}
		return true
	}, old)
	t.Logf("controller %d cut from ZooKeeper; broker %d controls after %v", old, m.ControllerID, time.Since(cut).Round(time.Millisecond))
	if e := fc.controllerEpoch(); e != epoch+1 {
		t.Errorf("controller epoch %d after the failover, want %d", e, epoch+1)
	}
	produceAll("during")

	healed := time.Now()
	fc.net.Heal(int(old), zkEndpoint)
	m = fc.waitFullISR(topic, 3, 3, 30*time.Second)
	t.Logf("old controller %d back in every ISR %v after the heal", old, time.Since(healed).Round(time.Millisecond))
	if m.ControllerID == old {
		t.Errorf("the old controller %d is controller again without a new election", old)
	}
	produceAll("after")
	hws := fc.highWatermarks(topic)
	got := fc.consumeAll(topic, hws)
	for p := int32(0); p < 3; p++ {
		if hws[p] != acked[p] || int64(len(got[p])) != acked[p] {
			t.Errorf("%s-%d: %d acknowledged, high watermark %d, %d read", topic, p, acked[p], hws[p], len(got[p]))
		}
		waitLogsEqual(fc, topic, p, partitionOf(m, topic, p).Replicas, hws[p])
	}
}

// waitLogsEqual waits briefly for the followers to fetch up to hw (the
// high watermark can run ahead of what a follower wrote to its files by
// one fetch), then compares the logs.
func waitLogsEqual(fc *faultCluster, topic string, p int32, replicas []int32, hw int64) {
	fc.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ok := true
		for _, id := range replicas {
			if lastOf(fc.diskLog(id, topic, p)) < hw-1 {
				ok = false
			}
		}
		if ok {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	fc.checkLogsAgree(topic, p, replicas, hw)
}

// createAssigned creates a one-partition topic with the given replicas
// and min.insync.replicas=2 through the controller, and waits for its
// full ISR everywhere.
func (fc *faultCluster) createAssigned(topic string, replicas ...int32) {
	fc.t.Helper()
	cl := newClient(fc.t, fc.seeds()[0], kgo.SeedBrokers(fc.seeds()...))
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis = 7, 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	a.Partition, a.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	c := kmsg.NewCreateTopicsRequestTopicConfig()
	c.Name, c.Value = "min.insync.replicas", kmsg.StringPtr("2")
	rt.Configs = append(rt.Configs, c)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(fc.t), cl)
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		fc.t.Fatalf("create %s on %v: %v %v", topic, replicas, err, kerr.ErrorForCode(resp.Topics[0].ErrorCode))
	}
	fc.waitFullISR(topic, 1, len(replicas), 20*time.Second)
}

// TestClusterFollowerCut: a follower cut from its leader (the proxies
// close and refuse their connections, both ways) leaves the ISR after
// replica.lag.time.max.ms and returns once the link heals; acks=all keeps
// working while the ISR holds min.insync.replicas, and once it does not
// it is NOT_ENOUGH_REPLICAS while acks=1 still works. Leader and follower
// are both not the controller, so that only their link is cut.
func TestClusterFollowerCut(t *testing.T) {
	fc := startFaultCluster(t)
	m := fc.waitAgree("controller", 10*time.Second, func(m *kmsg.MetadataResponse) bool { return m.ControllerID > 0 })
	ctrl := m.ControllerID
	var others []int32
	for id := int32(1); id <= 3; id++ {
		if id != ctrl {
			others = append(others, id)
		}
	}
	leader, follower := others[0], others[1]
	const three, two = "fcut3", "fcut2"
	fc.createAssigned(three, leader, follower, ctrl)
	fc.createAssigned(two, leader, follower)
	laddr := fc.proxies[leader].Addr()
	for _, topic := range []string{three, two} {
		if r := produceOnce(t, laddr, produceReq(topic, 0, -1, 10000, "before", 10)); r.ErrorCode != 0 {
			t.Fatalf("produce to %s: %v", topic, kerr.ErrorForCode(r.ErrorCode))
		}
	}

	cut := time.Now()
	fc.net.Cut(int(leader), int(follower))
	// A follower at the leader's log end stays in sync however long it
	// is silent (Kafka's isFollowerOutOfSync): only a write it misses
	// starts its lag. acks=1 to the two-replica topic...
	if r := produceOnce(t, laddr, produceReq(two, 0, 1, 5000, "lonely-one", 4)); r.ErrorCode != 0 {
		t.Fatalf("acks=1 to %s during the cut: %v", two, kerr.ErrorForCode(r.ErrorCode))
	}
	// ...and acks=all to the three-replica one, which waits for the
	// shrink and is then acknowledged by leader and controller.
	if r := produceOnce(t, laddr, produceReq(three, 0, -1, int32(faultLagMs*4), "during", 10)); r.ErrorCode != 0 {
		t.Fatalf("acks=all to %s during the cut: %v", three, kerr.ErrorForCode(r.ErrorCode))
	}
	fc.waitAgree("cut follower out of both ISRs", time.Duration(faultLagMs)*time.Millisecond+10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return slices.Equal(partitionOf(m, three, 0).ISR, []int32{leader, ctrl}) && slices.Equal(partitionOf(m, two, 0).ISR, []int32{leader})
	})
	// Its lag counts from its last caught-up fetch, which an idle follower
	// sends at least every replica.fetch.wait.max.ms (200) before the cut.
	out := time.Since(cut)
	if out < time.Duration(faultLagMs-200-50)*time.Millisecond {
		t.Errorf("follower left the ISR %v after the cut, before replica.lag.time.max.ms=%d", out, faultLagMs)
	}
	t.Logf("follower %d out of the ISRs (leader %d) %v after the cut (replica.lag.time.max.ms=%d)", follower, leader, out.Round(time.Millisecond), faultLagMs)

	// ISR [leader] < min.insync.replicas=2.
	if r := produceOnce(t, laddr, produceReq(two, 0, -1, 5000, "lonely-all", 3)); r.ErrorCode != kerr.NotEnoughReplicas.Code {
		t.Errorf("acks=all with ISR [%d] and min.insync.replicas=2: %v, want NOT_ENOUGH_REPLICAS", leader, kerr.ErrorForCode(r.ErrorCode))
	}
	if r := produceOnce(t, laddr, produceReq(two, 0, 1, 5000, "lonely-one", 2)); r.ErrorCode != 0 {
		t.Errorf("acks=1 with ISR [%d]: %v", leader, kerr.ErrorForCode(r.ErrorCode))
	}

	healed := time.Now()
	fc.net.Heal(int(leader), int(follower))
	m = fc.waitAgree("follower back in both ISRs", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		return len(partitionOf(m, three, 0).ISR) == 3 && len(partitionOf(m, two, 0).ISR) == 2
	})
	t.Logf("follower back in both ISRs %v after the heal", time.Since(healed).Round(time.Millisecond))
	for topic, want := range map[string]int64{three: 10 + 10 + 5, two: 10 + 4 + 2 + 5} {
		if r := produceOnce(t, laddr, produceReq(topic, 0, -1, 10000, "after", 5)); r.ErrorCode != 0 {
			t.Fatalf("acks=all to %s after the heal: %v", topic, kerr.ErrorForCode(r.ErrorCode))
		}
		hw := fc.highWatermarks(topic)[0]
		if hw != want {
			t.Errorf("%s: high watermark %d, want %d", topic, hw, want)
		}
		for _, r := range fc.consumeAll(topic, map[int32]int64{0: hw})[0] {
			if strings.HasPrefix(string(r.Value), "lonely-all") {
				t.Errorf("%s: refused acks=all write %q is in the log", topic, r.Value)
			}
		}
		waitLogsEqual(fc, topic, 0, partitionOf(m, topic, 0).Replicas, hw)
	}
}

// TestClusterFigures measures, for the notes, on three binaries on one
// machine: produce throughput with acks=all at replication factor 3
// next to replication factor 1, the time from a leader's kill -9 to the
// first acks=all write its successor acknowledges, and the time a broker
// restarted after kill -9 takes to rejoin the ISR after missing writes.
// It only runs with SAMSA_CLUSTER_FIGURES=1 (it writes hundreds of MB).
func TestClusterFigures(t *testing.T) {
	if os.Getenv("SAMSA_CLUSTER_FIGURES") != "1" {
		t.Skip("set SAMSA_CLUSTER_FIGURES=1 to measure")
	}
	mb := 128
	if v, err := strconv.Atoi(os.Getenv("SAMSA_FIGURES_MB")); err == nil {
		mb = v
	}
	fc := startFaultCluster(t)
	const parts = 3
	fc.createTopic("rf3", parts, 3)
	fc.createTopic("rf1", parts, 1)
	// Incompressible 1 KiB values, sent uncompressed: the figure is
	// bytes on the wire and on disk.
	pool := make([]byte, 1<<20+1024)
	if _, err := rand.Read(pool); err != nil {
		t.Fatal(err)
	}
	produce := func(topic string, n int) time.Duration {
		cl := newClient(t, fc.seeds()[0], kgo.SeedBrokers(fc.seeds()...), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(16384), kgo.ProducerBatchCompression(kgo.NoCompression()))
		defer cl.Close()
		var failed atomic.Int64
		start := time.Now()
		for i := 0; i < n; i++ {
			off := (i * 1031) % (1 << 20)
			cl.Produce(context.Background(), &kgo.Record{Topic: topic, Value: pool[off : off+1024]}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
				}
			})
		}
		if err := cl.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if failed.Load() > 0 {
			t.Fatalf("%d records to %s failed", failed.Load(), topic)
		}
		return time.Since(start)
	}
	n := mb * 1024
	for _, topic := range []string{"rf1", "rf3", "rf1", "rf3"} {
		d := produce(topic, n)
		t.Logf("FIGURE produce %s acks=all: %d MiB in %v = %.1f MiB/s", topic, mb, d.Round(time.Millisecond), float64(mb)/d.Seconds())
	}

	for _, topic := range []string{"rf1", "rf3"} {
		var sum int64
		for _, hw := range fc.highWatermarks(topic) {
			sum += hw
		}
		if sum != int64(2*n) {
			t.Fatalf("%s holds %d records below its high watermarks, want %d", topic, sum, 2*n)
		}
	}

	// kill -9 of the leader of rf3-0 -> first acks=all write acknowledged
	// by its successor (raw produce to every live broker, every 10 ms).
	m := fc.waitFullISR("rf3", parts, 3, 30*time.Second)
	victim := partitionOf(m, "rf3", 0).Leader
	killed := time.Now()
	fc.kill(victim)
	var took time.Duration
	for took == 0 {
		for id := int32(1); id <= 3 && took == 0; id++ {
			if id == victim {
				continue
			}
			rc, err := net.DialTimeout("tcp", fc.proxies[id].Addr(), time.Second)
			if err != nil {
				continue
			}
			req := produceReq("rf3", 0, -1, 2000, "failover", 1)
			r := &rawConn{c: rc}
			if r.send(req) == nil {
				if resp, err := r.recv(req, 3*time.Second); err == nil && resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode == 0 {
					took = time.Since(killed)
				}
			}
			rc.Close()
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatal("no successor acknowledged a write within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("FIGURE kill -9 of leader %d -> first acks=all write acknowledged by its successor: %v (zookeeper.session.timeout.ms=%d)", victim, took.Round(time.Millisecond), faultSessionMs)

	// The victim misses mb/4 MiB, restarts, and rejoins every ISR.
	produce("rf3", n/4)
	restarted := time.Now()
	fc.restart(victim)
	listening := time.Since(restarted)
	fc.waitFullISR("rf3", parts, 3, 120*time.Second)
	t.Logf("FIGURE broker %d restarted after kill -9 (log: %d MiB written, %d MiB missed): listening after %v, back in every ISR after %v",
		victim, mb*2, mb/4, listening.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
}
