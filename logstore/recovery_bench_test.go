package logstore

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// recoveryBenchParts are the partition counts of BenchmarkRecovery:
// LOGSTORE_RECOVERY_PARTS (comma-separated) overrides the default 2500,
// which keeps `make bench` short; issue 16's figures are for 2500, 5000
// and 10000 (100 topics x 100 partitions).
func recoveryBenchParts() []int {
	v := os.Getenv("LOGSTORE_RECOVERY_PARTS")
	if v == "" {
		return []int{2500}
	}
	var out []int
	for _, f := range splitComma(v) {
		n, err := strconv.Atoi(f)
		if err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// BenchmarkRecovery measures Open of a store holding many small
// partitions (topics of 100 partitions, a few batches each), restarted
// over and over: after a crash (kill -9: no clean-shutdown marker, the
// index keeps what its last flush wrote) or after Close. Every round
// appends one batch to every partition and flushes the index (as the
// periodic flush would) before stopping the store, so whatever a restart
// leaves in the index accumulates over the rounds, as it does in a broker
// that is killed repeatedly. ms/op is the mean Open time; first-ms and
// last-ms are the first and the last round's.
//
//	go test -run '^$' -bench BenchmarkRecovery -benchtime 5x ./logstore
//	LOGSTORE_RECOVERY_PARTS=2500,5000,10000 go test -run '^$' -bench BenchmarkRecovery -benchtime 5x -timeout 30m ./logstore
func BenchmarkRecovery(b *testing.B) {
	for _, mode := range []string{"unclean", "clean"} {
		for _, n := range recoveryBenchParts() {
			b.Run(fmt.Sprintf("%s/parts=%d", mode, n), func(b *testing.B) {
				benchRecovery(b, n, mode == "clean")
			})
		}
	}
}

func benchRecovery(b *testing.B, parts int, clean bool) {
	e := newEnv(b)
	e.open()
	batch := makeBatch(b, batchSpec{records: 4, valueSize: 100, baseTs: 1})
	h := mustHeader(b, batch)
	cfg := PartitionConfig{SegmentBytes: 1 << 30, RetentionBytes: -1, RetentionMs: -1}
	for i := range parts {
		p := e.create("topic"+strconv.Itoa(i/100), int32(i%100), cfg)
		for range 2 {
			if _, err := p.Append(batch, h); err != nil {
				b.Fatal(err)
			}
		}
	}
	stop := func() {
		for _, p := range e.s.Partitions() {
			if _, err := p.Append(batch, h); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.s.idx.db.Flush(); err != nil {
			b.Fatal(err)
		}
		if clean {
			e.close()
		} else {
			e.crash()
		}
	}
	stop()
	var first, last time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		e.open()
		d := time.Since(start)
		b.StopTimer()
		if got := len(e.s.Partitions()); got != parts {
			b.Fatalf("round %d: %d partitions open, want %d", i, got, parts)
		}
		if i == 0 {
			first = d
		}
		last = d
		stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
	b.ReportMetric(float64(last.Microseconds())/1000, "last-ms")
}
