package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Counters is what the throughput sampler reads: the all-topics byte and
// record counts since start (metrics.Broker.Totals).
type Counters interface {
	Totals() (bytesIn, bytesOut, messagesIn uint64)
}

// Options configure a Console.
type Options struct {
	// Seeds returns the broker's Kafka listener addresses (host:port);
	// the console connects to the first that answers. It is called when
	// the client is first needed, after the listeners are bound.
	Seeds func() []string
	// Counters feeds the throughput chart; nil leaves it empty.
	Counters Counters
	// AllowActions enables POST /topics and POST /groups/{id}/reset
	// (samsa.console.actions.enable).
	AllowActions bool
	// LagEvery is how often group lag is sampled while the console is
	// being looked at; 0 means 5 s.
	LagEvery time.Duration
	// ClientOpts are extra franz-go options for the console's client
	// (e.g. SASL once listeners require it).
	ClientOpts []kgo.Opt
	Logger     *slog.Logger
}

// Console serves the pages. Create it with New, register it with
// Register, stop it with Close.
type Console struct {
	opts  Options
	log   *slog.Logger
	pages map[string]*template.Template

	clMu sync.Mutex // guards cl and adm
	cl   *kgo.Client
	adm  *kadm.Client

	samples  *sampler
	lastView atomic.Int64 // unix nanos of the last page view
}

// New returns a console and starts its sampler.
func New(o Options) (*Console, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.LagEvery <= 0 {
		o.LagEvery = 5 * time.Second
	}
	c := &Console{opts: o, log: o.Logger, pages: map[string]*template.Template{}}
	funcs := template.FuncMap{
		"bytes":   humanBytes,
		"join":    joinIDs,
		"inc":     func(i int) int { return i + 1 },
		"pathEsc": url.PathEscape,
		"qEsc":    url.QueryEscape,
	}
	for _, p := range []string{"index", "topic", "groups", "group", "browse", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", p, err)
		}
		c.pages[p] = t
	}
	c.samples = newSampler(o.Counters, o.LagEvery, c.sampleLag, &c.lastView)
	return c, nil
}

// Mux is where Register puts the console's routes (httpapi.Server and
// *http.ServeMux both are one).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register adds the console's routes to m.
func (c *Console) Register(m Mux) {
	static, _ := fs.Sub(assetFS, "assets")
	m.Handle("GET /console/static/", http.StripPrefix("/console/static/", cacheStatic(http.FileServerFS(static))))
	m.Handle("GET /{$}", c.page(c.index))
	m.Handle("GET /topics/{name}", c.page(c.topic))
	m.Handle("GET /groups", c.page(c.groups))
	m.Handle("GET /groups/{id}", c.page(c.group))
	m.Handle("GET /browse", c.page(c.browse))
	m.Handle("GET /console/api/throughput", http.HandlerFunc(c.apiThroughput))
	m.Handle("GET /console/api/groups/{id}/lag", http.HandlerFunc(c.apiLag))
	m.Handle("POST /topics", c.action(c.createTopic))
	m.Handle("POST /groups/{id}/reset", c.action(c.resetOffsets))
}

// Close stops the sampler and closes the client.
func (c *Console) Close() {
	c.samples.stop()
	c.clMu.Lock()
	defer c.clMu.Unlock()
	if c.cl != nil {
		c.cl.Close()
		c.cl, c.adm = nil, nil
	}
}

// admin returns the console's admin client, creating it on first use.
func (c *Console) admin() (*kadm.Client, *kgo.Client, error) {
	c.clMu.Lock()
	defer c.clMu.Unlock()
	if c.adm != nil {
		return c.adm, c.cl, nil
	}
	seeds := c.opts.Seeds()
	if len(seeds) == 0 {
		return nil, nil, errors.New("the broker has no Kafka listener")
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ClientID("samsa-console")}, c.opts.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("console client: %w", err)
	}
	c.cl, c.adm = cl, kadm.NewClient(cl)
	return c.adm, c.cl, nil
}

// view is what every page template gets: the page's own data plus the
// layout's.
type view struct {
	Title   string
	Nav     string
	Actions bool
	Data    any
	Notice  string
}

// pageFunc builds one page: its template name and view, or an error.
type pageFunc func(ctx context.Context, r *http.Request) (string, view, error)

// page wraps a pageFunc: records the view time, bounds the work, renders,
// and answers errors with the error page.
func (c *Console) page(f pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.lastView.Store(time.Now().UnixNano())
		c.samples.wake()
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		name, v, err := f(ctx, r)
		code := http.StatusOK
		if err != nil {
			var he *httpError
			code = http.StatusBadGateway
			if errors.As(err, &he) {
				code = he.code
			}
			c.log.Warn("console page failed", "path", r.URL.Path, "client_addr", r.RemoteAddr, "err", err)
			name, v = "error", view{Title: http.StatusText(code), Data: err.Error()}
		}
		v.Actions = c.opts.AllowActions
		if n := r.URL.Query().Get("notice"); n != "" && err == nil {
			v.Notice = n
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
		w.WriteHeader(code)
		if err := c.pages[name].Execute(w, v); err != nil {
			c.log.Warn("console render failed", "path", r.URL.Path, "err", err)
		}
	})
}

// httpError is an error with its HTTP status (a bad query, an unknown
// topic).
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, a...)}
}

func notFound(format string, a ...any) error {
	return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf(format, a...)}
}

// action wraps a POST handler: refused unless actions are enabled and the
// request comes from a console page of this host.
func (c *Console) action(f func(ctx context.Context, r *http.Request) (string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.opts.AllowActions {
			http.Error(w, "the console is read-only: set samsa.console.actions.enable=true to allow changes", http.StatusForbidden)
			return
		}
		if !sameOrigin(r) {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
		defer cancel()
		to, err := f(ctx, r)
		if err != nil {
			c.log.Warn("console action failed", "path", r.URL.Path, "client_addr", r.RemoteAddr, "err", err)
			code := http.StatusBadGateway
			var he *httpError
			if errors.As(err, &he) {
				code = he.code
			}
			http.Error(w, err.Error(), code)
			return
		}
		c.log.Info("console action", "path", r.URL.Path, "client_addr", r.RemoteAddr, "result", to)
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
}

// sameOrigin reports whether a browser sent r from a page of this host:
// Origin when the browser sets it, else Referer.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	u, err := url.Parse(src)
	return err == nil && src != "" && u.Host == r.Host
}

// cacheStatic lets browsers keep the embedded assets for an hour.
func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// humanBytes prints n bytes in binary units, as kafka-log-dirs users
// convert them.
func humanBytes(n int64) string {
	if n < 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// joinIDs prints a replica list as kafka-topics --describe does: "1,2,3".
func joinIDs(ids []int32) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(id)))
	}
	return b.String()
}
