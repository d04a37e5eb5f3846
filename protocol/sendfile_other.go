//go:build !linux

package protocol

import (
	"errors"
	"syscall"
)

var errSendfileUnsupported = errors.New("sendfile unsupported")

// sendfileRange is Linux-only; elsewhere file ranges are copied.
func sendfileRange(rc syscall.RawConn, fd int, pos, n int64) error {
	return errSendfileUnsupported
}
