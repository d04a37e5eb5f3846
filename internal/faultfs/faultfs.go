// Package faultfs injects storage faults (ENOSPC, EIO) into Samsa's
// Pebble databases for tests, through Pebble's vfs/errorfs: a Fault is
// switched on and off while a store runs, and fails the matching
// operations meanwhile.
package faultfs

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// Fault is an errorfs.Injector that can be switched at run time.
type Fault struct {
	mu    sync.Mutex // guards err and match
	err   error
	match func(errorfs.Op) bool
	left  int // failures left; <0: unlimited

	hits atomic.Int64
}

// FS returns the OS file system with f injected, for a Pebble Options.FS.
func (f *Fault) FS() vfs.FS { return errorfs.Wrap(vfs.Default, f) }

// Set makes operations matching match fail with err (a syscall.Errno
// such as syscall.ENOSPC, so Pebble and the disk guard classify it as the
// OS error).
func (f *Fault) Set(err error, match func(errorfs.Op) bool) { f.SetN(err, match, -1) }

// SetN is Set for the next n matching operations only.
func (f *Fault) SetN(err error, match func(errorfs.Op) bool, n int) {
	f.mu.Lock()
	f.err, f.match, f.left = err, match, n
	f.mu.Unlock()
}

// Clear switches the fault off.
func (f *Fault) Clear() { f.Set(nil, nil) }

// Hits counts the operations failed so far.
func (f *Fault) Hits() int64 { return f.hits.Load() }

// MaybeError implements errorfs.Injector.
func (f *Fault) MaybeError(op errorfs.Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil || f.left == 0 || !f.match(op) {
		return nil
	}
	if f.left > 0 {
		f.left--
	}
	f.hits.Add(1)
	return f.err
}

func (f *Fault) String() string { return "faultfs.Fault" }

func isWrite(op errorfs.Op) bool { return op.Kind.ReadOrWrite() == errorfs.OpIsWrite }

// WAL matches writes and syncs of WAL files (*.log).
func WAL(op errorfs.Op) bool { return isWrite(op) && strings.HasSuffix(op.Path, ".log") }

// Tables matches the creation and writes of table files (*.sst): memtable
// flushes and compactions.
func Tables(op errorfs.Op) bool { return isWrite(op) && strings.HasSuffix(op.Path, ".sst") }

// AnyWrite matches every write operation.
func AnyWrite(op errorfs.Op) bool { return isWrite(op) }
