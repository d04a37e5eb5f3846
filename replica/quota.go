package replica

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ReplicationQuota is one of Kafka's two ReplicationQuotaManagers (leader
// and follower side, KIP-73): a byte rate limit for the replication of
// throttled partitions, and the set of partitions that are throttled on
// this broker.
//
// The rate is measured as Kafka's Rate over a SampledStat: Window samples
// of WindowSize each (replication.quota.window.num, default 11, and
// replication.quota.window.size.seconds, default 1); the bytes of the
// live samples divided by the time since the oldest one started, but
// never by less than Window-1 whole samples. So a quota admits a burst of
// about (Window-1) x WindowSize x limit after a quiet period, as Kafka's
// does. The quota is exceeded while that rate is above the limit
// (Sensor.checkQuotas); the replication of a throttled partition then
// pauses (follower: the partition is left out of the fetch; leader: the
// fetch gets no records) until the rate falls below it.
//
// Safe for concurrent use; IsThrottled takes a read lock only.
type ReplicationQuota struct {
	brokerID int32
	windowMs int64
	now      func() time.Time

	// mu guards everything below.
	mu        sync.RWMutex
	limit     float64 // bytes per second; +Inf: unlimited
	samples   []quotaSample
	cur       int
	throttled map[string]throttledSet
}

type quotaSample struct {
	start int64 // ms
	bytes int64
}

// throttledSet is one topic's throttled partitions on this broker: all,
// or the listed ones.
type throttledSet struct {
	all   bool
	parts map[int32]bool
}

// NewReplicationQuota returns an unlimited quota with nothing throttled
// for broker brokerID. window (>= 1) samples of windowSize each.
func NewReplicationQuota(brokerID int32, window int, windowSize time.Duration, now func() time.Time) *ReplicationQuota {
	if window < 1 {
		window = 11
	}
	if windowSize <= 0 {
		windowSize = time.Second
	}
	if now == nil {
		now = time.Now
	}
	q := &ReplicationQuota{brokerID: brokerID, windowMs: windowSize.Milliseconds(), now: now, limit: math.Inf(1),
		samples: make([]quotaSample, window), throttled: map[string]throttledSet{}}
	t := now().UnixMilli()
	for i := range q.samples {
		q.samples[i].start = t
	}
	return q
}

// SetLimit sets the rate limit in bytes per second (Kafka's
// leader/follower.replication.throttled.rate); a negative one, or
// math.MaxInt64 (Kafka's default), means unlimited.
func (q *ReplicationQuota) SetLimit(bytesPerSec int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if bytesPerSec < 0 || bytesPerSec == math.MaxInt64 {
		q.limit = math.Inf(1)
		return
	}
	q.limit = float64(bytesPerSec)
}

// Limit is the rate limit in bytes per second, -1 when unlimited.
func (q *ReplicationQuota) Limit() int64 {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if math.IsInf(q.limit, 1) {
		return -1
	}
	return int64(q.limit)
}

// SetThrottled replaces topic's throttled partitions on this broker from
// its leader/follower.replication.throttled.replicas value
// (ReplicationQuotaManager.markThrottled / removeThrottle); an empty
// value removes the topic's throttle.
func (q *ReplicationQuota) SetThrottled(topic, value string) error {
	all, parts, err := ParseThrottledReplicas(value, q.brokerID)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !all && len(parts) == 0 {
		delete(q.throttled, topic)
		return nil
	}
	set := throttledSet{all: all, parts: map[int32]bool{}}
	for _, p := range parts {
		set.parts[p] = true
	}
	q.throttled[topic] = set
	return nil
}

// RetainTopics drops the throttles of topics keep rejects (topics whose
// config no longer names any).
func (q *ReplicationQuota) RetainTopics(keep func(topic string) bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for t := range q.throttled {
		if !keep(t) {
			delete(q.throttled, t)
		}
	}
}

// IsThrottled reports whether the replication of topic-partition is
// throttled on this broker.
func (q *ReplicationQuota) IsThrottled(topic string, partition int32) bool {
	if q == nil {
		return false
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	s, ok := q.throttled[topic]
	return ok && (s.all || s.parts[partition])
}

// Exceeded reports whether the measured rate is above the limit.
func (q *ReplicationQuota) Exceeded() bool {
	if q == nil {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if math.IsInf(q.limit, 1) {
		return false
	}
	return q.rateLocked(q.now().UnixMilli()) > q.limit
}

// Rate is the measured rate in bytes per second.
func (q *ReplicationQuota) Rate() float64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.rateLocked(q.now().UnixMilli())
}

// Record adds n replicated bytes of throttled partitions.
func (q *ReplicationQuota) Record(n int) {
	if q == nil || n <= 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now().UnixMilli()
	q.purgeLocked(now)
	if s := &q.samples[q.cur]; now-s.start >= q.windowMs {
		q.cur = (q.cur + 1) % len(q.samples)
		q.samples[q.cur] = quotaSample{start: now}
	}
	q.samples[q.cur].bytes += int64(n)
}

// purgeLocked resets samples that ended more than a whole window ago
// (SampledStat.purgeObsoleteSamples).
func (q *ReplicationQuota) purgeLocked(now int64) {
	expire := int64(len(q.samples)) * q.windowMs
	for i := range q.samples {
		if now-q.samples[i].start >= expire {
			q.samples[i] = quotaSample{start: now}
		}
	}
}

// rateLocked is Rate.measure: total bytes over the elapsed time since the
// oldest sample, at least Window-1 whole samples.
func (q *ReplicationQuota) rateLocked(now int64) float64 {
	q.purgeLocked(now)
	var total int64
	oldest := now
	for _, s := range q.samples {
		total += s.bytes
		oldest = min(oldest, s.start)
	}
	elapsed := now - oldest
	full := elapsed / q.windowMs
	if minFull := int64(len(q.samples) - 1); full < minFull {
		elapsed += (minFull - full) * q.windowMs
	}
	if elapsed <= 0 {
		elapsed = q.windowMs
	}
	return float64(total) * 1000 / float64(elapsed)
}

// ParseThrottledReplicas parses a leader/follower.replication.throttled
// .replicas value for broker (Kafka's
// DynamicConfigHandler.parseThrottledPartitions): "*" throttles every
// partition; otherwise "partition:broker" pairs separated by commas (with
// optional spaces), of which those naming broker give the throttled
// partitions. An empty value throttles nothing. Errors: anything else.
func ParseThrottledReplicas(value string, broker int32) (all bool, parts []int32, err error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return false, nil, nil
	}
	if v == "*" {
		return true, nil, nil
	}
	for _, item := range strings.Split(v, ",") {
		ps, bs, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok {
			return false, nil, fmt.Errorf("throttled replica %q is not partition:broker", item)
		}
		p, err1 := strconv.ParseInt(strings.TrimSpace(ps), 10, 32)
		b, err2 := strconv.ParseInt(strings.TrimSpace(bs), 10, 32)
		if err1 != nil || err2 != nil || p < 0 || b < 0 {
			return false, nil, fmt.Errorf("throttled replica %q is not partition:broker", item)
		}
		if int32(b) == broker {
			parts = append(parts, int32(p))
		}
	}
	return false, parts, nil
}
