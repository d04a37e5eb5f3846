package quota

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ConnConfig is the broker's connection limits (Kafka's ConnectionQuotas
// configs).
type ConnConfig struct {
	// MaxConnections is max.connections: beyond it the broker stops
	// accepting until a connection closes. 0 admits none except on
	// ProtectedListener, as in Kafka; negative is no limit.
	MaxConnections int
	// ProtectedListener is the listener that never waits for
	// max.connections, though its connections count: Kafka's
	// inter-broker listener when the broker has more than one
	// (SocketServer.ConnectionQuotas.protectedListener). "": none.
	ProtectedListener string
	// MaxConnectionsPerIP is max.connections.per.ip: a connection beyond
	// it is closed at once.
	MaxConnectionsPerIP int
	// PerIPOverrides is max.connections.per.ip.overrides, parsed by
	// ParseOverrides.
	PerIPOverrides map[netip.Addr]int
	Logger         *slog.Logger
}

// ConnectionQuotas enforces max.connections, max.connections.per.ip(.overrides)
// and the connection_creation_rate of IP entities, as Kafka's
// SocketServer.ConnectionQuotas does. It implements protocol.ConnLimiter.
type ConnectionQuotas struct {
	cfg ConnConfig
	m   *Manager
	log *slog.Logger

	// mu guards the counts, ipSensors and closed; cond waits for a slot.
	mu        sync.Mutex
	cond      *sync.Cond
	closed    bool
	total     int
	perIP     map[netip.Addr]int
	ipSensors map[netip.Addr]*rate
}

// NewConnectionQuotas returns the connection limits; m supplies the IP
// connection creation rates (nil: none).
func NewConnectionQuotas(cfg ConnConfig, m *Manager) *ConnectionQuotas {
	if cfg.MaxConnections < 0 {
		cfg.MaxConnections = math.MaxInt32
	}
	if cfg.MaxConnectionsPerIP < 0 {
		cfg.MaxConnectionsPerIP = math.MaxInt32
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	q := &ConnectionQuotas{cfg: cfg, m: m, log: cfg.Logger, perIP: map[netip.Addr]int{}, ipSensors: map[netip.Addr]*rate{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Admit is called by the accept loop for each accepted connection, in
// ConnectionQuotas.inc's order: it waits while max.connections are open
// (the acceptor accepts nothing meanwhile), then checks the IP's
// connection_creation_rate (over: the connection is closed after the
// throttle time, at most one quota window, and not counted), then
// max.connections.per.ip (over: closed at once). ok false means close
// the connection after delay. The protected listener never waits; after
// Close nothing is admitted.
func (q *ConnectionQuotas) Admit(listener string, remote net.Addr) (delay time.Duration, ok bool) {
	ip := addrOf(remote)
	q.mu.Lock()
	defer q.mu.Unlock()
	protected := q.cfg.ProtectedListener != "" && listener == q.cfg.ProtectedListener
	for !q.closed && !protected && q.total >= q.cfg.MaxConnections {
		q.cond.Wait()
	}
	if q.closed {
		return 0, false
	}
	if q.m != nil {
		if bound, has := q.m.ipRate(ip); has {
			s := q.ipSensors[ip]
			if s == nil {
				s = &rate{}
				q.ipSensors[ip] = s
			}
			now := q.m.nowMs()
			s.record(1, now, q.m.windowMs, q.m.n)
			measured, ws := s.measure(now, q.m.windowMs, q.m.n)
			if thr := min(throttleMs(measured, bound, ws), q.m.windowMs); thr > 0 {
				s.record(-1, now, q.m.windowMs, q.m.n)
				q.log.Debug("delaying close of connection over connection_creation_rate",
					"client", remote.String(), "listener", listener, "throttle_ms", thr)
				return time.Duration(thr) * time.Millisecond, false
			}
		}
	}
	max := q.cfg.MaxConnectionsPerIP
	if o, ok := q.cfg.PerIPOverrides[ip]; ok {
		max = o
	}
	if q.perIP[ip] >= max {
		q.log.Info(fmt.Sprintf("Rejected connection from %s, address already has the configured maximum of %d connections.", ip, max),
			"client", remote.String(), "listener", listener)
		return 0, false
	}
	q.perIP[ip]++
	q.total++
	return 0, true
}

// Release is called once for every admitted connection when it closes.
func (q *ConnectionQuotas) Release(listener string, remote net.Addr) {
	ip := addrOf(remote)
	q.mu.Lock()
	if n := q.perIP[ip]; n <= 1 {
		delete(q.perIP, ip)
	} else {
		q.perIP[ip] = n - 1
	}
	q.total--
	q.mu.Unlock()
	q.cond.Broadcast() // one accept loop per listener may wait
}

// Close wakes every Admit waiting for a slot and refuses later ones:
// the broker is shutting down.
func (q *ConnectionQuotas) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// Count returns the connections open from ip, and in total.
func (q *ConnectionQuotas) Count(ip netip.Addr) (fromIP, total int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.perIP[ip], q.total
}

// ParseOverrides parses max.connections.per.ip.overrides as Kafka's
// CoreUtils.parseCsvMap does: entries separated by commas (with any
// whitespace around them), each host:count split at its last colon so
// that IPv6 addresses work; the count is a non-negative int. Host names
// are resolved with lookup (nil: net.LookupHost) and every address they
// resolve to gets the limit. An empty string is no overrides.
func ParseOverrides(s string, lookup func(string) ([]string, error)) (map[netip.Addr]int, error) {
	out := map[netip.Addr]int{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	if lookup == nil {
		lookup = net.LookupHost
	}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		i := strings.LastIndexByte(item, ':')
		if i < 0 {
			return nil, fmt.Errorf("%q is not host:count", item)
		}
		host, count := strings.TrimSpace(item[:i]), strings.TrimSpace(item[i+1:])
		n, err := strconv.ParseInt(count, 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q: count %q is not a non-negative int", item, count)
		}
		if host == "" {
			return nil, fmt.Errorf("%q: empty host", item)
		}
		if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
			out[a.Unmap()] = int(n)
			continue
		}
		addrs, err := lookup(host)
		if err != nil || len(addrs) == 0 {
			return nil, fmt.Errorf("%q: host %q does not resolve: %v", item, host, err)
		}
		for _, as := range addrs {
			if a, err := netip.ParseAddr(as); err == nil {
				out[a.Unmap()] = int(n)
			}
		}
	}
	return out, nil
}
