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

// sendfiler sends file ranges with sendfile(2) at an explicit offset
// (the file's own offset is not used, so concurrent readers of a segment
// do not interfere). Its step function is bound once per connection, so
// a range costs no allocation. EAGAIN hands the wait to the poller
// (RawConn.Write waits for the socket to be writable and calls again),
// and the write deadline and Close apply as to any write. A sendfile
// that returns 0 before the end means the file ended: errFileShort.
type sendfiler struct {
	step   func(uintptr) bool
	fd     int
	pos, n int64
	sent   int64
	err    error
}

func (s *sendfiler) send(rc syscall.RawConn, fd int, pos, n int64) error {
	if s.step == nil {
		s.step = s.stepFn
	}
	s.fd, s.pos, s.n, s.sent, s.err = fd, pos, n, 0, nil
	err := rc.Write(s.step)
	sendfileBytes.Add(s.sent)
	if err != nil {
		return err
	}
	return s.err
}

func (s *sendfiler) stepFn(sfd uintptr) bool {
	for s.n > 0 {
		k, e := unix.Sendfile(int(sfd), s.fd, &s.pos, int(min(s.n, 1<<30)))
		if k > 0 {
			s.n -= int64(k)
			s.sent += int64(k)
			continue
		}
		switch {
		case e == nil:
			s.err = fmt.Errorf("%w: end of file at %d with %d bytes to go", errFileShort, s.pos, s.n)
			return true
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			return false
		case (e == unix.EINVAL || e == unix.ENOSYS) && s.sent == 0:
			s.err = errSendfileUnsupported
			return true
		default:
			s.err = fmt.Errorf("sendfile: %w", e)
			return true
		}
	}
	return true
}
