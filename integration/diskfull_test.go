package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

// smallFS mounts a tmpfs of size bytes for the test and returns its path.
// It skips the test when that is not possible (not root, no mount).
func smallFS(t *testing.T, size int) string { return smallFSOpts(t, fmt.Sprintf("size=%d", size)) }

func smallFSOpts(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	return data
}

// fillDisk writes a file in dir until the file system is full, leaving
// keep bytes of it unwritten, and returns its path.
func fillDisk(t *testing.T, path string, keep int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail)*int64(st.Bsize) - keep
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for free > 0 {
		n := min(int64(len(buf)), free)
		if _, err := f.Write(buf[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
		free -= n
	}
}

type fullDiskClient struct {
	t   *testing.T
	cl  *kgo.Client
	adm *kadm.Client
}

func newFullDiskClient(t *testing.T, addr string) *fullDiskClient {
	cl := newClient(t, addr, kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordRetries(0), kgo.RequestRetries(1), kgo.ProduceRequestTimeout(5*time.Second),
		kgo.RetryTimeout(5*time.Second), kgo.DisableIdempotentWrite())
	return &fullDiskClient{t: t, cl: cl, adm: kadm.NewClient(cl)}
}

// produce sends one record and waits at most 10s for its answer: every
// request must get one, full disk or not.
func (c *fullDiskClient) produce(topic string, v []byte) (*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: v}).First()
	if errors.Is(err, context.DeadlineExceeded) {
		c.t.Fatalf("produce got no answer in 10s")
	}
	return r, err
}

// readAll fetches partition 0 of topic from the start until it has n
// records, and returns their values.
func readAll(t *testing.T, addr, topic string, n int) [][]byte {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	var got [][]byte
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s before timeout", len(got), n, topic)
		}
		for _, e := range fs.Errors() {
			t.Fatalf("fetch %s: %v", topic, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r.Value) })
	}
	return got
}

// TestFullDisk fills a real (tmpfs) log dir: produce answers
// KAFKA_STORAGE_ERROR, CreateTopics KAFKA_STORAGE_ERROR without leaving a
// topic behind, OffsetCommit NOT_COORDINATOR (Kafka's mapping of a
// storage error in the group coordinator); Fetch, Metadata, ListOffsets,
// DescribeConfigs and OffsetFetch keep working; and once space is freed
// everything works again without a restart, with every acknowledged
// record and commit intact. /readyz stays 200 throughout (reads are
// served) and says the log dir is full while it is.
func TestFullDisk(t *testing.T) {
	data := smallFS(t, 24<<20)
	httpPort := testbroker.FreePort(t)
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort)
	b := testbroker.StartIn(t, testbroker.InProcess, data, fmt.Sprintf("samsa.http.listeners=http://127.0.0.1:%d", httpPort))
	c := newFullDiskClient(t, b.Addr())
	ctx := ctxT(t)
	if _, err := c.adm.CreateTopic(ctx, 1, 1, nil, "full"); err != nil {
		t.Fatal(err)
	}
	// A committed offset and a config to read back while full.
	if _, err := c.adm.CommitOffsets(ctx, "g", kadm.OffsetsFromRecords(kgo.Record{Topic: "full", Partition: 0, Offset: 1})); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(data, "..", "filler")
	fillDisk(t, filler, 6<<20)

	var acked [][]byte
	var lastErr error
	for i := 0; i < 10000; i++ {
		v := make([]byte, 16<<10)
		rand.Read(v)
		_, err := c.produce("full", v)
		if err != nil {
			lastErr = err
			break
		}
		acked = append(acked, v)
	}
	if !errors.Is(lastErr, kerr.KafkaStorageError) {
		t.Fatalf("produce on a full disk: got %v, want KAFKA_STORAGE_ERROR (after %d records)", lastErr, len(acked))
	}
	t.Logf("disk full after %d acknowledged records", len(acked))

	if code, body, err := httpGet(readyz); err != nil || code != 200 ||
		body != "ok: log dir: out of disk space, writes refused with KAFKA_STORAGE_ERROR until space is freed; reads are served\n" {
		t.Errorf("/readyz on a full disk = %d %q %v, want 200 with the note", code, body, err)
	}

	// Still full: writes are refused, with an answer.
	if _, err := c.produce("full", []byte("x")); !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("second produce on a full disk: %v, want KAFKA_STORAGE_ERROR", err)
	}
	res, err := c.adm.CreateTopic(ctx, 3, 1, nil, "later")
	if err == nil {
		err = res.Err
	}
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("CreateTopics on a full disk: %v, want KAFKA_STORAGE_ERROR", err)
	}
	cr, err := c.adm.CommitOffsets(ctx, "g", kadm.OffsetsFromRecords(kgo.Record{Topic: "full", Partition: 0, Offset: 5}))
	if err == nil {
		err = cr.Error()
	}
	if !errors.Is(err, kerr.NotCoordinator) {
		t.Fatalf("OffsetCommit on a full disk: %v, want NOT_COORDINATOR", err)
	}

	// Reads keep working.
	topics, err := c.adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !topics.Has("full") || topics.Has("later") {
		t.Fatalf("metadata on a full disk: %v (want full, and no half-created later)", topics.Names())
	}
	ends, err := c.adm.ListEndOffsets(ctx, "full")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("full", 0); o.Err != nil || o.Offset != int64(len(acked)) {
		t.Fatalf("ListOffsets on a full disk: %+v, want end %d", o, len(acked))
	}
	if _, err := c.adm.DescribeTopicConfigs(ctx, "full"); err != nil {
		t.Fatalf("DescribeConfigs on a full disk: %v", err)
	}
	offs, err := c.adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("full", 0); o.Err != nil || o.At != 2 {
		t.Fatalf("OffsetFetch on a full disk: %+v, want 2", o)
	}
	got := readAll(t, b.Addr(), "full", len(acked))
	for i := range acked {
		if !bytes.Equal(got[i], acked[i]) {
			t.Fatalf("record %d differs on a full disk", i)
		}
	}

	// Free the space: writes resume by themselves.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	deadline := freed.Add(15 * time.Second)
	for {
		_, err := c.produce("full", []byte("after"))
		if err == nil {
			acked = append(acked, []byte("after"))
			t.Logf("produce accepted again %v after space was freed", time.Since(freed).Round(time.Millisecond))
			break
		}
		if !errors.Is(err, kerr.KafkaStorageError) || time.Now().After(deadline) {
			t.Fatalf("produce after freeing space: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res, err := c.adm.CreateTopic(ctx, 3, 1, nil, "later"); err != nil || res.Err != nil {
		t.Fatalf("CreateTopics after freeing space: %v %v", err, res.Err)
	}
	if code, body, err := httpGet(readyz); err != nil || code != 200 || body != "ok\n" {
		t.Errorf("/readyz after freeing space = %d %q %v, want 200 ok", code, body, err)
	}
	if _, err := c.produce("later", []byte("x")); err != nil {
		t.Fatalf("produce to the new topic: %v", err)
	}
	cr, err = c.adm.CommitOffsets(ctx, "g", kadm.OffsetsFromRecords(kgo.Record{Topic: "full", Partition: 0, Offset: 5}))
	if err == nil {
		err = cr.Error()
	}
	if err != nil {
		t.Fatalf("OffsetCommit after freeing space: %v", err)
	}
	got = readAll(t, b.Addr(), "full", len(acked))
	for i := range acked {
		if !bytes.Equal(got[i], acked[i]) {
			t.Fatalf("record %d differs after recovery", i)
		}
	}
	// And across a restart.
	b.Restart()
	got = readAll(t, b.Addr(), "full", len(acked))
	for i := range acked {
		if !bytes.Equal(got[i], acked[i]) {
			t.Fatalf("record %d differs after restart", i)
		}
	}
	c = newFullDiskClient(t, b.Addr())
	offs, err = c.adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("full", 0); o.Err != nil || o.At != 6 {
		t.Fatalf("OffsetFetch after restart: %+v, want 6", o)
	}
}

// TestFullDiskRestart restarts the binary on a log dir whose file system
// is completely full (reserve file gone too): it must either serve reads
// or exit at once with one clear line; it must not hang, must honour
// SIGTERM, and must not flood the log.
func TestFullDiskRestart(t *testing.T) {
	data := smallFS(t, 16<<20)
	b := testbroker.StartIn(t, testbroker.Binary, data)
	c := newFullDiskClient(t, b.Addr())
	if _, err := c.adm.CreateTopic(ctxT(t), 1, 1, nil, "full"); err != nil {
		t.Fatal(err)
	}
	var acked [][]byte
	fillDisk(t, filepath.Join(data, "..", "filler"), 3<<20)
	for i := 0; i < 10000; i++ {
		v := make([]byte, 16<<10)
		rand.Read(v)
		if _, err := c.produce("full", v); err != nil {
			if !errors.Is(err, kerr.KafkaStorageError) {
				t.Fatalf("produce: %v", err)
			}
			break
		}
		acked = append(acked, v)
	}
	c.cl.Close()
	b.Stop() // SIGTERM on a full disk: exit 0 within 15s (checked by Stop)
	fillDisk(t, filepath.Join(data, "..", "filler2"), 0)

	r := testbroker.Launch(t, data)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("output of the restart on a full disk:\n%s", tail(r.Output()))
		}
	})
	// Serving means answering requests, not just a bound port (Start
	// binds before opening the stores).
	listening := false
	probe := newFullDiskClient(t, r.Addr())
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !listening; {
		select {
		case <-r.Exited():
			deadline = time.Time{}
			continue
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := probe.adm.ListTopics(ctx)
		cancel()
		listening = err == nil
	}
	probe.cl.Close()
	if listening {
		got := readAll(t, r.Addr(), "full", len(acked))
		for i := range acked {
			if !bytes.Equal(got[i], acked[i]) {
				t.Fatalf("record %d differs after restart on a full disk", i)
			}
		}
		c := newFullDiskClient(t, r.Addr())
		if _, err := c.produce("full", []byte("x")); !errors.Is(err, kerr.KafkaStorageError) {
			t.Fatalf("produce after restart on a full disk: %v, want KAFKA_STORAGE_ERROR", err)
		}
		c.cl.Close()
		if err := r.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-r.Exited():
	case <-time.After(10 * time.Second):
		t.Fatalf("broker neither served nor exited, or ignored SIGTERM, on a full disk (listening=%v)\n%s", listening, tail(r.Output()))
	}
	out := r.Output()
	if n := strings.Count(out, "\n"); n > 10 || !listening && n != 1 {
		t.Fatalf("%d log lines on a full disk (want one line if it exits, no storm if it serves)\n%s", n, tail(out))
	}
	if !listening && !strings.Contains(out, "out of disk space") {
		t.Fatalf("exited without saying the disk is full:\n%s", out)
	}
	t.Logf("restart on a full disk: listening=%v exit=%d\n%s", listening, r.ExitCode(), out)

	// SIGTERM while the start is stuck on the full disk stops it at once.
	r2 := testbroker.Launch(t, data)
	time.Sleep(500 * time.Millisecond)
	sent := time.Now()
	if err := r2.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r2.Exited():
		if d := time.Since(sent); d > 2*time.Second {
			t.Fatalf("SIGTERM took %v to stop a start on a full disk", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("SIGTERM ignored during a start on a full disk\n%s", tail(r2.Output()))
	}

	// Space back: the broker starts and has everything.
	_ = os.Remove(filepath.Join(data, "..", "filler"))
	_ = os.Remove(filepath.Join(data, "..", "filler2"))
	b2 := testbroker.StartIn(t, testbroker.Binary, data)
	got := readAll(t, b2.Addr(), "full", len(acked))
	for i := range acked {
		if !bytes.Equal(got[i], acked[i]) {
			t.Fatalf("record %d differs after space returned", i)
		}
	}
	c = newFullDiskClient(t, b2.Addr())
	if _, err := c.produce("full", []byte("x")); err != nil {
		t.Fatalf("produce once space returned: %v", err)
	}
	acked = append(acked, []byte("x"))
	c.cl.Close()

	// A restart on a disk filled to the last byte while the broker was
	// down, with the reserve file still in place: the reserve gives the
	// stores room to open, and the broker serves reads with writes
	// refused.
	b2.Stop()
	fillDisk(t, filepath.Join(data, "..", "filler3"), 0)
	r3 := testbroker.Launch(t, data)
	c = newFullDiskClient(t, r3.Addr())
	serving := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !serving; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.adm.ListTopics(ctx)
		cancel()
		serving = err == nil
	}
	if !serving {
		t.Fatalf("broker with its reserve intact did not serve on a full disk\n%s", tail(r3.Output()))
	}
	got = readAll(t, r3.Addr(), "full", len(acked))
	for i := range acked {
		if !bytes.Equal(got[i], acked[i]) {
			t.Fatalf("record %d differs after a restart on a full disk", i)
		}
	}
	if _, err := c.produce("full", []byte("y")); !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("produce on a full disk after restart: %v, want KAFKA_STORAGE_ERROR", err)
	}
	c.cl.Close()
	if err := r3.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r3.Exited():
		if code := r3.ExitCode(); code != 0 {
			t.Fatalf("exit status %d after SIGTERM on a full disk\n%s", code, tail(r3.Output()))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("SIGTERM ignored on a full disk\n%s", tail(r3.Output()))
	}
	out = r3.Output()
	if n := strings.Count(out, "\n"); n > 10 {
		t.Fatalf("%d log lines from a broker serving on a full disk (a storm?)\n%s", n, tail(out))
	}
	t.Logf("restart on a full disk with the reserve in place:\n%s", out)
}

// TestCreateTopicsAtomicOnFullDisk runs out of inodes (a real ENOSPC
// that leaves the metadata store writable but no partition directory can
// be created): CreateTopics answers KAFKA_STORAGE_ERROR and leaves no
// topic behind, so that the retry after space returns creates it instead
// of answering TOPIC_ALREADY_EXISTS.
func TestCreateTopicsAtomicOnFullDisk(t *testing.T) {
	data := smallFSOpts(t, "size=64m,nr_inodes=400")
	b := testbroker.StartIn(t, testbroker.InProcess, data)
	c := newFullDiskClient(t, b.Addr())
	ctx := ctxT(t)
	if _, err := c.adm.CreateTopic(ctx, 1, 1, nil, "first"); err != nil {
		t.Fatal(err)
	}
	fillers := filepath.Join(data, "..", "fillers")
	if err := os.Mkdir(fillers, 0o755); err != nil {
		t.Fatal(err)
	}
	var files []string
	for i := 0; ; i++ {
		name := filepath.Join(fillers, fmt.Sprint(i))
		f, err := os.Create(name)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
		f.Close()
		files = append(files, name)
	}
	res, err := c.adm.CreateTopic(ctx, 3, 1, nil, "atomic")
	if err == nil {
		err = res.Err
	}
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("CreateTopics without inodes: %v, want KAFKA_STORAGE_ERROR", err)
	}
	topics, err := c.adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("atomic") {
		t.Fatal("a topic whose logs could not be created was left behind")
	}
	for _, f := range files[:len(files)/2] {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := c.adm.CreateTopic(ctx, 3, 1, nil, "atomic")
		if err == nil {
			err = res.Err
		}
		if err == nil {
			break
		}
		if !errors.Is(err, kerr.KafkaStorageError) || time.Now().After(deadline) {
			t.Fatalf("CreateTopics after freeing inodes: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ends, err := c.adm.ListEndOffsets(ctx, "atomic")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset != 0 {
			t.Errorf("partition %d of the recreated topic: end %d, %v", o.Partition, o.Offset, o.Err)
		}
	})
	if len(ends["atomic"]) != 3 {
		t.Fatalf("recreated topic has %d partitions, want 3", len(ends["atomic"]))
	}
	if _, err := c.produce("atomic", []byte("v")); err != nil {
		t.Fatalf("produce to the recreated topic: %v", err)
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

// TestFullDiskJBODReadyz: with two log.dirs, the second a small tmpfs
// that fills up, produce to a partition there answers
// KAFKA_STORAGE_ERROR while a partition in the first dir still takes
// writes, and /readyz stays 200 and names the full dir (it looked at the
// first dir only); once the space is freed the note goes and writes
// resume.
func TestFullDiskJBODReadyz(t *testing.T) {
	d1 := smallFS(t, 24<<20)
	d0 := filepath.Join(t.TempDir(), "d0")
	httpPort := testbroker.FreePort(t)
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort)
	b := testbroker.StartIn(t, testbroker.InProcess, d0, "log.dirs="+d0+","+d1, fmt.Sprintf("samsa.http.listeners=http://127.0.0.1:%d", httpPort))
	c := newFullDiskClient(t, b.Addr())
	ctx := ctxT(t)
	brokers, err := c.adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := brokers.Brokers[0].NodeID
	for topic, dir := range map[string]string{"in-d0": d0, "in-d1": d1} {
		if _, err := c.adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		if at, _ := logDirOf(t, c.adm, topic); at != dir {
			req := kadm.AlterReplicaLogDirsReq{}
			req.Add(dir, kadm.TopicsSet{topic: {0: {}}})
			resps, err := c.adm.AlterBrokerReplicaLogDirs(ctx, id, req)
			if err != nil {
				t.Fatal(err)
			}
			resps.Each(func(r kadm.AlterReplicaLogDirsResponse) {
				if r.Err != nil {
					t.Fatalf("AlterReplicaLogDirs %s to %s: %v", topic, dir, r.Err)
				}
			})
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			at, future := logDirOf(t, c.adm, topic)
			if at == dir && !future {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s-0 is in %q (future: %v), want %s", topic, at, future, dir)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	filler := filepath.Join(d1, "..", "filler")
	fillDisk(t, filler, 6<<20)
	var lastErr error
	for i := 0; i < 10000 && lastErr == nil; i++ {
		v := make([]byte, 16<<10)
		rand.Read(v)
		_, lastErr = c.produce("in-d1", v)
	}
	if !errors.Is(lastErr, kerr.KafkaStorageError) {
		t.Fatalf("produce to a partition in the full dir: %v, want KAFKA_STORAGE_ERROR", lastErr)
	}
	if _, err := c.produce("in-d0", []byte("still writable")); err != nil {
		t.Errorf("produce to a partition in the dir with space while the other is full: %v", err)
	}
	want := "ok: log dir: out of disk space in " + d1 + ", writes to the partitions there refused with KAFKA_STORAGE_ERROR until space is freed; reads are served\n"
	if code, body, err := httpGet(readyz); err != nil || code != 200 || body != want {
		t.Errorf("/readyz with %s full = %d %q %v, want 200 %q", d1, code, body, err, want)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := c.produce("in-d1", []byte("after"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("produce after freeing space: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body, err := httpGet(readyz); err != nil || code != 200 || strings.Contains(body, "out of disk space") {
		t.Errorf("/readyz after freeing space = %d %q %v, want 200 without the note", code, body, err)
	}
}
