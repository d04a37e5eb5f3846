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

// ScramMechanism is Kafka's SCRAM mechanism type as AlterUserScramCredentials
// and DescribeUserScramCredentials number it (ScramMechanism.type()).
type ScramMechanism int8

// Kafka's SCRAM mechanisms.
const (
	ScramSHA256 ScramMechanism = 1
	ScramSHA512 ScramMechanism = 2
)

// Name is the mechanism's SASL name, "SCRAM-SHA-256" or "SCRAM-SHA-512";
// "" for an unknown type.
func (m ScramMechanism) Name() string {
	switch m {
	case ScramSHA256:
		return "SCRAM-SHA-256"
	case ScramSHA512:
		return "SCRAM-SHA-512"
	}
	return ""
}

// ScramMechanismByName returns the mechanism with SASL name n.
func ScramMechanismByName(n string) (ScramMechanism, bool) {
	switch n {
	case "SCRAM-SHA-256":
		return ScramSHA256, true
	case "SCRAM-SHA-512":
		return ScramSHA512, true
	}
	return 0, false
}

// ScramCredential is what a broker keeps of a SCRAM password (RFC 5802,
// Kafka's ScramCredential): never the password, only the salt, the
// iteration count, StoredKey = H(HMAC(SaltedPassword, "Client Key")) and
// ServerKey = HMAC(SaltedPassword, "Server Key").
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// ScramUpsert sets one user's credential for one mechanism.
type ScramUpsert struct {
	User       string
	Mechanism  ScramMechanism
	Credential ScramCredential
}

// ScramDelete removes one user's credential for one mechanism.
type ScramDelete struct {
	User      string
	Mechanism ScramMechanism
}

// scramKeyPrefix starts the Pebble key of a SCRAM credential:
// scram/<mechanism name>/<user>.
const scramKeyPrefix = "scram/"

type scramKey struct {
	user string
	mech ScramMechanism
}

// scramState is Single's SCRAM credentials. mu guards creds; writers also
// hold Single.writeSem, so the Pebble write and the map update of one
// change happen in order with every other mutation.
type scramState struct {
	mu    sync.RWMutex
	creds map[scramKey]ScramCredential
}

// storedScram is the JSON value of a scram/ key; []byte fields are base64.
type storedScram struct {
	Salt       []byte `json:"salt"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
	Iterations int32  `json:"iterations"`
}

func scramPebbleKey(k scramKey) []byte {
	return []byte(scramKeyPrefix + k.mech.Name() + "/" + k.user)
}

// loadScram reads one scram/ key during load.
func (s *Single) loadScram(key string, val []byte) error {
	rest := strings.TrimPrefix(key, scramKeyPrefix)
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return fmt.Errorf("SCRAM key without mechanism")
	}
	mech, ok := ScramMechanismByName(rest[:i])
	if !ok {
		return fmt.Errorf("unknown SCRAM mechanism %q", rest[:i])
	}
	var st storedScram
	if err := json.Unmarshal(val, &st); err != nil {
		return fmt.Errorf("SCRAM credential: %w", err)
	}
	if len(st.Salt) == 0 || len(st.StoredKey) == 0 || len(st.ServerKey) == 0 || st.Iterations <= 0 {
		return fmt.Errorf("SCRAM credential is incomplete")
	}
	if s.scram.creds == nil {
		s.scram.creds = map[scramKey]ScramCredential{}
	}
	s.scram.creds[scramKey{rest[i+1:], mech}] = ScramCredential(st)
	return nil
}

// ScramCredential returns user's credential for mechanism, for the SCRAM
// server (package security).
func (s *Single) ScramCredential(user string, mechanism ScramMechanism) (ScramCredential, bool) {
	s.scram.mu.RLock()
	defer s.scram.mu.RUnlock()
	c, ok := s.scram.creds[scramKey{user, mechanism}]
	return c, ok
}

// ScramUsers returns, for DescribeUserScramCredentials, every user with a
// credential and the iterations of each of its mechanisms, sorted by user.
func (s *Single) ScramUsers() map[string]map[ScramMechanism]int32 {
	s.scram.mu.RLock()
	defer s.scram.mu.RUnlock()
	return scramUsers(s.scram.creds)
}

// scramUsers is ScramUsers of both controllers: each user of creds with
// the iterations of each of its mechanisms. The caller holds the lock
// that guards creds.
func scramUsers(creds map[scramKey]ScramCredential) map[string]map[ScramMechanism]int32 {
	out := map[string]map[ScramMechanism]int32{}
	for k, c := range creds {
		if out[k.user] == nil {
			out[k.user] = map[ScramMechanism]int32{}
		}
		out[k.user][k.mech] = c.Iterations
	}
	return out
}

// AlterScramCredentials applies deletions and upsertions in one synced
// Pebble batch, so either all of them survive a crash or none. The caller
// (the AlterUserScramCredentials handler) has validated them with Kafka's
// rules; a deletion of a credential that does not exist is a no-op here.
func (s *Single) AlterScramCredentials(ctx context.Context, upserts []ScramUpsert, deletes []ScramDelete) error {
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.unlockWrite()
	err := s.db.Write(func(db *pebble.DB) error {
		b := db.NewBatch()
		defer b.Close()
		for _, d := range deletes {
			_ = b.Delete(scramPebbleKey(scramKey{d.User, d.Mechanism}), nil)
		}
		for _, u := range upserts {
			val, err := json.Marshal(storedScram(u.Credential))
			if err != nil {
				return err
			}
			_ = b.Set(scramPebbleKey(scramKey{u.User, u.Mechanism}), val, nil)
		}
		return b.Commit(pebble.Sync)
	})
	if err != nil {
		return fmt.Errorf("controller: write SCRAM credentials: %w", err)
	}
	s.scram.mu.Lock()
	defer s.scram.mu.Unlock()
	if s.scram.creds == nil {
		s.scram.creds = map[scramKey]ScramCredential{}
	}
	for _, d := range deletes {
		delete(s.scram.creds, scramKey{d.User, d.Mechanism})
	}
	for _, u := range upserts {
		s.scram.creds[scramKey{u.User, u.Mechanism}] = u.Credential
	}
	return nil
}

// reconcileScram rewrites every scram/ key from memory into b (see
// reconcile).
func (s *Single) reconcileScram(db *pebble.DB, b *pebble.Batch) error {
	hi := []byte(scramKeyPrefix)
	hi[len(hi)-1]++
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(scramKeyPrefix), UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		_ = b.Delete(append([]byte(nil), it.Key()...), nil)
	}
	if err := it.Close(); err != nil {
		return err
	}
	s.scram.mu.RLock()
	defer s.scram.mu.RUnlock()
	keys := make([]scramKey, 0, len(s.scram.creds))
	for k := range s.scram.creds {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return string(scramPebbleKey(keys[i])) < string(scramPebbleKey(keys[j])) })
	for _, k := range keys {
		val, err := json.Marshal(storedScram(s.scram.creds[k]))
		if err != nil {
			return err
		}
		_ = b.Set(scramPebbleKey(k), val, nil)
	}
	return nil
}
