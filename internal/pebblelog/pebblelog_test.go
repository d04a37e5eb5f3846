package pebblelog

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestErrorfRateLimited: Pebble retries a failed flush without backoff
// and logs each failure; one message format is logged once per
// ErrorInterval, and ENOSPC (reported once by the disk guard) only at
// debug level.
func TestErrorfRateLimited(t *testing.T) {
	var buf lockedBuf
	l := NewDB(slog.New(slog.NewTextHandler(&buf, nil)), "index")
	for i := 0; i < 1000; i++ {
		l.Errorf("background error: %s", errors.New("write 000005.sst: input/output error"))
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("%d lines for 1000 identical errors:\n%s", n, buf.String())
	}
	l.Errorf("other: %v", 1)
	l.Errorf("background error: %s", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})
	l.Errorf("background error: %v", fmt.Errorf("flush: %w", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}))
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Fatalf("want 2 lines (ENOSPC at debug), got:\n%s", buf.String())
	}
}

// TestFatalfInsideGuard: a fatal Pebble error raised by a request's
// commit becomes that request's error; outside Guard (Pebble's background
// goroutines) it logs one line and exits.
func TestFatalfInsideGuard(t *testing.T) {
	var buf lockedBuf
	l := NewDB(slog.New(slog.NewTextHandler(&buf, nil)), "metadata")
	err := Guard(func() error {
		l.Fatalf("pebble: fatal commit error: %v", syscall.EIO)
		return nil
	})
	var f *Fatal
	if !errors.As(err, &f) || !strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("Guard returned %v", err)
	}
	// Nested calls inside Guard are inside it too.
	inner := func() { l.Fatalf("deep") }
	if err := Guard(func() error { inner(); return nil }); err == nil {
		t.Fatal("nested Fatalf not contained")
	}
	// Other panics pass through.
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want boom", r)
			}
		}()
		_ = Guard(func() error { panic("boom") })
	}()

	exited := make(chan struct{})
	old := Exit
	Exit = func() { close(exited); select {} }
	defer func() { Exit = old }()
	var buf2 lockedBuf
	l = NewDB(slog.New(slog.NewTextHandler(&buf2, nil)), "metadata")
	go l.Fatalf("MANIFEST sync failed: %v", &os.PathError{Op: "sync", Path: "MANIFEST-000001", Err: syscall.EIO})
	<-exited
	out := buf2.String()
	// A broken invariant is not a storage fault: it panics (in a request
	// goroutine, the connection's recover fails only that request).
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Fatal("invariant violation did not panic")
			}
		}()
		l.Fatalf("mergingIter: lower bound violation: %s < %s", "a", "b")
	}()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "MANIFEST sync failed") || !strings.Contains(out, "db=metadata") {
		t.Fatalf("fatal outside Guard logged:\n%s", out)
	}
}
