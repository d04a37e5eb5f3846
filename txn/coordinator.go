// Package txn is Samsa's transaction coordinator (KIP-98), after Kafka's
// TransactionCoordinator, TransactionStateManager and TransactionMetadata.
// Samsa finalizes the transaction.version feature at 2 (KIP-890 part 2,
// as Kafka 4.x): 4.x clients end every transaction with EndTxn v5, which
// bumps the producer epoch (the markers carry the new epoch; exhausted
// epochs move the producer to a new id), and send no AddPartitionsToTxn
// or AddOffsetsToTxn: Produce v12+ and TxnOffsetCommit v5+ add their
// partition themselves. Older clients (EndTxn v0-v4) get the classic
// protocol, with no epoch bump per transaction.
//
// State: one TxnMetadataKey/TxnMetadataValue record (value version 1, as
// Kafka writes them with transaction.version 2 finalized) per
// transactional id in
// __transaction_state partition abs(hashCode(id)) %
// transaction.state.log.num.partitions, kept on the coordinator runtime
// and rebuilt from the log when a partition loads.
//
// Ending a transaction writes PrepareCommit/PrepareAbort, then the
// markers to every partition of the transaction (in-process, the
// WriteTxnMarkers of a single node), then CompleteCommit/CompleteAbort,
// before answering. A transaction found in a Prepare state when its
// partition loads (a crash between the two writes) is completed by
// Complete, which the broker calls once the groups are open. Ongoing
// transactions older than their timeout are aborted with a bumped epoch
// every transaction.abort.timed.out.transaction.cleanup.interval.ms.
//
// Transactional ids with no transaction open are forgotten after
// transactional.id.expiration.ms without an update (RemoveExpired: a
// tombstone in __transaction_state).
//
// Cluster mode (Options.Managed): the coordinator serves the ids of the
// __transaction_state partitions this broker leads, loading them on
// OnElection (COORDINATOR_LOAD_IN_PROGRESS meanwhile; prepared
// transactions are completed after the load) and forgetting them on
// OnResignation (NOT_COORDINATOR afterwards); state writes go through
// the partition's leadership with acks=-1; markers carry the partition's
// leader epoch as coordinator epoch and reach partitions led elsewhere
// through the broker's MarkerWriter (WriteTxnMarkers to their leader).
//
// Locking: Coordinator.mu guards the map of transactional ids; each
// txnMeta has its own mu, held across a whole operation (including its
// writes and markers), taken before the runtime's partition mu and
// before Coordinator.mu (which RemoveExpired takes under both).
package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/coordinator"
	"samsa/groups"
)

// StateTopic is Kafka's internal topic of transaction state.
const StateTopic = "__transaction_state"

// MarkerWriter writes a COMMIT or ABORT marker of producer pid to one
// partition (Kafka's WriteTxnMarkers for one partition). It returns nil
// for a partition that no longer exists (Kafka drops markers of deleted
// partitions).
type MarkerWriter func(topic string, partition int32, pid int64, epoch int16, commit bool, coordinatorEpoch int32) error

// Options configures the coordinator.
type Options struct {
	Logs           coordinator.LogSource
	NumPartitions  int32 // transaction.state.log.num.partitions
	LoadBufferSize int32 // transaction.state.log.load.buffer.size
	// AllocateProducerID hands out a new producer id (the controller).
	AllocateProducerID func(ctx context.Context) (int64, error)
	Markers            MarkerWriter
	MaxTimeout         time.Duration // transaction.max.timeout.ms
	// AbortInterval is transaction.abort.timed.out.transaction.cleanup.interval.ms.
	AbortInterval time.Duration
	// IDExpiration is transactional.id.expiration.ms: an id with no
	// transaction open (Empty, CompleteCommit, CompleteAbort) and no
	// update for this long is removed. 0: 7 days.
	IDExpiration time.Duration
	// RemoveInterval is
	// transaction.remove.expired.transaction.cleanup.interval.ms. 0: 1 h.
	RemoveInterval time.Duration
	Logger         *slog.Logger
	Now            func() time.Time
	// Managed is cluster mode: nothing is loaded at Open; OnElection /
	// OnResignation load and unload the __transaction_state partitions
	// this broker leads (Kafka's TransactionStateManager
	// loadTransactionsForTxnTopicPartition and
	// removeTransactionsForTxnTopicPartition), and ids of other
	// partitions get NOT_COORDINATOR (COORDINATOR_LOAD_IN_PROGRESS while
	// loading).
	Managed bool
	// Append makes state writes go through the partition's leadership
	// and wait for the in-sync replicas (acks=-1, as Kafka's
	// TransactionStateManager.appendTransactionToLog); nil: direct.
	Append coordinator.Appender
}

// Coordinator is the transaction coordinator of one broker: the
// transactional ids of the __transaction_state partitions it leads.
type Coordinator struct {
	opts Options
	log  *slog.Logger
	rt   *coordinator.Runtime

	mu   sync.Mutex
	txns map[string]*txnMeta

	closed atomic.Bool
	stop   chan struct{}
	done   chan struct{}
}

// TP is a topic partition of a transaction.
type TP struct {
	Topic     string
	Partition int32
}

// txnMeta is Kafka's TransactionMetadata.
type txnMeta struct {
	id string

	// mu guards txnState and removed.
	mu sync.Mutex
	txnState
	// removed: the id expired and left Coordinator.txns while this
	// metadata was looked up; whoever holds it looks the id up again.
	removed bool
}

// txnState is the persisted part of a txnMeta.
type txnState struct {
	pid        int64
	lastPid    int64 // previous producer id (epoch exhaustion), -1
	epoch      int16
	lastEpoch  int16 // epoch before the last bump, -1
	timeoutMs  int32
	state      kmsg.TransactionState
	partitions map[TP]struct{}
	startMs    int64 // -1 when no transaction is open
	updateMs   int64
	// tv is the client transaction version of the current (or last)
	// transaction: 2 when it came through KIP-890 part 2's implicit
	// adds or EndTxn v5+, else 0/1 (Kafka's clientTransactionVersion).
	tv int16
	// nextPid is the producer id the transaction moves to when it
	// completes (KIP-890 part 2: the epoch bump of EndTxn exhausted the
	// epochs of pid), -1 otherwise.
	nextPid int64
}

// Open loads every existing partition of __transaction_state.
func Open(opts Options) (*Coordinator, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NumPartitions <= 0 {
		opts.NumPartitions = 50
	}
	if opts.MaxTimeout <= 0 {
		opts.MaxTimeout = 15 * time.Minute
	}
	if opts.AbortInterval <= 0 {
		opts.AbortInterval = 10 * time.Second
	}
	if opts.IDExpiration <= 0 {
		opts.IDExpiration = 7 * 24 * time.Hour
	}
	if opts.RemoveInterval <= 0 {
		opts.RemoveInterval = time.Hour
	}
	l := opts.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	c := &Coordinator{opts: opts, log: l, txns: map[string]*txnMeta{}, stop: make(chan struct{}), done: make(chan struct{})}
	c.rt = coordinator.New(coordinator.Options{
		Topic:           StateTopic,
		Logs:            opts.Logs,
		NewStateMachine: func(p int32) coordinator.StateMachine { return &shard{c: c, id: p, loading: map[string]*txnMeta{}} },
		LoadBufferSize:  opts.LoadBufferSize,
		Logger:          l,
		Now:             opts.Now,
		Managed:         opts.Managed,
		Append:          opts.Append,
		// Transactions a previous leader left prepared are completed,
		// open ones past their timeout aborted, as Kafka does after
		// loading a partition.
		OnLoaded: func(int32) { go c.Complete() },
	})
	for p := int32(0); p < opts.NumPartitions && !opts.Managed; p++ {
		if _, err := c.rt.Load(p, false); err != nil {
			c.rt.Close()
			return nil, fmt.Errorf("txn: %w", err)
		}
	}
	go c.abortLoop()
	return c, nil
}

// Close stops the timeout loop and unloads the state.
func (c *Coordinator) Close() {
	if c.closed.Swap(true) {
		return
	}
	close(c.stop)
	<-c.done
	c.rt.Close()
}

func (c *Coordinator) nowMs() int64 { return c.opts.Now().UnixMilli() }

// PartitionFor is the __transaction_state partition of a transactional id.
func (c *Coordinator) PartitionFor(id string) int32 {
	return groups.PartitionFor(id, c.opts.NumPartitions)
}

// OnElection: this broker became leader of __transaction_state partition
// in leaderEpoch; its transactional ids are loaded in the background
// (COORDINATOR_LOAD_IN_PROGRESS meanwhile). Cluster mode only.
func (c *Coordinator) OnElection(partition, leaderEpoch int32) { c.rt.Elect(partition, leaderEpoch) }

// OnResignation: this broker no longer leads the partition; its ids are
// forgotten in the background and then answered NOT_COORDINATOR.
func (c *Coordinator) OnResignation(partition, leaderEpoch int32) {
	c.rt.Resign(partition, leaderEpoch)
}

// WaitLoads waits until every election and resignation received so far
// has been applied (tests).
func (c *Coordinator) WaitLoads() { c.rt.WaitIdle() }

// Owns is nil when this broker is transactional id's coordinator, else
// an error wrapping NOT_COORDINATOR, or COORDINATOR_LOAD_IN_PROGRESS while
// its partition loads (Kafka's TransactionStateManager.getTransactionState
// checks). Always nil on a single node.
func (c *Coordinator) Owns(id string) error {
	if err := c.rt.Status(c.PartitionFor(id)); err != nil {
		return fmt.Errorf("transactional id %q: %w", id, err)
	}
	return nil
}

// lock returns the locked metadata of id, or nil.
func (c *Coordinator) lock(id string) *txnMeta {
	for {
		c.mu.Lock()
		m := c.txns[id]
		c.mu.Unlock()
		if m == nil {
			return nil
		}
		m.mu.Lock()
		if !m.removed {
			return m
		}
		m.mu.Unlock()
	}
}

// persist writes m's record and, once it is in the log, runs apply (which
// makes the in-memory change). m.mu is held.
func (c *Coordinator) persist(m *txnMeta, next txnState, apply func()) error {
	rec := coordinator.Record{Key: txnKey(m.id), Value: txnValue(&next)}
	err := c.rt.Write(c.PartitionFor(m.id), []coordinator.Record{rec}, coordinator.WriteOptions{}, func(int64) { apply() })
	if err != nil {
		c.log.Error("appending to __transaction_state failed", "transactional_id", m.id, "err", err)
	}
	return err
}

// storeErr maps a failed state write as Kafka's TransactionStateManager
// does: NOT_COORDINATOR for storage errors, else COORDINATOR_NOT_AVAILABLE.
func storeErr(err error) error {
	if errors.Is(err, kerr.NotCoordinator) || errors.Is(err, kerr.KafkaStorageError) ||
		errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.FencedLeaderEpoch) {
		return fmt.Errorf("%v: %w", err, kerr.NotCoordinator)
	}
	return fmt.Errorf("%v: %w", err, kerr.CoordinatorNotAvailable)
}

func (m *txnMeta) copyState() txnState {
	n := txnState{pid: m.pid, lastPid: m.lastPid, epoch: m.epoch, lastEpoch: m.lastEpoch,
		timeoutMs: m.timeoutMs, state: m.state, startMs: m.startMs, updateMs: m.updateMs, partitions: map[TP]struct{}{},
		tv: m.tv, nextPid: m.nextPid}
	for tp := range m.partitions {
		n.partitions[tp] = struct{}{}
	}
	return n
}

func (m *txnMeta) set(n txnState) { m.txnState = n }

// InitProducerID is Kafka's TransactionCoordinator.handleInitProducerId
// for a transactional id (transaction.version 0). expectedPid/expectedEpoch
// are -1 unless the producer recovers (KIP-360). Errors:
// INVALID_TRANSACTION_TIMEOUT, CONCURRENT_TRANSACTIONS (a transaction is
// being completed, or the open one of the previous epoch was just
// aborted: retry), PRODUCER_FENCED, and the storage errors.
func (c *Coordinator) InitProducerID(ctx context.Context, id string, timeoutMs int32, expectedPid int64, expectedEpoch int16) (int64, int16, error) {
	if timeoutMs <= 0 || int64(timeoutMs) > c.opts.MaxTimeout.Milliseconds() {
		return -1, -1, fmt.Errorf("transaction timeout %d ms is not in 1..%d: %w", timeoutMs, c.opts.MaxTimeout.Milliseconds(), kerr.InvalidTransactionTimeout)
	}
	if c.closed.Load() {
		return -1, -1, kerr.CoordinatorNotAvailable
	}
	var m *txnMeta
	for m == nil {
		if err := c.Owns(id); err != nil {
			return -1, -1, err
		}
		c.mu.Lock()
		m = c.txns[id]
		if m == nil {
			m = &txnMeta{id: id, txnState: txnState{pid: -1, lastPid: -1, epoch: -1, lastEpoch: -1, state: kmsg.TransactionStateEmpty, startMs: -1, partitions: map[TP]struct{}{}, nextPid: -1}}
			c.txns[id] = m
		}
		c.mu.Unlock()
		m.mu.Lock()
		if m.removed {
			m.mu.Unlock()
			m = nil
			continue
		}
		if err := c.Owns(id); err != nil {
			// Unloaded meanwhile: an id made after the unload
			// collected its partition's ids is dropped here.
			m.removed = true
			c.mu.Lock()
			if c.txns[id] == m {
				delete(c.txns, id)
			}
			c.mu.Unlock()
			m.mu.Unlock()
			return -1, -1, err
		}
	}
	defer m.mu.Unlock()
	now := c.nowMs()
	if m.pid < 0 {
		pid, err := c.opts.AllocateProducerID(ctx)
		if err != nil {
			return -1, -1, fmt.Errorf("allocating producer id: %v: %w", err, kerr.CoordinatorNotAvailable)
		}
		n := m.copyState()
		n.pid, n.epoch, n.timeoutMs, n.state, n.updateMs, n.startMs = pid, 0, timeoutMs, kmsg.TransactionStateEmpty, now, -1
		if err := c.persist(m, n, func() { m.set(n) }); err != nil {
			return -1, -1, storeErr(err)
		}
		return m.pid, m.epoch, nil
	}
	if expectedPid >= 0 && !(m.epoch < 0 || expectedPid == m.pid || (expectedPid == m.lastPid && expectedEpoch >= math.MaxInt16-1)) {
		return -1, -1, fmt.Errorf("producer %d/%d is not transactional id %q's producer %d: %w", expectedPid, expectedEpoch, id, m.pid, kerr.ProducerFenced)
	}
	switch m.state {
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		return -1, -1, fmt.Errorf("transaction of %q is being completed: %w", id, kerr.ConcurrentTransactions)
	case kmsg.TransactionStateOngoing:
		// prepareFenceProducerEpoch: bump the epoch and abort the open
		// transaction; the producer retries and gets the next epoch.
		if err := c.abortLocked(m, true); err != nil {
			return -1, -1, err
		}
		return -1, -1, fmt.Errorf("aborted the open transaction of %q's previous epoch: %w", id, kerr.ConcurrentTransactions)
	}
	// Empty, CompleteCommit, CompleteAbort: prepareIncrementProducerEpoch.
	n := m.copyState()
	if expectedPid >= 0 && expectedEpoch >= 0 {
		if expectedPid == m.pid && expectedEpoch != m.epoch {
			if expectedEpoch == m.lastEpoch {
				return m.pid, m.epoch, nil // a retry of the bump already done
			}
			return -1, -1, fmt.Errorf("producer %d epoch %d is not the current epoch %d: %w", expectedPid, expectedEpoch, m.epoch, kerr.ProducerFenced)
		}
		if expectedPid == m.lastPid && expectedPid != m.pid {
			return m.pid, m.epoch, nil // retry after an exhausted epoch moved to a new id
		}
	}
	if m.epoch >= math.MaxInt16-1 {
		pid, err := c.opts.AllocateProducerID(ctx)
		if err != nil {
			return -1, -1, fmt.Errorf("allocating producer id: %v: %w", err, kerr.CoordinatorNotAvailable)
		}
		n.lastPid, n.pid, n.lastEpoch, n.epoch = m.pid, pid, -1, 0
	} else {
		n.lastEpoch, n.epoch = m.epoch, m.epoch+1
	}
	n.timeoutMs, n.state, n.updateMs, n.startMs, n.partitions = timeoutMs, kmsg.TransactionStateEmpty, now, -1, map[TP]struct{}{}
	if err := c.persist(m, n, func() { m.set(n) }); err != nil {
		return -1, -1, storeErr(err)
	}
	return m.pid, m.epoch, nil
}

// checkProducer is the common check of AddPartitionsToTxn,
// AddOffsetsToTxn and EndTxn: INVALID_PRODUCER_ID_MAPPING for an unknown
// id or another producer id, PRODUCER_FENCED for another epoch.
func checkProducer(m *txnMeta, id string, pid int64, epoch int16) error {
	if m == nil || m.pid < 0 {
		return fmt.Errorf("unknown transactional id %q: %w", id, kerr.InvalidProducerIDMapping)
	}
	if m.pid != pid {
		return fmt.Errorf("transactional id %q has producer %d, not %d: %w", id, m.pid, pid, kerr.InvalidProducerIDMapping)
	}
	if m.epoch != epoch {
		return fmt.Errorf("transactional id %q is at epoch %d, not %d: %w", id, m.epoch, epoch, kerr.ProducerFenced)
	}
	return nil
}

// AddPartitions is AddPartitionsToTxn (and AddOffsetsToTxn with the
// group's __consumer_offsets partition): the partitions join the
// transaction, which becomes Ongoing. tv is the client's transaction
// version: 2 for KIP-890 part 2's implicit adds (Produce v12+,
// TxnOffsetCommit v5+, AddPartitionsToTxn v4+ from a partition leader),
// else 1. Errors: checkProducer's, CONCURRENT_TRANSACTIONS while the
// previous transaction is completed.
func (c *Coordinator) AddPartitions(id string, pid int64, epoch int16, tps []TP, tv int16) error {
	m, err := c.lockProducer(id, pid, epoch)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	switch m.state {
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		return fmt.Errorf("transaction of %q is being completed: %w", id, kerr.ConcurrentTransactions)
	case kmsg.TransactionStateDead, kmsg.TransactionStatePrepareEpochFence:
		return fmt.Errorf("transaction of %q is %v: %w", id, m.state, kerr.InvalidTxnState)
	}
	if m.state == kmsg.TransactionStateOngoing {
		all := true
		for _, tp := range tps {
			if _, ok := m.partitions[tp]; !ok {
				all = false
				break
			}
		}
		if all {
			return nil
		}
	}
	now := c.nowMs()
	n := m.copyState()
	if m.state != kmsg.TransactionStateOngoing {
		n.partitions, n.startMs, n.tv = map[TP]struct{}{}, now, tv
	}
	for _, tp := range tps {
		n.partitions[tp] = struct{}{}
	}
	n.state, n.updateMs = kmsg.TransactionStateOngoing, now
	if err := c.persist(m, n, func() { m.set(n) }); err != nil {
		return storeErr(err)
	}
	return nil
}

// lockProducer returns id's metadata locked when producer pid at epoch
// may act on it (checkProducer), else checkProducer's error with nothing
// locked.
func (c *Coordinator) lockProducer(id string, pid int64, epoch int16) (*txnMeta, error) {
	if err := c.Owns(id); err != nil {
		return nil, err
	}
	m := c.lock(id)
	if m == nil {
		return nil, checkProducer(nil, id, pid, epoch)
	}
	if err := checkProducer(m, id, pid, epoch); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	return m, nil
}

// Verify is the verify-only AddPartitionsToTxn (v4+, KIP-890 part 1) and
// the produce path's check: nil when tp is in id's ongoing transaction of
// producer pid at epoch; INVALID_TXN_STATE when it is not;
// checkProducer's errors otherwise.
func (c *Coordinator) Verify(id string, pid int64, epoch int16, tp TP) error {
	m, err := c.lockProducer(id, pid, epoch)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.partitions[tp]; !ok || m.state != kmsg.TransactionStateOngoing {
		return fmt.Errorf("%s-%d is not in the ongoing transaction of %q: %w", tp.Topic, tp.Partition, id, kerr.InvalidTxnState)
	}
	return nil
}

// EndTxn is Kafka's TransactionCoordinator.handleEndTransaction: it
// writes PrepareCommit/PrepareAbort, the markers, then the Complete
// state, and answers the producer id and epoch the producer goes on
// with.
//
// tv2 is a client on transaction version 2 (EndTxn v5+, KIP-890 part 2):
// every transaction ends with an epoch bump (the markers carry the
// bumped epoch, so a late write of the ended transaction is refused),
// moving to a new producer id once the epochs are exhausted; a retry of
// an ended transaction (the epoch before the bump) is answered again
// with the current id and epoch; an abort with no transaction open still
// bumps the epoch (fencing writes the producer may have sent with
// implicit adds that never arrived); a commit with none open, or a
// retry asking for the other outcome, is INVALID_TXN_STATE (measured
// against Kafka 4.3.1, conformance TestTxnV2EndTxn). Without tv2 the
// epoch stays, and ending again what just ended answers success.
func (c *Coordinator) EndTxn(ctx context.Context, id string, pid int64, epoch int16, commit, tv2 bool) (int64, int16, error) {
	if err := c.Owns(id); err != nil {
		return -1, -1, err
	}
	m := c.lock(id)
	if m == nil {
		return -1, -1, checkProducer(nil, id, pid, epoch)
	}
	defer m.mu.Unlock()
	retry := false
	if tv2 {
		// Kafka's retryOnEpochBump and retryOnOverflow.
		retry = m.pid == pid && m.lastEpoch >= 0 && epoch == m.lastEpoch && m.epoch == epoch+1 ||
			m.lastPid == pid && m.pid != pid && epoch >= math.MaxInt16-1 && m.epoch == 0
	}
	if !retry {
		if err := checkProducer(m, id, pid, epoch); err != nil {
			return -1, -1, err
		}
	}
	verb := map[bool]string{true: "commit", false: "abort"}[commit]
	switch m.state {
	case kmsg.TransactionStateOngoing:
		if retry {
			return -1, -1, fmt.Errorf("producer %d epoch %d ended its transaction already; %q is at epoch %d: %w", pid, epoch, id, m.epoch, kerr.ProducerFenced)
		}
		if err := c.endLocked(ctx, m, commit, tv2, tv2, false); err != nil {
			return -1, -1, err
		}
		return m.pid, m.epoch, nil
	case kmsg.TransactionStateCompleteCommit, kmsg.TransactionStateCompleteAbort, kmsg.TransactionStateEmpty:
		done := m.state == kmsg.TransactionStateCompleteCommit && commit || m.state == kmsg.TransactionStateCompleteAbort && !commit
		switch {
		case done && (retry || !tv2):
			return m.pid, m.epoch, nil
		case retry:
			// Measured against Kafka 4.3.1: the retry of another
			// outcome than the ended transaction's.
		case tv2 && !commit:
			if err := c.endLocked(ctx, m, false, true, true, true); err != nil {
				return -1, -1, err
			}
			return m.pid, m.epoch, nil
		}
	case kmsg.TransactionStatePrepareCommit:
		if commit {
			return -1, -1, kerr.ConcurrentTransactions
		}
	case kmsg.TransactionStatePrepareAbort:
		if !commit {
			return -1, -1, kerr.ConcurrentTransactions
		}
	}
	return -1, -1, fmt.Errorf("cannot %s transaction of %q in state %v: %w", verb, id, m.state, kerr.InvalidTxnState)
}

// abortLocked aborts m's ongoing transaction; with fence the epoch is
// bumped first (prepareFenceProducerEpoch: the producer of the old epoch
// is fenced), as for a timeout or an InitProducerId of a new instance.
func (c *Coordinator) abortLocked(m *txnMeta, fence bool) error {
	return c.endLocked(context.Background(), m, false, fence && m.epoch < math.MaxInt16-1, false, false)
}

// endLocked moves a transaction to Prepare*, writes the markers and
// completes it. With bump the epoch goes up first (the markers carry
// the new one); at transaction version 2 an exhausted epoch (the bump
// reached Short.MaxValue) moves the producer to a new id when the
// transaction completes. tv2 is an EndTxn at transaction version 2.
// empty is a KIP-890 part 2 abort with no transaction open: its
// partitions are none.
func (c *Coordinator) endLocked(ctx context.Context, m *txnMeta, commit, bump, tv2, empty bool) error {
	n := m.copyState()
	if empty {
		n.partitions, n.startMs = map[TP]struct{}{}, -1
	}
	if tv2 {
		n.tv = 2
	}
	if bump {
		if tv2 && m.epoch >= math.MaxInt16-1 {
			pid, err := c.opts.AllocateProducerID(ctx)
			if err != nil {
				return fmt.Errorf("allocating producer id: %v: %w", err, kerr.CoordinatorNotAvailable)
			}
			n.nextPid = pid
		}
		n.lastEpoch, n.epoch = m.epoch, m.epoch+1
	}
	n.state, n.updateMs = kmsg.TransactionStatePrepareAbort, c.nowMs()
	if commit {
		n.state = kmsg.TransactionStatePrepareCommit
	}
	if err := c.persist(m, n, func() { m.set(n) }); err != nil {
		return storeErr(err)
	}
	return c.completeLocked(m)
}

// completeLocked writes the markers of m's Prepare* transaction and the
// Complete* state. On failure the transaction stays in Prepare*; Complete
// and the timeout loop retry it.
func (c *Coordinator) completeLocked(m *txnMeta) error {
	commit := m.state == kmsg.TransactionStatePrepareCommit
	for _, tp := range sortedTPs(m.partitions) {
		if err := c.opts.Markers(tp.Topic, tp.Partition, m.pid, m.epoch, commit, c.rt.Epoch(c.PartitionFor(m.id))); err != nil {
			c.log.Error("writing transaction marker failed", "transactional_id", m.id, "topic", tp.Topic, "partition", tp.Partition, "err", err)
			return fmt.Errorf("writing marker to %s-%d: %v: %w", tp.Topic, tp.Partition, err, kerr.CoordinatorNotAvailable)
		}
	}
	n := m.copyState()
	n.state = kmsg.TransactionStateCompleteAbort
	if commit {
		n.state = kmsg.TransactionStateCompleteCommit
	}
	n.partitions, n.updateMs = map[TP]struct{}{}, c.nowMs()
	if m.nextPid >= 0 {
		// The epochs of pid are exhausted: the producer goes on with
		// the new id (Kafka's TransactionMetadata.prepareComplete).
		n.lastPid, n.pid, n.lastEpoch, n.epoch, n.nextPid = m.pid, m.nextPid, m.epoch, 0, -1
	}
	if err := c.persist(m, n, func() { m.set(n) }); err != nil {
		return storeErr(err)
	}
	return nil
}

func sortedTPs(s map[TP]struct{}) []TP {
	out := make([]TP, 0, len(s))
	for tp := range s {
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

func (c *Coordinator) all() []*txnMeta {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*txnMeta, 0, len(c.txns))
	for _, m := range c.txns {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// Complete finishes every transaction left in PrepareCommit/PrepareAbort
// (a crash between the prepare record and the markers) and aborts the
// Ongoing ones past their timeout. The broker calls it after start, once
// the group coordinator is open; the timeout loop calls it too.
func (c *Coordinator) Complete() {
	now := c.nowMs()
	for _, m := range c.all() {
		m.mu.Lock()
		switch m.state {
		case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
			_ = c.completeLocked(m)
		case kmsg.TransactionStateOngoing:
			if m.startMs+int64(m.timeoutMs) <= now {
				c.log.Info("aborting timed out transaction", "transactional_id", m.id, "producer_id", m.pid, "epoch", m.epoch)
				_ = c.abortLocked(m, true)
			}
		}
		m.mu.Unlock()
	}
}

func (c *Coordinator) abortLoop() {
	defer close(c.done)
	t := time.NewTicker(c.opts.AbortInterval)
	defer t.Stop()
	r := time.NewTicker(c.opts.RemoveInterval)
	defer r.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.Complete()
		case <-r.C:
			c.RemoveExpired()
		}
	}
}

// RemoveExpired forgets the transactional ids that have no transaction
// open (Empty, CompleteCommit, CompleteAbort) and were last updated
// transactional.id.expiration.ms ago or more, as Kafka's
// TransactionStateManager.removeExpiredTransactionalIds: a tombstone of
// the id in __transaction_state (so a reload forgets it too), then the
// id leaves memory. Afterwards DescribeTransactions answers
// TRANSACTIONAL_ID_NOT_FOUND and an InitProducerId starts afresh with a
// new producer id. It returns how many ids it removed.
func (c *Coordinator) RemoveExpired() int {
	limit := c.nowMs() - c.opts.IDExpiration.Milliseconds()
	n := 0
	for _, m := range c.all() {
		m.mu.Lock()
		switch m.state {
		case kmsg.TransactionStateEmpty, kmsg.TransactionStateCompleteCommit, kmsg.TransactionStateCompleteAbort:
		default:
			m.mu.Unlock()
			continue
		}
		if m.removed || m.pid < 0 || m.updateMs > limit {
			m.mu.Unlock()
			continue
		}
		rec := coordinator.Record{Key: txnKey(m.id)}
		err := c.rt.Write(c.PartitionFor(m.id), []coordinator.Record{rec}, coordinator.WriteOptions{}, func(int64) {
			m.removed = true
			c.mu.Lock()
			if c.txns[m.id] == m {
				delete(c.txns, m.id)
			}
			c.mu.Unlock()
		})
		if err != nil {
			c.log.Error("writing the tombstone of an expired transactional id failed", "transactional_id", m.id, "err", err)
		} else {
			c.log.Info("removed expired transactional id", "transactional_id", m.id, "producer_id", m.pid, "last_update_ms", m.updateMs)
			n++
		}
		m.mu.Unlock()
	}
	return n
}

// Description is one transactional id's state (DescribeTransactions,
// ListTransactions).
type Description struct {
	ID         string
	State      string // Kafka's TransactionState.stateName
	ProducerID int64
	Epoch      int16
	TimeoutMs  int32
	StartMs    int64
	Partitions []TP
}

var stateNames = map[kmsg.TransactionState]string{
	kmsg.TransactionStateEmpty: "Empty", kmsg.TransactionStateOngoing: "Ongoing",
	kmsg.TransactionStatePrepareCommit: "PrepareCommit", kmsg.TransactionStatePrepareAbort: "PrepareAbort",
	kmsg.TransactionStateCompleteCommit: "CompleteCommit", kmsg.TransactionStateCompleteAbort: "CompleteAbort",
	kmsg.TransactionStateDead: "Dead", kmsg.TransactionStatePrepareEpochFence: "PrepareEpochFence",
}

// Describe returns id's state, or false if unknown.
func (c *Coordinator) Describe(id string) (Description, bool) {
	m := c.lock(id)
	if m == nil {
		return Description{}, false
	}
	defer m.mu.Unlock()
	if m.pid < 0 {
		return Description{}, false
	}
	return m.describe(), true
}

func (m *txnMeta) describe() Description {
	return Description{ID: m.id, State: stateNames[m.state], ProducerID: m.pid, Epoch: m.epoch, TimeoutMs: m.timeoutMs, StartMs: m.startMs, Partitions: sortedTPs(m.partitions)}
}

// List returns every known transactional id's state.
func (c *Coordinator) List() []Description {
	var out []Description
	for _, m := range c.all() {
		m.mu.Lock()
		if m.pid >= 0 {
			out = append(out, m.describe())
		}
		m.mu.Unlock()
	}
	return out
}
