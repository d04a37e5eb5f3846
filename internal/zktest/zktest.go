// Package zktest starts a real, standalone Apache ZooKeeper server for
// tests: the 3.8.4 server jars Apache Kafka 3.9 ships with, from Maven
// Central (internal/zktest/pom.xml, downloaded by
// scripts/install-zookeeper.sh into internal/zktest/target/lib), run as
// `java org.apache.zookeeper.server.ZooKeeperServerMain` on a free loopback
// port with a temporary data dir.
//
// Tests that need it call Start; when java or the jars are missing the test
// is skipped with a message saying how to install them, unless
// SAMSA_REQUIRE_TOOLS=1, in which case it fails.
package zktest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Server is a running ZooKeeper.
type Server struct {
	// Addr is host:port of the client port.
	Addr string
	cmd  *exec.Cmd
	out  *lockedBuffer
	once sync.Once
	done chan struct{}
}

// libDir is internal/zktest/target/lib next to this source file.
func libDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "target", "lib")
}

// Available reports whether java and the ZooKeeper jars are present, and
// if not, why.
func Available() (bool, string) {
	if _, err := exec.LookPath("java"); err != nil {
		return false, "java not found (scripts/install-test-deps.sh java installs it)"
	}
	jars, _ := filepath.Glob(filepath.Join(libDir(), "zookeeper-3*.jar"))
	if len(jars) == 0 {
		return false, "ZooKeeper jars missing in " + libDir() + " (run scripts/install-zookeeper.sh)"
	}
	return true, ""
}

// Start starts a ZooKeeper server and stops it when the test ends. It
// skips the test (fails it under SAMSA_REQUIRE_TOOLS=1) when ZooKeeper
// cannot be run here.
func Start(t testing.TB) *Server {
	t.Helper()
	if ok, why := Available(); !ok {
		if os.Getenv("SAMSA_REQUIRE_TOOLS") == "1" {
			t.Fatalf("zookeeper needed: %s", why)
		}
		t.Skipf("skipping: %s", why)
	}
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// 4lw commands stay off; admin server off so that it does not take
	// port 8080. tickTime 500 ms lets session timeouts go down to 1 s
	// (2 ticks), so broker-death tests stay short.
	cfg := fmt.Sprintf("tickTime=500\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxClientCnxns=0\nminSessionTimeout=1000\n",
		filepath.Join(dir, "data"), port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logback := filepath.Join(dir, "logback.xml")
	if err := os.WriteFile(logback, []byte(logbackXML), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), out: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command("java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.jmx.log4j.disable=true", "-Dlogback.configurationFile="+logback,
		"-cp", filepath.Join(libDir(), "*"),
		"org.apache.zookeeper.server.ZooKeeperServerMain", cfgPath)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start zookeeper: %v", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ok := s.ruok(); ok {
			if err := s.waitSession(deadline); err != nil {
				t.Fatalf("zookeeper on %s: %v\n%s", s.Addr, err, s.out.String())
			}
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("zookeeper exited at start:\n%s", s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("zookeeper did not start listening on %s within 30s:\n%s", s.Addr, s.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ruok reports whether the server accepts connections (the four-letter
// words are off by default in 3.8, so a TCP connect is the check; the Go
// client then waits for the session itself).
func (s *Server) ruok() bool {
	c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitSession opens a ZooKeeper session, which the server grants only
// once it is serving, and closes it.
func (s *Server) waitSession(deadline time.Time) error {
	conn, events, err := zk.Connect([]string{s.Addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
	if err != nil {
		return err
	}
	defer conn.Close()
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return nil
			}
		case <-time.After(time.Until(deadline)):
			return fmt.Errorf("no session before the deadline")
		}
	}
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

// logbackXML keeps the server's output to warnings, so that a failing
// test's message shows what matters.
const logbackXML = `<configuration>
  <appender name="out" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{20} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="out"/></root>
</configuration>
`

// Stop kills the server and waits for it to exit. Safe to call twice.
func (s *Server) Stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
}

// Output is what the server printed, for failure messages.
func (s *Server) Output() string { return s.out.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() < 1<<20 {
		b.b.Write(p)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
