package controller

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// QuotaEntityPart is one part of a client quota entity: Type is "user",
// "client-id" or "ip"; a nil Name is the default entity of that type
// (Kafka's <default>).
type QuotaEntityPart struct {
	Type string  `json:"type"`
	Name *string `json:"name"`
}

// ClientQuota is the quota values (producer_byte_rate, ...) of one entity,
// its parts sorted by type. Kafka's ClientQuotaRecord, kept per entity.
type ClientQuota struct {
	Entity []QuotaEntityPart  `json:"entity"`
	Values map[string]float64 `json:"values"`
}

// QuotaEntityKey is a canonical string for an entity (parts sorted by
// type), used as map key and, base64url-encoded, in the Pebble key.
func QuotaEntityKey(parts []QuotaEntityPart) string {
	sorted := append([]QuotaEntityPart(nil), parts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Type < sorted[j].Type })
	var b strings.Builder
	for _, p := range sorted {
		b.WriteString(p.Type)
		if p.Name == nil {
			b.WriteString("\x00")
		} else {
			b.WriteString("=" + *p.Name)
		}
		b.WriteString("\x01")
	}
	return b.String()
}

// quotaKeyPrefix starts the Pebble key of a client quota:
// quota/<base64url of QuotaEntityKey>.
const quotaKeyPrefix = "quota/"

func quotaPebbleKey(entityKey string) []byte {
	return []byte(quotaKeyPrefix + base64.RawURLEncoding.EncodeToString([]byte(entityKey)))
}

// quotaState is Single's client quotas. mu guards byEntity; writers also
// hold writeSem.
type quotaState struct {
	mu       sync.RWMutex
	byEntity map[string]ClientQuota
}

func (s *Single) loadQuota(key string, val []byte) error {
	var q ClientQuota
	if err := json.Unmarshal(val, &q); err != nil {
		return fmt.Errorf("client quota: %w", err)
	}
	ek := QuotaEntityKey(q.Entity)
	if string(quotaPebbleKey(ek)) != key || len(q.Values) == 0 {
		return fmt.Errorf("client quota does not check out")
	}
	if s.quotas.byEntity == nil {
		s.quotas.byEntity = map[string]ClientQuota{}
	}
	s.quotas.byEntity[ek] = q
	return nil
}

// ClientQuotas returns every entity's quotas.
func (s *Single) ClientQuotas() []ClientQuota {
	s.quotas.mu.RLock()
	defer s.quotas.mu.RUnlock()
	out := make([]ClientQuota, 0, len(s.quotas.byEntity))
	for _, q := range s.quotas.byEntity {
		out = append(out, ClientQuota{Entity: append([]QuotaEntityPart(nil), q.Entity...), Values: maps.Clone(q.Values)})
	}
	sort.Slice(out, func(i, j int) bool { return QuotaEntityKey(out[i].Entity) < QuotaEntityKey(out[j].Entity) })
	return out
}

// SetClientQuotas replaces the values of each given entity (no values:
// the entity's quotas are removed) in one synced batch. The caller
// (AlterClientQuotas) has validated them.
func (s *Single) SetClientQuotas(ctx context.Context, quotas []ClientQuota) error {
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.unlockWrite()
	err := s.db.Write(func(db *pebble.DB) error {
		b := db.NewBatch()
		defer b.Close()
		for _, q := range quotas {
			k := quotaPebbleKey(QuotaEntityKey(q.Entity))
			if len(q.Values) == 0 {
				_ = b.Delete(k, nil)
				continue
			}
			val, err := json.Marshal(q)
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
	s.quotas.mu.Lock()
	defer s.quotas.mu.Unlock()
	if s.quotas.byEntity == nil {
		s.quotas.byEntity = map[string]ClientQuota{}
	}
	for _, q := range quotas {
		ek := QuotaEntityKey(q.Entity)
		if len(q.Values) == 0 {
			delete(s.quotas.byEntity, ek)
		} else {
			s.quotas.byEntity[ek] = ClientQuota{Entity: append([]QuotaEntityPart(nil), q.Entity...), Values: maps.Clone(q.Values)}
		}
	}
	return nil
}

// reconcileQuotas rewrites every quota/ key from memory into b.
func (s *Single) reconcileQuotas(db *pebble.DB, b *pebble.Batch) error {
	hi := []byte(quotaKeyPrefix)
	hi[len(hi)-1]++
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(quotaKeyPrefix), UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		_ = b.Delete(append([]byte(nil), it.Key()...), nil)
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, q := range s.ClientQuotas() {
		val, err := json.Marshal(q)
		if err != nil {
			return err
		}
		_ = b.Set(quotaPebbleKey(QuotaEntityKey(q.Entity)), val, nil)
	}
	return nil
}
