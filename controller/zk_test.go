package controller

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/internal/zkdata"
	"samsa/internal/zktest"
	"samsa/metadatacache"
)

// Kafka's AdminZkClientTest.testReplicaAssignment: 5 brokers, 10
// partitions, replication factor 3, fixed start index 0.
func TestAssignReplicasMatchesKafka(t *testing.T) {
	got := AssignReplicas([]int32{0, 1, 2, 3, 4}, 10, 3, 0, 0, 0)
	want := [][]int32{{0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1}, {0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2}}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("partition %d: %v, want %v (all: %v)", i, got[i], want[i], got)
		}
	}
}

func TestParseZKConnect(t *testing.T) {
	s, root, err := ParseZKConnect("a:1,b:2/kafka/x")
	if err != nil || !slices.Equal(s, []string{"a:1", "b:2"}) || root != "/kafka/x" {
		t.Fatalf("%v %q %v", s, root, err)
	}
	if _, root, _ := ParseZKConnect("a:1/"); root != "" {
		t.Fatalf("root %q", root)
	}
	if _, _, err := ParseZKConnect("/x"); err == nil {
		t.Fatal("no servers accepted")
	}
}

// TestZKRegistration: OpenZK creates the chroot, Kafka's top-level
// znodes, the cluster id and the ephemeral registration whose czxid is
// the broker epoch; a second broker with the same id is refused; topic
// creation writes the config and assignment znodes and config changes
// reach another broker through /config/changes.
func TestZKRegistration(t *testing.T) {
	s := zktest.Start(t)
	open := func(id int32) (*ZK, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return OpenZK(ctx, ZKConfig{Connect: s.Addr + "/chroot", SessionTimeout: 2 * time.Second, BrokerID: id,
			Endpoints: []zkdata.Endpoint{{Listener: "PLAINTEXT", Host: "127.0.0.1", Port: 9000 + id, SecurityProtocol: "PLAINTEXT"}},
			Cache:     metadatacache.New("PLAINTEXT")})
	}
	z1, err := open(1)
	if err != nil {
		t.Fatal(err)
	}
	defer z1.Close()
	z2, err := open(2)
	if err != nil {
		t.Fatal(err)
	}
	defer z2.Close()
	if z1.ClusterID() == "" || z1.ClusterID() != z2.ClusterID() {
		t.Fatalf("cluster ids %q %q", z1.ClusterID(), z2.ClusterID())
	}
	conn := z1.Conn()
	for _, p := range []string{"/chroot/brokers/topics", "/chroot/config/changes", "/chroot/admin/delete_topics", "/chroot/cluster/id"} {
		if ok, _, err := conn.Exists(p); !ok || err != nil {
			t.Errorf("%s missing: %v", p, err)
		}
	}
	_, st, err := conn.Get("/chroot/brokers/ids/2")
	if err != nil || st.Czxid != z2.BrokerEpoch() || st.EphemeralOwner == 0 {
		t.Fatalf("registration of 2: %+v %v, broker epoch %d", st, err, z2.BrokerEpoch())
	}
	// Same id from another session: refused once the wait runs out.
	start := time.Now()
	if z, err := open(2); err == nil || !errors.Is(err, zk.ErrNodeExists) {
		if z != nil {
			z.Close()
		}
		t.Fatalf("duplicate broker.id accepted: %v", err)
	}
	if time.Since(start) < 2*time.Second {
		t.Errorf("duplicate refused after %v, before the old session could have expired", time.Since(start))
	}

	ctx := context.Background()
	if _, err := z1.CreateTopic(ctx, CreateTopic{Name: "a.b", NumPartitions: 2, ReplicationFactor: 3}); !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("rf 3 on 2 brokers: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	tp, err := z1.CreateTopic(short, CreateTopic{Name: "a.b", NumPartitions: 2, ReplicationFactor: 2, Configs: map[string]string{"retention.ms": "5"}})
	if err != nil || len(tp.Partitions) != 2 || tp.ID == (TopicID{}) {
		t.Fatalf("create: %+v %v", tp, err)
	}
	if _, err := z2.CreateTopic(ctx, CreateTopic{Name: "a_b", NumPartitions: 1, ReplicationFactor: 1}); !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("colliding name: %v", err)
	}
	if _, err := z2.CreateTopic(ctx, CreateTopic{Name: "a.b", NumPartitions: 1, ReplicationFactor: 1}); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("existing name: %v", err)
	}
	data, _, err := conn.Get("/chroot/config/topics/a.b")
	if err != nil || string(data) != `{"version":1,"config":{"retention.ms":"5"}}` {
		t.Fatalf("config znode %s %v", data, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for z2.TopicConfigs("a.b")["retention.ms"] != "5" {
		if time.Now().After(deadline) {
			t.Fatal("config change did not reach broker 2")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := z2.DeleteTopic(ctx, "nope"); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("delete unknown: %v", err)
	}
	if _, err := z2.DeleteTopic(ctx, "a.b"); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := conn.Exists("/chroot/admin/delete_topics/a.b"); !ok {
		t.Fatal("no deletion marker")
	}
}

// TestZKDeferredRegistration: with DeferRegistration OpenZK joins the
// cluster without /brokers/ids/<id> (a broker still recovering its logs
// must not be sent requests), Register creates it, and after the session
// expires it is created again with the new session.
func TestZKDeferredRegistration(t *testing.T) {
	s := zktest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	z, err := OpenZK(ctx, ZKConfig{Connect: s.Addr, SessionTimeout: 2 * time.Second, BrokerID: 7, DeferRegistration: true,
		Endpoints: []zkdata.Endpoint{{Listener: "PLAINTEXT", Host: "127.0.0.1", Port: 9007, SecurityProtocol: "PLAINTEXT"}},
		Cache:     metadatacache.New("PLAINTEXT")})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	conn := z.Conn()
	if ok, _, err := conn.Exists(zkdata.BrokerPath(7)); ok || err != nil {
		t.Fatalf("registered before Register: %v %v", ok, err)
	}
	if z.BrokerEpoch() != 0 {
		t.Fatalf("broker epoch %d before Register", z.BrokerEpoch())
	}
	if err := z.Register(ctx); err != nil {
		t.Fatal(err)
	}
	_, st, err := conn.Get(zkdata.BrokerPath(7))
	if err != nil || st.Czxid != z.BrokerEpoch() || st.EphemeralOwner != conn.SessionID() {
		t.Fatalf("registration: %+v %v, broker epoch %d", st, err, z.BrokerEpoch())
	}
}

// TestZKConfigChangeRetried: a config change whose topic config cannot be
// read (here: its znode's ACL denies reading) is not marked processed;
// it is read again until it can be, without a new notification.
func TestZKConfigChangeRetried(t *testing.T) {
	s := zktest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	z, err := OpenZK(ctx, ZKConfig{Connect: s.Addr, SessionTimeout: 2 * time.Second, BrokerID: 1,
		Endpoints: []zkdata.Endpoint{{Listener: "PLAINTEXT", Host: "127.0.0.1", Port: 9001, SecurityProtocol: "PLAINTEXT"}},
		Cache:     metadatacache.New("PLAINTEXT")})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	conn := z.Conn()
	if _, err := conn.Create(zkdata.ConfigTopicPath("t"), []byte(`{"version":1,"config":{"retention.ms":"7"}}`), 0,
		zk.WorldACL(zk.PermWrite|zk.PermAdmin|zk.PermDelete)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Create(zkdata.ConfigChangesPath+"/"+zkdata.ConfigChangePrefix, zkdata.EncodeConfigChange("topics/t"),
		zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the notification was seen and could not be applied
	if v := z.TopicConfigs("t")["retention.ms"]; v != "" {
		t.Fatalf("config read through an ACL denying it: %q", v)
	}
	if _, err := conn.SetACL(zkdata.ConfigTopicPath("t"), zk.WorldACL(zk.PermAll), -1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for z.TopicConfigs("t")["retention.ms"] != "7" {
		if time.Now().After(deadline) {
			t.Fatal("config change skipped after a failed read")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
