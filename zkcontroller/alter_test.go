package zkcontroller

import (
	"context"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/internal/zkdata"
	"samsa/internal/zktest"
)

// TestAlterPartitionResignWithFullQueue: AlterPartition finds the
// controller deposed while the event queue is full. The run goroutine
// resigns and runs the election itself (it used to post an election event
// to its own full queue and wait forever); it goes on serving events and
// wins the next election.
func TestAlterPartitionResignWithFullQueue(t *testing.T) {
	s := zktest.Start(t)
	z1, c1 := startFirstController(t, s.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	openZK(t, s.Addr, 2)
	tp, err := z1.CreateTopic(ctx, controller.CreateTopic{Name: "t", Assignments: [][]int32{{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	conn := z1.Conn()
	waitFor(t, "partition state written", func() bool { ok, _, _ := conn.Exists(zkdata.StatePath("t", 0)); return ok })

	release := c1.Block()
	// Another controller's epoch, /controller left alone (no watch event).
	if _, err := conn.Set("/controller_epoch", zkdata.EncodeControllerEpoch(2), -1); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version, req.BrokerID, req.BrokerEpoch = 3, 1, z1.BrokerEpoch()
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.TopicID = tp.ID
	p := kmsg.NewAlterPartitionRequestTopicPartition()
	e := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
	e.BrokerID, e.BrokerEpoch = 1, z1.BrokerEpoch()
	p.NewEpochISR = []kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{e}
	// ISR [1, 2] shrinks to [1]: a change, so that it is written.
	rt.Partitions = append(rt.Partitions, p)
	req.Topics = append(req.Topics, rt)
	answer := make(chan *kmsg.AlterPartitionResponse, 1)
	go func() {
		actx, acancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer acancel()
		answer <- c1.AlterPartition(actx, req)
	}()
	waitFor(t, "AlterPartition queued", func() bool { return len(c1.events) == 1 })
	// Keep the queue full: ignored events (an old generation).
	go func() {
		for i := 0; i < 3*cap(c1.events); i++ {
			c1.post(evBrokerChange{gen: -1})
		}
	}()
	waitFor(t, "queue full", func() bool { return len(c1.events) == cap(c1.events) })
	release()
	select {
	case r := <-answer:
		code := r.ErrorCode
		if code == 0 && len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 {
			code = r.Topics[0].Partitions[0].ErrorCode
		}
		if code != kerr.NotController.Code {
			t.Fatalf("AlterPartition at the deposed controller: %v", kerr.ErrorForCode(code))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no AlterPartition answer")
	}
	// The event goroutine is alive: /controller freed, broker 1 wins
	// epoch 3.
	if err := conn.Delete("/controller", -1); err != nil && err != zk.ErrNoNode {
		t.Fatal(err)
	}
	waitFor(t, "broker 1 elected at epoch 3", func() bool { return c1.Epoch() == 3 })
}
