package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"samsa/internal/testbroker"
	"samsa/internal/zktest"
)

// TestStockServerProperties starts the binary with the server.properties
// files Kafka 3.x (ZooKeeper) and 4.x (KRaft) ship, with only log.dirs
// changed, as a user switching to Samsa would; Kafka 3.x's file names a
// ZooKeeper, so that one runs against a real ZooKeeper (zookeeper.connect
// pointed at it) as a one-broker cluster. It needs port 9092 free.
func TestStockServerProperties(t *testing.T) {
	bin := testbroker.BinaryPath(t)
	for _, f := range []string{"kafka3-server.properties", "kafka4-server.properties"} {
		t.Run(f, func(t *testing.T) {
			path, _ := filepath.Abs(filepath.Join("..", "config", "testdata", f))
			var out bytes.Buffer
			args := []string{path, "--override", "log.dirs=" + t.TempDir()}
			if f == "kafka3-server.properties" {
				args = append(args, "--override", "zookeeper.connect="+zktest.Start(t).Addr)
			}
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			defer func() {
				cmd.Process.Signal(syscall.SIGTERM)
				<-exited
			}()
			if err := testbroker.WaitListening("localhost:9092", 10*time.Second, exited); err != nil {
				t.Fatalf("did not start: %v\n%s", err, out.String())
			}
			adm := newAdmin(t, "localhost:9092")
			if _, err := adm.ListTopics(ctxT(t)); err != nil {
				t.Fatalf("not serving: %v\n%s", err, out.String())
			}
			adm.Close()
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Fatalf("exit code %d\n%s", code, out.String())
			}
			logs := out.String()
			if strings.Contains(logs, "level=ERROR") {
				t.Fatalf("errors logged for a stock config:\n%s", logs)
			}
			if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "num.network.threads") {
				t.Fatalf("expected a warning for each unimplemented key such as num.network.threads:\n%s", logs)
			}
		})
	}
}

// TestBadConfigValueExits2 checks that a bad value stops the binary with
// status 2 and one line naming the key and the value.
func TestBadConfigValueExits2(t *testing.T) {
	bin := testbroker.BinaryPath(t)
	cases := []struct{ key, value string }{
		{"num.partitions", "abc"},
		{"log.segment.bytes", "-5"},
		{"listeners", "not a listener"},
		{"auto.create.topics.enable", "maybe"},
		{"log.dirs", "/proc/samsa-cannot-write-here"},
		{"socket.request.max.bytes", "-1"},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			cmd := exec.Command(bin, "--override", "log.dirs="+t.TempDir(), "--override", "listeners=PLAINTEXT://127.0.0.1:0", "--override", c.key+"="+c.value)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("got %v, want exit status 2\n%s", err, stderr.String())
			}
			msg := strings.TrimSpace(stderr.String())
			if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, c.key) || !strings.Contains(msg, c.value) {
				t.Fatalf("want one line naming %s and %q, got:\n%s", c.key, c.value, msg)
			}
		})
	}
}

// TestCLIVersionHelpAndJSONLogs checks samsa --version (version, commit,
// Go version), --help (every config key the broker applies, with its
// default, listed from the same table Load checks values against) and
// samsa.log.format=json (every log line one JSON object with slog's keys).
func TestCLIVersionHelpAndJSONLogs(t *testing.T) {
	bin := testbroker.BinaryPath(t)
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	line := strings.TrimSpace(string(out))
	if !strings.HasPrefix(line, "samsa ") || !strings.Contains(line, runtime.Version()) || strings.Count(line, "\n") != 0 {
		t.Errorf("--version printed %q; want one line with the version and %s", line, runtime.Version())
	}

	out, err = exec.Command(bin, "--help").Output()
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	help := string(out)
	// Each key given to the binary is either applied (listed in --help)
	// or warned about at start-up: check both sides with keys of each kind.
	for _, k := range []string{"log.retention.hours (default 168)", "num.partitions (default 1)", "listeners (default PLAINTEXT://localhost:9092)", "samsa.http.listeners", "samsa.console.actions.enable (default false)", "samsa.log.format"} {
		if !strings.Contains(help, "\n  "+k) {
			t.Errorf("--help does not list %q", k)
		}
	}
	if strings.Contains(help, "\n  num.io.threads ") {
		t.Error("--help lists num.io.threads, which Samsa does not apply")
	}

	cmd := exec.Command(bin, "--override", "log.dirs="+t.TempDir(), "--override", "listeners=PLAINTEXT://127.0.0.1:0",
		"--override", "samsa.log.format=json", "--override", "num.io.threads=8")
	// The logs go to a file, read while the broker writes it (a
	// bytes.Buffer would be written by exec's copying goroutine).
	logPath := filepath.Join(t.TempDir(), "stderr")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(readLog(), "samsa started") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	stderr := readLog()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var sawWarning, sawStarted bool
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["time"] == nil || m["level"] == nil || m["msg"] == nil {
			t.Errorf("log line without time, level, msg: %q", l)
		}
		msg, _ := m["msg"].(string)
		sawWarning = sawWarning || (m["level"] == "WARN" && strings.Contains(msg, "num.io.threads"))
		sawStarted = sawStarted || msg == "samsa started"
	}
	if !sawWarning || !sawStarted {
		t.Errorf("JSON logs lack the unimplemented-key warning (%v) or the start line (%v):\n%s", sawWarning, sawStarted, stderr)
	}
}
