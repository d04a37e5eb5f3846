// Package testbroker starts real Samsa brokers for tests, either in-process
// (through package embed, the public embedding API) or as the built
// cmd/samsa binary, each on a free
// loopback port with a temporary data dir. Test suites are written once
// against Broker and run in both modes, as etcd's are.
package testbroker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"samsa/embed"
	"samsa/logstore"
	"samsa/replica"
)

// Mode says how a broker runs.
type Mode string

// The modes every suite runs in.
const (
	InProcess Mode = "inprocess"
	Binary    Mode = "binary"
)

// Modes lists the modes in the order suites run them.
var Modes = []Mode{InProcess, Binary}

// Broker is a running test broker.
type Broker struct {
	t         testing.TB
	mode      Mode
	dataDir   string
	port      int
	overrides []string

	inproc *embed.Broker
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

// Start starts a broker in mode with a fresh data dir and the given
// `key=value` overrides, and stops it when the test ends.
func Start(t testing.TB, mode Mode, overrides ...string) *Broker {
	t.Helper()
	b := &Broker{t: t, mode: mode, dataDir: t.TempDir(), port: FreePort(t), overrides: overrides}
	b.start()
	t.Cleanup(func() { b.Stop() })
	return b
}

// StartOnPort is Start on a port the caller chose (FreePort), e.g. to
// put a proxy in front of it before it starts.
func StartOnPort(t testing.TB, mode Mode, port int, overrides ...string) *Broker {
	t.Helper()
	b := &Broker{t: t, mode: mode, dataDir: t.TempDir(), port: port, overrides: overrides}
	b.start()
	t.Cleanup(func() { b.Stop() })
	return b
}

// StartIn is Start with the given (existing) data dir, e.g. on a small
// file system the test mounted.
func StartIn(t testing.TB, mode Mode, dataDir string, overrides ...string) *Broker {
	t.Helper()
	b := &Broker{t: t, mode: mode, dataDir: dataDir, port: FreePort(t), overrides: overrides}
	b.start()
	t.Cleanup(func() { b.Stop() })
	return b
}

// Launch starts the binary on dataDir without waiting for it to listen
// or failing the test if it exits: for tests of how it starts (or
// refuses to). Stop or Kill it, or wait on Exited.
func Launch(t testing.TB, dataDir string, overrides ...string) *Broker {
	t.Helper()
	b := &Broker{t: t, mode: Binary, dataDir: dataDir, port: FreePort(t), overrides: overrides}
	var cmdArgs []string
	for _, a := range b.args() {
		cmdArgs = append(cmdArgs, "--override", a)
	}
	b.cmd = exec.Command(BinaryPath(t), cmdArgs...)
	b.out = &syncBuffer{}
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start samsa binary: %v", err)
	}
	b.exited = make(chan struct{})
	go func() { b.cmd.Wait(); close(b.exited) }()
	t.Cleanup(func() {
		if b.cmd != nil {
			b.cmd.Process.Kill()
			<-b.exited
		}
	})
	return b
}

// Exited is closed when the binary has exited (nil in-process).
func (b *Broker) Exited() <-chan struct{} { return b.exited }

// ExitCode is the binary's exit status once Exited is closed.
func (b *Broker) ExitCode() int { return b.cmd.ProcessState.ExitCode() }

// Signal sends sig to the binary.
func (b *Broker) Signal(sig os.Signal) error { return b.cmd.Process.Signal(sig) }

// Pid is the binary's process id while it runs, else 0 (fault proxies
// tell its connections apart by it).
func (b *Broker) Pid() int {
	if b.cmd == nil || b.cmd.Process == nil || !b.Alive() {
		return 0
	}
	return b.cmd.Process.Pid
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// DataDir is the broker's log dir.
func (b *Broker) DataDir() string { return b.dataDir }

// Mode is how the broker runs.
func (b *Broker) Mode() Mode { return b.mode }

// Output returns what the binary has logged so far ("" in-process).
func (b *Broker) Output() string {
	if b.out == nil {
		return ""
	}
	return b.out.String()
}

// WaitOutput returns the broker's output once cond holds for it, or as
// it is after timeout. A binary's stderr reaches Output through a copying
// goroutine, so a line the broker logged before answering a request may
// arrive after the answer: tests that look for a log line wait with this
// and then assert on what it returns.
func (b *Broker) WaitOutput(timeout time.Duration, cond func(out string) bool) string {
	deadline := time.Now().Add(timeout)
	for {
		out := b.Output()
		if cond(out) || !time.Now().Before(deadline) {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *Broker) args() []string {
	args := []string{
		"listeners=PLAINTEXT://127.0.0.1:" + fmt.Sprint(b.port),
		"log.dirs=" + b.dataDir,
	}
	return append(args, b.overrides...)
}

func (b *Broker) start() {
	b.t.Helper()
	switch b.mode {
	case InProcess:
		var w io.Writer = &testWriter{t: b.t}
		if _, fuzzing := b.t.(*testing.F); fuzzing {
			// A fuzz target may not log through F; the broker's warnings
			// about bad input are the expected outcome there anyway.
			w = io.Discard
		}
		log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		br, err := embed.Start(ctx, embed.Config{
			DataDir:    b.dataDir,
			Listeners:  fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", b.port),
			Properties: b.overrides,
			Logger:     log,
		})
		if err != nil {
			b.t.Fatalf("start broker: %v", err)
		}
		b.inproc = br
	case Binary:
		var cmdArgs []string
		for _, a := range b.args() {
			cmdArgs = append(cmdArgs, "--override", a)
		}
		b.cmd = exec.Command(BinaryPath(b.t), cmdArgs...)
		b.out = &syncBuffer{}
		b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
		// A test binary that dies (timeout, panic) takes its brokers along.
		b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := b.cmd.Start(); err != nil {
			b.t.Fatalf("start samsa binary: %v", err)
		}
		b.exited = make(chan struct{})
		go func() { b.cmd.Wait(); close(b.exited) }()
		if err := WaitListening(b.Addr(), 10*time.Second, b.exited); err != nil {
			b.t.Fatalf("samsa binary did not start: %v\n%s", err, b.out.String())
		}
	default:
		b.t.Fatalf("unknown mode %q", b.mode)
	}
}

// Partition returns the log of topic-partition of an in-process broker, so
// that a test can write what no client can yet (transaction markers). It
// fails the test in binary mode or when the partition does not exist.
func (b *Broker) Partition(topic string, partition int32) *logstore.Partition {
	b.t.Helper()
	if b.inproc == nil {
		b.t.Fatalf("Partition needs an in-process broker (mode %s)", b.mode)
	}
	p, ok := b.inproc.Internal().Logs().Partition(topic, partition)
	if !ok {
		b.t.Fatalf("partition %s-%d not found", topic, partition)
	}
	return p
}

// Replicas returns the replica manager of an in-process broker (tests of
// replication read partition state through it).
func (b *Broker) Replicas() *replica.Manager {
	b.t.Helper()
	if b.inproc == nil {
		b.t.Fatalf("Replicas needs an in-process broker (mode %s)", b.mode)
	}
	return b.inproc.Internal().Replicas()
}

// Stop shuts the broker down gracefully. It is safe to call twice.
func (b *Broker) Stop() {
	b.t.Helper()
	switch {
	case b.inproc != nil:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.inproc.Shutdown(ctx); err != nil {
			b.t.Errorf("close broker: %v", err)
		}
		b.inproc = nil
	case b.cmd != nil:
		b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(15 * time.Second):
			b.cmd.Process.Kill()
			<-b.exited
			b.t.Errorf("samsa binary ignored SIGTERM for 15s\n%s", b.out.String())
		}
		if code := b.cmd.ProcessState.ExitCode(); code != 0 {
			b.t.Errorf("samsa binary exited with %d\n%s", code, b.out.String())
		}
		b.cmd = nil
	}
}

// Kill stops the binary with SIGKILL (in-process: a graceful stop, since a
// process cannot kill itself and go on).
func (b *Broker) Kill() {
	if b.cmd == nil {
		b.Stop()
		return
	}
	b.cmd.Process.Kill()
	<-b.exited
	b.cmd = nil
}

// Restart stops the broker and starts it again on the same port and data.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.start()
}

// Alive reports whether the broker process is still running.
func (b *Broker) Alive() bool {
	if b.mode == InProcess {
		return b.inproc != nil
	}
	select {
	case <-b.exited:
		return false
	default:
		return b.cmd != nil
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitListening polls addr until it accepts a connection, exited closes,
// or timeout passes.
func WaitListening(addr string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("process exited")
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// BinaryPath builds cmd/samsa once per test process and returns its path.
// SAMSA_BINARY overrides it with a prebuilt binary.
func BinaryPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SAMSA_BINARY"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "samsa-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "samsa")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/samsa")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/samsa: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("%v", buildErr)
	}
	return buildPath
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the samsa module")
	}
	return filepath.Dir(mod), nil
}

// syncBuffer collects a child's output safely across goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// testWriter sends in-process broker logs to the test log, line by line.
type testWriter struct{ t testing.TB }

func (w *testWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		w.t.Log(sc.Text())
	}
	return len(p), nil
}
