package handlers

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/fetchsession"
	"samsa/logstore"
	"samsa/protocol"
	"samsa/quota"
	"samsa/replica"
)

// Fetch v4-v18.
//
// Fetch sessions (KIP-227, package fetchsession): a fetch with session
// epoch 0 may create a session, whose id the answer carries; later
// fetches of that session (epoch > 0) list only changed partitions and
// are answered with only the partitions that have something new. The
// request is resolved into the full list of partitions first and the
// answer filtered last, so everything between is one code path.
func init() { register(4, 18, (*Handlers).fetch) }

// isolationReadCommitted is Fetch's and ListOffsets' isolation_level for
// read_committed.
const isolationReadCommitted = 1

func (h *Handlers) fetch(ctx context.Context, r *protocol.Request, req *kmsg.FetchRequest) (kmsg.Response, error) {
	fromReplica := fetchReplicaID(req) >= 0
	req, session, code := h.fetchSessions.Begin(req, fromReplica, time.Now())
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = code
		return resp, nil
	}
	var start time.Time
	if h.Quotas.Active() {
		start = time.Now()
		if !fromReplica && h.Quotas.Enabled(quota.Fetch) {
			// KafkaApis caps a consumer's max_bytes to what it may take
			// in a quota window, else it would always be throttled.
			maxWindow := h.Quotas.MaxValueInWindow(quota.Fetch, quotaUser(r), quotaClientID(r))
			if req.MaxBytes <= 0 || req.MaxBytes > maxWindow {
				req.MaxBytes = maxWindow
			}
		}
	}
	var deadline time.Time
	if req.MaxWaitMillis > 0 {
		deadline = time.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	}
	for {
		resp, bytes, waits, failed := h.fetchOnce(r, req)
		if bytes >= int(req.MinBytes) || failed || len(waits) == 0 || deadline.IsZero() || !time.Now().Before(deadline) {
			return h.finishFetch(r, req, session, resp, bytes, fromReplica, start), nil
		}
		r.DropSplices()
		if !waitAny(ctx, waits, time.Until(deadline)) {
			// Deadline or shutdown: answer with what there is now.
			resp, bytes, _, _ := h.fetchOnce(r, req)
			return h.finishFetch(r, req, session, resp, bytes, fromReplica, start), nil
		}
	}
}

// finishFetch completes the answer. With client quotas, it first
// records the answer's size against the consumer's consumer_byte_rate
// and the time spent against its request_percentage (the wait for
// min_bytes is not counted, as Kafka's request thread time does not count
// the purgatory); over either, it answers with no partitions and the
// throttle time, taking the size back out of the byte-rate sensor, as
// KafkaApis.handleFetchRequest does.
func (h *Handlers) finishFetch(r *protocol.Request, req *kmsg.FetchRequest, session *fetchsession.Context, resp *kmsg.FetchResponse, bytes int, fromReplica bool, start time.Time) *kmsg.FetchResponse {
	if !start.IsZero() && !fromReplica {
		user, client := quotaUser(r), quotaClientID(r)
		size := float64(bytes + fetchOverhead(req))
		reqMs := h.Quotas.Record(quota.Request, user, client, quota.RequestValue(time.Since(start)))
		bwMs := h.Quotas.Record(quota.Fetch, user, client, size)
		if ms := max(reqMs, bwMs); ms > 0 {
			h.Quotas.Unrecord(quota.Fetch, user, client, size)
			r.DropSplices()
			empty := req.ResponseKind().(*kmsg.FetchResponse)
			session.Throttled(empty)
			throttleResponse(r, empty, bwMs, reqMs)
			return empty
		}
	}
	r.SizeHint = bytes + fetchOverhead(req)
	h.countFetch(r, req, resp)
	session.Finish(resp, time.Now())
	return resp
}

// countFetch adds the partitions of the fetch response that goes out to
// the BrokerTopicMetrics (Kafka's ReplicaManager marks TotalFetchRequests
// per partition read and FailedFetchRequests per failed one, and
// KafkaApis BytesOut with each partition's record bytes).
//
// A follower's fetch counts its record bytes as ReplicationBytesOut (and
// ReassignmentBytesOut when the follower is a replica the partition's
// reassignment adds), not BytesOut (BrokerTopicStats.updateBytesOut).
// Spliced records count by their real length (Request.RecordsLen).
func (h *Handlers) countFetch(r *protocol.Request, req *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
	replicaID := fetchReplicaID(req)
	for i := range resp.Topics {
		st := &resp.Topics[i]
		tc := h.topicCounters(req.Version >= 13, st.Topic, st.TopicID)
		for j := range st.Partitions {
			sp := &st.Partitions[j]
			n := r.RecordsLen(sp.RecordBatches)
			if replicaID < 0 {
				h.Metrics.Fetched(tc, n, sp.ErrorCode != 0)
				continue
			}
			adding := false
			if n > 0 && tc != nil {
				if p := h.Replicas.Get(tc.Name, sp.Partition); p != nil {
					adding = p.IsAddingReplica(replicaID)
				}
			}
			h.Metrics.FetchedByFollower(tc, n, sp.ErrorCode != 0, adding)
		}
	}
}

// fetchOverhead estimates a fetch response's bytes besides records: about
// 64 per partition and the topic names.
func fetchOverhead(req *kmsg.FetchRequest) int {
	n := 64
	for _, t := range req.Topics {
		n += len(t.Topic) + 32 + 64*len(t.Partitions)
	}
	return n
}

// fetchOnce reads every requested partition once. waits holds each
// partition's append notification, taken before reading so an append
// between the read and the wait is not missed. failed reports a partition
// error or a preferred read replica (KIP-392), which make Kafka answer at
// once.
//
// Records are read as file ranges (logstore's ReadFile) and attached to
// r with SpliceRecords, so the connection sends them from the segment
// files with sendfile (zero copy, as Kafka's FileRecords; the write loop
// reads small ranges into the response's writev instead). A
// read_committed read that needs the aborted transactions reads bytes:
// those are spliced in too, and go out with the writev of the response.
func (h *Handlers) fetchOnce(r *protocol.Request, req *kmsg.FetchRequest) (resp *kmsg.FetchResponse, bytes int, waits []<-chan struct{}, failed bool) {
	resp = req.ResponseKind().(*kmsg.FetchResponse)
	replicaID := fetchReplicaID(req)
	remaining := int(req.MaxBytes)
	if req.MaxBytes <= 0 {
		remaining = 1<<31 - 1
	}
	var racks *brokerRacks // looked up once per fetch, when needed
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		t, terr := h.lookupTopic(req.Version >= 13, rt.Topic, rt.TopicID)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			// Kafka sends empty, not null, records; librdkafka rejects a
			// null message set.
			sp.RecordBatches = []byte{}
			err := terr
			var p *logstore.Partition
			var rpart *replica.Partition
			if err == nil {
				p, rpart, err = h.fetchPartition(t, rp, replicaID, req.Version)
			}
			if err == nil && rpart != nil && replicaID < 0 && req.Version >= 11 && req.Rack != "" && h.Replicas.SelectsFollowers() {
				if racks == nil {
					racks = h.brokerRacks()
				}
				if pref := rpart.PreferredReadReplica(req.Rack, rp.FetchOffset, racks.of); pref >= 0 {
					// KIP-392: the consumer is sent to a replica in its
					// rack; no read, no wait, the leader's offsets
					// (ReplicaManager.readFromLog's preferred path).
					sp.PreferredReadReplica = pref
					sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = p.HighWatermark(), p.LastStableOffset(), p.LogStartOffset()
					st.Partitions = append(st.Partitions, sp)
					failed = true // Kafka answers at once (hasPreferredReadReplica)
					continue
				}
			}
			if err != nil && (errorsIs(err, kerr.UnknownTopicOrPartition) || errorsIs(err, kerr.UnknownTopicID)) {
				// Kafka answers partitions it cannot find with an empty
				// aborted transactions list, and errors of the log read
				// (offset out of range, fencing, storage) with null.
				sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			}
			if err == nil {
				waits = append(waits, p.Wait())
				n := int(rp.PartitionMaxBytes)
				if n > remaining {
					n = remaining
				}
				sp.HighWatermark, sp.LogStartOffset = p.HighWatermark(), p.LogStartOffset()
				sp.LastStableOffset = p.LastStableOffset()
				committed := req.IsolationLevel == isolationReadCommitted
				if committed {
					// Kafka answers read_committed with a list (empty
					// when nothing aborted overlaps), read_uncommitted
					// with null.
					sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
				}
				var res logstore.ReadResult
				var aborted []logstore.AbortedTxn
				var rerr error
				if remaining <= 0 && bytes > 0 {
					// The response is full: no records can go out, so do
					// not read any; only the offset is checked.
					if rp.FetchOffset < sp.LogStartOffset || rp.FetchOffset > p.LogEndOffset() {
						err = logstore.ErrOffsetOutOfRange
					}
				} else if committed {
					res, aborted, rerr = p.ReadCommittedFile(rp.FetchOffset, int32(n))
				} else if rpart != nil && replicaID >= 0 {
					// A follower's fetch: the log up to its end, and the
					// follower's position recorded (replica.Partition).
					var div *replica.Diverging
					// No records when the leader quota throttles this follower.
					res = logstore.ReadResult{HighWatermark: p.HighWatermark(), LastStableOffset: p.LastStableOffset(), LogStartOffset: p.LogStartOffset()}
					div, rerr = rpart.FollowerFetch(replicaID, req.ReplicaState.Epoch, rp.CurrentLeaderEpoch, rp.FetchOffset, rp.LogStartOffset, rp.LastFetchedEpoch, func() (int, error) {
						var e error
						res, e = p.ReadReplicaFile(rp.FetchOffset, int32(n))
						return res.Len(), e
					})
					if div != nil {
						sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = div.Epoch, div.EndOffset
						res.Release()
						res = logstore.ReadResult{HighWatermark: p.HighWatermark(), LastStableOffset: p.LastStableOffset(), LogStartOffset: p.LogStartOffset()}
					}
				} else {
					res, rerr = p.ReadFile(rp.FetchOffset, int32(n))
				}
				if rerr != nil {
					res.Release()
					err = rerr
				} else if err == nil && !(remaining <= 0 && bytes > 0) {
					sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = res.HighWatermark, res.LastStableOffset, res.LogStartOffset
					for _, a := range aborted {
						at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
						at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
						sp.AbortedTransactions = append(sp.AbortedTransactions, at)
					}
					// KIP-74: an oversized first batch goes out only when
					// nothing came before it in this response.
					if k := res.Len(); k > 0 && (k <= remaining || bytes == 0) && remaining > 0 {
						fr := protocol.FileRange{File: res.File, Pos: res.FilePos, Len: res.FileLen}
						if res.File == nil {
							// Bytes (read_committed with aborted
							// transactions) go out as they are, not
							// copied into the encoded response.
							fr = protocol.FileRange{Bytes: res.Batches, Len: int64(len(res.Batches))}
						}
						fr.Release = res.TakeRelease()
						sp.RecordBatches = r.SpliceRecords(fr)
						bytes += k
						remaining -= k
					} else {
						res.Release()
					}
				}
				if err != nil {
					sp.AbortedTransactions = nil // errors of the log read: null, as Kafka
				}
			}
			if err != nil {
				// Kafka's error answer carries no offsets (-1, also when
				// the partition exists, as for OFFSET_OUT_OF_RANGE).
				sp.ErrorCode = logErrCode(err)
				h.fetchLeaderHint(req.Version, resp, &sp, err)
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
				failed = true
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, bytes, waits, failed
}

// fetchPartition finds a fetched partition's log. A partition the replica
// manager holds is served to followers by its leader only (checked by
// replica.Partition.FollowerFetch), and to consumers by its leader for
// Fetch v4-v10 and by any replica, leader or follower, for v11+ (KIP-392:
// Kafka's FetchParams.fetchOnlyLeader is false once the request carries
// client metadata, v11+); a follower serves them up to its high
// watermark, and OFFSET_OUT_OF_RANGE past its log end offset.
func (h *Handlers) fetchPartition(t controller.Topic, rp kmsg.FetchRequestTopicPartition, replicaID int32, version int16) (*logstore.Partition, *replica.Partition, error) {
	if rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
		return nil, nil, kerr.UnknownTopicOrPartition
	}
	rpart, err := h.Replicas.Lookup(t.Name, rp.Partition)
	if err != nil {
		return nil, nil, err
	}
	if rpart != nil {
		if replicaID < 0 {
			check := rpart.CheckLeader
			if version >= 11 {
				check = rpart.CheckReplica
			}
			if err := check(rp.CurrentLeaderEpoch); err != nil {
				return nil, nil, err
			}
		}
		p, err := h.partition(t, rp.Partition)
		return p, rpart, err
	}
	if err := checkLeaderEpoch(t.Partitions[rp.Partition], rp.CurrentLeaderEpoch); err != nil {
		return nil, nil, err
	}
	p, err := h.partition(t, rp.Partition)
	return p, nil, err
}

// fetchReplicaID is the fetching broker's id: Fetch v15+ carries it in
// ReplicaState (KIP-903), older versions in ReplicaID; consumers send -1.
func fetchReplicaID(req *kmsg.FetchRequest) int32 {
	if req.Version >= 15 {
		return req.ReplicaState.ID
	}
	return req.ReplicaID
}

// fetchLeaderHint fills KIP-951's current leader of a partition answered
// NOT_LEADER_OR_FOLLOWER (Fetch v12+) and, v16+, the leader's endpoint.
func (h *Handlers) fetchLeaderHint(version int16, resp *kmsg.FetchResponse, sp *kmsg.FetchResponseTopicPartition, err error) {
	var nl *replica.NotLeaderError
	if version < 12 || !errors.As(err, &nl) {
		return
	}
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = nl.Leader, nl.LeaderEpoch
	if version < 16 || nl.Leader < 0 {
		return
	}
	for _, b := range resp.Brokers {
		if b.NodeID == nl.Leader {
			return
		}
	}
	for _, b := range h.Controller.Brokers() {
		if b.ID == nl.Leader {
			e := kmsg.NewFetchResponseBroker()
			e.NodeID, e.Host, e.Port, e.Rack = b.ID, b.Host, b.Port, b.Rack
			resp.Brokers = append(resp.Brokers, e)
		}
	}
}

// waitAny blocks until one of chans is closed (true), or timeout passes or
// ctx ends (false).
func waitAny(ctx context.Context, chans []<-chan struct{}, timeout time.Duration) bool {
	if timeout <= 0 {
		return false
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	if len(chans) == 1 {
		select {
		case <-chans[0]:
			return true
		case <-timer.C:
		case <-ctx.Done():
		}
		return false
	}
	cases := make([]reflect.SelectCase, 0, len(chans)+2)
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	for _, c := range chans {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)})
	}
	i, _, _ := reflect.Select(cases)
	return i >= 2
}

// brokerRacks is broker.rack by broker id for the live brokers of the
// metadata cache (KIP-392's replica selection).
type brokerRacks struct {
	racks map[int32]string
}

func (h *Handlers) brokerRacks() *brokerRacks {
	bs := h.Controller.Brokers()
	r := &brokerRacks{racks: make(map[int32]string, len(bs))}
	for _, b := range bs {
		rack := ""
		if b.Rack != nil {
			rack = *b.Rack
		}
		r.racks[b.ID] = rack
	}
	return r
}

// of is a broker's rack and whether the broker is live.
func (r *brokerRacks) of(id int32) (string, bool) {
	rack, ok := r.racks[id]
	return rack, ok
}
