//go:build !linux

package protocol

import (
	"errors"
	"syscall"
)

var errSendfileUnsupported = errors.New("sendfile unsupported")

// sendfiler is Linux-only; elsewhere file ranges are copied.
type sendfiler struct{}

func (*sendfiler) send(rc syscall.RawConn, fd int, pos, n int64) error {
	return errSendfileUnsupported
}
