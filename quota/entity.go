package quota

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Entity types, as AlterClientQuotas and DescribeClientQuotas name them
// (org.apache.kafka.common.quota.ClientQuotaEntity).
const (
	TypeUser     = "user"
	TypeClientID = "client-id"
	TypeIP       = "ip"
)

// Quota keys (QuotaConfig). The byte rates are bytes per second, the
// request percentage is a percentage of one request handler thread's
// time, the controller mutation rate is partition mutations per second
// and the connection creation rate is connections per second per IP.
const (
	ProducerByteRate       = "producer_byte_rate"
	ConsumerByteRate       = "consumer_byte_rate"
	RequestPercentage      = "request_percentage"
	ControllerMutationRate = "controller_mutation_rate"
	ConnectionCreationRate = "connection_creation_rate"
)

// keyType is the ConfigDef type of a quota key, which decides the
// validation of its value (ClientQuotaControlManager.validateQuotaKeyValue).
type keyType int

const (
	typeLong keyType = iota
	typeDouble
	typeInt
)

var userClientKeys = map[string]keyType{
	ProducerByteRate:       typeLong,
	ConsumerByteRate:       typeLong,
	RequestPercentage:      typeDouble,
	ControllerMutationRate: typeDouble,
}

var ipKeys = map[string]keyType{ConnectionCreationRate: typeInt}

// Part is one component of an entity: absent, the default entity
// (<default>, a null name on the wire), or a name.
type Part struct {
	Set     bool
	Default bool
	Name    string
}

// Named and DefaultPart build Parts.
func Named(name string) Part { return Part{Set: true, Name: name} }

// DefaultPart is the <default> entity of a type (--entity-default).
func DefaultPart() Part { return Part{Set: true, Default: true} }

// NamePtr is the wire form: nil for the default.
func (p Part) NamePtr() *string {
	if p.Default {
		return nil
	}
	n := p.Name
	return &n
}

// Entity is a quota entity: a user, a client id, a user and client id,
// or an IP; any part may be the default. It is comparable and used as a
// map key.
type Entity struct {
	User, ClientID, IP Part
}

// Parts returns the entity's set components as (type, part) pairs in the
// order user, client-id, ip.
func (e Entity) Parts() []struct {
	Type string
	Part Part
} {
	var out []struct {
		Type string
		Part Part
	}
	for _, tp := range []struct {
		t string
		p Part
	}{{TypeUser, e.User}, {TypeClientID, e.ClientID}, {TypeIP, e.IP}} {
		if tp.p.Set {
			out = append(out, struct {
				Type string
				Part Part
			}{tp.t, tp.p})
		}
	}
	return out
}

// String renders the entity as Kafka's ClientQuotaEntity.toString does
// for its entries map, e.g. "ClientQuotaEntity(entries={user=alice})";
// Kafka's HashMap puts client-id before user.
func (e Entity) String() string {
	var parts []string
	add := func(t string, p Part) {
		if !p.Set {
			return
		}
		n := p.Name
		if p.Default {
			n = "null"
		}
		parts = append(parts, t+"="+n)
	}
	add(TypeClientID, e.ClientID)
	add(TypeUser, e.User)
	add(TypeIP, e.IP)
	return "ClientQuotaEntity(entries={" + strings.Join(parts, ", ") + "})"
}

// Entry is an entity with its quota values.
type Entry struct {
	Entity Entity
	Values map[string]float64
}

// Op is one alteration of one key: Remove, or set Value.
type Op struct {
	Key    string
	Value  float64
	Remove bool
}

// WireComponent is one (entity_type, entity_name) of a request.
type WireComponent struct {
	Type string
	Name *string
}

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, kerr.InvalidRequest)...)
}

// EntityFromWire builds the entity of an AlterClientQuotas entry and
// validates its types and names as Kafka's ClientQuotaControlManager
// (validateEntity, configKeysForEntityType) does. As in Kafka, a type
// named twice keeps the last name (the request becomes a map first).
// Errors wrap kerr.InvalidRequest with Kafka's message.
func EntityFromWire(comps []WireComponent) (Entity, error) {
	return entityFrom(comps, validIP)
}

// StoredEntity is EntityFromWire without resolving host names, for
// entities read back from the metadata store (validated when written).
func StoredEntity(comps []WireComponent) (Entity, error) {
	return entityFrom(comps, func(string) bool { return true })
}

func entityFrom(comps []WireComponent, validIP func(string) bool) (Entity, error) {
	var e Entity
	if len(comps) == 0 {
		return e, invalid("Invalid empty client quota entity")
	}
	last := map[string]*string{}
	var order []string
	for _, c := range comps {
		if _, ok := last[c.Type]; !ok {
			order = append(order, c.Type)
		}
		last[c.Type] = c.Name
	}
	for _, t := range order {
		name := last[t]
		p := Part{Set: true, Default: name == nil}
		if name != nil {
			p.Name = *name
		}
		switch t {
		case TypeUser:
			e.User = p
		case TypeClientID:
			e.ClientID = p
		case TypeIP:
			e.IP = p
		default:
			return e, invalid("Unhandled client quota entity type: %s", t)
		}
		if name != nil && *name == "" {
			return e, invalid("Empty %s not supported", t)
		}
	}
	if e.IP.Set {
		if e.User.Set || e.ClientID.Set {
			// Kafka's message lacks the space after "should".
			return e, invalid("Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId")
		}
		if !e.IP.Default && !validIP(e.IP.Name) {
			return e, invalid("%s is not a valid IP or resolvable host.", e.IP.Name)
		}
	}
	return e, nil
}

// validIP is InetAddress.getByName succeeding: an IP literal or a host
// name that resolves (looked up with a short timeout).
func validIP(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, s)
	return err == nil && len(addrs) > 0
}

func (e Entity) keys() map[string]keyType {
	if e.IP.Set {
		return ipKeys
	}
	return userClientKeys
}

// Apply validates ops against the entity's current values and returns
// the new values and whether anything changed, as
// ClientQuotaControlManager.alterClientQuotaEntity does: removing a key
// that is not set is a no-op, setting a key to its current value changes
// nothing, and an invalid key or value fails the whole entity. Errors
// wrap kerr.InvalidRequest with Kafka's message.
func Apply(e Entity, cur map[string]float64, ops []Op) (map[string]float64, bool, error) {
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		if seen[op.Key] {
			// Kafka records "Duplicate quota key" and then overwrites it
			// with this message, which is what clients see.
			return nil, false, invalid("Ignoring duplicate entity %s", e)
		}
		seen[op.Key] = true
	}
	keys := e.keys()
	next := make(map[string]float64, len(cur)+len(ops))
	for k, v := range cur {
		next[k] = v
	}
	changed := false
	for _, op := range ops {
		if op.Remove {
			if _, ok := next[op.Key]; ok {
				delete(next, op.Key)
				changed = true
			}
			continue
		}
		if err := validateValue(keys, op.Key, op.Value); err != nil {
			return nil, false, err
		}
		if old, ok := next[op.Key]; !ok || old != op.Value {
			next[op.Key] = op.Value
			changed = true
		}
	}
	return next, changed, nil
}

func validateValue(keys map[string]keyType, key string, v float64) error {
	t, ok := keys[key]
	if !ok {
		return invalid("Invalid configuration key %s", key)
	}
	if !(v > 0) { // NaN too
		return invalid("Quota %s must be greater than 0", key)
	}
	switch t {
	case typeInt:
		if v > math.MaxInt32 {
			return invalid("Proposed value for %s is too large for an INT.", key)
		}
	case typeLong:
		if v > math.MaxInt64 {
			return invalid("Proposed value for %s is too large for a LONG.", key)
		}
	default:
		return nil
	}
	if math.Abs(math.Mod(v, 1.0)) > 1e-6 {
		return invalid("%s cannot be a fractional value.", key)
	}
	return nil
}

// Filter is a DescribeClientQuotas filter, validated by ParseFilter.
type Filter struct {
	exact  map[string]*string
	typed  map[string]bool
	strict bool
}

// Match types of DescribeClientQuotas components.
const (
	MatchExact     = 0
	MatchDefault   = 1
	MatchSpecified = 2
)

// FilterComponent is one component of a DescribeClientQuotas request.
type FilterComponent struct {
	Type      string
	MatchType int8
	Match     *string
}

// ParseFilter validates a DescribeClientQuotas filter as Kafka 4's
// ClientQuotasImage.describe does. Errors wrap kerr.InvalidRequest, or
// kerr.UnsupportedVersion for an unknown entity type, with Kafka's message.
func ParseFilter(comps []FilterComponent, strict bool) (Filter, error) {
	f := Filter{exact: map[string]*string{}, typed: map[string]bool{}, strict: strict}
	for _, c := range comps {
		if c.Type == "" {
			return f, invalid("Invalid empty entity type.")
		}
		if _, ok := f.exact[c.Type]; ok || f.typed[c.Type] {
			return f, invalid("Entity type %s cannot appear more than once in the filter.", c.Type)
		}
		if c.Type != TypeIP && c.Type != TypeUser && c.Type != TypeClientID {
			return f, fmt.Errorf("Unsupported entity type %s: %w", c.Type, kerr.UnsupportedVersion)
		}
		switch c.MatchType {
		case MatchExact:
			if c.Match == nil {
				return f, invalid("Request specified MATCH_TYPE_EXACT, but set match string to null.")
			}
			f.exact[c.Type] = c.Match
		case MatchDefault:
			if c.Match != nil {
				return f, invalid("Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
			}
			f.exact[c.Type] = nil
		case MatchSpecified:
			if c.Match != nil {
				return f, invalid("Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")
			}
			f.typed[c.Type] = true
		default:
			return f, invalid("Unknown match type %d", c.MatchType)
		}
	}
	_, ipExact := f.exact[TypeIP]
	if ipExact || f.typed[TypeIP] {
		_, u := f.exact[TypeUser]
		_, c := f.exact[TypeClientID]
		if u || c || f.typed[TypeUser] || f.typed[TypeClientID] {
			return f, invalid("Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.")
		}
	}
	return f, nil
}

func (e Entity) part(t string) Part {
	switch t {
	case TypeUser:
		return e.User
	case TypeClientID:
		return e.ClientID
	case TypeIP:
		return e.IP
	}
	return Part{}
}

// Matches reports whether e passes the filter (ClientQuotasImage.matches).
func (f Filter) Matches(e Entity) bool {
	if f.strict && len(e.Parts()) != len(f.exact)+len(f.typed) {
		return false
	}
	for t, m := range f.exact {
		p := e.part(t)
		if !p.Set {
			return false
		}
		if (m == nil) != p.Default || (m != nil && *m != p.Name) {
			return false
		}
	}
	for t := range f.typed {
		if !e.part(t).Set {
			return false
		}
	}
	return true
}

// SortEntries orders entries by user, client id and IP (defaults first),
// so that answers are stable; Kafka answers in hash order.
func SortEntries(es []Entry) {
	key := func(p Part) string {
		switch {
		case !p.Set:
			return ""
		case p.Default:
			return "\x01"
		}
		return "\x02" + p.Name
	}
	sort.Slice(es, func(i, j int) bool {
		a, b := es[i].Entity, es[j].Entity
		if ka, kb := key(a.User), key(b.User); ka != kb {
			return ka < kb
		}
		if ka, kb := key(a.ClientID), key(b.ClientID); ka != kb {
			return ka < kb
		}
		return key(a.IP) < key(b.IP)
	})
}
