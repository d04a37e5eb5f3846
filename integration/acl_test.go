package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"samsa/embed"
	"samsa/internal/testcerts"
)

func startACLBroker(t *testing.T, dir string) (plainAddr, saslAddr string, b *embed.Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embed.Start(ctx, embed.Config{
		DataDir:   dir,
		Listeners: "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		Properties: []string{
			"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
			"super.users=User:admin",
			"sasl.enabled.mechanisms=PLAIN",
			`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-pw" user_alice="alice-pw" user_bob="bob-pw";`,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b.Addrs()[0], b.Addrs()[1], b
}

func userClient(t *testing.T, addr, user string, opts ...kgo.Opt) *kgo.Client {
	return newClient(t, addr, append(opts, kgo.SASL(plain.Auth{User: user, Pass: user + "-pw"}.AsMechanism()), kgo.RetryTimeout(2*time.Second))...)
}

// TestACLs: with the authorizer on, a user may do only what ACLs grant,
// a DENY wins over an ALLOW, topics a user may not describe are hidden,
// super users and ACL changes persist across a restart, and the ACL APIs
// need cluster permissions.
func TestACLs(t *testing.T) {
	dir := t.TempDir()
	plainAddr, saslAddr, b := startACLBroker(t, dir)
	ctx := ctxT(t)
	adminCl := userClient(t, saslAddr, "admin")
	admin := kadm.NewClient(adminCl)
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "acl-orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, "secret"); err != nil {
		t.Fatal(err)
	}

	alice := userClient(t, saslAddr, "alice", kgo.DefaultProduceTopic("acl-orders"))
	produce := func(cl *kgo.Client) error {
		return cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
	}
	if err := produce(alice); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce without ACLs: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// ANONYMOUS on PLAINTEXT may do nothing either.
	if _, err := kadm.NewClient(newClient(t, plainAddr, kgo.RetryTimeout(time.Second))).CreateTopic(ctx, 1, 1, nil, "anon"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("anonymous create: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	res, err := admin.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("acl-orders").Groups("g1").
		Operations(kadm.OpWrite, kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("create ACL: %v", r.Err)
		}
	}
	if err := produce(alice); err != nil {
		t.Fatalf("produce with WRITE: %v", err)
	}
	consumer := userClient(t, saslAddr, "alice", kgo.ConsumeTopics("acl-orders"), kgo.ConsumerGroup("g1"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := consumer.PollRecords(ctx, 1)
	if err := fs.Err0(); err != nil || fs.NumRecords() != 1 {
		t.Fatalf("consume with READ: %v, %d records", err, fs.NumRecords())
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit with READ on group: %v", err)
	}

	// Metadata for all topics hides "secret"; asking for it by name is refused.
	aliceAdm := kadm.NewClient(alice)
	md, err := aliceAdm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := md.Topics["secret"]; ok {
		t.Error("alice sees topic secret in metadata")
	}
	if _, ok := md.Topics["acl-orders"]; !ok {
		t.Error("alice does not see acl-orders (READ implies DESCRIBE)")
	}
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("secret")
	req.Topics = append(req.Topics, rt)
	mresp, err := req.RequestWith(ctx, alice)
	if err != nil || len(mresp.Topics) != 1 || mresp.Topics[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("metadata for secret: %v %+v", err, mresp)
	}

	// bob may not read alice's group; the ACL APIs need cluster rights.
	bob := userClient(t, saslAddr, "bob")
	if _, err := kadm.NewClient(bob).FetchOffsets(ctx, "g1"); !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Errorf("bob fetching g1's offsets: %v, want GROUP_AUTHORIZATION_FAILED", err)
	}
	if d, err := describeAllACLs(ctx, alice); err != nil || d.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("alice describing ACLs: %v %+v, want CLUSTER_AUTHORIZATION_FAILED", err, d)
	}

	// DENY on a prefix wins over the literal ALLOW.
	if _, err := admin.CreateACLs(ctx, kadm.NewACLs().Deny("User:alice").Topics("acl-").Operations(kadm.OpWrite).
		ResourcePatternType(kadm.ACLPatternPrefixed)); err != nil {
		t.Fatal(err)
	}
	if err := produce(alice); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce under a prefixed DENY: %v", err)
	}
	desc, err := describeAllACLs(ctx, adminCl)
	if err != nil || desc.ErrorCode != 0 {
		t.Fatal(err, desc)
	}
	n := 0
	for _, r := range desc.Resources {
		n += len(r.ACLs)
	}
	if n != 5 { // alice: WRITE and READ on acl-orders and on g1, DENY WRITE on acl-*
		t.Errorf("described %d ACLs, want 5: %+v", n, desc)
	}

	// ACLs survive a restart; deleting the DENY lets alice write again.
	b.Close()
	_, saslAddr, _ = startACLBroker(t, dir)
	adminCl = userClient(t, saslAddr, "admin")
	del := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourcePatternType, f.Operation, f.PermissionType = kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeDeny
	del.Filters = append(del.Filters, f)
	dresp, err := del.RequestWith(ctx, adminCl)
	if err != nil || len(dresp.Results) != 1 || len(dresp.Results[0].MatchingACLs) != 1 || dresp.Results[0].MatchingACLs[0].ResourceName != "acl-" {
		t.Fatalf("delete the DENY: %v %+v", err, dresp)
	}
	if err := produce(userClient(t, saslAddr, "alice", kgo.DefaultProduceTopic("acl-orders"))); err != nil {
		t.Fatalf("produce after the DENY was deleted and a restart: %v", err)
	}
}

// TestACLsSecurityDisabled: without authorizer.class.name the ACL APIs
// answer SECURITY_DISABLED, as Kafka.
func TestACLsSecurityDisabled(t *testing.T) {
	b := startSecureBroker(t, t.TempDir(), testcertsCA(t))
	d, err := describeAllACLs(ctxT(t), newClient(t, b.plain))
	if err != nil || d.ErrorCode != kerr.SecurityDisabled.Code {
		t.Errorf("DescribeAcls without an authorizer: %v %+v, want SECURITY_DISABLED", err, d)
	}
}

func testcertsCA(t *testing.T) *testcerts.CA { return testcerts.NewCA(t) }

func describeAllACLs(ctx context.Context, cl *kgo.Client) (*kmsg.DescribeACLsResponse, error) {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	return req.RequestWith(ctx, cl)
}
