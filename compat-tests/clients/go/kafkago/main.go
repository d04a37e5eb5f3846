// Command kafkago runs one Samsa compatibility scenario with segmentio/kafka-go:
//
//	kafka-go-compat SCENARIO [ARG]
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
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
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
	client        = &kafka.Client{Addr: kafka.TCP(bootstrap), Timeout: 20 * time.Second}
)

// freshClient has its own Transport, hence an empty metadata cache.
func freshClient() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(bootstrap), Timeout: 20 * time.Second, Transport: &kafka.Transport{}}
}

func ctx(d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	time.AfterFunc(d, cancel)
	return c
}

func createTopic(topic string, parts int, cfg ...kafka.ConfigEntry) {
	resp, err := client.CreateTopics(ctx(30*time.Second), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: parts, ReplicationFactor: 1, ConfigEntries: cfg}}})
	must(err, "CreateTopics")
	must(resp.Errors[topic], "CreateTopics "+topic)
}

var codecs = map[string]compress.Compression{
	"none": 0, "gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd,
}

// produce writes n records (keys k<i>, values v<i>-tag, headers seq/tag) with a Writer (acks=all, hash balancer).
func produce(topic string, from, n int, tag, codec string) []sent {
	var mu sync.Mutex
	var out []sent
	w := &kafka.Writer{
		Addr: kafka.TCP(bootstrap), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		Compression: codecs[codec], BatchTimeout: 10 * time.Millisecond,
		Completion: func(msgs []kafka.Message, err error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				seq, _ := strconv.Atoi(string(m.Key[1:]))
				out = append(out, sent{Partition: int32(m.Partition), Offset: m.Offset, Seq: seq})
			}
		},
	}
	var msgs []kafka.Message
	for i := from; i < from+n; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d-%s", i, tag)),
			Headers: []kafka.Header{{Key: "seq", Value: []byte(strconv.Itoa(i))}, {Key: "tag", Value: []byte(tag)}}})
	}
	must(w.WriteMessages(ctx(30*time.Second), msgs...), "WriteMessages")
	must(w.Close(), "Writer.Close")
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	check(len(out) == n, "the writer reported %d of %d records written", len(out), n)
	return out
}

func toRec(m kafka.Message) rec {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	return rec{Partition: int32(m.Partition), Offset: m.Offset, Key: string(m.Key), Val: string(m.Value), Headers: h}
}

// readPartition reads want records of one partition from offset with a partition Reader (no group).
func readPartition(topic string, partition int, offset int64, want int, deadline time.Duration) []rec {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap}, Topic: topic, Partition: partition, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	must(r.SetOffset(offset), "SetOffset")
	c := ctx(deadline)
	var got []rec
	for len(got) < want {
		m, err := r.ReadMessage(c)
		if err != nil {
			break
		}
		got = append(got, toRec(m))
	}
	return got
}

// ---------------------------------------------------------------- scenarios

func roundtrip(codec string) {
	topic := fmt.Sprintf("kafka-go-roundtrip-%s-%s", codec, run)
	createTopic(topic, 3)
	s := produce(topic, 0, 300, codec, codec)
	counts := map[int32]int{}
	for _, x := range s {
		counts[x.Partition]++
	}
	check(len(counts) == 3, "300 keyed records went to %d partitions, want 3", len(counts))
	var got []rec
	for p := 0; p < 3; p++ {
		got = append(got, readPartition(topic, p, kafka.FirstOffset, counts[int32(p)], 20*time.Second)...)
	}
	compat.Verify(got, s, codec)
}

func adminTopics() {
	topic := "kafka-go-admin-" + run
	createTopic(topic, 3, kafka.ConfigEntry{ConfigName: "retention.ms", ConfigValue: "123456"})
	resp, err := client.CreateTopics(ctx(20*time.Second), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 3, ReplicationFactor: 1}}})
	must(err, "CreateTopics")
	check(errors.Is(resp.Errors[topic], kafka.TopicAlreadyExists), "creating %s twice: %v, want TopicAlreadyExists", topic, resp.Errors[topic])
	md, err := client.Metadata(ctx(20*time.Second), &kafka.MetadataRequest{Topics: []string{topic}})
	must(err, "Metadata")
	check(len(md.Brokers) == 1 && md.Controller.ID == 0, "Metadata brokers %v controller %v", md.Brokers, md.Controller)
	check(len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) == 3, "Metadata topics %+v", md.Topics)
	for _, p := range md.Topics[0].Partitions {
		check(p.Leader.ID == 0 && len(p.Replicas) == 1 && len(p.Isr) == 1, "partition %+v", p)
	}
	cfg := func() kafka.DescribeConfigResponseConfigEntry {
		r, err := client.DescribeConfigs(ctx(20*time.Second), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"retention.ms"}}}})
		must(err, "DescribeConfigs")
		check(len(r.Resources) == 1 && r.Resources[0].Error == nil && len(r.Resources[0].ConfigEntries) == 1, "DescribeConfigs %+v", r.Resources)
		return r.Resources[0].ConfigEntries[0]
	}
	e := cfg()
	check(e.ConfigValue == "123456" && e.ConfigSource == 1, "retention.ms = %q source %d, want 123456 from DYNAMIC_TOPIC_CONFIG (1)", e.ConfigValue, e.ConfigSource)
	ar, err := client.IncrementalAlterConfigs(ctx(20*time.Second), &kafka.IncrementalAlterConfigsRequest{Resources: []kafka.IncrementalAlterConfigsRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
		Configs: []kafka.IncrementalAlterConfigsRequestConfig{{Name: "retention.ms", Value: "654321", ConfigOperation: kafka.ConfigOperationSet}}}}})
	must(err, "IncrementalAlterConfigs")
	for _, r := range ar.Resources {
		must(r.Error, "IncrementalAlterConfigs "+r.ResourceName)
	}
	check(cfg().ConfigValue == "654321", "after IncrementalAlterConfigs retention.ms = %q", cfg().ConfigValue)
	cp, err := client.CreatePartitions(ctx(20*time.Second), &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: 5}}})
	must(err, "CreatePartitions")
	must(cp.Errors[topic], "CreatePartitions")
	// kafka-go's Transport answers Metadata from its cache (6s TTL): ask with a fresh one.
	md, err = freshClient().Metadata(ctx(20*time.Second), &kafka.MetadataRequest{Topics: []string{topic}})
	must(err, "Metadata")
	check(len(md.Topics[0].Partitions) == 5, "after CreatePartitions: %d partitions", len(md.Topics[0].Partitions))
	dr, err := client.DeleteTopics(ctx(20*time.Second), &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	must(err, "DeleteTopics")
	must(dr.Errors[topic], "DeleteTopics")
	end := time.Now().Add(10 * time.Second)
	for {
		md, err := freshClient().Metadata(ctx(20*time.Second), &kafka.MetadataRequest{})
		must(err, "Metadata")
		found := false
		for _, t := range md.Topics {
			found = found || t.Name == topic
		}
		if !found {
			break
		}
		check(time.Now().Before(end), "%s still listed 10s after DeleteTopics", topic)
		time.Sleep(200 * time.Millisecond)
	}
}

func listOffsets() {
	topic := "kafka-go-offsets-" + run
	createTopic(topic, 1)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	w := &kafka.Writer{Addr: kafka.TCP(bootstrap), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	for i := 0; i < 10; i++ {
		must(w.WriteMessages(ctx(20*time.Second), kafka.Message{Value: []byte(strconv.Itoa(i)), Time: t0.Add(time.Duration(i) * time.Second)}), "WriteMessages")
	}
	w.Close()
	lo, err := client.ListOffsets(ctx(20*time.Second), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		topic: {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)}}})
	must(err, "ListOffsets")
	po := lo.Topics[topic][0]
	check(po.Error == nil && po.FirstOffset == 0 && po.LastOffset == 10, "ListOffsets first/last %+v, want 0/10", po)
	lo, err = client.ListOffsets(ctx(20*time.Second), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		topic: {kafka.TimeOffsetOf(0, t0.Add(4500*time.Millisecond))}}})
	must(err, "ListOffsets")
	po = lo.Topics[topic][0]
	var offs []int64
	for o := range po.Offsets {
		offs = append(offs, o)
	}
	check(len(offs) == 1 && offs[0] == 5, "offset for t0+4.5s: %v, want 5", po.Offsets)
	got := readPartition(topic, 0, 5, 5, 20*time.Second)
	check(len(got) == 5 && got[0].Offset == 5 && got[0].Val == "5", "from offset 5 read %v", got)
	// A Reader can also start at a time.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap}, Topic: topic, Partition: 0, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	must(r.SetOffsetAt(ctx(10*time.Second), t0.Add(7500*time.Millisecond)), "SetOffsetAt")
	m, err := r.ReadMessage(ctx(10 * time.Second))
	must(err, "ReadMessage")
	check(m.Offset == 8 && m.Time.Equal(t0.Add(8*time.Second)), "reader at t0+7.5s read offset %d time %v, want 8 at %v", m.Offset, m.Time, t0.Add(8*time.Second))
}

// group: two Readers in one group, sync commits (manual: FetchMessage+CommitMessages; auto: ReadMessage with CommitInterval).
func group(manual bool) {
	name := map[bool]string{true: "manual", false: "autocommit"}[manual]
	topic := fmt.Sprintf("kafka-go-group-%s-%s", name, run)
	grp := topic
	createTopic(topic, 4)
	var mu sync.Mutex
	got := map[int][]rec{}
	var errs []string
	readers := make([]*kafka.Reader, 2)
	c, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for m := 0; m < 2; m++ {
		cfg := kafka.ReaderConfig{Brokers: []string{bootstrap}, GroupID: grp, Topic: topic, StartOffset: kafka.FirstOffset,
			MaxWait: 200 * time.Millisecond, HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: 10 * time.Second,
			RebalanceTimeout: 5 * time.Second, JoinGroupBackoff: 500 * time.Millisecond,
			ErrorLogger: kafka.LoggerFunc(func(f string, a ...any) { mu.Lock(); errs = append(errs, fmt.Sprintf(f, a...)); mu.Unlock() })}
		if !manual {
			cfg.CommitInterval = 200 * time.Millisecond
		}
		readers[m] = kafka.NewReader(cfg)
		wg.Add(1)
		go func(m int, r *kafka.Reader) {
			defer wg.Done()
			for {
				var msg kafka.Message
				var err error
				if manual {
					msg, err = r.FetchMessage(c)
				} else {
					msg, err = r.ReadMessage(c)
				}
				if err != nil {
					return
				}
				mu.Lock()
				got[m] = append(got[m], toRec(msg))
				mu.Unlock()
				if manual {
					if err := r.CommitMessages(c, msg); err != nil {
						mu.Lock()
						errs = append(errs, "CommitMessages: "+err.Error())
						mu.Unlock()
					}
				}
			}
		}(m, readers[m])
	}
	// kafka-go exposes no assignment; wait for the group to be Stable with 2 members, then produce.
	end := time.Now().Add(groupDeadline)
	stable := false
	var last string
	for time.Now().Before(end) && !stable {
		d, err := client.DescribeGroups(ctx(5*time.Second), &kafka.DescribeGroupsRequest{GroupIDs: []string{grp}})
		if err == nil && len(d.Groups) == 1 {
			g := d.Groups[0]
			last = fmt.Sprintf("state %s, %d members, error %v", g.GroupState, len(g.Members), g.Error)
			stable = g.Error == nil && g.GroupState == "Stable" && len(g.Members) == 2
		} else {
			last = fmt.Sprintf("DescribeGroups: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !stable {
		cancel()
		for _, r := range readers {
			r.Close()
		}
		mu.Lock()
		e := errs
		mu.Unlock()
		if len(e) > 2 {
			e = e[:2]
		}
		check(false, "after %s the group is not Stable with 2 members (%s); reader errors: %v", groupDeadline, last, e)
	}
	s := produce(topic, 0, 200, name, "none")
	end = time.Now().Add(30 * time.Second)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got[0]) + len(got[1]) }
	for count() < 200 && time.Now().Before(end) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	for _, r := range readers {
		r.Close()
	}
	wg.Wait()
	check(len(got[0]) > 0 && len(got[1]) > 0, "a member consumed nothing (%d / %d)", len(got[0]), len(got[1]))
	parts := [2]map[int32]bool{{}, {}}
	for m := 0; m < 2; m++ {
		for _, r := range got[m] {
			parts[m][r.Partition] = true
		}
	}
	for p := range parts[0] {
		check(!parts[1][p], "both members consumed partition %d", p)
	}
	compat.Verify(append(got[0], got[1]...), s, name)
	ends := map[int32]int64{}
	for _, x := range s {
		if x.Offset+1 > ends[x.Partition] {
			ends[x.Partition] = x.Offset + 1
		}
	}
	of, err := client.OffsetFetch(ctx(20*time.Second), &kafka.OffsetFetchRequest{GroupID: grp, Topics: map[string][]int{topic: {0, 1, 2, 3}}})
	must(err, "OffsetFetch")
	must(of.Error, "OffsetFetch")
	for _, p := range of.Topics[topic] {
		check(p.Error == nil && p.CommittedOffset == ends[int32(p.Partition)], "committed offset of partition %d is %d (%v), want %d", p.Partition, p.CommittedOffset, p.Error, ends[int32(p.Partition)])
	}
}

// consumeGroup reads want records as the only member of grp, committing each.
func consumeGroup(topic, grp string, want int) []rec {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap}, GroupID: grp, Topic: topic, StartOffset: kafka.FirstOffset,
		MaxWait: 200 * time.Millisecond, HeartbeatInterval: 500 * time.Millisecond, JoinGroupBackoff: 500 * time.Millisecond})
	defer r.Close()
	c := ctx(groupDeadline)
	var got []rec
	for len(got) < want {
		m, err := r.ReadMessage(c)
		if err != nil {
			check(false, "group %s read %d of %d records: %v", grp, len(got), want, err)
		}
		got = append(got, toRec(m))
	}
	return got
}

func adminGroups() {
	topic := "kafka-go-admin-groups-" + run
	grp := topic
	createTopic(topic, 2)
	produce(topic, 0, 10, "ag", "none")
	check(len(consumeGroup(topic, grp, 10)) == 10, "group read")
	lg, err := client.ListGroups(ctx(20*time.Second), &kafka.ListGroupsRequest{})
	must(err, "ListGroups")
	found := false
	for _, g := range lg.Groups {
		found = found || (g.GroupID == grp && g.ProtocolType == "consumer")
	}
	check(found, "ListGroups %+v does not contain %s", lg.Groups, grp)
	d, err := client.DescribeGroups(ctx(20*time.Second), &kafka.DescribeGroupsRequest{GroupIDs: []string{grp}})
	must(err, "DescribeGroups")
	check(len(d.Groups) == 1 && d.Groups[0].Error == nil && d.Groups[0].GroupState == "Empty", "DescribeGroups %+v, want Empty", d.Groups)
	of, err := client.OffsetFetch(ctx(20*time.Second), &kafka.OffsetFetchRequest{GroupID: grp, Topics: map[string][]int{topic: {0, 1}}})
	must(err, "OffsetFetch")
	sum := int64(0)
	for _, p := range of.Topics[topic] {
		sum += p.CommittedOffset
	}
	check(sum == 10, "committed offsets %+v, want a sum of 10", of.Topics[topic])
	dg, err := client.DeleteGroups(ctx(20*time.Second), &kafka.DeleteGroupsRequest{GroupIDs: []string{grp}})
	must(err, "DeleteGroups")
	must(dg.Errors[grp], "DeleteGroups")
}

func offsetsReset() {
	topic := "kafka-go-offsets-reset-" + run
	grp := topic
	createTopic(topic, 1)
	s := produce(topic, 0, 10, "reset", "none")
	compat.Verify(consumeGroup(topic, grp, 10), s, "reset")
	// Reset: OffsetCommit outside a generation (generation -1, as kafka-consumer-groups --reset-offsets does for an empty group).
	oc, err := client.OffsetCommit(ctx(20*time.Second), &kafka.OffsetCommitRequest{GroupID: grp, GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: 0, Offset: 4, Metadata: "reset"}}}})
	must(err, "OffsetCommit")
	for _, p := range oc.Topics[topic] {
		must(p.Error, "OffsetCommit")
	}
	of, err := client.OffsetFetch(ctx(20*time.Second), &kafka.OffsetFetchRequest{GroupID: grp, Topics: map[string][]int{topic: {0}}})
	must(err, "OffsetFetch")
	check(of.Topics[topic][0].CommittedOffset == 4 && of.Topics[topic][0].Metadata == "reset", "after reset %+v, want 4", of.Topics[topic])
	compat.Verify(consumeGroup(topic, grp, 6), s[4:], "reset")
	od, err := client.OffsetDelete(ctx(20*time.Second), &kafka.OffsetDeleteRequest{GroupID: grp, Topics: map[string][]int{topic: {0}}})
	must(err, "OffsetDelete")
	must(od.Error, "OffsetDelete")
}

func crossWrite() {
	topic := "cross-kafka-go"
	createTopic(topic, 1)
	w := &kafka.Writer{Addr: kafka.TCP(bootstrap), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for i := 0; i < 10; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte(fmt.Sprintf("kafka-go value %d", i)),
			Headers: []kafka.Header{{Key: "origin", Value: []byte("kafka-go")}}})
	}
	must(w.WriteMessages(ctx(30*time.Second), msgs...), "WriteMessages")
}

func crossRead(writer string) {
	got := readPartition("cross-"+writer, 0, kafka.FirstOffset, 10, 20*time.Second)
	compat.VerifyCross(writer, got)
}

func main() {
	compat.Main("kafka-go-compat", map[string]func(string){
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
