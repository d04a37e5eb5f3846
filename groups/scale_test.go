package groups

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestManyGroups shows that per-member and per-group timers scale: 5000
// groups with one member each, every one with a live session timer, and
// expiry still precise.
func TestManyGroups(t *testing.T) {
	const n = 5000
	cfg := testConfig()
	c := openTest(t, t.TempDir(), cfg, nil)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()

	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				g := fmt.Sprintf("group-%05d", i)
				req := joinReq(g, "", protos("t"))
				req.SessionTimeout = 2 * time.Second
				r := c.Join(context.Background(), req)
				if r.ErrorCode != 0 {
					errs <- fmt.Errorf("%s join: %d", g, r.ErrorCode)
					continue
				}
				s := c.Sync(context.Background(), SyncRequest{Group: g, MemberID: r.MemberID, Generation: r.Generation,
					Assignments: map[string][]byte{r.MemberID: []byte("x")}})
				if s.ErrorCode != 0 {
					errs <- fmt.Errorf("%s sync: %d", g, s.ErrorCode)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	took := time.Since(start)

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perGroup := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d groups joined and synced in %v; heap %+d bytes per group; %d goroutines",
		n, took, perGroup, runtime.NumGoroutine())
	if g := runtime.NumGoroutine(); g > 100 {
		t.Fatalf("%d goroutines: timers must not cost goroutines", g)
	}
	if perGroup > 64<<10 {
		t.Fatalf("%d bytes per group", perGroup)
	}
	if ls := c.List([]string{"Stable"}, nil); len(ls) != n {
		t.Fatalf("%d stable groups, want %d", len(ls), n)
	}
	// Nobody heartbeats: every member expires after its 2s session and
	// every group empties.
	waitFor(t, "all sessions to expire", func() bool { return len(c.List([]string{"Empty"}, nil)) == n })
	if since := time.Since(start); since < 2*time.Second {
		t.Fatalf("sessions expired after %v", since)
	}
}
