package embed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"samsa/broker"
	"samsa/config"
)

// DefaultListeners is the listener a Config without Listeners gets: a free
// port on loopback, so that parallel tests never collide and nothing is
// reachable from the network.
const DefaultListeners = "PLAINTEXT://127.0.0.1:0"

// CloseTimeout bounds how long Close waits for requests in flight (a
// long-poll Fetch waits up to its max wait) before closing connections.
const CloseTimeout = 10 * time.Second

// Config is how to start an embedded broker. The zero value is a usable
// single-node broker on a free loopback port with a temporary data dir.
type Config struct {
	// DataDir is the log dir (Kafka's log.dirs). Empty means a new
	// temporary directory, removed by Close; a given directory is created
	// if missing and kept, so a test can restart a broker on the same
	// data.
	DataDir string
	// Listeners is Kafka's listeners value, e.g.
	// "PLAINTEXT://127.0.0.1:9092"; empty means DefaultListeners. A port
	// of 0 binds a free port, which Addr reports and metadata advertises.
	Listeners string
	// HTTPListeners is samsa.http.listeners, e.g. "http://127.0.0.1:0",
	// serving /healthz and /readyz (package httpapi); empty leaves the
	// HTTP listener off. HTTPAddr reports the bound address.
	HTTPListeners string
	// Properties are broker configs as "key=value" with Kafka's key
	// names (num.partitions=3, group.initial.rebalance.delay.ms=0, ...),
	// applied after the fields above, so they win, like `samsa
	// --override`. A bad value makes Start fail with a
	// *config.ValueError naming the key; keys Samsa does not implement
	// are logged as warnings and ignored, as the binary does.
	Properties []string
	// Logger receives the broker's logs; nil discards them.
	Logger *slog.Logger
}

// Broker is a running embedded broker. Its methods are safe for
// concurrent use.
type Broker struct {
	b       *broker.Broker
	dataDir string
	tempDir bool // dataDir was made by Start and is removed by Close

	closeOnce sync.Once
	closeErr  error
}

// Start starts a broker and returns once it serves: listeners bound, logs
// recovered, stores open (its /readyz answers 200). If ctx ends first,
// Start returns ctx's error and the broker, once its start finishes, is
// closed in the background. Errors: a bad Config (a *config.ValueError
// for a bad value), a port already taken, a data dir that cannot be
// created or written.
func Start(ctx context.Context, c Config) (*Broker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	eb := &Broker{dataDir: c.DataDir}
	if eb.dataDir == "" {
		dir, err := os.MkdirTemp("", "samsa-embed-")
		if err != nil {
			return nil, fmt.Errorf("embed: temporary data dir: %w", err)
		}
		eb.dataDir, eb.tempDir = dir, true
	}
	fail := func(err error) (*Broker, error) {
		eb.removeTemp()
		return nil, fmt.Errorf("embed: %w", err)
	}
	listeners := c.Listeners
	if listeners == "" {
		listeners = DefaultListeners
	}
	props := []string{"listeners=" + listeners, "log.dirs=" + eb.dataDir}
	if c.HTTPListeners != "" {
		props = append(props, config.HTTPListenersKey+"="+c.HTTPListeners)
	}
	props = append(props, c.Properties...)
	cfg, warnings, err := config.Load("", props)
	if err != nil {
		return fail(err)
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	type started struct {
		b   *broker.Broker
		err error
	}
	done := make(chan started, 1)
	go func() {
		b, err := broker.Start(cfg, log)
		done <- started{b, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return fail(r.err)
		}
		eb.b = r.b
		return eb, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil {
				eb.b = r.b
				_ = eb.Close()
			} else {
				eb.removeTemp()
			}
		}()
		return nil, ctx.Err()
	}
}

// Addr is the first listener's bound address, host:port, for a client's
// seed brokers (kgo.SeedBrokers(b.Addr())).
func (b *Broker) Addr() string { return b.b.Addr() }

// Internal returns the running broker itself, for Samsa's own tests that
// reach into its stores (internal/testbroker). Its API is not stable and
// not meant for embedders.
func (b *Broker) Internal() *broker.Broker { return b.b }

// Addrs are the bound addresses of every listener, in config order.
func (b *Broker) Addrs() []string {
	var out []string
	for _, a := range b.b.Addrs() {
		out = append(out, a.String())
	}
	return out
}

// HTTPAddr is the first HTTP listener's bound address, host:port, or ""
// when Config.HTTPListeners is empty.
func (b *Broker) HTTPAddr() string {
	if as := b.b.HTTPAddrs(); len(as) > 0 {
		return as[0].String()
	}
	return ""
}

// DataDir is the broker's log dir.
func (b *Broker) DataDir() string { return b.dataDir }

// Ready reports what /readyz would answer (see httpapi): whether the
// broker is ready, and a one-line reason or note. It works without the
// HTTP listener.
func (b *Broker) Ready() (bool, string) { return b.b.Ready() }

// Close shuts the broker down gracefully, waiting up to CloseTimeout for
// requests in flight, and removes the data dir if Start created it. It
// is safe to call more than once; later calls return the first result.
func (b *Broker) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
	defer cancel()
	return b.Shutdown(ctx)
}

// Shutdown is Close with the caller's deadline for requests in flight.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.closeOnce.Do(func() {
		err := b.b.Close(ctx)
		if rmErr := b.removeTemp(); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
		if err != nil {
			b.closeErr = fmt.Errorf("embed: close: %w", err)
		}
	})
	return b.closeErr
}

func (b *Broker) removeTemp() error {
	if !b.tempDir {
		return nil
	}
	if err := os.RemoveAll(b.dataDir); err != nil {
		return fmt.Errorf("remove data dir %s: %w", b.dataDir, err)
	}
	return nil
}
