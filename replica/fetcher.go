package replica

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Inter-broker request versions of Kafka 3.9 with
// inter.broker.protocol.version=3.9 (MetadataVersion.IBP_3_9_IV0).
const (
	fetchVersion                = 17
	offsetForLeaderEpochVersion = 4
	listOffsetsVersion          = 9
)

// fetcherKey names one fetcher goroutine: the source broker and the
// fetcher index (a partition goes to hash(topic, partition) modulo
// num.replica.fetchers, as Kafka's AbstractFetcherManager assigns it).
type fetcherKey struct {
	leader int32
	index  int
}

// fetchState is a follower partition's state in its fetcher (Kafka's
// PartitionFetchState): truncating means an OffsetForLeaderEpoch
// exchange must cut any diverged suffix before the next fetch.
type fetchState struct {
	p           *Partition
	leaderEpoch int32
	truncating  bool
	delayUntil  time.Time
	// lag is the leader's high watermark minus this replica's log end
	// after the last fetch, -1 before the first (PartitionFetchState.lag):
	// a replica with lag 0 is in sync and never throttled.
	lag int64
	// orig is, in a snapshot's copy, the state in fetcher.parts it was
	// copied from: work on a partition is applied only while that state
	// is still the partition's (see withOwned).
	orig *fetchState
}

// fetcher replicates the partitions one leader leads (Kafka's
// ReplicaFetcherThread): it truncates each new partition with
// OffsetForLeaderEpoch, then fetches in a loop and appends what comes.
type fetcher struct {
	m   *Manager
	key fetcherKey

	// mu guards parts and is held while a fetched response is applied
	// to a partition's log (Kafka's partitionMapLock), so that once
	// removeFromFetchers returns nothing more is written for the
	// partition.
	mu    sync.Mutex
	parts map[TP]*fetchState

	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	conn   *brokerConn
}

func (m *Manager) fetcherIndex(tp TP) int {
	h := fnv.New32a()
	h.Write([]byte(tp.Topic))
	return int((h.Sum32() + uint32(tp.Partition)) % uint32(m.cfg.NumFetchers))
}

// addToFetcher starts replicating p from leader in leaderEpoch.
func (m *Manager) addToFetcher(p *Partition, leader, leaderEpoch int32) {
	key := fetcherKey{leader, m.fetcherIndex(p.TP)}
	m.mu.Lock()
	if m.ctx.Err() != nil {
		m.mu.Unlock()
		return
	}
	f := m.fetchers[key]
	if f == nil {
		ctx, cancel := context.WithCancel(m.ctx)
		f = &fetcher{m: m, key: key, parts: map[TP]*fetchState{}, wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}
		m.fetchers[key] = f
		go f.run()
	}
	m.mu.Unlock()
	f.mu.Lock()
	f.parts[p.TP] = &fetchState{p: p, leaderEpoch: leaderEpoch, truncating: true, lag: -1}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// removeFromFetchers stops replicating tp: when it returns no fetcher
// writes to tp's log any more (a response in flight is dropped).
func (m *Manager) removeFromFetchers(tp TP) {
	m.mu.RLock()
	fs := make([]*fetcher, 0, len(m.fetchers))
	for _, f := range m.fetchers {
		fs = append(fs, f)
	}
	m.mu.RUnlock()
	for _, f := range fs {
		f.mu.Lock()
		delete(f.parts, tp)
		f.mu.Unlock()
	}
}

func (f *fetcher) stop() {
	f.cancel()
	<-f.done
}

func (f *fetcher) snapshot() []*fetchState {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	out := make([]*fetchState, 0, len(f.parts))
	for _, st := range f.parts {
		if now.After(st.delayUntil) {
			c := *st
			c.orig = st
			out = append(out, &c)
		}
	}
	return out
}

// withOwned runs fn with the live state of st's partition, holding
// f.mu, if the partition is still replicated by this fetcher in the state
// st was copied from; it reports whether fn ran.
func (f *fetcher) withOwned(st *fetchState, fn func(live *fetchState)) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	live := f.parts[st.p.TP]
	if live == nil || live != st.orig {
		return false
	}
	fn(live)
	return true
}

func (f *fetcher) backoff() time.Duration {
	return time.Duration(max(f.m.cfg.FetchBackoffMs, 10)) * time.Millisecond
}

func (f *fetcher) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.ctx.Done():
	case <-f.wake:
	case <-t.C:
	}
}

func (f *fetcher) run() {
	defer close(f.done)
	defer func() {
		if f.conn != nil {
			f.conn.close()
		}
	}()
	log := f.m.log.With("fetcher_leader", f.key.leader, "fetcher", f.key.index)
	for f.ctx.Err() == nil {
		states := f.snapshot()
		if len(states) == 0 {
			f.sleep(f.backoff())
			continue
		}
		addr, ok := f.m.clusterView().BrokerAddr(f.key.leader)
		if !ok {
			log.Warn("replica: leader's address is unknown")
			f.sleep(f.backoff())
			continue
		}
		if f.conn == nil || f.conn.addr != addr {
			if f.conn != nil {
				f.conn.close()
			}
			f.conn = newBrokerConn(addr, fmt.Sprintf("samsa-replica-fetcher-%d-%d", f.m.cfg.BrokerID, f.key.index), f.m.cfg.SocketTimeout+time.Duration(f.m.cfg.FetchWaitMaxMs)*time.Millisecond)
		}
		var trunc, fetch []*fetchState
		for _, st := range states {
			if st.truncating {
				trunc = append(trunc, st)
			} else {
				fetch = append(fetch, st)
			}
		}
		var err error
		if len(trunc) > 0 {
			err = f.truncate(trunc)
		} else if fetch = f.unthrottled(fetch); len(fetch) == 0 {
			// Every partition waits for the follower quota
			// (ReplicaFetcherThread backs off on an empty fetch).
			f.sleep(f.backoff())
		} else {
			err = f.fetch(fetch)
		}
		if err != nil && f.ctx.Err() == nil {
			log.Warn("replica: fetcher request failed", "err", err)
			f.sleep(f.backoff())
		}
	}
}

// truncate cuts diverged suffixes before fetching (Kafka's
// AbstractFetcherThread.truncateToEpochEndOffsets): it asks the leader
// for the end offset of this replica's latest epoch with
// OffsetForLeaderEpoch and truncates to the smaller of that and its own
// end of the epoch. A replica without any epoch truncates to its high
// watermark instead.
func (f *fetcher) truncate(states []*fetchState) error {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version = offsetForLeaderEpochVersion
	req.ReplicaID = f.m.cfg.BrokerID
	byTopic := map[string]int{}
	asked := map[TP]*fetchState{}
	for _, st := range states {
		epochs, err := st.p.log.LeaderEpochs()
		if err != nil {
			return err
		}
		if len(epochs) == 0 {
			f.truncateLocal(st, st.p.log.HighWatermark(), true)
			continue
		}
		i, ok := byTopic[st.p.Topic]
		if !ok {
			t := kmsg.NewOffsetForLeaderEpochRequestTopic()
			t.Topic = st.p.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[st.p.Topic] = i
		}
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition = st.p.Partition
		rp.CurrentLeaderEpoch = st.leaderEpoch
		rp.LeaderEpoch = epochs[len(epochs)-1].Epoch
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		asked[st.p.TP] = st
	}
	if len(req.Topics) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.m.cfg.SocketTimeout)
	defer cancel()
	kr, err := f.conn.request(ctx, req)
	if err != nil {
		return err
	}
	resp := kr.(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			st := asked[TP{rt.Topic, rp.Partition}]
			if st == nil {
				continue
			}
			if rp.ErrorCode != 0 {
				f.partitionError(st, rp.ErrorCode)
				continue
			}
			off, done := truncationOffset(st.p, rp.LeaderEpoch, rp.EndOffset)
			f.truncateLocal(st, off, done)
		}
	}
	return nil
}

// truncationOffset is Kafka's AbstractFetcherThread.getOffsetTruncationState
// for the leader's answer (epoch, endOffset): where to truncate, and
// whether truncation is complete or another exchange must follow (the
// follower did not know the leader's epoch).
func truncationOffset(p *Partition, leaderEpoch int32, endOffset int64) (int64, bool) {
	leo := p.log.LogEndOffset()
	if endOffset < 0 {
		return leo, true // the leader knows no such epoch: nothing to cut
	}
	if leaderEpoch < 0 {
		return min(endOffset, leo), true
	}
	fe, fo, err := p.log.EndOffsetForEpoch(leaderEpoch)
	if err != nil || fe < 0 {
		return min(endOffset, leo), true
	}
	if fe != leaderEpoch {
		return min(fo, leo), false
	}
	return min(fo, endOffset, leo), true
}

// truncateLocal truncates st's log to off if the partition is still a
// follower in st's epoch and still this fetcher's.
func (f *fetcher) truncateLocal(st *fetchState, off int64, done bool) {
	p := st.p
	f.withOwned(st, func(live *fetchState) {
		p.mu.RLock()
		defer p.mu.RUnlock()
		if p.role != RoleFollower || p.leaderEpoch != st.leaderEpoch {
			return
		}
		if _, err := p.log.TruncateTo(off); err != nil {
			f.m.log.Error("replica: truncation failed", "partition", p.TP.String(), "offset", off, "err", err)
			live.delayUntil = time.Now().Add(f.backoff())
			return
		}
		live.truncating = !done
	})
}

// partitionError handles a partition-level error from the leader:
// epoch and leadership errors wait for the controller's next
// LeaderAndIsr (retrying after the backoff), as Kafka's fetcher does.
func (f *fetcher) partitionError(st *fetchState, code int16) {
	f.m.log.Info("replica: leader refused partition", "partition", st.p.TP.String(), "leader", f.key.leader, "err", kerr.ErrorForCode(code))
	f.withOwned(st, func(live *fetchState) { live.delayUntil = time.Now().Add(f.backoff()) })
}

// fetch sends one Fetch for the partitions and appends what comes back
// (Kafka's ReplicaFetcherThread.processPartitionData).
// unthrottled leaves out the partitions the follower quota holds back
// (ReplicaFetcherThread.shouldFollowerThrottle): throttled on this
// broker, not in sync, and the quota exceeded.
func (f *fetcher) unthrottled(states []*fetchState) []*fetchState {
	q := f.m.followerQuota
	out := states[:0]
	var exceeded, checked bool
	for _, st := range states {
		if st.lag != 0 && q.IsThrottled(st.p.Topic, st.p.Partition) {
			if !checked {
				exceeded, checked = q.Exceeded(), true
			}
			if exceeded {
				continue
			}
		}
		out = append(out, st)
	}
	return out
}

func (f *fetcher) fetch(states []*fetchState) error {
	cfg := f.m.cfg
	req := kmsg.NewPtrFetchRequest()
	req.Version = fetchVersion
	req.ReplicaID = cfg.BrokerID
	req.ReplicaState.ID = cfg.BrokerID
	req.ReplicaState.Epoch = f.m.brokerEpoch()
	req.MaxWaitMillis = cfg.FetchWaitMaxMs
	req.MinBytes = cfg.FetchMinBytes
	req.MaxBytes = cfg.FetchResponseMaxBytes
	if req.MaxBytes <= 0 {
		req.MaxBytes = 10 << 20
	}
	req.SessionID, req.SessionEpoch = 0, -1
	byTopic := map[string]int{}
	asked := map[TP]*fetchState{}
	for _, st := range states {
		st.p.mu.RLock()
		id := st.p.topicID
		st.p.mu.RUnlock()
		if id == ([16]byte{}) {
			req.Version = 12 // topics by name
		}
		i, ok := byTopic[st.p.Topic]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = st.p.Topic, id
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[st.p.Topic] = i
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = st.p.Partition
		rp.CurrentLeaderEpoch = st.leaderEpoch
		rp.FetchOffset = st.p.log.LogEndOffset()
		rp.LastFetchedEpoch = -1
		if epochs, err := st.p.log.LeaderEpochs(); err == nil && len(epochs) > 0 {
			rp.LastFetchedEpoch = epochs[len(epochs)-1].Epoch
		}
		rp.LogStartOffset = st.p.log.LogStartOffset()
		rp.PartitionMaxBytes = cfg.FetchMaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		asked[st.p.TP] = st
	}
	ctx, cancel := context.WithTimeout(f.ctx, cfg.SocketTimeout+time.Duration(cfg.FetchWaitMaxMs)*time.Millisecond)
	defer cancel()
	kr, err := f.conn.request(ctx, req)
	if err != nil {
		return err
	}
	resp := kr.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		return fmt.Errorf("fetch from %d: %w", f.key.leader, kerr.ErrorForCode(resp.ErrorCode))
	}
	for _, rt := range resp.Topics {
		name := rt.Topic
		if req.Version >= 13 {
			for _, t := range req.Topics {
				if t.TopicID == rt.TopicID {
					name = t.Topic
				}
			}
		}
		for _, rp := range rt.Partitions {
			st := asked[TP{name, rp.Partition}]
			if st == nil {
				continue
			}
			f.processPartition(st, &rp)
		}
	}
	return nil
}

func (f *fetcher) processPartition(st *fetchState, rp *kmsg.FetchResponseTopicPartition) {
	p := st.p
	switch rp.ErrorCode {
	case 0:
	case kerr.OffsetOutOfRange.Code:
		f.outOfRange(st)
		return
	default:
		f.partitionError(st, rp.ErrorCode)
		return
	}
	if rp.DivergingEpoch.Epoch >= 0 && rp.DivergingEpoch.EndOffset >= 0 {
		// KIP-320 truncation on fetch (a Kafka leader answers so).
		off, done := truncationOffset(p, rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset)
		f.truncateLocal(st, off, done)
		return
	}
	f.withOwned(st, func(live *fetchState) {
		p.mu.RLock()
		defer p.mu.RUnlock()
		if p.role != RoleFollower || p.leaderEpoch != st.leaderEpoch {
			return // leadership changed while the fetch was out
		}
		if len(rp.RecordBatches) > 0 {
			if f.m.followerQuota.IsThrottled(p.Topic, p.Partition) {
				f.m.followerQuota.Record(len(rp.RecordBatches))
			}
			if _, err := p.log.AppendReplica(rp.RecordBatches); err != nil {
				f.m.log.Error("replica: appending fetched batches", "partition", p.TP.String(), "err", err)
				live.truncating, live.delayUntil = true, time.Now().Add(f.backoff())
				return
			}
			if mt := f.m.deps.Meters; mt != nil {
				mt.ReplicationBytesIn(len(rp.RecordBatches), p.reassigningLocked() && slices.Contains(p.adding, f.m.cfg.BrokerID))
			}
		}
		if rp.HighWatermark >= 0 {
			p.log.SetHighWatermark(min(rp.HighWatermark, p.log.LogEndOffset()))
			live.lag = max(0, rp.HighWatermark-p.log.LogEndOffset())
		}
		// The leader's log start (retention, DeleteRecords) moves the
		// follower's (Kafka's maybeIncrementLogStartOffset on a follower).
		if ls := rp.LogStartOffset; ls > p.log.LogStartOffset() && ls <= p.log.HighWatermark() {
			if _, err := p.log.DeleteRecordsBefore(ls); err != nil {
				f.m.log.Warn("replica: following the leader's log start offset", "partition", p.TP.String(), "log_start_offset", ls, "err", err)
			}
		}
	})
}

// outOfRange handles OFFSET_OUT_OF_RANGE (Kafka's
// handleOutOfRangeError): a follower ahead of the leader's log end
// truncates to it; one behind the leader's log start starts its log
// there.
func (f *fetcher) outOfRange(st *fetchState) {
	p := st.p
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = listOffsetsVersion
	req.ReplicaID = f.m.cfg.BrokerID
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = p.Topic
	for _, ts := range []int64{-1, -2} {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = p.Partition, st.leaderEpoch, ts
		t.Partitions = []kmsg.ListOffsetsRequestTopicPartition{rp}
		req.Topics = []kmsg.ListOffsetsRequestTopic{t}
		ctx, cancel := context.WithTimeout(f.ctx, f.m.cfg.SocketTimeout)
		kr, err := f.conn.request(ctx, req)
		cancel()
		if err != nil {
			f.partitionError(st, kerr.NetworkException.Code)
			return
		}
		resp := kr.(*kmsg.ListOffsetsResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			f.partitionError(st, kerr.UnknownServerError.Code)
			return
		}
		off := resp.Topics[0].Partitions[0].Offset
		var terr error
		owned := f.withOwned(st, func(*fetchState) {
			p.mu.RLock()
			defer p.mu.RUnlock()
			if p.role != RoleFollower || p.leaderEpoch != st.leaderEpoch {
				return
			}
			leo := p.log.LogEndOffset()
			switch {
			case ts == -1 && off < leo:
				_, terr = p.log.TruncateTo(off)
			case ts == -2 && leo < off:
				_, terr = p.log.TruncateFullyAndStartAt(off)
			}
		})
		if !owned {
			return
		}
		if terr != nil {
			f.m.log.Error("replica: out-of-range truncation", "partition", p.TP.String(), "err", terr)
			f.partitionError(st, kerr.KafkaStorageError.Code)
			return
		}
	}
}
