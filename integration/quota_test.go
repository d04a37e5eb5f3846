package integration

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/embed"
	"samsa/internal/testbroker"
)

// alterQuotas sends one AlterClientQuotas entry and returns its error
// code and message.
func alterQuotas(t *testing.T, cl *kgo.Client, validateOnly bool, entity [][2]*string, ops ...kmsg.AlterClientQuotasRequestEntryOp) (int16, string) {
	t.Helper()
	req := kmsg.NewPtrAlterClientQuotasRequest()
	req.ValidateOnly = validateOnly
	e := kmsg.NewAlterClientQuotasRequestEntry()
	for _, c := range entity {
		ec := kmsg.NewAlterClientQuotasRequestEntryEntity()
		ec.Type, ec.Name = *c[0], c[1]
		e.Entity = append(e.Entity, ec)
	}
	e.Ops = ops
	req.Entries = append(req.Entries, e)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatalf("AlterClientQuotas: %v", err)
	}
	if len(resp.Entries) != 1 {
		t.Fatalf("AlterClientQuotas answered %d entries", len(resp.Entries))
	}
	msg := ""
	if m := resp.Entries[0].ErrorMessage; m != nil {
		msg = *m
	}
	return resp.Entries[0].ErrorCode, msg
}

func setOp(key string, v float64) kmsg.AlterClientQuotasRequestEntryOp {
	op := kmsg.NewAlterClientQuotasRequestEntryOp()
	op.Key, op.Value = key, v
	return op
}

func removeOp(key string) kmsg.AlterClientQuotasRequestEntryOp {
	op := kmsg.NewAlterClientQuotasRequestEntryOp()
	op.Key, op.Remove = key, true
	return op
}

func sp(s string) *string { return &s }

// describeAll returns every quota entity as "type=name,..." -> "key=value,..."
// strings, the default entity as <default>.
func describeAll(t *testing.T, cl *kgo.Client) map[string]string {
	t.Helper()
	req := kmsg.NewPtrDescribeClientQuotasRequest()
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("DescribeClientQuotas: %v %v", err, resp)
	}
	out := map[string]string{}
	for _, e := range resp.Entries {
		var ent, vals []string
		for _, c := range e.Entity {
			n := "<default>"
			if c.Name != nil {
				n = *c.Name
			}
			ent = append(ent, c.Type+"="+n)
		}
		for _, v := range e.Values {
			vals = append(vals, fmt.Sprintf("%s=%g", v.Key, v.Value))
		}
		out[strings.Join(ent, ",")] = strings.Join(vals, ",")
	}
	return out
}

// TestClientQuotasAlterDescribe alters user, client-id, user+client-id,
// default and ip entities with Kafka's validation, describes them, and
// finds them again after a restart.
func TestClientQuotasAlterDescribe(t *testing.T) {
	b := testbroker.Start(t, testbroker.Binary)
	cl := newClient(t, b.Addr())
	user, client, ip := sp("user"), sp("client-id"), sp("ip")

	for _, tc := range []struct {
		entity [][2]*string
		ops    []kmsg.AlterClientQuotasRequestEntryOp
		code   int16
		msg    string
	}{
		{[][2]*string{{user, sp("alice")}}, []kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 1048576), setOp("request_percentage", 12.5)}, 0, ""},
		{[][2]*string{{user, sp("alice")}, {client, nil}}, []kmsg.AlterClientQuotasRequestEntryOp{setOp("consumer_byte_rate", 2048)}, 0, ""},
		{[][2]*string{{client, nil}}, []kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 4096)}, 0, ""},
		{[][2]*string{{ip, sp("10.1.2.3")}}, []kmsg.AlterClientQuotasRequestEntryOp{setOp("connection_creation_rate", 7)}, 0, ""},
		{[][2]*string{{user, nil}}, []kmsg.AlterClientQuotasRequestEntryOp{setOp("controller_mutation_rate", 3.5)}, 0, ""},
		// Kafka's validation.
		{[][2]*string{{ip, sp("10.1.2.3")}}, []kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 7)}, kerr.InvalidRequest.Code, "Invalid configuration key producer_byte_rate"},
		{[][2]*string{{user, sp("bob")}}, []kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 1.5)}, kerr.InvalidRequest.Code, "producer_byte_rate cannot be a fractional value."},
		{[][2]*string{{user, sp("bob")}}, []kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", -1)}, kerr.InvalidRequest.Code, "Quota producer_byte_rate must be greater than 0"},
		{[][2]*string{{sp("group"), sp("g")}}, []kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 1)}, kerr.InvalidRequest.Code, "Unhandled client quota entity type: group"},
		{[][2]*string{{user, sp("")}}, []kmsg.AlterClientQuotasRequestEntryOp{setOp("producer_byte_rate", 1)}, kerr.InvalidRequest.Code, "Empty user not supported"},
	} {
		code, msg := alterQuotas(t, cl, false, tc.entity, tc.ops...)
		if code != tc.code || msg != tc.msg {
			t.Errorf("alter %v: code %d %q, want %d %q", tc.entity, code, msg, tc.code, tc.msg)
		}
	}
	// validate_only changes nothing.
	if code, _ := alterQuotas(t, cl, true, [][2]*string{{user, sp("carol")}}, setOp("producer_byte_rate", 10)); code != 0 {
		t.Fatalf("validate_only: code %d", code)
	}
	// Removing a key; removing an absent one is a no-op.
	if code, _ := alterQuotas(t, cl, false, [][2]*string{{user, sp("alice")}}, removeOp("request_percentage"), removeOp("consumer_byte_rate")); code != 0 {
		t.Fatalf("remove: code %d", code)
	}
	want := map[string]string{
		"user=alice":                     "producer_byte_rate=1.048576e+06",
		"client-id=<default>,user=alice": "consumer_byte_rate=2048",
		"client-id=<default>":            "producer_byte_rate=4096",
		"ip=10.1.2.3":                    "connection_creation_rate=7",
		"user=<default>":                 "controller_mutation_rate=3.5",
	}
	check := func(when string) {
		got := describeAll(t, cl)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: described %v, want %v", when, got, want)
		}
	}
	check("after alter")

	// Filters: strict exact user; specified client-id; ip with user refused.
	req := kmsg.NewPtrDescribeClientQuotasRequest()
	c := kmsg.NewDescribeClientQuotasRequestComponent()
	c.EntityType, c.MatchType, c.Match = "user", 0, sp("alice")
	req.Components, req.Strict = append(req.Components, c), true
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil || resp.ErrorCode != 0 || len(resp.Entries) != 1 || len(resp.Entries[0].Entity) != 1 {
		t.Fatalf("strict user=alice: %v %+v", err, resp)
	}
	c2 := kmsg.NewDescribeClientQuotasRequestComponent()
	c2.EntityType, c2.MatchType = "ip", 2
	req.Components = append(req.Components, c2)
	resp, err = req.RequestWith(ctxT(t), cl)
	if err != nil || resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("ip with user filter: %v code %d", err, resp.ErrorCode)
	}

	b.Restart()
	cl = newClient(t, b.Addr())
	check("after restart")

	// Removing the last key removes the entity.
	if code, _ := alterQuotas(t, cl, false, [][2]*string{{ip, sp("10.1.2.3")}}, removeOp("connection_creation_rate")); code != 0 {
		t.Fatalf("remove ip: code %d", code)
	}
	delete(want, "ip=10.1.2.3")
	check("after removing the ip quota")
}

// throttleHook records the throttle times a client is told.
type throttleHook struct {
	n     atomic.Int64
	maxMs atomic.Int64
}

func (h *throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	h.n.Add(1)
	for {
		cur := h.maxMs.Load()
		if d.Milliseconds() <= cur || h.maxMs.CompareAndSwap(cur, d.Milliseconds()) {
			return
		}
	}
}

// produceFor produces 16 KiB records as fast as the client may for d and
// returns the bytes acknowledged between from and d (from the start).
func produceFor(t *testing.T, cl *kgo.Client, topic string, from, d time.Duration) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	val := make([]byte, 16<<10)
	var acked atomic.Int64
	var wg sync.WaitGroup
	for ctx.Err() == nil {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: val}, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err == nil && time.Since(start) >= from && time.Since(start) < d {
				acked.Add(int64(len(r.Value)))
			}
		})
	}
	wg.Wait()
	return acked.Load()
}

// TestProducerByteRateQuota: a producer whose client id has a
// producer_byte_rate of 1 MB/s is held to about that rate over 11 s, with
// Kafka's windows (11 of 1 s), and is told throttle times; a producer
// with another client id on the same broker is not slowed. Kafka measures
// the rate over at least 10 windows, so the first 10 MB go through at
// once and the producer then waits: only a span of 10 s or more shows
// the quota rate, hence the test's length.
func TestProducerByteRateQuota(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	adminCl := newClient(t, b.Addr())
	if code, msg := alterQuotas(t, adminCl, false, [][2]*string{{sp("client-id"), sp("slow-producer")}}, setOp("producer_byte_rate", 1<<20)); code != 0 {
		t.Fatalf("alter: %d %s", code, msg)
	}
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctxT(t), 1, 1, nil, "quota-topic"); err != nil {
		t.Fatal(err)
	}
	hook := &throttleHook{}
	slow := newClient(t, b.Addr(), kgo.ClientID("slow-producer"), kgo.WithHooks(hook),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(256), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(128<<10))
	fast := newClient(t, b.Addr(), kgo.ClientID("fast-producer"),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(256), kgo.ProducerBatchCompression(kgo.NoCompression()))

	var fastBytes int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The unthrottled producer runs while the throttled one is held.
		time.Sleep(3 * time.Second)
		fastBytes = produceFor(t, fast, "quota-topic", 0, 2*time.Second)
	}()
	const from, until = 0, 11 * time.Second
	slowBytes := produceFor(t, slow, "quota-topic", from, until)
	wg.Wait()

	slowRate := float64(slowBytes) / (until - from).Seconds() / (1 << 20)
	fastRate := float64(fastBytes) / 2 / (1 << 20)
	t.Logf("throttled producer: %.2f MB/s from %v to %v, %d throttles, longest %d ms; other producer: %.1f MB/s",
		slowRate, from, until, hook.n.Load(), hook.maxMs.Load(), fastRate)
	if slowRate > 1.2 || slowRate < 0.8 {
		t.Errorf("throttled producer ran at %.2f MB/s, want about 1 MB/s", slowRate)
	}
	if hook.n.Load() == 0 || hook.maxMs.Load() <= 0 {
		t.Errorf("throttled producer was never told a throttle time")
	}
	if fastRate < 4 {
		t.Errorf("producer without quota ran at only %.1f MB/s", fastRate)
	}
}

// sendOverQuotaProduce starts a broker where client id "test" (what
// frame() sends) may produce 10 kB/s, and sends it a Produce of the given
// version carrying 115 kB: 100 kB at 10 kB/s over a 10 s minimum window
// is exactly the quota, the rest is over it. It returns the connection
// and when the request went out.
func sendOverQuotaProduce(t *testing.T, version int16) (net.Conn, time.Time) {
	t.Helper()
	b := testbroker.Start(t, testbroker.InProcess)
	cl := newClient(t, b.Addr())
	if code, msg := alterQuotas(t, cl, false, [][2]*string{{sp("client-id"), sp("test")}}, setOp("producer_byte_rate", 10000)); code != 0 {
		t.Fatalf("alter: %d %s", code, msg)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "no-such-topic"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = make([]byte, 115_000)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	c := dial(t, b.Addr())
	sent := time.Now()
	if _, err := c.Write(frame(0, version, 1, req.AppendTo(nil))); err != nil {
		t.Fatal(err)
	}
	return c, sent
}

// TestProduceThrottleMutesConnection (KIP-219): the Produce response
// carries throttle_time_ms at once, and the broker does not read the
// connection again until that time has passed.
func TestProduceThrottleMutesConnection(t *testing.T) {
	c, sent := sendOverQuotaProduce(t, 8)
	// Pipeline an ApiVersions right behind it.
	if _, err := c.Write(frame(18, 2, 2, kmsg.NewPtrApiVersionsRequest().AppendTo(nil))); err != nil {
		t.Fatal(err)
	}
	_, body := readResponse(t, c)
	gotProduce := time.Since(sent)
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 8
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("produce response: %v", err)
	}
	// ~115 kB / 10 s = 11.5 kB/s: (11.5-10)/10 * 10 s = about 1.5 s.
	if resp.ThrottleMillis < 1300 || resp.ThrottleMillis > 1700 {
		t.Fatalf("throttle_time_ms = %d, want about 1500", resp.ThrottleMillis)
	}
	if gotProduce > 500*time.Millisecond {
		t.Fatalf("produce response took %v: it must go out at once", gotProduce)
	}
	readResponse(t, c)
	muted := time.Since(sent)
	if muted < time.Duration(resp.ThrottleMillis)*time.Millisecond-50*time.Millisecond {
		t.Fatalf("next request answered after %v, before the %d ms throttle ended", muted, resp.ThrottleMillis)
	}
	t.Logf("throttle %d ms; produce answered after %v, next request after %v", resp.ThrottleMillis, gotProduce, muted)
}

// TestMaxConnectionsPerIP: the connection beyond max.connections.per.ip
// is closed at once; once one closes, a new one is served.
func TestMaxConnectionsPerIP(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "max.connections.per.ip=2")
	apiVersions := frame(18, 2, 1, kmsg.NewPtrApiVersionsRequest().AppendTo(nil))
	c1, c2 := dial(t, b.Addr()), dial(t, b.Addr())
	for _, c := range []interface{ Write([]byte) (int, error) }{c1, c2} {
		if _, err := c.Write(apiVersions); err != nil {
			t.Fatal(err)
		}
	}
	readResponse(t, c1)
	readResponse(t, c2)
	c3 := dial(t, b.Addr())
	c3.Write(apiVersions)
	expectClosed(t, c3)
	c1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c4 := dial(t, b.Addr())
		c4.SetDeadline(time.Now().Add(2 * time.Second))
		c4.Write(apiVersions)
		buf := make([]byte, 4)
		if _, err := c4.Read(buf); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection served after one of the two closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The refusals disturbed nothing for the connection kept open.
	if _, err := c2.Write(apiVersions); err != nil {
		t.Fatal(err)
	}
	readResponse(t, c2)
}

// TestConsumerByteRateQuota: a consumer with a consumer_byte_rate of
// 100 kB/s gets about 10 windows' worth (1 MB) in its first 3 s and is
// told throttle times; without the quota the 3 MB would all arrive.
func TestConsumerByteRateQuota(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	cl := newClient(t, b.Addr(), kgo.ProducerBatchMaxBytes(16<<10), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctxT(t), 1, 1, nil, "quota-consume"); err != nil {
		t.Fatal(err)
	}
	val := make([]byte, 8<<10)
	for i := 0; i < 384; i++ { // 3 MB
		cl.Produce(ctxT(t), &kgo.Record{Topic: "quota-consume", Value: val}, nil)
	}
	if err := cl.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if code, msg := alterQuotas(t, cl, false, [][2]*string{{sp("client-id"), sp("slow-consumer")}}, setOp("consumer_byte_rate", 100_000)); code != 0 {
		t.Fatalf("alter: %d %s", code, msg)
	}
	hook := &throttleHook{}
	cons := newClient(t, b.Addr(), kgo.ClientID("slow-consumer"), kgo.WithHooks(hook), kgo.ConsumeTopics("quota-consume"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var got int
	for ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { got += len(r.Value) })
	}
	t.Logf("consumed %d bytes in 3 s; %d throttles, longest %d ms", got, hook.n.Load(), hook.maxMs.Load())
	if got > 1_200_000 || got < 500_000 {
		t.Errorf("consumed %d bytes in 3 s, want about 1 MB (10 s of 100 kB/s)", got)
	}
	if hook.n.Load() == 0 {
		t.Error("consumer never told a throttle time")
	}
}

// TestIPConnectionCreationRate: with connection_creation_rate 1 for
// 127.0.0.1, ten connections fit the first 10 s window and the eleventh
// is closed (after its throttle time) without being served.
func TestIPConnectionCreationRate(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	cl := newClient(t, b.Addr())
	if code, msg := alterQuotas(t, cl, false, [][2]*string{{sp("ip"), sp("127.0.0.1")}}, setOp("connection_creation_rate", 1)); code != 0 {
		t.Fatalf("alter: %d %s", code, msg)
	}
	apiVersions := frame(18, 2, 1, kmsg.NewPtrApiVersionsRequest().AppendTo(nil))
	for i := 0; i < 10; i++ {
		c := dial(t, b.Addr())
		c.Write(apiVersions)
		readResponse(t, c)
	}
	c := dial(t, b.Addr())
	c.Write(apiVersions)
	start := time.Now()
	expectClosed(t, c)
	t.Logf("eleventh connection closed after %v", time.Since(start))
}

// TestMaxConnections: beyond max.connections the broker stops accepting
// until a connection closes, then serves the waiting one.
func TestMaxConnections(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "max.connections=2")
	apiVersions := frame(18, 2, 1, kmsg.NewPtrApiVersionsRequest().AppendTo(nil))
	c1, c2 := dial(t, b.Addr()), dial(t, b.Addr())
	c1.Write(apiVersions)
	c2.Write(apiVersions)
	readResponse(t, c1)
	readResponse(t, c2)
	c3 := dial(t, b.Addr())
	c3.Write(apiVersions)
	c3.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, err := c3.Read(make([]byte, 4)); err == nil || n > 0 {
		t.Fatalf("third connection served while two are open (read %d, %v)", n, err)
	}
	c1.Close()
	c3.SetReadDeadline(time.Now().Add(5 * time.Second))
	readResponse(t, c3)
}

// TestRequestPercentageQuota: a client id with a tiny request_percentage
// soon gets a Metadata answer with a throttle time, capped at one window
// (1 s) as Kafka's request quota caps it.
func TestRequestPercentageQuota(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	cl := newClient(t, b.Addr())
	if code, msg := alterQuotas(t, cl, false, [][2]*string{{sp("client-id"), sp("test")}}, setOp("request_percentage", 0.0001)); code != 0 {
		t.Fatalf("alter: %d %s", code, msg)
	}
	c := dial(t, b.Addr())
	for i := 0; i < 50; i++ {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 8
		c.Write(frame(3, 8, int32(i), req.AppendTo(nil)))
		_, body := readResponse(t, c)
		resp := kmsg.NewPtrMetadataResponse()
		resp.Version = 8
		if err := resp.ReadFrom(body); err != nil {
			t.Fatal(err)
		}
		if resp.ThrottleMillis > 0 {
			if resp.ThrottleMillis > 1000 {
				t.Fatalf("request throttle %d ms above the 1 s cap", resp.ThrottleMillis)
			}
			t.Logf("throttled %d ms after %d requests", resp.ThrottleMillis, i+1)
			return
		}
	}
	t.Fatal("50 Metadata requests never throttled")
}

// TestProduceThrottleBeforeKIP219: a Produce v5 client does not throttle
// itself, so the broker holds the response back for the throttle time,
// as Kafka does for responses before KIP-219.
func TestProduceThrottleBeforeKIP219(t *testing.T) {
	c, sent := sendOverQuotaProduce(t, 5)
	_, body := readResponse(t, c)
	took := time.Since(sent)
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = 5
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("produce response: %v", err)
	}
	if resp.ThrottleMillis < 1300 || resp.ThrottleMillis > 1700 {
		t.Fatalf("throttle_time_ms = %d, want about 1500", resp.ThrottleMillis)
	}
	if took < time.Duration(resp.ThrottleMillis)*time.Millisecond-50*time.Millisecond {
		t.Fatalf("v5 response after %v, before its %d ms throttle", took, resp.ThrottleMillis)
	}
}

// TestShutdownWithAcceptWaiting: a broker whose accept loop waits for a
// max.connections slot still shuts down promptly, and the waiting
// connection is closed without an answer (admitted during shutdown, it
// is released, not served).
func TestShutdownWithAcceptWaiting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embed.Start(ctx, embed.Config{Properties: []string{"max.connections=1"}})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	apiVersions := frame(18, 2, 1, kmsg.NewPtrApiVersionsRequest().AppendTo(nil))
	c1 := dial(t, b.Addr())
	c1.Write(apiVersions)
	readResponse(t, c1)
	c2 := dial(t, b.Addr()) // the accept loop now waits for a slot
	c2.Write(apiVersions)
	time.Sleep(200 * time.Millisecond)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		t.Logf("closed in %v (%v)", time.Since(start), err)
	case <-time.After(10 * time.Second):
		t.Fatal("broker did not shut down while its accept loop waited for a slot")
	}
	expectClosed(t, c2)
}
