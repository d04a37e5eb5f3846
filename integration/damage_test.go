package integration

import (
	"encoding/base64"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

func fetchAt(t *testing.T, addr, topic string, offset int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes = 12, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return rawRequest(t, addr, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
}

// TestDamagedSegmentReported overwrites a batch length field in the middle
// of a closed segment with 0x7fffffff while the broker is down. After the
// restart a fetch of that batch answers CORRUPT_MESSAGE (it used to answer
// no records and no error, so consumers stalled silently), the broker logs
// the damage once with the segment's path, and the batches before and
// after it are still served.
func TestDamagedSegmentReported(t *testing.T) {
	b := testbroker.Start(t, testbroker.Binary)
	ctx := ctxT(t)
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": kadm.StringPtr("1048576")}, "dmg"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("dmg"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := 0; i < 12; i++ { // one batch each, four per segment
		produceAll(t, cl, &kgo.Record{Value: []byte(strings.Repeat("v", 250<<10))})
	}
	b.Stop()

	seg := filepath.Join(b.DataDir(), "dmg-0", "00000000000000000000.log")
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	second := int64(binary.BigEndian.Uint32(data[8:])) + 12 // position of offset 1's batch
	if int64(len(data)) < 3*second {
		t.Fatalf("segment %s holds %d bytes; want at least three batches", seg, len(data))
	}
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0x7f, 0xff, 0xff, 0xff}, second+8); err != nil {
		t.Fatal(err)
	}
	f.Close()

	b.Restart()
	for range 3 {
		if p := fetchAt(t, b.Addr(), "dmg", 1); p.ErrorCode != kerr.CorruptMessage.Code {
			t.Fatalf("fetch of the damaged batch: error %d, want CORRUPT_MESSAGE", p.ErrorCode)
		}
	}
	// The answer at 0 holds the one whole batch before the damage. The
	// records go from the segment file without being read (sendfile, as
	// Kafka's LogSegment.read), so the damaged batch's bytes may follow,
	// as far as the index says it goes: its header claims 2 GiB, so a
	// client takes it for a partial trailing batch and drops it, then
	// fetches offset 1 and gets CORRUPT_MESSAGE (checked above).
	if p := fetchAt(t, b.Addr(), "dmg", 0); p.ErrorCode != 0 || wholeBatchBytes(p.RecordBatches) != int(second) || lastOffsetOf(p.RecordBatches) != 1 {
		t.Fatalf("fetch at 0: error %d, %d bytes of whole batches up to offset %d; want the one batch before the damage (%d bytes)",
			p.ErrorCode, wholeBatchBytes(p.RecordBatches), lastOffsetOf(p.RecordBatches), second)
	}
	if p := fetchAt(t, b.Addr(), "dmg", 11); p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
		t.Fatalf("fetch past the damaged segment: error %d, %d bytes", p.ErrorCode, len(p.RecordBatches))
	}
	out := b.WaitOutput(10*time.Second, func(out string) bool {
		return strings.Contains(out, "damaged batch") && strings.Contains(out, seg)
	})
	if n := strings.Count(out, "damaged batch"); n != 1 {
		t.Fatalf("damage logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, seg) {
		t.Fatalf("the log does not name %s:\n%s", seg, out)
	}
}

// TestMetadataLossServesNoOldData deletes the cluster metadata store of a
// stopped broker. The restarted broker must not hand the old partition
// logs or committed offsets to a topic created later under the same name:
// the logs are moved aside as stray (named in the log) and the offsets
// dropped, and the new topic's log records its own topic id.
func TestMetadataLossServesNoOldData(t *testing.T) {
	b := testbroker.Start(t, testbroker.Binary)
	ctx := ctxT(t)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("orders"))
	for i := 0; i < 10; i++ {
		produceAll(t, cl, &kgo.Record{Partition: int32(i % 2), Value: []byte("old")})
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 5, LeaderEpoch: -1})
	if resp, err := adm.CommitOffsets(ctx, "g", offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	b.Stop()
	if err := os.RemoveAll(filepath.Join(b.DataDir(), ".samsa-meta")); err != nil {
		t.Fatal(err)
	}

	b.Restart()
	adm = newAdmin(t, b.Addr())
	if _, err := adm.ListTopics(ctx); err != nil { // the listener is up before the stores open
		t.Fatal(err)
	}
	out := b.WaitOutput(10*time.Second, func(out string) bool {
		return strings.Contains(out, filepath.Join(b.DataDir(), "orders-0")) && strings.Contains(out, filepath.Join(b.DataDir(), "orders-1"))
	})
	for _, p := range []string{"orders-0", "orders-1"} {
		if !strings.Contains(out, filepath.Join(b.DataDir(), p)) || !strings.Contains(out, "stray") {
			t.Fatalf("no stray log line names %s:\n%s", p, out)
		}
		if m, _ := filepath.Glob(filepath.Join(b.DataDir(), p+".*-stray")); len(m) != 1 {
			t.Fatalf("%s moved aside %d times, want once", p, len(m))
		}
	}
	created, err := adm.CreateTopic(ctx, 1, 1, nil, "orders")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if end := ends["orders"][0].Offset; end != 0 {
		t.Fatalf("new topic orders has end offset %d: it adopted the old log", end)
	}
	fetched, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := fetched.Lookup("orders", 0); ok && o.At >= 0 {
		t.Fatalf("group g still has committed offset %d for the new topic orders", o.At)
	}
	raw, err := os.ReadFile(filepath.Join(b.DataDir(), "orders-0", "partition.metadata"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "version: 0\ntopic_id: " + base64.RawURLEncoding.EncodeToString(created.ID[:]); string(raw) != want {
		t.Fatalf("partition.metadata = %q, want %q", raw, want)
	}
}

// TestMissingPartitionLogReported removes one partition directory of a
// stopped broker: the restarted broker names it in a warning and serves
// that partition empty, and the other partition keeps its records.
func TestMissingPartitionLogReported(t *testing.T) {
	b := testbroker.Start(t, testbroker.Binary)
	ctx := ctxT(t)
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctx, 2, 1, nil, "lost"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("lost"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := 0; i < 6; i++ {
		produceAll(t, cl, &kgo.Record{Partition: int32(i % 2), Value: []byte("v")})
	}
	b.Stop()
	gone := filepath.Join(b.DataDir(), "lost-1")
	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	b.Restart()
	ends, err := newAdmin(t, b.Addr()).ListEndOffsets(ctx, "lost")
	if err != nil {
		t.Fatal(err)
	}
	if e0, e1 := ends["lost"][0].Offset, ends["lost"][1].Offset; e0 != 3 || e1 != 0 {
		t.Fatalf("end offsets %d, %d; want 3, 0", e0, e1)
	}
	if out := b.WaitOutput(10*time.Second, func(out string) bool {
		return strings.Contains(out, "partition log missing") && strings.Contains(out, gone)
	}); strings.Count(out, "partition log missing") != 1 || !strings.Contains(out, gone) {
		t.Fatalf("want one warning naming %s:\n%s", gone, out)
	}
}

// wholeBatchBytes is the length of the whole record batches at the start
// of a fetch answer's records, as a client parses them: a trailing batch
// whose length goes past the end is partial and dropped.
func wholeBatchBytes(b []byte) int {
	off := 0
	for len(b)-off >= 61 {
		n := int(int32(binary.BigEndian.Uint32(b[off+8:]))) + 12
		if n < 61 || off+n > len(b) {
			break
		}
		off += n
	}
	return off
}
