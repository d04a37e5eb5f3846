package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"

	"samsa/config"
)

func TestReadinessChecks(t *testing.T) {
	r := NewReadiness()
	if ok, d := r.Ready(); !ok || d != "" {
		t.Fatalf("empty: %v %q, want ready", ok, d)
	}
	disk := true
	r.Set("startup", func() (bool, string) { return false, "recovering\npartition logs" })
	r.Set("log dir", func() (bool, string) {
		if disk {
			return true, "out of disk space"
		}
		return true, ""
	})
	r.Set("cluster", func() (bool, string) { return false, "not registered" })
	if ok, d := r.Ready(); ok || d != "startup: recovering partition logs; cluster: not registered" {
		t.Fatalf("got %v %q", ok, d)
	}
	r.Set("startup", func() (bool, string) { return true, "" })
	r.Set("cluster", nil)
	if ok, d := r.Ready(); !ok || d != "log dir: out of disk space" {
		t.Fatalf("got %v %q", ok, d)
	}
	disk = false
	if ok, d := r.Ready(); !ok || d != "" {
		t.Fatalf("got %v %q", ok, d)
	}
}

// TestServerEndpoints serves a Readiness on two port-0 listeners and
// reads the bodies a probe sees.
func TestServerEndpoints(t *testing.T) {
	r := NewReadiness()
	var note atomic.Pointer[string]
	note.Store(new(string))
	r.Set("log dir", func() (bool, string) { return true, *note.Load() })
	s := New(r, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.Start([]config.HTTPListener{{Host: "127.0.0.1"}, {Host: "127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if len(s.Addrs()) != 2 {
		t.Fatalf("Addrs = %v", s.Addrs())
	}
	for _, a := range s.Addrs() {
		for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ok\n"} {
			code, body := fetch(t, "http://"+a.String()+path)
			if code != 200 || body != want {
				t.Errorf("%s%s = %d %q, want 200 %q", a, path, code, body, want)
			}
		}
	}
	full := "out of disk space, writes refused"
	note.Store(&full)
	base := "http://" + s.Addrs()[0].String()
	if code, body := fetch(t, base+"/readyz"); code != 200 || body != "ok: log dir: out of disk space, writes refused\n" {
		t.Errorf("/readyz with a note = %d %q", code, body)
	}
	r.Set("startup", func() (bool, string) { return false, "shutting down" })
	if code, body := fetch(t, base+"/readyz"); code != 503 || body != "not ready: startup: shutting down\n" {
		t.Errorf("/readyz failing = %d %q", code, body)
	}
	if code, _ := fetch(t, base+"/nope"); code != 404 {
		t.Errorf("/nope = %d, want 404", code)
	}
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
