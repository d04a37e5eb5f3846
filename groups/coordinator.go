package groups

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/coordinator"
	"samsa/logstore"
)

// Kafka's defaults, used for zero Config fields where zero makes no sense.
const (
	defaultMaxSessionTimeout     = 30 * time.Minute     // group.max.session.timeout.ms
	defaultOffsetsRetention      = 7 * 24 * time.Hour   // offsets.retention.minutes
	defaultRetentionCheck        = 10 * time.Minute     // offsets.retention.check.interval.ms
	defaultOffsetMetadataMaxSize = 4096                 // offset.metadata.max.bytes
	defaultMaxSize               = int(^uint32(0) >> 1) // group.max.size (Integer.MAX_VALUE)
	defaultOffsetsPartitions     = 50                   // offsets.topic.num.partitions
)

// Coordinator is the classic group coordinator of one broker: it owns
// every group and every committed offset, in memory, with
// __consumer_offsets as their log (see doc.go).
type Coordinator struct {
	cfg           Config
	log           *slog.Logger
	now           func() time.Time
	rt            *coordinator.Runtime
	numPartitions int32
	ownLogs       *logstore.Store // the private log store of Options.Dir; nil with Options.Logs

	// closing is closed by Close to wake every parked Join and Sync.
	closing chan struct{}
	// closed is set (under mu) by Close. Whoever holds a group's mu
	// checks it before touching the group or Pebble, which is what lets
	// Close close Pebble after taking each group's mu once.
	closed atomic.Bool

	// mu guards groups and expireTimer. It is never held while taking a
	// group's mu (the order is group.mu, then mu) nor across I/O.
	mu          sync.RWMutex
	groups      map[string]*group
	expireTimer *time.Timer
	// pendingLoaded are groups loaded by replay whose timers Open starts
	// once every partition is loaded.
	pendingLoaded []*group
}

// Open loads every group and committed offset from the
// __consumer_offsets partitions that have a log, migrates the Pebble
// store of earlier releases if Options.LegacyDir holds one, and starts the
// offset-expiration timer. Members of loaded groups get a fresh session
// timeout, so that those that come back keep their assignment and the
// others are expired as if the broker never stopped. Zero Config fields
// take Kafka's defaults, except InitialRebalanceDelay and
// MinSessionTimeout, for which zero is a meaningful setting.
func Open(opts Options) (*Coordinator, error) {
	c := &Coordinator{
		cfg:           opts.Config,
		log:           opts.Logger,
		now:           opts.Now,
		closing:       make(chan struct{}),
		numPartitions: opts.NumPartitions,
		groups:        map[string]*group{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.numPartitions <= 0 {
		c.numPartitions = defaultOffsetsPartitions
	}
	if c.cfg.MaxSessionTimeout <= 0 {
		c.cfg.MaxSessionTimeout = defaultMaxSessionTimeout
	}
	if c.cfg.MaxSize <= 0 {
		c.cfg.MaxSize = defaultMaxSize
	}
	if c.cfg.OffsetsRetention <= 0 {
		c.cfg.OffsetsRetention = defaultOffsetsRetention
	}
	if c.cfg.OffsetsRetentionCheckInterval <= 0 {
		c.cfg.OffsetsRetentionCheckInterval = defaultRetentionCheck
	}
	if c.cfg.OffsetMetadataMaxSize <= 0 {
		c.cfg.OffsetMetadataMaxSize = defaultOffsetMetadataMaxSize
	}
	logs := opts.Logs
	if logs == nil {
		st, src, err := openOwnLogs(opts, c.log)
		if err != nil {
			return nil, err
		}
		c.ownLogs, logs = st, src
	}
	c.rt = coordinator.New(coordinator.Options{
		Topic:           OffsetsTopic,
		Logs:            logs,
		NewStateMachine: c.newShard,
		Compression:     opts.Compression,
		LoadBufferSize:  opts.LoadBufferSize,
		Logger:          c.log,
		Now:             c.now,
		Managed:         opts.Managed,
		Append:          opts.Append,
		OnLoaded:        func(int32) { c.startLoaded() },
	})
	fail := func(err error) (*Coordinator, error) {
		c.rt.Close()
		if c.ownLogs != nil {
			_ = c.ownLogs.Close()
		}
		return nil, err
	}
	start := time.Now()
	if !opts.Managed {
		// A single node leads every partition: load them all now. In
		// cluster mode OnElection loads the partitions this broker
		// leads, when it comes to lead them.
		for p := int32(0); p < c.numPartitions; p++ {
			if _, err := c.rt.Load(p, false); err != nil {
				return fail(fmt.Errorf("groups: %w", err))
			}
		}
		if err := c.migrate(opts.LegacyDir); err != nil {
			return fail(fmt.Errorf("groups: migrating %s: %w", opts.LegacyDir, err))
		}
	}
	n := c.startLoaded()
	c.log.Info("group coordinator loaded", "groups", n, "took", time.Since(start))
	c.mu.Lock()
	c.expireTimer = time.AfterFunc(c.cfg.OffsetsRetentionCheckInterval, c.runExpiration)
	c.mu.Unlock()
	return c, nil
}

// startLoaded starts the timers of the groups loaded since the last call
// and returns how many groups are in memory.
func (c *Coordinator) startLoaded() int {
	c.mu.Lock()
	loaded := c.pendingLoaded
	c.pendingLoaded = nil
	n := len(c.groups)
	c.mu.Unlock()
	for _, g := range loaded {
		g.mu.Lock()
		if !g.is(stateDead) && !c.closed.Load() {
			c.onGroupLoaded(g)
		}
		g.mu.Unlock()
	}
	return n
}

// OnElection is Kafka's GroupCoordinator.onElection: this broker became
// leader of __consumer_offsets partition in leaderEpoch (LeaderAndIsr).
// The partition's groups and offsets are loaded from its log in the
// background; meanwhile its groups' requests get
// COORDINATOR_LOAD_IN_PROGRESS. Cluster mode (Options.Managed) only.
func (c *Coordinator) OnElection(partition, leaderEpoch int32) { c.rt.Elect(partition, leaderEpoch) }

// OnResignation is Kafka's GroupCoordinator.onResignation: this broker no
// longer leads the partition (it became follower, or the replica was
// stopped). Its groups are unloaded in the background: parked JoinGroup
// and SyncGroup requests are answered NOT_COORDINATOR and later requests
// get NOT_COORDINATOR, so clients look the coordinator up again.
func (c *Coordinator) OnResignation(partition, leaderEpoch int32) {
	c.rt.Resign(partition, leaderEpoch)
}

// WaitLoads waits until every election and resignation received so far
// has been applied (tests).
func (c *Coordinator) WaitLoads() { c.rt.WaitIdle() }

// openOwnLogs opens the private log store of Options.Dir, for a
// coordinator used without a broker (tests, tools).
func openOwnLogs(opts Options, log *slog.Logger) (*logstore.Store, coordinator.LogSource, error) {
	st, err := logstore.Open(logstore.Options{
		Dir:      opts.Dir,
		IndexDir: filepath.Join(opts.Dir, ".samsa-index"),
		FS:       opts.FS,
		Guard:    opts.Guard,
		Logger:   log,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("groups: open log store %s: %w", opts.Dir, err)
	}
	seg := opts.SegmentBytes
	if seg <= 0 {
		seg = 100 << 20
	}
	cfg := logstore.PartitionConfig{SegmentBytes: seg, SegmentMs: math.MaxInt64, RetentionBytes: -1, RetentionMs: -1,
		FlushMessages: math.MaxInt64, FlushMs: math.MaxInt64}
	src := func(p int32, create bool) (*logstore.Partition, error) {
		if lp, ok := st.Partition(OffsetsTopic, p); ok {
			return lp, nil
		}
		if !create {
			return nil, nil
		}
		return st.CreatePartition(OffsetsTopic, p, cfg)
	}
	return st, src, nil
}

// onGroupLoaded starts the session timers of a loaded group's members
// and, like Kafka, rebalances a group over group.max.size so that the
// surplus members are dropped.
func (c *Coordinator) onGroupLoaded(g *group) {
	if len(g.members) > c.cfg.MaxSize {
		c.prepareRebalance(g, "loaded group is over capacity")
	}
	for _, m := range g.members {
		c.scheduleHeartbeat(g, m, m.sessionTimeout)
	}
}

// Close answers every parked JoinGroup and SyncGroup with
// COORDINATOR_NOT_AVAILABLE (clients then look for the coordinator
// again), stops all timers and unloads every partition (and closes the
// private log store, if any). What was acknowledged is already in the
// log.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return nil
	}
	c.closed.Store(true)
	close(c.closing)
	if c.expireTimer != nil {
		c.expireTimer.Stop()
	}
	groups := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.mu.Unlock()
	for _, g := range groups {
		// Taking mu waits out anyone still writing this group; anyone
		// after us sees closed.
		g.mu.Lock()
		c.stopGroupTimers(g)
		g.mu.Unlock()
	}
	c.rt.Close()
	if c.ownLogs != nil {
		return c.ownLogs.Close()
	}
	return nil
}

func (c *Coordinator) stopGroupTimers(g *group) {
	for _, m := range g.members {
		if m.hbTimer != nil {
			m.hbTimer.Stop()
		}
	}
	for _, t := range g.pending {
		t.Stop()
	}
	if g.join != nil {
		g.join.timer.Stop()
		g.join = nil
	}
	if g.sync != nil {
		g.sync.timer.Stop()
		g.sync = nil
	}
}

func (c *Coordinator) nowMs() int64 { return c.now().UnixMilli() }

// lockGroup returns the group locked, creating it (Empty) if create is
// set. It returns nil with code 0 when the group does not exist, and nil
// with COORDINATOR_NOT_AVAILABLE once the coordinator is closed. A group
// found Dead (deleted between lookup and lock) is looked up again, so
// callers never see Dead groups.
func (c *Coordinator) lockGroup(id string, create bool) (*group, int16) {
	part := PartitionFor(id, c.numPartitions)
	for {
		if c.closed.Load() {
			return nil, kerr.CoordinatorNotAvailable.Code
		}
		if err := c.rt.Status(part); err != nil {
			return nil, ownershipCode(err)
		}
		c.mu.RLock()
		g := c.groups[id]
		c.mu.RUnlock()
		if g == nil {
			if !create {
				return nil, 0
			}
			c.mu.Lock()
			if c.closed.Load() {
				c.mu.Unlock()
				return nil, kerr.CoordinatorNotAvailable.Code
			}
			if g = c.groups[id]; g == nil {
				g = newGroup(id, c.nowMs())
				c.groups[id] = g
			}
			c.mu.Unlock()
		}
		g.mu.Lock()
		if c.closed.Load() {
			g.mu.Unlock()
			return nil, kerr.CoordinatorNotAvailable.Code
		}
		if g.is(stateDead) {
			g.mu.Unlock()
			continue
		}
		if err := c.rt.Status(part); err != nil {
			// The partition was unloaded between the check above and
			// now; the unload may have missed a group made meanwhile.
			if len(g.members) == 0 && len(g.offsets) == 0 {
				c.markDead(g)
			}
			g.mu.Unlock()
			return nil, ownershipCode(err)
		}
		return g, 0
	}
}

// ownershipCode is the code for a group whose partition this broker does
// not serve: COORDINATOR_LOAD_IN_PROGRESS while it loads, else
// NOT_COORDINATOR (Kafka's GroupCoordinator.validateGroupStatus).
func ownershipCode(err error) int16 {
	if errors.Is(err, kerr.CoordinatorLoadInProgress) {
		return kerr.CoordinatorLoadInProgress.Code
	}
	return kerr.NotCoordinator.Code
}

// lockLive locks g for a timer callback and reports whether the callback
// should proceed (the coordinator is open and the group alive). On false
// the group is already unlocked.
func (c *Coordinator) lockLive(g *group) bool {
	g.mu.Lock()
	if c.closed.Load() || g.is(stateDead) {
		g.mu.Unlock()
		return false
	}
	return true
}

// markDead makes g Dead and forgets it. Its tombstones must already be
// in the log. Called with g.mu held.
func (c *Coordinator) markDead(g *group) {
	g.transitionTo(stateDead, c.nowMs())
	c.stopGroupTimers(g)
	c.mu.Lock()
	if c.groups[g.id] == g {
		delete(c.groups, g.id)
	}
	c.mu.Unlock()
}

// snapshot returns the current groups, sorted by id.
func (c *Coordinator) snapshot() []*group {
	c.mu.RLock()
	out := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, g)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// storeGroup appends g's GroupMetadata record with assignment. Called
// with g.mu held, like every write of a group's records.
func (c *Coordinator) storeGroup(g *group, assignment map[string][]byte) error {
	return c.write(g, []coordinator.Record{groupRecord(g, assignment)}, nil)
}

// write appends a group's records to its __consumer_offsets partition and
// then runs apply (nil: nothing to apply). Called with g.mu held: the
// records of one group are appended and applied in order.
func (c *Coordinator) write(g *group, recs []coordinator.Record, apply func()) error {
	err := c.rt.Write(PartitionFor(g.id, c.numPartitions), recs, coordinator.WriteOptions{}, func(int64) {
		if apply != nil {
			apply()
		}
	})
	if err != nil {
		c.log.Error("appending to __consumer_offsets failed", "group", g.id, "records", len(recs), "err", err)
	}
	return err
}

// storeErrCode is the code a request gets when its group or offset write
// failed, after Kafka's GroupMetadataManager (storeGroup and storeOffsets
// callbacks): a storage error (KAFKA_STORAGE_ERROR: the disk is full, or
// the store is reopening after a failed write) becomes NOT_COORDINATOR,
// anything else COORDINATOR_NOT_AVAILABLE. Both are retriable: clients
// look the coordinator up again and retry. A write too large for one
// batch (coordinator.ErrRecordTooLarge, MESSAGE_TOO_LARGE) is
// UNKNOWN_SERVER_ERROR, as GroupCoordinatorService's handleOperationException
// maps it: retrying would not help.
func storeErrCode(err error) int16 {
	if errors.Is(err, kerr.KafkaStorageError) || errors.Is(err, kerr.NotLeaderForPartition) ||
		errors.Is(err, kerr.NotCoordinator) || errors.Is(err, kerr.FencedLeaderEpoch) {
		return kerr.NotCoordinator.Code
	}
	if errors.Is(err, kerr.MessageTooLarge) {
		return kerr.UnknownServerError.Code
	}
	return kerr.CoordinatorNotAvailable.Code
}

// newMemberID is Kafka's GroupMetadata.generateMemberId: the client id
// (or, for static members, the instance id), "-", and a random UUID in
// Java's UUID.toString form.
func newMemberID(clientID string, instanceID *string) string {
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return prefix + "-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
