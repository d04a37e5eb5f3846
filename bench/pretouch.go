package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// Why the bench touches memory before every workload.
//
// This machine is a virtual machine that returns free memory to its host
// (free page reporting; pagereport.go measures it and turns it off for
// the run): a first write to a page the host has taken back costs the
// guest about ten times a normal page-cache write. Turning reporting off
// stops the host taking more, but memory it took before the run, or never
// backed, is still dear on its first write. Measured here with `dd
// if=/dev/zero of=F bs=1M count=3000` three times, deleting F in between:
// 374 MB/s with 7.2 s of system time, then 2.3 and 2.7 GB/s with 0.6 s. A
// broker's writes into the page cache land on whatever pages the guest
// kernel hands out, so a workload was charged 0.5 or 3.7 s of CPU per GB
// for the same work (the kernel's copy_folio_from_iter_atomic under
// pwrite64 in `perf record -a -g`), depending on which broker ran first
// after memory had been freed.
//
// pretouch makes that equal for both: right before each workload it maps
// n bytes of anonymous memory, writes one byte per page (the host backs
// them), and unmaps them, so the workload's page-cache writes reuse
// backed pages. The time it takes is outside the measured window and
// outside both CPU figures.

// pretouchBytes is how much pretouch maps: set by run from the workload
// size (config.bytes) and capped at half of MemAvailable.
var pretouchBytes int64

// pretouch maps, touches and unmaps pretouchBytes of memory; see above.
// It returns how long that took (long when the host had to back the
// pages).
func pretouch() (time.Duration, error) {
	n := pretouchBytes
	if avail := memAvailable(); avail > 0 && n > avail/2 {
		n = avail / 2
	}
	if n <= 0 {
		return 0, nil
	}
	began := time.Now()
	m, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return 0, fmt.Errorf("pretouch: mmap %d bytes: %w", n, err)
	}
	page := os.Getpagesize()
	for i := 0; i < len(m); i += page {
		m[i] = 1
	}
	if err := syscall.Munmap(m); err != nil {
		return 0, fmt.Errorf("pretouch: munmap: %w", err)
	}
	return time.Since(began), nil
}

// memAvailable is /proc/meminfo's MemAvailable in bytes, 0 when unknown.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}
