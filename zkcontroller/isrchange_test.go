package zkcontroller_test

import (
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"samsa/internal/zkdata"
	"samsa/internal/zktest"
)

// TestIsrChangeNotifications: notifications found when a controller is
// elected are deleted (KafkaController.onControllerFailover); one
// written during its term, after a broker on an old IBP changed a state
// znode's ISR itself, is read and deleted, and the new ISR completes the
// reassignment waiting for it (processIsrChangeNotification's
// maybeCompleteReassignment).
func TestIsrChangeNotifications(t *testing.T) {
	s := zktest.Start(t)
	z1 := openZKAt(t, s.Addr, 1, 1)
	for id := int32(2); id <= 3; id++ {
		openZKAt(t, s.Addr, id, 1)
	}
	conn := z1.Conn()
	notify := func(data string) {
		t.Helper()
		if _, err := conn.Create(zkdata.IsrChangeNotifyPath+"/"+zkdata.IsrChangePrefix, []byte(data), zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	noNotifications := func() bool {
		names, _, err := conn.Children(zkdata.IsrChangeNotifyPath)
		return err == nil && len(names) == 0
	}
	notify(`{"version":1,"partitions":[{"topic":"old","partition":0}]}`)
	c1 := startController(t, z1)
	waitUntil(t, "broker 1 elected", 10*time.Second, func() bool { return c1.Epoch() == 1 })
	waitUntil(t, "the notification found at failover deleted", 10*time.Second, noNotifications)

	createTopic(t, z1, "r", []int32{1, 2})
	if _, err := conn.Create(zkdata.ReassignPartitionsPath, []byte(`{"version":1,"partitions":[{"topic":"r","partition":0,"replicas":[1,3]}]}`), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	topic := func() zkdata.Topic {
		data, _, err := conn.Get(zkdata.TopicPath("r"))
		if err != nil {
			t.Fatal(err)
		}
		tp, err := zkdata.DecodeTopic(data)
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	waitUntil(t, "reassignment started", 10*time.Second, func() bool { return slices.Equal(topic().Adding[0], []int32{3}) })
	// Nobody fetches (the brokers are bare registrations): the ISR is
	// grown by hand, as an old-IBP leader would, then notified.
	data, st, err := conn.Get(zkdata.StatePath("r", 0))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := zkdata.DecodePartitionState(data)
	if err != nil {
		t.Fatal(err)
	}
	ps.ISR = []int32{1, 2, 3}
	if _, err := conn.Set(zkdata.StatePath("r", 0), zkdata.EncodePartitionState(ps), st.Version); err != nil {
		t.Fatal(err)
	}
	notify(`garbage`)
	notify(`{"version":1,"partitions":[{"topic":"r","partition":0}]}`)
	waitUntil(t, "reassignment completed", 10*time.Second, func() bool {
		tp := topic()
		return slices.Equal(tp.Replicas[0], []int32{1, 3}) && len(tp.Adding) == 0 && len(tp.Removing) == 0
	})
	waitUntil(t, "/admin/reassign_partitions removed", 10*time.Second, func() bool {
		ok, _, err := conn.Exists(zkdata.ReassignPartitionsPath)
		return err == nil && !ok
	})
	waitUntil(t, "notifications deleted", 10*time.Second, noNotifications)
	if st, _ := stateOf(t, conn, "r", 0); !slices.Equal(st.ISR, []int32{1, 3}) || st.Leader != 1 {
		t.Fatalf("state after the reassignment: %+v, want leader 1 ISR [1 3]", st)
	}
}
