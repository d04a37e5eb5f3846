package coordinator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/logstore"
)

// ErrNotLoaded is returned by Write for a partition that was unloaded (or
// whose runtime is closed). It unwraps to NOT_COORDINATOR, what Kafka's
// CoordinatorRuntime answers for a shard it does not own.
var ErrNotLoaded = fmt.Errorf("coordinator: partition not loaded: %w", kerr.NotCoordinator)

// Record is one key/value of a coordinator write or replay. A nil Value
// is a tombstone.
type Record struct {
	Key   []byte
	Value []byte
}

// StateMachine is the in-memory state of one internal partition (Kafka's
// CoordinatorShard). The runtime calls its methods with the partition's
// write lock held.
type StateMachine interface {
	// Replay applies one record read from the log while loading. The
	// slices are only valid during the call. An error stops the load.
	Replay(offset int64, rec Record) error
	// LoadComplete is called once the whole log has been replayed; the
	// state machine publishes its state.
	LoadComplete()
	// Unload drops the state (the partition went away or the broker is
	// closing).
	Unload()
}

// TxnStateMachine is a StateMachine that also keeps transactional
// records (the group coordinator's TxnOffsetCommit records, Kafka's
// OffsetMetadataManager.replay with a producer id): records of a
// transactional batch go to ReplayTxn instead of Replay, and every
// transaction marker (control batch) of the log to ReplayMarker, so that
// pending records are applied on COMMIT and dropped on ABORT as Kafka's
// CoordinatorShard.replayEndTransactionMarker does.
type TxnStateMachine interface {
	StateMachine
	ReplayTxn(offset, producerID int64, producerEpoch int16, rec Record) error
	ReplayMarker(offset, producerID int64, producerEpoch int16, commit bool) error
}

// LogSource gives the runtime the log of a partition of its topic. With
// create set it creates the topic and the partition log when missing;
// without, it returns (nil, nil) for a log that does not exist.
type LogSource func(partition int32, create bool) (*logstore.Partition, error)

// Options configures a Runtime.
type Options struct {
	Topic string    // the internal topic, for logs
	Logs  LogSource // required
	// NewStateMachine makes the state machine of a partition being loaded.
	NewStateMachine func(partition int32) StateMachine
	// Compression is the codec of written batches (0 none, 1 gzip, 2
	// snappy, 3 lz4, 4 zstd; offsets.topic.compression.codec).
	Compression int
	// LoadBufferSize is the bytes read per log read while loading
	// (offsets.load.buffer.size; Kafka's default 5 MiB when <= 0). A
	// batch larger than it is still read whole, as Kafka does.
	LoadBufferSize int32
	// MaxBatchBytes is the largest batch one Write may append, in bytes
	// (default 1 MiB, Kafka's max.message.bytes): every Write is one
	// batch, as CoordinatorRuntime's atomic writes are, and a larger one
	// fails with ErrRecordTooLarge before anything is appended.
	MaxBatchBytes int
	Logger        *slog.Logger
	Now           func() time.Time

	// Managed is cluster mode: a partition is loaded only when this
	// broker becomes its leader (Elect) and unloaded when it stops
	// leading (Resign), as Kafka's GroupCoordinator.onElection /
	// onResignation and TransactionStateManager load and remove them.
	// Writes to a partition that is not loaded fail with ErrNotLoaded
	// instead of loading it, and Status answers
	// COORDINATOR_LOAD_IN_PROGRESS / NOT_COORDINATOR. Without it (a
	// single node) every partition is this broker's and loads lazily.
	Managed bool
	// Append, when set, makes every append go through the partition's
	// leadership (see Appender); nil appends to the log directly (a
	// single node).
	Append Appender
	// OnLoaded is called (without locks) after a partition was loaded by
	// Elect, so the coordinator can start what it starts for loaded
	// state (timers, completing prepared transactions).
	OnLoaded func(partition int32)
}

// Appender runs append while this broker leads the partition in leader
// epoch epoch (the epoch the partition was loaded in, see Elect), as
// Kafka's ReplicaManager.appendRecords with acks=-1 for the internal
// topics: append gets the leader epoch to stamp in the batch and returns
// the offset after what it appended; Appender returns once the high
// watermark passed it. Errors: NOT_LEADER_OR_FOLLOWER (or
// NOT_COORDINATOR) when this broker does not lead in that epoch,
// NOT_ENOUGH_REPLICAS(_AFTER_APPEND), REQUEST_TIMED_OUT
// (offsets.commit.timeout.ms), or append's own error.
type Appender func(partition int32, epoch int32, append func(leaderEpoch int32) (nextOffset int64, err error)) error

// ErrLoadInProgress is Status's answer while a partition loads: Kafka's
// COORDINATOR_LOAD_IN_PROGRESS.
var ErrLoadInProgress = fmt.Errorf("coordinator: partition loading: %w", kerr.CoordinatorLoadInProgress)

// Runtime runs the state machines of one internal topic's partitions.
type Runtime struct {
	opts Options
	log  *slog.Logger

	// mu guards parts, closed and the event queue; held for map
	// operations only.
	mu     sync.Mutex
	parts  map[int32]*partition
	closed bool
	events []event // Elect/Resign, run in order by one goroutine
	busy   bool    // that goroutine is running
	idle   *sync.Cond
}

// event is a leadership change waiting for the runtime's worker.
type event struct {
	partition int32
	epoch     int32
	elect     bool
}

// partition is one internal partition's runtime state.
type partition struct {
	id int32

	// mu serializes loads and writes of the partition and guards the
	// fields below.
	mu    sync.Mutex
	state int8 // unloaded, loaded, dead (unloaded for good)
	// status mirrors state for lock-free Status calls (stLoading while
	// Elect replays the log).
	status atomic.Int32
	// epoch is the leader epoch this broker leads the partition in
	// (Managed), the epoch its writes must be appended in.
	epoch    int32
	epochPub atomic.Int32 // epoch, for Epoch without mu
	log      *logstore.Partition
	sm       StateMachine
	recBuf   []byte // scratch: encoded records of the batch being built
	batch    []byte // scratch: the batch
}

const (
	stUnloaded int8 = iota
	stLoaded
	stDead
	stLoading // status only
)

// New returns a runtime with no partition loaded.
func New(opts Options) *Runtime {
	if opts.LoadBufferSize <= 0 {
		opts.LoadBufferSize = 5 << 20
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = 1 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := opts.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{opts: opts, log: l, parts: map[int32]*partition{}}
	r.idle = sync.NewCond(&r.mu)
	return r
}

func (r *Runtime) part(id int32) (*partition, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrNotLoaded
	}
	p := r.parts[id]
	if p == nil {
		p = &partition{id: id, epoch: -1}
		p.epochPub.Store(-1)
		r.parts[id] = p
	}
	return p, nil
}

// Load loads partition id if its log exists (or, with create, creating
// it), replaying the log into a new state machine. Loading a loaded
// partition does nothing. It returns whether the partition is loaded.
func (r *Runtime) Load(id int32, create bool) (bool, error) {
	p, err := r.part(id)
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return r.loadLocked(p, create)
}

func (r *Runtime) loadLocked(p *partition, create bool) (bool, error) {
	switch p.state {
	case stLoaded:
		return true, nil
	case stDead:
		return false, ErrNotLoaded
	}
	lp, err := r.opts.Logs(p.id, create)
	if err != nil {
		return false, fmt.Errorf("coordinator: %s-%d: opening log: %w", r.opts.Topic, p.id, err)
	}
	if lp == nil {
		return false, nil
	}
	start := time.Now()
	sm := r.opts.NewStateMachine(p.id)
	var n int
	if tsm, ok := sm.(TxnStateMachine); ok {
		n, err = replayTxn(lp, r.opts.LoadBufferSize, tsm)
	} else {
		n, err = Replay(lp, r.opts.LoadBufferSize, sm.Replay)
	}
	if err != nil {
		sm.Unload()
		return false, fmt.Errorf("coordinator: loading %s-%d: %w", r.opts.Topic, p.id, err)
	}
	sm.LoadComplete()
	p.log, p.sm, p.state = lp, sm, stLoaded
	p.status.Store(int32(stLoaded))
	if n > 0 {
		r.log.Info("coordinator partition loaded", "topic", r.opts.Topic, "partition", p.id, "records", n, "took", time.Since(start))
	}
	return true, nil
}

// Loaded reports whether partition id is loaded.
func (r *Runtime) Loaded(id int32) bool {
	r.mu.Lock()
	p := r.parts[id]
	r.mu.Unlock()
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == stLoaded
}

// Unload unloads partition id: its state machine drops its state and
// later writes fail with ErrNotLoaded until it is loaded again.
func (r *Runtime) Unload(id int32) {
	r.mu.Lock()
	p := r.parts[id]
	r.mu.Unlock()
	if p == nil {
		return
	}
	p.mu.Lock()
	sm := p.sm
	if p.state != stLoaded {
		sm = nil
	} else {
		p.sm, p.log, p.state = nil, nil, stUnloaded
		p.status.Store(int32(stUnloaded))
	}
	p.mu.Unlock()
	// Outside the partition's mu: the state machine takes its own locks
	// (a group's mu), which writers hold while they wait for this mu.
	if sm != nil {
		sm.Unload()
	}
}

// Close unloads every partition; later writes fail with ErrNotLoaded.
// Writes in progress finish first (Close takes each partition's mu).
func (r *Runtime) Close() {
	r.mu.Lock()
	r.closed = true
	parts := make([]*partition, 0, len(r.parts))
	for _, p := range r.parts {
		parts = append(parts, p)
	}
	r.mu.Unlock()
	for _, p := range parts {
		p.mu.Lock()
		sm := p.sm
		if p.state != stLoaded {
			sm = nil
		}
		p.sm, p.log, p.state = nil, nil, stDead
		p.status.Store(int32(stDead))
		p.mu.Unlock()
		if sm != nil {
			sm.Unload() // outside p.mu, as Unload
		}
	}
}

// WriteOptions are per-write settings.
type WriteOptions struct {
	// Sync fsyncs the log before Write returns (used by the migration of
	// an old store, which deletes the old store afterwards). Ordinary
	// writes follow the topic's flush.messages / flush.ms, as Kafka's.
	Sync bool
	// Transactional writes the batch as a transactional batch of
	// ProducerID/ProducerEpoch (sequence -1, as Kafka's coordinator
	// runtime writes TxnOffsetCommit records); it stays pending until a
	// marker of that producer (WriteMarker).
	Transactional bool
	ProducerID    int64
	ProducerEpoch int16
}

// Write appends recs to partition id (loading it first, creating its log
// if needed) and then, if the append succeeded, calls apply with the
// offset of the last record, under the partition's write lock. With no
// records, apply is called without an append. The records become one
// batch, so a write is in the log whole or not at all (Kafka's
// CoordinatorRuntime appends an atomic write as one batch). Errors:
// ErrNotLoaded, ErrRecordTooLarge (the batch would exceed
// Options.MaxBatchBytes; nothing is appended), or the logstore append
// error (wrapping logstore.ErrStorage for I/O failures and a full disk).
func (r *Runtime) Write(id int32, recs []Record, wo WriteOptions, apply func(lastOffset int64)) error {
	p, err := r.part(id)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := r.ensureLoadedLocked(p); err != nil {
		return err
	}
	last := p.log.LogEndOffset() - 1
	if len(recs) > 0 {
		res, err := r.appendLocked(p, recs, wo)
		if err != nil {
			return err
		}
		last = res.LastOffset
	}
	if apply != nil {
		apply(last)
	}
	return nil
}

// ErrRecordTooLarge is a Write whose records do not fit in one batch of
// Options.MaxBatchBytes. Kafka's CoordinatorRuntime refuses an atomic
// write whose estimated size exceeds the batch's maximum with a
// RecordTooLargeException (MESSAGE_TOO_LARGE); it unwraps to that code.
var ErrRecordTooLarge = fmt.Errorf("coordinator: write larger than one batch: %w", kerr.MessageTooLarge)

// EstimatedSize is an upper bound of the bytes recs take in a batch
// (record framing included, batch header excluded), for callers that
// split a large write into several atomic ones (the migration).
func EstimatedSize(recs []Record) int {
	n := 0
	for _, rec := range recs {
		n += len(rec.Key) + len(rec.Value) + maxRecordOverhead
	}
	return n
}

// maxRecordOverhead is the most a record adds to its key and value:
// length, offset delta, key and value lengths (5 bytes each at most),
// attributes, timestamp delta (0) and header count (1 byte each).
const maxRecordOverhead = 23

// MaxBatchBytes is the largest batch one Write may append.
func (r *Runtime) MaxBatchBytes() int { return r.opts.MaxBatchBytes }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendLocked builds one batch of recs (see doc.go) and appends it.
func (r *Runtime) appendLocked(p *partition, recs []Record, wo WriteOptions) (logstore.AppendResult, error) {
	nowMs := r.opts.Now().UnixMilli()
	rb := p.recBuf[:0]
	for i, rec := range recs {
		kr := kmsg.Record{OffsetDelta: int32(i), Key: rec.Key, Value: rec.Value}
		// Length is the size of what follows it: encode once with
		// length 0 (one varint byte) to learn it.
		start := len(rb)
		rb = kr.AppendTo(rb)
		kr.Length = int32(len(rb) - start - 1)
		rb = kr.AppendTo(rb[:start])
	}
	p.recBuf = rb
	var attrs int16
	if wo.Transactional {
		attrs = 0x10 // transactional bit
	}
	if size := logstore.BatchHeaderSize + len(rb); size > r.opts.MaxBatchBytes {
		// CoordinatorRuntime checks the uncompressed estimate against
		// the batch's maximum before appending anything.
		return logstore.AppendResult{}, fmt.Errorf("%w: %d records of %d bytes in %s-%d, maximum %d",
			ErrRecordTooLarge, len(recs), size, r.opts.Topic, p.id, r.opts.MaxBatchBytes)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       nowMs,
		MaxTimestamp:         nowMs,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		Attributes:           attrs,
		NumRecords:           int32(len(recs)),
		Records:              rb,
	}
	if wo.Transactional {
		b.ProducerID, b.ProducerEpoch = wo.ProducerID, wo.ProducerEpoch
	}
	b.Length = int32(logstore.BatchHeaderSize - 12 + len(rb))
	batch := b.AppendTo(p.batch[:0])
	binary.BigEndian.PutUint32(batch[17:], crc32.Checksum(batch[21:], castagnoli))
	p.batch = batch
	h, err := logstore.ParseBatchHeader(batch)
	if err != nil {
		return logstore.AppendResult{}, fmt.Errorf("coordinator: built a bad batch: %w", err)
	}
	if c := r.opts.Compression; c > 0 {
		rebuilt, err := logstore.Recompress(batch, h, c, logstore.DefaultCompressionLevels, 0)
		if err != nil {
			return logstore.AppendResult{}, fmt.Errorf("coordinator: compressing batch: %w", err)
		}
		defer rebuilt.Release()
		batch, h = rebuilt.Bytes, rebuilt.Header
	}
	var restore *logstore.PartitionConfig
	if wo.Sync {
		cfg := p.log.Config()
		restore = &cfg
		synced := cfg
		synced.FlushMessages = 1
		p.log.SetConfig(synced)
	}
	var res logstore.AppendResult
	err = r.appendVia(p, func(leaderEpoch int32) (int64, error) {
		// The partition leader epoch is outside the CRC (Kafka's
		// LogValidator stamps it the same way).
		binary.BigEndian.PutUint32(batch[12:], uint32(leaderEpoch))
		var err error
		if wo.Transactional {
			res, err = p.log.AppendCoordinator(batch, h)
		} else {
			res, err = p.log.Append(batch, h)
		}
		return res.LastOffset + 1, err
	})
	if restore != nil {
		p.log.SetConfig(*restore)
	}
	if err != nil {
		return res, fmt.Errorf("coordinator: appending to %s-%d: %w", r.opts.Topic, p.id, err)
	}
	return res, nil
}

// ensureLoadedLocked loads p for a write on a single node; in Managed
// mode a partition that is not loaded is not this broker's:
// ErrNotLoaded. p.mu is held.
func (r *Runtime) ensureLoadedLocked(p *partition) error {
	if p.state == stLoaded {
		return nil
	}
	if r.opts.Managed {
		return ErrNotLoaded
	}
	_, err := r.loadLocked(p, true)
	return err
}

// appendVia runs fn through Options.Append in the partition's epoch, or
// directly (leader epoch -1, as a single node writes its own batches)
// without one. p.mu is held.
func (r *Runtime) appendVia(p *partition, fn func(leaderEpoch int32) (int64, error)) error {
	if r.opts.Append == nil {
		_, err := fn(-1)
		return err
	}
	return r.opts.Append(p.id, p.epoch, fn)
}

// Status is nil when this broker serves partition id's coordinator:
// always on a single node; in Managed mode once Elect loaded it.
// Otherwise ErrLoadInProgress (COORDINATOR_LOAD_IN_PROGRESS) while it
// loads and ErrNotLoaded (NOT_COORDINATOR) when this broker does not lead
// it. Takes only the runtime's map mutex, never a partition's.
func (r *Runtime) Status(id int32) error {
	if !r.opts.Managed {
		return nil
	}
	r.mu.Lock()
	p := r.parts[id]
	r.mu.Unlock()
	if p == nil {
		return ErrNotLoaded
	}
	switch int8(p.status.Load()) {
	case stLoaded:
		return nil
	case stLoading:
		return ErrLoadInProgress
	}
	return ErrNotLoaded
}

// Epoch is the leader epoch this broker last led partition id in (0
// when never elected, as on a single node): the coordinator epoch of
// the transaction markers it writes (Kafka's TransactionStateManager
// uses the partition's leader epoch), which fences markers of an older
// coordinator.
func (r *Runtime) Epoch(id int32) int32 {
	r.mu.Lock()
	p := r.parts[id]
	r.mu.Unlock()
	if p == nil {
		return 0
	}
	return max(0, p.epochPub.Load())
}

// Elect is Kafka's onElection: this broker became leader of partition id
// in leader epoch epoch. The partition is loaded from its log in the
// background (Status answers ErrLoadInProgress meanwhile) unless it is
// already loaded, in which case only its epoch moves on. Events of an
// older epoch than the partition's are ignored. Managed mode only.
func (r *Runtime) Elect(id int32, epoch int32) {
	r.enqueue(event{partition: id, epoch: epoch, elect: true})
}

// Resign is Kafka's onResignation: this broker no longer leads partition
// id (epoch: the new leader epoch, -1 unknown). The partition is unloaded
// in the background, after any earlier event. Managed mode only.
func (r *Runtime) Resign(id int32, epoch int32) { r.enqueue(event{partition: id, epoch: epoch}) }

func (r *Runtime) enqueue(e event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if p := r.parts[e.partition]; p == nil {
		np := &partition{id: e.partition, epoch: -1}
		np.epochPub.Store(-1)
		r.parts[e.partition] = np
	}
	if e.elect {
		// Make the election visible at once: requests get
		// COORDINATOR_LOAD_IN_PROGRESS rather than NOT_COORDINATOR.
		p := r.parts[e.partition]
		if int8(p.status.Load()) == stUnloaded {
			p.status.Store(int32(stLoading))
		}
	}
	r.events = append(r.events, e)
	if !r.busy {
		r.busy = true
		go r.work()
	}
}

// work runs the queued events in order (Kafka's single coordinator
// loader thread), then exits.
func (r *Runtime) work() {
	for {
		r.mu.Lock()
		if len(r.events) == 0 || r.closed {
			r.events = nil
			r.busy = false
			r.idle.Broadcast()
			r.mu.Unlock()
			return
		}
		e := r.events[0]
		r.events = r.events[1:]
		p := r.parts[e.partition]
		r.mu.Unlock()
		if e.elect {
			r.elect(p, e.epoch)
		} else {
			r.resign(p, e.epoch)
		}
	}
}

// WaitIdle waits until every queued Elect and Resign has run (tests).
func (r *Runtime) WaitIdle() {
	r.mu.Lock()
	for r.busy {
		r.idle.Wait()
	}
	r.mu.Unlock()
}

func (r *Runtime) elect(p *partition, epoch int32) {
	p.mu.Lock()
	if epoch <= p.epoch {
		// Kafka's scheduleLoadOperation loads only for a newer epoch.
		// Undo enqueue's COORDINATOR_LOAD_IN_PROGRESS.
		p.status.Store(int32(p.state))
		p.mu.Unlock()
		r.log.Info("coordinator: ignoring election of an older epoch", "topic", r.opts.Topic, "partition", p.id, "epoch", epoch, "current", p.epoch)
		return
	}
	p.epoch = max(p.epoch, epoch)
	p.epochPub.Store(p.epoch)
	if p.state == stLoaded || p.state == stDead {
		p.mu.Unlock()
		return
	}
	p.status.Store(int32(stLoading))
	start := time.Now()
	ok, err := r.loadLocked(p, true)
	if !ok || err != nil {
		p.status.Store(int32(p.state))
		p.mu.Unlock()
		r.log.Error("coordinator: loading partition after election failed", "topic", r.opts.Topic, "partition", p.id, "epoch", epoch, "err", err)
		return
	}
	p.mu.Unlock()
	r.log.Info("coordinator: partition loaded after election", "topic", r.opts.Topic, "partition", p.id, "epoch", epoch, "took", time.Since(start))
	if r.opts.OnLoaded != nil {
		r.opts.OnLoaded(p.id)
	}
}

func (r *Runtime) resign(p *partition, epoch int32) {
	p.mu.Lock()
	if epoch >= 0 && epoch < p.epoch {
		p.mu.Unlock()
		r.log.Info("coordinator: ignoring resignation of an older epoch", "topic", r.opts.Topic, "partition", p.id, "epoch", epoch, "current", p.epoch)
		return
	}
	p.epoch = max(p.epoch, epoch)
	p.epochPub.Store(p.epoch)
	sm := p.sm
	if p.state == stLoaded {
		p.sm, p.log, p.state = nil, nil, stUnloaded
	} else {
		sm = nil
	}
	if p.state != stDead {
		p.status.Store(int32(stUnloaded))
	}
	p.mu.Unlock()
	if sm != nil {
		sm.Unload()
		r.log.Info("coordinator: partition unloaded after resignation", "topic", r.opts.Topic, "partition", p.id, "epoch", epoch)
	}
}

// WriteMarker appends a transaction marker (COMMIT or ABORT) for
// producerID to partition id with logstore's Partition.AppendMarker (the
// coordinator's side of WriteTxnMarkers) and then, if it was written,
// calls apply under the partition's write lock, so the state machine
// settles the producer's pending records in log order. Errors as Write's,
// plus AppendMarker's refusals (INVALID_PRODUCER_EPOCH,
// TRANSACTION_COORDINATOR_FENCED).
func (r *Runtime) WriteMarker(id int32, producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32, apply func()) error {
	p, err := r.part(id)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := r.ensureLoadedLocked(p); err != nil {
		return err
	}
	err = r.appendVia(p, func(leaderEpoch int32) (int64, error) {
		res, err := p.log.AppendMarker(producerID, producerEpoch, commit, coordinatorEpoch, leaderEpoch, 0)
		return res.LastOffset + 1, err
	})
	if err != nil {
		return fmt.Errorf("coordinator: marker in %s-%d: %w", r.opts.Topic, p.id, err)
	}
	if apply != nil {
		apply()
	}
	return nil
}

// Replay reads lp from its log start to its end, loadBuffer bytes per
// read, and calls fn for every record of every data batch in offset
// order. It returns the number of records replayed. Exported for tools
// and benchmarks; Load uses it.
func Replay(lp *logstore.Partition, loadBuffer int32, fn func(offset int64, rec Record) error) (int, error) {
	return replayLog(lp, loadBuffer, fn, nil)
}

// replayTxn is Replay for a TxnStateMachine.
func replayTxn(lp *logstore.Partition, loadBuffer int32, sm TxnStateMachine) (int, error) {
	return replayLog(lp, loadBuffer, sm.Replay, sm)
}

func replayLog(lp *logstore.Partition, loadBuffer int32, fn func(offset int64, rec Record) error, tsm TxnStateMachine) (int, error) {
	off, end := lp.LogStartOffset(), lp.LogEndOffset()
	n := 0
	for off < end {
		// To the log end, not the high watermark: a new leader's high
		// watermark may still lag what the old one acknowledged
		// (Kafka's loaders read with FetchIsolation.LOG_END).
		res, err := lp.ReadReplica(off, loadBuffer)
		if err != nil {
			if errors.Is(err, logstore.ErrOffsetOutOfRange) && off < lp.LogStartOffset() {
				off = lp.LogStartOffset() // retention moved the start meanwhile
				continue
			}
			return n, fmt.Errorf("reading offset %d: %w", off, err)
		}
		if len(res.Batches) == 0 {
			res.Release()
			break
		}
		next, k, err := replayBatches(res.Batches, off, fn, tsm)
		res.Release()
		n += k
		if err != nil {
			return n, err
		}
		if next <= off {
			return n, fmt.Errorf("no progress at offset %d", off)
		}
		off = next
	}
	return n, nil
}

// replayBatches replays the records at or after from in buf (whole
// batches) and returns the offset after the last batch.
func replayBatches(buf []byte, from int64, fn func(int64, Record) error, tsm TxnStateMachine) (int64, int, error) {
	next, n := from, 0
	for len(buf) >= logstore.BatchHeaderSize {
		h, err := logstore.ParseBatchHeader(buf)
		if err != nil {
			return next, n, err
		}
		size := h.TotalSize()
		if size > len(buf) {
			break
		}
		batch := buf[:size]
		buf = buf[size:]
		next = h.LastOffset() + 1
		if h.IsControl() {
			if tsm == nil || h.BaseOffset < from {
				continue
			}
			m, err := logstore.ParseTxnMarker(batch)
			if err != nil {
				continue // an empty control batch the cleaner left
			}
			if err := tsm.ReplayMarker(h.BaseOffset, h.ProducerID, h.ProducerEpoch, m.Commit); err != nil {
				return next, n, fmt.Errorf("marker at offset %d: %w", h.BaseOffset, err)
			}
			continue
		}
		bfn := fn
		if tsm != nil && h.IsTransactional() {
			pid, epoch := h.ProducerID, h.ProducerEpoch
			bfn = func(off int64, rec Record) error { return tsm.ReplayTxn(off, pid, epoch, rec) }
		}
		k, err := replayBatch(batch, h, from, bfn)
		n += k
		if err != nil {
			return next, n, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
		}
	}
	return next, n, nil
}

// replayBatch streams the records of one batch (logstore.ScanRecords:
// compressed batches are read through a small window, each record copied
// alone) and replays those at or after from with their stored offset
// deltas, which keep the gaps compaction leaves inside a batch.
func replayBatch(batch []byte, h logstore.BatchHeader, from int64, fn func(int64, Record) error) (int, error) {
	n := 0
	var kr kmsg.Record
	err := logstore.ScanRecords(batch, h, maxReplayRecordBytes, func(sr logstore.StoredRecord) error {
		off := h.BaseOffset + int64(sr.OffsetDelta)
		if off < from {
			return nil
		}
		if err := kr.UnsafeReadFrom(sr.Raw); err != nil {
			return fmt.Errorf("record at offset %d: %w", off, err)
		}
		if err := fn(off, Record{Key: kr.Key, Value: kr.Value}); err != nil {
			return fmt.Errorf("record at offset %d: %w", off, err)
		}
		n++
		return nil
	})
	return n, err
}

// maxReplayRecordBytes bounds one record copied while replaying: far
// above what Write lets in (Options.MaxBatchBytes, 1 MiB by default), so
// only damage hits it.
const maxReplayRecordBytes = 64 << 20
