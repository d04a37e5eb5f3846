package quota

import (
	"context"
	"testing"
	"time"

	"samsa/controller"
)

type memStore struct{ q []controller.ClientQuota }

func (m *memStore) ClientQuotas() []controller.ClientQuota { return m.q }
func (m *memStore) SetClientQuotas(_ context.Context, qs []controller.ClientQuota) error {
	for _, q := range qs {
		k := controller.QuotaEntityKey(q.Entity)
		kept := m.q[:0]
		for _, x := range m.q {
			if controller.QuotaEntityKey(x.Entity) != k {
				kept = append(kept, x)
			}
		}
		m.q = kept
		if len(q.Values) > 0 {
			m.q = append(m.q, q)
		}
	}
	return nil
}

func TestPrecedenceAndThrottle(t *testing.T) {
	m := New(&memStore{}, Window{Samples: 2, Size: time.Second})
	ctx := context.Background()
	user := func(n *string) controller.QuotaEntityPart { return controller.QuotaEntityPart{Type: "user", Name: n} }
	client := func(n *string) controller.QuotaEntityPart {
		return controller.QuotaEntityPart{Type: "client-id", Name: n}
	}
	set := func(v float64, parts ...controller.QuotaEntityPart) {
		if err := m.Alter(ctx, [][]controller.QuotaEntityPart{parts}, [][]Op{{{Key: ProducerByteRate, Value: v}}}); err != nil {
			t.Fatal(err)
		}
	}
	set(1000, user(nil))                            // default user
	set(2000, user(sp("alice")))                    // alice
	set(3000, user(sp("alice")), client(sp("app"))) // alice's app
	set(4000, client(sp("app")))                    // client-id app
	for _, c := range []struct {
		principal, client string
		want              float64
		user, ctag        string
	}{
		{"User:alice", "app", 3000, "alice", "app"},
		{"User:alice", "other", 2000, "alice", ""},
		{"User:bob", "app", 1000, "bob", ""},
		{"User:bob", "x", 1000, "bob", ""},
	} {
		u := c.principal[5:]
		got, ut, ct, ok := m.resolve(ProducerByteRate, u, c.client)
		if !ok || got != c.want || ut != c.user || ct != c.ctag {
			t.Errorf("%s/%s: %v %q %q %v, want %v", c.principal, c.client, got, ut, ct, ok, c.want)
		}
	}
	// 1000 B/s over a 1 s minimum window: 1000 bytes at once are within,
	// 3000 more are 2x over for a throttle of 3 s ((4000-1000)/1000 * 1 s).
	now := time.Unix(1000, 0)
	if th := m.Record(ProducerByteRate, "User:bob", "x", 1000, now); th != 0 {
		t.Errorf("within quota: throttle %d", th)
	}
	if th := m.Record(ProducerByteRate, "User:bob", "x", 3000, now); th != 3000 {
		t.Errorf("over quota: throttle %d ms, want 3000", th)
	}
	// bob's other client shares the default-user sensor (tags user=bob).
	if th := m.Record(ProducerByteRate, "User:bob", "y", 1, now); th == 0 {
		t.Error("another client of the same user is not throttled")
	}
	// After the window has passed the rate is back under the quota.
	if th := m.Record(ProducerByteRate, "User:bob", "x", 10, now.Add(5*time.Second)); th != 0 {
		t.Errorf("after the window: throttle %d", th)
	}
	// Removing a value removes the entity when it was the last.
	if err := m.Alter(ctx, [][]controller.QuotaEntityPart{{user(nil)}}, [][]Op{{{Key: ProducerByteRate, Remove: true}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := m.resolve(ProducerByteRate, "bob", "x"); ok {
		t.Error("removed default still applies")
	}
}

func TestValidate(t *testing.T) {
	u := controller.QuotaEntityPart{Type: "user", Name: sp("a")}
	ip := controller.QuotaEntityPart{Type: "ip", Name: sp("10.0.0.1")}
	for _, c := range []struct {
		entity []controller.QuotaEntityPart
		ops    []Op
		want   string
	}{
		{nil, nil, "Invalid empty client quota entity"},
		{[]controller.QuotaEntityPart{u, u}, nil, "Invalid client quota entity, duplicate entity entry user"},
		{[]controller.QuotaEntityPart{{Type: "group", Name: sp("g")}}, nil, "Unhandled client quota entity type: group"},
		{[]controller.QuotaEntityPart{{Type: "user", Name: sp("")}}, nil, "Empty user not supported"},
		{[]controller.QuotaEntityPart{u, ip}, nil, "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId"},
		{[]controller.QuotaEntityPart{u}, []Op{{Key: "connection_creation_rate", Value: 1}}, "Invalid configuration key connection_creation_rate"},
		{[]controller.QuotaEntityPart{u}, []Op{{Key: ProducerByteRate, Value: 0}}, "Quota producer_byte_rate must be greater than 0"},
		{[]controller.QuotaEntityPart{u}, []Op{{Key: ProducerByteRate, Value: 1.5}}, "producer_byte_rate cannot be a fractional value."},
		{[]controller.QuotaEntityPart{ip}, []Op{{Key: ConnectionCreationRate, Value: 1e10}}, "Proposed value for connection_creation_rate is too large for an INT."},
	} {
		if err := Validate(c.entity, c.ops); err == nil || err.Error() != c.want {
			t.Errorf("%+v %+v: %v, want %q", c.entity, c.ops, err, c.want)
		}
	}
	if err := Validate([]controller.QuotaEntityPart{u}, []Op{{Key: RequestPercentage, Value: 12.5}}); err != nil {
		t.Error(err)
	}
}
