// Command sarama runs one Samsa compatibility scenario with IBM/sarama:
//
//	sarama-compat SCENARIO [ARG]
//
// The broker is in $BOOTSTRAP. It exits 0 when everything that came back is
// right; otherwise the last line printed is "FAIL: reason".
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"samsa/compat-tests/go/compat"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// Shared with the other Go client programs.
var (
	check = compat.Check
	must  = compat.Must
	envOr = compat.EnvOr
	atoi  = compat.Atoi
)

type (
	sent = compat.Sent
	rec  = compat.Rec
)

var (
	bootstrap     = os.Getenv("BOOTSTRAP")
	run           = envOr("COMPAT_RUN_ID", strconv.FormatInt(time.Now().Unix(), 10))
	groupDeadline = time.Duration(atoi(envOr("GROUP_DEADLINE_S", "30"))) * time.Second
)

var start = time.Now()

// phase notes progress with the time since start in the scenario's log.
func phase(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.2fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

func config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V4_0_0_0
	c.ClientID = "samsa-compat-sarama"
	c.Metadata.AllowAutoTopicCreation = false
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1
	c.Producer.Partitioner = sarama.NewHashPartitioner
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Group.Session.Timeout = 10 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	c.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
	return c
}

func admin() sarama.ClusterAdmin {
	a, err := sarama.NewClusterAdmin([]string{bootstrap}, config())
	must(err, "NewClusterAdmin")
	return a
}

func createTopic(a sarama.ClusterAdmin, topic string, parts int32, cfg map[string]*string) {
	must(a.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: parts, ReplicationFactor: 1, ConfigEntries: cfg}, false), "CreateTopic "+topic)
}

var codecs = map[string]sarama.CompressionCodec{
	"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
	"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
}

// produce sends n records (keys k<i>, values v<i>-tag, headers seq/tag) with an idempotent SyncProducer.
func produce(topic string, from, n int, tag, codec string) []sent {
	c := config()
	c.Producer.Compression = codecs[codec]
	p, err := sarama.NewSyncProducer([]string{bootstrap}, c)
	must(err, "NewSyncProducer")
	defer p.Close()
	var msgs []*sarama.ProducerMessage
	for i := from; i < from+n; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{
			Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)), Value: sarama.StringEncoder(fmt.Sprintf("v%d-%s", i, tag)),
			Headers:  []sarama.RecordHeader{{Key: []byte("seq"), Value: []byte(strconv.Itoa(i))}, {Key: []byte("tag"), Value: []byte(tag)}},
			Metadata: i,
		})
	}
	must(p.SendMessages(msgs), "SendMessages")
	var out []sent
	for _, m := range msgs {
		out = append(out, sent{Partition: m.Partition, Offset: m.Offset, Seq: m.Metadata.(int)})
	}
	return out
}

func toRec(m *sarama.ConsumerMessage) rec {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[string(x.Key)] = string(x.Value)
	}
	return rec{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Val: string(m.Value), Headers: h}
}

// consumeAssigned reads want records from the given partitions from offset `from` with the partition consumer (no group).
func consumeAssigned(topic string, parts []int32, from int64, want int, deadline time.Duration) []rec {
	c, err := sarama.NewConsumer([]string{bootstrap}, config())
	must(err, "NewConsumer")
	defer c.Close()
	ch := make(chan rec, want+100)
	for _, p := range parts {
		pc, err := c.ConsumePartition(topic, p, from)
		must(err, fmt.Sprintf("ConsumePartition %d", p))
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				ch <- toRec(m)
			}
		}()
	}
	var got []rec
	timeout := time.After(deadline)
	for len(got) < want {
		select {
		case r := <-ch:
			got = append(got, r)
		case <-timeout:
			return got
		}
	}
	return got
}

// ---------------------------------------------------------------- scenarios

func roundtrip(codec string) {
	topic := fmt.Sprintf("sarama-roundtrip-%s-%s", codec, run)
	a := admin()
	defer a.Close()
	createTopic(a, topic, 3, nil)
	s := produce(topic, 0, 300, codec, codec)
	parts := map[int32]bool{}
	for _, x := range s {
		parts[x.Partition] = true
	}
	check(len(parts) == 3, "300 keyed records went to %d partitions, want 3", len(parts))
	got := consumeAssigned(topic, []int32{0, 1, 2}, sarama.OffsetOldest, 300, 30*time.Second)
	compat.Verify(got, s, codec)
}

func adminTopics() {
	topic := "sarama-admin-" + run
	a := admin()
	defer a.Close()
	ret := "123456"
	createTopic(a, topic, 3, map[string]*string{"retention.ms": &ret})
	err := a.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false)
	check(errors.Is(err, sarama.ErrTopicAlreadyExists), "creating %s twice: %v, want ErrTopicAlreadyExists", topic, err)
	topics, err := a.ListTopics()
	must(err, "ListTopics")
	d, ok := topics[topic]
	check(ok, "ListTopics does not contain %s", topic)
	check(d.NumPartitions == 3 && d.ReplicationFactor == 1, "ListTopics detail %+v", d)
	check(d.ConfigEntries["retention.ms"] != nil && *d.ConfigEntries["retention.ms"] == "123456", "ListTopics config retention.ms = %v", d.ConfigEntries["retention.ms"])
	md, err := a.DescribeTopics([]string{topic})
	must(err, "DescribeTopics")
	check(len(md) == 1 && len(md[0].Partitions) == 3, "DescribeTopics %+v", md)
	for _, p := range md[0].Partitions {
		check(p.Leader == 0 && len(p.Replicas) == 1 && len(p.Isr) == 1, "partition %+v", p)
	}
	brokers, controller, err := a.DescribeCluster()
	must(err, "DescribeCluster")
	check(len(brokers) == 1 && brokers[0].Addr() == bootstrap && controller == 0, "DescribeCluster %d brokers (%s), controller %d", len(brokers), brokers[0].Addr(), controller)
	cfg, err := a.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	must(err, "DescribeConfig")
	found := false
	for _, e := range cfg {
		if e.Name == "retention.ms" {
			found = true
			check(e.Value == "123456" && e.Source == sarama.SourceTopic, "retention.ms = %q source %v", e.Value, e.Source)
		}
	}
	check(found, "DescribeConfig has no retention.ms")
	v := "654321"
	must(a.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v}}, false), "IncrementalAlterConfig")
	cfg, err = a.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"retention.ms"}})
	must(err, "DescribeConfig")
	check(len(cfg) == 1 && cfg[0].Value == "654321", "after IncrementalAlterConfig: %+v", cfg)
	must(a.CreatePartitions(topic, 5, nil, false), "CreatePartitions")
	md, err = a.DescribeTopics([]string{topic})
	must(err, "DescribeTopics")
	check(len(md[0].Partitions) == 5, "after CreatePartitions: %d partitions", len(md[0].Partitions))
	must(a.DeleteTopic(topic), "DeleteTopic")
	end := time.Now().Add(10 * time.Second)
	for {
		topics, err := a.ListTopics()
		must(err, "ListTopics")
		if _, ok := topics[topic]; !ok {
			break
		}
		check(time.Now().Before(end), "%s still listed 10s after DeleteTopic", topic)
		time.Sleep(200 * time.Millisecond)
	}
}

func listOffsets() {
	topic := "sarama-offsets-" + run
	a := admin()
	defer a.Close()
	createTopic(a, topic, 1, nil)
	c := config()
	c.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{bootstrap}, c)
	must(err, "NewSyncProducer")
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	for i := 0; i < 10; i++ {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(strconv.Itoa(i)), Timestamp: t0.Add(time.Duration(i) * time.Second)})
		must(err, "SendMessage")
	}
	p.Close()
	cl, err := sarama.NewClient([]string{bootstrap}, config())
	must(err, "NewClient")
	defer cl.Close()
	get := func(t int64) int64 {
		o, err := cl.GetOffset(topic, 0, t)
		must(err, "GetOffset")
		return o
	}
	check(get(sarama.OffsetOldest) == 0, "oldest %d, want 0", get(sarama.OffsetOldest))
	check(get(sarama.OffsetNewest) == 10, "newest %d, want 10", get(sarama.OffsetNewest))
	at := get(t0.Add(4500 * time.Millisecond).UnixMilli())
	check(at == 5, "offset for t0+4.5s is %d, want 5", at)
	must(a.DeleteRecords(topic, map[int32]int64{0: 3}), "DeleteRecords")
	check(get(sarama.OffsetOldest) == 3, "oldest after DeleteRecords(3) is %d, want 3", get(sarama.OffsetOldest))
	got := consumeAssigned(topic, []int32{0}, sarama.OffsetOldest, 7, 20*time.Second)
	check(len(got) == 7 && got[0].Offset == 3 && got[0].Val == "3", "after DeleteRecords consumed %d records starting at %v", len(got), got)
}

// handler collects what one group member was assigned and consumed; groupHandler
// is its sarama.ConsumerGroupHandler, locking mu around every change.
type handler struct {
	member   int
	assigned map[int][]int32
	got      map[int][]rec
	manual   bool
}

type groupHandler struct {
	h  *handler
	mu *sync.Mutex
}

func (l *groupHandler) Setup(s sarama.ConsumerGroupSession) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ps := range s.Claims() {
		l.h.assigned[l.h.member] = append([]int32(nil), ps...)
	}
	return nil
}

func (l *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (l *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		l.mu.Lock()
		l.h.got[l.h.member] = append(l.h.got[l.h.member], toRec(m))
		l.mu.Unlock()
		s.MarkMessage(m, "")
		if l.h.manual {
			s.Commit()
		}
	}
	return nil
}

func group(manual bool) {
	name := map[bool]string{true: "manual", false: "autocommit"}[manual]
	topic := fmt.Sprintf("sarama-group-%s-%s", name, run)
	grp := topic
	a := admin()
	defer a.Close()
	createTopic(a, topic, 4, nil)
	assigned := map[int][]int32{}
	got := map[int][]rec{}
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var errs []string
	for m := 0; m < 2; m++ {
		c := config()
		c.Consumer.Offsets.AutoCommit.Enable = !manual
		c.Consumer.Return.Errors = true
		g, err := sarama.NewConsumerGroup([]string{bootstrap}, grp, c)
		must(err, "NewConsumerGroup")
		h := &handler{member: m, assigned: assigned, got: got, manual: manual}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for err := range g.Errors() {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			defer g.Close()
			for ctx.Err() == nil {
				if err := g.Consume(ctx, []string{topic}, &groupHandler{h, &mu}); err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					time.Sleep(200 * time.Millisecond)
				}
			}
		}()
	}
	settled := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(assigned[0]) > 0 && len(assigned[1]) > 0 && len(assigned[0])+len(assigned[1]) == 4
	}
	end := time.Now().Add(groupDeadline)
	for !settled() && time.Now().Before(end) {
		time.Sleep(100 * time.Millisecond)
	}
	if !settled() {
		cancel()
		mu.Lock()
		e := errs
		mu.Unlock()
		if len(e) > 2 {
			e = e[:2]
		}
		check(false, "after %s the members hold %v, want a split of 4 partitions; errors: %v", groupDeadline, assigned, e)
	}
	phase("group settled: %v", assigned)
	s := produce(topic, 0, 200, name, "none")
	phase("produced 200")
	end = time.Now().Add(30 * time.Second)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got[0]) + len(got[1]) }
	for count() < 200 && time.Now().Before(end) {
		time.Sleep(100 * time.Millisecond)
	}
	phase("consumed %d", count())
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	phase("members closed")
	check(len(got[0]) > 0 && len(got[1]) > 0, "a member consumed nothing (%d / %d)", len(got[0]), len(got[1]))
	for m := 0; m < 2; m++ {
		for _, r := range got[m] {
			ok := false
			for _, p := range assigned[m] {
				ok = ok || p == r.Partition
			}
			check(ok, "member %d got partition %d, assigned %v", m, r.Partition, assigned[m])
		}
	}
	compat.Verify(append(got[0], got[1]...), s, name)
	ends := map[int32]int64{}
	for _, x := range s {
		if x.Offset+1 > ends[x.Partition] {
			ends[x.Partition] = x.Offset + 1
		}
	}
	resp, err := a.ListConsumerGroupOffsets(grp, map[string][]int32{topic: {0, 1, 2, 3}})
	must(err, "ListConsumerGroupOffsets")
	for p, e := range ends {
		b := resp.GetBlock(topic, p)
		check(b != nil && b.Err == sarama.ErrNoError && b.Offset == e, "committed offset of partition %d is %+v, want %d", p, b, e)
	}
}

// consumeGroup joins grp alone, reads want records, commits, leaves.
func consumeGroup(topic, grp string, want int) []rec {
	c := config()
	c.Consumer.Return.Errors = true
	g, err := sarama.NewConsumerGroup([]string{bootstrap}, grp, c)
	must(err, "NewConsumerGroup")
	var mu sync.Mutex
	h := &handler{member: 0, assigned: map[int][]int32{}, got: map[int][]rec{}, manual: true}
	ctx, cancel := context.WithTimeout(context.Background(), groupDeadline)
	done := make(chan error, 1)
	go func() { done <- g.Consume(ctx, []string{topic}, &groupHandler{h, &mu}) }()
	var errs []string
	go func() {
		for e := range g.Errors() {
			mu.Lock()
			errs = append(errs, e.Error())
			mu.Unlock()
		}
	}()
	for ctx.Err() == nil {
		mu.Lock()
		n := len(h.got[0])
		mu.Unlock()
		if n >= want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	err = <-done
	g.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(h.got[0]) < want {
		check(false, "group %s read %d of %d records; Consume: %v; errors: %v", grp, len(h.got[0]), want, err, errs)
	}
	return h.got[0]
}

func adminGroups() {
	topic := "sarama-admin-groups-" + run
	grp := topic
	a := admin()
	defer a.Close()
	createTopic(a, topic, 2, nil)
	produce(topic, 0, 10, "ag", "none")
	got := consumeGroup(topic, grp, 10)
	check(len(got) == 10, "group consumer read %d of 10", len(got))
	groups, err := a.ListConsumerGroups()
	must(err, "ListConsumerGroups")
	check(groups[grp] == "consumer", "ListConsumerGroups %v has no consumer group %s", groups, grp)
	d, err := a.DescribeConsumerGroups([]string{grp})
	must(err, "DescribeConsumerGroups")
	check(len(d) == 1 && d[0].State == "Empty" && d[0].ProtocolType == "consumer", "DescribeConsumerGroups %+v, want Empty/consumer", d[0])
	resp, err := a.ListConsumerGroupOffsets(grp, nil)
	must(err, "ListConsumerGroupOffsets")
	sum := int64(0)
	for _, b := range resp.Blocks[topic] {
		sum += b.Offset
	}
	check(len(resp.Blocks[topic]) == 2 && sum == 10, "committed offsets %v, want 2 partitions summing to 10", resp.Blocks[topic])
	must(a.DeleteConsumerGroup(grp), "DeleteConsumerGroup")
	groups, err = a.ListConsumerGroups()
	must(err, "ListConsumerGroups")
	_, still := groups[grp]
	check(!still, "%s still listed after DeleteConsumerGroup", grp)
}

func offsetsReset() {
	topic := "sarama-offsets-reset-" + run
	grp := topic
	a := admin()
	defer a.Close()
	createTopic(a, topic, 1, nil)
	s := produce(topic, 0, 10, "reset", "none")
	compat.Verify(consumeGroup(topic, grp, 10), s, "reset")
	resp, err := a.ListConsumerGroupOffsets(grp, map[string][]int32{topic: {0}})
	must(err, "ListConsumerGroupOffsets")
	check(resp.GetBlock(topic, 0).Offset == 10, "committed %d, want 10", resp.GetBlock(topic, 0).Offset)
	// Reset with the offset manager: ResetOffset moves the committed offset backwards.
	cl, err := sarama.NewClient([]string{bootstrap}, config())
	must(err, "NewClient")
	om, err := sarama.NewOffsetManagerFromClient(grp, cl)
	must(err, "NewOffsetManagerFromClient")
	pom, err := om.ManagePartition(topic, 0)
	must(err, "ManagePartition")
	pom.ResetOffset(4, "reset")
	om.Commit()
	pom.Close()
	om.Close()
	cl.Close()
	resp, err = a.ListConsumerGroupOffsets(grp, map[string][]int32{topic: {0}})
	must(err, "ListConsumerGroupOffsets")
	check(resp.GetBlock(topic, 0).Offset == 4, "after ResetOffset committed %d, want 4", resp.GetBlock(topic, 0).Offset)
	compat.Verify(consumeGroup(topic, grp, 6), s[4:], "reset")
	must(a.DeleteConsumerGroupOffset(grp, topic, 0), "DeleteConsumerGroupOffset")
}

func crossWrite() {
	topic := "cross-sarama"
	a := admin()
	createTopic(a, topic, 1, nil)
	a.Close()
	c := config()
	c.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{bootstrap}, c)
	must(err, "NewSyncProducer")
	defer p.Close()
	for i := 0; i < 10; i++ {
		_, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Key: sarama.StringEncoder(fmt.Sprintf("key-%d", i)),
			Value: sarama.StringEncoder(fmt.Sprintf("sarama value %d", i)), Headers: []sarama.RecordHeader{{Key: []byte("origin"), Value: []byte("sarama")}}})
		must(err, "SendMessage")
		check(off == int64(i), "record %d written at offset %d", i, off)
	}
}

func crossRead(writer string) {
	got := consumeAssigned("cross-"+writer, []int32{0}, sarama.OffsetOldest, 10, 20*time.Second)
	compat.VerifyCross(writer, got)
}

func main() {
	compat.Main("sarama-compat", map[string]func(string){
		"roundtrip":           roundtrip,
		"admin-topics":        func(string) { adminTopics() },
		"list-offsets":        func(string) { listOffsets() },
		"group-autocommit":    func(string) { group(false) },
		"group-manual-commit": func(string) { group(true) },
		"admin-groups":        func(string) { adminGroups() },
		"offsets-reset":       func(string) { offsetsReset() },
		"cross-write":         func(string) { crossWrite() },
		"cross-read":          crossRead,
	})
}
