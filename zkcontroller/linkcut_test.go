package zkcontroller_test

import (
	"context"
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
