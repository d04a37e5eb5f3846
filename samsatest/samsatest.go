// Package samsatest starts real Samsa brokers for Go tests, on top of
// package embed:
//
//	func TestOrders(t *testing.T) {
//		b := samsatest.New(t)
//		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
//		...
//	}
//
// New starts a single-node broker on a free loopback port with a
// temporary data dir, sends its warnings and errors to the test log, and
// closes it (removing the data dir) when the test and its subtests end.
// A broker that cannot start fails the test at once.
//
// Unlike a bare embed.Config, New sets group.initial.rebalance.delay.ms=0,
// as Kafka's own config/server.properties does "for a better
// out-of-the-box experience for development and testing": a consumer
// group's first rebalance does not wait 3 s for more members. Properties
// given with WithProperties win.
//
// Import it as "samsa/samsatest" (see package embed about the module
// path).
package samsatest

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"samsa/embed"
)

// Option changes the embed.Config New starts the broker with.
type Option func(*embed.Config)

// WithProperties adds broker configs as "key=value", Kafka's key names;
// later ones win.
func WithProperties(kv ...string) Option {
	return func(c *embed.Config) { c.Properties = append(c.Properties, kv...) }
}

// WithDataDir keeps the broker's data in dir, which is not removed, e.g.
// to restart a broker on the same data within a test.
func WithDataDir(dir string) Option { return func(c *embed.Config) { c.DataDir = dir } }

// WithListeners sets Kafka's listeners, e.g. "PLAINTEXT://127.0.0.1:0".
func WithListeners(l string) Option { return func(c *embed.Config) { c.Listeners = l } }

// WithHTTP turns on the HTTP listener (/healthz, /readyz) on a free
// loopback port; the broker's HTTPAddr reports it.
func WithHTTP() Option { return func(c *embed.Config) { c.HTTPListeners = "http://127.0.0.1:0" } }

// WithLogger sends the broker's logs to l instead of the test log.
func WithLogger(l *slog.Logger) Option { return func(c *embed.Config) { c.Logger = l } }

// StartTimeout bounds how long New waits for the broker to be ready.
var StartTimeout = 30 * time.Second

// New starts a broker for t and registers its Close with t.Cleanup; a
// Close error fails the test.
func New(t testing.TB, opts ...Option) *embed.Broker {
	t.Helper()
	c := embed.Config{
		Properties: []string{"group.initial.rebalance.delay.ms=0"},
		Logger:     slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, o := range opts {
		o(&c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	b, err := embed.Start(ctx, c)
	if err != nil {
		t.Fatalf("samsatest: start broker: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("samsatest: %v", err)
		}
	})
	return b
}

// testWriter sends the broker's log lines to the test log.
type testWriter struct{ t testing.TB }

func (w *testWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		w.t.Log(sc.Text())
	}
	return len(p), nil
}
