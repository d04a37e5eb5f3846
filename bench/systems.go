package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/kafkatest"
)

// broker is one running broker under test.
type broker struct {
	system string // "kafka" or "samsa"
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	dir    string
	start  func() (*broker, error) // starts it again on the same dir
	// pprof is the base URL of Samsa's /debug/pprof/ when profiling
	// (bench -profile), else empty.
	pprof string
}

// pid is the broker's process: the JVM for Kafka (kafka-run-class.sh
// execs java), the binary for Samsa.
func (b *broker) pid() int { return b.cmd.Process.Pid }

// stop stops the broker: SIGTERM and a wait (a clean shutdown), or
// SIGKILL when kill is set.
func (b *broker) stop(kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-b.cmd.Process.Pid, sig)
	select {
	case <-b.exited:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.exited
	}
}

// env is what the systems need to start.
type env struct {
	root      string // module root
	work      string // bench/.work
	samsaBin  string
	kafkaJVM  string // KAFKA_JVM_PERFORMANCE_OPTS
	kafkaHeap string // KAFKA_HEAP_OPTS
	// profileDir, when set, turns on Samsa's pprof endpoint and makes
	// measure save a CPU profile of each Samsa workload's first seconds
	// and a heap profile at its end there (bench -profile).
	profileDir string
}

// kafkaServerStartDefaults are the JVM settings kafka-server-start.sh
// and kafka-run-class.sh of Kafka 4.x give a broker when the environment
// sets none: a 1 GiB heap and G1 with a 20 ms pause goal.
const (
	kafkaDefaultHeap = "-Xmx1G -Xms1G"
	kafkaDefaultJVM  = "-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true"
)

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startKafka formats a fresh KRaft log dir and starts one combined
// broker+controller node (internal/kafkatest) with the values of Kafka's
// shipped config/server.properties that matter here
// (group.initial.rebalance.delay.ms=0, one partition by default,
// replication factor 1 for internal topics).
func (e *env) startKafka(dir string) (*broker, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cport, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd, err := kafkatest.Node{Root: e.root, Dir: dir, NodeID: 1, Port: port, ControllerPort: cport,
		Props: map[string]string{"num.partitions": "1", "offsets.topic.replication.factor": "1", "group.initial.rebalance.delay.ms": "0"},
		Env:   []string{"KAFKA_HEAP_OPTS=" + e.kafkaHeap, "KAFKA_JVM_PERFORMANCE_OPTS=" + e.kafkaJVM}}.Command()
	if err != nil {
		return nil, err
	}
	b := &broker{system: "kafka", addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}
	b.start = func() (*broker, error) { return e.startKafkaOn(b, cmd.Args, cmd.Env) }
	return e.startKafkaOn(b, cmd.Args, cmd.Env)
}

func (e *env) startKafkaOn(b *broker, args, envv []string) (*broker, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = envv
	return launch(b, cmd, filepath.Join(b.dir, "kafka.log"))
}

// startSamsa starts the Samsa binary on dir with the same settings.
func (e *env) startSamsa(dir string) (*broker, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{e.samsaBin,
		"--override", fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:%d", port),
		"--override", "log.dirs=" + filepath.Join(dir, "data"),
		"--override", "num.partitions=1",
		"--override", "group.initial.rebalance.delay.ms=0",
	}
	b := &broker{system: "samsa", addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}
	if e.profileDir != "" {
		hp, err := freePort()
		if err != nil {
			return nil, err
		}
		args = append(args, "--override", fmt.Sprintf("samsa.http.listeners=http://127.0.0.1:%d", hp),
			"--override", "samsa.debug.pprof.enable=true")
		b.pprof = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/", hp)
	}
	b.start = func() (*broker, error) {
		return launch(b, exec.Command(args[0], args[1:]...), filepath.Join(dir, "samsa.log"))
	}
	return b.start()
}

// launch starts cmd in its own process group, logging to logPath, and
// waits until the broker answers Metadata and creates a topic.
func launch(b *broker, cmd *exec.Cmd, logPath string) (*broker, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", b.system, err)
	}
	nb := *b
	nb.cmd, nb.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(nb.exited) }()
	if err := waitReady(nb.addr, 3*time.Minute, nb.exited); err != nil {
		nb.stop(true)
		out, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%s: %w\n%s", b.system, err, tail(string(out), 3000))
	}
	return &nb, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// waitReady polls until the broker creates a topic (a KRaft broker is
// fenced until then).
func waitReady(addr string, timeout time.Duration, exited <-chan struct{}) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("exited during start-up")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 30000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "bench-ready", 1, 1
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		cancel()
		if err == nil {
			code := resp.Topics[0].ErrorCode
			if code == 0 || code == 36 {
				return nil
			}
			err = fmt.Errorf("CreateTopics error %d", code)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v: %v", timeout, last)
}

// procStat is a process's CPU time (user + system) and memory.
type procStat struct {
	cpu time.Duration
	// children is the CPU time of the process's children it has waited
	// for (cutime + cstime): for the bench process, Kafka's perf-test
	// tools that finished during a workload.
	children time.Duration
	rss      int64 // bytes, now
	hwm      int64 // bytes, peak resident set
	valid    bool
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's utime and stime;
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// readProc reads /proc/<pid>/stat (utime, stime, cutime, cstime: fields
// 14 to 17) and
// /proc/<pid>/status (VmRSS, VmHWM).
func readProc(pid int) procStat {
	var ps procStat
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps
	}
	// The command name (field 2) may hold spaces; fields after ')' are
	// split by single spaces.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ps
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return ps
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	ps.cpu = time.Duration(ut+st) * time.Second / clockTicks
	if len(f) >= 15 {
		cut, _ := strconv.ParseInt(f[13], 10, 64)
		cst, _ := strconv.ParseInt(f[14], 10, 64)
		ps.children = time.Duration(cut+cst) * time.Second / clockTicks
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			ps.rss = kb << 10
		case "VmHWM":
			ps.hwm = kb << 10
		}
	}
	ps.valid = true
	return ps
}
