package protocol

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Handler serves decoded requests. It is defined here, where it is
// consumed; package handlers implements it.
type Handler interface {
	// Serves reports whether the broker advertises key at version. A
	// request outside what it serves closes the connection, except
	// ApiVersions, which is answered so the client can negotiate.
	Serves(key, version int16) bool
	// Handle serves one request. A nil response sends nothing (Produce with
	// acks=0). A non-nil error closes the connection after earlier
	// responses are flushed. ctx is canceled when the server shuts down, so
	// long polls return early.
	Handle(ctx context.Context, r *Request) (kmsg.Response, error)
}

// Request is one decoded request with what a handler needs to know about
// the connection it came on.
type Request struct {
	Header RequestHeader
	// Body aliases the connection's frame buffer: copy any byte slice kept
	// after Handle returns.
	Body       kmsg.Request
	ClientAddr string
	Listener   string
	// Principal is the connection's authenticated principal in Kafka's
	// "Type:name" form: AnonymousPrincipal on a PLAINTEXT listener, the
	// client certificate's mapped name on SSL, the SASL user otherwise;
	// "" while a SASL connection has not authenticated yet.
	Principal string
	// Logger carries the client address and client id.
	Logger *slog.Logger
	// Received is when the request's frame had been read whole, before
	// its header and body were decoded: RequestMetrics
	// RequestQueueTimeMs measures from here to the handler.
	Received time.Time

	// Mute, when set by the handler, stops reading the connection for
	// that long after the response is queued: the client is over a quota
	// and its response carries throttle_time_ms (KIP-219).
	Mute time.Duration

	// SizeHint, when set by the handler, is roughly how many bytes the
	// encoded response will take, so the output buffer is taken at that
	// size rather than grown while encoding (Fetch knows its record bytes).
	SizeHint int

	// afterEncode runs once the response has been encoded (or dropped).
	afterEncode []func()
}

// AfterEncode registers fn to run once the response to r has been encoded
// into the connection's output buffer, or dropped. Handlers use it to
// return pooled buffers that the response's fields point into (Fetch's
// record batches) without copying them first.
func (r *Request) AfterEncode(fn func()) { r.afterEncode = append(r.afterEncode, fn) }

func (r *Request) runAfterEncode() {
	for _, fn := range r.afterEncode {
		fn()
	}
	r.afterEncode = nil
}

// Config tunes a Server.
type Config struct {
	// MaxRequestBytes is Kafka's socket.request.max.bytes: larger frames
	// close the connection before anything is allocated.
	MaxRequestBytes int32
	// MaxIdle is Kafka's connections.max.idle.ms: a connection with no
	// request in flight and no bytes read or written for this long is
	// closed. Zero or negative never closes one.
	MaxIdle time.Duration
	Logger  *slog.Logger
	// Conns, when set, is told of every connection accepted and closed,
	// for Kafka's socket-server-metrics (connection-count,
	// connection-creation-rate) per listener.
	Conns ConnObserver
	// MaxConnections is Kafka's max.connections: with that many open,
	// accepting waits for one to close (Kafka's waitForConnectionSlot).
	// Connections of ProtectedListener do not count and never wait.
	// 0: no limit; negative: none (Kafka's max.connections=0).
	MaxConnections    int
	ProtectedListener string
	// MaxConnectionsPerIP is max.connections.per.ip, with
	// max.connections.per.ip.overrides by IP: a connection beyond it is
	// closed at once with one log line (TooManyConnectionsException).
	// 0: no limit; negative: none (Kafka's 0, allowing only overrides).
	MaxConnectionsPerIP    int
	MaxConnectionsPerIPFor map[string]int
}

// ConnObserver counts connections per listener. Its methods are called
// once per connection, from the accept loop and the closing connection.
type ConnObserver interface {
	ConnOpened(listener string)
	ConnClosed(listener string)
}

// Server accepts Kafka connections on any number of listeners.
type Server struct {
	h      Handler
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // given to handlers; canceled by Shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loops and connections

	mu        sync.Mutex // guards the fields below
	closed    bool
	listeners []net.Listener
	conns     map[*conn]struct{}
	// Connection counts for max.connections and max.connections.per.ip;
	// slotFreed (on mu) wakes an accept loop waiting for a slot.
	counted   int
	perIP     map[string]int
	slotFreed *sync.Cond
}

// NewServer returns a server that dispatches to h.
func NewServer(h Handler, cfg Config) *Server {
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 104857600
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{h: h, cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, conns: make(map[*conn]struct{}), perIP: map[string]int{}}
	s.slotFreed = sync.NewCond(&s.mu)
	return s
}

// Listen binds addr (host:port) for the listener called name and starts
// accepting on it. It returns the bound address, which differs from addr
// when the port is 0.
func (s *Server) Listen(name, addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s %s: %w", name, addr, err)
	}
	if err := s.Serve(name, ln); err != nil {
		return nil, err
	}
	return ln.Addr(), nil
}

// Serve starts accepting connections from ln, a listener the caller bound,
// as the PLAINTEXT listener called name. The server owns ln from now on.
func (s *Server) Serve(name string, ln net.Listener) error {
	return s.ServeSecure(name, ln, nil)
}

// ServeSecure is Serve for a listener secured by sec (TLS, SASL or both);
// a nil sec is PLAINTEXT.
func (s *Server) ServeSecure(name string, ln net.Listener, sec Security) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return errors.New("server is shut down")
	}
	s.listeners = append(s.listeners, ln)
	s.wg.Add(1)
	s.mu.Unlock()
	go s.acceptLoop(name, ln, sec)
	return nil
}

func (s *Server) acceptLoop(name string, ln net.Listener, sec Security) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			// Out of file descriptors and the like: wait, as net/http does.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			s.log.Warn("accept failed", "listener", name, "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := newConn(s, nc, name, sec)
		s.mu.Lock()
		counted := s.cfg.MaxConnections != 0 && name != s.cfg.ProtectedListener
		for counted && s.counted >= max(s.cfg.MaxConnections, 0) && !s.closed {
			s.slotFreed.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		c.ip = hostOnly(c.addr)
		if limit := s.ipLimit(c.ip); limit != 0 && s.perIP[c.ip] >= max(limit, 0) {
			s.mu.Unlock()
			nc.Close()
			s.log.Info("rejected connection: address already has the configured maximum of connections",
				"client", c.addr, "listener", name, "max.connections.per.ip", max(limit, 0))
			continue
		}
		s.perIP[c.ip]++
		if counted {
			s.counted++
			c.counted = true
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		if s.cfg.Conns != nil {
			s.cfg.Conns.ConnOpened(name)
		}
		go c.run()
	}
}

// ipLimit is max.connections.per.ip for ip, with its override. Caller
// holds mu.
func (s *Server) ipLimit(ip string) int {
	if n, ok := s.cfg.MaxConnectionsPerIPFor[ip]; ok {
		return n
	}
	return s.cfg.MaxConnectionsPerIP
}

func hostOnly(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
	if c.counted {
		s.counted--
		s.slotFreed.Signal()
	}
	s.mu.Unlock()
	if s.cfg.Conns != nil {
		s.cfg.Conns.ConnClosed(c.listener)
	}
	s.wg.Done()
}

// Shutdown stops accepting, lets every connection finish the request it is
// handling and flush its responses, then closes them. When ctx ends first,
// the remaining connections are closed at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.slotFreed.Broadcast()
	for _, ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.stopReading()
	}
	s.mu.Unlock()
	s.cancel()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
