package diskguard

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"samsa/internal/faultfs"
	"samsa/internal/pebblelog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kerr"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestGuard(t *testing.T, free *atomic.Int64) (*Guard, string) {
	t.Helper()
	dir := t.TempDir()
	g, err := New(Options{Dir: dir, Reserve: 128 << 10, Logger: quiet(),
		Statfs: func(string) (int64, int64, error) { return free.Load(), 1 << 30, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return g, dir
}

func ballastSize(t *testing.T, dir string) int64 {
	st, err := os.Stat(filepath.Join(dir, BallastName))
	if errors.Is(err, os.ErrNotExist) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestReserveLifecycle: the ballast exists while all is well, goes at the
// first ENOSPC, and comes back (clearing the full state) only once twice
// the reserve is free.
func TestReserveLifecycle(t *testing.T) {
	var free atomic.Int64
	g, dir := newTestGuard(t, &free)
	if n := ballastSize(t, dir); n != 128<<10 {
		t.Fatalf("ballast is %d bytes, want %d", n, 128<<10)
	}
	if g.Full() || g.Check() != nil {
		t.Fatal("new guard is full")
	}
	if g.Note(syscall.EIO) || g.Full() {
		t.Fatal("EIO counted as a full disk")
	}
	if !g.Note(fmt.Errorf("write x: %w", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})) || !g.Full() {
		t.Fatal("wrapped ENOSPC not noticed")
	}
	if err := g.Check(); !errors.Is(err, ErrDiskFull) || !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("Check on a full disk: %v", err)
	}
	if ballastSize(t, dir) != -1 {
		t.Fatal("ballast still there after ENOSPC")
	}
	free.Store(200 << 10)
	if g.TryRecover() || !g.Full() {
		t.Fatal("recovered with less than twice the reserve free")
	}
	free.Store(1 << 20)
	if !g.TryRecover() || g.Full() {
		t.Fatal("did not recover with space")
	}
	if n := ballastSize(t, dir); n != 128<<10 {
		t.Fatalf("ballast not recreated: %d", n)
	}
	var nilGuard *Guard
	if nilGuard.Full() || nilGuard.Check() != nil || nilGuard.Note(syscall.ENOSPC) {
		t.Fatal("nil guard must be a no-op")
	}
}

// TestMonitorRecovers: the monitor clears the full state by itself.
func TestMonitorRecovers(t *testing.T) {
	var free atomic.Int64
	dir := t.TempDir()
	g, err := New(Options{Dir: dir, Reserve: 64 << 10, Interval: 5 * time.Millisecond, Logger: quiet(),
		Statfs: func(string) (int64, int64, error) { return free.Load(), 1 << 30, nil }})
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	defer g.Close()
	g.Note(syscall.ENOSPC)
	free.Store(1 << 20)
	for i := 0; g.Full(); i++ {
		if i > 2000 {
			t.Fatal("monitor did not clear the full state")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPebbleENOSPCUsesReserve: the first ENOSPC of a Pebble WAL write
// frees the ballast and the write is retried, so the commit succeeds and
// Pebble's commit pipeline stays usable (without the guard, that commit
// would be Pebble's "fatal commit error").
func TestPebbleENOSPCUsesReserve(t *testing.T) {
	var free atomic.Int64
	g, dir := newTestGuard(t, &free)
	var fault faultfs.Fault
	db, err := pebble.Open(filepath.Join(dir, "db"), &pebble.Options{FS: g.WrapPebble(fault.FS()), Logger: pebblelog.New(quiet())})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fault.SetN(syscall.ENOSPC, faultfs.WAL, 1)
	err = pebblelog.Guard(func() error { return db.Set([]byte("k"), []byte("v"), pebble.Sync) })
	if err != nil {
		t.Fatalf("commit that hit ENOSPC once: %v", err)
	}
	if fault.Hits() != 1 || !g.Full() || ballastSize(t, dir) != -1 {
		t.Fatalf("hits %d full %v ballast %d", fault.Hits(), g.Full(), ballastSize(t, dir))
	}
	if err := db.Set([]byte("k2"), []byte("v"), pebble.Sync); err != nil {
		t.Fatalf("commit after the retry: %v", err)
	}
}
