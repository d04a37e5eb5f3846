package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/groups"
	"samsa/internal/testbroker"
)

// readOffsetsTopic reads every record of __consumer_offsets partition p
// with a kgo consumer.
func readOffsetsTopic(t *testing.T, addr string, p int32) []*kgo.Record {
	t.Helper()
	adm := newAdmin(t, addr)
	ends, err := adm.ListEndOffsets(ctxT(t), groups.OffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	end, ok := ends.Lookup(groups.OffsetsTopic, p)
	if !ok || end.Err != nil {
		t.Fatalf("end offset of %s-%d: %+v", groups.OffsetsTopic, p, end)
	}
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		groups.OffsetsTopic: {p: kgo.NewOffset().AtStart()},
	}))
	var out []*kgo.Record
	ctx := ctxT(t)
	for int64(len(out)) < end.Offset {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("fetch %s-%d: %v", groups.OffsetsTopic, p, err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// TestOffsetsTopicKafkaRecords: commits, a group's membership and its
// deletion land in __consumer_offsets as Kafka 4.x writes them
// (OffsetCommitKey v1 / OffsetCommitValue v3, GroupMetadataKey v2 /
// GroupMetadataValue v3, tombstones), in the partition Kafka would pick,
// readable by an ordinary consumer.
func TestOffsetsTopicKafkaRecords(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, groupOverrides...)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctxT(t), 2, 1, nil, "ot"); err != nil {
		t.Fatal(err)
	}
	produceValues(t, b.Addr(), "ot", 0, 10)
	out := &consumed{}
	m := startMember(t, b.Addr(), "og", "ot", "m", out)
	waitFor(t, "10 records consumed", 30*time.Second, func() bool { return out.count() == 10 })
	m.close(false) // commits, then leaves: the group becomes Empty

	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "ot", Partition: 1, At: 42, LeaderEpoch: 0, Metadata: "meta"})
	if r, err := adm.CommitOffsets(ctxT(t), "simple", offs); err != nil || r.Error() != nil {
		t.Fatalf("commit: %v %v", err, r.Error())
	}

	p := groups.PartitionFor("simple", 50)
	var found bool
	for _, r := range readOffsetsTopic(t, b.Addr(), p) {
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(r.Key); err != nil || k.Version != 1 || k.Group != "simple" {
			continue
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(r.Value); err != nil {
			t.Fatalf("offset commit value: %v", err)
		}
		if k.Topic != "ot" || k.Partition != 1 || v.Version != 3 || v.Offset != 42 || v.LeaderEpoch != 0 || v.Metadata != "meta" ||
			v.CommitTimestamp < time.Now().Add(-time.Minute).UnixMilli() {
			t.Fatalf("commit record: key %+v value %+v", k, v)
		}
		found = true
	}
	if !found {
		t.Fatalf("no commit of group simple in %s-%d", groups.OffsetsTopic, p)
	}

	p = groups.PartitionFor("og", 50)
	var commits, metas int
	var last kmsg.GroupMetadataValue
	for _, r := range readOffsetsTopic(t, b.Addr(), p) {
		switch int16(r.Key[0])<<8 | int16(r.Key[1]) {
		case 1:
			var k kmsg.OffsetCommitKey
			if err := k.ReadFrom(r.Key); err != nil || k.Group != "og" {
				continue
			}
			commits++
		case 2:
			var k kmsg.GroupMetadataKey
			if err := k.ReadFrom(r.Key); err != nil || k.Group != "og" {
				continue
			}
			if r.Value == nil {
				t.Fatal("unexpected group tombstone before deletion")
			}
			last = kmsg.GroupMetadataValue{}
			if err := last.ReadFrom(r.Value); err != nil {
				t.Fatal(err)
			}
			if last.Version != 3 || last.ProtocolType != "consumer" {
				t.Fatalf("group record %+v", last)
			}
			if len(last.Members) == 1 {
				mm := last.Members[0]
				if last.Protocol == nil || last.Leader == nil || *last.Leader != mm.MemberID || len(mm.Subscription) == 0 || len(mm.Assignment) == 0 ||
					mm.SessionTimeoutMillis <= 0 || mm.RebalanceTimeoutMillis <= 0 || last.Generation < 1 {
					t.Fatalf("stable group record %+v", last)
				}
			}
			metas++
		}
	}
	if commits == 0 || metas < 2 || len(last.Members) != 0 {
		t.Fatalf("group og: %d commits, %d group records, last %+v (want the Empty group last)", commits, metas, last)
	}

	// Deleting the group writes tombstones for its offsets and itself.
	if r, err := adm.DeleteGroup(ctxT(t), "og"); err != nil || r.Err != nil {
		t.Fatalf("delete group: %v %v", err, r.Err)
	}
	var groupTomb bool
	offTombs := map[int32]bool{}
	for _, r := range readOffsetsTopic(t, b.Addr(), p) {
		if r.Value != nil {
			continue
		}
		var gk kmsg.GroupMetadataKey
		var ok kmsg.OffsetCommitKey
		switch {
		case r.Key[1] == 2 && gk.ReadFrom(r.Key) == nil && gk.Group == "og":
			groupTomb = true
		case r.Key[1] == 1 && ok.ReadFrom(r.Key) == nil && ok.Group == "og":
			offTombs[ok.Partition] = true
		}
	}
	if !groupTomb || len(offTombs) != 2 {
		t.Fatalf("after delete: group tombstone %v, offset tombstones %v", groupTomb, offTombs)
	}

	// Clients still may not produce to it.
	cl := newClient(t, b.Addr())
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: groups.OffsetsTopic, Key: []byte("k"), Value: []byte("v")}).FirstErr(); err == nil {
		t.Fatal("produce to __consumer_offsets accepted")
	}
}

// TestCommitsSurviveKill9: a stream of commits, the broker killed with
// SIGKILL at random moments; after each restart every acknowledged commit
// is there (the last acknowledged offset, or the one in flight).
func TestCommitsSurviveKill9(t *testing.T) {
	b := testbroker.Start(t, testbroker.Binary, groupOverrides...)
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 4, 1, nil, "kt"); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64 // last acknowledged offset (the same for all 4 partitions)
	next := int64(0)
	for round := 0; round < 4; round++ {
		adm := newAdmin(t, b.Addr())
		stop := make(chan struct{})
		done := make(chan struct{})
		var inflight atomic.Int64
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				next++
				inflight.Store(next)
				offs := kadm.Offsets{}
				for p := int32(0); p < 4; p++ {
					offs.Add(kadm.Offset{Topic: "kt", Partition: p, At: next, LeaderEpoch: -1})
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				r, err := adm.CommitOffsets(ctx, "kg", offs)
				cancel()
				if err == nil && r.Error() == nil {
					acked.Store(next)
				} else {
					return
				}
			}
		}()
		time.Sleep(time.Duration(200+rand.IntN(600)) * time.Millisecond)
		b.Kill()
		close(stop)
		<-done
		want, maybe := acked.Load(), inflight.Load()
		b.Restart()
		got, err := newAdmin(t, b.Addr()).FetchOffsets(ctxT(t), "kg")
		if err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < 4; p++ {
			o, ok := got.Lookup("kt", p)
			if !ok || o.Err != nil || (o.At != want && o.At != maybe) {
				t.Fatalf("round %d: partition %d committed %+v, want %d (or in-flight %d)", round, p, o, want, maybe)
			}
		}
		t.Logf("round %d: %d commits acknowledged so far", round, want)
		next = maybe
	}
	if acked.Load() < 10 {
		t.Fatalf("only %d commits acknowledged: the test did not exercise anything", acked.Load())
	}
}

// TestMigrationFromPebbleStore: a data dir written by the previous
// release (commit e30767f, groups in <logdir>/.samsa-groups) starts with
// every committed offset and group carried over to __consumer_offsets and
// the old store gone; a start that finds the old store again (a crash
// before it was removed) migrates it again without harm.
func TestMigrationFromPebbleStore(t *testing.T) {
	old := buildOldRelease(t, "e30767f")
	dir := t.TempDir()
	port := testbroker.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(old, "--override", "listeners=PLAINTEXT://"+addr, "--override", "log.dirs="+dir,
		"--override", "group.initial.rebalance.delay.ms=0", "--override", "group.min.session.timeout.ms=500")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	if err := testbroker.WaitListening(addr, 30*time.Second, exited); err != nil {
		t.Fatal(err)
	}
	adm := newAdmin(t, addr)
	if _, err := adm.CreateTopic(ctxT(t), 3, 1, nil, "mt"); err != nil {
		t.Fatal(err)
	}
	want := map[string]kadm.Offsets{}
	for i := 0; i < 20; i++ {
		g := fmt.Sprintf("mg-%d", i)
		offs := kadm.Offsets{}
		for p := int32(0); p < 3; p++ {
			offs.Add(kadm.Offset{Topic: "mt", Partition: p, At: int64(i*100) + int64(p), LeaderEpoch: int32(i % 3), Metadata: "m" + g})
		}
		if r, err := adm.CommitOffsets(ctxT(t), g, offs); err != nil || r.Error() != nil {
			t.Fatalf("commit %s: %v %v", g, err, r.Error())
		}
		want[g] = offs
	}
	// A consumer group with members and an assignment, still Stable
	// when the old broker stops.
	produceValues(t, addr, "mt", 0, 10)
	out := &consumed{}
	m := startMember(t, addr, "mcg", "mt", "m", out, kgo.SessionTimeout(time.Minute))
	waitFor(t, "10 records consumed", 30*time.Second, func() bool { return out.count() == 10 })
	waitFor(t, "mcg commits", 30*time.Second, func() bool {
		o, err := adm.FetchOffsets(ctxT(t), "mcg")
		return err == nil && len(o["mt"]) == 3
	})
	mcg, err := adm.FetchOffsets(ctxT(t), "mcg")
	if err != nil {
		t.Fatal(err)
	}
	m.close(true) // a crashed client: the group stays Stable with its member
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	if _, err := os.Stat(filepath.Join(dir, ".samsa-groups")); err != nil {
		t.Fatalf("the old release wrote no group store: %v", err)
	}
	snapshot := t.TempDir()
	copyDir(t, filepath.Join(dir, ".samsa-groups"), filepath.Join(snapshot, ".samsa-groups"))

	check := func(b *testbroker.Broker) {
		t.Helper()
		adm := newAdmin(t, b.Addr())
		for g, offs := range want {
			got, err := adm.FetchOffsets(ctxT(t), g)
			if err != nil {
				t.Fatal(err)
			}
			offs.Each(func(o kadm.Offset) {
				r, ok := got.Lookup(o.Topic, o.Partition)
				if !ok || r.At != o.At || r.LeaderEpoch != o.LeaderEpoch || r.Metadata != o.Metadata {
					t.Fatalf("%s %s-%d after migration: %+v, want %+v", g, o.Topic, o.Partition, r, o)
				}
			})
		}
		got, err := adm.FetchOffsets(ctxT(t), "mcg")
		if err != nil {
			t.Fatal(err)
		}
		mcg.Each(func(o kadm.OffsetResponse) {
			if r, ok := got.Lookup(o.Topic, o.Partition); !ok || r.At != o.At {
				t.Fatalf("mcg %s-%d after migration: %+v, want %d", o.Topic, o.Partition, r, o.At)
			}
		})
		ds, err := adm.DescribeGroups(ctxT(t), "mcg")
		if err != nil {
			t.Fatal(err)
		}
		d := ds["mcg"]
		if d.Err != nil || d.ProtocolType != "consumer" || d.State != "Stable" || len(d.Members) != 1 {
			t.Fatalf("mcg after migration: %+v", d)
		}
		if _, err := os.Stat(filepath.Join(b.DataDir(), ".samsa-groups")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("old group store still there: %v", err)
		}
	}
	b := testbroker.StartIn(t, testbroker.Binary, dir, groupOverrides...)
	check(b)
	b.Stop()
	// The old store again next to the migrated log (a crash between the
	// appends and the removal): migrated again, nothing changes.
	copyDir(t, filepath.Join(snapshot, ".samsa-groups"), filepath.Join(dir, ".samsa-groups"))
	b = testbroker.StartIn(t, testbroker.Binary, dir, groupOverrides...)
	check(b)
}

// buildOldRelease builds cmd/samsa of commit rev into a temp dir.
func buildOldRelease(t *testing.T, rev string) string {
	t.Helper()
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	src := t.TempDir()
	sh := fmt.Sprintf("git -C %q archive %s | tar -x -C %q", string(root[:len(root)-1]), rev, src)
	if out, err := exec.Command("sh", "-c", sh).CombinedOutput(); err != nil {
		t.Fatalf("extracting %s: %v\n%s", rev, err, out)
	}
	bin := filepath.Join(t.TempDir(), "samsa-"+rev)
	build := exec.Command("go", "build", "-o", bin, "./cmd/samsa")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", rev, err, out)
	}
	return bin
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp %s %s: %v\n%s", from, to, err, out)
	}
}
