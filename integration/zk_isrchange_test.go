package integration

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestZKIsrChangeNotification plays a Kafka broker on an
// inter.broker.protocol.version below 2.7, which changes an ISR by
// writing the partition state znode itself and then creates
// /isr_change_notification/isr_change_<seq> (Kafka 3.9's
// IsrChangeNotificationSequenceZNode): the Samsa controller re-reads the
// state, every broker's Metadata shows the new ISR (UpdateMetadata) and
// the notifications, an unreadable one too, are deleted.
func TestZKIsrChangeNotification(t *testing.T) {
	c := startZKClusterWith(t, 3, "auto.leader.rebalance.enable=false")
	c.createAssigned(t, "isrc", 1, 2, 3)
	path := "/kafka/brokers/topics/isrc/partitions/0/state"
	data, st, err := c.conn.Get(path)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	leader := int32(s["leader"].(float64))
	isr := []int32{leader}
	for _, r := range []int32{1, 2, 3} {
		if r != leader {
			isr = append(isr, r)
			break
		}
	}
	slices.Sort(isr) // the leader and one follower
	s["isr"] = isr
	data, _ = json.Marshal(s)
	if _, err := c.conn.Set(path, data, st.Version); err != nil {
		t.Fatal(err)
	}
	// Nothing tells the brokers yet: the controller has no watch on
	// state znodes.
	time.Sleep(500 * time.Millisecond)
	if mp := partitionOf(metadataFrom(t, c.anyLive().Addr()), "isrc", 0); len(mp.ISR) != 3 {
		t.Fatalf("ISR %v before any notification, want the controller's 3 members", mp.ISR)
	}
	dir := "/kafka/isr_change_notification"
	if _, err := c.conn.Create(dir+"/isr_change_", []byte(`not json`), zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.Create(dir+"/isr_change_", []byte(`{"version":1,"partitions":[{"topic":"isrc","partition":0},{"topic":"nosuch","partition":0}]}`),
		zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.waitAgree("the notified ISR everywhere", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return slices.Equal(partitionOf(m, "isrc", 0).ISR, isr)
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		names, _, err := c.conn.Children(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notifications left: %v", names)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
