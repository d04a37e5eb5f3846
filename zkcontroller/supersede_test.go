package zkcontroller

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func lai(parts ...tp) *kmsg.LeaderAndISRRequest {
	req := kmsg.NewPtrLeaderAndISRRequest()
	for _, x := range parts {
		ts := kmsg.NewLeaderAndISRRequestTopicState()
		ts.Topic = x.topic
		ps := kmsg.NewLeaderAndISRRequestTopicPartition()
		ps.Topic, ps.Partition = x.topic, x.part
		ts.PartitionStates = append(ts.PartitionStates, ps)
		req.TopicStates = append(req.TopicStates, ts)
	}
	return req
}

// TestSenderSupersedes: a newer full UpdateMetadata replaces queued older
// ones back to the newest LeaderAndIsr or StopReplica (an older one in
// front of a LeaderAndIsr stays: it may name the leader that LeaderAndIsr
// makes the broker follow, which Kafka 3.9 brokers need to know first), a
// newer LeaderAndIsr strips its partitions from older queued ones (not
// past a StopReplica), and the order of what is left is kept.
func TestSenderSupersedes(t *testing.T) {
	s := &sender{wake: make(chan struct{}, 1)}
	um0, um1, um2, um3 := kmsg.NewPtrUpdateMetadataRequest(), kmsg.NewPtrUpdateMetadataRequest(), kmsg.NewPtrUpdateMetadataRequest(), kmsg.NewPtrUpdateMetadataRequest()
	partial := kmsg.NewPtrUpdateMetadataRequest() // deletion: leader -2, not a snapshot
	l1 := lai(tp{"a", 0}, tp{"b", 0})
	stop := kmsg.NewPtrStopReplicaRequest()
	l2 := lai(tp{"c", 0})
	s.enqueue(um0, true)
	s.enqueue(um1, true) // replaces um0
	s.enqueue(l1, false)
	s.enqueue(partial, false)
	s.enqueue(stop, false)
	s.enqueue(l2, false)
	s.enqueue(lai(tp{"a", 0}, tp{"c", 0}), false) // supersedes l2 entirely, not l1 (before StopReplica)
	s.enqueue(um2, true)
	s.enqueue(um3, true) // replaces um2
	var got []kmsg.Request
	for _, q := range s.queue {
		got = append(got, q.req)
	}
	if len(got) != 6 || got[0] != um1 || got[1] != l1 || got[2] != partial || got[3] != stop || got[5] != um3 {
		t.Fatalf("queue %v", got)
	}
	got = got[1:]
	if len(l1.TopicStates) != 2 {
		t.Fatalf("LeaderAndIsr before a StopReplica changed: %+v", l1.TopicStates)
	}
	if l, ok := got[3].(*kmsg.LeaderAndISRRequest); !ok || len(l.TopicStates) != 2 {
		t.Fatalf("newest LeaderAndIsr: %+v", got[3])
	}
}
