package acl

import (
	"context"
	"testing"

	"samsa/controller"
)

type memStore struct{ acls []controller.ACL }

func (m *memStore) ACLs() []controller.ACL { return append([]controller.ACL(nil), m.acls...) }

func (m *memStore) AlterACLs(_ context.Context, create []controller.ACL, remove []string) ([]controller.ACL, error) {
	rm := map[string]bool{}
	for _, id := range remove {
		rm[id] = true
	}
	keep := m.acls[:0]
	for _, a := range m.acls {
		if !rm[a.ID] {
			keep = append(keep, a)
		}
	}
	m.acls = keep
	for i := range create {
		create[i].ID = string(rune('a' + len(m.acls)))
		m.acls = append(m.acls, create[i])
	}
	return create, nil
}

func allow(p string, op, rt int8, name string, pt int8) controller.ACL {
	return controller.ACL{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: p, Host: "*", Operation: op, Permission: PermAllow}
}

func TestAuthorize(t *testing.T) {
	deny := func(a controller.ACL) controller.ACL { a.Permission = PermDeny; return a }
	store := &memStore{}
	a := New(store, Config{SuperUsers: "User:admin; User:ops"})
	ctx := context.Background()
	if err := a.Create(ctx, []controller.ACL{
		allow("User:alice", OpRead, ResourceTopic, "orders", PatternLiteral),
		allow("User:alice", OpWrite, ResourceTopic, "app-", PatternPrefixed),
		deny(allow("User:alice", OpWrite, ResourceTopic, "app-secret", PatternLiteral)),
		allow("User:*", OpDescribe, ResourceTopic, "public", PatternLiteral),
		allow("User:bob", OpAll, ResourceGroup, "*", PatternLiteral),
		allow("User:carol", OpAlterConfigs, ResourceTopic, "orders", PatternLiteral),
		{ResourceType: ResourceTopic, ResourceName: "orders", PatternType: PatternLiteral, Principal: "User:dave", Host: "10.0.0.1", Operation: OpRead, Permission: PermAllow},
		deny(allow("User:eve", OpAll, ResourceTopic, "*", PatternLiteral)),
		allow("User:eve", OpRead, ResourceTopic, "orders", PatternLiteral),
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    string
		host string
		op   int8
		rt   int8
		name string
		want bool
	}{
		{"User:admin", "1.1.1.1", OpDelete, ResourceCluster, ClusterName, true},
		{"User:ops", "1.1.1.1", OpWrite, ResourceTopic, "x", true},
		{"User:alice", "1.1.1.1", OpRead, ResourceTopic, "orders", true},
		{"User:alice", "1.1.1.1", OpDescribe, ResourceTopic, "orders", true}, // READ implies DESCRIBE
		{"User:alice", "1.1.1.1", OpWrite, ResourceTopic, "orders", false},
		{"User:alice", "1.1.1.1", OpWrite, ResourceTopic, "app-logs", true},
		{"User:alice", "1.1.1.1", OpWrite, ResourceTopic, "app-secret", false},   // deny wins
		{"User:alice", "1.1.1.1", OpDescribe, ResourceTopic, "app-secret", true}, // deny WRITE does not deny DESCRIBE
		{"User:alice", "1.1.1.1", OpRead, ResourceTopic, "app-logs", false},
		{"User:zed", "1.1.1.1", OpDescribe, ResourceTopic, "public", true},
		{"User:zed", "1.1.1.1", OpRead, ResourceTopic, "public", false},
		{"User:bob", "1.1.1.1", OpRead, ResourceGroup, "any-group", true},
		{"User:bob", "1.1.1.1", OpRead, ResourceTopic, "orders", false},
		{"User:carol", "1.1.1.1", OpDescribeConfigs, ResourceTopic, "orders", true}, // ALTER_CONFIGS implies DESCRIBE_CONFIGS
		{"User:carol", "1.1.1.1", OpDescribe, ResourceTopic, "orders", false},
		{"User:dave", "10.0.0.1", OpRead, ResourceTopic, "orders", true},
		{"User:dave", "10.0.0.2", OpRead, ResourceTopic, "orders", false},
		{"User:eve", "1.1.1.1", OpRead, ResourceTopic, "orders", false}, // wildcard DENY ALL wins
		{"User:alice", "1.1.1.1", OpRead, ResourceTopic, "no-acls-here", false},
	} {
		if got := a.Authorize(c.p, c.host, c.op, c.rt, c.name); got != c.want {
			t.Errorf("%s@%s %s %s:%s = %v, want %v", c.p, c.host, opName(c.op), ResourceTypeName(c.rt), c.name, got, c.want)
		}
	}
	// allow.everyone.if.no.acl.found applies only where no ACL matches the resource.
	open := New(store, Config{AllowEveryoneIfNoACLFound: true})
	// (Every topic has eve's wildcard ACL, so only other types are open.)
	if !open.Authorize("User:x", "h", OpWrite, ResourceTransactionalID, "tx") || open.Authorize("User:x", "h", OpRead, ResourceTopic, "no-acls-here") {
		t.Error("allow.everyone.if.no.acl.found")
	}
	if !a.AuthorizeAny("User:alice", "h", OpWrite, ResourceTopic) || a.AuthorizeAny("User:eve", "h", OpWrite, ResourceTopic) || a.AuthorizeAny("User:zed", "h", OpWrite, ResourceTopic) {
		t.Error("AuthorizeAny")
	}
	// Creating an existing ACL again adds nothing; a MATCH filter finds the
	// literal, wildcard and prefixed ACLs that apply to a name.
	n := len(store.acls)
	a.Create(ctx, []controller.ACL{allow("User:alice", OpRead, ResourceTopic, "orders", PatternLiteral)})
	if len(store.acls) != n {
		t.Errorf("duplicate ACL added")
	}
	name := "app-secret"
	got := a.Describe(Filter{ResourceType: ResourceTopic, ResourceName: &name, PatternType: PatternMatch, Operation: OpAny, Permission: PermAny})
	if len(got) != 3 { // app- prefixed, app-secret literal, eve's "*"
		t.Errorf("MATCH app-secret: %+v", got)
	}
	removed, err := a.Delete(ctx, []Filter{{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermDeny}})
	if err != nil || len(removed[0]) != 2 || a.Authorize("User:alice", "h", OpWrite, ResourceTopic, "app-secret") != true {
		t.Errorf("delete DENY ACLs: %v %+v", err, removed)
	}
}

func TestValidateNew(t *testing.T) {
	ok := allow("User:a", OpRead, ResourceTopic, "t", PatternLiteral)
	for _, c := range []struct {
		mod  func(*controller.ACL)
		want string
	}{
		{func(a *controller.ACL) { a.ResourceType, a.ResourceName = ResourceCluster, "x" }, "The only valid name for the CLUSTER resource is kafka-cluster"},
		{func(a *controller.ACL) { a.ResourceName = "" }, "Invalid empty resource name"},
		{func(a *controller.ACL) { a.ResourceType = ResourceAny }, "Invalid resourceType ANY"},
		{func(a *controller.ACL) { a.PatternType = PatternMatch }, "Invalid patternType MATCH"},
		{func(a *controller.ACL) { a.Operation = OpAny }, "Invalid operation ANY"},
		{func(a *controller.ACL) { a.Permission = PermAny }, "Invalid permissionType ANY"},
		{func(a *controller.ACL) { a.Principal = "alice" }, "expected a string in format principalType:principalName but got alice"},
	} {
		a := ok
		c.mod(&a)
		if err := ValidateNew(a); err == nil || err.Error() != c.want {
			t.Errorf("%+v: %v, want %q", a, err, c.want)
		}
	}
	if err := ValidateNew(ok); err != nil {
		t.Error(err)
	}
}
