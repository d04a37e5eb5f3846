package controller

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"samsa/internal/zkdata"
	"samsa/internal/zktest"
	"samsa/metadatacache"
	"samsa/quota"
)

func openSecPair(t *testing.T) (z1, z2 *ZK, conn *zk.Conn) {
	t.Helper()
	s := zktest.Start(t)
	open := func(id int32) *ZK {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		z, err := OpenZK(ctx, ZKConfig{Connect: s.Addr + "/k", SessionTimeout: 2 * time.Second, BrokerID: id,
			Endpoints: []zkdata.Endpoint{{Listener: "PLAINTEXT", Host: "127.0.0.1", Port: 9000 + id, SecurityProtocol: "PLAINTEXT"}},
			Cache:     metadatacache.New("PLAINTEXT")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { z.Close() })
		return z
	}
	z1, z2 = open(1), open(2)
	return z1, z2, z1.Conn()
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 3s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getZ(t *testing.T, conn *zk.Conn, p string) string {
	t.Helper()
	data, _, err := conn.Get(p)
	if err != nil {
		t.Fatalf("get %s: %v", p, err)
	}
	return string(data)
}

func countACLs(z *ZK, rt int8) int {
	n := 0
	for _, a := range z.ACLs() {
		if a.ResourceType == rt {
			n++
		}
	}
	return n
}

// TestZKACLs: ACLs written through one broker reach the other with the
// same ids; concurrent writers of one resource lose nothing (conditional
// updates on the znode version); ACLs and notifications written by Kafka
// itself are read; a bad notification does not hold up the next one; the
// last ACL's removal deletes the znode.
func TestZKACLs(t *testing.T) {
	z1, z2, conn := openSecPair(t)
	ctx := context.Background()
	var fired atomic.Int32
	z2.OnACLsChanged(func() { fired.Add(1) })

	created, err := z1.AlterACLs(ctx, []ACL{{ResourceType: 2, ResourceName: "t", PatternType: 3, Principal: "User:a", Host: "*", Operation: 3, Permission: 3}}, nil)
	if err != nil || len(created) != 1 || len(created[0].ID) != 22 {
		t.Fatalf("AlterACLs: %+v %v", created, err)
	}
	eventually(t, "ACL reaches broker 2", func() bool {
		as := z2.ACLs()
		return len(as) == 1 && as[0] == created[0] && fired.Load() > 0
	})

	// Eight writers on two brokers, one resource.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		z := z1
		if i%2 == 1 {
			z = z2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := z.AlterACLs(ctx, []ACL{{ResourceType: 3, ResourceName: "g", PatternType: 3, Principal: fmt.Sprintf("User:u%d", i),
				Host: "*", Operation: 3, Permission: 3}}, nil)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	entries, err := zkdata.DecodeACLs([]byte(getZ(t, conn, "/k/kafka-acl/Group/g")))
	if err != nil || len(entries) != 8 {
		t.Fatalf("/kafka-acl/Group/g after 8 concurrent writers: %d entries, %v", len(entries), err)
	}
	eventually(t, "both brokers see 8 group ACLs", func() bool { return countACLs(z1, 3) == 8 && countACLs(z2, 3) == 8 })

	// What a Kafka 3.9 broker writes (ZkData's own example, and its
	// change notification).
	if _, err := conn.Create("/k/kafka-acl/Cluster/kafka-cluster",
		[]byte(`{"version": 1, "acls": [ { "host":"host1", "permissionType": "Allow","operation": "Read","principal": "User:alice"}]}`), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Create("/k/kafka-acl-changes/acl_changes_", []byte("CLUSTER:kafka-cluster"), zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Kafka's ACL read", func() bool {
		for _, a := range z1.ACLs() {
			if a.ResourceType == 4 && a.ResourceName == "kafka-cluster" && a.Host == "host1" && a.Principal == "User:alice" && a.Operation == 3 && a.Permission == 3 {
				return true
			}
		}
		return false
	})

	// Garbage notification, then a good one.
	if _, err := conn.Create("/k/kafka-acl-extended-changes/acl_changes_", []byte("garbage"), zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := z1.AlterACLs(ctx, []ACL{{ResourceType: 2, ResourceName: "pre-", PatternType: 4, Principal: "User:a", Host: "*", Operation: 4, Permission: 2}}, nil); err != nil {
		t.Fatal(err)
	}
	if got := getZ(t, conn, "/k/kafka-acl-extended/prefixed/Topic/pre-"); got != `{"version":1,"acls":[{"principal":"User:a","permissionType":"Deny","operation":"Write","host":"*"}]}` {
		t.Fatalf("prefixed znode %s", got)
	}
	eventually(t, "prefixed ACL past a bad notification", func() bool { return countACLs(z2, 2) == 2 })

	// Remove every group ACL through broker 2: the znode goes.
	var ids []string
	for _, a := range z2.ACLs() {
		if a.ResourceType == 3 {
			ids = append(ids, a.ID)
		}
	}
	if _, err := z2.AlterACLs(ctx, nil, ids); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := conn.Exists("/k/kafka-acl/Group/g"); ok {
		t.Fatal("/kafka-acl/Group/g left without ACLs")
	}
	eventually(t, "group ACLs gone on broker 1", func() bool { return countACLs(z1, 3) == 0 })

	// A name ZooKeeper cannot hold is refused, not half-written.
	if _, err := z1.AlterACLs(ctx, []ACL{{ResourceType: 3, ResourceName: "a/b", PatternType: 3, Principal: "User:a", Host: "*", Operation: 3, Permission: 3}}, nil); err == nil {
		t.Fatal("a resource name with '/' was accepted")
	}
}

// TestZKScramAndQuotas: a user's SCRAM credential and quotas share its
// config znode and neither write loses the other; user/client entities
// nest under the user; emptied entities are deleted as Kafka's
// tryCleanQuotaNodes does; a malformed entity znode does not hold up
// later notifications; processed notifications are purged once old.
func TestZKScramAndQuotas(t *testing.T) {
	z1, z2, conn := openSecPair(t)
	ctx := context.Background()
	var quotasFired atomic.Int32
	z2.OnQuotasChanged(func() { quotasFired.Add(1) })

	cred := ScramCredential{Salt: []byte("salt"), StoredKey: []byte("stored"), ServerKey: []byte("server"), Iterations: 4096}
	if err := z1.AlterScramCredentials(ctx, []ScramUpsert{{User: "a b", Mechanism: ScramSHA256, Credential: cred}}, nil); err != nil {
		t.Fatal(err)
	}
	user := quota.Entity{User: quota.Named("a b")}
	if err := z2.SetClientQuotas(ctx, []quota.Entry{{Entity: user, Values: map[string]float64{"producer_byte_rate": 1e6, "request_percentage": 12.5}}}); err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"config":{"SCRAM-SHA-256":"salt=c2FsdA==,stored_key=c3RvcmVk,server_key=c2VydmVy,iterations=4096","producer_byte_rate":"1000000","request_percentage":"12.5"}}`
	if got := getZ(t, conn, "/k/config/users/a%20b"); got != want {
		t.Fatalf("/config/users/a%%20b = %s\nwant %s", got, want)
	}
	eventually(t, "broker 1 has the quota, broker 2 the credential", func() bool {
		c, ok := z2.ScramCredential("a b", ScramSHA256)
		q := z1.ClientQuotas()
		return ok && c.Iterations == 4096 && string(c.StoredKey) == "stored" && len(q) == 1 && q[0].Entity == user && q[0].Values["producer_byte_rate"] == 1e6
	})
	if err := z1.SetClientQuotas(ctx, []quota.Entry{{Entity: user}}); err != nil {
		t.Fatal(err)
	}
	if got := getZ(t, conn, "/k/config/users/a%20b"); got != `{"version":1,"config":{"SCRAM-SHA-256":"salt=c2FsdA==,stored_key=c3RvcmVk,server_key=c2VydmVy,iterations=4096"}}` {
		t.Fatalf("after removing the quotas: %s", got)
	}
	if err := z2.AlterScramCredentials(ctx, nil, []ScramDelete{{User: "a b", Mechanism: ScramSHA256}}); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := conn.Exists("/k/config/users/a%20b"); ok {
		t.Fatal("emptied user znode left")
	}
	eventually(t, "credential gone on broker 1", func() bool { _, ok := z1.ScramCredential("a b", ScramSHA256); return !ok })

	// A key another broker wrote whose notification has not arrived
	// (written here without one) survives a change of another key.
	cl := quota.Entity{ClientID: quota.Named("c")}
	if _, err := conn.Create("/k/config/clients/c", zkdata.EncodeConfig(map[string]string{"consumer_byte_rate": "777"}), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := z1.SetClientQuotas(ctx, []quota.Entry{{Entity: cl, Values: map[string]float64{"producer_byte_rate": 5}}}); err != nil {
		t.Fatal(err)
	}
	if got := getZ(t, conn, "/k/config/clients/c"); got != `{"version":1,"config":{"consumer_byte_rate":"777","producer_byte_rate":"5"}}` {
		t.Fatalf("concurrent keys of /config/clients/c: %s", got)
	}
	eventually(t, "both keys on broker 2", func() bool {
		for _, q := range z2.ClientQuotas() {
			if q.Entity == cl {
				return len(q.Values) == 2
			}
		}
		return false
	})
	if err := z2.SetClientQuotas(ctx, []quota.Entry{{Entity: cl}}); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := conn.Exists("/k/config/clients/c"); ok {
		t.Fatal("/config/clients/c left after removing its quotas")
	}
	eventually(t, "client quotas gone on broker 1", func() bool { return len(z1.ClientQuotas()) == 0 })

	// User u with the default client id, and removal of the whole chain.
	uc := quota.Entity{User: quota.Named("u"), ClientID: quota.DefaultPart()}
	if err := z1.SetClientQuotas(ctx, []quota.Entry{{Entity: uc, Values: map[string]float64{"request_percentage": 50}}}); err != nil {
		t.Fatal(err)
	}
	if got := getZ(t, conn, "/k/config/users/u/clients/<default>"); got != `{"version":1,"config":{"request_percentage":"50.0"}}` {
		t.Fatalf("user/client znode %s", got)
	}
	eventually(t, "user/client quota on broker 2", func() bool {
		q := z2.ClientQuotas()
		return len(q) == 1 && q[0].Entity == uc && q[0].Values["request_percentage"] == 50 && quotasFired.Load() > 0
	})
	if err := z2.SetClientQuotas(ctx, []quota.Entry{{Entity: uc}}); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := conn.Exists("/k/config/users/u"); ok {
		t.Fatal("/config/users/u left after its only client entity went")
	}

	// A znode that is not JSON, announced, then a good change.
	if _, err := conn.Create("/k/config/clients/bad", []byte("{not json"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Create("/k/config/changes/config_change_", zkdata.EncodeConfigChange("clients/bad"), zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	ip := quota.Entity{IP: quota.DefaultPart()}
	if err := z1.SetClientQuotas(ctx, []quota.Entry{{Entity: ip, Values: map[string]float64{"connection_creation_rate": 30}}}); err != nil {
		t.Fatal(err)
	}
	if got := getZ(t, conn, "/k/config/ips/<default>"); got != `{"version":1,"config":{"connection_creation_rate":"30"}}` {
		t.Fatalf("ip znode %s", got)
	}
	eventually(t, "ip quota past a bad entity", func() bool {
		q := z2.ClientQuotas()
		return len(q) == 1 && q[0].Entity == ip
	})

	// Purge: broker 2 deletes processed notifications older than its
	// expiry (Kafka's 15 minutes, here 1 ms).
	children, _, err := conn.Children("/k/config/changes")
	if err != nil || len(children) < 5 {
		t.Fatalf("config changes before the purge: %v %v", children, err)
	}
	z2.changeExpirationMs.Store(1)
	time.Sleep(5 * time.Millisecond)
	if err := z1.SetClientQuotas(ctx, []quota.Entry{{Entity: ip}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "old notifications purged", func() bool {
		children, _, err := conn.Children("/k/config/changes")
		return err == nil && len(children) <= 1
	})
	eventually(t, "ip quota removal still applied", func() bool { return len(z2.ClientQuotas()) == 0 })
}
