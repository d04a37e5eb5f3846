package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"samsa/controller"
)

// TopicCounters are one topic's BrokerTopicMetrics (Kafka's
// kafka.server.BrokerTopicStats / BrokerTopicMetrics meters, of which the
// JMX exporter exports the Count). Each field is only ever added to.
type TopicCounters struct {
	Name string

	BytesIn               atomic.Uint64 // BytesInPerSec: record batch bytes appended by produce
	BytesOut              atomic.Uint64 // BytesOutPerSec: record batch bytes sent by fetch
	MessagesIn            atomic.Uint64 // MessagesInPerSec: records appended by produce
	TotalProduceRequests  atomic.Uint64 // TotalProduceRequestsPerSec: per partition of a produce
	FailedProduceRequests atomic.Uint64 // FailedProduceRequestsPerSec
	TotalFetchRequests    atomic.Uint64 // TotalFetchRequestsPerSec: per partition of a fetch
	FailedFetchRequests   atomic.Uint64 // FailedFetchRequestsPerSec
}

// Produced counts one partition's successful append of n bytes holding
// records records, for the topic and for all topics (Kafka's
// ReplicaManager.appendToLocalLog marks both meters).
func (m *Broker) Produced(tc *TopicCounters, bytes, records int) {
	tc.TotalProduceRequests.Add(1)
	tc.BytesIn.Add(uint64(bytes))
	tc.MessagesIn.Add(uint64(records))
	m.all.TotalProduceRequests.Add(1)
	m.all.BytesIn.Add(uint64(bytes))
	m.all.MessagesIn.Add(uint64(records))
}

// ProduceFailed counts one partition of a produce that was refused. tc is
// nil when the topic is unknown: then only the all-topics meter counts,
// as in Kafka, which has no per-topic meter for a topic that does not
// exist.
func (m *Broker) ProduceFailed(tc *TopicCounters) {
	if tc != nil {
		tc.TotalProduceRequests.Add(1)
		tc.FailedProduceRequests.Add(1)
	}
	m.all.TotalProduceRequests.Add(1)
	m.all.FailedProduceRequests.Add(1)
}

// Fetched counts one partition of a fetch that sent bytes record bytes
// (0 is a partition with nothing new); failed counts it as failed.
func (m *Broker) Fetched(tc *TopicCounters, bytes int, failed bool) {
	if tc != nil {
		tc.TotalFetchRequests.Add(1)
		tc.BytesOut.Add(uint64(bytes))
		if failed {
			tc.FailedFetchRequests.Add(1)
		}
	}
	m.all.TotalFetchRequests.Add(1)
	m.all.BytesOut.Add(uint64(bytes))
	if failed {
		m.all.FailedFetchRequests.Add(1)
	}
}

// FetchedByFollower counts one partition of a follower's fetch that
// sent bytes record bytes (Kafka's BrokerTopicStats.updateBytesOut with
// isFollower): TotalFetchRequests (and FailedFetchRequests) as any fetch,
// but the bytes go to ReplicationBytesOutPerSec, not BytesOutPerSec, and
// also to ReassignmentBytesOutPerSec when the follower is a replica the
// partition's reassignment adds.
func (m *Broker) FetchedByFollower(tc *TopicCounters, bytes int, failed, reassignment bool) {
	if tc != nil {
		tc.TotalFetchRequests.Add(1)
		if failed {
			tc.FailedFetchRequests.Add(1)
		}
	}
	m.all.TotalFetchRequests.Add(1)
	if failed {
		m.all.FailedFetchRequests.Add(1)
	}
	m.replicationBytesOut.Add(uint64(bytes))
	if reassignment {
		m.reassignmentBytesOut.Add(uint64(bytes))
	}
}

// ReplicationBytesIn counts record bytes a follower appended from its
// leader (ReplicationBytesInPerSec) and, with reassignment, the follower
// being a replica the reassignment adds, ReassignmentBytesInPerSec
// (ReplicaFetcherThread.processPartitionData). It implements
// replica.ReplicationMeters.
func (m *Broker) ReplicationBytesIn(bytes int, reassignment bool) {
	m.replicationBytesIn.Add(uint64(bytes))
	if reassignment {
		m.reassignmentBytesIn.Add(uint64(bytes))
	}
}

// topicIndex is an immutable snapshot of the per-topic counters, by id
// and by name (Fetch and Produce before v13 name topics, v13+ give ids).
type topicIndex struct {
	byID   map[controller.TopicID]*TopicCounters
	byName map[string]*TopicCounters
}

// TopicByID returns the counters of topic id, nil if it has none yet.
// It reads an immutable map through an atomic pointer: no lock and no
// allocation.
func (m *Broker) TopicByID(id controller.TopicID) *TopicCounters {
	return m.topics.Load().byID[id]
}

// TopicByName is TopicByID by topic name.
func (m *Broker) TopicByName(name string) *TopicCounters {
	return m.topics.Load().byName[name]
}

// Topic returns the counters of topic id (named name), creating them on
// first use; a new topic copies the index under topicsMu.
func (m *Broker) Topic(id controller.TopicID, name string) *TopicCounters {
	if tc := m.TopicByID(id); tc != nil {
		return tc
	}
	m.topicsMu.Lock()
	defer m.topicsMu.Unlock()
	old := m.topics.Load()
	if tc, ok := old.byID[id]; ok {
		return tc
	}
	tc := &TopicCounters{Name: name}
	next := old.without(func(k controller.TopicID, v *TopicCounters) bool { return v.Name == name })
	next.byID[id], next.byName[name] = tc, tc
	m.topics.Store(next)
	return tc
}

// ForgetTopic drops the counters of a deleted topic, as Kafka's
// BrokerTopicStats.removeMetrics does on topic deletion.
func (m *Broker) ForgetTopic(id controller.TopicID) {
	m.topicsMu.Lock()
	defer m.topicsMu.Unlock()
	old := m.topics.Load()
	if _, ok := old.byID[id]; !ok {
		return
	}
	m.topics.Store(old.without(func(k controller.TopicID, _ *TopicCounters) bool { return k == id }))
}

// without copies ix without the entries drop accepts.
func (ix *topicIndex) without(drop func(controller.TopicID, *TopicCounters) bool) *topicIndex {
	next := &topicIndex{byID: make(map[controller.TopicID]*TopicCounters, len(ix.byID)+1), byName: make(map[string]*TopicCounters, len(ix.byID)+1)}
	for k, v := range ix.byID {
		if !drop(k, v) {
			next.byID[k], next.byName[v.Name] = v, v
		}
	}
	return next
}

// maxAPIKey bounds the API keys request metrics are kept for; larger
// keys (none are served) are not counted.
const (
	maxAPIKey  = 127
	maxVersion = 31
	// Error codes run from -1 (UNKNOWN_SERVER_ERROR) up; Kafka 4 defines
	// about 130.
	maxErrCode = 191
)

// totalTimeBuckets are the upper bounds, in milliseconds, of the request
// total time histogram.
var totalTimeBuckets = [...]float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000}

// requestCounters are one API's RequestMetrics (Kafka's
// kafka.network.RequestMetrics): requests by version, errors by code,
// and the total time histogram.
type requestCounters struct {
	byVersion  [maxVersion + 1]atomic.Uint64
	errors     [maxErrCode + 2]atomic.Uint64 // index code+1
	buckets    [len(totalTimeBuckets) + 1]atomic.Uint64
	totalMicro atomic.Uint64
	// queue is RequestQueueTimeMs: from the frame's last byte read to
	// the handler starting.
	queueBuckets [len(totalTimeBuckets) + 1]atomic.Uint64
	queueMicro   atomic.Uint64
}

// listenerCounters are one Kafka listener's socket-server-metrics.
type listenerCounters struct {
	name    string
	open    atomic.Int64
	created atomic.Uint64
	closed  atomic.Uint64
}

// Broker holds every counter the hot paths add to. Create it with New;
// it is safe for concurrent use.
type Broker struct {
	all TopicCounters
	// Replication meters, all topics only (Kafka registers them only on
	// BrokerTopicStats.allTopicsStats): record bytes a follower appended
	// from its leader / a leader sent to followers, and the part of each
	// for replicas a reassignment adds.
	replicationBytesIn, replicationBytesOut   atomic.Uint64
	reassignmentBytesIn, reassignmentBytesOut atomic.Uint64

	controllerStats ControllerStats

	topicsMu sync.Mutex // serializes writers of topics
	topics   atomic.Pointer[topicIndex]

	requests [maxAPIKey + 1]requestCounters

	listenersMu sync.Mutex // guards listeners
	listeners   []*listenerCounters

	start time.Time
}

// New returns an empty set of counters.
func New() *Broker {
	m := &Broker{start: time.Now()}
	m.topics.Store(&topicIndex{byID: map[controller.TopicID]*TopicCounters{}, byName: map[string]*TopicCounters{}})
	return m
}

// Request counts one request of API key at version that took d, and the
// error codes its response carries (see errorCodes).
func (m *Broker) request(key, version int16, d, queued time.Duration) *requestCounters {
	if key < 0 || key > maxAPIKey {
		return nil
	}
	rc := &m.requests[key]
	if version >= 0 && version <= maxVersion {
		rc.byVersion[version].Add(1)
	}
	rc.buckets[bucketOf(d)].Add(1)
	rc.totalMicro.Add(uint64(d / time.Microsecond))
	if queued >= 0 {
		rc.queueBuckets[bucketOf(queued)].Add(1)
		rc.queueMicro.Add(uint64(queued / time.Microsecond))
	}
	return rc
}

// bucketOf is the index of the totalTimeBuckets bucket d falls in
// (len(totalTimeBuckets) for +Inf).
func bucketOf(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	i := 0
	for i < len(totalTimeBuckets) && ms > totalTimeBuckets[i] {
		i++
	}
	return i
}

// countError adds one occurrence of code to rc's errors.
func (rc *requestCounters) countError(code int16) {
	if code < -1 || code > maxErrCode {
		code = -1
	}
	rc.errors[code+1].Add(1)
}

// listener returns the counters of the named listener.
func (m *Broker) listener(name string) *listenerCounters {
	m.listenersMu.Lock()
	defer m.listenersMu.Unlock()
	for _, l := range m.listeners {
		if l.name == name {
			return l
		}
	}
	l := &listenerCounters{name: name}
	m.listeners = append(m.listeners, l)
	return l
}

// ConnOpened counts a connection accepted on listener (Kafka's
// socket-server-metrics connection-creation, connection-count).
func (m *Broker) ConnOpened(listener string) {
	l := m.listener(listener)
	l.created.Add(1)
	l.open.Add(1)
}

// ConnClosed counts a connection of listener that closed.
func (m *Broker) ConnClosed(listener string) {
	l := m.listener(listener)
	l.closed.Add(1)
	l.open.Add(-1)
}

// Totals returns the all-topics BytesInPerSec, BytesOutPerSec and
// MessagesInPerSec counts (bytes and records since start), for samplers
// such as the web console's throughput chart that turn them into rates.
func (m *Broker) Totals() (bytesIn, bytesOut, messagesIn uint64) {
	return m.all.BytesIn.Load(), m.all.BytesOut.Load(), m.all.MessagesIn.Load()
}
