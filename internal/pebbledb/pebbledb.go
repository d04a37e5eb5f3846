// Package pebbledb holds a Pebble database whose writes may fail: the
// cluster metadata (.samsa-meta) and group (.samsa-groups) stores, which
// keep their state in memory and write it through to Pebble with synced
// commits.
//
// Pebble cannot continue after a failed WAL write or sync: the commit
// fails with "fatal commit error", the batch stays queued, and every later
// commit waits behind it forever. So DB.Write:
//
//   - refuses up front while the log dir is full (diskguard.ErrDiskFull,
//     KAFKA_STORAGE_ERROR), so a full disk never reaches Pebble's WAL;
//   - runs the write inside pebblelog.Guard, so Pebble's Fatalf becomes an
//     error for the request instead of a panic;
//   - after any failed write, marks the DB failed and refuses further
//     writes (ErrStorage) until a background reopen (close, then open,
//     which replays the WAL) succeeds. The reopen waits for the disk guard
//     to clear and is retried every second.
//
// Whether the failed write itself is in the reopened DB is unknown (the
// WAL write may have happened before the sync failed), as after a crash:
// owners reconcile in their OnReopen hook.
package pebbledb

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"samsa/internal/diskguard"
	"samsa/internal/pebblelog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrStorage wraps failed writes and writes refused after one; it unwraps
// to KAFKA_STORAGE_ERROR.
var ErrStorage error = &storageError{}

type storageError struct{}

func (*storageError) Error() string { return "storage error" }
func (*storageError) Unwrap() error { return kerr.KafkaStorageError }

// Options configures a DB.
type Options struct {
	Dir    string
	Name   string // for logs: "metadata", "groups"
	Guard  *diskguard.Guard
	Logger *slog.Logger
	// Pebble returns the options of each open; the FS in them should be
	// wrapped by Guard.WrapPebble.
	Pebble func() *pebble.Options
	// OnReopen runs after a reopen, before writes resume, with the new
	// DB: the owner rewrites what its memory says and the DB may lack or
	// wrongly hold.
	OnReopen func(db *pebble.DB) error
	// RetryInterval is the pause between reopen attempts; 0 means 1s.
	RetryInterval time.Duration
}

// DB is a Pebble database with fault containment; see the package doc.
type DB struct {
	opts Options
	log  *slog.Logger

	// mu guards the fields below. Writes hold it for reading while they
	// run, so that a reopen (which holds it for writing) never closes
	// the DB under a write.
	mu        sync.RWMutex
	db        *pebble.DB
	failed    error // first error since the last good open; nil when healthy
	reopening bool
	closed    bool
}

// Open opens the database in opts.Dir.
func Open(opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = time.Second
	}
	d := &DB{opts: opts, log: opts.Logger}
	db, err := d.open()
	if err != nil {
		return nil, err
	}
	d.db = db
	return d, nil
}

func (d *DB) open() (db *pebble.DB, err error) {
	err = pebblelog.Guard(func() error {
		db, err = pebble.Open(d.opts.Dir, d.opts.Pebble())
		return err
	})
	return db, err
}

// Pebble returns the current database for reads that need no write
// (loading at startup). Do not keep it: a reopen replaces it.
func (d *DB) Pebble() *pebble.DB {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.db
}

// Write runs fn, which commits to db with pebble.Sync (one commit; a
// batch if several keys must change together). It returns an error
// wrapping ErrStorage or diskguard.ErrDiskFull, both KAFKA_STORAGE_ERROR,
// when the write was refused or failed.
func (d *DB) Write(fn func(db *pebble.DB) error) error {
	if err := d.opts.Guard.Check(); err != nil {
		return err
	}
	return d.write(fn)
}

// WriteFreeing is Write for deletions, which are allowed while the disk
// is full: they need a few bytes of WAL (covered by the released reserve)
// and undo or shrink state, e.g. removing a topic whose logs could not be
// created.
func (d *DB) WriteFreeing(fn func(db *pebble.DB) error) error { return d.write(fn) }

func (d *DB) write(fn func(db *pebble.DB) error) error {
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return fmt.Errorf("%w: %s store closed", ErrStorage, d.opts.Name)
	}
	if d.failed != nil {
		failed := d.failed
		d.mu.RUnlock()
		d.startReopen()
		return fmt.Errorf("%w: %s store unavailable after a failed write (%w); retrying", ErrStorage, d.opts.Name, failed)
	}
	db := d.db
	err := pebblelog.Guard(func() error { return fn(db) })
	d.mu.RUnlock()
	if err == nil {
		return nil
	}
	d.opts.Guard.Note(err)
	d.mu.Lock()
	first := d.failed == nil && d.db == db
	if first {
		d.failed = err
	}
	d.mu.Unlock()
	if first {
		d.log.Error("storage: write failed; refusing writes until the store is reopened", "store", d.opts.Name, "err", err)
		d.startReopen()
	}
	return fmt.Errorf("%w: %s write: %w", ErrStorage, d.opts.Name, err)
}

// Healthy reports whether writes are being accepted.
func (d *DB) Healthy() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.failed == nil && !d.closed && !d.opts.Guard.Full()
}

func (d *DB) startReopen() {
	d.mu.Lock()
	if d.reopening || d.closed || d.failed == nil {
		d.mu.Unlock()
		return
	}
	d.reopening = true
	d.mu.Unlock()
	go d.reopenLoop()
}

// reopenLoop closes the failed DB and opens it again once the disk is not
// full, retrying every RetryInterval.
func (d *DB) reopenLoop() {
	for attempt := 0; ; attempt++ {
		if attempt > 0 || d.opts.Guard.Full() {
			time.Sleep(d.opts.RetryInterval)
		}
		if d.opts.Guard.Full() {
			continue
		}
		d.mu.Lock()
		if d.closed {
			d.reopening = false
			d.mu.Unlock()
			return
		}
		if old := d.db; old != nil {
			d.db = nil
			if err := closeQuietly(old); err != nil {
				d.log.Debug("storage: closing failed store", "store", d.opts.Name, "err", err)
			}
		}
		d.mu.Unlock()

		// Open without the lock: replaying the WAL may take a while, and
		// writes meanwhile are refused (failed is still set).
		db, err := d.open()
		if err == nil && d.opts.OnReopen != nil {
			if err = pebblelog.Guard(func() error { return d.opts.OnReopen(db) }); err != nil {
				_ = closeQuietly(db)
			}
		}
		if err != nil {
			if attempt == 0 {
				d.log.Error("storage: reopening store failed; will retry", "store", d.opts.Name, "err", err)
			}
			continue
		}
		d.mu.Lock()
		if d.closed {
			d.reopening = false
			d.mu.Unlock()
			_ = db.Close()
			return
		}
		d.db, d.failed, d.reopening = db, nil, false
		d.mu.Unlock()
		d.log.Info("storage: store reopened; accepting writes", "store", d.opts.Name)
		return
	}
}

func closeQuietly(db *pebble.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("close panicked: %v", r)
		}
	}()
	return pebblelog.Guard(db.Close)
}

// Close closes the database. A DB whose last write failed is closed
// without complaint about that write (it was already reported).
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.db == nil {
		return nil
	}
	err := closeQuietly(d.db)
	d.db = nil
	if d.failed != nil {
		return nil
	}
	if err != nil && !errors.Is(err, pebble.ErrClosed) {
		return err
	}
	return nil
}
