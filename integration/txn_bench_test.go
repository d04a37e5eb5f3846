package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

// benchTxnClient starts the built binary with a 1-partition topic and a
// franz-go producer on it (transactional when tid is not "").
func benchTxnClient(b *testing.B, tid string) *kgo.Client {
	b.Helper()
	br := testbroker.Start(b, testbroker.Binary)
	opts := []kgo.Opt{kgo.SeedBrokers(br.Addr()), kgo.DefaultProduceTopic("bench"),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(time.Millisecond)}
	if tid != "" {
		opts = append(opts, kgo.TransactionalID(tid))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	if _, err := kgoAdmin(cl).CreateTopic(context.Background(), 1, 1, nil, "bench"); err != nil {
		b.Fatal(err)
	}
	return cl
}

// produceN sends n records of value and waits for them all.
func produceN(b *testing.B, cl *kgo.Client, value []byte, n int) {
	ctx := context.Background()
	var first error
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil && first == nil {
				first = err
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if first != nil {
		b.Fatal(first)
	}
}

// BenchmarkTxnCommit: one franz-go transactional producer against the
// built binary, each op one committed transaction of 10 records of 100
// bytes to one partition (begin, produce, flush, EndTxn commit with its
// markers). txn/s is the committed transactions per second.
func BenchmarkTxnCommit(b *testing.B) {
	cl := benchTxnClient(b, "bench-commit")
	value := make([]byte, 100)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := cl.BeginTransaction(); err != nil {
			b.Fatal(err)
		}
		produceN(b, cl, value, 10)
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "txn/s")
}

// BenchmarkTxnProduceMBps: the same load, 1 KiB records to one
// partition, each op one record, in groups of 1,000 (1 MiB): written by
// an idempotent producer (a flush per group) and by a transactional one
// (a committed transaction per group), so the MB/s compare the cost of
// transactions.
func BenchmarkTxnProduceMBps(b *testing.B) {
	const group = 1000
	value := benchValue()
	for _, mode := range []string{"idempotent", "transactional"} {
		b.Run(mode, func(b *testing.B) {
			tid := ""
			if mode == "transactional" {
				tid = "bench-mbps"
			}
			cl := benchTxnClient(b, tid)
			ctx := context.Background()
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			for done := 0; done < b.N; done += group {
				n := min(group, b.N-done)
				if tid != "" {
					if err := cl.BeginTransaction(); err != nil {
						b.Fatal(err)
					}
				}
				produceN(b, cl, value, n)
				if tid != "" {
					if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
						b.Fatal(fmt.Errorf("commit: %w", err))
					}
				}
			}
		})
	}
}
