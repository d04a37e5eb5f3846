package zkcontroller_test

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"samsa/controller"
	"samsa/internal/zkdata"
	"samsa/metadatacache"
)

// link is a TCP forwarder standing for the network between the controller
// and a broker or ZooKeeper: setCut(true) closes every connection through
// it and refuses new ones (accepted, then closed at once) until
// setCut(false); freeze blackholes the connections open now (bytes are
// swallowed, as on a dead network path) while new ones work.
type link struct {
	ln     net.Listener
	target atomic.Value // string
	cut    atomic.Bool
	// hole makes new connections accepted but never answered (a dead
	// network path); with freeze, nothing gets through at all.
	hole atomic.Bool

	// loseMulti, when set, makes the link deliver the next ZooKeeper
	// multi-op request to the server but swallow its reply and everything
	// after it on that connection: a reply lost after the server applied
	// the operation. It clears itself.
	loseMulti atomic.Bool

	mu     sync.Mutex // guards conns and frozen
	conns  []net.Conn
	frozen []*atomic.Bool
}

func (l *link) freeze() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.frozen {
		f.Store(true)
	}
	l.frozen = nil
}

// pipe copies src to dst, swallowing bytes while frozen.
func pipe(dst, src net.Conn, frozen *atomic.Bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func newLink(t *testing.T) *link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{ln: ln}
	t.Cleanup(func() { ln.Close(); l.closeAll() })
	go l.accept()
	return l
}

func (l *link) addr() string { return l.ln.Addr().String() }

func (l *link) port() int32 { return int32(l.ln.Addr().(*net.TCPAddr).Port) }

func (l *link) setCut(v bool) {
	l.cut.Store(v)
	if v {
		l.closeAll()
	}
}

func (l *link) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

func (l *link) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		target, _ := l.target.Load().(string)
		if l.hole.Load() {
			l.mu.Lock()
			l.conns = append(l.conns, c)
			l.mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
			continue
		}
		if l.cut.Load() || target == "" {
			c.Close()
			continue
		}
		u, err := net.DialTimeout("tcp", target, time.Second)
		if err != nil {
			c.Close()
			continue
		}
		frozen := new(atomic.Bool)
		l.mu.Lock()
		l.conns = append(l.conns, c, u)
		l.frozen = append(l.frozen, frozen)
		l.mu.Unlock()
		if l.loseMulti.Load() {
			multiXid := new(atomic.Int64)
			multiXid.Store(-1 << 40)
			go l.zkRequests(u, c, frozen, multiXid)
			go l.zkReplies(c, u, frozen, multiXid)
			continue
		}
		go pipe(u, c, frozen)
		go pipe(c, u, frozen)
	}
}

// openZKAt opens broker id's ZooKeeper registration advertising port.
func openZKAt(t *testing.T, addr string, id int32, port int32) *controller.ZK {
	t.Helper()
	return openZKSession(t, addr, id, port, 2*time.Second)
}

func openZKSession(t *testing.T, addr string, id int32, port int32, session time.Duration) *controller.ZK {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	z, err := controller.OpenZK(ctx, controller.ZKConfig{Connect: addr, SessionTimeout: session, BrokerID: id,
		Endpoints: []zkdata.Endpoint{{Listener: "PLAINTEXT", Host: "127.0.0.1", Port: port, SecurityProtocol: "PLAINTEXT"}},
		Cache:     metadatacache.New("PLAINTEXT"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	return z
}

func waitUntil(t *testing.T, what string, within time.Duration, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readFrame reads one length-prefixed ZooKeeper frame (prefix included).
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	buf := make([]byte, 4+int(n))
	copy(buf, hdr[:])
	_, err := io.ReadFull(r, buf[4:])
	return buf, err
}

// zkRequests forwards client frames, noting the xid of the first
// multi-op (opcode 14) after the connect request.
func (l *link) zkRequests(dst, src net.Conn, frozen *atomic.Bool, multiXid *atomic.Int64) {
	defer dst.Close()
	defer src.Close()
	for first := true; ; first = false {
		f, err := readFrame(src)
		if err != nil {
			return
		}
		if !first && len(f) >= 12 && binary.BigEndian.Uint32(f[8:12]) == 14 && multiXid.Load() == -1<<40 {
			multiXid.Store(int64(int32(binary.BigEndian.Uint32(f[4:8]))))
		}
		if !frozen.Load() {
			if _, err := dst.Write(f); err != nil {
				return
			}
		}
	}
}

// zkReplies forwards server frames until the multi-op's reply, which it
// swallows with everything after it.
func (l *link) zkReplies(dst, src net.Conn, frozen *atomic.Bool, multiXid *atomic.Int64) {
	defer dst.Close()
	defer src.Close()
	for first := true; ; first = false {
		f, err := readFrame(src)
		if err != nil {
			return
		}
		if !first && len(f) >= 8 && int64(int32(binary.BigEndian.Uint32(f[4:8]))) == multiXid.Load() && l.loseMulti.CompareAndSwap(true, false) {
			frozen.Store(true)
		}
		if !frozen.Load() {
			if _, err := dst.Write(f); err != nil {
				return
			}
		}
	}
}
