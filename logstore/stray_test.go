package logstore

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer collects log output from concurrent goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (e *env) openWith(logs *lockedBuffer, configFor func(string, int32) (PartitionConfig, bool)) *Store {
	e.t.Helper()
	s, err := Open(Options{
		Dir: e.dir, IndexDir: e.index, FS: e.fs, Now: e.clock.Now,
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
		ConfigFor:  configFor,
		MoveStrays: true,
	})
	if err != nil {
		e.t.Fatalf("open: %v", err)
	}
	e.s = s
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

func strayDirs(t *testing.T, dir, prefix string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), prefix+".") && strings.HasSuffix(de.Name(), strayDirSuffix) {
			out = append(out, de.Name())
		}
	}
	return out
}

// TestStrayLogsMovedAside: partition directories that the cluster
// metadata does not claim, or that record another topic id, are moved
// aside at Open and never served; a topic created later under the same
// name starts empty.
func TestStrayLogsMovedAside(t *testing.T) {
	idA, idB := [16]byte{1, 2, 3}, [16]byte{9, 9, 9}
	e := newEnv(t)
	e.open()
	for _, k := range []partKey{{"a", 0}, {"b", 0}, {"gone", 0}} {
		id := idA
		if k.topic == "b" {
			id = idB
		}
		p := e.create(k.topic, k.partition, PartitionConfig{TopicID: id})
		appendBatch(t, p, makeBatch(t, batchSpec{records: 3}))
	}
	e.close()
	got, has, err := readPartitionMetadata(OSFS{}, filepath.Join(e.dir, "a-0"))
	if err != nil || !has || got != idA {
		t.Fatalf("partition.metadata of a-0: %v %v %v", got, has, err)
	}
	raw, _ := os.ReadFile(filepath.Join(e.dir, "a-0", partitionMetadataFile))
	if want := "version: 0\ntopic_id: " + encodeTopicID(idA); string(raw) != want {
		t.Fatalf("partition.metadata = %q, want %q", raw, want)
	}

	// Now the metadata says: "a" is still idA, "b" was re-created as idA
	// (a different topic with the same name), "gone" does not exist.
	var logs lockedBuffer
	s := e.openWith(&logs, func(topic string, _ int32) (PartitionConfig, bool) {
		if topic == "a" || topic == "b" {
			return PartitionConfig{TopicID: idA}, true
		}
		return PartitionConfig{}, false
	})
	if p, ok := s.Partition("a", 0); !ok || p.LogEndOffset() != 3 {
		t.Fatalf("claimed partition a-0 not served (ok=%v)", ok)
	}
	for _, topic := range []string{"b", "gone"} {
		if _, ok := s.Partition(topic, 0); ok {
			t.Fatalf("stray partition %s-0 is served", topic)
		}
		if n := len(strayDirs(t, e.dir, topic+"-0")); n != 1 {
			t.Fatalf("%s-0: %d stray dirs, want 1", topic, n)
		}
		if !strings.Contains(logs.String(), filepath.Join(e.dir, topic+"-0")) {
			t.Fatalf("no log line names %s-0's path:\n%s", topic, logs.String())
		}
	}
	p, err := s.CreatePartition("b", 0, PartitionConfig{TopicID: idA})
	if err != nil {
		t.Fatal(err)
	}
	if p.LogEndOffset() != 0 {
		t.Fatalf("re-created b-0 adopted old records: end offset %d", p.LogEndOffset())
	}
	e.close()
	// Stray directories are left alone on later starts.
	e.openWith(&logs, func(topic string, _ int32) (PartitionConfig, bool) {
		return PartitionConfig{TopicID: idA}, topic != "gone"
	})
	if n := len(strayDirs(t, e.dir, "gone-0")); n != 1 {
		t.Fatalf("gone-0: %d stray dirs after a second start", n)
	}
}

// TestCreatePartitionRefusesForeignDir: a directory holding another
// topic's log (recorded id differs) that appears where a new partition is
// created is moved aside, not adopted.
func TestCreatePartitionRefusesForeignDir(t *testing.T) {
	e := newEnv(t)
	var logs lockedBuffer
	e.openWith(&logs, func(string, int32) (PartitionConfig, bool) { return PartitionConfig{}, false })
	dir := filepath.Join(e.dir, "t-0")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, partitionMetadataFile), partitionMetadata([16]byte{7}), 0o644); err != nil {
		t.Fatal(err)
	}
	batch := makeBatch(t, batchSpec{records: 2})
	if err := os.WriteFile(filepath.Join(dir, segmentName(0)), batch, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := e.s.CreatePartition("t", 0, PartitionConfig{TopicID: [16]byte{8}})
	if err != nil {
		t.Fatal(err)
	}
	if p.LogEndOffset() != 0 {
		t.Fatalf("adopted a foreign log: end offset %d", p.LogEndOffset())
	}
	if n := len(strayDirs(t, e.dir, "t-0")); n != 1 {
		t.Fatalf("%d stray dirs, want 1", n)
	}
}

// TestDamagedBatchReported: a batch length overwritten in the middle of a
// closed segment (the index still describes the old bytes) makes reads of
// that batch fail with ErrCorruptBatch, logged once with the segment's
// path, while the batches around it stay readable.
func TestDamagedBatchReported(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 600})
	var positions []int64
	var pos int64
	for i := 0; i < 12; i++ {
		b := makeBatch(t, batchSpec{records: 1, valueSize: 100})
		res := appendBatch(t, p, b)
		if res.BaseOffset < 3 {
			positions = append(positions, pos)
			pos += int64(len(b))
		}
	}
	if len(segmentFiles(t, p.lc().dir)) < 3 {
		t.Fatalf("want several segments, have %v", segmentFiles(t, p.lc().dir))
	}
	e.close()
	seg := filepath.Join(e.dir, "t-0", segmentName(0))
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], 0x7fffffff)
	if _, err := f.WriteAt(l[:], positions[1]+offLength); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var logs lockedBuffer
	e.openWith(&logs, nil)
	p = e.part("t", 0)
	for range 3 {
		_, err := p.Read(1, 1<<20)
		wantErr(t, err, ErrCorruptBatch)
	}
	if n := strings.Count(logs.String(), "damaged batch"); n != 1 {
		t.Fatalf("damage logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), seg) {
		t.Fatalf("log does not name %s:\n%s", seg, logs.String())
	}
	res, err := p.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := splitBatches(t, res.Batches); len(got) != 1 {
		t.Fatalf("read at 0 returned %d batches, want only the one before the damage", len(got))
	}
	res.Release()
	if res, err = p.Read(p.LogEndOffset()-1, 1<<20); err != nil {
		t.Fatalf("read past the damaged segment: %v", err)
	}
	res.Release()
}
