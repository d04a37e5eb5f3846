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

	// SizeHint, when set by the handler, is roughly how many bytes the
	// encoded response will take, so the output buffer is taken at that
	// size rather than grown while encoding (Fetch knows its record bytes).
	SizeHint int

	// Size is the request's size in bytes: header and body, without the
	// 4-byte length (Kafka's RequestChannel.Request.sizeInBytes), which
	// the producer byte-rate quota records.
	Size int

	// throttleMs and clientThrottles are set by Throttle.
	throttleMs      int32
	clientThrottles bool

	// splice holds the file ranges of SpliceRecords; nil without.
	splice *splicer
}

// Throttle asks the connection to be throttled for ms milliseconds
// because the client is over a quota (KIP-219). When the client
// throttles itself (clientSide: the response version carries
// throttle_time_ms for that purpose), the response is sent at once and
// the connection is not read again until the time has passed; otherwise
// the response itself is held back for that time, as Kafka does for
// older clients. The longest of several calls wins.
func (r *Request) Throttle(ms int32, clientSide bool) {
	if ms > r.throttleMs {
		r.throttleMs, r.clientThrottles = ms, clientSide
	}
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
	// Limiter, when set, admits or refuses each accepted connection
	// (max.connections, max.connections.per.ip, IP connection creation
	// rate; package quota implements it).
	Limiter ConnLimiter
}

// ConnLimiter is Kafka's ConnectionQuotas as the accept loop sees it.
type ConnLimiter interface {
	// Admit is called from the accept loop for every accepted
	// connection; it may block to hold accepting back. When ok is false
	// the connection is closed after delay and Release is not called.
	Admit(listener string, remote net.Addr) (delay time.Duration, ok bool)
	// Release is called once for each admitted connection when it closes.
	Release(listener string, remote net.Addr)
	// Close is called by Shutdown: an Admit waiting for a slot returns
	// at once, refusing, and so does every later one.
	Close()
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
	return &Server{h: h, cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, conns: make(map[*conn]struct{})}
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
		if lim := s.cfg.Limiter; lim != nil {
			if delay, ok := lim.Admit(name, nc.RemoteAddr()); !ok {
				if delay > 0 {
					time.AfterFunc(delay, func() { nc.Close() })
				} else {
					nc.Close()
				}
				continue
			}
		}
		c := newConn(s, nc, name, sec)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			if s.cfg.Limiter != nil {
				s.cfg.Limiter.Release(name, nc.RemoteAddr())
			}
			return
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

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	if s.cfg.Conns != nil {
		s.cfg.Conns.ConnClosed(c.listener)
	}
	if s.cfg.Limiter != nil {
		s.cfg.Limiter.Release(c.listener, c.nc.RemoteAddr())
	}
	s.wg.Done()
}

// Shutdown stops accepting, lets every connection finish the request it is
// handling and flush its responses, then closes them. When ctx ends first,
// the remaining connections are closed at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	if s.cfg.Limiter != nil {
		s.cfg.Limiter.Close()
	}
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
