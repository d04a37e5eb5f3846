package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPercentileAndMedian(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	sortDurations(d)
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {99.9, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
}

// TestReadProc reads this test process's own CPU time and RSS: both must
// be there and move the right way after work and an allocation.
func TestReadProc(t *testing.T) {
	before := readProc(os.Getpid())
	if !before.valid || before.rss <= 0 || before.hwm < before.rss {
		t.Fatalf("readProc(self) = %+v", before)
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		buf[x%len(buf)]++
	}
	after := readProc(os.Getpid())
	if after.cpu <= before.cpu || after.rss < before.rss+32<<20 {
		t.Errorf("after 300 ms of work and 64 MiB touched: cpu %v -> %v, rss %d -> %d", before.cpu, after.cpu, before.rss, after.rss)
	}
}

// TestReadProcChildren: the CPU a waited-for child used shows in the
// parent's children time, which is how Kafka's perf-test tools count as
// load.
func TestReadProcChildren(t *testing.T) {
	before := readProc(os.Getpid())
	cmd := exec.Command("sh", "-c", `end=$(($(date +%s)+1)); while [ "$(date +%s)" -le "$end" ]; do :; done`)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	after := readProc(os.Getpid())
	if after.children <= before.children {
		t.Errorf("children CPU %v -> %v after a busy child", before.children, after.children)
	}
}

// TestPretouch maps and touches 64 MiB and reads MemAvailable, which
// pretouch caps itself with.
func TestPretouch(t *testing.T) {
	if memAvailable() <= 0 {
		t.Fatal("MemAvailable not read from /proc/meminfo")
	}
	pretouchBytes = 64 << 20
	defer func() { pretouchBytes = 0 }()
	if _, err := pretouch(); err != nil {
		t.Fatal(err)
	}
}

// TestDisablePageReporting turns the guest's free page reporting off and
// back on, where this machine has it and the test may write it: the
// parameter must read 11 in between and its old value after.
func TestDisablePageReporting(t *testing.T) {
	b, err := os.ReadFile(pageReportingOrder)
	if err != nil {
		t.Skipf("no free page reporting here: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to write " + pageReportingOrder)
	}
	old := strings.TrimSpace(string(b))
	restore, state := disablePageReporting()
	got, _ := os.ReadFile(pageReportingOrder)
	restore()
	back, _ := os.ReadFile(pageReportingOrder)
	if old != strconv.Itoa(pageReportingOff) && strings.TrimSpace(string(got)) != strconv.Itoa(pageReportingOff) {
		t.Errorf("while off: page_reporting_order = %q, want %d (%s)", got, pageReportingOff, state)
	}
	if strings.TrimSpace(string(back)) != old {
		t.Errorf("after restore: page_reporting_order = %q, want %q", back, old)
	}
}

// TestToolWindow: a perf tool's MB/s and record count give back the same
// MB/s through measure's arithmetic.
func TestToolWindow(t *testing.T) {
	d, moved := toolWindow(250, 500_000, 1024)
	if moved != 512_000_000 {
		t.Fatalf("moved = %d", moved)
	}
	if got := float64(moved) / d.Seconds() / 1e6; got < 249.999 || got > 250.001 {
		t.Errorf("MB/s back = %v, want 250", got)
	}
	if d, moved := toolWindow(0, 500_000, 1024); d != 0 || moved != 0 {
		t.Errorf("no figure: %v %d, want nothing", d, moved)
	}
}
