package replica

import (
	"slices"
	"testing"
	"time"
)

func TestParseThrottledReplicas(t *testing.T) {
	all, parts, err := ParseThrottledReplicas(" 0:1 , 1:2,2:1", 1)
	if err != nil || all || !slices.Equal(parts, []int32{0, 2}) {
		t.Fatalf("got %v %v %v", all, parts, err)
	}
	if all, _, err := ParseThrottledReplicas("*", 3); !all || err != nil {
		t.Fatalf("* not all: %v", err)
	}
	if all, parts, err := ParseThrottledReplicas("", 3); all || parts != nil || err != nil {
		t.Fatalf("empty: %v %v %v", all, parts, err)
	}
	for _, bad := range []string{"0", "a:1", "0:-1", "*,0:1", "1:2:3"} {
		if _, _, err := ParseThrottledReplicas(bad, 1); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseThrottledReplicas(f *testing.F) {
	f.Add("0:1,1:2")
	f.Add("*")
	f.Add(" 3 : 4 ")
	f.Fuzz(func(t *testing.T, s string) {
		all, parts, err := ParseThrottledReplicas(s, 1)
		if err != nil && (all || parts != nil) {
			t.Fatalf("error with a result: %v %v", all, parts)
		}
		for _, p := range parts {
			if p < 0 {
				t.Fatalf("negative partition %d from %q", p, s)
			}
		}
	})
}

// TestReplicationQuotaRate checks Kafka's Rate arithmetic: bytes over the
// elapsed time, never less than window-1 samples, and the quota exceeded
// only above the limit.
func TestReplicationQuotaRate(t *testing.T) {
	now := time.Unix(1000, 0)
	q := NewReplicationQuota(1, 3, time.Second, func() time.Time { return now })
	if q.Exceeded() {
		t.Fatal("unlimited quota exceeded")
	}
	q.SetLimit(1000)
	q.Record(1500) // over at least 2 s: 750 B/s
	if r := q.Rate(); r != 750 {
		t.Fatalf("rate %v, want 750", r)
	}
	if q.Exceeded() {
		t.Fatal("750 B/s exceeds 1000")
	}
	q.Record(1000) // 2500 B over 2 s
	if !q.Exceeded() {
		t.Fatalf("rate %v should exceed 1000", q.Rate())
	}
	now = now.Add(4 * time.Second) // every sample expired
	if q.Exceeded() || q.Rate() != 0 {
		t.Fatalf("rate %v after the window passed", q.Rate())
	}
	if err := q.SetThrottled("t", "0:1,1:2"); err != nil || !q.IsThrottled("t", 0) || q.IsThrottled("t", 1) || q.IsThrottled("u", 0) {
		t.Fatalf("throttled set wrong: %v", err)
	}
	_ = q.SetThrottled("t", "")
	if q.IsThrottled("t", 0) {
		t.Fatal("empty list still throttles")
	}
	var nilQ *ReplicationQuota
	if nilQ.IsThrottled("t", 0) || nilQ.Exceeded() {
		t.Fatal("nil quota throttles")
	}
}
