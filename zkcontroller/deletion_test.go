package zkcontroller_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"samsa/internal/testbroker"
	"samsa/internal/zkdata"
	"samsa/internal/zktest"
)

// TestTopicDeletionWaitsForReplicas: a topic whose only replica's broker
// is down is not deleted behind its back (Kafka's TopicDeletionManager):
// the marker and znodes stay, also across a controller failover, and the
// deletion completes once the broker is back and has answered
// StopReplica.
func TestTopicDeletionWaitsForReplicas(t *testing.T) {
	s := zktest.Start(t)
	z1 := openZKAt(t, s.Addr, 1, 1)
	c1 := startController(t, z1)
	waitUntil(t, "broker 1 elected", 10*time.Second, func() bool { return c1.Epoch() == 1 })
	conn := z1.Conn()
	b2 := testbroker.Start(t, testbroker.InProcess, "zookeeper.connect="+s.Addr, "broker.id=2", "zookeeper.session.timeout.ms=2000")
	waitUntil(t, "broker 2 registered", 10*time.Second, func() bool { ok, _, _ := conn.Exists(zkdata.BrokerPath(2)); return ok })
	createTopic(t, z1, "t", []int32{2})
	b2.Stop()
	waitUntil(t, "broker 2 gone", 10*time.Second, func() bool { ok, _, _ := conn.Exists(zkdata.BrokerPath(2)); return !ok })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := z1.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	pending := func(what string) {
		t.Helper()
		time.Sleep(time.Second)
		for _, p := range []string{zkdata.DeleteTopicPath("t"), zkdata.TopicPath("t"), zkdata.StatePath("t", 0)} {
			if ok, err := exists(conn, p); !ok || err != nil {
				t.Fatalf("%s: %s gone while broker 2 has not deleted its replica (%v)", what, p, err)
			}
		}
	}
	pending("deletion started")

	// A new controller resumes the deletion and waits as well.
	c1.Close()
	z3 := openZKAt(t, s.Addr, 3, 1)
	c3 := startController(t, z3)
	waitUntil(t, "broker 3 elected", 10*time.Second, func() bool { return c3.Epoch() == 2 })
	pending("after failover")

	b2.Restart()
	waitUntil(t, "topic deleted once broker 2 answered", 15*time.Second, func() bool {
		for _, p := range []string{zkdata.DeleteTopicPath("t"), zkdata.TopicPath("t")} {
			if ok, err := exists(conn, p); ok || err != nil {
				return false
			}
		}
		return true
	})
}

// exists is conn.Exists, retried while the client reconnects.
func exists(conn *zk.Conn, p string) (bool, error) {
	for i := 0; ; i++ {
		ok, _, err := conn.Exists(p)
		if err != zk.ErrConnectionClosed || i == 50 {
			return ok, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
