package protocol

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// errSendfileUnsupported: the file system or socket does not do sendfile
// (EINVAL/ENOSYS before any byte went); the range is copied instead.
var errSendfileUnsupported = errors.New("sendfile unsupported")

// sendfileRange sends n bytes of the file fd from pos on the socket of rc
// with sendfile(2) at an explicit offset (the file's own offset is not
// used, so concurrent readers of a segment do not interfere). EAGAIN
// hands the wait to the poller (rc.Write waits for the socket to be
// writable and calls again), and the write deadline and Close apply as to
// any write. A sendfile that returns 0 before n bytes means the file
// ended: errFileShort.
func sendfileRange(rc syscall.RawConn, fd int, pos, n int64) error {
	var serr error
	var sent int64
	err := rc.Write(func(sfd uintptr) bool {
		for n > 0 {
			k, e := unix.Sendfile(int(sfd), fd, &pos, int(min(n, 1<<30)))
			if k > 0 {
				n -= int64(k)
				sent += int64(k)
				continue
			}
			switch {
			case e == nil:
				serr = fmt.Errorf("%w: end of file at %d with %d bytes to go", errFileShort, pos, n)
				return true
			case e == unix.EINTR:
				continue
			case e == unix.EAGAIN:
				return false
			case (e == unix.EINVAL || e == unix.ENOSYS) && sent == 0:
				serr = errSendfileUnsupported
				return true
			default:
				serr = fmt.Errorf("sendfile: %w", e)
				return true
			}
		}
		return true
	})
	sendfileBytes.Add(sent)
	if err != nil {
		return err
	}
	return serr
}
