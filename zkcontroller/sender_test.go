package zkcontroller_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/internal/testbroker"
	"samsa/internal/zktest"
	"samsa/zkcontroller"
)

// TestRequestsRetriedUntilBrokerAnswers: the link from the controller to a
// live broker (still registered in ZooKeeper) is cut while a topic is
// created on it; the controller's UpdateMetadata and LeaderAndIsr are
// retried, as Kafka's RequestSendThread does, until the link heals and
// the broker leads the partition — not dropped after a few tries.
func TestRequestsRetriedUntilBrokerAnswers(t *testing.T) {
	s := zktest.Start(t)
	z1 := openZKAt(t, s.Addr, 1, 1) // nothing listens for broker 1
	c1 := zkcontroller.New(zkcontroller.Config{ZK: z1, InterBrokerListener: "PLAINTEXT", Logger: slog.New(slog.DiscardHandler)})
	c1.Start()
	t.Cleanup(c1.Close)
	waitUntil(t, "broker 1 elected", 10*time.Second, func() bool { return c1.Epoch() == 1 })

	lk := newLink(t)
	lk.setCut(true)
	b2 := testbroker.Start(t, testbroker.InProcess, "zookeeper.connect="+s.Addr, "broker.id=2",
		"zookeeper.session.timeout.ms=2000", "advertised.listeners=PLAINTEXT://"+lk.addr())
	lk.target.Store(b2.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	waitUntil(t, "broker 2 registered", 10*time.Second, func() bool {
		ok, _, _ := z1.Conn().Exists("/brokers/ids/2")
		return ok
	})
	if _, err := z1.CreateTopic(ctx, controller.CreateTopic{Name: "t", Assignments: [][]int32{{2}}}); err != nil {
		t.Fatal(err)
	}
	// Longer than the old 6 tries 300 ms apart for each request.
	time.Sleep(5 * time.Second)
	lk.setCut(false)

	cl, err := kgo.NewClient(kgo.SeedBrokers(b2.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	waitUntil(t, "broker 2 leads t-0 after the link healed", 10*time.Second, func() bool {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("t")
		req.Topics = append(req.Topics, rt)
		rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
		defer rcancel()
		resp, err := cl.Broker(2).Request(rctx, req)
		if err != nil {
			return false
		}
		m := resp.(*kmsg.MetadataResponse)
		return len(m.Topics) == 1 && m.Topics[0].ErrorCode == 0 && len(m.Topics[0].Partitions) == 1 &&
			m.Topics[0].Partitions[0].Leader == 2
	})
}

// TestBrokerCloseWithZooKeeperUnreachable: a broker that is the
// controller shuts down while ZooKeeper cannot be reached; Close returns
// within seconds (/controller goes with the session) instead of waiting
// for ZooKeeper forever.
func TestBrokerCloseWithZooKeeperUnreachable(t *testing.T) {
	s := zktest.Start(t)
	lk := newLink(t)
	lk.target.Store(s.Addr)
	b := testbroker.Start(t, testbroker.InProcess, "zookeeper.connect="+lk.addr(), "broker.id=1",
		"zookeeper.session.timeout.ms=4000")
	z := openZKAt(t, s.Addr, 9, 1)
	waitUntil(t, "broker 1 controller", 10*time.Second, func() bool {
		data, _, err := z.Conn().Get("/controller")
		return err == nil && len(data) > 0
	})
	time.Sleep(300 * time.Millisecond) // failover done
	// ZooKeeper unreachable: nothing answers, and the client has noticed
	// (its receive timeout is 2/3 of the session timeout).
	lk.hole.Store(true)
	lk.freeze()
	time.Sleep(3500 * time.Millisecond)
	stopped := make(chan struct{})
	start := time.Now()
	go func() { b.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Logf("broker closed in %v", time.Since(start))
	case <-time.After(20 * time.Second):
		t.Fatal("Broker.Close hangs while ZooKeeper is unreachable")
	}
}
