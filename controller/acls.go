package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// ACL is one access control entry bound to a resource pattern, Kafka's
// AclBinding (and StandardAcl), with Kafka's wire numbering for the
// enumerations (package acl names them). ID is Kafka's ACL UUID in its
// 22-character base64 form; it is assigned by CreateACLs.
type ACL struct {
	ID           string `json:"id"`
	ResourceType int8   `json:"resource_type"`
	ResourceName string `json:"resource_name"`
	PatternType  int8   `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    int8   `json:"operation"`
	Permission   int8   `json:"permission"`
}

// aclKeyPrefix starts the Pebble key of an ACL: acl/<id>.
const aclKeyPrefix = "acl/"

// aclState is Single's ACLs. mu guards byID; writers also hold writeSem.
type aclState struct {
	mu   sync.RWMutex
	byID map[string]ACL
}

func (s *Single) loadACL(key string, val []byte) error {
	var a ACL
	if err := json.Unmarshal(val, &a); err != nil {
		return fmt.Errorf("ACL: %w", err)
	}
	if a.ID != strings.TrimPrefix(key, aclKeyPrefix) || a.ResourceName == "" || a.Principal == "" {
		return fmt.Errorf("ACL does not check out")
	}
	if s.acls.byID == nil {
		s.acls.byID = map[string]ACL{}
	}
	s.acls.byID[a.ID] = a
	return nil
}

// ACLs returns every ACL, sorted by id.
func (s *Single) ACLs() []ACL {
	s.acls.mu.RLock()
	defer s.acls.mu.RUnlock()
	out := make([]ACL, 0, len(s.acls.byID))
	for _, a := range s.acls.byID {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// AlterACLs adds create (ids assigned here, returned in order) and removes
// the ACLs with the ids in remove, in one synced batch. The caller (the
// CreateAcls and DeleteAcls handlers, through package acl) has validated
// them and dropped creations that duplicate an existing ACL.
func (s *Single) AlterACLs(ctx context.Context, create []ACL, remove []string) ([]ACL, error) {
	if err := s.lockWrite(ctx); err != nil {
		return nil, err
	}
	defer s.unlockWrite()
	s.acls.mu.RLock()
	taken := func(id TopicID) bool { _, ok := s.acls.byID[id.String()]; return ok }
	created := make([]ACL, len(create))
	for i, a := range create {
		a.ID = randomUUID(taken).String()
		created[i] = a
	}
	s.acls.mu.RUnlock()
	err := s.db.Write(func(db *pebble.DB) error {
		b := db.NewBatch()
		defer b.Close()
		for _, id := range remove {
			_ = b.Delete([]byte(aclKeyPrefix+id), nil)
		}
		for _, a := range created {
			val, err := json.Marshal(a)
			if err != nil {
				return err
			}
			_ = b.Set([]byte(aclKeyPrefix+a.ID), val, nil)
		}
		return b.Commit(pebble.Sync)
	})
	if err != nil {
		return nil, fmt.Errorf("controller: write ACLs: %w", err)
	}
	s.acls.mu.Lock()
	defer s.acls.mu.Unlock()
	if s.acls.byID == nil {
		s.acls.byID = map[string]ACL{}
	}
	for _, id := range remove {
		delete(s.acls.byID, id)
	}
	for _, a := range created {
		s.acls.byID[a.ID] = a
	}
	return created, nil
}

// reconcileACLs rewrites every acl/ key from memory into b (see reconcile).
func (s *Single) reconcileACLs(db *pebble.DB, b *pebble.Batch) error {
	hi := []byte(aclKeyPrefix)
	hi[len(hi)-1]++
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(aclKeyPrefix), UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		_ = b.Delete(append([]byte(nil), it.Key()...), nil)
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, a := range s.ACLs() {
		val, err := json.Marshal(a)
		if err != nil {
			return err
		}
		_ = b.Set([]byte(aclKeyPrefix+a.ID), val, nil)
	}
	return nil
}
