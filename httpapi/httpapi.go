package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"samsa/config"
)

// Check reports one readiness condition: ok false means not ready, and
// detail says why in a few words; ok true with a detail is ready with a
// note the operator should see (e.g. writes refused on a full disk).
type Check func() (ok bool, detail string)

// Readiness is the set of named checks /readyz evaluates. It is safe for
// concurrent use; checks must be cheap and must not block, since a probe
// may call them several times a second.
type Readiness struct {
	mu     sync.Mutex
	names  []string // in registration order, for a stable body
	checks map[string]Check
}

// NewReadiness returns an empty Readiness, which is ready.
func NewReadiness() *Readiness { return &Readiness{checks: map[string]Check{}} }

// Set adds the check called name, or replaces it; a nil c removes it.
func (r *Readiness) Set(name string, c Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c == nil {
		delete(r.checks, name)
		r.names = slices.DeleteFunc(r.names, func(n string) bool { return n == name })
		return
	}
	if _, ok := r.checks[name]; !ok {
		r.names = append(r.names, name)
	}
	r.checks[name] = c
}

// Ready evaluates every check. ready is true when all pass; detail is
// one line: the failing checks as "name: reason" when not ready, else
// the notes of passing checks ("" when there are none).
func (r *Readiness) Ready() (ready bool, detail string) {
	r.mu.Lock()
	names := slices.Clone(r.names)
	checks := make([]Check, len(names))
	for i, n := range names {
		checks[i] = r.checks[n]
	}
	r.mu.Unlock()
	var failed, notes []string
	for i, c := range checks {
		ok, d := c()
		d = oneLine(d)
		switch {
		case !ok:
			failed = append(failed, names[i]+": "+d)
		case d != "":
			notes = append(notes, names[i]+": "+d)
		}
	}
	if len(failed) > 0 {
		return false, strings.Join(failed, "; ")
	}
	return true, strings.Join(notes, "; ")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Server is the HTTP listener. Create it with New, register handlers with
// Handle, then Start it; Shutdown stops it.
type Server struct {
	log   *slog.Logger
	ready *Readiness
	mux   *http.ServeMux
	srv   *http.Server

	addrs []net.Addr
	wg    sync.WaitGroup // one per Serve goroutine
}

// New returns a Server whose /readyz evaluates ready. log receives one
// line per listener bound and the http.Server's own errors (bad requests
// from clients) at Warn.
func New(ready *Readiness, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{log: log, ready: ready, mux: http.NewServeMux()}
	s.mux.HandleFunc("/healthz", s.healthz)
	s.mux.HandleFunc("/readyz", s.readyz)
	s.srv = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// Handle registers h for pattern (http.ServeMux patterns), for the parts
// served on this listener besides the health endpoints.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Start binds every listener, all or none, and serves them in the
// background. An error names the listener that could not be bound.
func (s *Server) Start(ls []config.HTTPListener) error {
	lns := make([]net.Listener, 0, len(ls))
	for _, l := range ls {
		ln, err := net.Listen("tcp", l.Addr())
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return fmt.Errorf("%s %s: %w", config.HTTPListenersKey, l, err)
		}
		lns = append(lns, ln)
		s.addrs = append(s.addrs, ln.Addr())
	}
	for _, ln := range lns {
		s.log.Info("http listener started", "addr", ln.Addr().String())
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http listener stopped", "addr", ln.Addr().String(), "err", err)
			}
		}()
	}
	return nil
}

// Addrs returns the bound address of each listener, in config order.
func (s *Server) Addrs() []net.Addr { return s.addrs }

// Shutdown stops accepting, lets requests in flight finish until ctx
// ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
		err = fmt.Errorf("http listener shutdown: %w", err)
	}
	s.wg.Wait()
	return err
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if !allowGet(w, r) {
		return
	}
	reply(w, http.StatusOK, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !allowGet(w, r) {
		return
	}
	ok, detail := s.ready.Ready()
	switch {
	case !ok:
		reply(w, http.StatusServiceUnavailable, "not ready: "+detail)
	case detail != "":
		reply(w, http.StatusOK, "ok: "+detail)
	default:
		reply(w, http.StatusOK, "ok")
	}
}

func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	reply(w, http.StatusMethodNotAllowed, "method not allowed")
	return false
}

func reply(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, body)
}
