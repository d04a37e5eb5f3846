package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os/exec"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceMany writes total bytes of 1 KiB records over every partition of
// topics (round robin over topics, franz-go's round-robin partitioner
// within each), acks=1.
func produceMany(ctx context.Context, addr string, topics []string, total int64) (time.Duration, int64, map[string]float64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
		kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.MaxBufferedRecords(1<<16),
		// A KRaft broker lists a new partition's leader in Metadata a
		// moment before its replica manager has created the log; produce
		// answers UNKNOWN_TOPIC_OR_PARTITION meanwhile, which franz-go
		// gives up on after 4 tries by default. Retry until delivered.
		kgo.UnknownTopicRetries(-1), kgo.RecordDeliveryTimeout(5*time.Minute))
	if err != nil {
		return 0, 0, nil, err
	}
	defer cl.Close()
	pool := payload(1<<20+1024, false)
	n := total / 1024
	var failed atomic.Pointer[error]
	start := time.Now()
	for i := int64(0); i < n; i++ {
		off := int(i*7919) % (1 << 20)
		cl.Produce(ctx, &kgo.Record{Topic: topics[int(i)%len(topics)], Value: pool[off : off+1024]}, func(_ *kgo.Record, err error) {
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
	return d, n * 1024, nil, nil
}

// waitPartitions waits until Metadata lists every partition of topics
// with a leader: the broker is serving them all again.
func waitPartitions(ctx context.Context, addr string, topics []string, parts int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		md, err := adm.Metadata(ctx, topics...)
		if err == nil {
			ok := 0
			for _, t := range md.Topics {
				if t.Err != nil || int32(len(t.Partitions)) != parts {
					continue
				}
				led := 0
				for _, p := range t.Partitions {
					if p.Leader >= 0 && p.Err == nil {
						led++
					}
				}
				if led == int(parts) {
					ok++
				}
			}
			if ok == len(topics) {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not every partition of %d topics has a leader after 5 minutes", len(topics))
}

// loopbackLimit measures this machine's TCP loopback throughput with
// iperf3 (Debian's package; scripts/install-test-deps.sh bench installs
// it), in MB/s, or 0 when iperf3 is missing.
func loopbackLimit() float64 {
	if _, err := exec.LookPath("iperf3"); err != nil {
		log.Printf("iperf3 not installed: no loopback limit in the report")
		return 0
	}
	port, err := freePort()
	if err != nil {
		return 0
	}
	srv := exec.Command("iperf3", "-s", "-1", "-p", strconv.Itoa(port))
	if err := srv.Start(); err != nil {
		return 0
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	time.Sleep(300 * time.Millisecond)
	out, err := exec.Command("iperf3", "-c", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "5", "-J").Output()
	if err != nil {
		log.Printf("iperf3: %v", err)
		return 0
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&r); err != nil {
		return 0
	}
	return r.End.SumReceived.BitsPerSecond / 8 / 1e6
}

// fetchBytes counts a client's Fetch requests and the bytes of their
// requests and responses on the wire (franz-go's broker write/read hooks,
// size prefix included).
type fetchBytes struct {
	requests, requestBytes, responseBytes atomic.Int64
}

func (f *fetchBytes) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, _ error) {
	if key == 1 {
		f.requests.Add(1)
		f.requestBytes.Add(int64(n))
	}
}

func (f *fetchBytes) OnBrokerRead(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, _ error) {
	if key == 1 {
		f.responseBytes.Add(int64(n))
	}
}

// consumeSessions reads n records from every partition of topics with one
// consumer, with or without incremental fetch sessions (KIP-227), then
// keeps fetching for idle with nothing new to read, as a consumer of many
// quiet partitions does most of the time. It returns the time to read the
// n records, their bytes, and the Fetch traffic of the whole run: requests
// per second while idle and the request and response MB (10^6 bytes) of
// the read and of the idle part.
func consumeSessions(ctx context.Context, addr string, topics []string, n int64, sessions bool, idle time.Duration) (time.Duration, int64, map[string]float64, error) {
	fb := new(fetchBytes)
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64 << 20), kgo.FetchMaxPartitionBytes(8 << 20), kgo.WithHooks(fb),
		kgo.FetchMaxWait(500 * time.Millisecond)} // the Java client's fetch.max.wait.ms
	if !sessions {
		opts = append(opts, kgo.DisableFetchSessions())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, 0, nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var got, bytes int64
	start := time.Now()
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			return 0, 0, nil, err
		}
		fs.EachRecord(func(r *kgo.Record) { bytes += int64(len(r.Value)) })
		got += int64(fs.NumRecords())
	}
	d := time.Since(start)
	readReqs, readReq, readResp := fb.requests.Load(), fb.requestBytes.Load(), fb.responseBytes.Load()
	idleCtx, idleCancel := context.WithTimeout(ctx, idle)
	for idleCtx.Err() == nil {
		fs := cl.PollFetches(idleCtx)
		got += int64(fs.NumRecords())
	}
	idleCancel()
	// More than n is possible: the many-partitions producer is acks=1
	// without idempotence, so a retried batch can be stored twice (Kafka
	// 4.3.1 stored 1.9 times the records when its produce requests timed
	// out). The figures stay those of the first n records.
	if got < n {
		return 0, 0, nil, fmt.Errorf("read %d records, want at least %d", got, n)
	}
	idleReqs := fb.requests.Load() - readReqs
	return d, bytes, map[string]float64{
		"read_fetch_requests":     float64(readReqs),
		"read_request_MB":         float64(readReq) / 1e6,
		"read_response_MB":        float64(readResp) / 1e6,
		"idle_fetches_per_s":      float64(idleReqs) / idle.Seconds(),
		"idle_request_MB":         float64(fb.requestBytes.Load()-readReq) / 1e6,
		"idle_response_MB":        float64(fb.responseBytes.Load()-readResp) / 1e6,
		"idle_request_KB_per_req": float64(fb.requestBytes.Load()-readReq) / 1e3 / max(float64(idleReqs), 1),
		"records_stored_per_sent": float64(got) / float64(n),
	}, nil
}
