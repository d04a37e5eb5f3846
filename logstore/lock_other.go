//go:build !unix

package logstore

import "io"

// lockDir is a no-op where flock is not available.
func lockDir(string) (io.Closer, error) { return nil, nil }
