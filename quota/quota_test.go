package quota

import (
	"errors"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestRateWindowSize checks Kafka's Rate.windowSize: at least n-1 whole
// windows, then the real span once more time has passed.
func TestRateWindowSize(t *testing.T) {
	var r rate
	r.record(100, 0, 1000, 11)
	if ws := r.windowSize(0, 1000, 11); ws != 10000 {
		t.Fatalf("window size at start = %d, want 10000", ws)
	}
	if ws := r.windowSize(500, 1000, 11); ws != 10500 {
		t.Fatalf("window size at 500ms = %d, want 10500", ws)
	}
	// 12 s later every window is obsolete: purged, the span restarts.
	for ms := int64(1000); ms <= 10_000; ms += 1000 {
		r.record(1, ms, 1000, 11)
	}
	if ws := r.windowSize(10_500, 1000, 11); ws != 10_500 {
		t.Fatalf("window size with 11 windows = %d, want 10500", ws)
	}
}

// TestThrottleTime checks QuotaUtils.throttleTime on a worked example:
// 2 MB recorded at once against 1 MB/s measures 2 MB / 10 s = 0.2 MB/s,
// within quota; 20 MB measures 2 MB/s, twice the bound, so the throttle
// is (2-1)/1 * 10000 ms.
func TestThrottleTime(t *testing.T) {
	m := NewManager(DefaultConfig)
	now := int64(0)
	m.nowMs = func() int64 { return now }
	m.Set([]Entry{{Entity: Entity{ClientID: Named("slow")}, Values: map[string]float64{ProducerByteRate: 1 << 20}}})
	if ms := m.Record(Produce, "ANONYMOUS", "slow", 2<<20); ms != 0 {
		t.Fatalf("throttle for 2 MB = %d, want 0", ms)
	}
	if ms := m.Record(Produce, "ANONYMOUS", "slow", 18<<20); ms != 10000 {
		t.Fatalf("throttle for 20 MB = %d, want 10000", ms)
	}
	if ms := m.Record(Produce, "ANONYMOUS", "other", 100<<20); ms != 0 {
		t.Fatalf("client without quota throttled %d ms", ms)
	}
	// Request throttles are capped at one window.
	m.Set([]Entry{{Entity: Entity{ClientID: Named("busy")}, Values: map[string]float64{RequestPercentage: 1}}})
	if ms := m.Record(Request, "ANONYMOUS", "busy", RequestValue(5e9)); ms != 1000 {
		t.Fatalf("request throttle = %d, want the 1000 ms cap", ms)
	}
}

// TestResolutionOrder checks DefaultQuotaCallback's order: user+client-id,
// user+default client-id, user, default user+client-id, default
// user+default client-id, default user, client-id, default client-id.
func TestResolutionOrder(t *testing.T) {
	d := DefaultPart()
	levels := []Entity{
		{User: Named("u"), ClientID: Named("c")},
		{User: Named("u"), ClientID: d},
		{User: Named("u")},
		{User: d, ClientID: Named("c")},
		{User: d, ClientID: d},
		{User: d},
		{ClientID: Named("c")},
		{ClientID: d},
	}
	for first := range levels {
		var es []Entry
		for i := first; i < len(levels); i++ {
			es = append(es, Entry{Entity: levels[i], Values: map[string]float64{ProducerByteRate: float64(1000 + i)}})
		}
		m := NewManager(DefaultConfig)
		m.Set(es)
		got, ok := m.Quota(Produce, "u", "c")
		if !ok || got != float64(1000+first) {
			t.Errorf("with levels %d.. set: quota %v %v, want %d (%s)", first, got, ok, 1000+first, levels[first])
		}
	}
	m := NewManager(DefaultConfig)
	m.Set([]Entry{{Entity: Entity{User: Named("x")}, Values: map[string]float64{ConsumerByteRate: 5}}})
	if _, ok := m.Quota(Produce, "x", "c"); ok {
		t.Error("a consumer quota applied to produce")
	}
	if m.Enabled(Produce) || !m.Enabled(Fetch) {
		t.Error("Enabled does not follow the keys set")
	}
}

// TestSharedSensor: clients sharing a client-id quota share its sensor,
// users with a default user quota each get their own.
func TestSharedSensor(t *testing.T) {
	m := NewManager(DefaultConfig)
	m.nowMs = func() int64 { return 0 }
	m.Set([]Entry{{Entity: Entity{User: DefaultPart()}, Values: map[string]float64{ProducerByteRate: 1000}}})
	if ms := m.Record(Produce, "a", "c1", 15000); ms == 0 {
		t.Fatal("user a not throttled")
	}
	if ms := m.Record(Produce, "b", "c1", 5000); ms != 0 {
		t.Fatalf("user b throttled %d ms by user a's bytes", ms)
	}
}

func TestApplyValidation(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		comps []WireComponent
		ops   []Op
		msg   string
	}{
		{nil, nil, "Invalid empty client quota entity"},
		{[]WireComponent{{"group", s("g")}}, nil, "Unhandled client quota entity type: group"},
		{[]WireComponent{{"user", s("")}}, nil, "Empty user not supported"},
		{[]WireComponent{{"ip", s("1.2.3.4")}, {"user", s("u")}}, nil, "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId"},
		{[]WireComponent{{"ip", s("not an ip !")}}, nil, "not an ip ! is not a valid IP or resolvable host."},
		{[]WireComponent{{"user", s("u")}}, []Op{{Key: "connection_creation_rate", Value: 1}}, "Invalid configuration key connection_creation_rate"},
		{[]WireComponent{{"ip", s("1.2.3.4")}}, []Op{{Key: "producer_byte_rate", Value: 1}}, "Invalid configuration key producer_byte_rate"},
		{[]WireComponent{{"user", s("u")}}, []Op{{Key: "producer_byte_rate", Value: 0}}, "Quota producer_byte_rate must be greater than 0"},
		{[]WireComponent{{"user", s("u")}}, []Op{{Key: "producer_byte_rate", Value: 1.5}}, "producer_byte_rate cannot be a fractional value."},
		{[]WireComponent{{"ip", nil}}, []Op{{Key: "connection_creation_rate", Value: 3e9}}, "Proposed value for connection_creation_rate is too large for an INT."},
		{[]WireComponent{{"user", s("u")}}, []Op{{Key: "request_percentage", Value: 1}, {Key: "request_percentage", Remove: true}}, "Ignoring duplicate entity ClientQuotaEntity(entries={user=u})"},
	} {
		e, err := EntityFromWire(tc.comps)
		if err == nil {
			_, _, err = Apply(e, nil, tc.ops)
		}
		if err == nil || !errors.Is(err, kerr.InvalidRequest) || err.Error() != tc.msg+": "+kerr.InvalidRequest.Error() {
			t.Errorf("%v %v: err %v, want %q", tc.comps, tc.ops, err, tc.msg)
		}
	}
	e, _ := EntityFromWire([]WireComponent{{"user", s("u")}, {"client-id", nil}})
	next, changed, err := Apply(e, map[string]float64{ProducerByteRate: 10}, []Op{{Key: ProducerByteRate, Value: 10}, {Key: ConsumerByteRate, Remove: true}, {Key: RequestPercentage, Value: 12.5}})
	if err != nil || !changed || len(next) != 2 || next[RequestPercentage] != 12.5 {
		t.Fatalf("Apply = %v %v %v", next, changed, err)
	}
	if _, changed, _ := Apply(e, next, []Op{{Key: ProducerByteRate, Value: 10}}); changed {
		t.Fatal("setting the same value changed the entity")
	}
	if e.String() != "ClientQuotaEntity(entries={client-id=null, user=u})" {
		t.Fatalf("String = %s", e)
	}
}

func TestFilter(t *testing.T) {
	s := func(v string) *string { return &v }
	if _, err := ParseFilter([]FilterComponent{{Type: "topic", MatchType: MatchSpecified}}, false); !errors.Is(err, kerr.UnsupportedVersion) {
		t.Fatalf("unknown type: %v", err)
	}
	if _, err := ParseFilter([]FilterComponent{{Type: "ip", MatchType: MatchSpecified}, {Type: "user", MatchType: MatchSpecified}}, false); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("ip with user: %v", err)
	}
	if _, err := ParseFilter([]FilterComponent{{Type: "user", MatchType: MatchExact}}, false); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("exact without match: %v", err)
	}
	f, err := ParseFilter([]FilterComponent{{Type: "user", MatchType: MatchExact, Match: s("u")}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Matches(Entity{User: Named("u"), ClientID: Named("c")}) || f.Matches(Entity{User: DefaultPart()}) {
		t.Fatal("non-strict exact match wrong")
	}
	f, _ = ParseFilter([]FilterComponent{{Type: "user", MatchType: MatchDefault}}, true)
	if !f.Matches(Entity{User: DefaultPart()}) || f.Matches(Entity{User: DefaultPart(), ClientID: Named("c")}) {
		t.Fatal("strict default match wrong")
	}
}

func TestParseOverrides(t *testing.T) {
	lookup := func(h string) ([]string, error) {
		if h == "db.local" {
			return []string{"10.0.0.7"}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: h}
	}
	got, err := ParseOverrides(" 127.0.0.1:3 , db.local:0,::1:5", lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr]int{netip.MustParseAddr("127.0.0.1"): 3, netip.MustParseAddr("10.0.0.7"): 0, netip.MustParseAddr("::1"): 5}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	for _, bad := range []string{"127.0.0.1", "127.0.0.1:x", "127.0.0.1:-1", ":4", "nowhere:1", "1.2.3.4:99999999999"} {
		if _, err := ParseOverrides(bad, lookup); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestNoQuotaNoAlloc: with no quota set, recording costs no allocation.
func TestNoQuotaNoAlloc(t *testing.T) {
	m := NewManager(DefaultConfig)
	if n := testing.AllocsPerRun(100, func() { m.Record(Produce, "ANONYMOUS", "c", 100) }); n != 0 {
		t.Fatalf("%v allocations per Record without quotas", n)
	}
	m.Set([]Entry{{Entity: Entity{ClientID: Named("x")}, Values: map[string]float64{ConsumerByteRate: 1}}})
	if n := testing.AllocsPerRun(100, func() { m.Record(Produce, "ANONYMOUS", "c", 100) }); n != 0 {
		t.Fatalf("%v allocations per Record without a produce quota", n)
	}
	_ = math.MaxInt32
}

func FuzzParseOverrides(f *testing.F) {
	for _, s := range []string{"", "127.0.0.1:3", "a:1,b:2", "::1:5", " x : 1 ,", "[::1]:2"} {
		f.Add(s)
	}
	lookup := func(h string) ([]string, error) { return nil, &net.DNSError{Err: "no lookups in fuzzing", Name: h} }
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseOverrides(s, lookup)
		if err == nil {
			for _, v := range m {
				if v < 0 {
					t.Fatalf("negative count from %q", s)
				}
			}
		}
	})
}

// BenchmarkRecordNoQuota is what a Produce or Fetch pays when no quota
// is configured: one atomic load.
func BenchmarkRecordNoQuota(b *testing.B) {
	m := NewManager(DefaultConfig)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Record(Produce, "ANONYMOUS", "c", 1000)
		}
	})
}

// BenchmarkRecordQuota is the cost with a client-id quota applying.
func BenchmarkRecordQuota(b *testing.B) {
	m := NewManager(DefaultConfig)
	m.Set([]Entry{{Entity: Entity{ClientID: Named("c")}, Values: map[string]float64{ProducerByteRate: 1e12}}})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Record(Produce, "ANONYMOUS", "c", 1000)
		}
	})
}

// TestConnectionQuotasProtectedListener: the protected (inter-broker)
// listener is admitted past max.connections and counts toward it, as in
// Kafka's ConnectionQuotas; Close wakes an Admit waiting for a slot and
// refuses later ones.
func TestConnectionQuotasProtectedListener(t *testing.T) {
	q := NewConnectionQuotas(ConnConfig{MaxConnections: 1, MaxConnectionsPerIP: -1, ProtectedListener: "INTERNAL"}, nil)
	a := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	if _, ok := q.Admit("EXTERNAL", a); !ok {
		t.Fatal("first connection refused")
	}
	if _, ok := q.Admit("INTERNAL", a); !ok {
		t.Fatal("protected listener refused at max.connections")
	}
	if _, total := q.Count(netip.MustParseAddr("127.0.0.1")); total != 2 {
		t.Fatalf("total %d, want 2: protected connections count", total)
	}
	q.Release("EXTERNAL", a)
	done := make(chan bool)
	go func() {
		_, ok := q.Admit("EXTERNAL", a) // the protected one still fills the slot
		done <- ok
	}()
	select {
	case <-done:
		t.Fatal("admitted while the protected connection fills max.connections")
	case <-time.After(100 * time.Millisecond):
	}
	q.Close()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("admitted after Close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake the waiting Admit")
	}
	if _, ok := q.Admit("INTERNAL", a); ok {
		t.Fatal("admitted after Close")
	}
}

// TestConnectionQuotasZero: max.connections=0 admits nothing but the
// protected listener (Kafka's atLeast(0) with a strict comparison); a
// negative value is no limit.
func TestConnectionQuotasZero(t *testing.T) {
	a := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	q := NewConnectionQuotas(ConnConfig{MaxConnections: 0, MaxConnectionsPerIP: -1, ProtectedListener: "INTERNAL"}, nil)
	if _, ok := q.Admit("INTERNAL", a); !ok {
		t.Fatal("protected listener refused")
	}
	done := make(chan struct{})
	go func() {
		q.Admit("EXTERNAL", a)
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("max.connections=0 admitted a connection")
	case <-time.After(100 * time.Millisecond):
	}
	q.Close()
	<-done
	u := NewConnectionQuotas(ConnConfig{MaxConnections: -1, MaxConnectionsPerIP: -1}, nil)
	for i := 0; i < 100; i++ {
		if _, ok := u.Admit("EXTERNAL", a); !ok {
			t.Fatalf("connection %d refused without a limit", i)
		}
	}
}
