package handlers

import (
	"context"
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
			dir := b.TempDir()
			ctrl, err := controller.OpenSingle(controller.SingleConfig{Dir: filepath.Join(dir, "meta"), BrokerID: 1, Host: "127.0.0.1", Port: 9092})
			if err != nil {
				b.Fatal(err)
			}
			defer ctrl.Close()
			h := New(Deps{Config: config.Default(), Controller: ctrl})
			logs, err := logstore.Open(logstore.Options{Dir: dir, IndexDir: filepath.Join(dir, "idx"), ConfigFor: h.PartitionConfigFor,
				ProducerIDExpiration: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer logs.Close()
			h.Logs = logs
			h.Quotas.Set(tc.quotas)
			if _, err := ctrl.CreateTopic(context.Background(), controller.CreateTopic{Name: "bench", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
				b.Fatal(err)
			}
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
