package zkcontroller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/internal/zkdata"
	"samsa/metrics"
)

// Config configures the controller role.
type Config struct {
	// ZK is this broker's ZooKeeper-backed metadata (session, cache).
	ZK *controller.ZK
	// InterBrokerListener is inter.broker.listener.name: the listener the
	// controller sends requests to on every broker.
	InterBrokerListener string
	// UncleanLeaderElection is the broker default of
	// unclean.leader.election.enable; a topic override wins.
	UncleanLeaderElection bool
	// AutoLeaderRebalance is auto.leader.rebalance.enable: the elected
	// controller checks leader imbalance 5 s after its election and then
	// every LeaderImbalanceCheckInterval (leader.imbalance.check.interval
	// .seconds), moving leadership back to preferred replicas for every
	// broker whose imbalance exceeds LeaderImbalancePerBrokerPercentage
	// (KafkaController.checkAndTriggerAutoLeaderRebalance).
	AutoLeaderRebalance                bool
	LeaderImbalanceCheckInterval       time.Duration
	LeaderImbalancePerBrokerPercentage int
	Logger                             *slog.Logger
	// Stats are the ControllerStats metrics this role marks
	// (UncleanLeaderElectionsPerSec, PartitionReassignmentRateAndTimeMs);
	// nil: none.
	Stats *metrics.ControllerStats
}

// Controller runs the election and, while elected, the controller's work.
type Controller struct {
	cfg  Config
	z    *controller.ZK
	conn retryConn
	id   int32
	log  *slog.Logger

	events chan any
	stop   chan struct{}
	done   chan struct{}

	// epochSeen is the controller epoch of this broker's current term,
	// -1 when not the controller; read by tests and metrics.
	epochSeen atomic.Int32
	started   atomic.Bool
	// sessionExpired is set when ZooKeeper reports this broker's session
	// expired; the run goroutine resigns before handling anything else
	// and clears it.
	sessionExpired atomic.Bool

	// Owned by the run goroutine (see the package documentation).
	active       bool
	gen          int
	epoch        int32
	epochVersion int32
	live         map[int32]liveBroker
	// shuttingDown are the live brokers that asked for a controlled
	// shutdown (ControllerContext.shuttingDownBrokerIds): they still get
	// requests but no longer count as live replicas for elections.
	shuttingDown map[int32]bool
	// termStop ends this term's timers (the auto rebalance) on resignation.
	termStop chan struct{}
	topics   map[string]*topicCtx
	senders  map[int32]*sender
	// deleting holds the topics being deleted (TopicDeletionManager),
	// out of topics until every replica acknowledged StopReplica.
	deleting map[string]*topicDeletion
}

type liveBroker struct {
	info  zkdata.Broker
	epoch int64 // czxid of its registration
}

type topicCtx struct {
	name     string
	id       [16]byte
	replicas map[int32][]int32
	// adding and removing are the topic znode's adding_replicas and
	// removing_replicas: a partition with either non-empty is being
	// reassigned (ReplicaAssignment.isBeingReassigned), and its replicas
	// are then RS = ORS + TRS (reassign.go).
	adding   map[int32][]int32
	removing map[int32][]int32
	parts    map[int32]*partCtx // only partitions with a state znode
}

type partCtx struct {
	st      zkdata.PartitionState
	version int32 // the state znode's version: the partition epoch
}

type tp struct {
	topic string
	part  int32
}

// Events; the ones from watches carry the generation they were set in.
type (
	evElect            struct{}
	evControllerChange struct{}
	evBrokerChange     struct{ gen int }
	evTopicChange      struct{ gen int }
	evTopicModified    struct {
		gen   int
		topic string
	}
	evDeleteTopics struct{ gen int }
	evAlter        struct {
		req   *kmsg.AlterPartitionRequest
		reply chan *kmsg.AlterPartitionResponse
	}
	evAllocate struct {
		brokerID int32
		epoch    int64
		reply    chan allocResult
	}
	evEpoch              struct{ reply chan int32 }
	evControlledShutdown struct {
		brokerID int32
		epoch    int64
		reply    chan shutdownResult
	}
	evElectLeaders struct {
		typ   int8
		parts []tp
		reply chan map[tp]electResult
	}
	evAutoRebalance struct{ gen int }
	evExpired       struct{}
)

type allocResult struct {
	block zkdata.ProducerIDBlock
	err   error
}

// errControllerMoved means a conditional write found /controller_epoch
// changed: another broker is controller now.
var errControllerMoved = errors.New("controller moved")

// New prepares the role; Start begins it. Requests it serves before
// Start are answered NOT_CONTROLLER.
func New(cfg Config) *Controller {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Controller{cfg: cfg, z: cfg.ZK, id: cfg.ZK.BrokerID(), log: log,
		events: make(chan any, 1024), stop: make(chan struct{}), done: make(chan struct{})}
	c.conn = retryConn{cfg.ZK.Conn(), c}
	c.epochSeen.Store(-1)
	return c
}

// Start takes part in the election at once and again after every new
// ZooKeeper session. Call it once the broker serves its listeners, since
// the elected controller sends requests to every broker, itself included.
func (c *Controller) Start() {
	c.z.OnSession(func() { c.post(evElect{}) })
	c.z.OnExpire(c.onSessionExpired)
	go c.run()
	c.started.Store(true)
	c.post(evElect{})
}

// closeWait bounds how long Close waits for the event goroutine, which
// may be inside a ZooKeeper operation that only ends when ZooKeeper
// answers or the connection closes (controller.ZK.Close, after Close).
const closeWait = 5 * time.Second

// Close resigns (if elected) and stops the role. It returns within about
// closeWait even when ZooKeeper is unreachable; the event goroutine then
// ends when the ZooKeeper connection is closed.
func (c *Controller) Close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	if c.started.Load() {
		select {
		case <-c.done:
		case <-time.After(closeWait):
			c.log.Warn("controller: role still waiting on zookeeper; it stops when the connection closes", "broker_id", c.id)
		}
	}
}

// Epoch is the controller epoch of this broker's term, -1 when it is not
// the controller.
func (c *Controller) Epoch() int32 { return c.epochSeen.Load() }

func (c *Controller) post(ev any) {
	select {
	case c.events <- ev:
	case <-c.stop:
	}
}

// watch posts ev when the watch ch fires.
func (c *Controller) watch(ch <-chan zk.Event, ev any) {
	go func() {
		select {
		case <-ch:
			c.post(ev)
		case <-c.stop:
		}
	}()
}

func (c *Controller) p(kafkaPath string) string { return c.z.Path(kafkaPath) }

func (c *Controller) run() {
	defer close(c.done)
	for {
		// Stopping wins over queued events.
		select {
		case <-c.stop:
			c.stopped()
			return
		default:
		}
		select {
		case <-c.stop:
			c.stopped()
			return
		case ev := <-c.events:
			c.handle(ev)
		}
	}
}

func (c *Controller) handle(ev any) {
	c.resignIfExpired()
	switch e := ev.(type) {
	case evElect:
		c.maybeResign()
		c.elect()
	case evControllerChange:
		c.maybeResign()
		c.elect()
	case evBrokerChange:
		if c.active && e.gen == c.gen {
			c.guard(c.onBrokerChange)
		}
	case evTopicChange:
		if c.active && e.gen == c.gen {
			c.guard(c.onTopicChange)
		}
	case evTopicModified:
		if c.active && e.gen == c.gen {
			c.guard(func() error { return c.onTopicModified(e.topic) })
		}
	case evDeleteTopics:
		if c.active && e.gen == c.gen {
			c.guard(c.onDeleteTopics)
		}
	case evIsrChange:
		if c.active && e.gen == c.gen {
			c.guard(func() error { return c.onIsrChangeNotification(true) })
		}
	case evAlter:
		e.reply <- c.alterPartition(e.req)
	case evAllocate:
		b, err := c.allocateProducerIDs(e.brokerID, e.epoch)
		e.reply <- allocResult{b, err}
	case evControlledShutdown:
		parts, err := c.controlledShutdown(e.brokerID, e.epoch)
		if errors.Is(err, errControllerMoved) {
			c.log.Warn("controller: another broker became controller during a controlled shutdown; resigning")
			c.resign()
			c.elect() // not c.post: the run loop must never wait on its own queue
			err = kerr.NotController
		}
		e.reply <- shutdownResult{parts, err}
	case evElectLeaders:
		e.reply <- c.electLeaders(e.typ, e.parts)
	case evAutoRebalance:
		if c.active && e.gen == c.gen {
			c.guard(c.autoRebalance)
		}
	case evStopReplicaDone:
		if c.active && e.gen == c.gen {
			c.guard(func() error { return c.onStopReplicaDone(e) })
		}
	case evResendStopReplica:
		if c.active && e.gen == c.gen {
			c.resendStopReplica(e.topic, e.broker)
		}
	case evAlterReassignments:
		start := time.Now()
		res := c.alterReassignments(e)
		c.cfg.Stats.PartitionReassignment(time.Since(start))
		e.reply <- res
	case evListReassignments:
		e.reply <- c.listReassignments(e.parts)
	case evZkReassignment:
		defer func(start time.Time) { c.cfg.Stats.PartitionReassignment(time.Since(start)) }(time.Now())
		if c.active && e.gen == c.gen {
			if e.created {
				c.guard(func() error { _, err := c.processZkReassignment(); return err })
			} else {
				c.guard(func() error { _, err := c.watchZkReassignment(); return err })
			}
		}
	case evEpoch:
		if c.active {
			e.reply <- c.epoch
		} else {
			e.reply <- -1
		}
	}
}

// guard runs fn and resigns when it finds the controller moved; other
// errors are logged (the next event retries from ZooKeeper's state).
func (c *Controller) guard(fn func() error) {
	if err := fn(); err != nil {
		if errors.Is(err, errControllerMoved) {
			c.log.Warn("controller: another broker became controller; resigning", "broker_id", c.id)
			c.resign()
			c.elect()
			return
		}
		c.log.Error("controller: event failed", "err", err)
	}
}

// currentController reads /controller and sets a watch on it.
func (c *Controller) currentController() (int32, error) {
	data, _, ch, err := c.conn.GetW(c.p(zkdata.ControllerPath))
	if errors.Is(err, zk.ErrNoNode) {
		ok, _, ch2, err := c.conn.ExistsW(c.p(zkdata.ControllerPath))
		if err != nil {
			return -1, err
		}
		c.watch(ch2, evControllerChange{})
		if ok {
			return c.currentController()
		}
		return -1, nil
	}
	if err != nil {
		return -1, err
	}
	c.watch(ch, evControllerChange{})
	id, err := zkdata.DecodeController(data)
	if err != nil {
		return -1, err
	}
	return id, nil
}

func (c *Controller) maybeResign() {
	if !c.active {
		return
	}
	id, err := c.currentController()
	if err != nil || id != c.id {
		c.resign()
	}
}

// elect is KafkaController.elect: when nobody holds /controller, try to
// create it and increment the epoch in one conditional multi-op.
func (c *Controller) elect() {
	if c.active {
		return
	}
	id, err := c.currentController()
	if err != nil {
		c.log.Warn("controller: reading /controller failed; retrying", "err", err)
		c.retryLater(evElect{})
		return
	}
	if id != -1 {
		return
	}
	epoch, version, err := c.registerController()
	if err != nil {
		if !errors.Is(err, zk.ErrNodeExists) {
			c.log.Warn("controller: election attempt failed; retrying", "err", err)
			c.retryLater(evElect{})
		}
		// Someone else won; the /controller watch is set.
		return
	}
	c.becomeController(epoch, version)
}

// becomeController starts the term won with epoch (the epoch znode at
// version): KafkaController.onControllerFailover.
func (c *Controller) becomeController(epoch, version int32) {
	c.epoch, c.epochVersion = epoch, version
	c.active = true
	c.gen++
	c.epochSeen.Store(epoch)
	c.z.SetActive(true)
	c.log.Info("controller: elected", "broker_id", c.id, "controller_epoch", epoch)
	c.termStop = make(chan struct{})
	if err := c.onFailover(); err != nil {
		c.log.Error("controller: failover failed; resigning", "err", err)
		c.deleteController()
		c.resign()
		c.retryLater(evElect{})
		return
	}
	if c.cfg.AutoLeaderRebalance {
		c.scheduleAutoRebalance(c.gen, c.termStop)
	}
}

func (c *Controller) retryLater(ev any) {
	go func() {
		select {
		case <-time.After(time.Second):
			c.post(ev)
		case <-c.stop:
		}
	}()
}

// registerController creates /controller and bumps /controller_epoch
// atomically, returning the new epoch and the epoch znode's new version.
func (c *Controller) registerController() (int32, int32, error) {
	data, st, err := c.conn.Get(c.p(zkdata.ControllerEpochPath))
	if errors.Is(err, zk.ErrNoNode) {
		// KafkaZkClient.maybeCreateControllerEpochZNode: epoch 0.
		_, err = c.conn.Create(c.p(zkdata.ControllerEpochPath), zkdata.EncodeControllerEpoch(0), 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return 0, 0, err
		}
		data, st, err = c.conn.Get(c.p(zkdata.ControllerEpochPath))
	}
	if err != nil {
		return 0, 0, err
	}
	cur, err := zkdata.DecodeControllerEpoch(data)
	if err != nil {
		return 0, 0, err
	}
	next := cur + 1
	res, err := c.conn.Multi(
		&zk.CreateRequest{Path: c.p(zkdata.ControllerPath), Data: zkdata.EncodeController(c.id, time.Now().UnixMilli()),
			Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagEphemeral},
		&zk.SetDataRequest{Path: c.p(zkdata.ControllerEpochPath), Data: zkdata.EncodeControllerEpoch(next), Version: st.Version},
	)
	if err != nil {
		if errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrBadVersion) {
			// Perhaps our own multi-op, applied but its reply lost.
			if version, ok := c.electedByUs(next); ok {
				c.log.Info("controller: election reply was lost but the election is ours", "controller_epoch", next)
				return next, version, c.watchController()
			}
		}
		if len(res) > 0 && res[0].Error != nil {
			return 0, 0, res[0].Error
		}
		return 0, 0, err
	}
	// A watch on /controller for when it changes hands.
	if _, _, ch, err := c.conn.ExistsW(c.p(zkdata.ControllerPath)); err == nil {
		c.watch(ch, evControllerChange{})
	}
	return next, st.Version + 1, nil
}

func (c *Controller) resign() {
	c.active = false
	c.gen++
	c.epochSeen.Store(-1)
	c.z.SetActive(false)
	for id, s := range c.senders {
		s.close()
		delete(c.senders, id)
	}
	c.live, c.topics, c.shuttingDown, c.deleting = nil, nil, nil, nil
	if c.termStop != nil {
		close(c.termStop)
		c.termStop = nil
	}
	c.log.Info("controller: resigned", "broker_id", c.id)
}

// onFailover is KafkaController.onControllerFailover: load everything,
// elect leaders where needed, and tell every broker.
func (c *Controller) onFailover() error {
	c.senders = map[int32]*sender{}
	c.topics = map[string]*topicCtx{}
	c.shuttingDown = map[int32]bool{}
	live, err := c.readBrokers()
	if err != nil {
		return err
	}
	c.live = live
	for id := range live {
		c.startSender(id)
	}
	// KafkaController.onControllerFailover deletes the ISR change
	// notifications before reading the partition states.
	if err := c.onIsrChangeNotification(false); err != nil {
		return err
	}
	names, _, ch, err := c.conn.ChildrenW(c.p(zkdata.TopicsPath))
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	c.watch(ch, evTopicChange{c.gen})
	for _, name := range names {
		if err := c.loadTopic(name); err != nil {
			c.log.Error("controller: cannot load topic", "topic", name, "err", err)
		}
	}
	if err := c.holdDeletions(); err != nil {
		return err
	}
	if _, err := c.electWhereNeeded(); err != nil {
		return err
	}
	// Replicas on brokers that are not live leave the ISR
	// (ReplicaStateMachine.startup moves them to OfflineReplica).
	for _, name := range c.sortedTopics() {
		tc := c.topics[name]
		for p, pc := range tc.parts {
			dead := map[int32]bool{}
			for _, r := range pc.st.ISR {
				if !c.isLive(r) {
					dead[r] = true
				}
			}
			if len(dead) > 0 && pc.st.Leader >= 0 {
				if _, err := c.removeFromISR(tc, p, dead); c.partitionFailed(err, name, p) != nil {
					return err
				}
			}
		}
	}
	c.sendUpdateMetadata(c.liveIDs())
	for id := range c.live {
		c.sendLeaderAndIsr(id, c.partitionsOn(id), nil)
	}
	c.log.Info("controller: failover done", "controller_epoch", c.epoch, "live_brokers", c.liveIDs(), "topics", len(c.topics))
	if err := c.initReassignments(); err != nil {
		return err
	}
	return c.onDeleteTopics()
}

// readBrokers lists /brokers/ids with a watch and reads each
// registration with its czxid (the broker epoch).
func (c *Controller) readBrokers() (map[int32]liveBroker, error) {
	ids, _, ch, err := c.conn.ChildrenW(c.p(zkdata.BrokerIDsPath))
	if err != nil {
		return nil, fmt.Errorf("list brokers: %w", err)
	}
	c.watch(ch, evBrokerChange{c.gen})
	out := make(map[int32]liveBroker, len(ids))
	for _, s := range ids {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			continue
		}
		data, st, err := c.conn.Get(c.p(zkdata.BrokerPath(int32(n))))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read broker %d: %w", n, err)
		}
		b, err := zkdata.DecodeBroker(int32(n), data)
		if err != nil {
			c.log.Error("controller: ignoring unreadable broker registration", "broker", n, "err", err)
			continue
		}
		out[int32(n)] = liveBroker{info: b, epoch: st.Czxid}
	}
	return out, nil
}

// loadTopic reads a topic's assignment (with a watch) and partition states.
func (c *Controller) loadTopic(name string) error {
	data, _, ch, err := c.conn.GetW(c.p(zkdata.TopicPath(name)))
	if errors.Is(err, zk.ErrNoNode) {
		delete(c.topics, name)
		return nil
	}
	if err != nil {
		return err
	}
	c.watch(ch, evTopicModified{c.gen, name})
	t, err := zkdata.DecodeTopic(data)
	if err != nil {
		return err
	}
	tc := c.topics[name]
	if tc == nil || tc.id != t.ID {
		tc = &topicCtx{name: name, parts: map[int32]*partCtx{}}
		c.topics[name] = tc
	}
	tc.id, tc.replicas, tc.adding, tc.removing = t.ID, t.Replicas, t.Adding, t.Removing
	if tc.adding == nil {
		tc.adding = map[int32][]int32{}
	}
	if tc.removing == nil {
		tc.removing = map[int32][]int32{}
	}
	for p := range t.Replicas {
		if _, ok := tc.parts[p]; ok {
			continue
		}
		data, st, err := c.conn.Get(c.p(zkdata.StatePath(name, p)))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return err
		}
		s, err := zkdata.DecodePartitionState(data)
		if err != nil {
			// Skipped: initPartition finds the znode and fails for this
			// partition alone (partitionFailed), never the failover.
			c.log.Error("controller: unreadable partition state znode; skipping the partition until it is repaired", "topic", name, "partition", p, "err", err)
			continue
		}
		tc.parts[p] = &partCtx{st: s, version: st.Version}
	}
	return nil
}

func (c *Controller) startSender(id int32) {
	b, ok := c.live[id]
	if !ok {
		return
	}
	e, ok := b.info.Endpoint(c.cfg.InterBrokerListener)
	if !ok {
		c.log.Error("controller: broker has no inter-broker listener", "broker", id, "listener", c.cfg.InterBrokerListener)
		return
	}
	s, err := startSender(c.id, id, e.Host+":"+strconv.Itoa(int(e.Port)), c.log)
	if err != nil {
		c.log.Error("controller: cannot reach broker", "broker", id, "err", err)
		return
	}
	if old := c.senders[id]; old != nil {
		old.close()
	}
	c.senders[id] = s
}

func (c *Controller) liveIDs() []int32 {
	ids := make([]int32, 0, len(c.live))
	for id := range c.live {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// isLive is ControllerContext.isLiveBroker: registered and not shutting
// down, so a replica that may lead or join an ISR.
func (c *Controller) isLive(id int32) bool { _, ok := c.live[id]; return ok && !c.shuttingDown[id] }

// isRegistered is liveOrShuttingDownBrokerIds: every broker with a
// registration, the ones that receive the controller's requests.
func (c *Controller) isRegistered(id int32) bool { _, ok := c.live[id]; return ok }

// uncleanFor is unclean.leader.election.enable for a topic: its override,
// else this controller's dynamic broker config (per broker, then the
// cluster default <default>; KIP-226's DynamicLogConfig, which Kafka's
// controller follows), else the static broker default.
func (c *Controller) uncleanFor(topic string) bool {
	const key = "unclean.leader.election.enable"
	if v, ok := c.z.TopicConfigs(topic)[key]; ok {
		return v == "true"
	}
	if v, ok := c.z.BrokerConfigs(strconv.Itoa(int(c.id)))[key]; ok {
		return v == "true"
	}
	if v, ok := c.z.BrokerConfigs(controller.BrokerDefaultEntity)[key]; ok {
		return v == "true"
	}
	return c.cfg.UncleanLeaderElection
}

// sortedTopics is every topic name in order, for deterministic work.
func (c *Controller) sortedTopics() []string {
	names := make([]string, 0, len(c.topics))
	for n := range c.topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// electWhereNeeded initializes partitions without a state znode and
// elects leaders for those whose leader is not live
// (triggerOnlinePartitionStateChange). It returns what changed.
func (c *Controller) electWhereNeeded() ([]tp, error) {
	var changed []tp
	for _, name := range c.sortedTopics() {
		tc := c.topics[name]
		ps := make([]int32, 0, len(tc.replicas))
		for p := range tc.replicas {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		for _, p := range ps {
			pc, ok := tc.parts[p]
			if !ok {
				did, err := c.initPartition(tc, p)
				if err = c.partitionFailed(err, tc.name, p); err != nil {
					return changed, err
				}
				if did {
					changed = append(changed, tp{name, p})
				}
				continue
			}
			// A shutting-down broker still leads until its controlled
			// shutdown moves the partition (or it dies).
			if pc.st.Leader >= 0 && c.isRegistered(pc.st.Leader) {
				continue
			}
			did, err := c.electOffline(tc, p)
			if err = c.partitionFailed(err, tc.name, p); err != nil {
				return changed, err
			}
			if did {
				changed = append(changed, tp{name, p})
			}
		}
	}
	return changed, nil
}

// initPartition creates a new partition's state znode: leader = first
// live replica, ISR = live replicas (initializeLeaderAndIsrForPartitions).
func (c *Controller) initPartition(tc *topicCtx, p int32) (bool, error) {
	var liveReplicas []int32
	for _, r := range tc.replicas[p] {
		if c.isLive(r) {
			liveReplicas = append(liveReplicas, r)
		}
	}
	if len(liveReplicas) == 0 {
		c.log.Error("controller: no live replica to initialize partition", "topic", tc.name, "partition", p, "replicas", tc.replicas[p])
		return false, nil
	}
	st := zkdata.PartitionState{Leader: liveReplicas[0], ISR: liveReplicas, ControllerEpoch: c.epoch}
	for _, parent := range []string{zkdata.PartitionsPath(tc.name), zkdata.PartitionPath(tc.name, p)} {
		if _, err := c.conn.Create(c.p(parent), nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return false, fmt.Errorf("create %s: %w", parent, err)
		}
	}
	res, err := c.conn.Multi(
		&zk.CheckVersionRequest{Path: c.p(zkdata.ControllerEpochPath), Version: c.epochVersion},
		&zk.CreateRequest{Path: c.p(zkdata.StatePath(tc.name, p)), Data: zkdata.EncodePartitionState(st), Acl: zk.WorldACL(zk.PermAll)},
	)
	if err != nil {
		if len(res) > 0 && errors.Is(res[0].Error, zk.ErrBadVersion) {
			return false, errControllerMoved
		}
		if len(res) > 1 && errors.Is(res[1].Error, zk.ErrNodeExists) {
			// Another controller's leftover: read it instead.
			return false, c.reloadState(tc, p)
		}
		return false, fmt.Errorf("create state of %s-%d: %w", tc.name, p, err)
	}
	tc.parts[p] = &partCtx{st: st, version: 0}
	return true, nil
}

func (c *Controller) reloadState(tc *topicCtx, p int32) error {
	data, st, err := c.conn.Get(c.p(zkdata.StatePath(tc.name, p)))
	if err != nil {
		return err
	}
	s, err := zkdata.DecodePartitionState(data)
	if err != nil {
		return err
	}
	tc.parts[p] = &partCtx{st: s, version: st.Version}
	return nil
}

// writeState replaces a partition's state conditionally on its version
// and on this controller's epoch (KafkaZkClient.updateLeaderAndIsr). A
// changed partition version is reloaded and reported as
// zk.ErrBadVersion.
func (c *Controller) writeState(tc *topicCtx, p int32, st zkdata.PartitionState) error {
	pc := tc.parts[p]
	st.ControllerEpoch = c.epoch
	res, err := c.conn.Multi(
		&zk.CheckVersionRequest{Path: c.p(zkdata.ControllerEpochPath), Version: c.epochVersion},
		&zk.SetDataRequest{Path: c.p(zkdata.StatePath(tc.name, p)), Data: zkdata.EncodePartitionState(st), Version: pc.version},
	)
	if err != nil {
		if len(res) > 0 && errors.Is(res[0].Error, zk.ErrBadVersion) {
			return errControllerMoved
		}
		if len(res) > 1 && errors.Is(res[1].Error, zk.ErrBadVersion) {
			if rerr := c.reloadState(tc, p); rerr != nil {
				return rerr
			}
			return zk.ErrBadVersion
		}
		return fmt.Errorf("write state of %s-%d: %w", tc.name, p, err)
	}
	version := pc.version + 1
	if len(res) > 1 && res[1].Stat != nil {
		version = res[1].Stat.Version
	}
	tc.parts[p] = &partCtx{st: st, version: version}
	return nil
}

// electOffline elects a leader for a partition whose leader is gone
// (OfflinePartitionLeaderElectionStrategy), or marks it leaderless.
func (c *Controller) electOffline(tc *topicCtx, p int32) (bool, error) {
	for attempt := 0; attempt < 3; attempt++ {
		cur := tc.parts[p].st
		st := cur
		leader := int32(-1)
		for _, r := range tc.replicas[p] {
			if c.isLive(r) && slices.Contains(cur.ISR, r) {
				leader = r
				break
			}
		}
		switch {
		case leader >= 0:
			st.ISR = filterLive(cur.ISR, c.isLive)
		case c.uncleanFor(tc.name):
			for _, r := range tc.replicas[p] {
				if c.isLive(r) {
					leader = r
					break
				}
			}
			if leader >= 0 {
				st.ISR = []int32{leader}
				c.log.Warn("controller: unclean leader election", "topic", tc.name, "partition", p, "leader", leader)
				c.cfg.Stats.UncleanLeaderElection()
			}
		}
		if leader < 0 {
			// No candidate: leaderless, keeping the last ISR member
			// (removeReplicasFromIsr never empties the ISR).
			st.ISR = filterLive(cur.ISR, c.isLive)
			if len(st.ISR) == 0 && len(cur.ISR) > 0 {
				st.ISR = []int32{cur.ISR[len(cur.ISR)-1]}
			}
			if cur.Leader == -1 && slices.Equal(st.ISR, cur.ISR) {
				return false, nil
			}
		}
		st.Leader = leader
		st.LeaderEpoch = cur.LeaderEpoch + 1
		st.LeaderRecoveryState = offlineRecoveryState(cur, leader)
		err := c.writeState(tc, p, st)
		if errors.Is(err, zk.ErrBadVersion) {
			continue
		}
		if err != nil {
			return false, err
		}
		if leader < 0 {
			c.log.Error("controller: partition has no live in-sync replica; it stays offline", "topic", tc.name, "partition", p, "isr", st.ISR)
		} else {
			c.log.Info("controller: elected leader", "topic", tc.name, "partition", p, "leader", leader,
				"leader_epoch", st.LeaderEpoch, "isr", st.ISR)
		}
		return true, nil
	}
	return false, fmt.Errorf("partition %s-%d changed concurrently three times", tc.name, p)
}

func filterLive(ids []int32, live func(int32) bool) []int32 {
	out := []int32{}
	for _, id := range ids {
		if live(id) {
			out = append(out, id)
		}
	}
	return out
}

// removeFromISR takes dead followers out of a partition's ISR (never the
// last member), bumping the leader epoch (removeReplicasFromIsr).
func (c *Controller) removeFromISR(tc *topicCtx, p int32, dead map[int32]bool) (bool, error) {
	for attempt := 0; attempt < 3; attempt++ {
		cur := tc.parts[p].st
		var isr []int32
		for _, r := range cur.ISR {
			if !dead[r] {
				isr = append(isr, r)
			}
		}
		if len(isr) == len(cur.ISR) {
			return false, nil
		}
		if len(isr) == 0 {
			isr = []int32{cur.ISR[len(cur.ISR)-1]}
			if len(cur.ISR) == 1 {
				return false, nil
			}
		}
		st := cur
		st.ISR, st.LeaderEpoch = isr, cur.LeaderEpoch+1
		err := c.writeState(tc, p, st)
		if errors.Is(err, zk.ErrBadVersion) {
			continue
		}
		return err == nil, err
	}
	return false, fmt.Errorf("partition %s-%d changed concurrently three times", tc.name, p)
}

// onBrokerChange handles /brokers/ids changing: new, dead and bounced
// (same id, new epoch) brokers.
func (c *Controller) onBrokerChange() error {
	now, err := c.readBrokers()
	if err != nil {
		return err
	}
	var added, dead []int32
	for id, b := range now {
		old, ok := c.live[id]
		if !ok {
			added = append(added, id)
		} else if old.epoch != b.epoch {
			dead, added = append(dead, id), append(added, id)
		}
	}
	for id := range c.live {
		if _, ok := now[id]; !ok {
			dead = append(dead, id)
		}
	}
	slices.Sort(added)
	slices.Sort(dead)
	if len(dead) > 0 {
		c.log.Info("controller: brokers failed", "brokers", dead)
		for _, id := range dead {
			if s := c.senders[id]; s != nil {
				s.close()
				delete(c.senders, id)
			}
			delete(c.live, id)
			delete(c.shuttingDown, id)
		}
		if err := c.onBrokerFailure(dead); err != nil {
			return err
		}
	}
	if len(added) > 0 {
		c.log.Info("controller: brokers started", "brokers", added)
		for _, id := range added {
			c.live[id] = now[id]
			c.startSender(id)
		}
		return c.onBrokerStartup(added)
	}
	return nil
}

// onBrokerFailure moves leadership off dead brokers and takes them out of
// ISRs, then tells the remaining replicas and every broker.
func (c *Controller) onBrokerFailure(dead []int32) error {
	deadSet := map[int32]bool{}
	for _, id := range dead {
		deadSet[id] = true
	}
	var changed []tp
	for _, name := range c.sortedTopics() {
		tc := c.topics[name]
		for p, pc := range tc.parts {
			var did bool
			var err error
			if deadSet[pc.st.Leader] {
				did, err = c.electOffline(tc, p)
			} else {
				did, err = c.removeFromISR(tc, p, deadSet)
			}
			if err = c.partitionFailed(err, name, p); err != nil {
				return err
			}
			if did {
				changed = append(changed, tp{name, p})
			}
		}
	}
	c.sendLeaderAndIsrFor(changed)
	c.sendUpdateMetadata(c.liveIDs())
	return nil
}

// onBrokerStartup tells new brokers everything, elects leaders for
// partitions that were offline and that they can now lead, and sends the
// new brokers LeaderAndIsr for every partition they host.
func (c *Controller) onBrokerStartup(added []int32) error {
	changed, err := c.electWhereNeeded()
	if err != nil {
		return err
	}
	c.sendUpdateMetadata(c.liveIDs())
	c.sendLeaderAndIsrFor(changed)
	for _, id := range added {
		c.sendLeaderAndIsr(id, c.partitionsOn(id), nil)
	}
	// Reassignments with a target replica on a returning broker resume.
	if err := c.resumeReassignments(func(_ tp, a assignment) bool {
		for _, r := range a.target() {
			if slices.Contains(added, r) {
				return true
			}
		}
		return false
	}); err != nil {
		return err
	}
	c.resumeDeletions(added)
	return nil
}

// onTopicChange handles topics created or removed under /brokers/topics.
func (c *Controller) onTopicChange() error {
	names, _, ch, err := c.conn.ChildrenW(c.p(zkdata.TopicsPath))
	if err != nil {
		return err
	}
	c.watch(ch, evTopicChange{c.gen})
	seen := map[string]bool{}
	var created []string
	for _, n := range names {
		seen[n] = true
		if _, ok := c.topics[n]; !ok && c.deleting[n] == nil {
			created = append(created, n)
		}
	}
	for n := range c.topics {
		if !seen[n] {
			delete(c.topics, n)
		}
	}
	for _, n := range created {
		if err := c.loadTopic(n); err != nil {
			c.log.Error("controller: cannot load new topic", "topic", n, "err", err)
		}
	}
	if len(created) == 0 {
		return nil
	}
	return c.onNewPartitions()
}

// onTopicModified handles a rewritten assignment (CreatePartitions).
func (c *Controller) onTopicModified(name string) error {
	if c.deleting[name] != nil {
		return nil // being deleted (TopicDeletionManager): not acted on
	}
	if err := c.loadTopic(name); err != nil {
		return err
	}
	return c.onNewPartitions()
}

// onNewPartitions initializes every partition without state and tells the
// brokers (onNewPartitionCreation: LeaderAndIsr with isNew, then
// UpdateMetadata).
func (c *Controller) onNewPartitions() error {
	changed, err := c.electWhereNeeded()
	if err != nil {
		return err
	}
	if len(changed) == 0 {
		return nil
	}
	c.sendLeaderAndIsrFor(changed)
	c.sendUpdateMetadata(c.liveIDs())
	return nil
}

// partitionsOn lists the partitions with a state that broker id hosts.
func (c *Controller) partitionsOn(id int32) []tp {
	var out []tp
	for _, name := range c.sortedTopics() {
		tc := c.topics[name]
		for p := range tc.parts {
			if slices.Contains(tc.replicas[p], id) {
				out = append(out, tp{name, p})
			}
		}
	}
	return out
}

// sendLeaderAndIsrFor sends LeaderAndIsr for the partitions to each of
// their live replicas.
func (c *Controller) sendLeaderAndIsrFor(parts []tp) {
	if len(parts) == 0 {
		return
	}
	byBroker := map[int32][]tp{}
	for _, x := range parts {
		tc := c.topics[x.topic]
		if tc == nil {
			continue
		}
		for _, r := range tc.replicas[x.part] {
			if c.isRegistered(r) {
				byBroker[r] = append(byBroker[r], x)
			}
		}
	}
	isNew := map[tp]bool{}
	for _, x := range parts {
		if tc := c.topics[x.topic]; tc != nil && tc.parts[x.part] != nil && tc.parts[x.part].version == 0 && tc.parts[x.part].st.LeaderEpoch == 0 {
			isNew[x] = true
		}
	}
	for _, id := range c.liveIDs() {
		if ps := byBroker[id]; len(ps) > 0 {
			c.sendLeaderAndIsr(id, ps, isNew)
		}
	}
}

// sendLeaderAndIsr sends LeaderAndIsr v7 for parts to broker id.
func (c *Controller) sendLeaderAndIsr(id int32, parts []tp, isNew map[tp]bool) {
	if len(parts) == 0 || !c.isRegistered(id) {
		return
	}
	req := kmsg.NewPtrLeaderAndISRRequest()
	req.Version, req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = 7, c.id, c.epoch, c.live[id].epoch
	leaders := map[int32]bool{}
	byTopic := map[string]*kmsg.LeaderAndISRRequestTopicState{}
	var order []string
	for _, x := range parts {
		tc := c.topics[x.topic]
		pc := tc.parts[x.part]
		ts := byTopic[x.topic]
		if ts == nil {
			t := kmsg.NewLeaderAndISRRequestTopicState()
			t.Topic, t.TopicID = x.topic, tc.id
			ts = &t
			byTopic[x.topic] = ts
			order = append(order, x.topic)
		}
		ps := kmsg.NewLeaderAndISRRequestTopicPartition()
		ps.Topic, ps.Partition = x.topic, x.part
		ps.ControllerEpoch, ps.Leader, ps.LeaderEpoch = pc.st.ControllerEpoch, pc.st.Leader, pc.st.LeaderEpoch
		ps.ISR, ps.ZKVersion, ps.Replicas = slices.Clone(pc.st.ISR), pc.version, slices.Clone(tc.replicas[x.part])
		ps.AddingReplicas, ps.RemovingReplicas = append([]int32{}, tc.adding[x.part]...), append([]int32{}, tc.removing[x.part]...)
		ps.IsNew, ps.LeaderRecoveryState = isNew[x], pc.st.LeaderRecoveryState
		ts.PartitionStates = append(ts.PartitionStates, ps)
		if pc.st.Leader >= 0 {
			leaders[pc.st.Leader] = true
		}
	}
	for _, n := range order {
		req.TopicStates = append(req.TopicStates, *byTopic[n])
	}
	for l := range leaders {
		b, ok := c.live[l]
		if !ok {
			continue
		}
		e, ok := b.info.Endpoint(c.cfg.InterBrokerListener)
		if !ok {
			continue
		}
		ll := kmsg.NewLeaderAndISRRequestLiveLeader()
		ll.BrokerID, ll.Host, ll.Port = l, e.Host, e.Port
		req.LiveLeaders = append(req.LiveLeaders, ll)
	}
	sort.Slice(req.LiveLeaders, func(i, j int) bool { return req.LiveLeaders[i].BrokerID < req.LiveLeaders[j].BrokerID })
	c.enqueue(id, req)
}

// updateMetadataRequest builds UpdateMetadata v8 with every live broker
// and every partition, for broker id.
func (c *Controller) updateMetadataRequest(id int32) *kmsg.UpdateMetadataRequest {
	req := kmsg.NewPtrUpdateMetadataRequest()
	req.Version, req.ControllerID, req.ControllerEpoch = 8, c.id, c.epoch
	if b, ok := c.live[id]; ok {
		req.BrokerEpoch = b.epoch
	}
	for _, bid := range c.liveIDs() {
		b := c.live[bid]
		lb := kmsg.NewUpdateMetadataRequestLiveBroker()
		lb.ID, lb.Rack = bid, b.info.Rack
		for _, e := range b.info.Endpoints {
			ep := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
			ep.Host, ep.Port, ep.ListenerName = e.Host, e.Port, e.Listener
			ep.SecurityProtocol = zkdata.SecurityProtocolID(e.SecurityProtocol)
			lb.Endpoints = append(lb.Endpoints, ep)
		}
		req.LiveBrokers = append(req.LiveBrokers, lb)
	}
	for _, name := range c.sortedTopics() {
		tc := c.topics[name]
		ts := kmsg.NewUpdateMetadataRequestTopicState()
		ts.Topic, ts.TopicID = name, tc.id
		ps := make([]int32, 0, len(tc.parts))
		for p := range tc.parts {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		for _, p := range ps {
			pc := tc.parts[p]
			s := kmsg.NewUpdateMetadataRequestTopicPartition()
			s.Topic, s.Partition = name, p
			s.ControllerEpoch, s.Leader, s.LeaderEpoch = pc.st.ControllerEpoch, pc.st.Leader, pc.st.LeaderEpoch
			s.ISR, s.ZKVersion, s.Replicas = slices.Clone(pc.st.ISR), pc.version, slices.Clone(tc.replicas[p])
			s.OfflineReplicas = []int32{}
			for _, r := range tc.replicas[p] {
				if !c.isLive(r) {
					s.OfflineReplicas = append(s.OfflineReplicas, r)
				}
			}
			ts.PartitionStates = append(ts.PartitionStates, s)
		}
		if len(ts.PartitionStates) > 0 {
			req.TopicStates = append(req.TopicStates, ts)
		}
	}
	return req
}

// sendUpdateMetadata sends the full metadata to the given brokers.
func (c *Controller) sendUpdateMetadata(ids []int32) {
	for _, id := range ids {
		if s := c.senders[id]; s != nil {
			s.enqueue(c.updateMetadataRequest(id), true)
		}
	}
}

func (c *Controller) enqueue(id int32, req kmsg.Request) {
	if s := c.senders[id]; s != nil {
		s.enqueue(req, false)
	}
}

// AlterPartition serves an AlterPartition request (key 56) as Kafka
// 3.9's KafkaController.processAlterPartition does; see alterPartition.
func (c *Controller) AlterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	r, code := call(c, ctx, func(reply chan *kmsg.AlterPartitionResponse) any { return evAlter{req, reply} })
	if code != 0 {
		return errAlterResponse(req, code)
	}
	return r
}

// call posts the event mk makes to the run goroutine and waits for its
// answer on the reply channel it was given. code is REQUEST_TIMED_OUT
// when ctx ends first and NOT_CONTROLLER when the role is stopping; the
// request handlers (AlterPartition, AllocateProducerIds,
// ControlledShutdown, ElectLeaders) answer with it.
func call[R any](c *Controller, ctx context.Context, mk func(reply chan R) any) (r R, code int16) {
	reply := make(chan R, 1)
	select {
	case c.events <- mk(reply):
	case <-ctx.Done():
		return r, kerr.RequestTimedOut.Code
	case <-c.stop:
		return r, kerr.NotController.Code
	}
	select {
	case r = <-reply:
		return r, 0
	case <-ctx.Done():
		return r, kerr.RequestTimedOut.Code
	}
}

// errorCode is the response code for err, an event's failure: its Kafka
// code, or UNKNOWN_SERVER_ERROR (logged) for anything else.
func (c *Controller) errorCode(what string, err error, attrs ...any) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	c.log.Error("controller: "+what+" failed", append(attrs, "err", err)...)
	return kerr.UnknownServerError.Code
}

func errAlterResponse(req *kmsg.AlterPartitionRequest, code int16) *kmsg.AlterPartitionResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	resp.ErrorCode = code
	return resp
}

// alterPartition runs on the event goroutine. Checks, in Kafka's order:
// NOT_CONTROLLER; STALE_BROKER_EPOCH for an unknown broker or another
// epoch; per partition UNKNOWN_TOPIC_ID (v2+ by id) or
// UNKNOWN_TOPIC_OR_PARTITION; NOT_CONTROLLER when the request's partition
// or leader epoch is newer than ours; FENCED_LEADER_EPOCH when older; the
// current state back when it already matches; INVALID_UPDATE_VERSION for
// an older partition epoch; INVALID_REQUEST for recovery-state misuse;
// INELIGIBLE_REPLICA (OPERATION_NOT_ATTEMPTED before v2) for a non-live
// ISR member. Accepted changes are written conditionally and sent to
// every broker with UpdateMetadata.
func (c *Controller) alterPartition(req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	if !c.active {
		resp.ErrorCode = kerr.NotController.Code
		return resp
	}
	b, ok := c.live[req.BrokerID]
	if !ok || b.epoch != req.BrokerEpoch {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp
	}
	byID := req.Version > 1
	var changed []tp
	for _, rt := range req.Topics {
		var tc *topicCtx
		if byID {
			for _, t := range c.topics {
				if t.id == rt.TopicID {
					tc = t
				}
			}
		} else {
			tc = c.topics[rt.Topic]
		}
		ot := kmsg.NewAlterPartitionResponseTopic()
		ot.Topic, ot.TopidID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			op := kmsg.NewAlterPartitionResponseTopicPartition()
			op.Partition = rp.Partition
			if tc == nil {
				if byID {
					op.ErrorCode = kerr.UnknownTopicID.Code
				} else {
					op.ErrorCode = kerr.UnknownTopicOrPartition.Code
				}
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			if !c.active {
				// Resigned on an earlier partition of this request.
				op.ErrorCode = kerr.NotController.Code
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			code, did := c.alterOne(tc, req, rp, &op)
			op.ErrorCode = code
			if did {
				changed = append(changed, tp{tc.name, rp.Partition})
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	if !c.active {
		// Deposed while writing: the election runs here, on the event
		// goroutine, once this request is answered.
		defer c.elect()
		return resp
	}
	if len(changed) > 0 {
		c.sendUpdateMetadata(c.liveIDs())
		// Kafka checks, after answering, whether an ISR expansion
		// completes a reassignment (maybeCompleteReassignment); here it
		// runs once this request is answered, on the event goroutine.
		defer func() {
			for _, x := range changed {
				if tc := c.topics[x.topic]; tc != nil && c.assignmentOf(tc, x.part).reassigning() {
					c.guard(func() error { return c.maybeCompleteReassignment(x) })
				}
			}
		}()
	}
	return resp
}

func (c *Controller) alterOne(tc *topicCtx, req *kmsg.AlterPartitionRequest, rp kmsg.AlterPartitionRequestTopicPartition, op *kmsg.AlterPartitionResponseTopicPartition) (int16, bool) {
	pc, ok := tc.parts[rp.Partition]
	if !ok {
		return kerr.UnknownTopicOrPartition.Code, false
	}
	isr := rp.NewISR
	if req.Version >= 3 {
		isr = make([]int32, 0, len(rp.NewEpochISR))
		for _, e := range rp.NewEpochISR {
			isr = append(isr, e.BrokerID)
		}
	}
	cur := pc.st
	fill := func(st zkdata.PartitionState, version int32) {
		op.LeaderID, op.LeaderEpoch, op.ISR = st.Leader, st.LeaderEpoch, slices.Clone(st.ISR)
		op.LeaderRecoveryState, op.PartitionEpoch = st.LeaderRecoveryState, version
	}
	switch {
	case rp.LeaderRecoveryState != zkdata.LeaderRecovered && rp.LeaderRecoveryState != zkdata.LeaderRecovering:
		// Kafka's LeaderRecoveryState.of refuses other values.
		return kerr.InvalidRequest.Code, false
	case rp.PartitionEpoch > pc.version || rp.LeaderEpoch > cur.LeaderEpoch:
		return kerr.NotController.Code, false
	case rp.LeaderEpoch < cur.LeaderEpoch:
		return kerr.FencedLeaderEpoch.Code, false
	case req.BrokerID == cur.Leader && slices.Equal(isr, cur.ISR) && rp.LeaderRecoveryState == cur.LeaderRecoveryState:
		// equalsAllowStalePartitionEpoch: already so.
		fill(cur, pc.version)
		return 0, false
	case rp.PartitionEpoch < pc.version:
		return kerr.InvalidUpdateVersion.Code, false
	case rp.LeaderRecoveryState == zkdata.LeaderRecovering && len(isr) > 1:
		return kerr.InvalidRequest.Code, false
	case cur.LeaderRecoveryState == zkdata.LeaderRecovered && rp.LeaderRecoveryState == zkdata.LeaderRecovering:
		return kerr.InvalidRequest.Code, false
	}
	for _, r := range isr {
		if !c.isLive(r) {
			if req.Version > 1 {
				return kerr.IneligibleReplica.Code, false
			}
			return kerr.OperationNotAttempted.Code, false
		}
	}
	st := zkdata.PartitionState{Leader: req.BrokerID, LeaderEpoch: rp.LeaderEpoch, ISR: slices.Clone(isr),
		LeaderRecoveryState: rp.LeaderRecoveryState}
	err := c.writeState(tc, rp.Partition, st)
	switch {
	case errors.Is(err, zk.ErrBadVersion):
		return kerr.InvalidUpdateVersion.Code, false
	case errors.Is(err, errControllerMoved):
		c.log.Warn("controller: another broker became controller during AlterPartition; resigning")
		c.resign()
		// alterPartition runs the election once the request is answered:
		// posting it from this goroutine could wait on its own full queue.
		return kerr.NotController.Code, false
	case err != nil:
		c.log.Error("controller: AlterPartition write failed", "topic", tc.name, "partition", rp.Partition, "err", err)
		return kerr.UnknownServerError.Code, false
	}
	np := tc.parts[rp.Partition]
	fill(np.st, np.version)
	c.log.Info("controller: ISR changed", "topic", tc.name, "partition", rp.Partition, "isr", np.st.ISR, "partition_epoch", np.version)
	return 0, true
}

// allocateProducerIDs is processAllocateProducerIds with
// ZkProducerIdManager.getNewProducerIdBlock: the next 1000 ids after
// /latest_producer_id_block, written conditionally on its version.
func (c *Controller) allocateProducerIDs(brokerID int32, epoch int64) (zkdata.ProducerIDBlock, error) {
	if !c.active {
		return zkdata.ProducerIDBlock{}, kerr.NotController
	}
	b, ok := c.live[brokerID]
	if !ok {
		return zkdata.ProducerIDBlock{}, kerr.BrokerIDNotRegistered
	}
	if epoch != b.epoch {
		return zkdata.ProducerIDBlock{}, kerr.StaleBrokerEpoch
	}
	for {
		data, st, err := c.conn.Get(c.p(zkdata.ProducerIDBlockPath))
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return zkdata.ProducerIDBlock{}, fmt.Errorf("read producer id block: %w", err)
		}
		next := zkdata.ProducerIDBlock{Broker: brokerID, First: 0, Last: zkdata.ProducerIDBlockSize - 1}
		version := int32(-1)
		if err == nil {
			version = st.Version
			if len(data) > 0 {
				prev, err := zkdata.DecodeProducerIDBlock(data)
				if err != nil {
					return zkdata.ProducerIDBlock{}, err
				}
				if prev.Last > (1<<63-1)-zkdata.ProducerIDBlockSize {
					return zkdata.ProducerIDBlock{}, errors.New("producer ids exhausted")
				}
				next.First, next.Last = prev.Last+1, prev.Last+zkdata.ProducerIDBlockSize
			}
		}
		if version < 0 {
			_, err = c.conn.Create(c.p(zkdata.ProducerIDBlockPath), zkdata.EncodeProducerIDBlock(next), 0, zk.WorldACL(zk.PermAll))
			if errors.Is(err, zk.ErrNodeExists) {
				continue
			}
		} else {
			_, err = c.conn.Set(c.p(zkdata.ProducerIDBlockPath), zkdata.EncodeProducerIDBlock(next), version)
			if errors.Is(err, zk.ErrBadVersion) {
				continue
			}
		}
		if err != nil {
			return zkdata.ProducerIDBlock{}, fmt.Errorf("write producer id block: %w", err)
		}
		return next, nil
	}
}

// AllocateProducerIDs serves AllocateProducerIds (key 67).
func (c *Controller) AllocateProducerIDs(ctx context.Context, req *kmsg.AllocateProducerIDsRequest) *kmsg.AllocateProducerIDsResponse {
	resp := req.ResponseKind().(*kmsg.AllocateProducerIDsResponse)
	r, code := call(c, ctx, func(reply chan allocResult) any { return evAllocate{req.BrokerID, req.BrokerEpoch, reply} })
	if code == 0 && r.err != nil {
		code = c.errorCode("allocating producer ids", r.err)
	}
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	resp.ProducerIDStart, resp.ProducerIDLen = r.block.First, int32(r.block.Last-r.block.First+1)
	return resp
}
