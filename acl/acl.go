package acl

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"samsa/controller"
)

// Resource types, pattern types, operations and permission types, with
// Kafka's wire numbers (org.apache.kafka.common.resource.ResourceType,
// PatternType, acl.AclOperation, acl.AclPermissionType).
const (
	ResourceUnknown         int8 = 0
	ResourceAny             int8 = 1
	ResourceTopic           int8 = 2
	ResourceGroup           int8 = 3
	ResourceCluster         int8 = 4
	ResourceTransactionalID int8 = 5
	ResourceDelegationToken int8 = 6
	ResourceUser            int8 = 7

	PatternUnknown  int8 = 0
	PatternAny      int8 = 1
	PatternMatch    int8 = 2
	PatternLiteral  int8 = 3
	PatternPrefixed int8 = 4

	OpUnknown         int8 = 0
	OpAny             int8 = 1
	OpAll             int8 = 2
	OpRead            int8 = 3
	OpWrite           int8 = 4
	OpCreate          int8 = 5
	OpDelete          int8 = 6
	OpAlter           int8 = 7
	OpDescribe        int8 = 8
	OpClusterAction   int8 = 9
	OpDescribeConfigs int8 = 10
	OpAlterConfigs    int8 = 11
	OpIdempotentWrite int8 = 12
	OpCreateTokens    int8 = 13
	OpDescribeTokens  int8 = 14

	PermUnknown int8 = 0
	PermAny     int8 = 1
	PermDeny    int8 = 2
	PermAllow   int8 = 3
)

// ClusterName is the name of the one CLUSTER resource (Kafka's
// CLUSTER_NAME).
const ClusterName = "kafka-cluster"

// Wildcard is the resource name, principal name and host matching any.
const Wildcard = "*"

// Store keeps ACLs; controller.Single and controller.ZK implement it.
type Store interface {
	ACLs() []controller.ACL
	AlterACLs(ctx context.Context, create []controller.ACL, remove []string) ([]controller.ACL, error)
}

// Filter selects ACLs, Kafka's AclBindingFilter: nil strings match any;
// ResourceType ANY, PatternType ANY or MATCH, Operation ANY and
// Permission ANY match any.
type Filter struct {
	ResourceType int8
	ResourceName *string
	PatternType  int8
	Principal    *string
	Host         *string
	Operation    int8
	Permission   int8
}

// Matches is Kafka's AclBindingFilter.matches. With PatternType MATCH a
// name matches the literal ACL of that name, the literal wildcard ACL and
// every prefixed ACL the name starts with.
func (f Filter) Matches(a controller.ACL) bool {
	if f.ResourceType != ResourceAny && f.ResourceType != a.ResourceType {
		return false
	}
	if f.PatternType != PatternAny && f.PatternType != PatternMatch && f.PatternType != a.PatternType {
		return false
	}
	if f.ResourceName != nil {
		name := *f.ResourceName
		if f.PatternType == PatternAny || f.PatternType == a.PatternType {
			if name != a.ResourceName {
				return false
			}
		} else {
			switch a.PatternType {
			case PatternLiteral:
				if name != a.ResourceName && a.ResourceName != Wildcard {
					return false
				}
			case PatternPrefixed:
				if !strings.HasPrefix(name, a.ResourceName) {
					return false
				}
			default:
				return false
			}
		}
	}
	if f.Principal != nil && *f.Principal != a.Principal {
		return false
	}
	if f.Host != nil && *f.Host != a.Host {
		return false
	}
	if f.Operation != OpAny && f.Operation != a.Operation {
		return false
	}
	return f.Permission == PermAny || f.Permission == a.Permission
}

// ValidateFilter rejects a filter with UNKNOWN parts, as Kafka's
// DescribeAclsRequest and DeleteAclsRequest do.
func ValidateFilter(f Filter) error {
	if f.ResourceType == ResourceUnknown || f.ResourceType > ResourceUser || f.ResourceType < 0 {
		return fmt.Errorf("filter contains UNKNOWN resource type")
	}
	if f.PatternType == PatternUnknown || f.PatternType > PatternPrefixed || f.PatternType < 0 {
		return fmt.Errorf("filter contains UNKNOWN pattern type")
	}
	if f.Operation == OpUnknown || f.Operation > OpDescribeTokens || f.Operation < 0 {
		return fmt.Errorf("filter contains UNKNOWN operation")
	}
	if f.Permission == PermUnknown || f.Permission > PermAllow || f.Permission < 0 {
		return fmt.Errorf("filter contains UNKNOWN permission type")
	}
	return nil
}

// ValidateNew checks an ACL to create with Kafka's rules (AclApis and
// AclControlManager.validateNewAcl), in Kafka's order and words.
func ValidateNew(a controller.ACL) error {
	if a.ResourceType == ResourceCluster && a.ResourceName != ClusterName {
		return fmt.Errorf("The only valid name for the CLUSTER resource is %s", ClusterName)
	}
	if a.ResourceName == "" {
		return fmt.Errorf("Invalid empty resource name")
	}
	if a.ResourceType <= ResourceAny || a.ResourceType > ResourceUser {
		return fmt.Errorf("Invalid resourceType %s", ResourceTypeName(a.ResourceType))
	}
	if a.PatternType != PatternLiteral && a.PatternType != PatternPrefixed {
		return fmt.Errorf("Invalid patternType %s", patternName(a.PatternType))
	}
	if a.Operation <= OpAny || a.Operation > OpDescribeTokens {
		return fmt.Errorf("Invalid operation %s", opName(a.Operation))
	}
	if a.Permission != PermAllow && a.Permission != PermDeny {
		return fmt.Errorf("Invalid permissionType %s", permName(a.Permission))
	}
	if i := strings.IndexByte(a.Principal, ':'); i < 0 {
		return fmt.Errorf("expected a string in format principalType:principalName but got %s", a.Principal)
	}
	return nil
}

// ResourceTypeName is Kafka's ResourceType name, e.g. TOPIC.
func ResourceTypeName(t int8) string {
	return pick(t, "UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER")
}

func patternName(t int8) string { return pick(t, "UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED") }

func opName(t int8) string {
	return pick(t, "UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "CLUSTER_ACTION",
		"DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS")
}

func permName(t int8) string { return pick(t, "UNKNOWN", "ANY", "DENY", "ALLOW") }

func pick(t int8, names ...string) string {
	if t < 0 || int(t) >= len(names) {
		return "UNKNOWN"
	}
	return names[t]
}

// Authorizer decides requests with Kafka's StandardAuthorizer semantics:
//
//   - a principal in super.users may do anything;
//   - otherwise the ACLs matching the resource are those of its type whose
//     pattern is the literal name, the literal wildcard "*", or a prefix
//     of the name; of these, the ones for the principal (or User:*) and
//     the host (or "*") decide: a DENY for the operation (or ALL) denies,
//     whatever allows; else an ALLOW for the operation, for ALL, or one
//     that implies it (READ, WRITE, DELETE and ALTER imply DESCRIBE;
//     ALTER_CONFIGS implies DESCRIBE_CONFIGS) allows;
//   - when no ACL at all matches the resource (whoever it is for),
//     allow.everyone.if.no.acl.found decides (default false: deny).
//
// It keeps every ACL in memory (mu) and writes changes through Store.
type Authorizer struct {
	store        Store
	superUsers   map[string]bool
	allowIfNoACL bool
	log          *slog.Logger

	mu   sync.RWMutex // guards acls; held shared by Authorize
	acls []controller.ACL
	// alterMu serializes CreateAcls and DeleteAcls, which read the ACLs,
	// decide, then write.
	alterMu sync.Mutex
}

// Config configures an Authorizer from Kafka's keys.
type Config struct {
	// SuperUsers is super.users: principals separated by ';'.
	SuperUsers string
	// AllowEveryoneIfNoACLFound is allow.everyone.if.no.acl.found.
	AllowEveryoneIfNoACLFound bool
	Logger                    *slog.Logger
}

// New returns an Authorizer over store, loaded with its ACLs.
func New(store Store, cfg Config) *Authorizer {
	a := &Authorizer{store: store, superUsers: map[string]bool{}, allowIfNoACL: cfg.AllowEveryoneIfNoACLFound, log: cfg.Logger}
	if a.log == nil {
		a.log = slog.Default()
	}
	for _, p := range strings.Split(cfg.SuperUsers, ";") {
		if p = strings.TrimSpace(p); p != "" {
			a.superUsers[p] = true
		}
	}
	a.acls = store.ACLs()
	return a
}

// Authorize reports whether principal, connected from host, may do op on
// the resource of type rt called name. Denials of explicitly requested
// resources are logged by the caller.
func (a *Authorizer) Authorize(principal, host string, op, rt int8, name string) bool {
	if a.superUsers[principal] {
		return true
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	found, allowed := false, false
	for i := range a.acls {
		acl := &a.acls[i]
		if acl.ResourceType != rt || !resourceMatches(acl, name) {
			continue
		}
		found = true
		if acl.Principal != principal && acl.Principal != "User:*" {
			continue
		}
		if acl.Host != Wildcard && acl.Host != host {
			continue
		}
		if acl.Permission == PermDeny {
			if acl.Operation == OpAll || acl.Operation == op {
				return false
			}
			continue
		}
		if opAllows(acl.Operation, op) {
			allowed = true
		}
	}
	if !found {
		return a.allowIfNoACL
	}
	return allowed
}

func resourceMatches(acl *controller.ACL, name string) bool {
	switch acl.PatternType {
	case PatternLiteral:
		return acl.ResourceName == name || acl.ResourceName == Wildcard
	case PatternPrefixed:
		return strings.HasPrefix(name, acl.ResourceName)
	}
	return false
}

func opAllows(aclOp, op int8) bool {
	if aclOp == OpAll || aclOp == op {
		return true
	}
	switch op {
	case OpDescribe:
		return aclOp == OpRead || aclOp == OpWrite || aclOp == OpDelete || aclOp == OpAlter
	case OpDescribeConfigs:
		return aclOp == OpAlterConfigs
	}
	return false
}

// IsSuperUser reports whether principal is in super.users.
func (a *Authorizer) IsSuperUser(principal string) bool { return a.superUsers[principal] }

// Describe returns the ACLs matching f.
func (a *Authorizer) Describe(f Filter) []controller.ACL {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []controller.ACL
	for _, acl := range a.acls {
		if f.Matches(acl) {
			out = append(out, acl)
		}
	}
	return out
}

// Create adds ACLs already checked with ValidateNew. One that equals an
// existing ACL (all fields but the id) is not added again, as Kafka.
func (a *Authorizer) Create(ctx context.Context, acls []controller.ACL) error {
	a.alterMu.Lock()
	defer a.alterMu.Unlock()
	a.mu.RLock()
	have := map[controller.ACL]bool{}
	for _, x := range a.acls {
		x.ID = ""
		have[x] = true
	}
	a.mu.RUnlock()
	var add []controller.ACL
	for _, x := range acls {
		x.ID = ""
		if !have[x] {
			have[x] = true
			add = append(add, x)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if _, err := a.store.AlterACLs(ctx, add, nil); err != nil {
		return err
	}
	a.reload()
	return nil
}

// Delete removes the ACLs matching each filter and returns, per filter,
// what it removed (an ACL matching several filters is listed under each).
func (a *Authorizer) Delete(ctx context.Context, filters []Filter) ([][]controller.ACL, error) {
	a.alterMu.Lock()
	defer a.alterMu.Unlock()
	out := make([][]controller.ACL, len(filters))
	ids := map[string]bool{}
	var remove []string
	for i, f := range filters {
		out[i] = a.Describe(f)
		for _, x := range out[i] {
			if !ids[x.ID] {
				ids[x.ID] = true
				remove = append(remove, x.ID)
			}
		}
	}
	if len(remove) == 0 {
		return out, nil
	}
	if _, err := a.store.AlterACLs(ctx, nil, remove); err != nil {
		return nil, err
	}
	a.reload()
	return out, nil
}

// Reload re-reads every ACL from the store: a ZooKeeper cluster's
// controller calls it when another broker changed ACLs (Kafka's
// AclAuthorizer.processAclChangeNotification).
func (a *Authorizer) Reload() { a.reload() }

func (a *Authorizer) reload() {
	acls := a.store.ACLs()
	a.mu.Lock()
	a.acls = acls
	a.mu.Unlock()
}

// AuthorizeAny reports whether principal may do op on some resource of
// type rt, as Kafka's authorizeByResourceType (used for InitProducerId
// without a transactional id: WRITE on any topic): an ALLOW ACL for the
// principal (or User:*), host and operation exists, and no DENY ACL for
// them has the same pattern, or denies every resource of the type (a
// literal "*" or an empty prefix).
func (a *Authorizer) AuthorizeAny(principal, host string, op, rt int8) bool {
	if a.superUsers[principal] {
		return true
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	applies := func(acl *controller.ACL) bool {
		return acl.ResourceType == rt && (acl.Principal == principal || acl.Principal == "User:*") &&
			(acl.Host == Wildcard || acl.Host == host)
	}
	type pattern struct {
		name string
		pt   int8
	}
	denied := map[pattern]bool{}
	for i := range a.acls {
		x := &a.acls[i]
		if applies(x) && x.Permission == PermDeny && (x.Operation == op || x.Operation == OpAll) {
			if x.PatternType == PatternLiteral && x.ResourceName == Wildcard || x.PatternType == PatternPrefixed && x.ResourceName == "" {
				return false
			}
			denied[pattern{x.ResourceName, x.PatternType}] = true
		}
	}
	for i := range a.acls {
		x := &a.acls[i]
		if applies(x) && x.Permission == PermAllow && (x.Operation == op || x.Operation == OpAll) && !denied[pattern{x.ResourceName, x.PatternType}] {
			return true
		}
	}
	return a.allowIfNoACL && !a.hasAnyOfType(rt)
}

func (a *Authorizer) hasAnyOfType(rt int8) bool {
	for i := range a.acls {
		if a.acls[i].ResourceType == rt {
			return true
		}
	}
	return false
}
