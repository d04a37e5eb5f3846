package fetchsession

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fullReq is a v12 full fetch (epoch 0) of partitions 0..n-1 of topic t.
func fullReq(n int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.SessionEpoch = 12, 0
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "t"
	for p := int32(0); p < n; p++ {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes = p, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// answer is the broker's answer to req: every partition, high watermark
// hw, records on the partitions in data.
func answer(req *kmsg.FetchRequest, hw int64, data ...int32) *kmsg.FetchResponse {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition, sp.HighWatermark, sp.LogStartOffset = rp.Partition, hw, 0
			for _, d := range data {
				if d == rp.Partition {
					sp.RecordBatches = []byte{1}
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func incr(id, epoch int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.SessionID, req.SessionEpoch = 12, id, epoch
	return req
}

func partitions(resp *kmsg.FetchResponse) []int32 {
	var ps []int32
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			ps = append(ps, p.Partition)
		}
	}
	return ps
}

func order(req *kmsg.FetchRequest) []int32 { return partitions(answer(req, 0)) }

// TestIncrementalFilterAndFairness: an incremental fetch answers only what
// changed, and partitions that returned records move to the end of the
// order the next fetch reads in.
func TestIncrementalFilterAndFairness(t *testing.T) {
	c := NewCache(10, DefaultEvictionAge)
	now := time.Unix(1000, 0)
	req, ctx, code := c.Begin(fullReq(4), false, now)
	if code != 0 || ctx == nil {
		t.Fatalf("full fetch: code %d ctx %v", code, ctx)
	}
	resp := answer(req, 5)
	ctx.Finish(resp, now)
	id := resp.SessionID
	if id == 0 || c.Len() != 1 {
		t.Fatalf("no session: id %d, %d sessions", id, c.Len())
	}
	// Nothing changed: nothing answered.
	req, ctx, _ = c.Begin(incr(id, 1), false, now)
	if got := order(req); len(got) != 4 {
		t.Fatalf("incremental request reads %v, want all 4 partitions", got)
	}
	resp = answer(req, 5)
	ctx.Finish(resp, now)
	if got := partitions(resp); len(got) != 0 {
		t.Errorf("nothing changed, answered %v", got)
	}
	// Records on 1, high watermark moved everywhere: all answered once.
	req, ctx, _ = c.Begin(incr(id, 2), false, now)
	resp = answer(req, 6, 1)
	ctx.Finish(resp, now)
	if got := partitions(resp); len(got) != 4 {
		t.Errorf("high watermark moved, answered %v, want all", got)
	}
	// Partition 1 returned records: read last from now on.
	req, ctx, _ = c.Begin(incr(id, 3), false, now)
	if got := order(req); got[3] != 1 {
		t.Errorf("order after partition 1 returned records: %v, want 1 last", got)
	}
	resp = answer(req, 6, 2)
	ctx.Finish(resp, now)
	if got := partitions(resp); len(got) != 1 || got[0] != 2 {
		t.Errorf("records on 2 only, answered %v", got)
	}
	// Epoch errors, unknown ids, and a duplicate in flight.
	if _, _, code := c.Begin(incr(id, 3), false, now); code != errInvalidFetchSessionEpoch {
		t.Errorf("stale epoch: code %d", code)
	}
	if _, _, code := c.Begin(incr(id+1, 4), false, now); code != errFetchSessionIDNotFound {
		t.Errorf("unknown id: code %d", code)
	}
	r13 := incr(id, 4)
	r13.Version = 13
	if _, _, code := c.Begin(r13, false, now); code != errFetchSessionTopicID {
		t.Errorf("topic ids switched on: code %d", code)
	}
	req1, ctx1, _ := c.Begin(incr(id, 4), false, now)
	req2, ctx2, _ := c.Begin(incr(id, 5), false, now)
	resp1, resp2 := answer(req1, 6), answer(req2, 6)
	ctx2.Finish(resp2, now)
	ctx1.Finish(resp1, now)
	if resp1.ErrorCode != errInvalidFetchSessionEpoch || resp2.ErrorCode != 0 {
		t.Errorf("overtaken request: codes %d, %d; want %d for the older", resp1.ErrorCode, resp2.ErrorCode, errInvalidFetchSessionEpoch)
	}
	// Forgetting every partition closes the session.
	f := incr(id, 6)
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.Topic, ft.Partitions = "t", []int32{0, 1, 2, 3}
	f.ForgottenTopics = append(f.ForgottenTopics, ft)
	if _, ctx, code := c.Begin(f, false, now); code != 0 || ctx != nil || c.Len() != 0 {
		t.Errorf("all forgotten: code %d ctx %v sessions %d", code, ctx, c.Len())
	}
}

// TestEviction follows Kafka's FetchSessionCache: a full cache evicts a
// stale session, else the smallest evictable one when the newcomer is
// larger; young sessions and privileged (follower) ones are protected.
func TestEviction(t *testing.T) {
	c := NewCache(2, DefaultEvictionAge)
	t0 := time.Unix(1000, 0)
	mk := func(n int32, follower bool, at time.Time) int32 {
		req, ctx, _ := c.Begin(fullReq(n), follower, at)
		resp := answer(req, 0)
		ctx.Finish(resp, at)
		return resp.SessionID
	}
	a, b := mk(2, false, t0), mk(5, false, t0)
	if a == 0 || b == 0 {
		t.Fatal("first two sessions not created")
	}
	// Young sessions: nothing can be evicted.
	if id := mk(10, false, t0.Add(time.Second)); id != 0 {
		t.Errorf("full cache of young sessions admitted a newcomer")
	}
	// A follower's session may evict an unprivileged one of any age if it
	// ranks above it: the smallest (a) goes.
	f := mk(3, true, t0.Add(2*time.Second))
	if f == 0 {
		t.Fatal("follower session refused")
	}
	if _, _, code := c.Begin(incr(a, 1), false, t0.Add(3*time.Second)); code != errFetchSessionIDNotFound {
		t.Errorf("smallest session not evicted for the follower's")
	}
	// Once b is idle past the eviction age, anyone may take its slot.
	late := t0.Add(DefaultEvictionAge + 5*time.Second)
	if _, ctx, _ := c.Begin(incr(f, 1), true, late); ctx == nil {
		t.Fatal("follower session lost")
	} else {
		ctx.Finish(answer(fullReq(3), 0), late)
	}
	if id := mk(1, false, late); id == 0 {
		t.Error("stale session not evicted")
	}
	if _, _, code := c.Begin(incr(b, 1), false, late); code != errFetchSessionIDNotFound {
		t.Error("the stale session is still there")
	}
	// A zero-slot cache never makes sessions.
	z := NewCache(0, DefaultEvictionAge)
	if _, ctx, _ := z.Begin(fullReq(1), false, t0); ctx != nil {
		t.Error("0 slots made a session context")
	}
}
