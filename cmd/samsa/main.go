// Command samsa runs a Samsa broker. It is started like Kafka's
// kafka-server-start.sh:
//
//	samsa [server.properties] [--override key=value]...
//
// With no arguments it runs a single-node broker on localhost:9092 with its
// data in ./samsa-data. With samsa.http.listeners set (e.g.
// --override samsa.http.listeners=http://127.0.0.1:9644) it also serves
// /healthz and /readyz (package httpapi). SAMSA_LOG_LEVEL (debug, info, warn, error) sets the
// log level. A bad configuration value exits with status 2 and one line
// naming the key and the value.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"samsa/broker"
	"samsa/config"
)

// shutdownGrace bounds how long in-flight requests may take to finish
// after SIGINT or SIGTERM.
const shutdownGrace = 30 * time.Second

// startAbortGrace is how long a signal that arrives during start-up waits
// for the start to finish before the process gives up on it (exit 1).
const startAbortGrace = 500 * time.Millisecond

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	slog.SetDefault(log)

	path, overrides, err := config.ParseArgs(args)
	if errors.Is(err, config.ErrHelp) {
		fmt.Println(config.Usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "samsa: %v\n%s\n", err, config.Usage)
		return 2
	}
	cfg, warnings, err := config.Load(path, overrides)
	if err != nil {
		fmt.Fprintf(os.Stderr, "samsa: %v\n", err)
		return 2
	}
	for _, w := range warnings {
		log.Warn(w)
	}

	// Listen for signals before the listeners open: a client may connect
	// and a supervisor may ask for a stop the moment the port is bound.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	// Start in the background so that a signal during a slow or stuck
	// start (recovering a large log, a full disk) still stops the process
	// at once. The stores are then not closed cleanly; the next start
	// recovers them, as after a crash.
	type started struct {
		b   *broker.Broker
		err error
	}
	ready := make(chan started, 1)
	go func() {
		b, err := broker.Start(cfg, log)
		ready <- started{b, err}
	}()
	var r started
	var sig os.Signal
	select {
	case r = <-ready:
	case sig = <-sigs:
		// A start that finishes within startAbortGrace (it may already
		// serve requests before Start returns) is shut down cleanly like
		// any other; one still stuck (recovering a huge log, a full disk)
		// is abandoned.
		select {
		case r = <-ready:
		case <-time.After(startAbortGrace):
			log.Error("stopped by signal before startup finished", "signal", sig.String())
			return 1
		}
	}
	if r.err != nil {
		var ve *config.ValueError
		if errors.As(r.err, &ve) {
			fmt.Fprintf(os.Stderr, "samsa: %v\n", r.err)
			return 2
		}
		log.Error("samsa failed to start", "err", r.err)
		return 1
	}
	b := r.b
	if sig == nil {
		sig = <-sigs
	}
	log.Info("shutting down", "signal", sig.String())
	signal.Stop(sigs)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

func logLevel() slog.Level {
	switch strings.ToLower(os.Getenv("SAMSA_LOG_LEVEL")) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}
