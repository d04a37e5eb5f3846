package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"samsa/quota"
)

// quotaKeyPrefix starts the key of every client quota entity.
const quotaKeyPrefix = "quota/"

// quotaKey is "quota/" and the entity's parts in the order user,
// client-id, ip, joined with '/': "type=<name>" with the name
// URL-path-escaped, or the bare type for the default entity, e.g.
// "quota/user=alice/client-id" is user alice with the default client id.
func quotaKey(e quota.Entity) string {
	var b strings.Builder
	b.WriteString(quotaKeyPrefix)
	for i, p := range e.Parts() {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(p.Type)
		if !p.Part.Default {
			b.WriteByte('=')
			b.WriteString(url.PathEscape(p.Part.Name))
		}
	}
	return b.String()
}

// quotaDoc is the stored value: the entity as on the wire (a null name
// is the default) and its quota values.
type quotaDoc struct {
	Entity map[string]*string `json:"entity"`
	Quotas map[string]float64 `json:"quotas"`
}

func encodeQuota(e quota.Entry) ([]byte, error) {
	d := quotaDoc{Entity: map[string]*string{}, Quotas: e.Values}
	for _, p := range e.Entity.Parts() {
		d.Entity[p.Type] = p.Part.NamePtr()
	}
	return json.Marshal(d)
}

func decodeQuota(key string, val []byte) (quota.Entry, error) {
	var d quotaDoc
	if err := json.Unmarshal(val, &d); err != nil {
		return quota.Entry{}, err
	}
	comps := make([]quota.WireComponent, 0, len(d.Entity))
	for t, n := range d.Entity {
		comps = append(comps, quota.WireComponent{Type: t, Name: n})
	}
	e, err := quota.StoredEntity(comps)
	if err != nil {
		return quota.Entry{}, err
	}
	if quotaKey(e) != key {
		return quota.Entry{}, fmt.Errorf("entity %s does not match its key", e)
	}
	if len(d.Quotas) == 0 {
		return quota.Entry{}, fmt.Errorf("no quotas")
	}
	return quota.Entry{Entity: e, Values: d.Quotas}, nil
}

// ClientQuotas returns every stored client quota entity with its values
// (a deep copy).
func (s *Single) ClientQuotas() []quota.Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]quota.Entry, 0, len(s.quotas))
	for e, vals := range s.quotas {
		cp := make(map[string]float64, len(vals))
		for k, v := range vals {
			cp[k] = v
		}
		out = append(out, quota.Entry{Entity: e, Values: cp})
	}
	quota.SortEntries(out)
	return out
}

// SetClientQuotas replaces the values of each entity given (an empty
// Values removes the entity) in one synced batch, so that an
// AlterClientQuotas request is applied whole or not at all. Validation
// is the caller's (quota.Apply).
func (s *Single) SetClientQuotas(ctx context.Context, entries []quota.Entry) error {
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.unlockWrite()
	err := s.db.Write(func(db *pebble.DB) error {
		b := db.NewBatch()
		defer b.Close()
		for _, e := range entries {
			k := []byte(quotaKey(e.Entity))
			if len(e.Values) == 0 {
				_ = b.Delete(k, nil)
				continue
			}
			val, err := encodeQuota(e)
			if err != nil {
				return err
			}
			_ = b.Set(k, val, nil)
		}
		return b.Commit(pebble.Sync)
	})
	if err != nil {
		return fmt.Errorf("controller: write client quotas: %w", err)
	}
	s.mu.Lock()
	for _, e := range entries {
		if len(e.Values) == 0 {
			delete(s.quotas, e.Entity)
			continue
		}
		cp := make(map[string]float64, len(e.Values))
		for k, v := range e.Values {
			cp[k] = v
		}
		s.quotas[e.Entity] = cp
	}
	s.mu.Unlock()
	return nil
}

// reconcileQuotas rewrites the quota keys of a reopened store from
// memory, like reconcile does for topics.
func (s *Single) reconcileQuotas(db *pebble.DB, b *pebble.Batch) error {
	want := map[string][]byte{}
	for _, e := range s.ClientQuotas() {
		val, err := encodeQuota(e)
		if err != nil {
			return err
		}
		want[quotaKey(e.Entity)] = val
	}
	hi := []byte(quotaKeyPrefix)
	hi[len(hi)-1]++
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(quotaKeyPrefix), UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if _, ok := want[string(it.Key())]; !ok {
			_ = b.Delete(append([]byte(nil), it.Key()...), nil)
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	for k, v := range want {
		_ = b.Set([]byte(k), v, nil)
	}
	return nil
}
