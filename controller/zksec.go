package controller

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/internal/zkdata"
	"samsa/quota"
)

// Security state of a ZooKeeper cluster (issue 14), kept where and how
// Kafka 3.9's ZooKeeper mode keeps it, so that a Kafka 3.9 broker in the
// same cluster reads and writes the same znodes:
//
//   - SCRAM credentials: the SCRAM-SHA-256 / SCRAM-SHA-512 keys of
//     /config/users/<sanitized user> (ZkAdminManager
//     .alterUserScramCredentials, ScramCredentialUtils.credentialToString);
//   - client quotas: /config/users/<u>, /config/users/<u>/clients/<c>,
//     /config/clients/<c>, /config/ips/<ip> (ZkAdminManager
//     .alterClientQuotas, AdminZkClient.changeEntityConfig);
//   - both followed by /config/changes/config_change_<seq> naming the
//     entity, which every broker's watch (ZkConfigManager) reloads;
//   - ACLs: /kafka-acl/<Type>/<name> and
//     /kafka-acl-extended/prefixed/<Type>/<name>, changed conditionally on
//     the znode version and announced under /kafka-acl-changes and
//     /kafka-acl-extended-changes (AclAuthorizer).
//
// Every broker keeps a copy in memory (zkSec) that readers use; the
// writer updates its own copy at once, the others on the notification.

// zkSec is ZK's in-memory copy of the security znodes. mu guards every
// field.
type zkSec struct {
	mu     sync.RWMutex
	scram  map[scramKey]ScramCredential
	quotas map[quota.Entity]map[string]float64
	acls   map[zkdata.ACLResource][]ACL
	// lastACLChange is the newest processed acl_changes_ znode per
	// change path.
	lastACLChange map[string]string
	onQuotas      []func()
	onACLs        []func()
}

// quotaKeys are the keys of a config entity that are client quotas
// (QuotaConfigs); the others (SCRAM credentials, unknown keys) are kept
// untouched when quotas change.
var quotaKeys = []string{quota.ProducerByteRate, quota.ConsumerByteRate, quota.RequestPercentage,
	quota.ControllerMutationRate, quota.ConnectionCreationRate}

// maxZKUpdateRetries is AclAuthorizer's maxUpdateRetries: conditional
// writes that keep losing to concurrent writers give up after this many.
const maxZKUpdateRetries = 10

// zkBackoff is AclAuthorizer's backoffTime: 100 ms plus up to 50 ms jitter.
func zkBackoff(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(100*time.Millisecond + time.Duration(rand.IntN(50))*time.Millisecond):
		return nil
	}
}

// OnQuotasChanged registers fn to run after the client quotas changed
// through another broker (a /config/changes notification) or after a
// new ZooKeeper session reloaded them; it runs on the event goroutine
// and must not block. The broker's quota manager re-reads ClientQuotas.
func (z *ZK) OnQuotasChanged(fn func()) {
	z.sec.mu.Lock()
	defer z.sec.mu.Unlock()
	z.sec.onQuotas = append(z.sec.onQuotas, fn)
}

// OnACLsChanged registers fn to run after ACLs changed through another
// broker (an ACL change notification) or were reloaded; the authorizer
// re-reads ACLs there. Same rules as OnQuotasChanged.
func (z *ZK) OnACLsChanged(fn func()) {
	z.sec.mu.Lock()
	defer z.sec.mu.Unlock()
	z.sec.onACLs = append(z.sec.onACLs, fn)
}

func (z *ZK) fire(acls bool) {
	z.sec.mu.RLock()
	hooks := slices.Clone(z.sec.onQuotas)
	if acls {
		hooks = slices.Clone(z.sec.onACLs)
	}
	z.sec.mu.RUnlock()
	for _, fn := range hooks {
		fn()
	}
}

// ---------------------------------------------------------------- entities

// entityPath is the config entity of a quota entity as
// ZkAdminManager.alterClientQuotas names it: entity type "users",
// "clients" or "ips" and the sanitized name, "<u>/clients/<c>" for a user
// and client id; <default> for a default part.
func entityPath(e quota.Entity) (typ, name string, userClient bool) {
	san := func(p quota.Part) string {
		if p.Default {
			return zkdata.DefaultEntity
		}
		return zkdata.Sanitize(p.Name)
	}
	switch {
	case e.IP.Set:
		return "ips", san(e.IP), false
	case e.User.Set && e.ClientID.Set:
		return "users", san(e.User) + "/clients/" + san(e.ClientID), true
	case e.User.Set:
		return "users", san(e.User), false
	}
	return "clients", san(e.ClientID), false
}

// entityFromPath is entityPath's inverse; ok is false for a name that is
// not a quota entity of typ.
func entityFromPath(typ, name string) (quota.Entity, bool) {
	part := func(s string) (quota.Part, bool) {
		if s == zkdata.DefaultEntity {
			return quota.DefaultPart(), true
		}
		n, err := zkdata.Desanitize(s)
		if err != nil || n == "" {
			return quota.Part{}, false
		}
		return quota.Named(n), true
	}
	var e quota.Entity
	var ok bool
	switch typ {
	case "ips":
		e.IP, ok = part(name)
	case "clients":
		e.ClientID, ok = part(name)
	case "users":
		u, c, both := strings.Cut(name, "/clients/")
		if e.User, ok = part(u); ok && both {
			e.ClientID, ok = part(c)
		}
	}
	return e, ok
}

// applyEntity puts the quotas and (for a user) SCRAM credentials of one
// config entity into the maps; props nil is an entity that is gone.
func (z *ZK) applyEntity(scram map[scramKey]ScramCredential, quotas map[quota.Entity]map[string]float64, typ, name string, props map[string]string) {
	e, ok := entityFromPath(typ, name)
	if !ok {
		z.log.Warn("controller: ignoring config entity with a malformed name", "entity", typ+"/"+name)
		return
	}
	vals := map[string]float64{}
	for _, k := range quotaKeys {
		if s, ok := props[k]; ok {
			v, err := zkdata.ParseQuotaValue(s)
			if err != nil {
				z.log.Warn("controller: ignoring bad quota value", "entity", typ+"/"+name, "key", k, "err", err)
				continue
			}
			vals[k] = v
		}
	}
	if len(vals) == 0 {
		delete(quotas, e)
	} else {
		quotas[e] = vals
	}
	if typ != "users" || e.ClientID.Set || e.User.Default {
		return
	}
	for _, m := range []ScramMechanism{ScramSHA256, ScramSHA512} {
		k := scramKey{e.User.Name, m}
		s, ok := props[m.Name()]
		if !ok {
			delete(scram, k)
			continue
		}
		c, err := zkdata.ParseScramCredential(s)
		if err != nil {
			z.log.Warn("controller: ignoring bad SCRAM credential", "user", e.User.Name, "mechanism", m.Name(), "err", err)
			delete(scram, k)
			continue
		}
		scram[k] = ScramCredential{Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations}
	}
}

// readEntity returns a config entity's properties and znode version; nil
// properties and version -1 when the znode does not exist.
func (z *ZK) readEntity(typ, name string) (map[string]string, int32, error) {
	data, st, err := z.conn.Get(z.p("/config/" + typ + "/" + name))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, -1, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("controller: read config %s/%s: %w", typ, name, err)
	}
	props, err := zkdata.DecodeConfig(data)
	if err != nil {
		// Kafka's ConfigEntityZNode.decode reads a znode that is not
		// JSON as no configs (Json.parseBytes gives None); failing here
		// would hold up every later notification.
		z.log.Warn("controller: config entity znode is not Kafka's JSON; taken as empty", "entity", typ+"/"+name, "err", err)
		props = map[string]string{}
	}
	return props, st.Version, nil
}

// reloadEntity reads one config entity named by a change notification
// into memory.
func (z *ZK) reloadEntity(typ, name string) error {
	props, _, err := z.readEntity(typ, name)
	if err != nil {
		return err
	}
	z.sec.mu.Lock()
	z.applyEntity(z.sec.scram, z.sec.quotas, typ, name, props)
	z.sec.mu.Unlock()
	z.fire(false)
	return nil
}

// loadEntities reads every user, user/client, client and IP config
// entity and replaces the in-memory SCRAM credentials and quotas.
func (z *ZK) loadEntities() error {
	scram := map[scramKey]ScramCredential{}
	quotas := map[quota.Entity]map[string]float64{}
	load := func(typ, name string) error {
		props, _, err := z.readEntity(typ, name)
		if err != nil {
			return err
		}
		if props != nil {
			z.applyEntity(scram, quotas, typ, name, props)
		}
		return nil
	}
	for _, typ := range []string{"users", "clients", "ips"} {
		names, _, err := z.conn.Children(z.p("/config/" + typ))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return fmt.Errorf("controller: list config %s: %w", typ, err)
		}
		for _, n := range names {
			if err := load(typ, n); err != nil {
				return err
			}
			if typ != "users" {
				continue
			}
			clients, _, err := z.conn.Children(z.p("/config/users/" + n + "/clients"))
			if errors.Is(err, zk.ErrNoNode) {
				continue
			}
			if err != nil {
				return fmt.Errorf("controller: list clients of user %s: %w", n, err)
			}
			for _, c := range clients {
				if err := load(typ, n+"/clients/"+c); err != nil {
					return err
				}
			}
		}
	}
	z.sec.mu.Lock()
	z.sec.scram, z.sec.quotas = scram, quotas
	z.sec.mu.Unlock()
	return nil
}

// updateEntity applies modify to a config entity's properties and writes
// them back conditionally on the znode version (retrying when another
// writer got there first), then announces the change with a
// config_change_ notification, as AdminZkClient.changeEntityConfig does:
// a quota entity left without properties and without children is
// deleted (tryCleanQuotaNodes, including an emptied user's clients node
// and the user itself). The new properties are applied to this broker's
// copy before it returns.
func (z *ZK) updateEntity(ctx context.Context, typ, name string, userClient bool, modify func(map[string]string)) error {
	p := z.p("/config/" + typ + "/" + name)
	var props map[string]string
	for try := 0; ; try++ {
		if try > maxZKUpdateRetries {
			return fmt.Errorf("controller: config %s/%s kept changing concurrently", typ, name)
		}
		if try > 0 {
			if err := zkBackoff(ctx); err != nil {
				return err
			}
		}
		cur, version, err := z.readEntity(typ, name)
		if err != nil {
			return err
		}
		props = map[string]string{}
		for k, v := range cur {
			props[k] = v
		}
		modify(props)
		if len(props) == 0 {
			done, err := z.cleanEntity(typ, name, userClient, version)
			if err != nil {
				return err
			}
			if done {
				break
			}
		}
		data := zkdata.EncodeConfig(props)
		if version >= 0 {
			_, err = z.conn.Set(p, data, version)
		} else {
			if err = z.ensurePath(path.Dir(p), true); err == nil {
				_, err = z.conn.Create(p, data, 0, zk.WorldACL(zk.PermAll))
			}
		}
		if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return fmt.Errorf("controller: write config %s/%s: %w", typ, name, err)
		}
		break
	}
	if _, err := z.conn.Create(z.p(zkdata.ConfigChangesPath+"/"+zkdata.ConfigChangePrefix),
		zkdata.EncodeConfigChange(typ+"/"+name), zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		return fmt.Errorf("controller: notify config change of %s/%s: %w", typ, name, err)
	}
	if len(props) == 0 {
		props = nil
	}
	z.sec.mu.Lock()
	z.applyEntity(z.sec.scram, z.sec.quotas, typ, name, props)
	z.sec.mu.Unlock()
	return nil
}

// cleanEntity is AdminZkClient.tryCleanQuotaNodes for an entity whose
// properties became empty: when its znode has no children it is deleted
// (with the clients node and the user above it when they become empty)
// and done is true; otherwise the caller writes the empty config.
func (z *ZK) cleanEntity(typ, name string, userClient bool, version int32) (done bool, err error) {
	p := z.p("/config/" + typ + "/" + name)
	if version < 0 {
		return true, nil // nothing there
	}
	children, _, err := z.conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("controller: list %s/%s: %w", typ, name, err)
	}
	if len(children) > 0 {
		return false, nil
	}
	if err := z.conn.Delete(p, version); err != nil && !errors.Is(err, zk.ErrNoNode) {
		if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNotEmpty) {
			return false, nil
		}
		return false, fmt.Errorf("controller: delete %s/%s: %w", typ, name, err)
	}
	if !userClient {
		return true, nil
	}
	user, _, _ := strings.Cut(name, "/")
	clientsPath := z.p("/config/users/" + user + "/clients")
	if err := z.conn.Delete(clientsPath, -1); err != nil {
		return true, nil // not empty, or gone: either way the entity is
	}
	userProps, uv, err := z.readEntity("users", user)
	if err == nil && len(userProps) == 0 && uv >= 0 {
		_ = z.conn.Delete(z.p("/config/users/"+user), uv)
	}
	return true, nil
}

// ---------------------------------------------------------------- SCRAM

// ScramCredential returns user's credential for mechanism, for the SCRAM
// server (package security); it comes from this broker's copy of
// /config/users, current within the notification delay.
func (z *ZK) ScramCredential(user string, mechanism ScramMechanism) (ScramCredential, bool) {
	z.sec.mu.RLock()
	defer z.sec.mu.RUnlock()
	c, ok := z.sec.scram[scramKey{user, mechanism}]
	return c, ok
}

// ScramUsers returns every user with a SCRAM credential and the
// iterations of each of its mechanisms, for DescribeUserScramCredentials
// (ZkAdminManager.describeUserScramCredentials, which any broker serves).
func (z *ZK) ScramUsers() map[string]map[ScramMechanism]int32 {
	z.sec.mu.RLock()
	defer z.sec.mu.RUnlock()
	return scramUsers(z.sec.scram)
}

// AlterScramCredentials writes each user's credentials into the
// SCRAM-SHA-256 / SCRAM-SHA-512 keys of /config/users/<sanitized user>
// (other keys, such as the user's quotas, stay) and notifies every
// broker, one user after the other as ZkAdminManager
// .alterUserScramCredentials does: a failure leaves the users before it
// changed. The handler only calls it on the active controller, as Kafka
// 3.9 answers NOT_CONTROLLER elsewhere.
func (z *ZK) AlterScramCredentials(ctx context.Context, upserts []ScramUpsert, deletes []ScramDelete) error {
	var users []string
	seen := map[string]bool{}
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			users = append(users, u)
		}
	}
	for _, d := range deletes {
		add(d.User)
	}
	for _, u := range upserts {
		add(u.User)
	}
	for _, user := range users {
		err := z.updateEntity(ctx, "users", zkdata.Sanitize(user), false, func(props map[string]string) {
			for _, d := range deletes {
				if d.User == user {
					delete(props, d.Mechanism.Name())
				}
			}
			for _, u := range upserts {
				if u.User == user {
					c := u.Credential
					props[u.Mechanism.Name()] = zkdata.ScramCredential{Salt: c.Salt, StoredKey: c.StoredKey,
						ServerKey: c.ServerKey, Iterations: c.Iterations}.String()
				}
			}
		})
		if err != nil {
			return fmt.Errorf("controller: SCRAM credentials of %q: %w", user, err)
		}
	}
	return nil
}

// ---------------------------------------------------------------- quotas

// ClientQuotas returns every client quota entity with its values (a deep
// copy), as this broker last read them from the config entities.
func (z *ZK) ClientQuotas() []quota.Entry {
	z.sec.mu.RLock()
	defer z.sec.mu.RUnlock()
	out := make([]quota.Entry, 0, len(z.sec.quotas))
	for e, vals := range z.sec.quotas {
		cp := make(map[string]float64, len(vals))
		for k, v := range vals {
			cp[k] = v
		}
		out = append(out, quota.Entry{Entity: e, Values: cp})
	}
	quota.SortEntries(out)
	return out
}

// SetClientQuotas writes each entity's quotas into its config entity
// (values as ZkAdminManager.alterClientQuotas formats them; other keys
// such as SCRAM credentials stay) and notifies every broker, one entity
// after the other as Kafka 3.9 does; an entity left with no keys is
// deleted. Any broker serves it. Like Kafka's, which applies the
// request's ops to the znode it just read, only the keys whose value
// differs from this broker's copy are written or removed: a key another
// broker changed meanwhile, whose notification has not arrived yet, is
// not undone.
func (z *ZK) SetClientQuotas(ctx context.Context, entries []quota.Entry) error {
	for _, e := range entries {
		typ, name, userClient := entityPath(e.Entity)
		z.sec.mu.RLock()
		old := z.sec.quotas[e.Entity]
		z.sec.mu.RUnlock()
		err := z.updateEntity(ctx, typ, name, userClient, func(props map[string]string) {
			for k := range old {
				if _, keep := e.Values[k]; !keep {
					delete(props, k)
				}
			}
			for k, v := range e.Values {
				if ov, ok := old[k]; !ok || ov != v {
					props[k] = zkdata.FormatQuotaValue(k, v)
				}
			}
		})
		if err != nil {
			return fmt.Errorf("controller: client quotas of %s: %w", e.Entity, err)
		}
	}
	return nil
}

// ---------------------------------------------------------------- ACLs

// aclID is the id an ACL gets here. Kafka's ZooKeeper AclAuthorizer has
// no ACL ids, but package acl deletes by id, so the id is derived from
// the binding itself (22 characters of unpadded URL-safe base64 of the
// first 16 bytes of its SHA-256): every broker computes the same id for
// the same ACL, before and after a restart.
func aclID(a ACL) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%d\x00%s\x00%s\x00%s\x00%d\x00%d", a.ResourceType, a.PatternType, a.ResourceName,
		a.Principal, a.Host, a.Operation, a.Permission)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

func aclsOf(r zkdata.ACLResource, entries []zkdata.ACLEntry) []ACL {
	out := make([]ACL, 0, len(entries))
	for _, e := range entries {
		a := ACL{ResourceType: r.ResourceType, ResourceName: r.Name, PatternType: r.PatternType,
			Principal: e.Principal, Host: e.Host, Operation: e.Operation, Permission: e.Permission}
		a.ID = aclID(a)
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return slices.CompactFunc(out, func(a, b ACL) bool { return a.ID == b.ID })
}

func resourceOf(a ACL) zkdata.ACLResource {
	return zkdata.ACLResource{ResourceType: a.ResourceType, PatternType: a.PatternType, Name: a.ResourceName}
}

func entryOf(a ACL) zkdata.ACLEntry {
	return zkdata.ACLEntry{Principal: a.Principal, Host: a.Host, Operation: a.Operation, Permission: a.Permission}
}

// ACLs returns every ACL, sorted by id.
func (z *ZK) ACLs() []ACL {
	z.sec.mu.RLock()
	defer z.sec.mu.RUnlock()
	var out []ACL
	for _, as := range z.sec.acls {
		out = append(out, as...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// readACLs returns a resource's entries and znode version (-1 when it
// has no znode).
func (z *ZK) readACLs(r zkdata.ACLResource) ([]zkdata.ACLEntry, int32, error) {
	p, err := zkdata.ACLResourcePath(r)
	if err != nil {
		return nil, 0, err
	}
	data, st, err := z.conn.Get(z.p(p))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, -1, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("controller: read %s: %w", p, err)
	}
	entries, err := zkdata.DecodeACLs(data)
	if err != nil {
		return nil, 0, fmt.Errorf("controller: %s: %w", p, err)
	}
	return entries, st.Version, nil
}

// AlterACLs adds create and removes the ACLs with the ids in remove,
// resource by resource as AclAuthorizer.updateResourceAcls does: read
// the resource's znode, write the new set conditionally on its version
// (creating it, or deleting it when no ACL is left), retry up to 10 times
// when another broker changed it meanwhile, then create an ACL change
// notification so that every broker reloads the resource. Ids are
// aclID's; created ACLs are returned with theirs. A resource name
// ZooKeeper cannot hold as a znode name (containing '/') fails with
// kerr.InvalidRequest, as Kafka 3.9 fails on the znode path.
func (z *ZK) AlterACLs(ctx context.Context, create []ACL, remove []string) ([]ACL, error) {
	type change struct {
		add    []ACL
		remove map[string]bool
	}
	changes := map[zkdata.ACLResource]*change{}
	var order []zkdata.ACLResource
	get := func(r zkdata.ACLResource) *change {
		c, ok := changes[r]
		if !ok {
			c = &change{remove: map[string]bool{}}
			changes[r] = c
			order = append(order, r)
		}
		return c
	}
	created := make([]ACL, len(create))
	for i, a := range create {
		a.ID = aclID(a)
		created[i] = a
		if _, err := zkdata.ACLResourcePath(resourceOf(a)); err != nil {
			return nil, fmt.Errorf("%v: %w", err, kerr.InvalidRequest)
		}
		c := get(resourceOf(a))
		c.add = append(c.add, a)
	}
	z.sec.mu.RLock()
	byID := map[string]ACL{}
	for _, as := range z.sec.acls {
		for _, a := range as {
			byID[a.ID] = a
		}
	}
	z.sec.mu.RUnlock()
	for _, id := range remove {
		if a, ok := byID[id]; ok {
			get(resourceOf(a)).remove[id] = true
		}
	}
	for _, r := range order {
		c := changes[r]
		if err := z.updateResourceACLs(ctx, r, func(cur []ACL) []ACL {
			next := slices.DeleteFunc(slices.Clone(cur), func(a ACL) bool { return c.remove[a.ID] })
			return append(next, c.add...)
		}); err != nil {
			return nil, err
		}
	}
	return created, nil
}

// updateResourceACLs is AclAuthorizer.updateResourceAcls for one resource.
func (z *ZK) updateResourceACLs(ctx context.Context, r zkdata.ACLResource, modify func([]ACL) []ACL) error {
	p, err := zkdata.ACLResourcePath(r)
	if err != nil {
		return fmt.Errorf("%v: %w", err, kerr.InvalidRequest)
	}
	var next []ACL
	for try := 0; ; try++ {
		if try > maxZKUpdateRetries {
			return fmt.Errorf("controller: failed to update ACLs for %s after trying a maximum of %d times", p, maxZKUpdateRetries)
		}
		if try > 0 {
			if err := zkBackoff(ctx); err != nil {
				return err
			}
		}
		entries, version, err := z.readACLs(r)
		if err != nil {
			return err
		}
		cur := aclsOf(r, entries)
		next = aclsOf(r, func() []zkdata.ACLEntry {
			var es []zkdata.ACLEntry
			for _, a := range modify(cur) {
				es = append(es, entryOf(a))
			}
			return es
		}())
		if slices.Equal(cur, next) {
			z.setResourceACLs(r, cur)
			return nil
		}
		es := make([]zkdata.ACLEntry, len(next))
		for i, a := range next {
			es[i] = entryOf(a)
		}
		switch {
		case len(next) == 0:
			err = z.conn.Delete(z.p(p), version)
		case version >= 0:
			_, err = z.conn.Set(z.p(p), zkdata.EncodeACLs(es), version)
		default:
			_, err = z.conn.Create(z.p(p), zkdata.EncodeACLs(es), 0, zk.WorldACL(zk.PermAll))
			if errors.Is(err, zk.ErrNoNode) { // the type's parent is missing
				if err = z.ensurePath(path.Dir(z.p(p)), true); err == nil {
					continue
				}
			}
		}
		if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return fmt.Errorf("controller: write ACLs of %s: %w", p, err)
		}
		break
	}
	z.setResourceACLs(r, next)
	changes, data := zkdata.EncodeACLChange(r)
	if _, err := z.conn.Create(z.p(changes+"/"+zkdata.ACLChangePrefix), data, zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		return fmt.Errorf("controller: notify ACL change of %s: %w", p, err)
	}
	z.log.Info("controller: updated ACLs", "resource", p, "acls", len(next))
	return nil
}

func (z *ZK) setResourceACLs(r zkdata.ACLResource, acls []ACL) {
	z.sec.mu.Lock()
	defer z.sec.mu.Unlock()
	if len(acls) == 0 {
		delete(z.sec.acls, r)
	} else {
		z.sec.acls[r] = acls
	}
}

// loadACLs reads every resource under /kafka-acl and
// /kafka-acl-extended/prefixed (AclAuthorizer.loadCache) and marks the
// existing change notifications processed. A resource znode that does
// not decode is logged and skipped, as is an unknown resource type.
func (z *ZK) loadACLs() error {
	acls := map[zkdata.ACLResource][]ACL{}
	last := map[string]string{}
	for _, cp := range []string{zkdata.LiteralACLChangesPath, zkdata.ExtendedACLChangesPath} {
		children, _, err := z.conn.Children(z.p(cp))
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("controller: list %s: %w", cp, err)
		}
		sort.Strings(children)
		if len(children) > 0 {
			last[cp] = children[len(children)-1]
		}
	}
	for _, pt := range []int8{3, 4} {
		root, _ := zkdata.ACLRootPath(pt)
		types, _, err := z.conn.Children(z.p(root))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return fmt.Errorf("controller: list %s: %w", root, err)
		}
		for _, tn := range types {
			rt, ok := zkdata.ResourceTypeByName(tn)
			if !ok {
				z.log.Warn("controller: ignoring ACLs of unknown resource type", "path", root+"/"+tn)
				continue
			}
			names, _, err := z.conn.Children(z.p(root + "/" + tn))
			if err != nil && !errors.Is(err, zk.ErrNoNode) {
				return fmt.Errorf("controller: list %s/%s: %w", root, tn, err)
			}
			for _, n := range names {
				r := zkdata.ACLResource{ResourceType: rt, PatternType: pt, Name: n}
				entries, _, err := z.readACLs(r)
				if err != nil {
					z.log.Error("controller: skipping unreadable ACL znode", "path", root+"/"+tn+"/"+n, "err", err)
					continue
				}
				if len(entries) > 0 {
					acls[r] = aclsOf(r, entries)
				}
			}
		}
	}
	z.sec.mu.Lock()
	z.sec.acls, z.sec.lastACLChange = acls, last
	z.sec.mu.Unlock()
	return nil
}

// watchACLChanges processes the notifications under changesPath newer
// than the last processed one and returns the watch for the next, like
// watchConfigChanges (ZkNodeChangeNotificationListener); the retry
// channel fires after configRetryBackoff when ZooKeeper could not be
// read.
func (z *ZK) watchACLChanges(changesPath string) <-chan zk.Event {
	children, _, ch, err := z.conn.ChildrenW(z.p(changesPath))
	if err != nil {
		z.log.Warn("controller: watching ACL changes failed; retrying", "path", changesPath, "err", err)
		return z.retryConfigChanges()
	}
	sort.Strings(children)
	z.sec.mu.RLock()
	last := z.sec.lastACLChange[changesPath]
	z.sec.mu.RUnlock()
	changed := false
	defer func() {
		if changed {
			z.fire(true)
		}
	}()
	for _, c := range children {
		if !strings.HasPrefix(c, zkdata.ACLChangePrefix) || c <= last {
			continue
		}
		if err := z.applyACLChange(changesPath, c); err != nil {
			z.log.Warn("controller: processing ACL change failed; retrying", "znode", c, "err", err)
			return z.retryConfigChanges()
		}
		changed = true
		z.sec.mu.Lock()
		z.sec.lastACLChange[changesPath] = c
		z.sec.mu.Unlock()
	}
	z.sec.mu.RLock()
	last = z.sec.lastACLChange[changesPath]
	z.sec.mu.RUnlock()
	z.purgeChanges(changesPath, zkdata.ACLChangePrefix, children, last)
	return ch
}

// applyACLChange reloads the resource one notification names. A
// notification already purged or undecodable is skipped.
func (z *ZK) applyACLChange(changesPath, c string) error {
	data, _, err := z.conn.Get(z.p(changesPath + "/" + c))
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", c, err)
	}
	var r zkdata.ACLResource
	if changesPath == zkdata.LiteralACLChangesPath {
		r, err = zkdata.DecodeLiteralACLChange(data)
	} else {
		r, err = zkdata.DecodeExtendedACLChange(data)
	}
	if err != nil {
		z.log.Warn("controller: ignoring bad ACL change notification", "znode", changesPath+"/"+c, "err", err)
		return nil
	}
	entries, _, err := z.readACLs(r)
	if err != nil {
		if errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) || errors.Is(err, zk.ErrSessionExpired) {
			return err
		}
		z.log.Warn("controller: ignoring ACL change of unreadable resource", "znode", changesPath+"/"+c, "err", err)
		return nil
	}
	z.setResourceACLs(r, aclsOf(r, entries))
	return nil
}
