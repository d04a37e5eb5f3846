package quota

import (
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"samsa/controller"
)

// Quota keys (Kafka's QuotaConfig) and the type Kafka checks each value
// with.
const (
	ProducerByteRate       = "producer_byte_rate"
	ConsumerByteRate       = "consumer_byte_rate"
	RequestPercentage      = "request_percentage"
	ControllerMutationRate = "controller_mutation_rate"
	ConnectionCreationRate = "connection_creation_rate"
)

var userClientKeys = map[string]string{ProducerByteRate: "LONG", ConsumerByteRate: "LONG", RequestPercentage: "DOUBLE", ControllerMutationRate: "DOUBLE"}
var ipKeys = map[string]string{ConnectionCreationRate: "INT"}

// Store keeps client quotas; controller.Single implements it.
type Store interface {
	ClientQuotas() []controller.ClientQuota
	SetClientQuotas(ctx context.Context, quotas []controller.ClientQuota) error
}

// Window is Kafka's quota.window.num samples (default 11) of
// quota.window.size.seconds (default 1).
type Window struct {
	Samples int
	Size    time.Duration
}

// DefaultWindow is Kafka's default quota window.
var DefaultWindow = Window{Samples: 11, Size: time.Second}

// Manager keeps the client quotas and measures each quota entity's byte
// rates (Kafka's ClientQuotaManager for the produce and fetch quota
// types). mu guards config; each sensor has its own lock.
type Manager struct {
	store  Store
	window Window

	mu     sync.RWMutex
	config map[string]controller.ClientQuota // by controller.QuotaEntityKey
	// any is len(config) > 0, read without a lock on every request.
	any atomic.Bool

	sensors sync.Map // sensorKey -> *rate
	// alterMu serializes AlterClientQuotas (read, decide, write).
	alterMu sync.Mutex
}

// New returns a Manager over store measuring rates over w.
func New(store Store, w Window) *Manager {
	if w.Samples < 2 || w.Size <= 0 {
		w = DefaultWindow
	}
	m := &Manager{store: store, window: w}
	m.reload()
	return m
}

func (m *Manager) reload() {
	cfg := map[string]controller.ClientQuota{}
	for _, q := range m.store.ClientQuotas() {
		cfg[controller.QuotaEntityKey(q.Entity)] = q
	}
	m.mu.Lock()
	m.config = cfg
	m.any.Store(len(cfg) > 0)
	m.mu.Unlock()
}

// Enabled reports whether any quota is set (Kafka records nothing
// otherwise).
func (m *Manager) Enabled() bool { return m.any.Load() }

func sp(s string) *string { return &s }

func part(typ string, name *string) controller.QuotaEntityPart {
	return controller.QuotaEntityPart{Type: typ, Name: name}
}

// resolve finds the quota key for user and clientID in Kafka's order of
// precedence (user+client-id, user+default client, user, default
// user+client-id, default user+default client, default user, client-id,
// default client-id) and the sensor tags Kafka's DefaultQuotaCallback
// gives the match: the names that share one measured rate.
func (m *Manager) resolve(key, user, clientID string) (limit float64, userTag, clientTag string, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	type level struct {
		parts           []controller.QuotaEntityPart
		userTag, client string
	}
	levels := []level{
		{[]controller.QuotaEntityPart{part("user", sp(user)), part("client-id", sp(clientID))}, user, clientID},
		{[]controller.QuotaEntityPart{part("user", sp(user)), part("client-id", nil)}, user, clientID},
		{[]controller.QuotaEntityPart{part("user", sp(user))}, user, ""},
		{[]controller.QuotaEntityPart{part("user", nil), part("client-id", sp(clientID))}, user, clientID},
		{[]controller.QuotaEntityPart{part("user", nil), part("client-id", nil)}, user, clientID},
		{[]controller.QuotaEntityPart{part("user", nil)}, user, ""},
		{[]controller.QuotaEntityPart{part("client-id", sp(clientID))}, "", clientID},
		{[]controller.QuotaEntityPart{part("client-id", nil)}, "", clientID},
	}
	for _, l := range levels {
		if q, found := m.config[controller.QuotaEntityKey(l.parts)]; found {
			if v, has := q.Values[key]; has {
				return v, l.userTag, l.client, true
			}
		}
	}
	return 0, "", "", false
}

type sensorKey struct {
	kind, user, client string
}

// Record adds bytes to the rate of the entity principal (Kafka's
// "User:name"; the quota user is the name) and clientID are measured as
// for quota key (ProducerByteRate or ConsumerByteRate), and returns how
// long the client must be throttled, in ms: Kafka's QuotaUtils.throttleTime,
// (rate - quota) / quota * window, when the rate is over the quota.
func (m *Manager) Record(key, principal, clientID string, bytes int, now time.Time) int32 {
	user := principal
	if i := strings.IndexByte(principal, ':'); i >= 0 {
		user = principal[i+1:]
	}
	limit, ut, ct, ok := m.resolve(key, user, clientID)
	if !ok {
		return 0
	}
	k := sensorKey{key, ut, ct}
	v, _ := m.sensors.Load(k)
	if v == nil {
		v, _ = m.sensors.LoadOrStore(k, &rate{w: m.window, samples: make([]sample, m.window.Samples+1)})
	}
	r := v.(*rate)
	observed, window := r.record(float64(bytes), now)
	if observed <= limit {
		return 0
	}
	t := (observed - limit) / limit * float64(window.Milliseconds())
	return int32(math.Min(math.Round(t), math.MaxInt32))
}

// rate is Kafka's Rate over a SampledStat of w.Samples samples of w.Size:
// the sum of the retained samples over the time they span, at least
// w.Samples-1 full windows.
type rate struct {
	w       Window
	mu      sync.Mutex
	samples []sample // w.Samples+1: Kafka keeps one for the overlapping sample
	cur     int
	started bool
}

type sample struct {
	start, last time.Time
	value       float64
	used        bool
}

func (r *rate) record(v float64, now time.Time) (perSecond float64, window time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.samples[r.cur]
	if !r.started || now.Sub(s.start) >= r.w.Size {
		if r.started {
			r.cur = (r.cur + 1) % len(r.samples)
		}
		r.started = true
		r.samples[r.cur] = sample{start: now, last: now, used: true}
		s = &r.samples[r.cur]
	}
	s.value += v
	s.last = now
	// Purge samples older than the whole window, then measure.
	expire := time.Duration(r.w.Samples) * r.w.Size
	var total float64
	oldest := now
	for i := range r.samples {
		x := &r.samples[i]
		if !x.used {
			continue
		}
		if now.Sub(x.last) >= expire {
			x.used = false
			continue
		}
		total += x.value
		if x.start.Before(oldest) {
			oldest = x.start
		}
	}
	elapsed := now.Sub(oldest)
	if full := int(elapsed / r.w.Size); full < r.w.Samples-1 {
		elapsed += time.Duration(r.w.Samples-1-full) * r.w.Size
	}
	elapsed = max(elapsed, time.Millisecond)
	return total / elapsed.Seconds(), elapsed
}

// Match is one DescribeClientQuotas filter component.
type Match struct {
	Type string
	// Kind: 0 exact Name, 1 the default entity, 2 any entity of Type.
	Kind int8
	Name string
}

// Describe returns the entities matching the components (Kafka's
// DescribeClientQuotas): each component must match a part of the entity;
// with strict, the entity may have no other parts.
func (m *Manager) Describe(components []Match, strict bool) []controller.ClientQuota {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []controller.ClientQuota
	for _, q := range m.config {
		if matches(q.Entity, components, strict) {
			out = append(out, q)
		}
	}
	return out
}

func matches(entity []controller.QuotaEntityPart, components []Match, strict bool) bool {
	if strict && len(entity) != len(components) {
		return false
	}
	for _, c := range components {
		found := false
		for _, p := range entity {
			if p.Type != c.Type {
				continue
			}
			switch c.Kind {
			case 0:
				found = p.Name != nil && *p.Name == c.Name
			case 1:
				found = p.Name == nil
			default:
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Op is one AlterClientQuotas operation.
type Op struct {
	Key    string
	Value  float64
	Remove bool
}

// Validate checks an entity and its operations with Kafka's
// ClientQuotaControlManager rules and words.
func Validate(entity []controller.QuotaEntityPart, ops []Op) error {
	if len(entity) == 0 {
		return fmt.Errorf("Invalid empty client quota entity")
	}
	seen := map[string]bool{}
	for _, p := range entity {
		if seen[p.Type] {
			return fmt.Errorf("Invalid client quota entity, duplicate entity entry %s", p.Type)
		}
		seen[p.Type] = true
		switch p.Type {
		case "user", "client-id", "ip":
		default:
			return fmt.Errorf("Unhandled client quota entity type: %s", p.Type)
		}
		if p.Name != nil && *p.Name == "" {
			return fmt.Errorf("Empty %s not supported", p.Type)
		}
	}
	keys := userClientKeys
	if seen["ip"] {
		if seen["user"] || seen["client-id"] {
			return fmt.Errorf("Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId")
		}
		for _, p := range entity {
			if p.Name != nil && net.ParseIP(*p.Name) == nil {
				if _, err := net.LookupHost(*p.Name); err != nil {
					return fmt.Errorf("%s is not a valid IP or resolvable host.", *p.Name)
				}
			}
		}
		keys = ipKeys
	}
	dup := map[string]bool{}
	for _, op := range ops {
		if dup[op.Key] {
			return fmt.Errorf("Duplicate quota key %s not updating quota for this entity", op.Key)
		}
		dup[op.Key] = true
		typ, ok := keys[op.Key]
		if !ok {
			return fmt.Errorf("Invalid configuration key %s", op.Key)
		}
		if op.Remove {
			continue
		}
		if op.Value <= 0 {
			return fmt.Errorf("Quota %s must be greater than 0", op.Key)
		}
		switch typ {
		case "INT":
			if op.Value > math.MaxInt32 {
				return fmt.Errorf("Proposed value for %s is too large for an INT.", op.Key)
			}
		case "LONG":
			if op.Value > math.MaxInt64 {
				return fmt.Errorf("Proposed value for %s is too large for a LONG.", op.Key)
			}
		}
		if typ != "DOUBLE" && math.Abs(math.Mod(op.Value, 1)) > 1e-6 {
			return fmt.Errorf("%s cannot be a fractional value.", op.Key)
		}
	}
	return nil
}

// Alter applies validated operations per entity and writes the results.
func (m *Manager) Alter(ctx context.Context, entities [][]controller.QuotaEntityPart, ops [][]Op) error {
	m.alterMu.Lock()
	defer m.alterMu.Unlock()
	m.mu.RLock()
	var out []controller.ClientQuota
	for i, e := range entities {
		ek := controller.QuotaEntityKey(e)
		vals := map[string]float64{}
		for k, v := range m.config[ek].Values {
			vals[k] = v
		}
		for _, op := range ops[i] {
			if op.Remove {
				delete(vals, op.Key)
			} else {
				vals[op.Key] = op.Value
			}
		}
		out = append(out, controller.ClientQuota{Entity: e, Values: vals})
	}
	m.mu.RUnlock()
	if err := m.store.SetClientQuotas(ctx, out); err != nil {
		return err
	}
	m.reload()
	return nil
}
