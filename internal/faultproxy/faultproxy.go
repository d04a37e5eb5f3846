// Package faultproxy is an in-process TCP proxy for fault-schedule tests
// of a Samsa cluster: one Proxy listens in front of each broker listener
// (the broker advertises the proxy's address, so every client and every
// inter-broker connection — replica fetchers, AlterPartition, the
// controller's LeaderAndIsr/UpdateMetadata — goes through it) and one in
// front of ZooKeeper. Net.Cut closes the connections between two
// endpoints and refuses new ones until Net.Heal, as a network partition
// between two hosts would (Jepsen's partition nemesis, in one process).
//
// Who connects is told apart by process: the accepted connection's peer
// port is looked up in /proc/net/tcp and its socket inode in the
// /proc/<pid>/fd of each endpoint's process (Linux only; elsewhere every
// connection counts as an outside client, and Cut has no effect on it).
package faultproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Outside is the endpoint id of a connection whose process is no
// endpoint's (the test's own clients).
const Outside = -1

// Net is a set of proxies sharing one table of cut links.
type Net struct {
	// Pid answers the current process id of an endpoint (0 when it has
	// none running); it is called for every accepted connection.
	Pid func(id int) int
	// IDs are the endpoints whose processes may connect through a proxy.
	IDs []int

	mu      sync.Mutex
	cuts    map[[2]int]bool
	links   map[*link]struct{}
	proxies []*Proxy
	closed  bool
}

type link struct {
	a, b         int // source and destination endpoints
	client, serv net.Conn
}

// Proxy forwards connections accepted on Addr to Target.
type Proxy struct {
	ID     int
	Target string
	ln     net.Listener
	n      *Net
	wg     sync.WaitGroup
}

// Addr is the proxy's host:port, to advertise instead of Target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func pair(a, b int) [2]int {
	if a > b {
		a, b = b, a
	}
	return [2]int{a, b}
}

// Add starts a proxy for endpoint id in front of target (host:port) on a
// free loopback port.
func (n *Net) Add(id int, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen for endpoint %d: %w", id, err)
	}
	p := &Proxy{ID: id, Target: target, ln: ln, n: n}
	n.mu.Lock()
	if n.cuts == nil {
		n.cuts = map[[2]int]bool{}
		n.links = map[*link]struct{}{}
	}
	n.proxies = append(n.proxies, p)
	n.mu.Unlock()
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	n := p.n
	src := n.identify(c)
	n.mu.Lock()
	refused := n.closed || n.cuts[pair(src, p.ID)]
	n.mu.Unlock()
	if refused {
		reset(c)
		return
	}
	s, err := net.Dial("tcp", p.Target)
	if err != nil {
		reset(c) // as a dead host's refused connection, not an EOF
		return
	}
	l := &link{a: src, b: p.ID, client: c, serv: s}
	n.mu.Lock()
	if n.closed || n.cuts[pair(src, p.ID)] {
		n.mu.Unlock()
		reset(c)
		s.Close()
		return
	}
	n.links[l] = struct{}{}
	n.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(s, c); done <- struct{}{} }()
	go func() { io.Copy(c, s); done <- struct{}{} }()
	<-done
	c.Close()
	s.Close()
	<-done
	n.mu.Lock()
	delete(n.links, l)
	n.mu.Unlock()
}

// Cut closes every connection between endpoints a and b (either way) and
// refuses new ones until Heal.
func (n *Net) Cut(a, b int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cuts[pair(a, b)] = true
	for l := range n.links {
		if l.a == Outside {
			// Accepted before its process was known (a broker still
			// starting): look again.
			l.a = n.identify(l.client)
		}
		if pair(l.a, l.b) == pair(a, b) {
			reset(l.client)
			l.serv.Close()
		}
	}
}

// Heal lets endpoints a and b connect again.
func (n *Net) Heal(a, b int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.cuts, pair(a, b))
}

// HealAll lifts every cut.
func (n *Net) HealAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cuts)
}

// Close stops every proxy and closes every connection.
func (n *Net) Close() {
	n.mu.Lock()
	n.closed = true
	ps := n.proxies
	for l := range n.links {
		l.client.Close()
		l.serv.Close()
	}
	n.mu.Unlock()
	for _, p := range ps {
		p.ln.Close()
		p.wg.Wait()
	}
}

// reset closes c with a TCP RST (SO_LINGER 0): a client sees "connection
// reset", which Kafka clients retry like a refused connection, where a
// plain close right after accept would read as an immediate EOF (which
// franz-go takes for a TLS or SASL mismatch and does not retry).
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// identify answers the endpoint whose process holds the other end of c.
func (n *Net) identify(c net.Conn) int {
	peer, ok1 := c.RemoteAddr().(*net.TCPAddr)
	local, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 || n.Pid == nil {
		return Outside
	}
	inode := socketInode(peer.Port, local.Port)
	if inode == "" {
		return Outside
	}
	want := "socket:[" + inode + "]"
	for _, id := range n.IDs {
		pid := n.Pid(id)
		if pid <= 0 {
			continue
		}
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == want {
				return id
			}
		}
	}
	return Outside
}

// socketInode finds, in /proc/net/tcp{,6}, the inode of the socket whose
// local port is lport and remote port rport.
func socketInode(lport, rport int) string {
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[0] == "sl" {
				continue
			}
			if hexPort(fs[1]) == lport && hexPort(fs[2]) == rport {
				fh.Close()
				return fs[9]
			}
		}
		fh.Close()
	}
	return ""
}

func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	v, err := strconv.ParseUint(addr[i+1:], 16, 32)
	if err != nil {
		return -1
	}
	return int(v)
}
