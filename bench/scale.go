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
