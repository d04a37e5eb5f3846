package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/logstore"
)

// Cluster is what the replica manager needs to know of the cluster: where
// other brokers listen (the inter-broker listener) and which broker is the
// controller. The ZooKeeper side's metadata cache implements it; until one
// is set (SetCluster) the manager learns both from LeaderAndIsr requests
// (their controller id and LiveLeaders), see LearnedCluster.
type Cluster interface {
	// BrokerAddr is broker id's inter-broker host:port; false when unknown.
	BrokerAddr(id int32) (string, bool)
	// ControllerID is the active controller's broker id (-1: none).
	ControllerID() int32
}

// Config is the replication configuration (Kafka's names).
type Config struct {
	BrokerID int32
	// ReplicaLagTimeMaxMs is replica.lag.time.max.ms.
	ReplicaLagTimeMaxMs int64
	// FetchMaxBytes is replica.fetch.max.bytes (per partition).
	FetchMaxBytes int32
	// FetchResponseMaxBytes is replica.fetch.response.max.bytes.
	FetchResponseMaxBytes int32
	// FetchMinBytes is replica.fetch.min.bytes.
	FetchMinBytes int32
	// FetchWaitMaxMs is replica.fetch.wait.max.ms.
	FetchWaitMaxMs int32
	// FetchBackoffMs is replica.fetch.backoff.ms.
	FetchBackoffMs int32
	// NumFetchers is num.replica.fetchers (per source broker).
	NumFetchers int
	// HWCheckpointIntervalMs is
	// replica.high.watermark.checkpoint.interval.ms.
	HWCheckpointIntervalMs int64
	// SocketTimeout bounds one inter-broker request beyond its own wait
	// (replica.socket.timeout.ms, 30 s).
	SocketTimeout time.Duration
	// ClusterMode (zookeeper.connect set): a partition no LeaderAndIsr
	// named is not served (NOT_LEADER_OR_FOLLOWER) instead of being a
	// single node's, as a Kafka broker serves only what the controller
	// assigned it.
	ClusterMode bool
	// ReplicaSelector is replica.selector.class (KIP-392, selector.go).
	ReplicaSelector ReplicaSelector
	// QuotaWindowNum and QuotaWindowSize are
	// replication.quota.window.num and replication.quota.window.size
	// .seconds: the samples of the replication quotas' rates.
	QuotaWindowNum  int
	QuotaWindowSize time.Duration
}

// Deps are the manager's collaborators.
type Deps struct {
	Logs *logstore.Store
	// OpenLog returns the log of a partition, creating it with the
	// topic's settings when missing (the handlers' partition lookup).
	// topicID is LeaderAndIsr's (zero when the request has none): the
	// topic may not be in the metadata cache yet.
	OpenLog func(topic string, topicID [16]byte, partition int32) (*logstore.Partition, error)
	Logger  *slog.Logger
	// Now is the clock (tests inject one); nil: time.Now.
	Now func() time.Time
	// Meters counts the follower side's replication bytes; nil: not
	// counted.
	Meters ReplicationMeters
}

// ReplicationMeters are the all-topics BrokerTopicMetrics a follower
// marks for the record bytes it fetches (metrics.Broker implements it).
type ReplicationMeters interface {
	// ReplicationBytesIn counts bytes appended from the leader
	// (ReplicationBytesInPerSec) and, with reassignment, also
	// ReassignmentBytesInPerSec: this broker is a replica the partition's
	// reassignment adds (ReplicaFetcherThread.processPartitionData).
	ReplicationBytesIn(bytes int, reassignment bool)
}

// ReassigningPartitions is ReplicaManager's ReassigningPartitions gauge:
// the partitions this broker leads that are being reassigned (the last
// LeaderAndIsr named adding or removing replicas).
func (m *Manager) ReassigningPartitions() int {
	if m == nil {
		return 0
	}
	n := 0
	for _, p := range m.Partitions() {
		p.mu.RLock()
		if p.role == RoleLeader && p.reassigningLocked() {
			n++
		}
		p.mu.RUnlock()
	}
	return n
}

// Manager is the broker's replica manager (Kafka's ReplicaManager): the
// partitions LeaderAndIsr made this broker leader or follower of, the
// follower fetchers, ISR changes and the high watermark checkpoint.
type Manager struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	learned *LearnedCluster
	cluster atomic.Pointer[clusterBox]
	// epoch is this broker's epoch (SetBrokerEpoch), -1 until known.
	epoch       atomic.Int64
	epochSource atomic.Pointer[func() int64] // set in ZooKeeper mode; wins over epoch
	// active is set by the first LeaderAndIsr; until then Get answers
	// nil without a lock (a single node's hot path).
	active atomic.Bool
	// listener is told of leadership changes (SetLeadershipListener).
	listener atomic.Pointer[LeadershipListener]

	// mu guards the fields below (never held while taking a
	// Partition's mu... except in LeaderAndIsr, which takes mu then the
	// partitions' mu).
	mu              sync.RWMutex
	controllerEpoch int32
	parts           map[TP]*Partition
	topicIDs        map[[16]byte]string
	fetchers        map[fetcherKey]*fetcher
	checkpointed    map[TP]int64 // high watermarks read from the checkpoint at start

	// leaderQuota and followerQuota are the replication throttles
	// (KIP-73), set from dynamic broker and topic configs.
	leaderQuota, followerQuota *ReplicationQuota

	alterCh chan alterItem
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type clusterBox struct{ c Cluster }

// New returns a manager; Start runs its background work.
func New(cfg Config, deps Deps) *Manager {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if cfg.NumFetchers <= 0 {
		cfg.NumFetchers = 1
	}
	if cfg.SocketTimeout <= 0 {
		cfg.SocketTimeout = 30 * time.Second
	}
	if cfg.ReplicaLagTimeMaxMs <= 0 {
		cfg.ReplicaLagTimeMaxMs = 30000
	}
	if cfg.HWCheckpointIntervalMs <= 0 {
		cfg.HWCheckpointIntervalMs = 5000
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		cfg: cfg, deps: deps, log: deps.Logger,
		learned:         NewLearnedCluster(),
		controllerEpoch: -1,
		parts:           map[TP]*Partition{},
		topicIDs:        map[[16]byte]string{},
		fetchers:        map[fetcherKey]*fetcher{},
		alterCh:         make(chan alterItem, 1024),
		ctx:             ctx, cancel: cancel,
	}
	m.leaderQuota = NewReplicationQuota(cfg.BrokerID, cfg.QuotaWindowNum, cfg.QuotaWindowSize, deps.Now)
	m.followerQuota = NewReplicationQuota(cfg.BrokerID, cfg.QuotaWindowNum, cfg.QuotaWindowSize, deps.Now)
	m.cluster.Store(&clusterBox{m.learned})
	m.epoch.Store(-1)
	m.active.Store(cfg.ClusterMode)
	if deps.Logs != nil {
		ck, err := readHWCheckpoint(deps.Logs.Dir())
		if err != nil {
			m.log.Warn("replica: ignoring high watermark checkpoint", "err", err)
		}
		m.checkpointed = ck
	}
	return m
}

// LeaderQuota is the leader-side replication throttle
// (leader.replication.throttled.rate and .replicas): followers' fetches
// of throttled partitions get no records while it is exceeded.
func (m *Manager) LeaderQuota() *ReplicationQuota { return m.leaderQuota }

// FollowerQuota is the follower-side replication throttle
// (follower.replication.throttled.rate and .replicas): this broker's
// fetchers leave throttled partitions out while it is exceeded.
func (m *Manager) FollowerQuota() *ReplicationQuota { return m.followerQuota }

// Start runs the ISR expiration check, the high watermark checkpoint and
// the AlterPartition sender until Close.
func (m *Manager) Start() {
	m.wg.Add(3)
	go m.isrExpirationLoop()
	go m.checkpointLoop()
	go m.alterLoop()
}

// Close stops fetchers and background work and writes the high watermark
// checkpoint a last time.
func (m *Manager) Close() error {
	m.cancel()
	m.mu.Lock()
	fs := m.fetchers
	m.fetchers = map[fetcherKey]*fetcher{}
	m.mu.Unlock()
	for _, f := range fs {
		f.stop()
	}
	m.wg.Wait()
	return m.WriteCheckpoint()
}

// SetCluster installs the cluster view (the ZooKeeper side's metadata
// cache). Until then the manager uses what LeaderAndIsr requests taught
// it.
func (m *Manager) SetCluster(c Cluster) { m.cluster.Store(&clusterBox{c}) }

func (m *Manager) clusterView() Cluster { return m.cluster.Load().c }

func (m *Manager) nowMs() int64 { return m.deps.Now().UnixMilli() }

func (m *Manager) brokerEpoch() int64 {
	if f := m.epochSource.Load(); f != nil {
		return (*f)()
	}
	return m.epoch.Load()
}

// SetBrokerEpochSource makes the manager read this broker's epoch from f
// at each use instead of a value set once: in ZooKeeper mode the epoch
// changes when the broker registers again after its session expired
// (controller.ZK.BrokerEpoch).
func (m *Manager) SetBrokerEpochSource(f func() int64) { m.epochSource.Store(&f) }

// SetBrokerEpoch sets this broker's epoch: in ZooKeeper mode the czxid of
// its /brokers/ids/<id> registration (Kafka's KafkaZkClient
// registerBroker). From then on LeaderAndIsr and StopReplica requests for
// an older broker epoch are refused with STALE_BROKER_EPOCH, and fetches
// and AlterPartition requests carry it.
func (m *Manager) SetBrokerEpoch(epoch int64) { m.epoch.Store(epoch) }

// LeadershipListener hears that this broker became leader of a
// partition (leader true) or stopped leading it (leader false: it became
// follower, or StopReplica removed or stopped the replica), with the
// leader epoch of the change; called after the change, without locks, in
// the order of the changes of one partition. It must not block for long:
// it runs on the LeaderAndIsr / StopReplica request. Kafka's
// ReplicaManager hands the same to the coordinators'
// onLeadershipChange callback (GroupCoordinator.onElection /
// onResignation, TransactionCoordinator's).
type LeadershipListener func(tp TP, leader bool, leaderEpoch int32)

// SetLeadershipListener sets the listener (the broker wires the group
// and transaction coordinators to their internal topics' partitions).
func (m *Manager) SetLeadershipListener(f LeadershipListener) { m.listener.Store(&f) }

func (m *Manager) tellListener(tp TP, leader bool, epoch int32) {
	if f := m.listener.Load(); f != nil {
		(*f)(tp, leader, epoch)
	}
}

// Get returns this broker's replica of a partition, nil when no
// LeaderAndIsr named this broker for it (then it is a single node's
// partition: leader, ISR itself, high watermark = log end offset).
func (m *Manager) Get(topic string, partition int32) *Partition {
	if m == nil || !m.active.Load() {
		return nil
	}
	m.mu.RLock()
	p := m.parts[TP{topic, partition}]
	m.mu.RUnlock()
	return p
}

// ClusterMode reports Config.ClusterMode.
func (m *Manager) ClusterMode() bool { return m != nil && m.cfg.ClusterMode }

// Lookup is Get for the request handlers: (nil, nil) for a single node's
// partition, the replica for a managed one, and in cluster mode
// NOT_LEADER_OR_FOLLOWER (no leader known) for a partition no
// LeaderAndIsr named.
func (m *Manager) Lookup(topic string, partition int32) (*Partition, error) {
	p := m.Get(topic, partition)
	if p == nil && m.ClusterMode() {
		return nil, &NotLeaderError{TP: TP{topic, partition}, Leader: -1, LeaderEpoch: -1}
	}
	return p, nil
}

// TopicName resolves a topic id LeaderAndIsr gave (Fetch v13+ from
// followers names topics by id).
func (m *Manager) TopicName(id [16]byte) (string, bool) {
	if m == nil || !m.active.Load() {
		return "", false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, ok := m.topicIDs[id]
	return n, ok
}

// Partitions returns the managed partitions.
func (m *Manager) Partitions() []*Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Partition, 0, len(m.parts))
	for _, p := range m.parts {
		out = append(out, p)
	}
	return out
}

// LeaderAndIsr applies a LeaderAndIsr request from the controller
// (Kafka's ReplicaManager.becomeLeaderOrFollower, ZooKeeper mode): a
// request from an older controller epoch is refused whole
// (STALE_CONTROLLER_EPOCH), as is one for an older broker epoch
// (STALE_BROKER_EPOCH); per partition, a leader epoch not above the
// current one is answered STALE_CONTROLLER_EPOCH and ignored, a partition
// whose replicas do not include this broker UNKNOWN_TOPIC_OR_PARTITION;
// the rest make this broker leader or follower.
func (m *Manager) LeaderAndIsr(req *kmsg.LeaderAndISRRequest) *kmsg.LeaderAndISRResponse {
	resp := req.ResponseKind().(*kmsg.LeaderAndISRResponse)
	if req.Version >= 2 && req.BrokerEpoch >= 0 && req.BrokerEpoch < m.brokerEpoch() {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp
	}
	m.mu.Lock()
	if req.ControllerEpoch < m.controllerEpoch {
		m.mu.Unlock()
		m.log.Warn("replica: LeaderAndIsr from a stale controller", "controller", req.ControllerID, "controller_epoch", req.ControllerEpoch, "current", m.controllerEpoch)
		resp.ErrorCode = kerr.StaleControllerEpoch.Code
		return resp
	}
	m.controllerEpoch = req.ControllerEpoch
	m.active.Store(true)
	m.learned.learn(req.ControllerID, req.LiveLeaders)

	type todo struct {
		p  *Partition
		st kmsg.LeaderAndISRRequestTopicPartition
		sp *kmsg.LeaderAndISRResponseTopicPartition
	}
	var work []todo
	handle := func(topic string, id [16]byte, ps []kmsg.LeaderAndISRRequestTopicPartition, out []kmsg.LeaderAndISRResponseTopicPartition) {
		if id != ([16]byte{}) {
			m.topicIDs[id] = topic
		}
		for i, st := range ps {
			sp := &out[i]
			tp := TP{topic, st.Partition}
			if !slices.Contains(st.Replicas, m.cfg.BrokerID) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			p := m.parts[tp]
			if p == nil {
				lg, err := m.deps.OpenLog(topic, id, st.Partition)
				if err != nil {
					m.log.Error("replica: opening log for LeaderAndIsr", "partition", tp.String(), "err", err)
					sp.ErrorCode = kerr.KafkaStorageError.Code
					if errors.Is(err, kerr.UnknownTopicOrPartition) {
						sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
					}
					continue
				}
				p = &Partition{TP: tp, m: m, log: lg, leader: -1, leaderEpoch: -1, partitionEpoch: -1, followers: map[int32]*followerState{}}
				m.parts[tp] = p
			}
			p.mu.RLock()
			cur := p.leaderEpoch
			p.mu.RUnlock()
			if st.LeaderEpoch <= cur {
				m.log.Info("replica: ignoring LeaderAndIsr with a leader epoch not above the current one", "partition", tp.String(), "epoch", st.LeaderEpoch, "current", cur)
				sp.ErrorCode = kerr.StaleControllerEpoch.Code
				continue
			}
			work = append(work, todo{p, st, sp})
		}
	}
	if req.Version <= 1 {
		for i := range req.PartitionStates {
			st := req.PartitionStates[i]
			sp := kmsg.NewLeaderAndISRResponseTopicPartition()
			sp.Topic, sp.Partition = st.Topic, st.Partition
			resp.Partitions = append(resp.Partitions, sp)
			handle(st.Topic, [16]byte{}, req.PartitionStates[i:i+1], resp.Partitions[len(resp.Partitions)-1:])
		}
	} else {
		for _, ts := range req.TopicStates {
			out := make([]kmsg.LeaderAndISRResponseTopicPartition, len(ts.PartitionStates))
			for i, st := range ts.PartitionStates {
				out[i] = kmsg.NewLeaderAndISRResponseTopicPartition()
				out[i].Topic, out[i].Partition = ts.Topic, st.Partition
			}
			handle(ts.Topic, ts.TopicID, ts.PartitionStates, out)
			if req.Version >= 5 {
				rt := kmsg.NewLeaderAndISRResponseTopic()
				rt.TopicID = ts.TopicID
				rt.Partitions = out
				resp.Topics = append(resp.Topics, rt)
			} else {
				resp.Partitions = append(resp.Partitions, out...)
			}
		}
	}
	m.mu.Unlock()

	for _, w := range work {
		var id [16]byte
		for _, ts := range req.TopicStates {
			if ts.Topic == w.p.Topic {
				id = ts.TopicID
			}
		}
		if err := m.apply(w.p, id, w.st, req.ControllerEpoch); err != nil {
			m.log.Error("replica: applying LeaderAndIsr", "partition", w.p.TP.String(), "err", err)
			w.sp.ErrorCode = kerr.KafkaStorageError.Code
		}
	}
	return resp
}

// apply makes this broker leader or follower of p (Kafka's
// Partition.makeLeader / makeFollower).
func (m *Manager) apply(p *Partition, topicID [16]byte, st kmsg.LeaderAndISRRequestTopicPartition, controllerEpoch int32) error {
	p.mu.Lock()
	if st.LeaderEpoch <= p.leaderEpoch {
		p.mu.Unlock()
		return nil // a concurrent request got there first
	}
	wasReplicated := p.log.Replicated()
	hw := p.log.HighWatermark()
	if !wasReplicated {
		hw = m.checkpointedHW(p.TP)
	}
	p.topicID = topicID
	p.controllerEpoch = controllerEpoch
	p.leader, p.leaderEpoch, p.partitionEpoch = st.Leader, st.LeaderEpoch, st.ZKVersion
	p.replicas, p.isr = slices.Clone(st.Replicas), slices.Clone(st.ISR)
	p.adding, p.removing = slices.Clone(st.AddingReplicas), slices.Clone(st.RemovingReplicas)
	p.pendingISR = nil
	p.log.SetReplicated(true, hw)
	var err error
	if st.Leader == m.cfg.BrokerID {
		// Only a new leader starts a new term (Kafka's isNewLeader): a
		// leader epoch bump of a broker that stays leader (an ISR shrink)
		// does not fail delayed acks=all produces. Unlike Kafka, the
		// followers' positions are forgotten on any LeaderAndIsr and
		// learned again from their next fetch (keeping them broke the
		// ISR rejoin of a restarted follower in TestZKCluster; to be
		// looked into), so the high watermark waits for that fetch.
		if p.role != RoleLeader {
			p.leaderTerm++
		}
		p.role = RoleLeader
		if st.LeaderRecoveryState == 1 {
			m.log.Info("replica: partition was marked RECOVERING (unclean election); marking it RECOVERED", "partition", p.TP.String(), "leader_epoch", st.LeaderEpoch)
		}
		p.leaderRecoveryState = 0 // RECOVERED: Partition.makeLeader
		now := m.nowMs()
		p.stateMu.Lock()
		p.followers = map[int32]*followerState{}
		for _, id := range p.replicas {
			if id == m.cfg.BrokerID {
				continue
			}
			fs := &followerState{leo: -1, brokerEpoch: -1, logStart: -1}
			if slices.Contains(p.isr, id) {
				fs.lastCaughtUpMs = now
			}
			p.followers[id] = fs
		}
		p.stateMu.Unlock()
		err = p.log.AssignEpochStart(st.LeaderEpoch)
		p.leaderEpochStartOffset = p.log.LogEndOffset()
		p.maybeIncrementHWLocked()
		m.log.Info("replica: became leader", "partition", p.TP.String(), "leader_epoch", st.LeaderEpoch, "isr", st.ISR, "log_end_offset", p.leaderEpochStartOffset, "high_watermark", p.log.HighWatermark())
	} else {
		p.role = RoleFollower
		p.leaderRecoveryState = st.LeaderRecoveryState
		p.stateMu.Lock()
		p.followers = map[int32]*followerState{}
		p.stateMu.Unlock()
		m.log.Info("replica: became follower", "partition", p.TP.String(), "leader", st.Leader, "leader_epoch", st.LeaderEpoch)
	}
	epoch, leader, role := p.leaderEpoch, p.leader, p.role
	p.mu.Unlock()
	p.log.Notify() // delayed produces re-check leadership
	m.removeFromFetchers(p.TP)
	if role == RoleFollower && leader >= 0 {
		m.addToFetcher(p, leader, epoch)
	}
	if err == nil {
		m.tellListener(p.TP, role == RoleLeader, epoch)
	}
	return err
}

func (m *Manager) checkpointedHW(tp TP) int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.checkpointed[tp] // 0 when unknown, as Kafka starts a log without a checkpoint entry
}

// StopReplica applies a StopReplica request (Kafka's
// ReplicaManager.stopReplicas): a stale controller epoch is refused whole;
// per partition, a leader epoch (v3+) below the current one is
// FENCED_LEADER_EPOCH (-1, none, and -2, the topic is being deleted,
// always apply). The replica stops fetching (a controlled shutdown's
// followers); with delete set it is also forgotten and its log deleted.
func (m *Manager) StopReplica(req *kmsg.StopReplicaRequest) *kmsg.StopReplicaResponse {
	resp := req.ResponseKind().(*kmsg.StopReplicaResponse)
	if req.Version >= 1 && req.BrokerEpoch >= 0 && req.BrokerEpoch < m.brokerEpoch() {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp
	}
	m.mu.Lock()
	if req.ControllerEpoch < m.controllerEpoch {
		m.mu.Unlock()
		resp.ErrorCode = kerr.StaleControllerEpoch.Code
		return resp
	}
	m.controllerEpoch = req.ControllerEpoch
	m.mu.Unlock()
	type item struct {
		topic     string
		partition int32
		epoch     int32
		del       bool
	}
	var items []item
	for _, t := range req.Topics {
		switch {
		case req.Version >= 3:
			for _, ps := range t.PartitionStates {
				items = append(items, item{t.Topic, ps.Partition, ps.LeaderEpoch, ps.Delete})
			}
		case req.Version >= 1:
			for _, p := range t.Partitions {
				items = append(items, item{t.Topic, p, -1, req.DeletePartitions})
			}
		default:
			items = append(items, item{t.Topic, t.Partition, -1, req.DeletePartitions})
		}
	}
	for _, it := range items {
		sp := kmsg.NewStopReplicaResponsePartition()
		sp.Topic, sp.Partition = it.topic, it.partition
		sp.ErrorCode = m.stop(TP{it.topic, it.partition}, it.epoch, it.del)
		resp.Partitions = append(resp.Partitions, sp)
	}
	return resp
}

func (m *Manager) stop(tp TP, epoch int32, del bool) int16 {
	m.mu.Lock()
	p := m.parts[tp]
	if p != nil {
		p.mu.RLock()
		cur := p.leaderEpoch
		p.mu.RUnlock()
		if epoch >= 0 && epoch < cur {
			m.mu.Unlock()
			m.log.Info("replica: StopReplica with an older leader epoch ignored", "partition", tp.String(), "leader_epoch", epoch, "current", cur)
			return kerr.FencedLeaderEpoch.Code
		}
		if del {
			delete(m.parts, tp)
		}
	}
	m.mu.Unlock()
	m.removeFromFetchers(tp)
	if p != nil {
		if del {
			p.mu.Lock()
			p.role, p.pendingISR = RoleNone, nil
			p.mu.Unlock()
		}
		p.log.Notify() // delayed produces re-check (Kafka completes them)
		m.tellListener(tp, false, epoch)
	}
	m.log.Info("replica: stopped replica", "partition", tp.String(), "delete", del, "leader_epoch", epoch)
	if del && m.deps.Logs != nil {
		if err := m.deps.Logs.DeletePartition(tp.Topic, tp.Partition); err != nil {
			m.log.Error("replica: deleting partition for StopReplica", "partition", tp.String(), "err", err)
			return kerr.KafkaStorageError.Code
		}
	}
	return 0
}

// isrExpirationLoop checks every leader partition's ISR every
// replica.lag.time.max.ms / 2 (Kafka's isr-expiration task).
func (m *Manager) isrExpirationLoop() {
	defer m.wg.Done()
	t := time.NewTicker(time.Duration(m.cfg.ReplicaLagTimeMaxMs/2) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
			now := m.nowMs()
			for _, p := range m.Partitions() {
				p.maybeShrinkISR(now)
			}
		}
	}
}

func (m *Manager) checkpointLoop() {
	defer m.wg.Done()
	t := time.NewTicker(time.Duration(m.cfg.HWCheckpointIntervalMs) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
			if err := m.WriteCheckpoint(); err != nil {
				m.log.Error("replica: writing high watermark checkpoint", "err", err)
			}
		}
	}
}

// WriteCheckpoint writes the high watermarks of the managed partitions to
// replication-offset-checkpoint in the log dir (Kafka's
// ReplicaManager.checkpointHighWatermarks), so that a restart does not
// expose records that were not replicated.
func (m *Manager) WriteCheckpoint() error {
	if m.deps.Logs == nil || !m.active.Load() {
		return nil
	}
	hws := map[TP]int64{}
	m.mu.RLock()
	for tp, hw := range m.checkpointed {
		hws[tp] = hw
	}
	for tp, p := range m.parts {
		hws[tp] = p.log.HighWatermark()
	}
	m.mu.RUnlock()
	return writeHWCheckpoint(m.deps.Logs.Dir(), hws)
}

// alterItem is one AlterPartition proposal.
type alterItem struct {
	p              *Partition
	topicID        [16]byte
	leaderEpoch    int32
	partitionEpoch int32
	// leaderRecoveryState is the partition's (KIP-704), sent from
	// AlterPartition v1 on.
	leaderRecoveryState int8
	isr                 []isrMember
}

type isrMember struct {
	id          int32
	brokerEpoch int64
}

func (m *Manager) enqueueAlter(it alterItem) {
	select {
	case m.alterCh <- it:
	default:
		// The queue is full: drop the proposal; the next fetch or ISR
		// check proposes it again.
		it.p.pendingISR = nil
	}
}

// alterLoop sends AlterPartition requests (v3, Kafka 3.9's IBP version)
// to the controller one at a time, retrying each every
// replica.fetch.backoff.ms until the controller answers for it or its
// leader epoch is gone (Kafka's AlterPartitionManager).
func (m *Manager) alterLoop() {
	defer m.wg.Done()
	var conn *brokerConn
	defer func() {
		if conn != nil {
			conn.close()
		}
	}()
	backoff := time.Duration(max(m.cfg.FetchBackoffMs, 100)) * time.Millisecond
	for {
		var it alterItem
		select {
		case <-m.ctx.Done():
			return
		case it = <-m.alterCh:
		}
		for {
			if m.ctx.Err() != nil {
				return
			}
			if it.p.LeaderEpoch() != it.leaderEpoch {
				break
			}
			cl := m.clusterView()
			addr, ok := cl.BrokerAddr(cl.ControllerID())
			var resp *kmsg.AlterPartitionResponse
			var err error
			if !ok {
				err = fmt.Errorf("controller %d has no known address", cl.ControllerID())
			} else {
				if conn == nil || conn.addr != addr {
					if conn != nil {
						conn.close()
					}
					conn = newBrokerConn(addr, fmt.Sprintf("samsa-alter-partition-%d", m.cfg.BrokerID), m.cfg.SocketTimeout)
				}
				resp, err = m.sendAlter(conn, it)
			}
			if err == nil && resp.ErrorCode != 0 {
				err = kerr.ErrorForCode(resp.ErrorCode)
			}
			if err == nil {
				retry := true
				for _, rt := range resp.Topics {
					for _, rp := range rt.Partitions {
						if rp.Partition == it.p.Partition {
							retry = it.p.applyAlterResult(it.leaderEpoch, rp.ErrorCode, rp.LeaderEpoch, rp.ISR, rp.PartitionEpoch, rp.LeaderRecoveryState)
						}
					}
				}
				if !retry {
					break
				}
			} else {
				m.log.Warn("replica: AlterPartition failed; retrying", "partition", it.p.TP.String(), "err", err)
			}
			select {
			case <-m.ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
	}
}

func (m *Manager) sendAlter(conn *brokerConn, it alterItem) (*kmsg.AlterPartitionResponse, error) {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = 3
	req.BrokerID = m.cfg.BrokerID
	req.BrokerEpoch = m.brokerEpoch()
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic, rt.TopicID = it.p.Topic, it.topicID
	if it.topicID == ([16]byte{}) {
		req.Version = 1 // topics by name before v2
	}
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition = it.p.Partition
	rp.LeaderEpoch = it.leaderEpoch
	rp.PartitionEpoch = it.partitionEpoch
	rp.LeaderRecoveryState = it.leaderRecoveryState
	for _, mbr := range it.isr {
		rp.NewISR = append(rp.NewISR, mbr.id)
		e := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
		e.BrokerID, e.BrokerEpoch = mbr.id, mbr.brokerEpoch
		rp.NewEpochISR = append(rp.NewEpochISR, e)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.SocketTimeout)
	defer cancel()
	resp, err := conn.request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.AlterPartitionResponse), nil
}

// LearnedCluster is the Cluster a manager learns from LeaderAndIsr
// requests: the controller id of the last one and the LiveLeaders
// endpoints (the leaders of the partitions it names). Tests that play the
// controller rely on it; with ZooKeeper the metadata cache replaces it.
type LearnedCluster struct {
	mu         sync.RWMutex
	controller int32
	addrs      map[int32]string
}

// NewLearnedCluster returns an empty one.
func NewLearnedCluster() *LearnedCluster {
	return &LearnedCluster{controller: -1, addrs: map[int32]string{}}
}

func (c *LearnedCluster) learn(controller int32, live []kmsg.LeaderAndISRRequestLiveLeader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.controller = controller
	for _, l := range live {
		c.addrs[l.BrokerID] = fmt.Sprintf("%s:%d", l.Host, l.Port)
	}
}

// BrokerAddr implements Cluster.
func (c *LearnedCluster) BrokerAddr(id int32) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	a, ok := c.addrs[id]
	return a, ok
}

// ControllerID implements Cluster.
func (c *LearnedCluster) ControllerID() int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.controller
}
