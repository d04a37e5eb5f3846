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

	"samsa/internal/kmsgfix"
)

// outQueue bounds how many encoded responses may wait for the write loop
// before the read loop stops reading: backpressure for slow readers.
const outQueue = 64

// maxWritev is the most responses gathered into one writev.
const maxWritev = 64

// errIdle ends the read loop of a connection idle for connections.max.idle.ms.
var errIdle = errors.New("connection idle")

type conn struct {
	s *Server
	// nc is the socket: deadlines and Close go to it. rw is what frames
	// are read from and written to: nc, or the TLS connection over it.
	// rw and sess are set before the read and write loops start.
	nc       net.Conn
	rw       net.Conn
	sec      Security // nil: PLAINTEXT
	sess     Session  // nil: PLAINTEXT
	addr     string
	listener string
	br       *bufio.Reader
	out      chan outMsg
	stopping atomic.Bool

	// Idle tracking (connections.max.idle.ms). Times are nanoseconds
	// since born on the monotonic clock. The read loop only looks at the
	// write side when its read deadline expires.
	idle       time.Duration // 0: never close an idle connection
	born       time.Time
	queued     atomic.Int32 // responses queued or being written
	writeStart atomic.Int64 // when the write in progress began; 0 if none
	lastWrite  atomic.Int64 // when the last write ended

	// Read-loop only: the logger for the last client id seen, so that a
	// logger is not rebuilt for every request.
	log          *slog.Logger
	logClientID  string
	logHasClient bool
}

func newConn(s *Server, nc net.Conn, listener string, sec Security) *conn {
	addr := nc.RemoteAddr().String()
	return &conn{
		s:        s,
		nc:       nc,
		rw:       nc,
		sec:      sec,
		addr:     addr,
		listener: listener,
		br:       bufio.NewReaderSize(nc, 64<<10),
		out:      make(chan outMsg, outQueue),
		log:      s.log.With("client", addr),
		idle:     max(s.cfg.MaxIdle, 0),
		born:     time.Now(),
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
	if c.sec != nil {
		rw, sess, err := c.sec.Accept(c.nc, c.log)
		if err != nil {
			c.nc.Close()
			return
		}
		c.rw, c.sess = rw, sess
		c.br.Reset(rw)
	}
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
		if err := c.readFull(size[:]); err != nil {
			c.logReadErr(err)
			return
		}
		n := int32(binary.BigEndian.Uint32(size[:]))
		if n < 0 || n > max {
			c.log.Warn("closing connection: request frame size out of range",
				"size", n, "socket.request.max.bytes", max)
			return
		}
		if c.sess != nil {
			if limit := c.sess.MaxReceive(); limit > 0 && n > limit {
				c.log.Warn("closing connection: frame larger than sasl.server.max.receive.size before authentication",
					"size", n, "sasl.server.max.receive.size", limit)
				return
			}
		}
		bp := getBuf(int(n))
		frame := (*bp)[:n]
		if err := c.readFull(frame); err != nil {
			putBuf(bp)
			c.logReadErr(err)
			return
		}
		var keep bool
		if c.sess != nil && c.sess.RawToken() {
			keep = c.serveToken(frame)
		} else {
			keep = c.serve(frame)
		}
		putBuf(bp)
		if !keep {
			return
		}
	}
}

// readFull reads len(p) bytes of a request. With an idle limit, a read
// that has to wait on the socket first arms the read deadline
// connections.max.idle.ms ahead, so no timer runs while a request is in
// flight (the read loop handles it) or while pipelined requests are
// already buffered. When the deadline passes, the connection is closed
// only if it was idle both ways, as Kafka's Selector judges it: bytes
// read meanwhile or a response being written move the deadline on.
func (c *conn) readFull(p []byte) error {
	if c.idle == 0 || c.br.Buffered() >= len(p) {
		_, err := io.ReadFull(c.br, p)
		return err
	}
	c.nc.SetReadDeadline(time.Now().Add(c.idle))
	for {
		if c.stopping.Load() {
			// stopReading's deadline may have been overwritten.
			c.nc.SetReadDeadline(time.Now())
		}
		n, err := io.ReadFull(c.br, p)
		if err == nil {
			return nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || c.stopping.Load() {
			return err
		}
		p = p[n:]
		now := time.Since(c.born)
		active := now // bytes arrived: active now
		if n == 0 {
			active = c.lastActive(now)
		}
		if now-active >= c.idle {
			// Unblock a write stuck on a peer that stopped reading.
			c.nc.Close()
			return errIdle
		}
		c.nc.SetReadDeadline(c.born.Add(active + c.idle))
	}
}

// lastActive is when the write side last moved, in nanoseconds since born:
// now while a response is queued but not yet being written, the start of a
// write still in progress, else the end of the last write. A write stuck
// for longer than the idle limit (the peer stopped reading) therefore
// counts as idle.
func (c *conn) lastActive(now time.Duration) time.Duration {
	start := c.writeStart.Load()
	if start == 0 && c.queued.Load() > 0 {
		return now
	}
	return time.Duration(max(start, c.lastWrite.Load()))
}

func (c *conn) logReadErr(err error) {
	switch {
	case errors.Is(err, errIdle):
		c.log.Debug("closing idle connection", "connections.max.idle.ms", c.idle.Milliseconds())
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
	received := time.Now()
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
	principal := AnonymousPrincipal
	if c.sess != nil {
		if err := c.sess.Gate(hdr.Key); err != nil {
			log.Info("closing connection: "+err.Error(), "listener", c.listener)
			return false
		}
		principal = c.sess.Principal()
	}
	if hdr.Key == 18 && !c.s.h.Serves(hdr.Key, hdr.Version) {
		// KIP-511: answer in v0 with UNSUPPORTED_VERSION and our ranges.
		req := kmsg.NewPtrApiVersionsRequest()
		resp, err := c.s.h.Handle(c.s.ctx, &Request{Header: hdr, Body: req, ClientAddr: c.addr, Listener: c.listener, Principal: principal, Logger: log})
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
	kmsgfix.ToKmsg(hdr.Key, hdr.Version, body) // Kafka's StopReplica v4 field order
	if err := req.ReadFrom(body); err != nil {
		log.Warn("closing connection: request body does not decode",
			"api", kmsg.NameForKey(hdr.Key), "api_version", hdr.Version, "err", err)
		return false
	}
	r := &Request{Header: hdr, Body: req, ClientAddr: c.addr, Listener: c.listener, Principal: principal, Logger: log, Received: received, Size: len(frame)}
	defer r.DropSplices() // ranges of a response not sent
	if c.sess != nil {
		resp, handled, err := c.sess.Intercept(r)
		if handled {
			keep := true
			if resp != nil {
				resp.SetVersion(hdr.Version)
				keep = c.send(hdr.CorrelationID, resp)
			}
			if err != nil {
				log.Info("closing connection: "+err.Error(), "listener", c.listener)
				return false
			}
			return keep
		}
	}
	resp, err := c.s.h.Handle(c.s.ctx, r)
	if err != nil {
		log.Warn("closing connection: request failed",
			"api", kmsg.NameForKey(hdr.Key), "api_version", hdr.Version, "err", err)
		return false
	}
	if resp == nil {
		return c.throttle(r.throttleMs)
	}
	resp.SetVersion(hdr.Version)
	if r.throttleMs > 0 && !r.clientThrottles && !c.throttle(r.throttleMs) {
		return false
	}
	if r.splice != nil {
		if !c.sendSpliced(r, resp) {
			return false
		}
	} else if !c.sendSized(hdr.CorrelationID, resp, r.SizeHint) {
		return false
	}
	if r.clientThrottles {
		return c.throttle(r.throttleMs)
	}
	return true
}

// throttle mutes the connection for ms milliseconds (KIP-219): the read
// loop does not read the socket meanwhile, so the client's next request
// waits in the socket buffer, while the write loop still sends the
// response already queued. Shutdown ends the wait; it reports whether
// the connection stays open.
func (c *conn) throttle(ms int32) bool {
	if ms <= 0 {
		return true
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.s.ctx.Done():
		return false
	}
}

// serveToken evaluates a bare SASL token (SaslHandshake v0 framing) and
// reports whether the connection stays open.
func (c *conn) serveToken(frame []byte) bool {
	reply, err := c.sess.Token(frame)
	keep := true
	if reply != nil {
		bp := getBuf(4 + len(reply))
		b := binary.BigEndian.AppendUint32((*bp)[:0], uint32(len(reply)))
		*bp = append(b, reply...)
		c.queued.Add(1)
		keep = c.enqueue(outMsg{bp: bp})
	}
	if err != nil {
		c.log.Info("closing connection: "+err.Error(), "listener", c.listener)
		return false
	}
	return keep
}

func (c *conn) send(correlationID int32, resp kmsg.Response) bool {
	return c.sendSized(correlationID, resp, 0)
}

func (c *conn) sendSized(correlationID int32, resp kmsg.Response, hint int) bool {
	bp := getBuf(max(hint, 4<<10))
	*bp = AppendResponse(*bp, correlationID, resp)
	if len(*bp) <= directWriteMax && c.queued.Load() == 0 {
		return c.writeDirect(bp)
	}
	c.queued.Add(1)
	return c.enqueue(outMsg{bp: bp})
}

// directWriteMax is the largest response the read loop writes itself.
const directWriteMax = 64 << 10

// writeDirect writes a small response from the read loop when nothing is
// queued for or being written by the write loop (queued is 0; only the
// read loop queues, so nothing can be queued meanwhile and the order of
// responses holds). Handing it to the write loop instead costs a wake-up
// of that goroutine and a switch to it for every request: measured with
// kafka-producer-perf-test (one produce request per 16 KiB batch, its
// acknowledgement ~100 bytes), that hand-off was a fifth of the broker's
// CPU per request. The write cannot block the read loop longer than
// connections.max.idle.ms: past that, a peer that stopped reading has
// its connection closed, as a stuck queued write does (see enqueue).
func (c *conn) writeDirect(bp *[]byte) bool {
	c.queued.Add(1)
	if c.idle > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.idle))
	}
	err := c.timedWrite(func() error { _, err := c.rw.Write(*bp); return err })
	if c.idle > 0 && err == nil {
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
	c.queued.Add(-1)
	putBuf(bp)
	return err == nil
}

// timedWrite runs write with the write side's activity recorded for the
// idle check (writeStart, lastWrite; see lastActive). A failed write is
// logged and closes the connection.
func (c *conn) timedWrite(write func() error) error {
	c.writeStart.Store(max(int64(time.Since(c.born)), 1))
	err := write()
	c.lastWrite.Store(int64(time.Since(c.born)))
	c.writeStart.Store(0)
	if err == nil {
		return nil
	}
	var ne net.Error
	switch {
	case errors.Is(err, errFileShort):
		c.log.Debug("closing connection: a fetched segment file was truncated or removed while sending", "err", err)
	case errors.As(err, &ne) && ne.Timeout():
		c.log.Debug("closing connection: peer stopped reading responses", "connections.max.idle.ms", c.idle.Milliseconds())
	default:
		c.log.Debug("write failed; closing connection", "err", err)
	}
	c.nc.Close()
	return err
}

// sendSpliced queues resp, whose record fields hold the markers of r's
// spliced file ranges, as a list of pieces (see splice.go). The ranges go
// with the queued response: the write loop releases them once written.
func (c *conn) sendSpliced(r *Request, resp kmsg.Response) bool {
	sp := r.splice
	r.splice = nil
	hint := r.SizeHint
	for _, fr := range sp.ranges {
		hint -= int(fr.Len)
	}
	bp := getBuf(max(hint, 4<<10))
	out := splicedPool.Get().(*spliced)
	if err := spliceResponse(bp, r.Header.CorrelationID, resp, sp, out); err != nil {
		out.release()
		sp.release()
		r.Logger.Error("closing connection: splicing records into the response", "api", kmsg.NameForKey(r.Header.Key), "err", err)
		return false
	}
	sp.release() // the ranges not used; the used ones now belong to out
	c.queued.Add(1)
	return c.enqueue(outMsg{sp: out})
}

// enqueue hands bp to the write loop. When the queue is full (the peer
// reads slower than it asks) the read loop waits; with an idle limit it
// gives up and closes the connection once the write in progress has not
// finished for connections.max.idle.ms, because the read deadline cannot
// notice a peer that stopped reading while the read loop waits here.
func (c *conn) enqueue(m outMsg) bool {
	select {
	case c.out <- m:
		return true
	default:
	}
	if c.idle == 0 {
		c.out <- m
		return true
	}
	t := time.NewTimer(c.idle)
	defer t.Stop()
	for {
		select {
		case c.out <- m:
			return true
		case <-t.C:
			now := time.Since(c.born)
			active := c.lastActive(now)
			if now-active >= c.idle {
				c.queued.Add(-1)
				m.release()
				c.log.Debug("closing connection: peer stopped reading responses", "connections.max.idle.ms", c.idle.Milliseconds())
				c.nc.Close()
				return false
			}
			t.Reset(active + c.idle - now)
		}
	}
}

// outMsg is one queued response: encoded bytes (bp) or, for a Fetch
// whose records stay in the segment files, pieces (sp).
type outMsg struct {
	bp *[]byte
	sp *spliced
}

func (m outMsg) release() {
	if m.sp != nil {
		m.sp.release()
		return
	}
	putBuf(m.bp)
}

// writeLoop writes queued responses in order, gathering whatever is already
// queued into one writev; the file ranges of spliced responses go with
// sendfile between the writevs (plain TCP; ranges up to smallRange are
// read into the writev instead) or are read into a buffer (TLS). After a write error it keeps draining the queue so the read loop
// never blocks on a dead connection.
func (c *conn) writeLoop() {
	held := make([]outMsg, 0, maxWritev)
	w := newRespWriter(c)
	var failed bool
	for m := range c.out {
		held = append(held[:0], m)
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
			failed = c.timedWrite(func() error { return w.write(held) }) != nil
		}
		c.queued.Add(-int32(len(held)))
		for _, h := range held {
			h.release()
		}
	}
}
