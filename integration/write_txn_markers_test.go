package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// TestWriteTxnMarkersOffsets: a WriteTxnMarkers COMMIT to the
// __consumer_offsets partitions goes through the group coordinator, which
// makes the producer's pending transactional offset committed (as
// Kafka's handleWriteTxnMarkersRequest hands it to
// GroupCoordinator.completeTransaction).
func TestWriteTxnMarkersOffsets(t *testing.T) {
	eachMode(t, func(t *testing.T, b *testbroker.Broker) {
		createTopic(t, b.Addr(), "wtm", 1)
		cl := newClient(t, b.Addr())
		ctx := ctxT(t)
		const tid, group = "wtm-tid", "wtm-group"
		var pid int64
		var epoch int16
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.Version, req.TransactionalID, req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch = 4, kmsg.StringPtr(tid), 60000, -1, -1
			r, err := req.RequestWith(ctx, cl)
			if err == nil && r.ErrorCode == 0 {
				pid, epoch = r.ProducerID, r.ProducerEpoch
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("init producer id: %v %+v", err, r)
			}
		}
		ao := kmsg.NewPtrAddOffsetsToTxnRequest()
		ao.Version, ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = 3, tid, pid, epoch, group
		if r, err := ao.RequestWith(ctx, cl); err != nil || r.ErrorCode != 0 {
			t.Fatalf("add offsets: %v %+v", err, r)
		}
		tc := kmsg.NewPtrTxnOffsetCommitRequest()
		tc.Version, tc.TransactionalID, tc.Group, tc.ProducerID, tc.ProducerEpoch, tc.Generation = 3, tid, group, pid, epoch, -1
		tt := kmsg.NewTxnOffsetCommitRequestTopic()
		tt.Topic = "wtm"
		tp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		tp.Partition, tp.Offset, tp.LeaderEpoch = 0, 5, -1
		tt.Partitions = append(tt.Partitions, tp)
		tc.Topics = append(tc.Topics, tt)
		if r, err := tc.RequestWith(ctx, cl); err != nil || r.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("txn offset commit: %v %+v", err, r)
		}
		committed := func() int64 {
			of := kmsg.NewPtrOffsetFetchRequest()
			of.Version, of.Group = 7, group
			ot := kmsg.NewOffsetFetchRequestTopic()
			ot.Topic, ot.Partitions = "wtm", []int32{0}
			of.Topics = append(of.Topics, ot)
			r, err := of.RequestWith(ctx, cl)
			if err != nil || r.ErrorCode != 0 {
				t.Fatalf("offset fetch: %v %+v", err, r)
			}
			return r.Topics[0].Partitions[0].Offset
		}
		if got := committed(); got != -1 {
			t.Fatalf("offset before the marker: %d, want -1", got)
		}
		md := kmsg.NewPtrMetadataRequest()
		md.Version = 12
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr("__consumer_offsets")
		md.Topics = append(md.Topics, mt)
		mr, err := md.RequestWith(ctx, cl)
		if err != nil || mr.Topics[0].ErrorCode != 0 {
			t.Fatalf("metadata: %v %+v", err, mr)
		}
		wm := kmsg.NewPtrWriteTxnMarkersRequest()
		wm.Version = 1
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = pid, epoch, true, 0
		mk := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mk.Topic = "__consumer_offsets"
		for _, p := range mr.Topics[0].Partitions {
			mk.Partitions = append(mk.Partitions, p.Partition)
		}
		m.Topics = append(m.Topics, mk)
		wm.Markers = append(wm.Markers, m)
		wr, err := wm.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("write txn markers: %v", err)
		}
		for _, p := range wr.Markers[0].Topics[0].Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("marker to __consumer_offsets-%d: error %d", p.Partition, p.ErrorCode)
			}
		}
		if got := committed(); got != 5 {
			t.Fatalf("offset after the COMMIT marker: %d, want 5", got)
		}
	})
}
