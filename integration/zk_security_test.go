package integration

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"samsa/internal/testbroker"
	"samsa/internal/zktest"
)

// zkSecCluster is a three-broker ZooKeeper cluster whose brokers also
// listen on SASL_PLAINTEXT (PLAIN users admin, alice, bob from the JAAS
// config, SCRAM users from ZooKeeper) with the ACL authorizer on.
// PLAINTEXT is the inter-broker listener; its User:ANONYMOUS is a super
// user, as the brokers themselves need to be.
type zkSecCluster struct {
	*zkCluster
	sasl map[int32]string
}

// startZKSecCluster starts the cluster, with extra broker properties.
func startZKSecCluster(t *testing.T, extra ...string) *zkSecCluster {
	t.Helper()
	zs := zktest.Start(t)
	c := &zkSecCluster{zkCluster: &zkCluster{t: t, zk: zs, brokers: map[int32]*testbroker.Broker{}}, sasl: map[int32]string{}}
	for id := int32(1); id <= 3; id++ {
		port, saslPort := testbroker.FreePort(t), testbroker.FreePort(t)
		c.sasl[id] = fmt.Sprintf("127.0.0.1:%d", saslPort)
		c.brokers[id] = testbroker.StartOnPort(t, testbroker.Binary, port, append([]string{
			"zookeeper.connect=" + zs.Addr + "/kafka",
			"broker.id=" + strconv.Itoa(int(id)),
			"zookeeper.session.timeout.ms=" + strconv.Itoa(zkSessionMs),
			"controlled.shutdown.retry.backoff.ms=500",
			"offsets.topic.num.partitions=3",
			fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d", port, saslPort),
			"inter.broker.listener.name=PLAINTEXT",
			"sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
			`listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-pw" user_alice="alice-pw" user_bob="bob-pw";`,
			"authorizer.class.name=kafka.security.authorizer.AclAuthorizer",
			"super.users=User:ANONYMOUS;User:admin"}, extra...)...)
	}
	conn, _, err := zk.Connect([]string{zs.Addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	c.conn = conn
	c.waitAgree("cluster formed", 30*time.Second, func(m *kmsg.MetadataResponse) bool {
		return len(m.Brokers) == 3 && m.ControllerID > 0
	})
	return c
}

// saslRequest sends req to exactly the broker at addr, authenticated
// with mech.
func saslRequest[R kmsg.Response](t *testing.T, addr string, mech sasl.Mechanism, req kmsg.Request, opts ...kgo.Opt) R {
	t.Helper()
	resp, err := trySASLRequest(addr, mech, req, opts...)
	if err != nil {
		t.Fatalf("%s to %s: %v", kmsg.NameForKey(req.Key()), addr, err)
	}
	return resp.(R)
}

func trySASLRequest(addr string, mech sasl.Mechanism, req kmsg.Request, opts ...kgo.Opt) (kmsg.Response, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RequestRetries(0), kgo.SASL(mech)}, opts...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cl.SeedBrokers()[0].Request(ctx, req)
}

func plainUser(u string) sasl.Mechanism { return plain.Auth{User: u, Pass: u + "-pw"}.AsMechanism() }

// topicErrorAt is the error code of topic in a Metadata answer from the
// broker at saslAddr to user.
func topicErrorAt(t *testing.T, saslAddr, user, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp := saslRequest[*kmsg.MetadataResponse](t, saslAddr, plainUser(user), req)
	if len(resp.Topics) != 1 {
		t.Fatalf("metadata for %s: %d topics", topic, len(resp.Topics))
	}
	return resp.Topics[0].ErrorCode
}

// waitWithin polls cond every 20 ms for up to timeout and returns how long
// it took; it fails the test when cond never holds.
func waitWithin(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// changeNotifications returns the data of every child of a change path.
func (c *zkSecCluster) changeNotifications(path string) []string {
	c.t.Helper()
	children, _, err := c.conn.Children("/kafka" + path)
	if err != nil {
		c.t.Fatalf("children of %s: %v", path, err)
	}
	sort.Strings(children)
	var out []string
	for _, ch := range children {
		data, _ := c.get(path + "/" + ch)
		out = append(out, ch+"="+string(data))
	}
	return out
}

func containsSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, "="+suffix) {
			return true
		}
	}
	return false
}

// parseKafkaScram parses a SCRAM credential value the way Kafka's
// ScramCredentialUtils.credentialFromString does: comma-separated
// key=value tokens, exactly the four keys, java.util.Base64 values.
func parseKafkaScram(t *testing.T, s string) (salt, storedKey, serverKey []byte, iterations int) {
	t.Helper()
	props := map[string]string{}
	for _, tok := range strings.Split(s, ",") {
		i := strings.IndexByte(tok, '=')
		if i <= 0 {
			t.Fatalf("credential %q: token %q", s, tok)
		}
		props[tok[:i]] = tok[i+1:]
	}
	if len(props) != 4 {
		t.Fatalf("credential %q: %d keys", s, len(props))
	}
	dec := func(k string) []byte {
		b, err := base64.StdEncoding.DecodeString(props[k])
		if err != nil {
			t.Fatalf("credential %q: %s: %v", s, k, err)
		}
		return b
	}
	it, err := strconv.Atoi(props["iterations"])
	if err != nil {
		t.Fatalf("credential %q: iterations: %v", s, err)
	}
	return dec("salt"), dec("stored_key"), dec("server_key"), it
}

func scramLogin(addr, user, pass string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestRetries(0), kgo.RetryTimeout(time.Second),
		kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = cl.SeedBrokers()[0].Request(ctx, kmsg.NewPtrApiVersionsRequest())
	return err
}

// TestZKClusterSecurity: SCRAM credentials, ACLs and client quotas of a
// ZooKeeper cluster live in Kafka 3.9's znodes, in Kafka's formats;
// whatever is changed through one broker applies on the others within a
// second (change notifications), and a restarted broker reads it all
// back from ZooKeeper.
func TestZKClusterSecurity(t *testing.T) {
	c := startZKSecCluster(t)
	m := c.waitAgree("controller known", 10*time.Second, func(m *kmsg.MetadataResponse) bool { return m.ControllerID > 0 })
	ctrl := m.ControllerID
	other := int32(1)
	if ctrl == 1 {
		other = 2
	}
	ctx := ctxT(t)
	admin := kadm.NewClient(newClient(t, c.brokers[1].Addr()))
	if _, err := admin.CreateTopic(ctx, 1, 3, nil, "zksec-orders"); err != nil {
		t.Fatal(err)
	}
	c.waitAgree("topic everywhere", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return partitionOf(m, "zksec-orders", 0).Leader > 0
	})

	t.Run("SCRAM", func(t *testing.T) {
		salt := []byte("zksec-salt-0123456789")
		salted := func(pass string) []byte {
			k, err := pbkdf2.Key(sha512.New, pass, salt, 4096, sha512.Size)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		// Kafka 3.9: only the controller alters credentials.
		req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
		up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = "zk user@x", 2, 4096, salt, salted("pw-1")
		req.Upsertions = append(req.Upsertions, up)
		resp := request[*kmsg.AlterUserSCRAMCredentialsResponse](t, c.brokers[other].Addr(), req)
		if len(resp.Results) != 1 || resp.Results[0].ErrorCode != kerr.NotController.Code {
			t.Fatalf("AlterUserScramCredentials at broker %d (controller %d): %+v", other, ctrl, resp.Results)
		}

		// Through broker 1 (kadm forwards to the controller).
		t0 := time.Now()
		res, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "zk user@x", Mechanism: kadm.ScramSha512,
			Iterations: 4096, Salt: salt, SaltedPassword: salted("pw-1")}})
		if err != nil || res.Error() != nil {
			t.Fatalf("AlterUserSCRAMs: %v %v", err, res.Error())
		}
		data, _ := c.get("/config/users/zk%20user%40x")
		var znode struct {
			Version int               `json:"version"`
			Config  map[string]string `json:"config"`
		}
		if err := json.Unmarshal(data, &znode); err != nil || znode.Version != 1 || len(znode.Config) != 1 {
			t.Fatalf("/config/users/zk%%20user%%40x = %s (%v)", data, err)
		}
		cred := znode.Config["SCRAM-SHA-512"]
		if !regexp.MustCompile(`^salt=[A-Za-z0-9+/]+=*,stored_key=[A-Za-z0-9+/]+=*,server_key=[A-Za-z0-9+/]+=*,iterations=4096$`).MatchString(cred) {
			t.Fatalf("SCRAM-SHA-512 = %q, not ScramCredentialUtils.credentialToString's shape", cred)
		}
		gotSalt, stored, server, it := parseKafkaScram(t, cred)
		mac := func(key []byte, msg string) []byte {
			h := hmac.New(sha512.New, key)
			h.Write([]byte(msg))
			return h.Sum(nil)
		}
		clientKey := sha512.Sum512(mac(salted("pw-1"), "Client Key"))
		if !bytes.Equal(gotSalt, salt) || !bytes.Equal(stored, clientKey[:]) || !bytes.Equal(server, mac(salted("pw-1"), "Server Key")) || it != 4096 {
			t.Fatalf("credential does not hold RFC 5802's keys of the password: %q", cred)
		}
		if n := c.changeNotifications("/config/changes"); !containsSuffix(n, `{"version":2,"entity_path":"users/zk%20user%40x"}`) {
			t.Fatalf("no change notification for the user: %v", n)
		}
		for id := int32(1); id <= 3; id++ {
			took := waitWithin(t, fmt.Sprintf("login at broker %d", id), 2*time.Second, func() bool { return scramLogin(c.sasl[id], "zk user@x", "pw-1") == nil })
			t.Logf("SCRAM user usable at broker %d %v after the znode checks, %v after the AlterUserScramCredentials request", id, took, time.Since(t0))
		}
		if err := scramLogin(c.sasl[3], "zk user@x", "wrong"); err == nil {
			t.Fatal("wrong password accepted")
		}
		// Described by any broker (ZkAdminManager.describeUserScramCredentials).
		dresp := request[*kmsg.DescribeUserSCRAMCredentialsResponse](t, c.brokers[other].Addr(), kmsg.NewPtrDescribeUserSCRAMCredentialsRequest())
		if len(dresp.Results) != 1 || dresp.Results[0].User != "zk user@x" || len(dresp.Results[0].CredentialInfos) != 1 ||
			dresp.Results[0].CredentialInfos[0].Iterations != 4096 {
			t.Fatalf("DescribeUserScramCredentials at broker %d: %+v", other, dresp.Results)
		}

		// A user kept for the restart below.
		if res, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "keeper", Mechanism: kadm.ScramSha512,
			Iterations: 4096, Password: "keep-pw"}}); err != nil || res.Error() != nil {
			t.Fatalf("AlterUserSCRAMs keeper: %v %v", err, res.Error())
		}

		// Deleted, refused everywhere, and the emptied znode is gone
		// (AdminZkClient.tryCleanQuotaNodes).
		res, err = admin.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "zk user@x", Mechanism: kadm.ScramSha512}}, nil)
		if err != nil || res.Error() != nil {
			t.Fatalf("delete: %v %v", err, res.Error())
		}
		for id := int32(1); id <= 3; id++ {
			waitWithin(t, fmt.Sprintf("refused at broker %d", id), 2*time.Second, func() bool { return scramLogin(c.sasl[id], "zk user@x", "pw-1") != nil })
		}
		if ok, _, _ := c.conn.Exists("/kafka/config/users/zk%20user%40x"); ok {
			t.Fatal("/config/users/zk%20user%40x still exists with no config")
		}
	})

	t.Run("ACLs", func(t *testing.T) {
		if code := topicErrorAt(t, c.sasl[3], "alice", "zksec-orders"); code != kerr.TopicAuthorizationFailed.Code {
			t.Fatalf("alice before any ACL: error %d", code)
		}
		create := func(addr string, rt kmsg.ACLResourceType, name string, pt kmsg.ACLResourcePatternType, principal string) {
			req := kmsg.NewPtrCreateACLsRequest()
			cr := kmsg.NewCreateACLsRequestCreation()
			cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = rt, name, pt
			cr.Principal, cr.Host, cr.Operation, cr.PermissionType = principal, "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
			req.Creations = append(req.Creations, cr)
			resp := request[*kmsg.CreateACLsResponse](t, addr, req)
			if len(resp.Results) != 1 || resp.Results[0].ErrorCode != 0 {
				t.Fatalf("CreateAcls at %s: %+v", addr, resp.Results)
			}
		}
		t0 := time.Now()
		create(c.brokers[1].Addr(), kmsg.ACLResourceTypeTopic, "zksec-orders", kmsg.ACLResourcePatternTypeLiteral, "User:alice")
		data, _ := c.get("/kafka-acl/Topic/zksec-orders")
		if want := `{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow","operation":"Read","host":"*"}]}`; string(data) != want {
			t.Fatalf("/kafka-acl/Topic/zksec-orders = %s, want %s", data, want)
		}
		if n := c.changeNotifications("/kafka-acl-changes"); !containsSuffix(n, "TOPIC:zksec-orders") {
			t.Fatalf("/kafka-acl-changes: %v", n)
		}
		took := waitWithin(t, "ACL enforced on broker 3", time.Second, func() bool { return topicErrorAt(t, c.sasl[3], "alice", "zksec-orders") == 0 })
		t.Logf("ACL added through broker 1 allowed alice on broker 3 %v after the znode checks, %v after the CreateAcls request", took, time.Since(t0))
		if code := topicErrorAt(t, c.sasl[3], "bob", "zksec-orders"); code != kerr.TopicAuthorizationFailed.Code {
			t.Fatalf("bob without an ACL: error %d", code)
		}

		// A second ACL on the same resource: a conditional update of the
		// same znode; it stays for the restart below.
		create(c.brokers[2].Addr(), kmsg.ACLResourceTypeTopic, "zksec-orders", kmsg.ACLResourcePatternTypeLiteral, "User:bob")
		data, st := c.get("/kafka-acl/Topic/zksec-orders")
		if st.Version != 1 || !strings.Contains(string(data), `"principal":"User:bob"`) || !strings.Contains(string(data), `"principal":"User:alice"`) {
			t.Fatalf("after the second ACL: version %d, %s", st.Version, data)
		}

		// Prefixed ACLs live under /kafka-acl-extended/prefixed.
		create(c.brokers[2].Addr(), kmsg.ACLResourceTypeGroup, "zksec-", kmsg.ACLResourcePatternTypePrefixed, "User:alice")
		data, _ = c.get("/kafka-acl-extended/prefixed/Group/zksec-")
		if want := `{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow","operation":"Read","host":"*"}]}`; string(data) != want {
			t.Fatalf("/kafka-acl-extended/prefixed/Group/zksec- = %s", data)
		}
		if n := c.changeNotifications("/kafka-acl-extended-changes"); !containsSuffix(n, `{"version":1,"resourceType":"GROUP","name":"zksec-","patternType":"PREFIXED"}`) {
			t.Fatalf("/kafka-acl-extended-changes: %v", n)
		}
		dreq := kmsg.NewPtrDescribeACLsRequest()
		dreq.ResourceType, dreq.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
		dreq.Operation, dreq.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		waitWithin(t, "three ACLs described by broker 3", time.Second, func() bool {
			d := request[*kmsg.DescribeACLsResponse](t, c.brokers[3].Addr(), dreq)
			n := 0
			for _, r := range d.Resources {
				n += len(r.ACLs)
			}
			return d.ErrorCode == 0 && n == 3
		})

		// Removed through broker 2: denied on broker 3 again.
		del := kmsg.NewPtrDeleteACLsRequest()
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourceName, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.StringPtr("zksec-orders"), kmsg.ACLResourcePatternTypeLiteral
		f.Principal, f.Operation, f.PermissionType = kmsg.StringPtr("User:alice"), kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		del.Filters = append(del.Filters, f)
		t0 = time.Now()
		dresp := request[*kmsg.DeleteACLsResponse](t, c.brokers[2].Addr(), del)
		if len(dresp.Results) != 1 || dresp.Results[0].ErrorCode != 0 || len(dresp.Results[0].MatchingACLs) != 1 {
			t.Fatalf("DeleteAcls: %+v", dresp.Results)
		}
		took = waitWithin(t, "ACL removal enforced on broker 3", time.Second, func() bool {
			return topicErrorAt(t, c.sasl[3], "alice", "zksec-orders") == kerr.TopicAuthorizationFailed.Code
		})
		t.Logf("ACL removed through broker 2 denied alice on broker 3 %v after the DeleteAcls request", time.Since(t0))
		data, _ = c.get("/kafka-acl/Topic/zksec-orders")
		if want := `{"version":1,"acls":[{"principal":"User:bob","permissionType":"Allow","operation":"Read","host":"*"}]}`; string(data) != want {
			t.Fatalf("after removing alice's ACL: %s", data)
		}
	})

	t.Run("Quotas", func(t *testing.T) {
		alter := func(addr string, entity []kmsg.AlterClientQuotasRequestEntryEntity, key string, value float64) {
			req := kmsg.NewPtrAlterClientQuotasRequest()
			e := kmsg.NewAlterClientQuotasRequestEntry()
			e.Entity = entity
			op := kmsg.NewAlterClientQuotasRequestEntryOp()
			op.Key, op.Value = key, value
			e.Ops = append(e.Ops, op)
			req.Entries = append(req.Entries, e)
			resp := request[*kmsg.AlterClientQuotasResponse](t, addr, req)
			if len(resp.Entries) != 1 || resp.Entries[0].ErrorCode != 0 {
				t.Fatalf("AlterClientQuotas at %s: %+v", addr, resp.Entries)
			}
		}
		ent := func(typ string, name *string) kmsg.AlterClientQuotasRequestEntryEntity {
			e := kmsg.NewAlterClientQuotasRequestEntryEntity()
			e.Type, e.Name = typ, name
			return e
		}
		before := overQuotaProduce(t, newClient(t, c.brokers[3].Addr(), kgo.ClientID("zksec-throttled")))
		if before != 0 {
			t.Fatalf("throttled before any quota: %d ms", before)
		}
		t0 := time.Now()
		alter(c.brokers[2].Addr(), []kmsg.AlterClientQuotasRequestEntryEntity{ent("client-id", kmsg.StringPtr("zksec-throttled"))}, "producer_byte_rate", 1024)
		data, _ := c.get("/config/clients/zksec-throttled")
		if want := `{"version":1,"config":{"producer_byte_rate":"1024"}}`; string(data) != want {
			t.Fatalf("/config/clients/zksec-throttled = %s, want %s", data, want)
		}
		if n := c.changeNotifications("/config/changes"); !containsSuffix(n, `{"version":2,"entity_path":"clients/zksec-throttled"}`) {
			t.Fatalf("no change notification for the client: %v", n)
		}
		var ms int32
		took := waitWithin(t, "producer throttled on broker 3", 2*time.Second, func() bool {
			ms = overQuotaProduce(t, newClient(t, c.brokers[3].Addr(), kgo.ClientID("zksec-throttled")))
			return ms > 0
		})
		t.Logf("producer_byte_rate set through broker 2 throttled a producer on broker 3 by %d ms, %v after the znode checks, %v after the AlterClientQuotas request", ms, took, time.Since(t0))

		// A user's quota shares the user's znode with its SCRAM
		// credential; a user and client id entity nests under it.
		alter(c.brokers[1].Addr(), []kmsg.AlterClientQuotasRequestEntryEntity{ent("user", kmsg.StringPtr("keeper"))}, "request_percentage", 50)
		data, _ = c.get("/config/users/keeper")
		if !strings.Contains(string(data), `"request_percentage":"50.0"`) || !strings.Contains(string(data), `"SCRAM-SHA-512":"salt=`) {
			t.Fatalf("/config/users/keeper = %s", data)
		}
		alter(c.brokers[1].Addr(), []kmsg.AlterClientQuotasRequestEntryEntity{ent("user", kmsg.StringPtr("keeper")), ent("client-id", nil)}, "consumer_byte_rate", 2048)
		data, _ = c.get("/config/users/keeper/clients/<default>")
		if want := `{"version":1,"config":{"consumer_byte_rate":"2048"}}`; string(data) != want {
			t.Fatalf("/config/users/keeper/clients/<default> = %s", data)
		}
		if n := c.changeNotifications("/config/changes"); !containsSuffix(n, `{"version":2,"entity_path":"users/keeper/clients/<default>"}`) {
			t.Fatalf("no change notification for user keeper, default client: %v", n)
		}
		waitWithin(t, "quotas described by broker 3", time.Second, func() bool {
			req := kmsg.NewPtrDescribeClientQuotasRequest()
			resp := request[*kmsg.DescribeClientQuotasResponse](t, c.brokers[3].Addr(), req)
			return resp.ErrorCode == 0 && len(resp.Entries) == 3
		})
	})
	if t.Failed() {
		return
	}

	t.Run("Restart", func(t *testing.T) {
		// Broker 3 stops; an ACL is added while it is down; started
		// again it has everything from ZooKeeper.
		c.brokers[3].Stop()
		req := kmsg.NewPtrCreateACLsRequest()
		cr := kmsg.NewCreateACLsRequestCreation()
		cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = kmsg.ACLResourceTypeTopic, "zksec-", kmsg.ACLResourcePatternTypePrefixed
		cr.Principal, cr.Host, cr.Operation, cr.PermissionType = "User:alice", "*", kmsg.ACLOperationDescribe, kmsg.ACLPermissionTypeAllow
		req.Creations = append(req.Creations, cr)
		if resp := request[*kmsg.CreateACLsResponse](t, c.brokers[1].Addr(), req); len(resp.Results) != 1 || resp.Results[0].ErrorCode != 0 {
			t.Fatalf("CreateAcls while broker 3 is down: %+v", resp.Results)
		}
		c.brokers[3].Restart()
		c.waitAgree("broker 3 back", 30*time.Second, func(m *kmsg.MetadataResponse) bool { return len(m.Brokers) == 3 })
		if err := scramLogin(c.sasl[3], "keeper", "keep-pw"); err != nil {
			t.Fatalf("SCRAM user after restart: %v", err)
		}
		if err := scramLogin(c.sasl[3], "zk user@x", "pw-1"); err == nil {
			t.Fatal("deleted SCRAM user accepted after restart")
		}
		if code := topicErrorAt(t, c.sasl[3], "bob", "zksec-orders"); code != 0 {
			t.Fatalf("bob's literal ACL after restart: error %d", code)
		}
		if code := topicErrorAt(t, c.sasl[3], "alice", "zksec-orders"); code != 0 {
			t.Fatalf("alice's prefixed ACL added while broker 3 was down: error %d", code)
		}
		if ms := overQuotaProduce(t, newClient(t, c.brokers[3].Addr(), kgo.ClientID("zksec-throttled"))); ms <= 0 {
			t.Fatal("quota not applied after restart")
		}
		resp := request[*kmsg.DescribeClientQuotasResponse](t, c.brokers[3].Addr(), kmsg.NewPtrDescribeClientQuotasRequest())
		if len(resp.Entries) != 3 {
			t.Fatalf("quotas after restart: %+v", resp.Entries)
		}
		// The restarted broker follows changes again: every ACL removed
		// through broker 1 denies bob and alice on broker 3.
		del := kmsg.NewPtrDeleteACLsRequest()
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
		f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		del.Filters = append(del.Filters, f)
		if resp := request[*kmsg.DeleteACLsResponse](t, c.brokers[1].Addr(), del); len(resp.Results) != 1 || len(resp.Results[0].MatchingACLs) != 3 {
			t.Fatalf("delete all ACLs: %+v", resp.Results)
		}
		waitWithin(t, "bob and alice denied on restarted broker 3", time.Second, func() bool {
			return topicErrorAt(t, c.sasl[3], "bob", "zksec-orders") == kerr.TopicAuthorizationFailed.Code &&
				topicErrorAt(t, c.sasl[3], "alice", "zksec-orders") == kerr.TopicAuthorizationFailed.Code
		})
		for _, p := range []string{"/kafka/kafka-acl/Topic/zksec-orders", "/kafka/kafka-acl-extended/prefixed/Group/zksec-", "/kafka/kafka-acl-extended/prefixed/Topic/zksec-"} {
			if ok, _, err := c.conn.Exists(p); ok || err != nil {
				t.Fatalf("%s still there after its last ACL went (%v)", p, err)
			}
		}
	})
}

// TestZKClusterSecurityKafkaTools drives the ZooKeeper cluster's security
// state with the stock Kafka CLI tools (kafka-configs for a SCRAM user
// and a client quota, kafka-acls for an ACL), each through a different
// broker, and checks the znodes Kafka's formats and the effect on a
// third broker.
func TestZKClusterSecurityKafkaTools(t *testing.T) {
	configs := kafkaTool(t, "kafka-configs.sh")
	acls := kafkaTool(t, "kafka-acls.sh")
	c := startZKSecCluster(t)
	if _, err := kadm.NewClient(newClient(t, c.brokers[1].Addr())).CreateTopic(ctxT(t), 1, 3, nil, "cli-topic"); err != nil {
		t.Fatal(err)
	}

	runTool(t, "", configs, "--bootstrap-server", c.brokers[1].Addr(), "--alter", "--entity-type", "users", "--entity-name", "cli-user",
		"--add-config", "SCRAM-SHA-512=[iterations=4096,password=cli-pw]")
	data, _ := c.get("/config/users/cli-user")
	if !regexp.MustCompile(`^\{"version":1,"config":\{"SCRAM-SHA-512":"salt=[A-Za-z0-9+/]+=*,stored_key=[A-Za-z0-9+/]+=*,server_key=[A-Za-z0-9+/]+=*,iterations=4096"\}\}$`).Match(data) {
		t.Fatalf("/config/users/cli-user = %s", data)
	}
	scramMech := scram.Auth{User: "cli-user", Pass: "cli-pw"}.AsSha512Mechanism()
	waitWithin(t, "cli-user logs in at broker 3", 2*time.Second, func() bool { return scramLogin(c.sasl[3], "cli-user", "cli-pw") == nil })
	out := runTool(t, "", configs, "--bootstrap-server", c.brokers[3].Addr(), "--describe", "--entity-type", "users", "--entity-name", "cli-user")
	if !strings.Contains(out, "SCRAM-SHA-512=iterations=4096") {
		t.Fatalf("kafka-configs --describe at broker 3:\n%s", out)
	}

	metaAs := func() int16 {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("cli-topic")
		req.Topics = append(req.Topics, rt)
		return saslRequest[*kmsg.MetadataResponse](t, c.sasl[3], scramMech, req).Topics[0].ErrorCode
	}
	if code := metaAs(); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("cli-user before the ACL: error %d", code)
	}
	runTool(t, "", acls, "--bootstrap-server", c.brokers[2].Addr(), "--add", "--allow-principal", "User:cli-user", "--operation", "Read", "--topic", "cli-topic")
	data, _ = c.get("/kafka-acl/Topic/cli-topic")
	if want := `{"version":1,"acls":[{"principal":"User:cli-user","permissionType":"Allow","operation":"Read","host":"*"}]}`; string(data) != want {
		t.Fatalf("/kafka-acl/Topic/cli-topic = %s", data)
	}
	waitWithin(t, "ACL from kafka-acls enforced on broker 3", time.Second, func() bool { return metaAs() == 0 })
	out = runTool(t, "", acls, "--bootstrap-server", c.brokers[3].Addr(), "--list", "--topic", "cli-topic")
	if !strings.Contains(out, "principal=User:cli-user, host=*, operation=READ, permissionType=ALLOW") {
		t.Fatalf("kafka-acls --list at broker 3:\n%s", out)
	}

	runTool(t, "", configs, "--bootstrap-server", c.brokers[3].Addr(), "--alter", "--entity-type", "clients", "--entity-name", "cli-client",
		"--add-config", "producer_byte_rate=2048")
	data, _ = c.get("/config/clients/cli-client")
	if want := `{"version":1,"config":{"producer_byte_rate":"2048"}}`; string(data) != want {
		t.Fatalf("/config/clients/cli-client = %s", data)
	}
	waitWithin(t, "quota from kafka-configs throttles on broker 1", 2*time.Second, func() bool {
		return overQuotaProduce(t, newClient(t, c.brokers[1].Addr(), kgo.ClientID("cli-client"))) > 0
	})
}
