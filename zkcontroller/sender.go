package zkcontroller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"samsa/internal/kmsgfix"
)

// sendBackoff is the wait between tries of a request that failed (Kafka's
// RequestSendThread waits 100 ms); sendTimeout bounds one try.
const (
	sendBackoff = 100 * time.Millisecond
	sendTimeout = 10 * time.Second
)

// sender delivers requests to one broker in order (Kafka's
// RequestSendThread). A request that cannot be delivered is tried again
// every sendBackoff until it is, or until the sender is closed: when the
// broker leaves the controller's live set (its /brokers/ids znode went or
// carries a new broker epoch) or the controller resigns. The queue is
// unbounded, as Kafka's; queued requests that a newer one makes pointless
// are dropped (supersede), which never changes the order of the others.
type sender struct {
	broker int32
	addr   string
	log    *slog.Logger
	cl     *kgo.Client
	wake   chan struct{} // capacity 1: queue became non-empty
	stop   chan struct{}
	done   chan struct{}

	// mu guards queue.
	mu    sync.Mutex
	queue []queued
}

// queued is a request waiting to be sent; snapshot marks an
// UpdateMetadata carrying every live broker and partition, which a newer
// snapshot replaces entirely.
type queued struct {
	req      kmsg.Request
	snapshot bool
	// done, when set, gets the response, or errNotServed; it runs on the
	// sender goroutine and must not block.
	done func(kmsg.Response, error)
}

// errNotServed: the broker does not serve the request's API.
var errNotServed = errors.New("broker does not serve this request")

// newClient is a franz-go client for one broker's inter-broker listener,
// limited to the request versions Kafka 3.9 uses.
func newClient(addr, clientID string) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(kversion.V3_9_0()), kgo.ClientID(clientID),
		kgo.RequestRetries(0), kgo.DialTimeout(3*time.Second))
}

func startSender(from, broker int32, addr string, log *slog.Logger) (*sender, error) {
	cl, err := newClient(addr, "controller-"+strconv.Itoa(int(from))+"-to-broker-"+strconv.Itoa(int(broker)))
	if err != nil {
		return nil, fmt.Errorf("client for broker %d at %s: %w", broker, addr, err)
	}
	s := &sender{broker: broker, addr: addr, log: log, cl: cl, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s, nil
}

// enqueue queues req behind everything queued before. snapshot says req
// is a full UpdateMetadata (every live broker and partition): it then
// replaces the queued older snapshots behind the newest queued
// LeaderAndIsr or StopReplica (supersedeSnapshots). A LeaderAndIsr removes its
// partitions from queued older LeaderAndIsr requests (dropping those left
// empty) back to the newest queued StopReplica, since a broker acts only
// on the newest leader epoch of a partition anyway. Nothing is reordered.
func (s *sender) enqueue(req kmsg.Request, snapshot bool) {
	s.mu.Lock()
	switch r := req.(type) {
	case *kmsg.UpdateMetadataRequest:
		if snapshot {
			s.supersedeSnapshots()
		}
	case *kmsg.LeaderAndISRRequest:
		s.supersedeLeaderAndIsr(r)
	}
	s.queue = append(s.queue, queued{req: req, snapshot: snapshot})
	s.mu.Unlock()
	s.signal()
}

// enqueueWithCallback queues req (never superseded) with done to call
// with its response.
func (s *sender) enqueueWithCallback(req kmsg.Request, done func(kmsg.Response, error)) {
	s.mu.Lock()
	s.queue = append(s.queue, queued{req: req, done: done})
	s.mu.Unlock()
	s.signal()
}

func (s *sender) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func slicesDeleteFunc(q []queued, del func(queued) bool) []queued {
	out := q[:0]
	for _, x := range q {
		if !del(x) {
			out = append(out, x)
		}
	}
	clear(q[len(out):])
	return out
}

// supersedeSnapshots drops the queued snapshots that come after the
// newest queued LeaderAndIsr or StopReplica. Older ones stay: a broker
// must have learnt a partition's leader from an UpdateMetadata before
// the LeaderAndIsr that makes it a follower arrives (Kafka 3.9's
// ReplicaManager.makeFollowers refuses a leader missing from its
// metadata cache, "cannot become follower since the new leader is
// unavailable", and never fetches that partition until the next
// LeaderAndIsr). Kafka's controller never drops a queued request; its
// onBrokerStartup sends the UpdateMetadata naming a new broker before
// any LeaderAndIsr naming it as leader. mu is held.
func (s *sender) supersedeSnapshots() {
	from := 0
	for i, q := range s.queue {
		switch q.req.(type) {
		case *kmsg.LeaderAndISRRequest, *kmsg.StopReplicaRequest:
			from = i + 1
		}
	}
	s.queue = append(s.queue[:from], slicesDeleteFunc(s.queue[from:], func(q queued) bool { return q.snapshot })...)
}

// supersedeLeaderAndIsr strips the partitions of r from older queued
// LeaderAndIsr requests queued after the newest StopReplica. mu is held.
func (s *sender) supersedeLeaderAndIsr(r *kmsg.LeaderAndISRRequest) {
	newer := map[tp]bool{}
	for _, t := range r.TopicStates {
		for _, p := range t.PartitionStates {
			newer[tp{t.Topic, p.Partition}] = true
		}
	}
	from := 0
	for i, q := range s.queue {
		if _, ok := q.req.(*kmsg.StopReplicaRequest); ok {
			from = i + 1
		}
	}
	for i := from; i < len(s.queue); i++ {
		old, ok := s.queue[i].req.(*kmsg.LeaderAndISRRequest)
		if !ok {
			continue
		}
		topics := old.TopicStates[:0]
		for _, t := range old.TopicStates {
			ps := t.PartitionStates[:0]
			for _, p := range t.PartitionStates {
				if !newer[tp{t.Topic, p.Partition}] {
					ps = append(ps, p)
				}
			}
			if t.PartitionStates = ps; len(ps) > 0 {
				topics = append(topics, t)
			}
		}
		old.TopicStates = topics
	}
	s.queue = slicesDeleteFunc(s.queue, func(q queued) bool {
		l, ok := q.req.(*kmsg.LeaderAndISRRequest)
		return ok && len(l.TopicStates) == 0
	})
}

func (s *sender) close() {
	close(s.stop)
	<-s.done
	s.cl.Close()
}

func (s *sender) next() (queued, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return queued{}, false
	}
	q := s.queue[0]
	s.queue[0] = queued{}
	s.queue = s.queue[1:]
	return q, true
}

func (s *sender) run() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-s.stop; cancel() }()
	for {
		if q, ok := s.next(); ok {
			resp, err := s.send(ctx, q.req)
			if q.done != nil && ctx.Err() == nil {
				q.done(resp, err)
			}
			continue
		}
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
	}
}

// send delivers req, trying again every sendBackoff until it gets an
// answer or ctx ends (the sender closed). Errors in the answer are logged
// and not retried, as Kafka's RequestSendThread.
func (s *sender) send(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	name := kmsg.NameForKey(req.Key())
	for try := 0; ; try++ {
		rctx, cancel := context.WithTimeout(ctx, sendTimeout)
		resp, err := s.cl.SeedBrokers()[0].Request(rctx, kmsgfix.Request(req))
		cancel()
		if err == nil {
			if code := responseError(resp); code != 0 {
				s.log.Warn("controller: broker answered with an error", "broker", s.broker, "request", name,
					"error", kerr.ErrorForCode(code))
			}
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if strings.Contains(err.Error(), "broker is too old") {
			// The broker does not serve this API (kgo's errBrokerTooOld,
			// from its ApiVersions): retrying cannot help.
			s.log.Error("controller: broker does not serve request", "broker", s.broker, "request", name)
			return nil, errNotServed
		}
		if try == 0 || try%100 == 0 {
			s.log.Warn("controller: sending request to broker failed; retrying until it answers or leaves the cluster",
				"broker", s.broker, "addr", s.addr, "request", name, "tries", try+1, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(sendBackoff):
		}
	}
}

// responseError is the top-level error code of a control response.
func responseError(resp kmsg.Response) int16 {
	switch r := resp.(type) {
	case *kmsg.LeaderAndISRResponse:
		return r.ErrorCode
	case *kmsg.UpdateMetadataResponse:
		return r.ErrorCode
	case *kmsg.StopReplicaResponse:
		return r.ErrorCode
	}
	return 0
}
