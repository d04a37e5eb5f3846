package integration

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

// BenchmarkProduce drives the built binary with franz-go: 1 KiB records,
// acks=1 and acks=all, 1 and 8 partitions. Each op is one record, so the
// reported MB/s is the produce throughput.
func BenchmarkProduce(b *testing.B) {
	value := benchValue()
	for _, acks := range []struct {
		name string
		opts []kgo.Opt
	}{
		// kgo's idempotent producer requires acks=all.
		{"acks=1", []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}},
		{"acks=all", []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}},
	} {
		for _, parts := range []int32{1, 8} {
			b.Run(fmt.Sprintf("%s/partitions=%d", acks.name, parts), func(b *testing.B) {
				br := startBenchBroker(b)
				topic := "bench"
				cl, err := kgo.NewClient(append(acks.opts, kgo.SeedBrokers(br.Addr()), kgo.DefaultProduceTopic(topic),
					kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(time.Millisecond))...)
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				adm := kgoAdmin(cl)
				if _, err := adm.CreateTopic(context.Background(), parts, 1, nil, topic); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(value)))
				b.ResetTimer()
				errs := make(chan error, 1)
				for i := 0; i < b.N; i++ {
					cl.Produce(context.Background(), &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
						if err != nil {
							select {
							case errs <- err:
							default:
							}
						}
					})
				}
				if err := cl.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				select {
				case err := <-errs:
					b.Fatal(err)
				default:
				}
			})
		}
	}
}

// BenchmarkConsume reads back b.N 1 KiB records with franz-go from the
// binary, after producing them untimed. SAMSA_BINARY=path measures
// another build (the one before a change):
//
//	go test -run '^$' -bench Consume -benchtime 500000x ./integration
func BenchmarkConsume(b *testing.B) {
	for _, parts := range []int32{1, 8} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			br := startBenchBroker(b)
			value := benchValue()
			cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.DefaultProduceTopic("bench"), kgo.ProducerLinger(time.Millisecond),
				kgo.ProducerBatchCompression(kgo.NoCompression()))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := kgoAdmin(cl).CreateTopic(context.Background(), parts, 1, nil, "bench"); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < b.N; i++ {
				cl.Produce(context.Background(), &kgo.Record{Value: value}, nil)
			}
			if err := cl.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			cl.Close()
			// The fetch sizes of bench/load.go's consumer (make bench).
			cons, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.ConsumeTopics("bench"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(8<<20))
			if err != nil {
				b.Fatal(err)
			}
			defer cons.Close()
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			for n := 0; n < b.N; {
				fs := cons.PollFetches(context.Background())
				if err := fs.Err(); err != nil {
					b.Fatal(err)
				}
				n += fs.NumRecords()
			}
		})
	}
}

// startBenchBroker starts the binary for a benchmark. With
// SAMSA_BENCH_METRICS=1 it also turns on the HTTP listener and scrapes
// /metrics once a second while the benchmark runs, as a Prometheus would,
// so that the cost of metrics shows as the difference between runs with
// and without it:
//
//	go test -run '^$' -bench 'Produce|Consume' -benchtime 200000x -count 5 ./integration
//	SAMSA_BENCH_METRICS=1 go test -run '^$' -bench 'Produce|Consume' -benchtime 200000x -count 5 ./integration
func startBenchBroker(b *testing.B) *testbroker.Broker {
	if os.Getenv("SAMSA_BENCH_METRICS") != "1" {
		return testbroker.Start(b, testbroker.Binary)
	}
	port := testbroker.FreePort(b)
	br := testbroker.Start(b, testbroker.Binary, fmt.Sprintf("samsa.http.listeners=http://127.0.0.1:%d", port))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port)); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
	}()
	b.Cleanup(func() { close(stop); <-done })
	return br
}

// benchValue is 1 KiB of random bytes, so that no codec or page makes the
// measured bytes cheaper than real payloads (records are sent uncompressed).
func benchValue() []byte {
	v := make([]byte, 1024)
	rand.Read(v)
	return v
}
