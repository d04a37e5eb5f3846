package integration

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

// TestCompactionEndToEnd produces 100 keys x 50 versions of ~1 KiB records
// (about 5 MiB, 1 MiB segments) and tombstones for 10 keys to a compacted
// topic, while a kgo consumer reads the topic from the start throughout.
// The broker's own cleaner threads compact it: the log shrinks to the
// latest value of the 90 live keys, each at the offset its produce was
// acknowledged with, the tombstones go after delete.retention.ms, and the
// consumer never sees an offset go backwards and ends with every key's
// latest value.
func TestCompactionEndToEnd(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "log.cleaner.backoff.ms=50", "log.retention.check.interval.ms=100")
	ctx := ctxT(t)
	_, err := newAdmin(t, b.Addr()).CreateTopic(ctx, 1, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.bytes":             kadm.StringPtr("1048576"),
		"segment.ms":                kadm.StringPtr("1500"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.1"),
		"delete.retention.ms":       kadm.StringPtr("1000"),
	}, "cmp")
	if err != nil {
		t.Fatal(err)
	}

	// The consumer reads from the start while everything happens.
	var mu sync.Mutex
	last := map[string]seen{}
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	consumer := newClient(t, b.Addr(), kgo.ConsumeTopics("cmp"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	var cwg sync.WaitGroup
	cwg.Add(1)
	var orderErr error
	go func() {
		defer cwg.Done()
		prev := int64(-1)
		for cctx.Err() == nil {
			fs := consumer.PollFetches(cctx)
			fs.EachRecord(func(r *kgo.Record) {
				mu.Lock()
				defer mu.Unlock()
				if r.Offset <= prev && orderErr == nil {
					orderErr = fmt.Errorf("offset %d after %d", r.Offset, prev)
				}
				prev = r.Offset
				last[string(r.Key)] = seen{r.Offset, r.Value}
			})
		}
	}()

	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("cmp"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	want := map[string]seen{}
	for v := 0; v < 50; v++ {
		var recs []*kgo.Record
		for k := 0; k < 100; k++ {
			val := bytes.Repeat([]byte{byte('a' + v%26)}, 1000)
			val = append(val, fmt.Sprintf("-%d", v)...)
			recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprintf("key-%03d", k)), Value: val})
		}
		res := cl.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			want[string(r.Record.Key)] = seen{r.Record.Offset, r.Record.Value}
		}
	}
	var tombs []*kgo.Record
	for k := 0; k < 10; k++ {
		tombs = append(tombs, &kgo.Record{Key: []byte(fmt.Sprintf("key-%03d", k))})
	}
	res := cl.ProduceSync(ctx, tombs...)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		want[string(r.Record.Key)] = seen{r.Record.Offset, nil}
	}
	end := res[len(res)-1].Record.Offset + 1

	// Read the whole log from the start with a fresh consumer.
	readLog := func() map[string]seen {
		c := newClient(t, b.Addr(), kgo.ConsumeTopics("cmp"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
		defer c.Close()
		got := map[string]seen{}
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		prev := int64(-1)
		for prev < end-1 {
			pctx, pcancel := context.WithTimeout(rctx, time.Second)
			fs := c.PollFetches(pctx)
			pcancel()
			if rctx.Err() != nil {
				t.Fatalf("reading the log: %v (got %d keys)", rctx.Err(), len(got))
			}
			n := 0
			fs.EachRecord(func(r *kgo.Record) {
				n++
				if r.Offset <= prev {
					t.Errorf("offset %d after %d", r.Offset, prev)
				}
				prev = r.Offset
				if _, dup := got[string(r.Key)]; dup {
					got[string(r.Key)+"#dup"] = seen{r.Offset, r.Value}
				}
				got[string(r.Key)] = seen{r.Offset, r.Value}
			})
			if n == 0 && prev >= lastLive(want) {
				break // the tombstones at the end are gone
			}
		}
		return got
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		got := readLog()
		live, dups, tombsLeft := 0, 0, 0
		for k, s := range got {
			if len(k) > 4 && k[len(k)-4:] == "#dup" {
				dups++
				continue
			}
			w := want[k]
			if s.offset != w.offset || !bytes.Equal(s.value, w.value) {
				t.Fatalf("key %s: last read offset %d, want %d", k, s.offset, w.offset)
			}
			if s.value == nil {
				tombsLeft++
			} else {
				live++
			}
		}
		if live != 90 {
			t.Fatalf("%d live keys read, want 90", live)
		}
		if dups == 0 && tombsLeft == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not compacted after 60s: %d duplicate versions, %d tombstones left", dups, tombsLeft)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The concurrent consumer saw offsets in order and ends with every
	// key's latest value.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		ok := true
		for k, w := range want {
			if s := last[k]; s.offset != w.offset || !bytes.Equal(s.value, w.value) {
				ok = false
			}
		}
		err := orderErr
		mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the concurrent consumer did not see every latest value")
		}
	}
	cancel()
	cwg.Wait()
}

type seen struct {
	offset int64
	value  []byte
}

// lastLive is the highest offset among the live keys' latest values.
func lastLive(want map[string]seen) int64 {
	m := int64(-1)
	for _, s := range want {
		if s.value != nil {
			m = max(m, s.offset)
		}
	}
	return m
}
