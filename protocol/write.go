package protocol

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
)

// errFileShort is a file range that ended before its length: the segment
// was truncated or removed (retention, log truncation, a cleaner swap)
// after the response was built. The frame cannot be completed, so the
// connection is closed, as Kafka does when FileRecords.writeTo comes up
// short; the client reconnects and fetches again.
var errFileShort = errors.New("file range shorter than announced")

// sendfileBytes counts the response bytes sent with sendfile(2), so tests
// and operators can see that the zero-copy path is in use.
var sendfileBytes atomic.Int64

// SendfileBytes is the number of Fetch record bytes this process has sent
// with sendfile(2) since it started (plain-TCP listeners only; TLS reads
// the files into a buffer). It is Kafka's zero-copy transfer
// (FileRecords.writeTo -> PlaintextTransportLayer.transferFrom) made
// observable.
func SendfileBytes() int64 { return sendfileBytes.Load() }

// respWriter writes the write loop's gathered responses: bytes with one
// writev (plain TCP) or through a buffer into TLS records, file ranges
// with sendfile (plain TCP; small ones pread into the writev, see
// smallRange) or pread into a pooled buffer.
type respWriter struct {
	c    *conn
	bufs net.Buffers
	tw   *bufio.Writer   // set when rw is not the socket (TLS)
	raw  syscall.RawConn // set for a plain *net.TCPConn
	sf   sendfiler
	// chunk is the pooled pread buffer of the fallback path, held only
	// during one write.
	chunk *[]byte
	// stage holds small file ranges read with pread so that they go out
	// in the next writev with the bytes around them (see smallRange);
	// pooled, held only during one write, reused after each writev.
	stage *[]byte
}

// smallRange is the largest file range gathered into the writev instead of
// sent with its own sendfile. A Fetch of many partitions with little new
// in each (10,000 partitions of a few KiB) otherwise costs two system
// calls per partition, a writev of the bytes before the range and a
// sendfile, each pushing its own segments through TCP; a pread of a few
// KiB from the page cache and one copy into the socket with the next
// writev costs less. Above this size sendfile's saved copy wins. The
// stage is reused after each writev, so a connection holds at most
// stageSize of records in memory whatever the response's size.
// Measured with the 10,000-partition consume of bench/scale.go.
const smallRange = 16 << 10

// stageSize is the size of the staging buffer for small ranges.
const stageSize = 1 << 20

func newRespWriter(c *conn) *respWriter {
	w := &respWriter{c: c, bufs: make(net.Buffers, 0, maxWritev)}
	if c.rw != c.nc {
		w.tw = bufio.NewWriterSize(c.rw, 16<<10)
	} else if tc, ok := c.rw.(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			w.raw = rc
		}
	}
	return w
}

// write writes held in order.
func (w *respWriter) write(held []outMsg) error {
	defer func() {
		if w.chunk != nil {
			putBuf(w.chunk)
			w.chunk = nil
		}
		if w.stage != nil {
			putBuf(w.stage)
			w.stage = nil
		}
	}()
	w.bufs = w.bufs[:0]
	for _, m := range held {
		if m.sp == nil {
			if err := w.addBytes(*m.bp); err != nil {
				return err
			}
			continue
		}
		for i := range m.sp.pieces {
			p := &m.sp.pieces[i]
			if p.b != nil || p.fr.Bytes != nil {
				b := p.b
				if b == nil {
					b = p.fr.Bytes
				}
				if err := w.addBytes(b); err != nil {
					return err
				}
				continue
			}
			if w.raw != nil && p.fr.Len > 0 && p.fr.Len <= smallRange {
				if err := w.stageRange(&p.fr); err != nil {
					return err
				}
				continue
			}
			if err := w.flushBufs(); err != nil {
				return err
			}
			if err := w.writeRange(&p.fr); err != nil {
				return err
			}
		}
	}
	if err := w.flushBufs(); err != nil {
		return err
	}
	if w.tw != nil {
		return w.tw.Flush()
	}
	return nil
}

func (w *respWriter) addBytes(b []byte) error {
	if w.tw != nil {
		// TLS: gather small responses into full records rather than
		// one record (and syscall) per buffer.
		_, err := w.tw.Write(b)
		return err
	}
	w.bufs = append(w.bufs, b)
	return nil
}

// stageRange reads a small file range into the staging buffer and adds
// it to the pieces of the next writev (see smallRange). A range that
// comes up short fails the write as sendfile's would (errFileShort).
func (w *respWriter) stageRange(fr *FileRange) error {
	if w.stage == nil {
		w.stage = getBuf(stageSize)
	}
	if int64(cap(*w.stage)-len(*w.stage)) < fr.Len {
		if err := w.flushBufs(); err != nil { // empties the stage
			return err
		}
	}
	b := *w.stage
	at := len(b)
	b = b[:at+int(fr.Len)]
	m, err := fr.File.ReadAt(b[at:], fr.Pos)
	if m < int(fr.Len) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: reading %d bytes at %d: %w", errFileShort, fr.Len, fr.Pos, err)
	}
	*w.stage = b
	w.bufs = append(w.bufs, b[at:])
	return nil
}

// flushBufs writes the gathered byte pieces with one writev; the staged
// ranges among them are then done with.
func (w *respWriter) flushBufs() error {
	if len(w.bufs) == 0 {
		return nil
	}
	bufs := w.bufs // WriteTo consumes its receiver; keep w.bufs' capacity
	_, err := bufs.WriteTo(w.c.rw)
	clear(w.bufs)
	w.bufs = w.bufs[:0]
	if w.stage != nil {
		*w.stage = (*w.stage)[:0]
	}
	return err
}

// writeRange sends one file range: sendfile on plain TCP when the file
// has a descriptor, else pread and write.
func (w *respWriter) writeRange(fr *FileRange) error {
	if fr.Len == 0 {
		return nil
	}
	if w.raw != nil {
		// An *os.File of a regular file: Fd costs no system call (the
		// file is not in non-blocking mode) and stays valid, since the
		// range's Release, which may close it, runs after the write.
		if f, ok := fr.File.(interface{ Fd() uintptr }); ok {
			err := w.sf.send(w.raw, int(f.Fd()), fr.Pos, fr.Len)
			if errors.Is(err, errSendfileUnsupported) {
				return w.copyRange(fr)
			}
			return err
		}
	}
	return w.copyRange(fr)
}

// copyRange is the fallback: pread into a pooled buffer, then write.
func (w *respWriter) copyRange(fr *FileRange) error {
	if w.chunk == nil {
		w.chunk = getBuf(256 << 10)
	}
	buf := (*w.chunk)[:cap(*w.chunk)]
	pos, n := fr.Pos, fr.Len
	for n > 0 {
		k := int(min(n, int64(len(buf))))
		m, err := fr.File.ReadAt(buf[:k], pos)
		if m < k {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("%w: reading %d bytes at %d: %w", errFileShort, k, pos, err)
		}
		var werr error
		if w.tw != nil {
			_, werr = w.tw.Write(buf[:k])
		} else {
			_, werr = w.c.rw.Write(buf[:k])
		}
		if werr != nil {
			return werr
		}
		pos += int64(k)
		n -= int64(k)
	}
	return nil
}
