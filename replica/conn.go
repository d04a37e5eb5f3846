package replica

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxResponseBytes bounds a response frame from another broker (a fetch
// response is bounded by replica.fetch.response.max.bytes plus one
// oversized batch; this is the socket.request.max.bytes default).
const maxResponseBytes = 100 << 20

// brokerConn is one connection to another broker, carrying one request at
// a time in Kafka's framing (the inter-broker half of Kafka's
// NetworkClient, as BlockingSend uses it). It is not safe for concurrent
// use; each fetcher and the AlterPartition sender own theirs.
type brokerConn struct {
	addr     string
	clientID string
	timeout  time.Duration

	c    net.Conn
	r    *bufio.Reader
	corr int32
	buf  []byte
}

func newBrokerConn(addr, clientID string, timeout time.Duration) *brokerConn {
	return &brokerConn{addr: addr, clientID: clientID, timeout: timeout}
}

// request sends req and decodes the answer into resp (req.ResponseKind()).
// Any error closes the connection; the next call dials again.
func (b *brokerConn) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if b.c == nil {
		d := net.Dialer{Timeout: b.timeout}
		c, err := d.DialContext(ctx, "tcp", b.addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", b.addr, err)
		}
		b.c, b.r = c, bufio.NewReaderSize(c, 64<<10)
	}
	b.corr++
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(b.clientID))
	b.buf = f.AppendRequest(b.buf[:0], req, b.corr)
	deadline := time.Now().Add(b.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = b.c.SetDeadline(deadline)
	// The callback may run after close has cleared b.c: it gets the
	// connection itself, never the field.
	c := b.c
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := b.c.Write(b.buf); err != nil {
		b.close()
		return nil, fmt.Errorf("write %s to %s: %w", kmsg.NameForKey(req.Key()), b.addr, err)
	}
	resp := req.ResponseKind()
	if err := readResponse(b.r, b.corr, resp, &b.buf); err != nil {
		b.close()
		return nil, fmt.Errorf("%s from %s: %w", kmsg.NameForKey(req.Key()), b.addr, err)
	}
	return resp, nil
}

func (b *brokerConn) close() {
	if b.c != nil {
		_ = b.c.Close()
		b.c, b.r = nil, nil
	}
}

// errBadFrame is a response frame that does not decode.
var errBadFrame = errors.New("malformed response frame")

// readResponse reads one response frame (size, correlation id, for
// flexible versions the header's tag section, then the body) into resp.
// buf is reused between calls.
func readResponse(r io.Reader, corr int32, resp kmsg.Response, buf *[]byte) error {
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return err
	}
	n := int32(binary.BigEndian.Uint32(sz[:]))
	if n < 4 || n > maxResponseBytes {
		return fmt.Errorf("%w: size %d", errBadFrame, n)
	}
	if cap(*buf) < int(n) {
		*buf = make([]byte, n)
	}
	b := (*buf)[:n]
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	return decodeResponse(b, corr, resp)
}

// decodeResponse decodes a response frame's contents (after the size).
func decodeResponse(b []byte, corr int32, resp kmsg.Response) error {
	if len(b) < 4 {
		return fmt.Errorf("%w: %d bytes", errBadFrame, len(b))
	}
	if got := int32(binary.BigEndian.Uint32(b)); got != corr {
		return fmt.Errorf("%w: correlation id %d, want %d", errBadFrame, got, corr)
	}
	b = b[4:]
	if resp.IsFlexible() && resp.Key() != 18 { // ApiVersions answers with header v0
		// Response header v1: a tag section; skip its fields.
		var bad bool
		b, bad = skipTags(b)
		if bad {
			return fmt.Errorf("%w: header tags", errBadFrame)
		}
	}
	if err := resp.ReadFrom(b); err != nil {
		return fmt.Errorf("%w: %w", errBadFrame, err)
	}
	return nil
}

// skipTags skips a tag section (a uvarint count, then per tag a uvarint
// key, a uvarint length and that many bytes).
func skipTags(b []byte) (rest []byte, bad bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, true
	}
	b = b[k:]
	for i := uint64(0); i < n; i++ {
		if _, k = binary.Uvarint(b); k <= 0 {
			return nil, true
		}
		b = b[k:]
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, true
		}
		b = b[k+int(l):]
	}
	return b, false
}

// Conn is a connection to another broker for callers outside this
// package: the transaction coordinator's WriteTxnMarkers to partition
// leaders (Kafka's TransactionMarkerChannelManager). One request at a
// time (its mutex serializes them); any error closes the connection and
// the next request dials again.
type Conn struct {
	mu sync.Mutex // guards b
	b  *brokerConn
}

// NewConn returns a connection to addr (host:port of the broker's
// inter-broker listener); timeout bounds dialing and each request.
func NewConn(addr, clientID string, timeout time.Duration) *Conn {
	return &Conn{b: newBrokerConn(addr, clientID, timeout)}
}

// Request sends req and returns its decoded response.
func (c *Conn) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.request(ctx, req)
}

// Close closes the connection.
func (c *Conn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.b.close()
}
