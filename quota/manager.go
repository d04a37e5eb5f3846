package quota

import (
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ClientType is what a client quota limits; each has its own sensors,
// as Kafka runs one ClientQuotaManager per type.
type ClientType int

// The client quota types (Kafka's QuotaType PRODUCE, FETCH, REQUEST,
// CONTROLLER_MUTATION).
const (
	Produce ClientType = iota
	Fetch
	Request
	ControllerMutation
	numTypes
)

var typeKey = [numTypes]string{ProducerByteRate, ConsumerByteRate, RequestPercentage, ControllerMutationRate}

// Bits of which entity shapes carry a quota of a type (Kafka's
// QuotaTypes): they pick the sensor a client records into.
const (
	clientIDQuotas   = 1
	userQuotas       = 2
	userClientQuotas = 4
)

// InactiveSensorExpiration is how long a sensor with no record lives
// (ClientQuotaManager.InactiveSensorExpirationTimeSeconds).
const InactiveSensorExpiration = time.Hour

// Config is quota.window.num and quota.window.size.seconds.
type Config struct {
	WindowNum         int
	WindowSizeSeconds int
}

// DefaultConfig is Kafka's: 11 windows of one second.
var DefaultConfig = Config{WindowNum: 11, WindowSizeSeconds: 1}

// Manager holds the client quotas (user, client-id and ip entities),
// resolves which quota applies to a client and measures clients against
// it. See the package documentation for the formulas and locking. A nil
// *Manager has no quotas: Active, Enabled, Record, Entries and Values
// answer as with none set.
type Manager struct {
	n        int
	windowMs int64
	start    time.Time
	// nowMs is the clock in milliseconds; tests replace it.
	nowMs func() int64

	// state is the published configuration; nil while no quota of any
	// kind is set, which is what keeps the request path free.
	state atomic.Pointer[state]

	// mu guards sensors and lastSweep.
	mu        sync.RWMutex
	sensors   map[sensorKey]*sensor
	lastSweep int64
}

type sensorKey struct {
	t            ClientType
	user, client string
}

// sensor is one quota sensor: the rate and its lock.
type sensor struct {
	mu       sync.Mutex
	r        rate
	lastUsed atomic.Int64
}

// state is an immutable snapshot of every client quota.
type state struct {
	entries map[Entity]map[string]float64
	limits  [numTypes]map[Entity]float64
	enabled [numTypes]uint8
	ipRate  map[netip.Addr]float64
	ipDef   float64 // 0: none
}

// NewManager returns a manager with no quotas.
func NewManager(cfg Config) *Manager {
	if cfg.WindowNum < 1 {
		cfg.WindowNum = DefaultConfig.WindowNum
	}
	if cfg.WindowSizeSeconds < 1 {
		cfg.WindowSizeSeconds = DefaultConfig.WindowSizeSeconds
	}
	m := &Manager{n: cfg.WindowNum, windowMs: int64(cfg.WindowSizeSeconds) * 1000, start: time.Now(),
		sensors: make(map[sensorKey]*sensor)}
	m.nowMs = func() int64 { return time.Since(m.start).Milliseconds() }
	return m
}

// Set replaces every quota with entries (the whole stored set).
func (m *Manager) Set(entries []Entry) {
	if len(entries) == 0 {
		m.state.Store(nil)
		return
	}
	st := &state{entries: make(map[Entity]map[string]float64, len(entries)), ipRate: map[netip.Addr]float64{}}
	for t := range st.limits {
		st.limits[t] = map[Entity]float64{}
	}
	for _, e := range entries {
		if len(e.Values) == 0 {
			continue
		}
		vals := make(map[string]float64, len(e.Values))
		for k, v := range e.Values {
			vals[k] = v
		}
		st.entries[e.Entity] = vals
		if e.Entity.IP.Set {
			if v, ok := vals[ConnectionCreationRate]; ok {
				if e.Entity.IP.Default {
					st.ipDef = v
				} else if a, err := netip.ParseAddr(e.Entity.IP.Name); err == nil {
					st.ipRate[a.Unmap()] = v
				}
			}
			continue
		}
		for t := ClientType(0); t < numTypes; t++ {
			v, ok := vals[typeKey[t]]
			if !ok {
				continue
			}
			st.limits[t][e.Entity] = v
			switch {
			case e.Entity.User.Set && e.Entity.ClientID.Set:
				st.enabled[t] |= userClientQuotas
			case e.Entity.User.Set:
				st.enabled[t] |= userQuotas
			default:
				st.enabled[t] |= clientIDQuotas
			}
		}
	}
	m.state.Store(st)
}

// Entries returns a copy of every quota entity and its values.
func (m *Manager) Entries() []Entry {
	if m == nil {
		return nil
	}
	st := m.state.Load()
	if st == nil {
		return nil
	}
	out := make([]Entry, 0, len(st.entries))
	for e, vals := range st.entries {
		cp := make(map[string]float64, len(vals))
		for k, v := range vals {
			cp[k] = v
		}
		out = append(out, Entry{Entity: e, Values: cp})
	}
	SortEntries(out)
	return out
}

// Values returns the values of one entity (nil when it has none).
func (m *Manager) Values(e Entity) map[string]float64 {
	if m == nil {
		return nil
	}
	st := m.state.Load()
	if st == nil {
		return nil
	}
	return st.entries[e]
}

// Enabled reports whether a quota of type t is set for any entity; when
// it is not, Record returns 0 without recording, as Kafka's
// quotasEnabled check does.
func (m *Manager) Enabled(t ClientType) bool {
	if m == nil {
		return false
	}
	st := m.state.Load()
	return st != nil && st.enabled[t] != 0
}

// Active reports whether any client quota is set.
func (m *Manager) Active() bool { return m != nil && m.state.Load() != nil }

// tags are the sensor's (user, client-id) metric tags
// (DefaultQuotaCallback.quotaMetricTags): which clients share a sensor.
func (st *state) tags(t ClientType, user, client string) (string, string) {
	switch st.enabled[t] {
	case 0, clientIDQuotas:
		return "", client
	case userQuotas:
		return user, ""
	case userClientQuotas:
		return user, client
	}
	l := st.limits[t]
	has := func(u, c Part) bool { _, ok := l[Entity{User: u, ClientID: c}]; return ok }
	U, C := Named(user), Named(client)
	switch {
	case has(U, C), has(U, DefaultPart()):
		return user, client
	case has(U, Part{}):
		return user, ""
	case has(DefaultPart(), C), has(DefaultPart(), DefaultPart()):
		return user, client
	case has(DefaultPart(), Part{}):
		return user, ""
	}
	return "", client
}

// limit is the quota bound for a sensor's tags
// (DefaultQuotaCallback.quotaLimit), in order user+client-id,
// user+default client-id, default user+client-id, default user+default
// client-id; user, default user; client-id, default client-id. ok is
// false when none applies (Kafka's bound is then Long.MAX_VALUE).
func (st *state) limit(t ClientType, user, client string) (float64, bool) {
	l := st.limits[t]
	try := func(u, c Part) (float64, bool) { v, ok := l[Entity{User: u, ClientID: c}]; return v, ok }
	var cands [4][2]Part
	var k int
	switch {
	case user != "" && client != "":
		cands = [4][2]Part{{Named(user), Named(client)}, {Named(user), DefaultPart()},
			{DefaultPart(), Named(client)}, {DefaultPart(), DefaultPart()}}
		k = 4
	case user != "":
		cands[0], cands[1] = [2]Part{Named(user), {}}, [2]Part{DefaultPart(), {}}
		k = 2
	case client != "":
		cands[0], cands[1] = [2]Part{{}, Named(client)}, [2]Part{{}, DefaultPart()}
		k = 2
	}
	for i := 0; i < k; i++ {
		if v, ok := try(cands[i][0], cands[i][1]); ok {
			return v, true
		}
	}
	return 0, false
}

// Quota returns the bound that applies to a client for t, and whether
// one does.
func (m *Manager) Quota(t ClientType, user, client string) (float64, bool) {
	st := m.state.Load()
	if st == nil {
		return 0, false
	}
	u, c := st.tags(t, user, client)
	return st.limit(t, u, c)
}

func (m *Manager) sensor(t ClientType, user, client string, now int64) *sensor {
	k := sensorKey{t, user, client}
	m.mu.RLock()
	s := m.sensors[k]
	m.mu.RUnlock()
	if s == nil {
		m.mu.Lock()
		if s = m.sensors[k]; s == nil {
			s = &sensor{}
			m.sensors[k] = s
			m.sweepLocked(now)
		}
		m.mu.Unlock()
	}
	s.lastUsed.Store(now)
	return s
}

// sweepLocked drops sensors unused for InactiveSensorExpiration, at
// most once a minute, when a sensor is created. Caller holds mu.
func (m *Manager) sweepLocked(now int64) {
	if now-m.lastSweep < 60_000 {
		return
	}
	m.lastSweep = now
	for k, s := range m.sensors {
		if now-s.lastUsed.Load() >= InactiveSensorExpiration.Milliseconds() {
			delete(m.sensors, k)
		}
	}
}

// Record adds value to the client's sensor for t and returns the
// throttle time in milliseconds (ClientQuotaManager.
// maybeRecordAndGetThrottleTimeMs): 0 when the client is within its
// quota or no quota of type t exists. value is bytes for Produce and
// Fetch, and for Request the percentage-seconds of handler time
// (RequestValue). Request throttle times are capped at one window, as
// ClientRequestQuotaManager caps them.
func (m *Manager) Record(t ClientType, user, client string, value float64) int32 {
	if m == nil {
		return 0
	}
	st := m.state.Load()
	if st == nil || st.enabled[t] == 0 {
		return 0
	}
	return m.record(st, t, user, client, value, m.nowMs(), true)
}

func (m *Manager) record(st *state, t ClientType, user, client string, value float64, now int64, check bool) int32 {
	u, c := st.tags(t, user, client)
	bound, ok := st.limit(t, u, c)
	s := m.sensor(t, u, c, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.r.record(value, now, m.windowMs, m.n)
	if !check || !ok {
		return 0
	}
	measured, ws := s.r.measure(now, m.windowMs, m.n)
	thr := throttleMs(measured, bound, ws)
	if t == Request {
		thr = min(thr, m.windowMs)
	}
	return int32(min(thr, math.MaxInt32))
}

// Unrecord takes value back out of the client's sensor, as Kafka does
// for a Fetch it answers empty because it throttles it.
func (m *Manager) Unrecord(t ClientType, user, client string, value float64) {
	st := m.state.Load()
	if st == nil || st.enabled[t] == 0 {
		return
	}
	m.record(st, t, user, client, -value, m.nowMs(), false)
}

// MaxValueInWindow is the most a client may take without being
// throttled given nothing recorded yet: bound * (windows-1) * window
// seconds (ClientQuotaManager.getMaxValueInQuotaWindow). Fetch caps
// max_bytes with it. math.MaxInt32 when no quota applies.
func (m *Manager) MaxValueInWindow(t ClientType, user, client string) int32 {
	st := m.state.Load()
	if st == nil || st.enabled[t] == 0 {
		return math.MaxInt32
	}
	u, c := st.tags(t, user, client)
	bound, ok := st.limit(t, u, c)
	if !ok {
		return math.MaxInt32
	}
	v := bound * float64(m.n-1) * float64(m.windowMs/1000)
	if v >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(v)
}

// RequestValue converts handler time to what the Request sensor records:
// percentage-seconds (ClientRequestQuotaManager.nanosToPercentage), so
// that the rate per second is a percentage of one thread.
func RequestValue(d time.Duration) float64 { return float64(d.Nanoseconds()) * 100 / 1e9 }

// ipRate is the connection_creation_rate for addr: the IP's own, else
// the default IP's; ok false when neither is set.
func (m *Manager) ipRate(addr netip.Addr) (float64, bool) {
	st := m.state.Load()
	if st == nil {
		return 0, false
	}
	if v, ok := st.ipRate[addr]; ok {
		return v, true
	}
	return st.ipDef, st.ipDef > 0
}
