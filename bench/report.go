package main

import (
	"fmt"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// report turns the samples into bench/RESULTS.md and the ratio chart.
type report struct {
	cfg      config
	env      *env
	samples  []sample
	started  time.Time
	finished time.Time
	loopback float64 // MB/s, 0 when not measured
	// pageReporting says what the run did with the guest's free page
	// reporting (disablePageReporting).
	pageReporting string
	failures      []string // scale workloads a system did not finish, with why
}

// figure is one workload's medians on one system.
type figure struct {
	mbps, cpuPerGB float64
	loadCPUPerGB   float64 // the load generator's CPU s/GB (sample.loadCPUPerGB)
	busy           float64 // share of the cores in use (sample.busy)
	rss            int64
	extra          map[string]float64
	n              int
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// medians groups samples by workload and system, in first-seen order.
func (r *report) medians() (order []string, by map[string]map[string]figure) {
	type acc struct {
		mbps, cpu, rss, load, busy []float64
		extra                      map[string][]float64
	}
	accs := map[string]map[string]*acc{}
	for _, s := range r.samples {
		if accs[s.workload] == nil {
			accs[s.workload] = map[string]*acc{}
			order = append(order, s.workload)
		}
		a := accs[s.workload][s.system]
		if a == nil {
			a = &acc{extra: map[string][]float64{}}
			accs[s.workload][s.system] = a
		}
		a.mbps = append(a.mbps, s.mbps)
		a.cpu = append(a.cpu, s.cpuPerGB)
		a.load = append(a.load, s.loadCPUPerGB)
		a.busy = append(a.busy, s.busy)
		a.rss = append(a.rss, float64(s.rss))
		for k, v := range s.extra {
			a.extra[k] = append(a.extra[k], v)
		}
	}
	by = map[string]map[string]figure{}
	for w, m := range accs {
		by[w] = map[string]figure{}
		for sys, a := range m {
			f := figure{mbps: median(a.mbps), cpuPerGB: median(a.cpu), loadCPUPerGB: median(a.load), busy: median(a.busy), rss: int64(median(a.rss)), extra: map[string]float64{}, n: len(a.mbps)}
			for k, v := range a.extra {
				f.extra[k] = median(v)
			}
			by[w][sys] = f
		}
	}
	return order, by
}

// pct formats a share as a whole percentage, or "-" when not measured.
func pct(x float64) string {
	if x <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*x)
}

// ratio formats a/b, or "-" when either is missing.
func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func cmdOut(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:")), "%d", &kb)
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return "unknown"
}

// kafkaVersion names the Kafka release from the broker jar on the
// tools' classpath.
func (r *report) kafkaVersion() string {
	m, _ := filepath.Glob(filepath.Join(r.env.root, "compat-tests", "clients", "tools", "target", "lib", "kafka_2.13-*.jar"))
	for _, p := range m {
		base := filepath.Base(p)
		if !strings.Contains(base, "test") {
			return strings.TrimSuffix(strings.TrimPrefix(base, "kafka_2.13-"), ".jar")
		}
	}
	return "unknown"
}

func (r *report) write() error {
	order, by := r.medians()
	var b strings.Builder
	commit := cmdOut("git", "-C", r.env.root, "rev-parse", "--short=12", "HEAD")
	fmt.Fprintf(&b, "# Samsa vs Apache Kafka, measured side by side\n\n")
	fmt.Fprintf(&b, "Written by `go run ./bench` (`make bench`) on %s; every figure below was measured in that run. Do not edit by hand: rerun.\n\n", r.finished.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s, %d cores, %s RAM, %s\n", cpuModel(), runtime.NumCPU(), memTotal(), cmdOut("uname", "-sr"))
	fmt.Fprintf(&b, "- Apache Kafka %s, KRaft combined node, `KAFKA_HEAP_OPTS=%s`, `KAFKA_JVM_PERFORMANCE_OPTS=%s` (kafka-server-start.sh's defaults), %s\n", r.kafkaVersion(), r.env.kafkaHeap, r.env.kafkaJVM, cmdOut("java", "-version"))
	fmt.Fprintf(&b, "- Samsa at commit %s, built with %s\n", commit, runtime.Version())
	fmt.Fprintf(&b, "- Load: franz-go in the bench process (one process, one clock), and Kafka's own kafka-producer-perf-test / kafka-consumer-perf-test from the broker's release\n")
	fmt.Fprintf(&b, "- %d round(s), brokers alternating first, fresh data dir each, warmed up with %.0f MB; %.2f GB of record values per throughput workload; figures are medians over the rounds\n", r.cfg.rounds, float64(r.cfg.bytes/8)/1e6, float64(r.cfg.bytes)/1e9)
	fmt.Fprintf(&b, "- Before every workload the bench maps, touches and unmaps %.1f GB of memory, so that either broker's page-cache writes reuse memory this virtual machine's host has already backed (a first write to memory the guest returned to its host costs about ten times as much; see bench/pretouch.go)\n", float64(pretouchBytes)/1e9)
	if r.pageReporting != "" {
		fmt.Fprintf(&b, "- %s\n", r.pageReporting)
	}
	if r.loopback > 0 {
		fmt.Fprintf(&b, "- TCP loopback limit (iperf3, 5 s, one stream): %.0f MB/s\n", r.loopback)
	}
	fmt.Fprintf(&b, "- Run took %s\n\n", r.finished.Sub(r.started).Round(time.Second))
	fmt.Fprintf(&b, "MB/s is 10^6 bytes of record values per second. CPU is the broker process's user + system time (from /proc) per 10^9 bytes moved. RSS is the broker's peak resident set while the workload ran. Ratios are Samsa / Kafka: above 1 is better for MB/s, below 1 is better for CPU, RSS, latency and seconds.\n\n")
	fmt.Fprintf(&b, "![Samsa / Kafka](%s)\n\n", filepath.Base(r.cfg.chart))

	fmt.Fprintf(&b, "## Throughput\n\n| Workload | Kafka MB/s | Samsa MB/s | Samsa/Kafka | Kafka CPU s/GB | Samsa CPU s/GB | Samsa/Kafka | Kafka RSS MiB | Samsa RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, w := range order {
		k, s := by[w]["kafka"], by[w]["samsa"]
		if k.mbps == 0 && s.mbps == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w, num(k.mbps, "%.0f"), num(s.mbps, "%.0f"), ratio(s.mbps, k.mbps),
			num(k.cpuPerGB, "%.2f"), num(s.cpuPerGB, "%.2f"), ratio(s.cpuPerGB, k.cpuPerGB), mib(k.rss), mib(s.rss))
	}
	fmt.Fprintf(&b, "\n## What limited each workload\n\nOn this machine the load generator and the broker share the cores. Load CPU is the bench process's (franz-go) and Kafka's perf-test tools' user + system time per 10^9 bytes; busy is the broker's and the load's CPU together as a share of all cores over the workload's wall time. A workload near 100%% busy whose load CPU exceeds the broker's is limited by the client, against either broker.\n\nTwo ratios follow from those figures. *CPU-bound ratio* is (Kafka broker + load CPU) / (Samsa broker + load CPU): the throughput ratio to expect when the machine's cores, or a client that waits for each response before sending the next request, are the limit, since then every GB costs the sum of both processes' time. *Ceiling* is (Kafka broker + load CPU) / (Samsa load CPU): what a broker using no CPU at all would reach against Kafka with this client on this machine, if the client's own cost stayed as measured. A measured ratio near the CPU-bound one says the workload was limited by the CPU the two processes share; a ceiling below 1.5 says no broker could meet the 1.5× target with this client here.\n\n| Workload | Kafka broker CPU s/GB | Kafka load CPU s/GB | Kafka busy | Samsa broker CPU s/GB | Samsa load CPU s/GB | Samsa busy | Measured MB/s ratio | CPU-bound ratio | Ceiling |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, w := range order {
		k, s := by[w]["kafka"], by[w]["samsa"]
		if k.mbps == 0 && s.mbps == 0 {
			continue
		}
		kTotal := k.cpuPerGB + k.loadCPUPerGB
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w, num(k.cpuPerGB, "%.2f"), num(k.loadCPUPerGB, "%.2f"), pct(k.busy),
			num(s.cpuPerGB, "%.2f"), num(s.loadCPUPerGB, "%.2f"), pct(s.busy),
			ratio(s.mbps, k.mbps), ratio(kTotal, s.cpuPerGB+s.loadCPUPerGB), ratio(kTotal, s.loadCPUPerGB))
	}
	fmt.Fprintf(&b, "\n## Latency, times and memory\n\n| Workload | Figure | Kafka | Samsa | Samsa/Kafka | Kafka RSS MiB | Samsa RSS MiB |\n|---|---|---|---|---|---|---|\n")
	for _, w := range order {
		k, s := by[w]["kafka"], by[w]["samsa"]
		keys := map[string]bool{}
		for key := range k.extra {
			keys[key] = true
		}
		for key := range s.extra {
			keys[key] = true
		}
		var ks []string
		for key := range keys {
			ks = append(ks, key)
		}
		sort.Strings(ks)
		for _, key := range ks {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", w, key, num(k.extra[key], "%.2f"), num(s.extra[key], "%.2f"), ratio(s.extra[key], k.extra[key]), mib(k.rss), mib(s.rss))
		}
	}
	if len(r.failures) > 0 {
		fmt.Fprintf(&b, "\n## Workloads that did not finish\n\nEach has no figure for that system; where a whole scale round stopped, neither have the scale workloads after it.\n\n")
		for _, f := range r.failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	fmt.Fprintf(&b, "\n## How to reproduce\n\n```sh\nmake bench            # go run ./bench: %d rounds, %.2f GB per workload, scale workloads\ngo run ./bench -quick       # a smoke run of every workload\n```\n", r.cfg.rounds, float64(r.cfg.bytes)/1e9)
	if err := os.WriteFile(r.cfg.out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return r.chart(order, by)
}

func num(v float64, f string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(f, v)
}

func mib(v int64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%d", v>>20)
}

// chart draws, per throughput workload, Samsa/Kafka throughput and
// Kafka/Samsa CPU per GB (both: higher is better for Samsa), with lines at
// 1 (parity) and 1.5 (the throughput target).
func (r *report) chart(order []string, by map[string]map[string]figure) error {
	var names []string
	var thr, cpu plotter.Values
	for _, w := range order {
		k, s := by[w]["kafka"], by[w]["samsa"]
		if k.mbps == 0 || s.mbps == 0 {
			continue
		}
		names = append(names, w)
		thr = append(thr, s.mbps/k.mbps)
		if k.cpuPerGB > 0 && s.cpuPerGB > 0 {
			cpu = append(cpu, k.cpuPerGB/s.cpuPerGB)
		} else {
			cpu = append(cpu, 0)
		}
	}
	if len(names) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = "Samsa vs Apache Kafka (higher is better for Samsa)"
	p.Y.Label.Text = "ratio"
	w := vg.Points(9)
	b1, err := plotter.NewBarChart(thr, w)
	if err != nil {
		return err
	}
	b1.Color = color.RGBA{R: 47, G: 111, B: 223, A: 255}
	b1.Offset = -w / 2
	b1.LineStyle.Width = 0
	b2, err := plotter.NewBarChart(cpu, w)
	if err != nil {
		return err
	}
	b2.Color = color.RGBA{R: 22, G: 163, B: 74, A: 255}
	b2.Offset = w / 2
	b2.LineStyle.Width = 0
	p.Add(b1, b2)
	p.Legend.Add("throughput Samsa/Kafka", b1)
	p.Legend.Add("CPU per GB Kafka/Samsa", b2)
	p.Legend.Top = true
	for _, y := range []float64{1, 1.5} {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: y}, {X: float64(len(names)) - 0.5, Y: y}})
		if err != nil {
			return err
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Color = color.Gray{Y: 90}
		p.Add(l)
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 0.6
	p.X.Tick.Label.XAlign = -1
	p.X.Tick.Label.YAlign = 0
	p.Y.Min = 0
	return p.Save(vg.Length(18)*vg.Centimeter, vg.Length(12)*vg.Centimeter, r.cfg.chart)
}
