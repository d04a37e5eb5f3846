package metadatacache

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func umr(epoch int32, leader int32) *kmsg.UpdateMetadataRequest {
	req := kmsg.NewPtrUpdateMetadataRequest()
	req.Version, req.ControllerID, req.ControllerEpoch = 8, 1, epoch
	for _, id := range []int32{1, 2} {
		lb := kmsg.NewUpdateMetadataRequestLiveBroker()
		lb.ID = id
		e := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
		e.ListenerName, e.Host, e.Port = "INTERNAL", "h", 9000+id
		lb.Endpoints = append(lb.Endpoints, e)
		req.LiveBrokers = append(req.LiveBrokers, lb)
	}
	ts := kmsg.NewUpdateMetadataRequestTopicState()
	ts.Topic, ts.TopicID = "t", [16]byte{1}
	p := kmsg.NewUpdateMetadataRequestTopicPartition()
	p.Leader, p.LeaderEpoch, p.ISR, p.Replicas = leader, 3, []int32{1, 2}, []int32{1, 2}
	ts.PartitionStates = append(ts.PartitionStates, p)
	req.TopicStates = append(req.TopicStates, ts)
	return req
}

func TestApply(t *testing.T) {
	c := New("INTERNAL")
	if c.ControllerID() != -1 {
		t.Fatal("controller before any update")
	}
	if err := c.Apply(umr(5, 2)); err != nil {
		t.Fatal(err)
	}
	if addr, ok := c.BrokerAddr(2); !ok || addr != "h:9002" {
		t.Fatalf("BrokerAddr(2) = %q %v", addr, ok)
	}
	if _, ok := c.BrokerAddr(3); ok {
		t.Fatal("BrokerAddr of a dead broker")
	}
	if p, ok := c.Partition("t", 0); !ok || p.Leader != 2 || p.LeaderEpoch != 3 {
		t.Fatalf("partition = %+v %v", p, ok)
	}
	if tp, ok := c.TopicByID([16]byte{1}); !ok || tp.Name != "t" {
		t.Fatalf("TopicByID = %+v %v", tp, ok)
	}
	if err := c.Apply(umr(4, 1)); !errors.Is(err, kerr.StaleControllerEpoch) {
		t.Fatalf("older epoch: %v", err)
	}
	if p, _ := c.Partition("t", 0); p.Leader != 2 {
		t.Fatal("stale update applied")
	}
	if err := c.Apply(umr(5, LeaderDuringDelete)); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Topic("t"); ok {
		t.Fatal("deleted topic still cached")
	}
	if _, ok := c.TopicByID([16]byte{1}); ok {
		t.Fatal("deleted topic still found by id")
	}
}
