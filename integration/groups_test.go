package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

// groupOverrides make rebalances quick enough for tests: no initial
// delay, and session timeouts down to 500 ms.
var groupOverrides = []string{"group.initial.rebalance.delay.ms=0", "group.min.session.timeout.ms=500"}

// cuttableNet dials real connections and can cut them all at once, which
// to the broker looks like a crashed client: no LeaveGroup arrives.
type cuttableNet struct {
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

func (c *cuttableNet) dial(ctx context.Context, network, host string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return nil, errors.New("network cut by test")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, host)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

func (c *cuttableNet) Cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	for _, conn := range c.conns {
		conn.Close()
	}
}

// consumed records which member saw each record value, across members.
type consumed struct {
	mu   sync.Mutex
	seen map[string][]string
}

func (c *consumed) add(member, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string][]string{}
	}
	c.seen[value] = append(c.seen[value], member)
}

func (c *consumed) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// member is one group consumer that commits synchronously after each poll
// and only then lets a rebalance proceed, so that in a correct broker no
// record is ever delivered twice.
type member struct {
	name string
	cl   *kgo.Client
	net  *cuttableNet
	stop context.CancelFunc
	done chan struct{}

	mu       sync.Mutex
	assigned map[int32]bool
	revoked  int
}

func startMember(t *testing.T, addr, group, topic, name string, out *consumed, opts ...kgo.Opt) *member {
	t.Helper()
	m := &member{name: name, net: &cuttableNet{}, done: make(chan struct{}), assigned: map[int32]bool{}}
	base := []kgo.Opt{
		kgo.SeedBrokers(addr), kgo.Dialer(m.net.dial), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(1500 * time.Millisecond), kgo.HeartbeatInterval(100 * time.Millisecond),
		kgo.FetchMaxWait(100 * time.Millisecond), kgo.RetryTimeout(5 * time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			for _, p := range a[topic] {
				m.assigned[p] = true
			}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			for _, p := range r[topic] {
				delete(m.assigned, p)
			}
			m.revoked++
			m.mu.Unlock()
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			m.mu.Lock()
			for _, p := range l[topic] {
				delete(m.assigned, p)
			}
			m.mu.Unlock()
		}),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			recs := fs.Records()
			if len(recs) > 0 {
				if err := cl.CommitRecords(ctx, recs...); err == nil {
					for _, r := range recs {
						out.add(name, string(r.Value))
					}
				}
			}
			cl.AllowRebalance()
		}
	}()
	return m
}

func (m *member) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ps []int32
	for p := range m.assigned {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

// close stops the member; crash cuts its network first so that it cannot
// leave the group.
func (m *member) close(crash bool) {
	if crash {
		m.net.Cut()
	}
	m.stop()
	<-m.done
	m.cl.Close()
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func produceValues(t *testing.T, addr, topic string, from, to int) {
	t.Helper()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic))
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%05d", i))})
	}
	produceAll(t, cl, recs...)
	cl.Close()
}

func balanced(members []*member, perMember int, total int) bool {
	all := map[int32]bool{}
	for _, m := range members {
		ps := m.partitions()
		if len(ps) != perMember {
			return false
		}
		for _, p := range ps {
			all[p] = true
		}
	}
	return len(all) == total
}

func runGroupFailover(t *testing.T, extra ...kgo.Opt) {
	b := testbroker.Start(t, testbroker.InProcess, groupOverrides...)
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 6, 1, nil, "g6"); err != nil {
		t.Fatal(err)
	}
	produceValues(t, b.Addr(), "g6", 0, 300)
	out := &consumed{}
	var ms []*member
	for i := 0; i < 3; i++ {
		ms = append(ms, startMember(t, b.Addr(), "grp", "g6", fmt.Sprintf("m%d", i), out, extra...))
	}
	defer func() {
		for _, m := range ms[:2] {
			m.close(false)
		}
	}()
	waitFor(t, "three members with two partitions each", 30*time.Second, func() bool { return balanced(ms, 2, 6) })
	waitFor(t, "first 300 records consumed and committed", 30*time.Second, func() bool { return out.count() == 300 })

	cutAt := time.Now()
	ms[2].close(true)
	produceValues(t, b.Addr(), "g6", 300, 600)
	waitFor(t, "two members owning all six partitions", 30*time.Second, func() bool { return balanced(ms[:2], 3, 6) })
	t.Logf("rebalance after an unannounced departure took %v (session timeout 1.5s)", time.Since(cutAt).Round(time.Millisecond))
	waitFor(t, "all 600 records consumed", 30*time.Second, func() bool { return out.count() == 600 })

	out.mu.Lock()
	defer out.mu.Unlock()
	for v, who := range out.seen {
		if len(who) != 1 {
			t.Fatalf("record %s delivered %d times (to %v)", v, len(who), who)
		}
	}
}

// TestConsumerGroupFailover: three consumers share six partitions; one
// vanishes without LeaveGroup; the other two take its partitions after
// the session timeout; nothing committed is re-delivered, nothing skipped.
func TestConsumerGroupFailover(t *testing.T) {
	t.Run("eager", func(t *testing.T) { runGroupFailover(t) })
	t.Run("cooperative-sticky", func(t *testing.T) {
		runGroupFailover(t, kgo.Balancers(kgo.CooperativeStickyBalancer()))
	})
}

// TestStaticMemberRestart: a static member that restarts within its
// session timeout gets its partitions back without a rebalance.
func TestStaticMemberRestart(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, groupOverrides...)
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 4, 1, nil, "st"); err != nil {
		t.Fatal(err)
	}
	out := &consumed{}
	a := startMember(t, b.Addr(), "sgrp", "st", "a", out, kgo.InstanceID("a"), kgo.SessionTimeout(10*time.Second))
	defer a.close(false)
	s := startMember(t, b.Addr(), "sgrp", "st", "s", out, kgo.InstanceID("s"), kgo.SessionTimeout(10*time.Second))
	waitFor(t, "two static members with two partitions each", 30*time.Second, func() bool { return balanced([]*member{a, s}, 2, 4) })
	before := s.partitions()
	a.mu.Lock()
	revokedBefore := a.revoked
	a.mu.Unlock()

	s.close(false) // a static member does not leave the group on close
	s2 := startMember(t, b.Addr(), "sgrp", "st", "s", out, kgo.InstanceID("s"), kgo.SessionTimeout(10*time.Second))
	defer s2.close(false)
	waitFor(t, "restarted static member assigned", 30*time.Second, func() bool { return len(s2.partitions()) == 2 })
	if got := s2.partitions(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("static member got %v after restart, had %v", got, before)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.revoked != revokedBefore || len(a.assigned) != 2 {
		t.Fatalf("the other member saw a rebalance: revoked %d -> %d, assigned %v", revokedBefore, a.revoked, a.assigned)
	}
}

// TestGroupResumesAfterBrokerRestart: committed offsets survive a broker
// restart and the group continues from them.
func TestGroupResumesAfterBrokerRestart(t *testing.T) {
	eachMode(t, func(t *testing.T, b *testbroker.Broker) {
		if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 2, 1, nil, "rs"); err != nil {
			t.Fatal(err)
		}
		produceValues(t, b.Addr(), "rs", 0, 100)
		out := &consumed{}
		m := startMember(t, b.Addr(), "rgrp", "rs", "m", out)
		waitFor(t, "100 records consumed", 30*time.Second, func() bool { return out.count() == 100 })
		m.close(false)

		b.Restart()
		adm := newAdmin(t, b.Addr())
		lags, err := adm.Lag(ctxT(t), "rgrp")
		if err != nil {
			t.Fatal(err)
		}
		if l := lags["rgrp"]; l.Error() != nil || l.Lag.Total() != 0 {
			t.Fatalf("after restart: lag %+v err %v", l.Lag, l.Error())
		}
		produceValues(t, b.Addr(), "rs", 100, 150)
		m2 := startMember(t, b.Addr(), "rgrp", "rs", "m2", out)
		defer m2.close(false)
		waitFor(t, "50 new records consumed", 30*time.Second, func() bool { return out.count() == 150 })
		out.mu.Lock()
		defer out.mu.Unlock()
		for v, who := range out.seen {
			if len(who) != 1 {
				t.Fatalf("record %s re-delivered after restart (to %v)", v, who)
			}
		}
	}, groupOverrides...)
}

// TestGroupAdmin: describe, list, offsets, delete through kadm.
func TestGroupAdmin(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, groupOverrides...)
	ctx := ctxT(t)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "ga"); err != nil {
		t.Fatal(err)
	}
	produceValues(t, b.Addr(), "ga", 0, 30)
	out := &consumed{}
	m := startMember(t, b.Addr(), "agrp", "ga", "m", out)
	waitFor(t, "30 records consumed", 30*time.Second, func() bool { return out.count() == 30 })

	listed, err := adm.ListGroups(ctx)
	if err != nil || len(listed) != 1 || listed["agrp"].State != "Stable" || listed["agrp"].ProtocolType != "consumer" {
		t.Fatalf("list groups: %+v %v", listed, err)
	}
	described, err := adm.DescribeGroups(ctx, "agrp")
	if err != nil {
		t.Fatal(err)
	}
	d := described["agrp"]
	if d.Err != nil || d.State != "Stable" || len(d.Members) != 1 || d.Protocol == "" {
		t.Fatalf("describe: %+v", d)
	}
	// Deleting a group with members is refused.
	dr, err := adm.DeleteGroups(ctx, "agrp")
	if err != nil || dr["agrp"].Err == nil {
		t.Fatalf("delete non-empty group: %+v %v", dr, err)
	}
	m.close(false)
	waitFor(t, "group empty", 10*time.Second, func() bool {
		d, err := adm.DescribeGroups(ctx, "agrp")
		return err == nil && d["agrp"].State == "Empty"
	})
	offs, err := adm.FetchOffsets(ctx, "agrp")
	if err != nil || offs.Error() != nil {
		t.Fatalf("fetch offsets: %v %v", err, offs.Error())
	}
	total := int64(0)
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 30 {
		t.Fatalf("committed offsets sum to %d, want 30", total)
	}
	// Reset to the start as kafka-consumer-groups --reset-offsets does.
	reset := kadm.Offsets{}
	for p := int32(0); p < 3; p++ {
		reset.Add(kadm.Offset{Topic: "ga", Partition: p, At: 0, LeaderEpoch: -1})
	}
	cr, err := adm.CommitOffsets(ctx, "agrp", reset)
	if err != nil || cr.Error() != nil {
		t.Fatalf("reset offsets: %v %v", err, cr.Error())
	}
	lags, err := adm.Lag(ctx, "agrp")
	if err != nil || lags["agrp"].Lag.Total() != 30 {
		t.Fatalf("lag after reset: %+v %v", lags["agrp"].Lag, err)
	}
	// Offsets of a deleted topic go with it.
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "gone"); err != nil {
		t.Fatal(err)
	}
	gone := kadm.Offsets{}
	gone.Add(kadm.Offset{Topic: "gone", Partition: 0, At: 0, LeaderEpoch: -1})
	if cr, err := adm.CommitOffsets(ctx, "agrp", gone); err != nil || cr.Error() != nil {
		t.Fatalf("commit to gone: %v %v", err, cr.Error())
	}
	if _, err := adm.DeleteTopic(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	offs, err = adm.FetchOffsets(ctx, "agrp")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := offs.Lookup("gone", 0); ok {
		t.Fatal("committed offset of a deleted topic survived")
	}

	dr, err = adm.DeleteGroups(ctx, "agrp")
	if err != nil || dr["agrp"].Err != nil {
		t.Fatalf("delete empty group: %+v %v", dr, err)
	}
	described, _ = adm.DescribeGroups(ctx, "agrp")
	if described["agrp"].State != "Dead" && described["agrp"].Err == nil {
		t.Fatalf("deleted group still described: %+v", described["agrp"])
	}
}

// TestOffsetsTopicInMetadata: the first FindCoordinator creates the
// internal __consumer_offsets topic, as Kafka does, and clients cannot
// produce to it.
func TestOffsetsTopicInMetadata(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "offsets.topic.num.partitions=5")
	adm := newAdmin(t, b.Addr())
	if err := adm.FindGroupCoordinators(ctxT(t), "some-group").Error(); err != nil {
		t.Fatal(err)
	}
	topics, err := newAdmin(t, b.Addr()).ListTopicsWithInternal(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	ot, ok := topics["__consumer_offsets"]
	if !ok || !ot.IsInternal || len(ot.Partitions) != 5 {
		t.Fatalf("__consumer_offsets: %+v (present %v)", ot, ok)
	}
	if p := produceRaw(t, b.Addr(), 9, 1, "__consumer_offsets", rawBatch("x", -1, -1, -1)); p.ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("produce to internal topic: error %d", p.ErrorCode)
	}
}
