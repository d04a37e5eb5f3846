// Package pebblelog routes Pebble's logging to slog for Samsa's three
// Pebble databases (cluster metadata, the log index, group state), so that
// they all log the same way.
package pebblelog

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

type logger struct{ l *slog.Logger }

// New returns a pebble.Logger writing to l. Pebble's routine information
// goes to Debug, so a broker's log is not dominated by storage chatter.
func New(l *slog.Logger) pebble.Logger { return logger{l} }

func (p logger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p logger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf must not return: Pebble calls it when continuing would corrupt
// the store.
func (p logger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic(msg)
}
