package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Why the bench turns off the guest's free page reporting for its run.
//
// This machine is a virtual machine whose kernel reports free memory to
// its host (the page_reporting module, fed by virtio_balloon): every
// couple of seconds it hands blocks of free pages of at least
// page_reporting_order (2^9 pages, 2 MiB, by default) to the host, which
// takes the memory back; the guest's next write to such a page faults in
// the host, which must back it again. A broker writing its log allocates
// page-cache pages from that pool, so the same workload cost either broker
// 0.5 or 3.7 s of CPU per GB depending on how much of the freed memory had
// been reported by then (perf: the kernel's copy_folio_from_iter_atomic
// under pwrite64). Measured here on 2026-11-30 with `dd if=/dev/zero
// of=F bs=1M count=3000 conv=fdatasync`, F deleted and 8 s of sleep
// between runs, /sys/module/page_reporting/parameters/reported_kib read
// around each:
//
//	page_reporting_order 9 (default):  500-790 MB/s, 3.1-5.3 s system time, 1.1 GiB reported per run
//	page_reporting_order 10:           1.3 GB/s, 1.4 s, 0.36 GiB reported per run
//	page_reporting_order 11:           1.8-1.9 GB/s, 0.6 s, nothing reported
//
// Order 11 is above the largest block the buddy allocator keeps (2^10
// pages on x86-64), so nothing qualifies and reporting stops. The bench
// sets it for its run and puts the old value back when it ends: memory the
// guest has backed once then stays backed, for both brokers alike, as it
// would on a physical machine or a VM without ballooning. pretouch
// (pretouch.go) still backs fresh memory before each workload.

// pageReportingOrder is the knob: page_reporting's module parameter.
const pageReportingOrder = "/sys/module/page_reporting/parameters/page_reporting_order"

// pageReportingOff is the order no free block reaches.
const pageReportingOff = 11

// disablePageReporting sets page_reporting_order to pageReportingOff when
// the parameter exists and this process may write it (root). It returns
// a function that restores the previous value, and a sentence for the
// report and the log saying what was done; both are usable when nothing was.
func disablePageReporting() (restore func(), state string) {
	noop := func() {}
	b, err := os.ReadFile(pageReportingOrder)
	if err != nil {
		return noop, "Free page reporting: not present on this machine (" + pageReportingOrder + " unreadable), left alone"
	}
	old := strings.TrimSpace(string(b))
	if v, err := strconv.Atoi(old); err == nil && v >= pageReportingOff {
		return noop, fmt.Sprintf("Free page reporting: already off (page_reporting_order %s)", old)
	}
	if err := os.WriteFile(pageReportingOrder, []byte(strconv.Itoa(pageReportingOff)), 0); err != nil {
		return noop, fmt.Sprintf("Free page reporting: left on (page_reporting_order %s; setting %d failed: %v), so first writes to memory returned to the host cost more for both brokers", old, pageReportingOff, err)
	}
	restore = func() { _ = os.WriteFile(pageReportingOrder, []byte(old), 0) }
	return restore, fmt.Sprintf("Free page reporting: off for the run (page_reporting_order %s → %d, restored after), so memory the guest returned to its host does not have to be backed again in the middle of a workload; see bench/pagereport.go", old, pageReportingOff)
}
