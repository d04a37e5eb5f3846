package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// TestTxnKill9Random: a franz-go transactional producer writes a stream
// of transactions of 10 known records over 3 partitions (every fifth one
// aborted) while the built binary is killed with SIGKILL at a random
// moment and restarted, round after round. Afterwards a read_committed
// consumer sees every transaction wholly or not at all, every
// transaction whose commit the producer saw succeed, none whose abort it
// saw succeed, no record twice; and once the transaction timeout has
// passed no partition has an open transaction (last stable offset =
// high watermark, DescribeProducers lists no open transaction).
func TestTxnKill9Random(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 rounds take ~30 s")
	}
	const (
		topic     = "k9"
		parts     = 3
		perTxn    = 10
		txnTO     = 2 * time.Second
		budget    = 30 * time.Second
		maxRounds = 25
	)
	b := testbroker.Start(t, testbroker.Binary, "transaction.abort.timed.out.transaction.cleanup.interval.ms=200")
	createTopic(t, b.Addr(), topic, parts)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	t.Logf("seed %d", seed)

	var (
		committed = map[string]bool{} // transactions whose commit succeeded
		aborted   = map[string]bool{} // transactions whose abort succeeded
		attempted = map[string]bool{} // every transaction begun
	)
	start := time.Now()
	rounds := 0
	for rounds < maxRounds && time.Since(start) < budget {
		rounds++
		ctx, cancel := context.WithCancel(context.Background())
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("tid-k9"), kgo.TransactionTimeout(txnTO),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RetryTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		res := make(chan [3][]string, 1)
		wg.Add(1)
		go func(round int) {
			defer wg.Done()
			var c, a, all []string
			defer func() { res <- [3][]string{c, a, all} }()
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("r%d-t%d", round, i)
				if err := cl.BeginTransaction(); err != nil {
					return
				}
				all = append(all, id)
				for j := 0; j < perTxn; j++ {
					r := &kgo.Record{Topic: topic, Partition: int32(j % parts), Key: []byte(id), Value: []byte(fmt.Sprintf("%s-%d", id, j))}
					cl.Produce(ctx, r, nil)
				}
				if err := cl.Flush(ctx); err != nil {
					return
				}
				commit := i%5 != 4
				if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
					return
				}
				if commit {
					c = append(c, id)
				} else {
					a = append(a, id)
				}
			}
		}(rounds)
		time.Sleep(time.Duration(50+rng.IntN(450)) * time.Millisecond)
		b.Kill()
		cancel()
		wg.Wait()
		cl.Close()
		r := <-res
		for _, id := range r[0] {
			committed[id] = true
		}
		for _, id := range r[1] {
			aborted[id] = true
		}
		for _, id := range r[2] {
			attempted[id] = true
		}
		b.Restart()
	}
	t.Logf("%d rounds in %v: %d transactions begun, %d commits and %d aborts acknowledged", rounds, time.Since(start).Round(time.Millisecond), len(attempted), len(committed), len(aborted))
	if len(committed) < rounds {
		t.Fatalf("only %d commits acknowledged over %d rounds: the producer hardly ran", len(committed), rounds)
	}

	// No transaction hangs: within the timeout (plus the abort
	// interval), every partition's last stable offset reaches its high
	// watermark and DescribeProducers shows no open transaction.
	cl := newClient(t, b.Addr())
	deadline := time.Now().Add(txnTO + 10*time.Second)
	var hwm [parts]int64
	for {
		lso, hw, open := stableState(t, cl, topic, parts)
		if lso == hw && open == "" {
			hwm = hw
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("transactions left open %v after the timeout: last stable offsets %v, high watermarks %v; %s", time.Since(deadline.Add(-txnTO-10*time.Second)), lso, hw, open)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// read_committed: each transaction wholly or not at all.
	cons := newClient(t, b.Addr(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	// Everything is stable already (LSO = high watermark): read until
	// three polls in a row bring nothing.
	seen := map[string]map[string]bool{}
	end := time.Now().Add(20 * time.Second)
	for idle := 0; idle < 3; {
		if time.Now().After(end) {
			t.Fatalf("read_committed consumer still reading after 20 s (high watermarks %v)", hwm)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		fs := cons.PollFetches(ctx)
		cancel()
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				t.Fatalf("fetch: %v", e.Err)
			}
		}
		idle++
		fs.EachRecord(func(r *kgo.Record) {
			idle = 0
			id := string(r.Key)
			if seen[id] == nil {
				seen[id] = map[string]bool{}
			}
			if seen[id][string(r.Value)] {
				t.Fatalf("record %s read twice", r.Value)
			}
			seen[id][string(r.Value)] = true
		})
	}
	var partial []string
	for id, vals := range seen {
		if !attempted[id] {
			t.Fatalf("read transaction %s that was never begun", id)
		}
		if len(vals) != perTxn {
			partial = append(partial, fmt.Sprintf("%s (%d of %d)", id, len(vals), perTxn))
		}
		if aborted[id] {
			t.Errorf("transaction %s was aborted (acknowledged) but read_committed reads it", id)
		}
		for j := 0; j < perTxn; j++ {
			if len(vals) == perTxn && !vals[fmt.Sprintf("%s-%d", id, j)] {
				t.Errorf("transaction %s lacks record %d: %v", id, j, vals)
			}
		}
	}
	if len(partial) > 0 {
		t.Fatalf("transactions partly visible to read_committed: %s", strings.Join(partial, ", "))
	}
	var lost []string
	for id := range committed {
		if seen[id] == nil {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d acknowledged commits lost: %v", len(lost), lost)
	}
	t.Logf("read_committed: %d whole transactions (%d acknowledged commits, the rest unconfirmed when the broker died)", len(seen), len(committed))
}

// stableState answers topic's last stable offsets (ListOffsets latest,
// read_committed), high watermarks, and a description of the open
// transactions DescribeProducers lists ("" when none).
func stableState(t *testing.T, cl *kgo.Client, topic string, parts int) (lso, hw [3]int64, open string) {
	t.Helper()
	ctx := ctxT(t)
	for iso, dst := range []*[3]int64{&hw, &lso} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = int8(iso)
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for p := 0; p < parts; p++ {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = int32(p), -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("list offsets: %v", err)
		}
		for _, rp := range resp.Topics[0].Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatalf("list offsets partition %d: %v", rp.Partition, err)
			}
			dst[rp.Partition] = rp.Offset
		}
	}
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic = topic
	for p := 0; p < parts; p++ {
		rt.Partitions = append(rt.Partitions, int32(p))
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("describe producers: %v", err)
	}
	for _, rp := range resp.Topics[0].Partitions {
		for _, s := range rp.ActiveProducers {
			if s.CurrentTxnStartOffset >= 0 {
				open += fmt.Sprintf("partition %d producer %d/%d from offset %d; ", rp.Partition, s.ProducerID, s.ProducerEpoch, s.CurrentTxnStartOffset)
			}
		}
	}
	return lso, hw, open
}
