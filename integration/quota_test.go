package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// TestProducerByteRateQuota: a client-id with producer_byte_rate of
// 1 MB/s is held to about that rate, with throttle_time_ms in its produce
// responses, while another client-id is not slowed down; the quota is
// described back and removed as kafka-configs does it.
func TestProducerByteRateQuota(t *testing.T) {
	// A window of 2 samples of 1 s (Kafka's quota.window.num and
	// quota.window.size.seconds) so that the rate settles within the test.
	b := testbroker.Start(t, testbroker.InProcess, "quota.window.num=2", "quota.window.size.seconds=1")
	ctx := ctxT(t)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "quota"); err != nil {
		t.Fatal(err)
	}
	const rate = 1 << 20
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: []kadm.ClientQuotaEntityComponent{{Type: "client-id", Name: kmsg.StringPtr("slow")}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: rate}},
	}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("alter quota: %v %+v", err, res)
	}
	desc, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: kmsg.QuotasMatchTypeExact, MatchName: kmsg.StringPtr("slow")}})
	if err != nil || len(desc) != 1 || desc[0].Values[0].Key != "producer_byte_rate" || desc[0].Values[0].Value != rate {
		t.Fatalf("describe quota: %v %+v", err, desc)
	}
	bad, _ := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: []kadm.ClientQuotaEntityComponent{{Type: "client-id", Name: kmsg.StringPtr("x")}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1.5}},
	}})
	if len(bad) != 1 || !errors.Is(bad[0].Err, kerr.InvalidRequest) {
		t.Errorf("fractional byte rate: %+v, want INVALID_REQUEST", bad)
	}

	value := make([]byte, 64<<10)
	produceFor := func(clientID string, d time.Duration) float64 {
		cl := newClient(t, b.Addr(), kgo.ClientID(clientID), kgo.DefaultProduceTopic("quota"),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
		var sent int
		start := time.Now()
		for time.Since(start) < d {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
				t.Fatalf("%s produce: %v", clientID, err)
			}
			sent += len(value)
		}
		return float64(sent) / time.Since(start).Seconds()
	}
	slow := produceFor("slow", 3*time.Second)
	fast := produceFor("fast", 1*time.Second)
	t.Logf("slow client %.2f MB/s, other client %.2f MB/s", slow/1e6, fast/1e6)
	// With a 1 s minimum window a client may send about 1 s worth ahead
	// of the quota (and one 64 KiB record at a time): allow 1.8x over 3 s.
	if slow > 1.8*rate {
		t.Errorf("quota'd client produced %.0f B/s, quota %d B/s", slow, rate)
	}
	if fast < 2*slow && fast < 20*rate {
		t.Errorf("unthrottled client %.0f B/s is not faster than the throttled one %.0f B/s", fast, slow)
	}

	// A raw produce over the quota reports throttle_time_ms.
	cl := newClient(t, b.Addr(), kgo.ClientID("slow"))
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "quota"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = rawBatch(string(value), -1, -1, -1)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	// Within 4 MiB (more than the quota allows in its 2 s window) a
	// response must say how long to back off.
	var throttle int32
	for i := 0; i < 64 && throttle == 0; i++ {
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil {
			t.Fatalf("raw produce: %v", err)
		}
		throttle = resp.ThrottleMillis
	}
	if throttle <= 0 {
		t.Error("no throttle_time_ms after 4 MiB at a 1 MiB/s quota")
	}
}
