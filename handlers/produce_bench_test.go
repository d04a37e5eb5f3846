package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/config"
	"samsa/controller"
	"samsa/internal/batchtest"
	"samsa/logstore"
	"samsa/protocol"
	"samsa/quota"
)

// BenchmarkProduceHandler is the produce path from a decoded request to
// its response (acks=1, one partition, 10 records of 100 bytes): with no
// quota set, with a quota that does not apply to this client, and with a
// producer_byte_rate that applies (high enough never to throttle).
func BenchmarkProduceHandler(b *testing.B) {
	for _, tc := range []struct {
		name   string
		quotas []quota.Entry
	}{
		{"no-quota", nil},
		{"other-client-quota", []quota.Entry{{Entity: quota.Entity{ClientID: quota.Named("other")}, Values: map[string]float64{quota.ProducerByteRate: 1e15}}}},
		{"client-quota", []quota.Entry{{Entity: quota.Entity{ClientID: quota.Named("bench")}, Values: map[string]float64{quota.ProducerByteRate: 1e15}}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := benchHandlers(b, 1)
			h.Quotas.Set(tc.quotas)
			batch := batchtest.Batch{Records: batchtest.Simple(10, 100), BaseTimestamp: time.Now().UnixMilli(), MaxTimestamp: time.Now().UnixMilli() + 9}.Bytes()
			client := "bench"
			b.ReportAllocs()
			b.SetBytes(int64(len(batch)))
			buf := make([]byte, len(batch))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				copy(buf, batch) // the append rewrites the batch header in place
				req := kmsg.NewPtrProduceRequest()
				req.Version, req.Acks, req.TimeoutMillis = 9, 1, 5000
				rt := kmsg.NewProduceRequestTopic()
				rt.Topic = "bench"
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Records = buf
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				r := &protocol.Request{Header: protocol.RequestHeader{Key: 0, Version: 9, ClientID: &client}, Body: req, Size: len(batch) + 60, Logger: slog.Default()}
				resp, err := h.Handle(context.Background(), r)
				if err != nil {
					b.Fatal(err)
				}
				if c := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; c != 0 {
					b.Fatalf("produce error %d %v", c, resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorMessage)
				}
			}
		})
	}
}

// benchHandlers is a single node's Handlers with its log in a temp dir
// and a topic "bench" of the given partitions.
func benchHandlers(b *testing.B, partitions int32) *Handlers {
	dir := b.TempDir()
	ctrl, err := controller.OpenSingle(controller.SingleConfig{Dir: filepath.Join(dir, "meta"), BrokerID: 1, Host: "127.0.0.1", Port: 9092})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ctrl.Close() })
	h := New(Deps{Config: config.Default(), Controller: ctrl})
	logs, err := logstore.Open(logstore.Options{Dir: dir, IndexDir: filepath.Join(dir, "idx"), ConfigFor: h.PartitionConfigFor,
		ProducerIDExpiration: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logs.Close() })
	h.Logs = logs
	if _, err := ctrl.CreateTopic(context.Background(), controller.CreateTopic{Name: "bench", NumPartitions: partitions, ReplicationFactor: 1}); err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkProduceHandlerPartitions is a 960 KiB Produce request (acks=1,
// 1 KiB records) in one batch for one partition, and split into 8
// batches of 120 KiB for 8 partitions, which appendAll appends in
// parallel: on a machine with spare cores the 8-partition request should
// take less time than the 1-partition one, not the same.
func BenchmarkProduceHandlerPartitions(b *testing.B) {
	for _, parts := range []int32{1, 8} {
		b.Run(fmt.Sprintf("p%d", parts), func(b *testing.B) {
			h := benchHandlers(b, parts)
			perBatch := 960 / int(parts) // one batch below message.max.bytes for p1
			now := time.Now().UnixMilli()
			batch := batchtest.Batch{Records: batchtest.Simple(perBatch, 1024), BaseTimestamp: now, MaxTimestamp: now}.Bytes()
			bufs := make([][]byte, parts)
			for i := range bufs {
				bufs[i] = make([]byte, len(batch))
			}
			client := "bench"
			b.ReportAllocs()
			b.SetBytes(int64(len(batch)) * int64(parts))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := kmsg.NewPtrProduceRequest()
				req.Version, req.Acks, req.TimeoutMillis = 9, 1, 5000
				rt := kmsg.NewProduceRequestTopic()
				rt.Topic = "bench"
				for p := range bufs {
					copy(bufs[p], batch) // the append rewrites the batch header in place
					rp := kmsg.NewProduceRequestTopicPartition()
					rp.Partition, rp.Records = int32(p), bufs[p]
					rt.Partitions = append(rt.Partitions, rp)
				}
				req.Topics = append(req.Topics, rt)
				r := &protocol.Request{Header: protocol.RequestHeader{Key: 0, Version: 9, ClientID: &client}, Body: req, Size: len(batch)*int(parts) + 60, Logger: slog.Default()}
				resp, err := h.Handle(context.Background(), r)
				if err != nil {
					b.Fatal(err)
				}
				for _, sp := range resp.(*kmsg.ProduceResponse).Topics[0].Partitions {
					if sp.ErrorCode != 0 {
						b.Fatalf("produce error %d %v", sp.ErrorCode, sp.ErrorMessage)
					}
				}
			}
		})
	}
}
