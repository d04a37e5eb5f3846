package controller

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"samsa/internal/diskguard"
	"samsa/internal/faultfs"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestWriteFaultContained injects ENOSPC and EIO into the metadata
// store's WAL (the write Pebble cannot survive: "fatal commit error"):
// CreateTopic answers KAFKA_STORAGE_ERROR instead of panicking or
// hanging, later writes are refused until the store has reopened itself,
// and the topic whose write failed exists neither in memory nor, after a
// restart, on disk.
func TestWriteFaultContained(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EIO, syscall.ENOSPC} {
		t.Run(errno.Error(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), ".samsa-meta")
			var fault faultfs.Fault
			cfg := testConfig(dir)
			cfg.FS = fault.FS()
			s, err := OpenSingle(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			ctx := context.Background()
			mustCreate(t, s, CreateTopic{Name: "before", NumPartitions: 1, ReplicationFactor: 1})

			fault.Set(errno, faultfs.WAL)
			_, err = s.CreateTopic(ctx, CreateTopic{Name: "failed", NumPartitions: 1, ReplicationFactor: 1})
			wantErr(t, err, kerr.KafkaStorageError)
			if fault.Hits() == 0 {
				t.Fatal("the fault was never hit")
			}
			if _, ok := s.Topic("failed"); ok {
				t.Fatal("a topic whose write failed is visible")
			}
			_, err = s.CreateTopic(ctx, CreateTopic{Name: "during", NumPartitions: 1, ReplicationFactor: 1})
			wantErr(t, err, kerr.KafkaStorageError)
			if _, err := s.AllocateProducerIDs(ctx, 1); err == nil {
				t.Fatal("producer id block persisted through a failed store")
			}

			fault.Clear()
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, err := s.CreateTopic(ctx, CreateTopic{Name: "after", NumPartitions: 1, ReplicationFactor: 1})
				if err == nil {
					break
				}
				wantErr(t, err, kerr.KafkaStorageError)
				if time.Now().After(deadline) {
					t.Fatalf("store did not recover: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			s2 := reopen(t, s, dir)
			if got := topicNames(s2.Topics()); len(got) != 2 || got[0] != "after" || got[1] != "before" {
				t.Fatalf("topics after restart: %v, want [after before]", got)
			}
		})
	}
}

// TestFullDiskRefusesMutations: with the disk guard full, mutations fail
// with KAFKA_STORAGE_ERROR before touching Pebble, except DeleteTopic
// (which frees space and undoes half-created topics); they resume once
// the guard clears.
func TestFullDiskRefusesMutations(t *testing.T) {
	tmp := t.TempDir()
	free := int64(0)
	g, err := diskguard.New(diskguard.Options{Dir: tmp, Reserve: 1 << 20,
		Statfs: func(string) (int64, int64, error) { return free, 1 << 30, nil }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(filepath.Join(tmp, ".samsa-meta"))
	cfg.Guard = g
	s, err := OpenSingle(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	mustCreate(t, s, CreateTopic{Name: "a", NumPartitions: 1, ReplicationFactor: 1})
	g.Note(syscall.ENOSPC)
	if !g.Full() {
		t.Fatal("guard not full after ENOSPC")
	}
	_, err = s.CreateTopic(ctx, CreateTopic{Name: "b", NumPartitions: 1, ReplicationFactor: 1})
	wantErr(t, err, kerr.KafkaStorageError)
	wantErr(t, s.SetTopicConfigs(ctx, "a", map[string]string{"retention.ms": "1"}), kerr.KafkaStorageError)
	if _, err := s.DeleteTopic(ctx, "a"); err != nil {
		t.Fatalf("DeleteTopic on a full disk: %v", err)
	}
	if g.TryRecover() {
		t.Fatal("recovered without free space")
	}
	free = 10 << 20
	if !g.TryRecover() {
		t.Fatal("did not recover with free space")
	}
	mustCreate(t, s, CreateTopic{Name: "b", NumPartitions: 1, ReplicationFactor: 1})
}
