package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

// TestKill9KeepsAcknowledgedRecords kills the broker binary with SIGKILL
// while an acks=all idempotent producer runs, restarts it on the same data
// dir, and checks that every acknowledged record is at its offset and that
// nothing is duplicated.
func TestKill9KeepsAcknowledgedRecords(t *testing.T) {
	b := testbroker.Start(t, testbroker.Binary)
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 4, 1, nil, "crash"); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("crash"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(3), kgo.RetryTimeout(2*time.Second), kgo.ProduceRequestTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	type ack struct {
		partition int32
		offset    int64
	}
	var (
		mu    sync.Mutex
		acked = map[string]ack{}
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			v := fmt.Sprintf("r%07d", i)
			cl.Produce(ctx, &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
				if err == nil {
					mu.Lock()
					acked[v] = ack{r.Partition, r.Offset}
					mu.Unlock()
				}
			})
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 20000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Kill()
	cancel()
	wg.Wait()
	cl.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 1000 {
		t.Fatalf("only %d records acknowledged before the kill", len(acked))
	}

	b.Restart()
	end, err := newAdmin(t, b.Addr()).ListEndOffsets(ctxT(t), "crash")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	end.Each(func(o kadm.ListedOffset) { total += int(o.Offset) })
	recs := consumeN(t, b.Addr(), "crash", total)
	seen := map[string]ack{}
	for _, r := range recs {
		v := string(r.Value)
		if prev, dup := seen[v]; dup {
			t.Fatalf("record %s stored twice: %+v and %d/%d", v, prev, r.Partition, r.Offset)
		}
		seen[v] = ack{r.Partition, r.Offset}
	}
	for v, a := range acked {
		if got, ok := seen[v]; !ok || got != a {
			t.Fatalf("acknowledged record %s at %+v: after restart %+v (present %v)", v, a, got, ok)
		}
	}
	t.Logf("%d acknowledged records all present after kill -9; %d in the log", len(acked), len(recs))
}
