package broker_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"samsa/broker"
	"samsa/config"
)

// get fetches url and returns the status code and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// TestReadyzDuringSlowStart holds a real broker's start in log recovery
// and checks that the HTTP listener is already up, /healthz says alive,
// /readyz answers 503 naming the phase, and both flip to 200 once Start
// returns; then 503 "shutting down" while Close drains connections.
func TestReadyzDuringSlowStart(t *testing.T) {
	cfg, _, err := config.Load("", []string{
		"listeners=PLAINTEXT://127.0.0.1:0",
		"log.dirs=" + t.TempDir(),
		"samsa.http.listeners=http://127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	inRecovery := make(chan *broker.Broker, 1)
	release := make(chan struct{})
	var draining chan struct{}
	defer broker.SetTestHookPhase(func(b *broker.Broker, phase string) {
		switch phase {
		case "recovering partition logs":
			inRecovery <- b
			<-release
		case "shutting down":
			if draining != nil {
				<-draining
			}
		}
	})()

	type started struct {
		b   *broker.Broker
		err error
	}
	done := make(chan started, 1)
	go func() {
		b, err := broker.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		done <- started{b, err}
	}()
	var b *broker.Broker
	select {
	case b = <-inRecovery:
	case r := <-done:
		t.Fatalf("Start returned without recovering logs: %v", r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("start did not reach log recovery")
	}
	addrs := b.HTTPAddrs()
	if len(addrs) != 1 {
		close(release)
		t.Fatalf("HTTPAddrs = %v, want one bound address", addrs)
	}
	base := "http://" + addrs[0].String()
	code, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || body != "not ready: startup: recovering partition logs\n" {
		close(release)
		t.Fatalf("/readyz during recovery = %d %q, want 503 naming the phase", code, body)
	}
	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		close(release)
		t.Fatalf("/healthz during recovery = %d %q, want 200 ok", code, body)
	}
	close(release)
	r := <-done
	if r.err != nil {
		t.Fatalf("Start: %v", r.err)
	}
	if r.b != b {
		t.Fatal("hook saw another broker")
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/readyz after Start = %d %q, want 200 ok", code, body)
	}
	if ok, detail := b.Ready(); !ok || detail != "" {
		t.Fatalf("Ready() = %v %q", ok, detail)
	}
	resp, err := http.Post(base+"/readyz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /readyz = %d, want 405", resp.StatusCode)
	}

	// Close: while it is held at "shutting down", /readyz says so.
	draining = make(chan struct{})
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		closed <- b.Close(ctx)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body = get(t, base+"/readyz")
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			close(draining)
			t.Fatalf("/readyz during Close = %d %q, want 503", code, body)
		}
		time.Sleep(time.Millisecond)
	}
	if body != "not ready: startup: shutting down\n" {
		close(draining)
		t.Fatalf("/readyz during Close = %q", body)
	}
	close(draining)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("HTTP listener still answers after Close")
	}
}

// TestHTTPListenerBindError: a port already taken fails Start with the
// key named, and releases the Kafka listener it had bound.
func TestHTTPListenerBindError(t *testing.T) {
	first, _, err := config.Load("", []string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + t.TempDir(),
		"samsa.http.listeners=http://127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := broker.Start(first, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	taken := b.HTTPAddrs()[0].String()
	cfg, _, err := config.Load("", []string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + t.TempDir(),
		"samsa.http.listeners=http://" + taken})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := broker.Start(cfg, quiet)
	if err == nil {
		b2.Close(context.Background())
		t.Fatal("Start succeeded on a taken HTTP port")
	}
	if !strings.Contains(err.Error(), "samsa.http.listeners http://"+taken) {
		t.Fatalf("err = %v, want it to name samsa.http.listeners and the address", err)
	}
}
