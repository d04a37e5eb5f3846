package conformance

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// markerReq is a WriteTxnMarkers request of one marker for the producer
// of role who (side.Vals) to the given partitions of each topic.
func markerReq(v int16, who string, epoch int16, commit bool, coordEpoch int32, tv int8, parts map[string][]int32) func(s *side) kmsg.Request {
	return func(s *side) kmsg.Request {
		req := kmsg.NewPtrWriteTxnMarkersRequest()
		req.Version = v
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch, m.TransactionVersion = s.Vals[who].(int64), epoch, commit, coordEpoch, tv
		for topic, ps := range parts {
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic, t.Partitions = topic, ps
			m.Topics = append(m.Topics, t)
		}
		req.Markers = append(req.Markers, m)
		return req
	}
}

// TestWriteTxnMarkers: the markers a transaction coordinator sends to a
// partition leader, for an open transaction (commit), an unknown
// partition and topic, a fenced coordinator epoch, an older producer
// epoch; each checked through DescribeProducers afterwards. The answers
// carry each side's own producer id, which is replaced by 0 before
// comparing.
func TestWriteTxnMarkers(t *testing.T) {
	c := scenario(t)
	top := c.topic("t")
	tid := c.topic("tid")
	c.createTopic(top, 1, nil)
	openProducers(c, top, tid)

	send := func(mk func(s *side) kmsg.Request) {
		c.t.Helper()
		k, s := roundTripBoth2(c, mk)
		api := "WriteTxnMarkers v" + itoa(mk(c.sides[0]).GetVersion())
		c.entry.apis[api] = true
		if k == nil || s == nil {
			c.fail(api, "", describeAnswer(k), describeAnswer(s))
			return
		}
		for _, r := range []kmsg.Response{k, s} {
			for i := range r.(*kmsg.WriteTxnMarkersResponse).Markers {
				r.(*kmsg.WriteTxnMarkersResponse).Markers[i].ProducerID = 0
			}
		}
		for _, d := range compare(27, k, s) {
			c.fail(api, d.path, d.kafka, d.samsa)
		}
	}
	describe := func() {
		c.t.Helper()
		k, s := roundTripBoth(c, describeProducersReq(top, 0))
		compareProducers(c, k, s)
	}
	c.at("commit the open transaction, unknown partition")
	send(markerReq(1, "txn", 0, true, 0, 0, map[string][]int32{top: {0, 9}}))
	describe()
	c.at("unknown topic")
	send(markerReq(1, "txn", 0, false, 0, 0, map[string][]int32{top + "-missing": {0}}))
	c.at("older coordinator epoch")
	send(markerReq(1, "txn", 0, false, -1, 0, map[string][]int32{top: {0}}))
	describe()
	c.at("idempotent producer, new epoch")
	send(markerReq(2, "idem", 3, false, 2, 0, map[string][]int32{top: {0}}))
	describe()
	c.at("older producer epoch")
	send(markerReq(2, "idem", 1, true, 2, 0, map[string][]int32{top: {0}}))
	describe()
}

// roundTripBoth2 sends each side the request mk builds for it, without
// comparing.
func roundTripBoth2(c *sc, mk func(s *side) kmsg.Request) (kmsg.Response, kmsg.Response) {
	c.t.Helper()
	var out [2]kmsg.Response
	for i, s := range c.sides {
		r, err := roundTrip(s.Addr, mk(s))
		if err != nil && err != errNoAnswer {
			c.t.Fatalf("%s: %v", s.Name, err)
		}
		out[i] = r
	}
	return out[0], out[1]
}
