package integration

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
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
