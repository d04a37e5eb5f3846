package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

// logDirOf is the log dir DescribeLogDirs lists topic-0 in, and whether
// a future log of it is listed too (a move in progress).
func logDirOf(t *testing.T, adm *kadm.Client, topic string) (dir string, future bool) {
	t.Helper()
	all, err := adm.DescribeAllLogDirs(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, dirs := range all {
		for _, d := range dirs {
			if d.Err != nil || d.TotalBytes <= 0 || d.UsableBytes <= 0 {
				t.Fatalf("log dir %+v", d)
			}
			if p, ok := d.Topics.Lookup(topic, 0); ok {
				if p.IsFuture {
					future = true
				} else {
					dir = d.Dir
				}
			}
		}
	}
	return dir, future
}

// TestJBODMoveUnderLoad: a broker with two log.dirs places a new
// partition in one, and AlterReplicaLogDirs moves it to the other while
// an idempotent acks=all producer writes without pause. No produce
// fails, DescribeLogDirs and kafka-log-dirs.sh show the partition in the
// new dir, every acknowledged record is read back once and in order, the
// old dir holds nothing of it, and after a restart it is still there.
func TestJBODMoveUnderLoad(t *testing.T) {
	root := t.TempDir()
	d0, d1 := filepath.Join(root, "d0"), filepath.Join(root, "d1")
	b := testbroker.Start(t, testbroker.InProcess, "log.dirs="+d0+","+d1, "log.segment.bytes=1048576")
	adm := newAdmin(t, b.Addr())
	const topic = "jbod"
	if _, err := adm.CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	all, err := adm.DescribeAllLogDirs(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, dirs := range all {
		if len(dirs) != 2 {
			t.Fatalf("DescribeLogDirs lists %d dirs, want both of log.dirs: %+v", len(dirs), dirs)
		}
	}

	prod := newClient(t, b.Addr(), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	stopProducing := produceNumbered(prod, 500)
	time.Sleep(500 * time.Millisecond)
	from, _ := logDirOf(t, adm, topic)
	if from != d0 && from != d1 {
		t.Fatalf("%s-0 is in %q, want one of log.dirs", topic, from)
	}
	to := d1
	if from == d1 {
		to = d0
	}
	req := kadm.AlterReplicaLogDirsReq{}
	req.Add(to, kadm.TopicsSet{topic: {0: {}}})
	brokers, err := adm.BrokerMetadata(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	id := brokers.Brokers[0].NodeID
	resps, err := adm.AlterBrokerReplicaLogDirs(ctxT(t), id, req)
	if err != nil {
		t.Fatal(err)
	}
	resps.Each(func(r kadm.AlterReplicaLogDirsResponse) {
		if r.Err != nil {
			t.Fatalf("AlterReplicaLogDirs %s-%d to %s: %v", r.Topic, r.Partition, r.Dir, r.Err)
		}
	})
	// Unknown dir and unknown partition answer as Kafka does.
	bad := kadm.AlterReplicaLogDirsReq{}
	bad.Add(filepath.Join(root, "nope"), kadm.TopicsSet{topic: {0: {}}})
	bad.Add(to, kadm.TopicsSet{"no-such-topic": {0: {}}})
	resps, err = adm.AlterBrokerReplicaLogDirs(ctxT(t), id, bad)
	if err != nil {
		t.Fatal(err)
	}
	resps.Each(func(r kadm.AlterReplicaLogDirsResponse) {
		want := kerr.LogDirNotFound
		if r.Topic == "no-such-topic" {
			want = kerr.UnknownTopicOrPartition // not in the metadata: Kafka's getPartitionOrError
		}
		if r.Err != want {
			t.Errorf("AlterReplicaLogDirs %s-%d to %s: %v, want %v", r.Topic, r.Partition, r.Dir, r.Err, want)
		}
	})

	deadline := time.Now().Add(15 * time.Second)
	for {
		dir, future := logDirOf(t, adm, topic)
		if dir == to && !future {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s-0 still in %s (future log listed: %v), want %s", topic, dir, future, to)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // writes after the swap
	acked, prodErr := stopProducing()
	if prodErr != nil {
		t.Fatalf("producer failed after %d records: %v", len(acked), prodErr)
	}
	if len(acked) < 20 {
		t.Fatalf("only %d records acknowledged", len(acked))
	}
	t.Logf("%d records acknowledged across the move from %s to %s", len(acked), from, to)

	checkAll := func() {
		t.Helper()
		cons := newClient(t, b.Addr(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got []int
		ctx := ctxT(t)
		for len(got) < len(acked) {
			fs := cons.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatalf("consume after %d records: %v", len(got), err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				n, _ := strconv.Atoi(strings.TrimRight(string(r.Value), "."))
				got = append(got, n)
			})
		}
		for i, n := range got {
			if n != acked[i] {
				t.Fatalf("record %d is %d, want %d (every acknowledged record once, in order)", i, n, acked[i])
			}
		}
		cons.Close()
	}
	checkAll()
	deadline = time.Now().Add(5 * time.Second)
	for {
		ents, err := os.ReadDir(from)
		if err != nil {
			t.Fatal(err)
		}
		left := ""
		for _, de := range ents {
			if strings.HasPrefix(de.Name(), topic+"-0") {
				left = de.Name()
			}
		}
		if left == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still holds %s after the move", from, left)
		}
		time.Sleep(20 * time.Millisecond)
	}

	if os.Getenv("SAMSA_REQUIRE_TOOLS") == "1" || toolsCached() {
		tool := kafkaTool(t, "kafka-log-dirs.sh")
		out := runTool(t, "", tool, "--describe", "--bootstrap-server", b.Addr(), "--topic-list", topic)
		i := strings.Index(out, "{")
		if i < 0 {
			t.Fatalf("kafka-log-dirs printed:\n%s", out)
		}
		var got logDirsJSON
		if err := json.Unmarshal([]byte(strings.TrimSpace(out[i:])), &got); err != nil {
			t.Fatalf("kafka-log-dirs JSON: %v\n%s", err, out)
		}
		found := ""
		for _, br := range got.Brokers {
			for _, d := range br.LogDirs {
				for _, p := range d.Partitions {
					if p.Partition == topic+"-0" && !p.IsFuture {
						found = d.LogDir
					}
				}
			}
		}
		t.Logf("kafka-log-dirs --describe lists %s-0 in %s", topic, found)
		if found != to {
			t.Errorf("kafka-log-dirs shows %s-0 in %q, want %s:\n%s", topic, found, to, out)
		}
	}

	b.Restart()
	adm = newAdmin(t, b.Addr())
	if dir, future := logDirOf(t, adm, topic); dir != to || future {
		t.Fatalf("after restart %s-0 is in %s (future %v), want %s", topic, dir, future, to)
	}
	checkAll()
}

// toolsCached reports whether the Kafka tools jars are downloaded.
func toolsCached() bool {
	_, err := os.Stat(filepath.Join("..", "compat-tests", "clients", "tools", "target", "lib", ".pom.sha256"))
	return err == nil
}

// TestJBODKill9DuringMove kills the broker binary right after it started
// moving a partition (tens of MB) to its other log dir, while an
// idempotent acks=all producer writes: after the restart the move
// resumes from the future log and completes, and every acknowledged
// record is there once, in order.
func TestJBODKill9DuringMove(t *testing.T) {
	root := t.TempDir()
	d0, d1 := filepath.Join(root, "d0"), filepath.Join(root, "d1")
	b := testbroker.Start(t, testbroker.Binary, "log.dirs="+d0+","+d1)
	adm := newAdmin(t, b.Addr())
	const topic = "jbkill"
	if _, err := adm.CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(3), kgo.RetryTimeout(2*time.Second), kgo.ProduceRequestTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[int]bool{}
	pad := strings.Repeat("x", 4000)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			prod.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i) + " " + pad)}, func(r *kgo.Record, err error) {
				if err == nil {
					mu.Lock()
					acked[i] = true
					mu.Unlock()
				}
			})
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 10000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	from, _ := logDirOf(t, adm, topic)
	to := d1
	if from == d1 {
		to = d0
	}
	req := kadm.AlterReplicaLogDirsReq{}
	req.Add(to, kadm.TopicsSet{topic: {0: {}}})
	brokers, err := adm.BrokerMetadata(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	resps, err := adm.AlterBrokerReplicaLogDirs(ctxT(t), brokers.Brokers[0].NodeID, req)
	if err != nil {
		t.Fatal(err)
	}
	resps.Each(func(r kadm.AlterReplicaLogDirsResponse) {
		if r.Err != nil {
			t.Fatalf("AlterReplicaLogDirs %s-%d: %v", r.Topic, r.Partition, r.Err)
		}
	})
	b.Kill()
	cancel()
	wg.Wait()
	prod.Close()
	ents, _ := os.ReadDir(to)
	midMove := false
	for _, de := range ents {
		midMove = midMove || strings.HasSuffix(de.Name(), "-future")
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("killed with %d records acknowledged; future log left in %s: %v", len(acked), to, midMove)
	if len(acked) < 1000 {
		t.Fatalf("only %d records acknowledged", len(acked))
	}

	b.Restart()
	adm = newAdmin(t, b.Addr())
	deadline = time.Now().Add(20 * time.Second)
	for {
		dir, future := logDirOf(t, adm, topic)
		if dir == to && !future {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restart %s-0 in %s (future %v), want %s", topic, dir, future, to)
		}
		time.Sleep(50 * time.Millisecond)
	}
	end, err := adm.ListEndOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	lo, _ := end.Lookup(topic, 0)
	cons := newClient(t, b.Addr(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[int]bool{}
	last := -1
	var read int64
	cctx := ctxT(t)
	for read < lo.Offset {
		fs := cons.PollFetches(cctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume after %d records: %v", read, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			read++
			n, _ := strconv.Atoi(strings.Fields(string(r.Value))[0])
			if seen[n] {
				t.Fatalf("record %d read twice", n)
			}
			if n <= last {
				t.Fatalf("record %d after %d", n, last)
			}
			seen[n], last = true, n
		})
	}
	for i := range acked {
		if !seen[i] {
			t.Fatalf("acknowledged record %d lost (%d read)", i, read)
		}
	}
	ents, _ = os.ReadDir(from)
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), topic+"-0") {
			t.Fatalf("%s left in %s", de.Name(), from)
		}
	}
}
