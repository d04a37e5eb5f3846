//go:build unix

package logstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive flock on <dir>/.lock, like Kafka's log dir
// lock, so that two stores (two brokers, or two Opens in one process) can
// not write the same partitions. The index DB has its own lock, but
// recovery would otherwise "repair" segments another store is writing.
func lockDir(dir string) (io.Closer, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // dir exists only in a non-OS FS: nothing to lock
		}
		return nil, fmt.Errorf("logstore: locking log dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("logstore: log dir %s is in use by another store: %w", dir, err)
	}
	return f, nil
}
