package logstore

// This file is the contract between logstore and its callers (handlers for
// Produce, Fetch, ListOffsets, DeleteRecords; the broker for lifecycle).
// Implementations live in the other files of the package.

// PartitionConfig holds the per-partition settings resolved from topic
// overrides and broker defaults (segment.bytes, segment.ms, retention.*,
// flush.*). Zero or negative values mean what Kafka's -1 means ("none").
type PartitionConfig struct {
	SegmentBytes   int64 // roll when the active segment would exceed this
	SegmentMs      int64 // roll when the active segment's first batch is older than this
	RetentionBytes int64 // -1: unlimited
	RetentionMs    int64 // -1: unlimited
	FlushMessages  int64 // fsync after this many records; <=0 or MaxInt64: never forced
	FlushMs        int64 // fsync when the oldest unflushed write is this old; <=0 or MaxInt64: never forced
	// LogAppendTime makes Append stamp batches with the broker's clock
	// (message.timestamp.type=LogAppendTime).
	LogAppendTime bool
	// TopicID is the id of the topic the partition belongs to (zero: not
	// known, as for stores used without cluster metadata). It is recorded
	// in the partition directory's partition.metadata when the partition
	// is created, and checked when the store opens, so that a topic that
	// later takes the same name never adopts this log (see stray.go).
	TopicID [16]byte

	// Compact is cleanup.policy containing compact: the cleaner keeps
	// the latest record per key in the closed segments (cleaner.go).
	// Retention by time and size follows RetentionMs and RetentionBytes
	// as for any topic; the caller passes -1 for a compact-only policy.
	Compact bool
	// DeleteRetentionMs is delete.retention.ms: how long a tombstone
	// survives cleaning, counted from its segment's last write.
	DeleteRetentionMs int64
	// MinCompactionLagMs is min.compaction.lag.ms: segments holding a
	// record younger than this are not cleaned yet.
	MinCompactionLagMs int64
	// MaxCompactionLagMs is max.compaction.lag.ms (<= 0: none): a log with
	// a dirty record older than this is cleaned whatever its dirty ratio.
	// Callers also cap SegmentMs at it, as Kafka's LogConfig.maxSegmentMs.
	MaxCompactionLagMs int64
	// MinCleanableDirtyRatio is min.cleanable.dirty.ratio: a log is
	// cleaned when its dirty bytes exceed this share of its cleanable
	// bytes.
	MinCleanableDirtyRatio float64
}

// AppendResult is what Produce reports for one appended batch.
type AppendResult struct {
	BaseOffset     int64
	LastOffset     int64
	LogAppendTime  int64 // -1 unless LogAppendTime is set
	LogStartOffset int64
	// Duplicate is true when the batch was a retry of one already in the
	// log (same producer id, epoch and sequence range): nothing was
	// appended and the offsets are the original ones.
	Duplicate bool
}

// ReadResult is a Fetch's view of one partition.
type ReadResult struct {
	// Batches holds whole record batches, exactly as stored, starting with
	// the batch that contains the requested offset. It may be a view of a
	// pooled buffer: call Release when the bytes have been written out.
	Batches       []byte
	HighWatermark int64
	// LastStableOffset is the first offset of the earliest open
	// transaction, else the high watermark (see doc.go, Transactions).
	LastStableOffset int64
	LogStartOffset   int64

	// File, FilePos and FileLen are set instead of Batches by the
	// zero-copy reads (ReadFile, ReadCommittedFile, ReadReplicaFile): the
	// records are FileLen bytes at FilePos of the segment file, left
	// there so the network layer can send them with sendfile(2), as
	// Kafka's FileRecords.slice does. The first batch was checked
	// against the index; the range holds whole batches, as Batches would
	// (Kafka cuts the last one at maxBytes; finding the last whole batch
	// in the index costs no measurable throughput and sends no bytes the
	// client throws away). The segment stays open until Release, even if
	// retention deletes it meanwhile.
	File    File
	FilePos int64
	FileLen int64

	release func()
}

// Len is the number of record bytes the result holds, in Batches or in
// the file range.
func (r *ReadResult) Len() int {
	if r.File != nil {
		return int(r.FileLen)
	}
	return len(r.Batches)
}

// TakeRelease hands the duty to call Release to the caller: it returns
// the release function (nil if none) and clears it from r. Fetch gives it
// to the network layer, which calls it once the bytes have been sent.
func (r *ReadResult) TakeRelease() func() {
	fn := r.release
	r.release = nil
	return fn
}

// Release returns the result's buffer to the pool. Safe on a zero value.
func (r *ReadResult) Release() {
	if r.release != nil {
		r.release()
		r.release = nil
	}
}
