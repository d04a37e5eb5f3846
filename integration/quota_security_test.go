package integration

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"samsa/embed"
	"samsa/internal/testbroker"
	"samsa/internal/testcerts"
)

// overQuotaProduce sends one Produce of about 115 kB through cl and
// returns its throttle_time_ms.
func overQuotaProduce(t *testing.T, cl *kgo.Client) int32 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "no-such-topic"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = make([]byte, 115_000)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return resp.ThrottleMillis
}

// TestUserQuotaFollowsSASLPrincipal: a user quota applies to the
// principal SASL authenticated (KafkaPrincipal.getName, as Kafka's
// DefaultQuotaCallback resolves it), and not to the ANONYMOUS principal
// of a PLAINTEXT connection with the same client id.
func TestUserQuotaFollowsSASLPrincipal(t *testing.T) {
	sb := startSecureBroker(t, t.TempDir(), testcerts.NewCA(t))
	adm := newAdmin(t, sb.plain)
	res, err := adm.AlterClientQuotas(ctxT(t), []kadm.AlterClientQuotaEntry{{
		Entity: []kadm.ClientQuotaEntityComponent{{Type: "user", Name: kmsg.StringPtr("alice")}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 10000}},
	}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("alter quota: %v %+v", err, res)
	}
	alice := newClient(t, sb.saslPlain, kgo.ClientID("same"), kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()))
	if ms := overQuotaProduce(t, alice); ms < 1000 {
		t.Errorf("alice over her 10 kB/s quota: throttle_time_ms %d, want about 1500", ms)
	}
	anon := newClient(t, sb.plain, kgo.ClientID("same"))
	if ms := overQuotaProduce(t, anon); ms != 0 {
		t.Errorf("ANONYMOUS throttled %d ms by alice's quota", ms)
	}
	bob := newClient(t, sb.saslPlain, kgo.ClientID("same"), kgo.SASL(plain.Auth{User: "bob", Pass: "bob-secret"}.AsMechanism()))
	if ms := overQuotaProduce(t, bob); ms != 0 {
		t.Errorf("bob throttled %d ms by alice's quota", ms)
	}
}

// TestMaxConnectionsInterBrokerListener: with several listeners the
// inter-broker one is served past max.connections and its connections
// count toward it (Kafka's ConnectionQuotas.protectedListener).
func TestMaxConnectionsInterBrokerListener(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embed.Start(ctx, embed.Config{
		Listeners: "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0",
		Properties: []string{
			"listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
			"inter.broker.listener.name=INTERNAL",
			"max.connections=1",
		},
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	internal, external := b.Addrs()[0], b.Addrs()[1]
	apiVersions := frame(18, 2, 1, kmsg.NewPtrApiVersionsRequest().AppendTo(nil))
	served := func(addr string, within time.Duration) (net.Conn, bool) {
		c := dial(t, addr)
		c.Write(apiVersions)
		c.SetReadDeadline(time.Now().Add(within))
		_, err := c.Read(make([]byte, 4))
		return c, err == nil
	}
	c1, ok := served(external, 5*time.Second)
	if !ok {
		t.Fatal("first connection not served")
	}
	c2, ok := served(internal, 5*time.Second)
	if !ok {
		t.Fatal("inter-broker listener not served at max.connections")
	}
	c3 := dial(t, external)
	c3.Write(apiVersions)
	c3.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c3.Read(make([]byte, 4)); err == nil {
		t.Fatal("external connection served beyond max.connections")
	}
	c1.Close()
	c3.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c3.Read(make([]byte, 4)); err == nil {
		t.Fatal("external connection served while the inter-broker one fills max.connections")
	}
	c2.Close()
	c3.SetReadDeadline(time.Now().Add(5 * time.Second))
	readResponse(t, c3)
}

// TestProducerByteRateQuotaShortWindow: with quota.window.num=2 and
// quota.window.size.seconds=1 the rate settles within seconds; quotas are
// altered and described through kadm as kafka-configs does, and a
// fractional byte rate is INVALID_REQUEST.
func TestProducerByteRateQuotaShortWindow(t *testing.T) {
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
	rateOf := func(clientID string, d time.Duration) float64 {
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
	slow := rateOf("slow", 3*time.Second)
	fast := rateOf("fast", 1*time.Second)
	t.Logf("slow client %.2f MB/s, other client %.2f MB/s", slow/1e6, fast/1e6)
	// With a 1 s minimum window a client may send about 1 s worth ahead
	// of the quota (and one 64 KiB record at a time): allow 1.8x over 3 s.
	if slow > 1.8*rate {
		t.Errorf("quota'd client produced %.0f B/s, quota %d B/s", slow, rate)
	}
	if fast < 2*slow && fast < 20*rate {
		t.Errorf("unthrottled client %.0f B/s is not faster than the throttled one %.0f B/s", fast, slow)
	}
}

// TestClientQuotasNeedClusterACLs: with the authorizer on,
// AlterClientQuotas needs ALTER_CONFIGS and DescribeClientQuotas
// DESCRIBE_CONFIGS on the cluster (Kafka's KafkaApis); a super user may
// do both, and a refused alter changes nothing.
func TestClientQuotasNeedClusterACLs(t *testing.T) {
	_, saslAddr, _ := startACLBroker(t, t.TempDir())
	ctx := ctxT(t)
	entry := []kadm.AlterClientQuotaEntry{{
		Entity: []kadm.ClientQuotaEntityComponent{{Type: "user", Name: kmsg.StringPtr("bob")}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1000}},
	}}
	alice := kadm.NewClient(userClient(t, saslAddr, "alice"))
	res, err := alice.AlterClientQuotas(ctx, entry)
	if err != nil || len(res) != 1 || !errors.Is(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice alters a quota: %v %+v, want CLUSTER_AUTHORIZATION_FAILED", err, res)
	}
	if _, err := alice.DescribeClientQuotas(ctx, false, nil); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice describes quotas: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	admin := kadm.NewClient(userClient(t, saslAddr, "admin"))
	desc, err := admin.DescribeClientQuotas(ctx, false, nil)
	if err != nil || len(desc) != 0 {
		t.Fatalf("quotas after a refused alter: %v %+v", err, desc)
	}
	if res, err := admin.AlterClientQuotas(ctx, entry); err != nil || res[0].Err != nil {
		t.Fatalf("super user alters a quota: %v %+v", err, res)
	}
	desc, err = admin.DescribeClientQuotas(ctx, false, nil)
	if err != nil || len(desc) != 1 || desc[0].Values[0].Value != 1000 {
		t.Fatalf("describe after alter: %v %+v", err, desc)
	}
}
