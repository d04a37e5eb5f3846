package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// payload returns n bytes of record values: random bytes (incompressible)
// or JSON-like text (lz4 and zstd shrink it about 3 to 5 times, like
// typical event payloads).
func payload(n int, text bool) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	if !text {
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	words := []string{"order", "customer", "amount", "currency", "EUR", "USD", "status", "shipped", "pending", "id", "sku", "warehouse", "berlin", "paris", "quantity", "true", "false", "null"}
	var sb strings.Builder
	for sb.Len() < n {
		fmt.Fprintf(&sb, `{"%s":"%s-%d","%s":%d.%02d,"%s":"%s"},`, words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(100000),
			words[r.IntN(len(words))], r.IntN(10000), r.IntN(100), words[r.IntN(len(words))], words[r.IntN(len(words))])
	}
	copy(b, sb.String())
	return b
}

// createTopic creates topic with parts partitions (replication factor 1).
func createTopic(ctx context.Context, addr, topic string, parts int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, parts, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	return err
}

// produceSpec is one produce workload.
type produceSpec struct {
	size        int
	acks        string // "1" or "all"
	compression string // none, lz4, zstd
	partitions  int32
}

func (p produceSpec) name() string {
	sz := fmt.Sprintf("%dB", p.size)
	if p.size == 1024 {
		sz = "1KiB"
	}
	return fmt.Sprintf("produce %s acks=%s %s p%d", sz, p.acks, p.compression, p.partitions)
}

// produce writes total bytes of size-byte records to topic with
// franz-go and returns how long it took, from the first record handed to
// the client to the last acknowledgement.
func produce(ctx context.Context, addr, topic string, spec produceSpec, total int64) (time.Duration, int64, error) {
	d, n, _, err := produceStats(ctx, addr, topic, spec, total)
	return d, n, err
}

// produceStats is produce that also says what the producer sent
// (batchStats.extra): its batching follows how fast the broker
// acknowledges, and a consumer of those records later decodes the
// batches as they were made.
func produceStats(ctx context.Context, addr, topic string, spec produceSpec, total int64) (time.Duration, int64, map[string]float64, error) {
	var stats batchStats
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5 * time.Millisecond),
		kgo.MaxBufferedRecords(1 << 16), kgo.ProducerBatchMaxBytes(1 << 20), kgo.WithHooks(&stats)}
	switch spec.acks {
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	switch spec.compression {
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, 0, nil, err
	}
	defer cl.Close()
	pool := payload(1<<20+spec.size, spec.compression != "none")
	n := total / int64(spec.size)
	var failed atomic.Pointer[error]
	start := time.Now()
	for i := int64(0); i < n; i++ {
		off := int(i*7919) % (1 << 20)
		cl.Produce(ctx, &kgo.Record{Value: pool[off : off+spec.size]}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, 0, nil, err
	}
	d := time.Since(start)
	if e := failed.Load(); e != nil {
		return 0, 0, nil, *e
	}
	return d, n * int64(spec.size), stats.extra(), nil
}

// batchStats counts a producer's Produce requests and record batches
// through franz-go's hooks.
type batchStats struct {
	requests, batches, batchBytes atomic.Int64
}

// OnBrokerWrite implements kgo.HookBrokerWrite.
func (b *batchStats) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err == nil {
		b.requests.Add(1)
	}
}

// OnProduceBatchWritten implements kgo.HookProduceBatchWritten.
func (b *batchStats) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	b.batches.Add(1)
	b.batchBytes.Add(int64(m.UncompressedBytes))
}

// extra is the figures for the report: Produce requests, record batches
// per request and their mean uncompressed size in KiB.
func (b *batchStats) extra() map[string]float64 {
	r, n := float64(b.requests.Load()), float64(b.batches.Load())
	if r == 0 || n == 0 {
		return nil
	}
	return map[string]float64{"produce_requests": r, "batches_per_request": n / r, "batch_KiB": float64(b.batchBytes.Load()) / n / 1024}
}

// fetchStats counts what the consumers' Fetch responses carried, through
// franz-go's hooks: how many responses and bytes, and how many record
// batches. A broker that answers with fewer bytes per response costs a
// consumer with one fetch in flight a round trip more per byte, and one
// whose batches are smaller costs it more decoding; these figures tell
// those apart from the broker's own speed.
type fetchStats struct {
	responses, respBytes, batches atomic.Int64
}

// OnBrokerRead implements kgo.HookBrokerRead.
func (f *fetchStats) OnBrokerRead(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, err error) {
	if key == 1 && err == nil {
		f.responses.Add(1)
		f.respBytes.Add(int64(n))
	}
}

// OnFetchBatchRead implements kgo.HookFetchBatchRead.
func (f *fetchStats) OnFetchBatchRead(kgo.BrokerMetadata, string, int32, kgo.FetchBatchMetrics) {
	f.batches.Add(1)
}

// extra is the figures for the report: fetch responses, their mean size
// in MiB, and record batches per response.
func (f *fetchStats) extra() map[string]float64 {
	r := float64(f.responses.Load())
	if r == 0 {
		return nil
	}
	return map[string]float64{"fetches": r, "fetch_MiB": float64(f.respBytes.Load()) / r / (1 << 20), "batches_per_fetch": float64(f.batches.Load()) / r}
}

// consume reads n records of topic from the start with consumers
// clients (one reads all partitions; more share them in a group) and
// returns the time from the first poll to the last record, the value
// bytes read, and what the Fetch responses carried (fetchStats.extra).
func consume(ctx context.Context, addr string, topics []string, n int64, consumers int) (time.Duration, int64, map[string]float64, error) {
	var stats fetchStats
	group := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	var got, bytes atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, consumers)
	start := time.Now()
	for c := 0; c < consumers; c++ {
		opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxBytes(64 << 20), kgo.FetchMaxPartitionBytes(8 << 20), kgo.WithHooks(&stats)}
		if consumers > 1 {
			opts = append(opts, kgo.ConsumerGroup(group), kgo.DisableAutoCommit())
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return 0, 0, nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close()
			for got.Load() < n && ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				if err := fs.Err(); err != nil && !errors.Is(err, context.Canceled) {
					errc <- err
					cancel()
					return
				}
				var b int64
				fs.EachRecord(func(r *kgo.Record) { b += int64(len(r.Value)) })
				bytes.Add(b)
				if got.Add(int64(fs.NumRecords())) >= n {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	select {
	case err := <-errc:
		return 0, 0, nil, err
	default:
	}
	if got.Load() < n {
		return 0, 0, nil, fmt.Errorf("read %d of %d records", got.Load(), n)
	}
	return d, bytes.Load(), stats.extra(), nil
}

// latency produces rate records per second of size bytes for dur with
// acks=all to a one-partition topic while a consumer reads them, and
// returns the end-to-end latencies (consumer receipt minus the send time
// the producer wrote into the value; one process, one clock).
func latency(ctx context.Context, addr, topic string, rate, size int, dur time.Duration) ([]time.Duration, error) {
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return nil, err
	}
	defer prod.Close()
	total := int(float64(rate) * dur.Seconds())
	lats := make([]time.Duration, 0, total)
	done := make(chan error, 1)
	go func() {
		for len(lats) < total {
			fs := cons.PollFetches(ctx)
			if err := fs.Err(); err != nil {
				done <- err
				return
			}
			now := time.Now().UnixNano()
			fs.EachRecord(func(r *kgo.Record) {
				lats = append(lats, time.Duration(now-int64(binary.BigEndian.Uint64(r.Value))))
			})
		}
		done <- nil
	}()
	// Wait until the consumer has its partition before measuring.
	time.Sleep(500 * time.Millisecond)
	interval := time.Second / time.Duration(rate)
	next := time.Now()
	for i := 0; i < total; i++ {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		v := make([]byte, size)
		binary.BigEndian.PutUint64(v, uint64(time.Now().UnixNano()))
		prod.Produce(ctx, &kgo.Record{Value: v}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		return nil, err
	}
	select {
	case err := <-done:
		if err != nil {
			return nil, err
		}
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("latency consumer got %d of %d records", len(lats), total)
	}
	return lats, nil
}

// percentile returns the p-th percentile (0..100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func sortDurations(d []time.Duration) { sort.Slice(d, func(i, j int) bool { return d[i] < d[j] }) }

// kafkaTool runs one of Kafka's command-line tools through
// compat-tests/bin (the same release's jars as the broker).
func kafkaTool(ctx context.Context, root, script string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(root, "compat-tests", "bin", script), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v\n%s", script, err, tail(string(out), 2000))
	}
	return string(out), nil
}

var perfProduceRE = regexp.MustCompile(`(\d+) records sent, [\d.]+ records/sec \(([\d.]+) MB/sec\)`)

// producerPerfTest runs kafka-producer-perf-test and returns its MB/s
// (its MB is 2^20 bytes).
func producerPerfTest(ctx context.Context, root, addr, topic string, records, size int, acks string) (float64, error) {
	out, err := kafkaTool(ctx, root, "kafka-producer-perf-test.sh", "--topic", topic, "--num-records", strconv.Itoa(records),
		"--record-size", strconv.Itoa(size), "--throughput", "-1", "--producer-props", "bootstrap.servers="+addr, "acks="+acks)
	if err != nil {
		return 0, err
	}
	m := perfProduceRE.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("kafka-producer-perf-test printed no summary:\n%s", tail(out, 2000))
	}
	last := m[len(m)-1]
	mbs, _ := strconv.ParseFloat(last[2], 64)
	return mbs * (1 << 20) / 1e6, nil
}

// consumerPerfTest runs kafka-consumer-perf-test and returns its
// fetch.MB.sec (the time after the group's first assignment) in MB/s.
func consumerPerfTest(ctx context.Context, root, addr, topic string, records int) (float64, error) {
	out, err := kafkaTool(ctx, root, "kafka-consumer-perf-test.sh", "--bootstrap-server", addr, "--topic", topic,
		"--messages", strconv.Itoa(records), "--timeout", "60000")
	if err != nil {
		return 0, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Split(lines[i], ",")
		if len(f) >= 10 {
			if v, err := strconv.ParseFloat(strings.TrimSpace(f[8]), 64); err == nil {
				return v * (1 << 20) / 1e6, nil
			}
		}
	}
	return 0, fmt.Errorf("kafka-consumer-perf-test printed no result:\n%s", tail(out, 2000))
}

// metadataLatency times n full Metadata requests (all topics) and
// returns their median.
func metadataLatency(ctx context.Context, addr string, n int) (time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var ds []time.Duration
	for i := 0; i < n; i++ {
		req := kmsg.NewPtrMetadataRequest()
		start := time.Now()
		if _, err := req.RequestWith(ctx, cl); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(start))
	}
	sortDurations(ds)
	return percentile(ds, 50), nil
}

// idleConns opens n connections that each negotiate ApiVersions and then
// stay idle, as pooled or forgotten clients do; close them with the
// returned func.
func idleConns(addr string, n int) (func(), error) {
	conns := make([]net.Conn, 0, n)
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "samsa-bench", "1"
	body := req.AppendTo(nil)
	frame := binary.BigEndian.AppendUint32(nil, uint32(2+2+4+2+len("idle")+1+len(body)))
	frame = binary.BigEndian.AppendUint16(frame, 18)
	frame = binary.BigEndian.AppendUint16(frame, 3)
	frame = binary.BigEndian.AppendUint32(frame, 1)
	frame = binary.BigEndian.AppendUint16(frame, uint16(len("idle")))
	frame = append(frame, "idle"...)
	frame = append(frame, 0) // header tagged fields
	frame = append(frame, body...)
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
		if _, err := c.Write(frame); err != nil {
			closeAll()
			return nil, err
		}
		var size [4]byte
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := ioReadFull(c, size[:]); err != nil {
			closeAll()
			return nil, fmt.Errorf("connection %d: ApiVersions: %w", i, err)
		}
		rest := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := ioReadFull(c, rest); err != nil {
			closeAll()
			return nil, err
		}
		_ = c.SetReadDeadline(time.Time{})
	}
	return closeAll, nil
}

func ioReadFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// groupsJoin starts consumers clients in groups groups (consumers/groups
// each) on topic at once and returns the time until every group is
// Stable with all its members.
func groupsJoin(ctx context.Context, addr, topic string, groups, consumers int) (time.Duration, func(), error) {
	var clients []*kgo.Client
	closeAll := func() {
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Add(1)
			go func() { defer wg.Done(); c.Close() }()
		}
		wg.Wait()
	}
	per := consumers / groups
	start := time.Now()
	for g := 0; g < groups; g++ {
		for m := 0; m < per; m++ {
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(fmt.Sprintf("join-%d", g)), kgo.ConsumeTopics(topic))
			if err != nil {
				closeAll()
				return 0, nil, err
			}
			clients = append(clients, cl)
			go func() {
				for ctx.Err() == nil {
					if fs := cl.PollFetches(ctx); fs.IsClientClosed() {
						return
					}
				}
			}()
		}
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		closeAll()
		return 0, nil, err
	}
	defer adm.Close()
	names := make([]string, groups)
	for g := range names {
		names[g] = fmt.Sprintf("join-%d", g)
	}
	for {
		if ctx.Err() != nil {
			closeAll()
			return 0, nil, ctx.Err()
		}
		d, err := kadm.NewClient(adm).DescribeGroups(ctx, names...)
		stable := 0
		if err == nil {
			for _, g := range d {
				if g.State == "Stable" && len(g.Members) == per {
					stable++
				}
			}
		}
		if stable == groups {
			return time.Since(start), closeAll, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}
