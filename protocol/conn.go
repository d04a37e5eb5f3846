package protocol

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// outQueue bounds how many encoded responses may wait for the write loop
// before the read loop stops reading: backpressure for slow readers.
const outQueue = 64

// maxWritev is the most responses gathered into one writev.
const maxWritev = 64

type conn struct {
	s        *Server
	nc       net.Conn
	addr     string
	listener string
	br       *bufio.Reader
	out      chan *[]byte
	stopping atomic.Bool

	// Read-loop only: the logger for the last client id seen, so that a
	// logger is not rebuilt for every request.
	log          *slog.Logger
	logClientID  string
	logHasClient bool
}

func newConn(s *Server, nc net.Conn, listener string) *conn {
	addr := nc.RemoteAddr().String()
	return &conn{
		s:        s,
		nc:       nc,
		addr:     addr,
		listener: listener,
		br:       bufio.NewReaderSize(nc, 64<<10),
		out:      make(chan *[]byte, outQueue),
		log:      s.log.With("client", addr),
	}
}

// stopReading makes a blocked read return so that the read loop notices
// shutdown; a request being handled is finished first.
func (c *conn) stopReading() {
	c.stopping.Store(true)
	c.nc.SetReadDeadline(time.Now())
}

func (c *conn) run() {
	defer c.s.removeConn(c)
	writerDone := make(chan struct{})
	go func() { c.writeLoop(); close(writerDone) }()
	c.readLoop()
	close(c.out)
	<-writerDone
	c.nc.Close()
}

func (c *conn) readLoop() {
	var size [4]byte
	max := c.s.cfg.MaxRequestBytes
	for {
		if _, err := io.ReadFull(c.br, size[:]); err != nil {
			c.logReadErr(err)
			return
		}
		n := int32(binary.BigEndian.Uint32(size[:]))
		if n < 0 || n > max {
			c.log.Warn("closing connection: request frame size out of range",
				"size", n, "socket.request.max.bytes", max)
			return
		}
		bp := getBuf(int(n))
		frame := (*bp)[:n]
		if _, err := io.ReadFull(c.br, frame); err != nil {
			putBuf(bp)
			c.logReadErr(err)
			return
		}
		keep := c.serve(frame)
		putBuf(bp)
		if !keep {
			return
		}
	}
}

func (c *conn) logReadErr(err error) {
	switch {
	case c.stopping.Load():
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		c.log.Debug("connection closed by client")
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.log.Warn("connection closed mid-frame")
	default:
		c.log.Debug("read failed", "err", err)
	}
}

func (c *conn) loggerFor(h *RequestHeader) *slog.Logger {
	if h.ClientID == nil {
		if c.logHasClient {
			c.log = c.s.log.With("client", c.addr)
			c.logHasClient = false
		}
		return c.log
	}
	if !c.logHasClient || c.logClientID != *h.ClientID {
		c.log = c.s.log.With("client", c.addr, "client_id", *h.ClientID)
		c.logClientID, c.logHasClient = *h.ClientID, true
	}
	return c.log
}

// serve handles one frame and reports whether the connection stays open.
func (c *conn) serve(frame []byte) (keep bool) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("closing connection: panic while serving request",
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			keep = false
		}
	}()
	hdr, req, body, known, err := ParseRequestHeader(frame)
	log := c.loggerFor(&hdr)
	if err != nil {
		log.Warn("closing connection: bad request header", "api_key", hdr.Key, "api_version", hdr.Version, "err", err)
		return false
	}
	if hdr.Key == 18 && !c.s.h.Serves(hdr.Key, hdr.Version) {
		// KIP-511: answer in v0 with UNSUPPORTED_VERSION and our ranges.
		req := kmsg.NewPtrApiVersionsRequest()
		resp, err := c.s.h.Handle(c.s.ctx, &Request{Header: hdr, Body: req, ClientAddr: c.addr, Listener: c.listener, Logger: log})
		if err != nil || resp == nil {
			return false
		}
		av, ok := resp.(*kmsg.ApiVersionsResponse)
		if !ok {
			return false
		}
		av.ErrorCode = 35 // UNSUPPORTED_VERSION
		av.SetVersion(0)
		return c.send(hdr.CorrelationID, av)
	}
	if !known || !c.s.h.Serves(hdr.Key, hdr.Version) {
		log.Warn("closing connection: unsupported api version",
			"api", kmsg.NameForKey(hdr.Key), "api_key", hdr.Key, "api_version", hdr.Version)
		return false
	}
	if err := req.ReadFrom(body); err != nil {
		log.Warn("closing connection: request body does not decode",
			"api", kmsg.NameForKey(hdr.Key), "api_version", hdr.Version, "err", err)
		return false
	}
	r := &Request{Header: hdr, Body: req, ClientAddr: c.addr, Listener: c.listener, Logger: log}
	defer r.runAfterEncode()
	resp, err := c.s.h.Handle(c.s.ctx, r)
	if err != nil {
		log.Warn("closing connection: request failed",
			"api", kmsg.NameForKey(hdr.Key), "api_version", hdr.Version, "err", err)
		return false
	}
	if resp == nil {
		return true
	}
	resp.SetVersion(hdr.Version)
	return c.sendSized(hdr.CorrelationID, resp, r.SizeHint)
}

func (c *conn) send(correlationID int32, resp kmsg.Response) bool {
	return c.sendSized(correlationID, resp, 0)
}

func (c *conn) sendSized(correlationID int32, resp kmsg.Response, hint int) bool {
	bp := getBuf(max(hint, 4<<10))
	*bp = AppendResponse(*bp, correlationID, resp)
	c.out <- bp
	return true
}

// writeLoop writes queued responses in order, gathering whatever is already
// queued into one writev. After a write error it keeps draining the queue
// so the read loop never blocks on a dead connection.
func (c *conn) writeLoop() {
	held := make([]*[]byte, 0, maxWritev)
	bufs := make(net.Buffers, 0, maxWritev)
	var failed bool
	for bp := range c.out {
		held = append(held[:0], bp)
	gather:
		for len(held) < maxWritev {
			select {
			case more, ok := <-c.out:
				if !ok {
					break gather
				}
				held = append(held, more)
			default:
				break gather
			}
		}
		if !failed {
			bufs = bufs[:0]
			for _, h := range held {
				bufs = append(bufs, *h)
			}
			if _, err := bufs.WriteTo(c.nc); err != nil {
				failed = true
				c.log.Debug("write failed; closing connection", "err", err)
				c.nc.Close()
			}
		}
		for _, h := range held {
			putBuf(h)
		}
	}
}
