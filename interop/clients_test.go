package interop

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates topic with the given replica assignment (one
// replica list per partition, preferred leader first) at the controller,
// as kafka-topics --replica-assignment does.
func (c *cluster) createTopic(topic string, assignment [][]int32, configs map[string]string) {
	c.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = 15000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions, rt.ReplicationFactor = -1, -1
	for p, replicas := range assignment {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition = int32(p)
		a.Replicas = replicas
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	for k, v := range configs {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, cfg)
	}
	req.Topics = append(req.Topics, rt)
	cl := newClient(c.t, c.seeds())
	resp, err := req.RequestWith(ctxT(c.t, 20*time.Second), cl)
	if err != nil {
		c.t.Fatalf("CreateTopics %s: %v", topic, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		c.t.Fatalf("CreateTopics %s: %v %v", topic, err, resp.Topics[0].ErrorMessage)
	}
}

// record values are "<partition>-<n>" with n counting from 0 per
// partition in the order the producer acknowledged them.
func recordValue(p int32, n int) []byte { return []byte(fmt.Sprintf("%d-%d", p, n)) }

// ackedLog is what a producer had acknowledged, per partition, in order.
type ackedLog struct {
	mu    sync.Mutex
	acked map[int32][]string
	next  map[int32]int
}

func newAckedLog() *ackedLog { return &ackedLog{acked: map[int32][]string{}, next: map[int32]int{}} }

// produceSync writes n records to each of partitions through cl with
// acks=all, one at a time per partition (so acknowledged order is the
// log's order), and records what was acknowledged.
func (a *ackedLog) produceSync(t *testing.T, cl *kgo.Client, topic string, partitions []int32, n int) {
	t.Helper()
	ctx := ctxT(t, 45*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, len(partitions))
	for _, p := range partitions {
		wg.Add(1)
		go func(p int32) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				a.mu.Lock()
				v := recordValue(p, a.next[p])
				a.mu.Unlock()
				r := &kgo.Record{Topic: topic, Partition: p, Value: v}
				if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
					errs <- fmt.Errorf("produce %s to %s-%d: %w", v, topic, p, err)
					return
				}
				a.mu.Lock()
				a.acked[p] = append(a.acked[p], string(v))
				a.next[p]++
				a.mu.Unlock()
			}
		}(p)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// producer is an acks=all idempotent producer that pins records to the
// partition they name.
func producer(t *testing.T, seeds []string) *kgo.Client {
	return newClient(t, seeds, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.RecordRetries(100), kgo.RetryTimeout(40*time.Second))
}

// consumeAll reads every partition of topic from the start through seeds
// until it has want[p] records for each, and checks each partition's
// records are exactly the acknowledged ones in order (no loss, no
// reordering; duplicates are not expected from an idempotent producer).
func consumeAll(t *testing.T, seeds []string, topic string, a *ackedLog) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	cl := newClient(t, seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond))
	ctx := ctxT(t, 30*time.Second)
	got := map[int32][]string{}
	done := func() bool {
		for p, want := range a.acked {
			if len(got[p]) < len(want) {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(tp string, p int32, err error) { t.Logf("fetch %s-%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) != "txn" { // transactions' records (transactions) are checked there
				got[r.Partition] = append(got[r.Partition], string(r.Value))
			}
		})
	}
	for p, want := range a.acked {
		if strings.Join(got[p], ",") != strings.Join(want, ",") {
			t.Fatalf("%s-%d: consumed %d records %s, acknowledged %d %s", topic, p, len(got[p]), abbrev(got[p]), len(want), abbrev(want))
		}
	}
}

func abbrev(s []string) string {
	if len(s) <= 8 {
		return "[" + strings.Join(s, ",") + "]"
	}
	return "[" + strings.Join(s[:4], ",") + " ... " + strings.Join(s[len(s)-4:], ",") + "]"
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }
