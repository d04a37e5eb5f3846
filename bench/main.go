// Command bench measures Samsa side by side with Apache Kafka on this
// machine, in one run, with the same load, and writes bench/RESULTS.md and
// bench/ratios.png from what it measured.
//
//	go run ./bench                 # the full run (make bench)
//	go run ./bench -quick          # a small smoke run of every workload
//
// Apache Kafka is the release whose jars compat-tests/bin/kafka-run-class.sh
// runs (the newest on Maven Central when the compatibility suite was last
// updated), a KRaft combined node with kafka-server-start.sh's default heap
// and GC settings; Samsa is this checkout's binary. Each round starts both,
// one after the other (the order alternating between rounds), on fresh data
// dirs, warms each up, and runs every throughput workload on it; figures are
// medians over the rounds. For each workload the run records throughput
// (MB/s, 10^6 bytes of record values per second), the broker process's CPU
// time per GB moved (user + system from /proc/<pid>/stat), its peak RSS
// while the workload ran (VmRSS sampled every 100 ms), and latency
// percentiles where the workload measures them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// config is the run's shape; -quick shrinks it to a smoke test.
type config struct {
	rounds         int
	bytes          int64 // per throughput workload
	latencyRate    int   // records per second
	latencyDur     time.Duration
	perfRecords    int // kafka-producer-perf-test records (1 KiB)
	scale          bool
	scaleTopics    int
	scaleParts     int32
	scaleBytes     int64
	idleConns      int
	joinGroups     int
	joinConsumers  int
	only           string // run only the systems named (kafka, samsa)
	profile        string // bench -profile: where Samsa's profiles go
	out            string
	chart          string
	keepData       bool
	producePlan    []produceSpec
	restartRepeats int
}

func main() {
	quick := flag.Bool("quick", false, "a small run of every workload (smoke test), not for figures")
	rounds := flag.Int("rounds", 3, "rounds; each starts both brokers on fresh dirs")
	gb := flag.Float64("gb", 1, "GB (10^9 bytes) of record values per throughput workload")
	scale := flag.Bool("scale", true, "run the scale workloads (10,000 partitions, idle connections, groups joining)")
	only := flag.String("only", "", "run only this system (kafka or samsa); the report then has no ratios")
	out := flag.String("out", "bench/RESULTS.md", "report path")
	chart := flag.String("chart", "bench/ratios.png", "chart path")
	profile := flag.String("profile", "", "save pprof CPU (first 10 s) and heap (at the end) profiles of every Samsa workload in this directory")
	flag.Parse()

	cfg := config{
		rounds: *rounds, bytes: int64(*gb * 1e9), latencyRate: 2000, latencyDur: 20 * time.Second,
		perfRecords: 500_000, scale: *scale, scaleTopics: 100, scaleParts: 100, scaleBytes: 100_000_000,
		idleConns: 5000, joinGroups: 100, joinConsumers: 1000, only: *only, out: *out, chart: *chart, profile: *profile,
		restartRepeats: 2,
		producePlan: []produceSpec{
			{1024, "1", "none", 1}, {1024, "1", "none", 8}, {1024, "all", "none", 1}, {1024, "all", "none", 8},
			{1024, "1", "lz4", 1}, {1024, "1", "zstd", 1}, {100, "1", "none", 1}, {100, "all", "none", 8},
		},
	}
	if *quick {
		cfg.rounds, cfg.bytes, cfg.latencyDur, cfg.perfRecords = 1, 20_000_000, 3*time.Second, 20_000
		cfg.scaleTopics, cfg.scaleParts, cfg.scaleBytes, cfg.idleConns, cfg.joinGroups, cfg.joinConsumers = 10, 10, 10_000_000, 200, 5, 20
		cfg.restartRepeats = 1
	}
	if err := run(cfg); err != nil {
		log.Fatal(err)
	}
}

// sample is one measurement of one workload on one system in one round.
type sample struct {
	workload string
	system   string
	round    int
	mbps     float64 // throughput, 10^6 bytes/s; 0 when not a throughput workload
	cpuPerGB float64 // broker CPU seconds per 10^9 bytes moved
	// loadCPUPerGB is the load generator's CPU seconds per 10^9 bytes
	// moved: the bench process (franz-go) plus Kafka's perf-test tools.
	// On a small machine the client and the broker share the cores, so
	// a workload whose load costs more CPU than the broker is limited
	// by the client, whichever broker it runs against.
	loadCPUPerGB float64
	// busy is the share of the machine's cores the broker and the load
	// used together during the workload (0..1): near 1, the machine was
	// the limit.
	busy  float64
	rss   int64              // peak broker RSS in bytes while the workload ran
	extra map[string]float64 // named figures: latency ms, seconds, ...
}

func run(cfg config) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	e := &env{root: root, work: filepath.Join(root, "bench", ".work"), kafkaHeap: kafkaDefaultHeap, kafkaJVM: kafkaDefaultJVM}
	if err := os.RemoveAll(e.work); err != nil {
		return err
	}
	if err := os.MkdirAll(e.work, 0o755); err != nil {
		return err
	}
	if cfg.profile != "" {
		if e.profileDir, err = filepath.Abs(cfg.profile); err != nil {
			return err
		}
		profileDir = e.profileDir
		if err := os.MkdirAll(e.profileDir, 0o755); err != nil {
			return err
		}
	}
	raiseNoFile()
	restorePageReporting, pageReporting := disablePageReporting()
	defer restorePageReporting()
	// An interrupted run puts the machine's setting back too.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			restorePageReporting()
			os.Exit(1)
		}
	}()
	log.Print(pageReporting)
	pretouchBytes = cfg.bytes * 3 / 2
	e.samsaBin = filepath.Join(e.work, "samsa")
	build := exec.Command("go", "build", "-o", e.samsaBin, "./cmd/samsa")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	// Downloads Kafka's jars on first use, outside the timed part.
	if out, err := exec.Command(filepath.Join(root, "compat-tests", "bin", "kafka-run-class.sh"), "kafka.tools.StorageTool", "version").CombinedOutput(); err != nil {
		log.Printf("kafka-run-class.sh StorageTool version: %v %s", err, tail(string(out), 500))
	}
	rep := &report{cfg: cfg, started: time.Now(), env: e, pageReporting: pageReporting}
	rep.loopback = loopbackLimit()
	systems := []string{"kafka", "samsa"}
	if cfg.only != "" {
		systems = []string{cfg.only}
	}
	ctx := context.Background()
	for r := 1; r <= cfg.rounds; r++ {
		order := systems
		if r%2 == 0 && len(systems) == 2 {
			order = []string{systems[1], systems[0]}
		}
		for _, sys := range order {
			log.Printf("round %d: %s", r, sys)
			ss, err := throughputRound(ctx, e, cfg, sys, r)
			if err != nil {
				return fmt.Errorf("round %d %s: %w", r, sys, err)
			}
			rep.samples = append(rep.samples, ss...)
		}
	}
	if cfg.scale {
		for _, sys := range systems {
			log.Printf("scale: %s", sys)
			ss, err := scaleRound(ctx, e, cfg, sys, &rep.failures)
			rep.samples = append(rep.samples, ss...)
			if err != nil {
				// A scale workload a system cannot finish is a result,
				// not a reason to lose the whole run: it is reported.
				log.Printf("scale %s: %v", sys, err)
				rep.failures = append(rep.failures, fmt.Sprintf("%s: %v", sys, err))
			}
		}
	}
	rep.finished = time.Now()
	return rep.write()
}

func (e *env) start(sys, dir string) (*broker, error) {
	if sys == "kafka" {
		return e.startKafka(dir)
	}
	return e.startSamsa(dir)
}

// measure runs f while sampling the broker's CPU and RSS; moved is the
// number of bytes f moved, for CPU per GB.
func measure(b *broker, workload string, round int, f func() (d time.Duration, moved int64, extra map[string]float64, err error)) (sample, error) {
	if _, err := pretouch(); err != nil {
		return sample{}, err
	}
	before := readProc(b.pid())
	self := readProc(os.Getpid())
	began := time.Now()
	var peak int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if ps := readProc(b.pid()); ps.rss > peak {
				peak = ps.rss
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	var prof sync.WaitGroup
	if b.pprof != "" {
		prof.Add(1)
		go func() {
			defer prof.Done()
			saveProfile(b.pprof+"profile?seconds=10", profilePath(workload, round, "cpu"))
		}()
	}
	d, moved, extra, err := f()
	close(stop)
	wg.Wait()
	after := readProc(b.pid())
	wall := time.Since(began)
	selfAfter := readProc(os.Getpid())
	if b.pprof != "" {
		// After the figures are taken: a workload shorter than the CPU
		// profile waits for it, so the next one is not in it.
		saveProfile(b.pprof+"heap", profilePath(workload, round, "heap"))
		prof.Wait()
	}
	s := sample{workload: workload, system: b.system, round: round, rss: peak, extra: extra}
	if err != nil {
		return s, fmt.Errorf("%s on %s: %w", workload, b.system, err)
	}
	if moved > 0 && d > 0 {
		s.mbps = float64(moved) / d.Seconds() / 1e6
		brokerCPU := after.cpu - before.cpu
		loadCPU := (selfAfter.cpu + selfAfter.children) - (self.cpu + self.children)
		s.cpuPerGB = brokerCPU.Seconds() / (float64(moved) / 1e9)
		s.loadCPUPerGB = loadCPU.Seconds() / (float64(moved) / 1e9)
		s.busy = (brokerCPU + loadCPU).Seconds() / (wall.Seconds() * float64(runtime.NumCPU()))
	}
	log.Printf("  %-34s %-5s %8.1f MB/s  cpu %6.2f s/GB  load cpu %6.2f s/GB  busy %3.0f%%  rss %5d MiB %v", workload, b.system, s.mbps, s.cpuPerGB, s.loadCPUPerGB, 100*s.busy, peak>>20, fmtExtra(extra))
	return s, nil
}

// profileDir is where saveProfile writes (bench -profile); set once in run.
var profileDir string

// profilePath names a workload's profile file: spaces and slashes become
// dashes.
func profilePath(workload string, round int, kind string) string {
	name := strings.NewReplacer(" ", "-", "/", "-", ":", "", "=", "").Replace(workload)
	return filepath.Join(profileDir, fmt.Sprintf("%s.r%d.%s.pprof", name, round, kind))
}

// saveProfile fetches a pprof profile from url into path; a failure is
// logged, since profiles are an aid, not a figure.
func saveProfile(url, path string) {
	resp, err := http.Get(url)
	if err == nil {
		defer resp.Body.Close()
		var f *os.File
		if f, err = os.Create(path); err == nil {
			_, err = io.Copy(f, resp.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err != nil {
		log.Printf("profile %s: %v", path, err)
	}
}

func fmtExtra(m map[string]float64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%.2f", k, v))
	}
	return strings.Join(parts, " ")
}

// throughputRound starts sys on a fresh dir and runs the produce,
// consume, latency and Kafka-tools workloads on it.
func throughputRound(ctx context.Context, e *env, cfg config, sys string, round int) ([]sample, error) {
	dir := filepath.Join(e.work, fmt.Sprintf("%s-r%d", sys, round))
	b, err := e.start(sys, dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		b.stop(true)
		if !cfg.keepData {
			os.RemoveAll(dir)
		}
	}()
	// Warm-up: a JIT needs it, and both get the same.
	if err := createTopic(ctx, b.addr, "warmup", 8); err != nil {
		return nil, err
	}
	if _, _, err := produce(ctx, b.addr, "warmup", produceSpec{1024, "1", "none", 8}, cfg.bytes/8); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	if _, _, _, err := consume(ctx, b.addr, []string{"warmup"}, cfg.bytes/8/1024, 1); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	var out []sample
	written := map[string]int64{} // topic -> records
	for i, spec := range cfg.producePlan {
		topic := fmt.Sprintf("p%d", i)
		if err := createTopic(ctx, b.addr, topic, spec.partitions); err != nil {
			return nil, err
		}
		s, err := measure(b, spec.name(), round, func() (time.Duration, int64, map[string]float64, error) {
			return produceStats(ctx, b.addr, topic, spec, cfg.bytes)
		})
		if err != nil {
			return nil, err
		}
		written[topic] = cfg.bytes / int64(spec.size)
		out = append(out, s)
	}
	// Consume what the 1 KiB acks=1 uncompressed workloads wrote.
	for _, c := range []struct {
		name      string
		topic     string
		consumers int
	}{{"consume 1KiB p1", "p0", 1}, {"consume 1KiB p8", "p1", 1}, {"consume 1KiB p8 group of 8", "p1", 8}} {
		s, err := measure(b, c.name, round, func() (time.Duration, int64, map[string]float64, error) {
			return consume(ctx, b.addr, []string{c.topic}, written[c.topic], c.consumers)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	// End-to-end latency at a fixed rate.
	if err := createTopic(ctx, b.addr, "latency", 1); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("latency 1KiB acks=all %d/s", cfg.latencyRate)
	s, err := measure(b, name, round, func() (time.Duration, int64, map[string]float64, error) {
		lats, err := latency(ctx, b.addr, "latency", cfg.latencyRate, 1024, cfg.latencyDur)
		if err != nil {
			return 0, 0, nil, err
		}
		sortDurations(lats)
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
		return 0, 0, map[string]float64{"p50_ms": ms(percentile(lats, 50)), "p99_ms": ms(percentile(lats, 99)), "p99.9_ms": ms(percentile(lats, 99.9))}, nil
	})
	if err != nil {
		return nil, err
	}
	out = append(out, s)
	// Kafka's own perf tools, same release as the broker.
	if err := createTopic(ctx, b.addr, "perf", 1); err != nil {
		return nil, err
	}
	s, err = measure(b, "kafka-producer-perf-test 1KiB acks=1", round, func() (time.Duration, int64, map[string]float64, error) {
		mbps, err := producerPerfTest(ctx, e.root, b.addr, "perf", cfg.perfRecords, 1024, "1")
		d, moved := toolWindow(mbps, cfg.perfRecords, 1024)
		return d, moved, nil, err
	})
	if err != nil {
		return nil, err
	}
	out = append(out, s)
	s, err = measure(b, "kafka-consumer-perf-test 1KiB", round, func() (time.Duration, int64, map[string]float64, error) {
		mbps, err := consumerPerfTest(ctx, e.root, b.addr, "perf", cfg.perfRecords)
		d, moved := toolWindow(mbps, cfg.perfRecords, 1024)
		return d, moved, nil, err
	})
	if err != nil {
		return nil, err
	}
	out = append(out, s)
	return out, nil
}

// toolWindow turns a Kafka perf tool's own throughput figure into the
// (duration, bytes) pair measure wants: the bytes are the records the
// tool moved, the duration the window the tool timed them in (its MB/s
// leaves out the JVM's start and, for the consumer, the group join). The
// CPU figures still cover the tool's whole run, start-up included, as
// measure samples around it: for the load, a JVM's start costs about a
// second of CPU that no franz-go workload pays.
func toolWindow(mbps float64, records, size int) (time.Duration, int64) {
	moved := int64(records) * int64(size)
	if mbps <= 0 {
		return 0, 0
	}
	return time.Duration(float64(moved) / (mbps * 1e6) * float64(time.Second)), moved
}

// scaleRound runs the many-partitions, idle-connections and
// groups-joining workloads once on sys.
//
// A workload sys cannot finish ends the round with an error (the samples
// so far are kept), except the many-partitions produce, whose failure is
// appended to failures and only skips the consume of those records.
func scaleRound(ctx context.Context, e *env, cfg config, sys string, failures *[]string) ([]sample, error) {
	dir := filepath.Join(e.work, sys+"-scale")
	b, err := e.start(sys, dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		b.stop(true)
		if !cfg.keepData {
			os.RemoveAll(dir)
		}
	}()
	var out []sample
	parts := int64(cfg.scaleTopics) * int64(cfg.scaleParts)
	label := fmt.Sprintf("%d partitions", parts)
	topics := make([]string, cfg.scaleTopics)
	s, err := measure(b, label+": create", 0, func() (time.Duration, int64, map[string]float64, error) {
		start := time.Now()
		for i := range topics {
			topics[i] = fmt.Sprintf("scale-%03d", i)
			if err := createTopic(ctx, b.addr, topics[i], cfg.scaleParts); err != nil {
				return 0, 0, nil, err
			}
		}
		// Created means served: CreateTopics can answer before every
		// partition has a leader (Kafka's KRaft broker applies the
		// metadata asynchronously), and a producer then gets
		// UNKNOWN_TOPIC_OR_PARTITION until it has.
		if err := waitPartitions(ctx, b.addr, topics, cfg.scaleParts); err != nil {
			return 0, 0, nil, err
		}
		return 0, 0, map[string]float64{"seconds": time.Since(start).Seconds()}, nil
	})
	if err != nil {
		return out, err
	}
	out = append(out, s)
	s, err = measure(b, label+": produce 1KiB acks=1", 0, func() (time.Duration, int64, map[string]float64, error) {
		return produceMany(ctx, b.addr, topics, cfg.scaleBytes)
	})
	if err != nil {
		// Reported, and the workloads that do not need those records
		// still run.
		*failures = append(*failures, fmt.Sprintf("%s: %v (its consume was skipped)", sys, err))
	} else {
		out = append(out, s)
		records := cfg.scaleBytes / 1024
		// One consumer of every partition, with and then without
		// incremental fetch sessions (KIP-227), each reading everything
		// and then idling 5 s: the figures include the Fetch bytes on
		// the wire, and the broker CPU covers the idle part too.
		for _, sessions := range []bool{true, false} {
			name := label + ": consume, fetch sessions"
			if !sessions {
				name = label + ": consume, no fetch sessions"
			}
			s, err = measure(b, name, 0, func() (time.Duration, int64, map[string]float64, error) {
				return consumeSessions(ctx, b.addr, topics, records, sessions, 5*time.Second)
			})
			if err != nil {
				return out, err
			}
			out = append(out, s)
		}
	}
	s, err = measure(b, label+": Metadata (all topics)", 0, func() (time.Duration, int64, map[string]float64, error) {
		d, err := metadataLatency(ctx, b.addr, 20)
		return 0, 0, map[string]float64{"p50_ms": float64(d) / 1e6}, err
	})
	if err != nil {
		return out, err
	}
	out = append(out, s)
	// Restarts: clean (SIGTERM), then after kill -9, repeated.
	for i := 0; i < cfg.restartRepeats; i++ {
		for _, kill := range []bool{false, true} {
			name := label + ": restart after SIGTERM"
			if kill {
				name = label + ": restart after kill -9"
			}
			b.stop(kill)
			start := time.Now()
			nb, err := b.start()
			if err != nil {
				return out, fmt.Errorf("%s: %w", name, err)
			}
			b = nb
			if err := waitPartitions(ctx, b.addr, topics, cfg.scaleParts); err != nil {
				return out, fmt.Errorf("%s: %w", name, err)
			}
			d := time.Since(start)
			ps := readProc(b.pid())
			log.Printf("  %-34s %-5s ready in %.2f s", name, sys, d.Seconds())
			out = append(out, sample{workload: name, system: sys, round: i + 1, rss: ps.rss, extra: map[string]float64{"seconds": d.Seconds()}})
		}
	}
	// Idle connections beside a working producer.
	name := fmt.Sprintf("%d idle connections + producer", cfg.idleConns)
	if err := createTopic(ctx, b.addr, "idle-load", 8); err != nil {
		return out, err
	}
	s, err = measure(b, name, 0, func() (time.Duration, int64, map[string]float64, error) {
		closeConns, err := idleConns(b.addr, cfg.idleConns)
		if err != nil {
			return 0, 0, nil, err
		}
		defer closeConns()
		idle := readProc(b.pid())
		d, n, err := produce(ctx, b.addr, "idle-load", produceSpec{1024, "1", "none", 8}, cfg.scaleBytes/2)
		return d, n, map[string]float64{"idle_rss_MiB": float64(idle.rss) / (1 << 20)}, err
	})
	if err != nil {
		return out, err
	}
	out = append(out, s)
	// Consumers of many groups joining at once.
	name = fmt.Sprintf("%d consumers in %d groups join", cfg.joinConsumers, cfg.joinGroups)
	if err := createTopic(ctx, b.addr, "join", 10); err != nil {
		return out, err
	}
	s, err = measure(b, name, 0, func() (time.Duration, int64, map[string]float64, error) {
		d, closeAll, err := groupsJoin(ctx, b.addr, "join", cfg.joinGroups, cfg.joinConsumers)
		if err != nil {
			return 0, 0, nil, err
		}
		closeAll()
		return 0, 0, map[string]float64{"seconds": d.Seconds()}, nil
	})
	if err != nil {
		return out, err
	}
	out = append(out, s)
	return out, nil
}

// raiseNoFile lifts the open-files limit to its hard maximum: the idle
// connections workload holds thousands of sockets in this process and the
// brokers, which inherit the limit.
func raiseNoFile() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}
