package integration

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestZKRollingRestart restarts every broker of a three-broker cluster in
// turn (SIGTERM, so controlled shutdown moves leadership first) while an
// acks=all idempotent producer writes to an RF 3 topic: no produce error
// reaches the application and every acknowledged record is there, once,
// in order per partition.
func TestZKRollingRestart(t *testing.T) {
	c := startZKClusterWith(t, 3, "auto.leader.rebalance.enable=false", "min.insync.replicas=2")
	c.createZKTopic("roll", 6)
	var seeds []string
	for _, b := range c.brokers {
		seeds = append(seeds, b.Addr())
	}
	prod := newClient(t, seeds[0], kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("roll"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordRetries(1<<30), kgo.RetryTimeout(60*time.Second),
		kgo.ProducerLinger(5*time.Millisecond), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		// kgo waits at least this long between metadata refreshes (5 s by
		// default), which would dominate the wait after a leader moves.
		kgo.MetadataMinAge(250*time.Millisecond))
	var (
		mu       sync.Mutex
		acked    = map[int32][]int{}
		failures []error
		sent     atomic.Int64
		maxWait  time.Duration
	)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			sent.Add(1)
			r := &kgo.Record{Value: []byte(strconv.Itoa(i))}
			at := time.Now()
			prod.Produce(context.Background(), r, func(r *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				maxWait = max(maxWait, time.Since(at))
				if err != nil {
					failures = append(failures, err)
					return
				}
				n, _ := strconv.Atoi(string(r.Value))
				acked[r.Partition] = append(acked[r.Partition], n)
			})
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for _, id := range []int32{1, 2, 3} {
		time.Sleep(500 * time.Millisecond)
		start := time.Now()
		c.brokers[id].Restart()
		c.waitRejoined("roll", id)
		t.Logf("broker %d restarted and back in every ISR after %v", id, time.Since(start))
	}
	time.Sleep(500 * time.Millisecond)
	stop()
	<-done
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := prod.Flush(fctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, err := range failures {
		t.Errorf("produce error reached the application: %v", err)
	}
	total := 0
	for _, v := range acked {
		total += len(v)
	}
	t.Logf("%d records sent, %d acknowledged, %d failed; longest wait for an acknowledgement %v", sent.Load(), total, len(failures), maxWait)

	// Every acknowledged record, once and in order, per partition.
	cons := newClient(t, seeds[0], kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("roll"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[int32][]int{}
	n := 0
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	for n < total {
		fs := cons.PollFetches(cctx)
		if cctx.Err() != nil {
			t.Fatalf("consumed %d of %d acknowledged records", n, total)
		}
		fs.EachRecord(func(r *kgo.Record) {
			v, _ := strconv.Atoi(string(r.Value))
			got[r.Partition] = append(got[r.Partition], v)
			n++
		})
	}
	for p, want := range acked {
		have := got[p]
		if len(have) < len(want) {
			t.Errorf("partition %d: %d records, %d acknowledged", p, len(have), len(want))
			continue
		}
		for i := range want {
			if have[i] != want[i] {
				t.Errorf("partition %d record %d: %d, acknowledged %d", p, i, have[i], want[i])
				break
			}
		}
	}
}
