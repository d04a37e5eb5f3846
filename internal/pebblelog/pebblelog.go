// Package pebblelog routes Pebble's logging to slog for Samsa's three
// Pebble databases (cluster metadata, the log index, group state), so that
// they all log the same way, and contains Pebble's fatal errors.
//
// Storage faults: Pebble treats a failed WAL write or sync on the commit
// path ("pebble: fatal commit error", db.go) and a failed MANIFEST write
// (version_set.go) as fatal and calls Logger.Fatalf, which must not
// return. A failed memtable flush or compaction is not fatal: Pebble
// reports it through Errorf ("background error") and retries at once,
// without backoff, which on a full disk means thousands of identical
// lines a second. So:
//
//   - Errorf logs a given message format at most once per ErrorInterval,
//     with the number of repeats it held back; ENOSPC errors go to Debug,
//     since the disk guard reports a full disk once (internal/diskguard).
//   - Fatalf inside Guard (a commit made by a request) panics with a
//     *Fatal that Guard turns into an ordinary error: the request gets an
//     answer, and the caller marks the database failed (its commit
//     pipeline is unusable after such an error).
//   - Fatalf anywhere else for an I/O error (Pebble's background flush
//     and compaction goroutines failing a MANIFEST write, where a panic
//     would kill the process with a stack trace) logs one line saying what
//     failed and exits with status 1, which is what Kafka does when its
//     only log dir goes offline. Other fatal errors (broken invariants,
//     corruption) panic as before: in a request goroutine that fails only
//     the request.
package pebblelog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// ErrorInterval is how often one Pebble error message may be logged.
var ErrorInterval = 10 * time.Second

// Exit ends the process after a fatal Pebble error outside Guard. Tests
// replace it.
var Exit = func() { os.Exit(1) }

type logger struct {
	l  *slog.Logger
	db string

	mu   sync.Mutex // guards seen
	seen map[string]*seenMsg
}

type seenMsg struct {
	last       time.Time
	suppressed int
}

// New returns a pebble.Logger writing to l. Pebble's routine information
// goes to Debug, so a broker's log is not dominated by storage chatter.
func New(l *slog.Logger) pebble.Logger { return NewDB(l, "") }

// NewDB is New for the database in directory db, which log lines name.
func NewDB(l *slog.Logger, db string) pebble.Logger {
	return &logger{l: l, db: db, seen: make(map[string]*seenMsg)}
}

func (p *logger) Infof(format string, args ...any) {
	p.l.Debug("pebble: "+fmt.Sprintf(format, args...), "db", p.db)
}

func (p *logger) Errorf(format string, args ...any) {
	// A full disk is reported once by the disk guard (which every Pebble
	// DB's file system goes through); Pebble's retries of the same
	// failure are noise.
	for _, a := range args {
		if err, ok := a.(error); ok && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)) {
			p.l.Debug("pebble: "+fmt.Sprintf(format, args...), "db", p.db)
			return
		}
	}
	now := time.Now()
	p.mu.Lock()
	s := p.seen[format]
	if s == nil {
		if len(p.seen) > 1000 {
			clear(p.seen)
		}
		s = &seenMsg{}
		p.seen[format] = s
	} else if now.Sub(s.last) < ErrorInterval {
		s.suppressed++
		p.mu.Unlock()
		return
	}
	n := s.suppressed
	s.last, s.suppressed = now, 0
	p.mu.Unlock()
	if n > 0 {
		p.l.Error("pebble: "+fmt.Sprintf(format, args...), "db", p.db, "repeats_not_logged", n)
		return
	}
	p.l.Error("pebble: "+fmt.Sprintf(format, args...), "db", p.db)
}

// Fatal is the panic value of Fatalf inside Guard.
type Fatal struct{ Msg string }

func (f *Fatal) Error() string { return f.Msg }

// Fatalf must not return: Pebble calls it when continuing would corrupt
// the store. See the package documentation.
func (p *logger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	if insideGuard() {
		panic(&Fatal{Msg: msg})
	}
	if !ioError(args) {
		// Not a storage fault but a broken invariant (iterator bounds,
		// corrupt data): panic as Pebble expects, which in a request
		// goroutine fails only that request.
		p.l.Error(msg, "db", p.db)
		panic(msg)
	}
	p.l.Error("fatal storage error; stopping the broker (restart it once the disk is fixed)", "db", p.db, "err", msg)
	Exit()
	// Exit must not return either; park the goroutine if a test's does.
	select {}
}

// ioError reports whether a Fatalf argument is an OS-level I/O error
// (EIO, ENOSPC, ...): a failed write Pebble cannot continue after.
func ioError(args []any) bool {
	for _, a := range args {
		if err, ok := a.(error); ok {
			var errno syscall.Errno
			if errors.As(err, &errno) {
				return true
			}
		}
	}
	return false
}

const guardName = "samsa/internal/pebblelog.Guard"

// insideGuard reports whether the calling goroutine is running fn inside
// Guard. Only Pebble's fatal paths call it.
func insideGuard() bool {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, guardName) {
			return true
		}
		if !more {
			return false
		}
	}
}

// Guard runs fn (a Pebble write) and turns a fatal Pebble error raised
// inside it into an error, so that the request making the write gets an
// answer. After such an error the database's commit pipeline is broken:
// the caller must stop writing to it (and reopen it to recover).
//
//go:noinline
func Guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(*Fatal)
			if !ok {
				panic(r)
			}
			err = f
		}
	}()
	return fn()
}
