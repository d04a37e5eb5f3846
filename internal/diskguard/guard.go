// Package diskguard keeps Samsa's log dir usable when its file system fills
// up. Kafka takes a log dir offline on the first write error and, with a
// single log dir, stops the broker (LogDirFailureChannel, KIP-112). Samsa
// instead refuses writes while the disk is full, keeps serving everything
// that needs no write, and resumes by itself once space is freed.
//
// The mechanism is the one CockroachDB uses with Pebble: a ballast file
// (.samsa-reserve, Options.Reserve bytes) holds back some space while all
// is well. The first ENOSPC of any write path (a segment write, or any
// write of the three Pebble databases, seen through vfs.OnDiskFull) marks
// the guard full and deletes the ballast, so that the writes already in
// flight inside Pebble (a WAL block, a MANIFEST edit) succeed on their one
// retry instead of leaving Pebble's commit pipeline broken. While full,
// every store refuses new writes up front (Full is one atomic load), and a
// monitor polls the free space every Options.Interval; when at least twice
// the reserve is free again it recreates the ballast and clears the state.
package diskguard

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

// BallastName is the reserve file in the log dir.
const BallastName = ".samsa-reserve"

// Reserve bounds: the automatic reserve is 1/32 of the file system,
// clamped to [MinReserve, MaxReserve] bytes.
const (
	MinReserve = 256 << 10
	MaxReserve = 64 << 20
)

// ErrDiskFull is returned (wrapped) by writes refused while the log dir's
// file system is full. It unwraps to KAFKA_STORAGE_ERROR, the code Kafka
// sends for a partition whose log dir is offline; coordinators translate
// it as Kafka's GroupMetadataManager does (NOT_COORDINATOR).
var ErrDiskFull error = &fullError{}

type fullError struct{}

func (*fullError) Error() string { return "log dir is out of disk space" }
func (*fullError) Unwrap() error { return kerr.KafkaStorageError }

// Options configures a Guard.
type Options struct {
	Dir      string        // the log dir
	Reserve  int64         // ballast bytes; 0 picks 1/32 of the file system within [MinReserve, MaxReserve]; <0 disables the ballast
	Interval time.Duration // free-space poll while full; 0 means 1s
	Logger   *slog.Logger
	// Statfs reports free and total bytes of the file system holding
	// path (free is 0 when it is out of inodes); nil uses statfs(2).
	// Tests replace it.
	Statfs func(path string) (free, total int64, err error)
}

// Guard is the disk-full state of one log dir. Its zero value is not
// usable; a nil *Guard is (it is never full and wraps nothing).
type Guard struct {
	dir      string
	ballast  string
	reserve  int64
	interval time.Duration
	log      *slog.Logger
	statfs   func(string) (int64, int64, error)

	full atomic.Bool
	// since is when the guard last became full (unix nanos), for logs.
	since atomic.Int64

	// mu guards ballastOK and serialises ballast creation and removal.
	mu        sync.Mutex
	ballastOK bool

	started  atomic.Bool
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// New creates the guard of opts.Dir (which must exist) and makes sure the
// ballast is in place. If the file system has no room for it (a restart
// on a full disk) the guard starts full, with the ballast deleted so that
// the stores can open. Call Start to run the monitor.
func New(opts Options) (*Guard, error) {
	g := &Guard{
		dir:      opts.Dir,
		ballast:  filepath.Join(opts.Dir, BallastName),
		reserve:  opts.Reserve,
		interval: opts.Interval,
		log:      opts.Logger,
		statfs:   opts.Statfs,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if g.interval <= 0 {
		g.interval = time.Second
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.statfs == nil {
		g.statfs = statfs
	}
	if g.reserve == 0 {
		_, total, err := g.statfs(g.dir)
		if err != nil {
			return nil, fmt.Errorf("diskguard: statfs %s: %w", g.dir, err)
		}
		g.reserve = min(max(total/32, MinReserve), MaxReserve)
	}
	if g.reserve < 0 {
		return g, nil
	}
	if st, err := os.Stat(g.ballast); err == nil && st.Size() >= g.reserve {
		g.ballastOK = true
		return g, nil
	}
	if err := g.createBallast(); err != nil {
		if !IsNoSpace(err) {
			return nil, fmt.Errorf("diskguard: creating %s: %w", g.ballast, err)
		}
		// Quietly: the broker says whether it started anyway (serving
		// reads) or could not open its stores.
		g.full.Store(true)
		g.since.Store(time.Now().UnixNano())
	}
	return g, nil
}

// Reserve is the ballast size in bytes (<0: no ballast).
func (g *Guard) Reserve() int64 { return g.reserve }

// Full reports whether writes must be refused. One atomic load: it is on
// the produce path.
func (g *Guard) Full() bool { return g != nil && g.full.Load() }

// Check returns ErrDiskFull (wrapped with the log dir) while full.
func (g *Guard) Check() error {
	if g.Full() {
		return fmt.Errorf("%w: %s", ErrDiskFull, g.dir)
	}
	return nil
}

// Note classifies a failed write: ENOSPC marks the guard full (and frees
// the ballast). It reports whether err was ENOSPC.
func (g *Guard) Note(err error) bool {
	if g == nil || !IsNoSpace(err) {
		return false
	}
	g.setFull(err.Error())
	return true
}

// onDiskFull is Pebble's vfs.OnDiskFull callback: it runs while Pebble
// holds back its other writes, and the failed write is retried once when
// it returns.
func (g *Guard) onDiskFull() { g.setFull("pebble write failed with ENOSPC") }

func (g *Guard) setFull(reason string) {
	first := !g.full.Swap(true)
	if first {
		g.since.Store(time.Now().UnixNano())
	}
	g.mu.Lock()
	had := g.ballastOK
	if had {
		if err := os.Remove(g.ballast); err != nil && !errors.Is(err, os.ErrNotExist) {
			g.log.Error("diskguard: removing reserve file", "path", g.ballast, "err", err)
		}
		g.ballastOK = false
	}
	g.mu.Unlock()
	if first {
		g.log.Error("log dir is out of disk space: refusing writes (KAFKA_STORAGE_ERROR) until space is freed; reads continue",
			"log_dir", g.dir, "reserve_released", had, "reserve_bytes", max(g.reserve, 0), "reason", reason)
	}
}

// Start runs the monitor that clears the full state once space returns.
func (g *Guard) Start() {
	if g == nil {
		return
	}
	if g.started.CompareAndSwap(false, true) {
		go g.monitor()
	}
}

// Close stops the monitor.
func (g *Guard) Close() {
	if g == nil {
		return
	}
	g.stopOnce.Do(func() { close(g.stop) })
	if g.started.Load() {
		<-g.done
	}
}

func (g *Guard) monitor() {
	defer close(g.done)
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		if g.full.Load() {
			g.TryRecover()
		}
	}
}

// TryRecover clears the full state if the file system has at least twice
// the reserve free: the ballast is recreated and writes resume. The
// monitor calls it every Interval while full; tests call it directly.
func (g *Guard) TryRecover() bool {
	if g == nil || !g.full.Load() {
		return true
	}
	free, _, err := g.statfs(g.dir)
	if err != nil {
		return false
	}
	need := 2 * max(g.reserve, MinReserve)
	if free < need {
		return false
	}
	if g.reserve >= 0 {
		g.mu.Lock()
		err := g.createBallastLocked()
		g.mu.Unlock()
		if err != nil {
			return false
		}
	}
	g.full.Store(false)
	g.log.Info("log dir has free space again: accepting writes", "log_dir", g.dir, "free_bytes", free,
		"full_for", time.Duration(time.Now().UnixNano()-g.since.Load()).Round(time.Millisecond).String())
	return true
}

func (g *Guard) createBallast() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.createBallastLocked()
}

// createBallastLocked writes the reserve file (real blocks, not a sparse
// or compressible file) through a temporary name, so a half-written
// ballast never counts.
func (g *Guard) createBallastLocked() error {
	if g.ballastOK {
		return nil
	}
	tmp := g.ballast + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// Random bytes: zeros would take no room on a compressing file
	// system (ZFS, btrfs), and the ballast must hold real blocks.
	buf := make([]byte, 64<<10)
	_, _ = rand.Read(buf)
	for left := g.reserve; left > 0 && err == nil; {
		n := int64(len(buf))
		if left < n {
			n = left
		}
		_, err = f.Write(buf[:n])
		left -= n
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, g.ballast)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	g.ballastOK = true
	return nil
}

// IsNoSpace reports whether err is ENOSPC (or EDQUOT: a quota is a full
// disk for this process).
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func statfs(path string) (free, total int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	free = int64(st.Bavail) * int64(st.Bsize)
	if st.Files > 0 && st.Ffree == 0 {
		free = 0 // out of inodes: no file can be created
	}
	return free, int64(st.Blocks) * int64(st.Bsize), nil
}

// WrapPebble returns fs (nil: the OS) as the file system of one of the
// Pebble databases in the log dir: ENOSPC runs the guard's disk-full
// handling and retries the write once (vfs.OnDiskFull), and while full,
// creating a table file waits one Interval first, so that Pebble's flush
// retry loop (which has no backoff) polls instead of spinning.
func (g *Guard) WrapPebble(fs vfs.FS) vfs.FS {
	if fs == nil {
		fs = vfs.Default
	}
	if g == nil {
		return fs
	}
	return vfs.OnDiskFull(throttleFS{FS: fs, g: g}, g.onDiskFull)
}

type throttleFS struct {
	vfs.FS
	g *Guard
}

func (t throttleFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if t.g.Full() && strings.HasSuffix(name, ".sst") {
		select {
		case <-time.After(t.g.interval):
		case <-t.g.stop:
		}
	}
	return t.FS.Create(name, category)
}

// Unwrap gives Pebble's vfs.Root the wrapped file system.
func (t throttleFS) Unwrap() vfs.FS { return t.FS }
