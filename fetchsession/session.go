package fetchsession

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's error codes answered here.
const (
	errFetchSessionIDNotFound   int16 = 70
	errInvalidFetchSessionEpoch int16 = 71
	errFetchSessionTopicID      int16 = 106
)

// DefaultEvictionAge is how long a session is protected from eviction
// by a bigger one, and after how long unused it may be evicted by any
// (Kafka's min.incremental.fetch.session.eviction.ms, fixed at 120000).
const DefaultEvictionAge = 120 * time.Second

// key names a partition in a session: by topic id in sessions made with
// Fetch v13+, else by name.
type key struct {
	id        [16]byte
	topic     string
	partition int32
}

// partition is one partition of a session: what the fetcher asked for
// last, and what was last sent to it.
type partition struct {
	key
	topic string // the name, also for id-keyed sessions (for rebuilding requests)

	maxBytes           int32
	fetchOffset        int64
	logStartOffset     int64 // the fetcher's (followers)
	currentLeaderEpoch int32
	lastFetchedEpoch   int32

	highWatermark int64 // last sent; -1 after an error
	localLogStart int64 // last sent
	removed       bool  // to be dropped from Session.order by compact
}

// Session is one incremental fetch session.
type Session struct {
	id           int32
	privileged   bool
	usesTopicIDs bool
	created      time.Time

	// Guarded by Cache.mu.
	lastUsed time.Time
	size     int // partitions when last touched

	mu    sync.Mutex // guards the fields below
	epoch int32      // the epoch the next incremental request must carry
	parts map[key]*partition
	order []*partition // fetch order; may hold removed entries until compacted
}

// nextEpoch is Kafka's FetchMetadata.nextEpoch.
func nextEpoch(e int32) int32 {
	switch {
	case e < 0:
		return -1
	case e == math.MaxInt32:
		return 1
	}
	return e + 1
}

// Cache holds the sessions of one broker.
type Cache struct {
	maxEntries  int
	evictionAge time.Duration

	mu       sync.Mutex // guards sessions and each session's lastUsed and size
	sessions map[int32]*Session
}

// NewCache returns a cache of at most maxEntries sessions
// (max.incremental.fetch.session.cache.slots; 0 disables sessions).
func NewCache(maxEntries int, evictionAge time.Duration) *Cache {
	return &Cache{maxEntries: maxEntries, evictionAge: evictionAge, sessions: map[int32]*Session{}}
}

// Len is the number of sessions (Kafka's NumIncrementalFetchSessions).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions)
}

// Context is one fetch request's view of its session. The zero value
// (nil *Context) is a sessionless fetch.
type Context struct {
	cache    *Cache
	full     bool // a full fetch that may create a session
	session  *Session
	reqEpoch int32
	req      *kmsg.FetchRequest // the request as given (full fetches)
	follower bool
	byID     bool
}

// Begin resolves req's session (Kafka's FetchManager.newContext). It
// returns the request to serve — req itself for a full fetch, or one
// listing every partition of the session for an incremental one — and
// the context to Finish the answer with. A non-zero code is the error the
// whole answer must carry (no partitions, session id 0). follower is a
// fetch from a replica (replica id >= 0).
func (c *Cache) Begin(req *kmsg.FetchRequest, follower bool, now time.Time) (*kmsg.FetchRequest, *Context, int16) {
	if req.Version < 7 {
		return req, nil, 0
	}
	byID := req.Version >= 13
	if req.SessionEpoch == 0 || req.SessionEpoch == -1 {
		if req.SessionID != 0 {
			c.remove(req.SessionID)
		}
		if req.SessionEpoch == -1 || c.maxEntries <= 0 {
			return req, nil, 0
		}
		return req, &Context{cache: c, full: true, req: req, follower: follower, byID: byID}, 0
	}
	c.mu.Lock()
	s, ok := c.sessions[req.SessionID]
	if !ok {
		c.mu.Unlock()
		return req, nil, errFetchSessionIDNotFound
	}
	s.mu.Lock()
	if s.epoch != req.SessionEpoch {
		s.mu.Unlock()
		c.mu.Unlock()
		return req, nil, errInvalidFetchSessionEpoch
	}
	if s.usesTopicIDs != byID {
		s.mu.Unlock()
		c.mu.Unlock()
		return req, nil, errFetchSessionTopicID
	}
	s.update(req)
	if len(s.parts) == 0 {
		s.mu.Unlock()
		c.removeLocked(s)
		c.mu.Unlock()
		return req, nil, 0
	}
	s.epoch = nextEpoch(s.epoch)
	full := s.request(req)
	n := len(s.parts)
	s.mu.Unlock()
	c.touchLocked(s, n, now)
	c.mu.Unlock()
	return full, &Context{cache: c, session: s, reqEpoch: req.SessionEpoch, byID: byID}, 0
}

// keyOf names a request or response partition.
func keyOf(byID bool, topic string, id [16]byte, p int32) key {
	if byID {
		return key{id: id, partition: p}
	}
	return key{topic: topic, partition: p}
}

// update applies an incremental request's partitions and forgotten
// topics (Kafka's FetchSession.update). s.mu is held.
func (s *Session) update(req *kmsg.FetchRequest) {
	for i := range req.Topics {
		rt := &req.Topics[i]
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			k := keyOf(s.usesTopicIDs, rt.Topic, rt.TopicID, rp.Partition)
			p := s.parts[k]
			if p == nil {
				p = &partition{key: k, topic: rt.Topic, highWatermark: -1, localLogStart: -1}
				s.parts[k] = p
				s.order = append(s.order, p)
			}
			p.maxBytes, p.fetchOffset, p.logStartOffset = rp.PartitionMaxBytes, rp.FetchOffset, rp.LogStartOffset
			p.currentLeaderEpoch, p.lastFetchedEpoch = rp.CurrentLeaderEpoch, rp.LastFetchedEpoch
		}
	}
	for i := range req.ForgottenTopics {
		ft := &req.ForgottenTopics[i]
		for _, pn := range ft.Partitions {
			k := keyOf(s.usesTopicIDs, ft.Topic, ft.TopicID, pn)
			if p := s.parts[k]; p != nil {
				p.removed = true
				delete(s.parts, k)
			}
		}
	}
	if len(s.order) != len(s.parts) {
		s.compact()
	}
}

// compact drops partitions marked removed from the order.
func (s *Session) compact() {
	kept := s.order[:0]
	for _, p := range s.order {
		if !p.removed {
			kept = append(kept, p)
		}
	}
	for i := len(kept); i < len(s.order); i++ {
		s.order[i] = nil
	}
	s.order = kept
}

// request builds the full request an incremental fetch is served as:
// req's settings, every session partition in the session's order
// (consecutive partitions of one topic grouped). s.mu is held.
func (s *Session) request(req *kmsg.FetchRequest) *kmsg.FetchRequest {
	full := *req
	full.Topics = make([]kmsg.FetchRequestTopic, 0, 8)
	full.ForgottenTopics = nil
	for _, p := range s.order {
		n := len(full.Topics)
		if n == 0 || full.Topics[n-1].Topic != p.topic || full.Topics[n-1].TopicID != p.id {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = p.topic, p.id
			full.Topics = append(full.Topics, t)
			n++
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.LogStartOffset, rp.PartitionMaxBytes = p.partition, p.fetchOffset, p.logStartOffset, p.maxBytes
		rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = p.currentLeaderEpoch, p.lastFetchedEpoch
		full.Topics[n-1].Partitions = append(full.Topics[n-1].Partitions, rp)
	}
	return &full
}

// mustRespond is Kafka's CachedPartition.maybeUpdateResponseData: whether
// an incremental answer includes sp, and (update) remembering what it
// sends.
func (p *partition) mustRespond(sp *kmsg.FetchResponseTopicPartition, update bool) bool {
	must := len(sp.RecordBatches) > 0
	if p.highWatermark != sp.HighWatermark {
		must = true
		if update {
			p.highWatermark = sp.HighWatermark
		}
	}
	if p.localLogStart != sp.LogStartOffset {
		must = true
		if update {
			p.localLogStart = sp.LogStartOffset
		}
	}
	if sp.PreferredReadReplica >= 0 {
		must = true
	}
	if sp.ErrorCode != 0 {
		if update {
			p.highWatermark = -1
		}
		must = true
	}
	if sp.DivergingEpoch.Epoch >= 0 || sp.DivergingEpoch.EndOffset >= 0 {
		must = true
	}
	return must
}

// Finish completes resp, the answer to the request Begin returned: a full
// fetch may create a session (its id goes in the answer); an incremental
// one keeps only the partitions that must be sent. ctx may be nil.
func (ctx *Context) Finish(resp *kmsg.FetchResponse, now time.Time) {
	if ctx == nil {
		return
	}
	if ctx.full {
		resp.SessionID = ctx.cache.create(ctx, resp, now)
		return
	}
	s := ctx.session
	s.mu.Lock()
	defer s.mu.Unlock()
	resp.SessionID = s.id
	if s.epoch != nextEpoch(ctx.reqEpoch) {
		// Another request of this session came in between: Kafka's
		// "possible duplicate request".
		resp.ErrorCode = errInvalidFetchSessionEpoch
		resp.Topics = resp.Topics[:0]
		return
	}
	var moved []*partition
	out := resp.Topics[:0]
	for i := range resp.Topics {
		st := resp.Topics[i]
		kept := st.Partitions[:0]
		for j := range st.Partitions {
			sp := &st.Partitions[j]
			p := s.parts[keyOf(s.usesTopicIDs, st.Topic, st.TopicID, sp.Partition)]
			if p == nil || p.mustRespond(sp, true) {
				if p != nil && len(sp.RecordBatches) > 0 {
					moved = append(moved, p)
				}
				kept = append(kept, *sp)
			}
		}
		if len(kept) == 0 {
			continue
		}
		st.Partitions = kept
		// Merge with the previous entry of the same topic (the session
		// order may split a topic).
		if n := len(out); n > 0 && out[n-1].Topic == st.Topic && out[n-1].TopicID == st.TopicID {
			out[n-1].Partitions = append(out[n-1].Partitions, st.Partitions...)
			continue
		}
		out = append(out, st)
	}
	resp.Topics = out
	if len(moved) > 0 {
		for _, p := range moved {
			p.removed = true
		}
		s.compact()
		for _, p := range moved {
			p.removed = false
			s.order = append(s.order, p)
		}
	}
}

// create makes a session from a full fetch and its answer, if the cache
// admits it (Kafka's FetchSessionCacheShard.maybeCreateSession), and
// returns its id, or 0.
func (c *Cache) create(ctx *Context, resp *kmsg.FetchResponse, now time.Time) int32 {
	size := 0
	for i := range resp.Topics {
		size += len(resp.Topics[i].Partitions)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sessions) >= c.maxEntries && !c.tryEvictLocked(ctx.follower, size, now) {
		return 0
	}
	s := &Session{privileged: ctx.follower, usesTopicIDs: ctx.byID, created: now, epoch: 1, parts: make(map[key]*partition, size)}
	reqParts := map[key]*kmsg.FetchRequestTopicPartition{}
	for i := range ctx.req.Topics {
		rt := &ctx.req.Topics[i]
		for j := range rt.Partitions {
			reqParts[keyOf(ctx.byID, rt.Topic, rt.TopicID, rt.Partitions[j].Partition)] = &rt.Partitions[j]
		}
	}
	for i := range resp.Topics {
		st := &resp.Topics[i]
		for j := range st.Partitions {
			sp := &st.Partitions[j]
			k := keyOf(ctx.byID, st.Topic, st.TopicID, sp.Partition)
			if _, dup := s.parts[k]; dup {
				continue
			}
			p := &partition{key: k, topic: st.Topic, highWatermark: sp.HighWatermark, localLogStart: sp.LogStartOffset}
			if rp := reqParts[k]; rp != nil {
				p.maxBytes, p.fetchOffset, p.logStartOffset = rp.PartitionMaxBytes, rp.FetchOffset, rp.LogStartOffset
				p.currentLeaderEpoch, p.lastFetchedEpoch = rp.CurrentLeaderEpoch, rp.LastFetchedEpoch
			}
			s.parts[k] = p
			s.order = append(s.order, p)
		}
	}
	for {
		s.id = rand.Int32N(math.MaxInt32-1) + 1
		if _, taken := c.sessions[s.id]; !taken {
			break
		}
	}
	c.sessions[s.id] = s
	c.touchLocked(s, len(s.parts), now)
	return s.id
}

// touchLocked records a use of s. c.mu is held.
func (c *Cache) touchLocked(s *Session, size int, now time.Time) {
	s.lastUsed, s.size = now, size
}

// tryEvictLocked makes room for a new session of size partitions (Kafka's
// tryEvict): the least recently used session if it is stale, else the
// smallest evictable one if the new session outranks it. c.mu is held.
func (c *Cache) tryEvictLocked(privileged bool, size int, now time.Time) bool {
	var lru *Session
	for _, s := range c.sessions {
		if lru == nil || s.lastUsed.Before(lru.lastUsed) || (s.lastUsed.Equal(lru.lastUsed) && s.id < lru.id) {
			lru = s
		}
	}
	if lru == nil {
		return false
	}
	if now.Sub(lru.lastUsed) > c.evictionAge {
		c.removeLocked(lru)
		return true
	}
	// Evictable: sessions older than the eviction age; for a privileged
	// newcomer also unprivileged sessions of any age. The "smallest" is
	// ordered by (privileged, size, id), and the newcomer must not rank
	// below it.
	var victim *Session
	for _, s := range c.sessions {
		old := now.Sub(s.created) > c.evictionAge
		if !(old || (privileged && !s.privileged)) {
			continue
		}
		if victim == nil || less(s, victim) {
			victim = s
		}
	}
	if victim == nil {
		return false
	}
	newcomer := &Session{privileged: privileged, size: size, id: 0}
	if less(newcomer, victim) {
		return false
	}
	c.removeLocked(victim)
	return true
}

// less orders sessions for eviction as Kafka's EvictableKey:
// (privileged, size, id), unprivileged and small first.
func less(a, b *Session) bool {
	if a.privileged != b.privileged {
		return !a.privileged
	}
	if a.size != b.size {
		return a.size < b.size
	}
	return a.id < b.id
}

func (c *Cache) remove(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sessions[id]; ok {
		c.removeLocked(s)
	}
}

func (c *Cache) removeLocked(s *Session) { delete(c.sessions, s.id) }

// Throttled completes the empty answer to a fetch that is throttled by a
// client quota (Kafka's FetchContext.getThrottledResponse): no
// partitions, and the session's id for an incremental fetch (a full fetch
// creates no session). The session's cached partition state is left as
// it was, so the next fetch sends what this one would have. ctx may be
// nil.
func (ctx *Context) Throttled(resp *kmsg.FetchResponse) {
	if ctx == nil || ctx.full {
		return
	}
	s := ctx.session
	s.mu.Lock()
	defer s.mu.Unlock()
	resp.SessionID = s.id
	if s.epoch != nextEpoch(ctx.reqEpoch) {
		resp.ErrorCode = errInvalidFetchSessionEpoch
	}
}
