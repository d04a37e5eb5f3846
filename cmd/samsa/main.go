// Command samsa runs a Samsa broker. It is started like Kafka's
// kafka-server-start.sh:
//
//	samsa [server.properties] [--override key=value]...
//
// With no arguments it runs a single-node broker on localhost:9092 with its
// data in ./samsa-data. With samsa.http.listeners set (e.g.
// --override samsa.http.listeners=http://127.0.0.1:9644) it also serves
// /healthz, /readyz, /metrics and the web console (packages httpapi,
// metrics, console). SAMSA_LOG_LEVEL (debug, info, warn, error) sets the
// log level; samsa.log.format (or SAMSA_LOG_FORMAT) text or json the
// format of the log lines on stderr. A bad configuration value exits with
// status 2 and one line naming the key and the value.
//
//	samsa --version   the version, the commit it was built from, the Go version
//	samsa --help      the command line and every broker config Samsa applies
//	                  with its default
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
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
	log := newLogger(os.Getenv("SAMSA_LOG_FORMAT"))
	slog.SetDefault(log)

	path, overrides, err := config.ParseArgs(args)
	if errors.Is(err, config.ErrHelp) {
		fmt.Println(config.Usage)
		fmt.Println()
		fmt.Print(config.KeysHelp())
		return 0
	}
	if errors.Is(err, config.ErrVersion) {
		fmt.Println(versionLine())
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
	if f := cfg.LogFormat(); f != "" {
		log = newLogger(f)
		slog.SetDefault(log)
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

// newLogger returns the broker's logger on stderr: slog's JSON lines for
// format "json", its key=value text lines otherwise.
func newLogger(format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: logLevel()}
	if strings.EqualFold(format, "json") {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// version and commit are set at build time by make build / make run
// (-ldflags "-X main.version=... -X main.commit=..."); otherwise the
// module's version and the VCS stamp of the go command, when it made one.
var version, commit = "", ""

// versionLine is what --version prints: "samsa <version> (commit <rev>
// [modified], <Go version>)", the commit and its state from the VCS
// information the go command stamps into binaries built in a checkout.
func versionLine() string {
	v, rev, modified := version, commit, false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	if rev == "" {
		rev = "unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified {
		rev += " modified"
	}
	return fmt.Sprintf("samsa %s (commit %s, %s %s/%s)", v, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
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
