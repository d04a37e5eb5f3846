package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

// httpGet returns the status and body of url, or an error if nothing
// answers.
func httpGet(url string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// TestHealthEndpoints: with samsa.http.listeners set, a started broker
// (in-process and the binary) answers /healthz and /readyz with 200 "ok",
// and a client produces and consumes through it.
func TestHealthEndpoints(t *testing.T) {
	for _, m := range testbroker.Modes {
		t.Run(string(m), func(t *testing.T) {
			port := testbroker.FreePort(t)
			b := testbroker.Start(t, m, fmt.Sprintf("samsa.http.listeners=http://127.0.0.1:%d", port))
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			// The binary is started once its Kafka port accepts, which
			// is before recovery: wait for ready like a CI script would.
			deadline := time.Now().Add(10 * time.Second)
			for {
				code, body, err := httpGet(base + "/readyz")
				if err == nil && code == 200 {
					if body != "ok\n" {
						t.Fatalf("/readyz = %q, want ok", body)
					}
					break
				}
				if err == nil && (code != 503 || !strings.HasPrefix(body, "not ready: startup: ")) {
					t.Fatalf("/readyz = %d %q, want 503 with the start-up phase or 200", code, body)
				}
				if time.Now().After(deadline) {
					t.Fatalf("/readyz not ready after 10s: %d %q %v\n%s", code, body, err, b.Output())
				}
				time.Sleep(5 * time.Millisecond)
			}
			if code, body, err := httpGet(base + "/healthz"); err != nil || code != 200 || body != "ok\n" {
				t.Fatalf("/healthz = %d %q %v", code, body, err)
			}
			cl := newClient(t, b.Addr(), kgo.AllowAutoTopicCreation(), kgo.ConsumeTopics("health"))
			if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "health", Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if fs := cl.PollFetches(ctxT(t)); fs.Err() != nil || fs.NumRecords() != 1 {
				t.Fatalf("consume: %v, %d records", fs.Err(), fs.NumRecords())
			}
		})
	}
}

// TestReadyzDuringBinaryRecovery kills the binary with SIGKILL while it
// holds many partitions, starts it again on the same data and polls
// /readyz from the moment the HTTP port accepts: the answers are 503 with
// the start-up phase while the logs recover, then 200, and never 200
// before a 503 (the HTTP listener is bound before the stores open).
func TestReadyzDuringBinaryRecovery(t *testing.T) {
	const partitions = 500
	b := testbroker.Start(t, testbroker.Binary)
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), partitions, 1, nil, "many"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < partitions; p++ {
		cl.Produce(ctxT(t), &kgo.Record{Topic: "many", Partition: p, Value: []byte("v")}, nil)
	}
	if err := cl.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	b.Kill()

	port := testbroker.FreePort(t)
	t0 := time.Now()
	r := testbroker.Launch(t, b.DataDir(), fmt.Sprintf("samsa.http.listeners=http://127.0.0.1:%d", port))
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	var seen []string
	var first503, first200 time.Duration
	for first200 == 0 {
		if time.Since(t0) > 60*time.Second {
			t.Fatalf("not ready after 60s; saw %q\n%s", seen, r.Output())
		}
		select {
		case <-r.Exited():
			t.Fatalf("binary exited: %d\n%s", r.ExitCode(), r.Output())
		default:
		}
		code, body, err := httpGet(url)
		if err != nil {
			time.Sleep(time.Millisecond)
			continue
		}
		answer := fmt.Sprintf("%d %s", code, strings.TrimSpace(body))
		if len(seen) == 0 || seen[len(seen)-1] != answer {
			seen = append(seen, answer)
		}
		switch {
		case code == 503 && strings.HasPrefix(body, "not ready: startup: "):
			if first503 == 0 {
				first503 = time.Since(t0)
			}
		case code == 200 && body == "ok\n":
			first200 = time.Since(t0)
		default:
			t.Fatalf("/readyz = %d %q", code, body)
		}
	}
	t.Logf("answers: %q; first 503 after %v, first 200 after %v", seen, first503, first200)
	if first503 == 0 {
		t.Fatalf("/readyz was 200 at once (%q): recovery of %d partitions not observed", seen, partitions)
	}
	if !strings.Contains(strings.Join(seen, "|"), "recovering partition logs") {
		t.Errorf("no answer named log recovery: %q", seen)
	}
	if code, body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/healthz", port)); err != nil || code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q %v", code, body, err)
	}
	r.Signal(syscall.SIGTERM)
	<-r.Exited()
	if r.ExitCode() != 0 {
		t.Errorf("exit code %d after SIGTERM\n%s", r.ExitCode(), r.Output())
	}
}

// TestPprofOptIn: /debug/pprof/ is served on the HTTP listener only with
// samsa.debug.pprof.enable=true, and a CPU profile can be taken from the
// running binary (what make bench's -profile uses).
func TestPprofOptIn(t *testing.T) {
	// The binary counts as started once its Kafka port accepts; the
	// HTTP listener binds right after.
	waitHTTP := func(port int) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/healthz", port)); err == nil || time.Now().After(deadline) {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	port := testbroker.FreePort(t)
	testbroker.Start(t, testbroker.Binary, fmt.Sprintf("samsa.http.listeners=http://127.0.0.1:%d", port))
	waitHTTP(port)
	if code, _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/", port)); err != nil || code != 404 {
		t.Errorf("pprof without opting in: %d %v, want 404", code, err)
	}
	port = testbroker.FreePort(t)
	testbroker.Start(t, testbroker.Binary, fmt.Sprintf("samsa.http.listeners=http://127.0.0.1:%d", port), "samsa.debug.pprof.enable=true")
	waitHTTP(port)
	code, body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/goroutine?debug=1", port))
	if err != nil || code != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("goroutine profile: %d %v %.200q", code, err, body)
	}
	code, body, err = httpGet(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=1", port))
	if err != nil || code != 200 || len(body) < 100 || body[0] != 0x1f {
		t.Errorf("CPU profile: %d %v, %d bytes, want a gzipped profile", code, err, len(body))
	}
}
