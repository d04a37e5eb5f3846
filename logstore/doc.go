// Package logstore is Samsa's partition log: Kafka's on-disk log of record
// batches, with a Pebble database as its index.
//
// Produce writes the bytes the client sent after validating them;
// Fetch returns bytes straight from the segment files. Everything that
// needs per-batch knowledge (offset lookup, timestamps, idempotence,
// retention) works from the header fields kept in the index, and those
// header fields are facts the broker has checked or computed from the
// records, never the producer's word alone (see Produce validation).
//
// # Produce validation
//
// ValidateRecords (validate.go) is Kafka's LogValidator for client
// appends (org.apache.kafka.storage.internals.log.LogValidator,
// validateBatch and validateRecord, with the record layout of
// DefaultRecord.readFrom and DefaultRecordBatch's record iterators). The
// answers below are Apache Kafka 4.3.1's, measured by the differential
// conformance suite (conformance/validate_test.go); where they differ
// from what the record format allows, Kafka's measured answer wins.
//
// The produce handler first applies KafkaApis' request checks
// (ProduceRequest.validateRecords; answered with log_start_offset -1):
//
//	transactional first batch, no transactional id
//	  (the whole request)                          TRANSACTIONAL_ID_AUTHORIZATION_FAILED
//	internal topic name, existing or not           INVALID_TOPIC_EXCEPTION
//	no whole batch (empty or truncated records)    INVALID_RECORD
//	length field < 14 or magic > 2                 CORRUPT_MESSAGE
//	magic 0 or 1, or a second whole batch          INVALID_RECORD
//	zstd before Produce v7                         UNSUPPORTED_COMPRESSION_TYPE
//	compression id 5-7 before Produce v7
//	  (the whole request)                          UNKNOWN_SERVER_ERROR
//
// then UnifiedLog.analyzeAndValidateRecords: base offset 0
// (INVALID_RECORD), within max.message.bytes (MESSAGE_TOO_LARGE), intact
// CRC (CORRUPT_MESSAGE). Then, per batch:
//
//	lastOffsetDelta+1 <= 0, recordCount <= 0, or
//	  recordCount != lastOffsetDelta+1            INVALID_RECORD
//	control attribute set by a client              INVALID_RECORD
//	producer id >= 0 with base sequence < 0        INVALID_RECORD
//	compression id 5, 6 or 7                       UNKNOWN_SERVER_ERROR
//	payload the codec cannot decompress            UNKNOWN_SERVER_ERROR
//
// and per record, walking all recordCount records (compressed batches
// are decompressed as a stream through a 16 KiB window with pooled
// decoders: gzip, snappy raw or xerial-framed, lz4 frame, zstd with a
// 32 MiB window limit; uncompressed batches are walked in place):
//
//	length varint <= 0 or past the batch's end     INVALID_RECORD
//	varint longer than 5 bytes (10 for the
//	  timestamp delta)                             INVALID_RECORD
//	key, value or header value past the record     INVALID_RECORD
//	key, value or header value length < -1         accepted, read as null,
//	                                                 stored as sent
//	header count < 0 or > bytes left in the record INVALID_RECORD
//	header key length < 0                          INVALID_RECORD
//	fields not adding up to the record's length    INVALID_RECORD
//	bytes (or a longer stream) after the last
//	  record, or fewer records than recordCount    INVALID_RECORD
//	offset delta != the record's index:
//	  uncompressed batch                           accepted, stored as sent
//	  compressed, kept in its codec                UNKNOWN_SERVER_ERROR
//	  recompressed (compression.type)              rewritten 0..n-1
//	CreateTime topic: timestamp != -1 and more than
//	  message.timestamp.before.max.ms before now
//	  or after.max.ms after now                    INVALID_TIMESTAMP
//	batch claiming LogAppendTime (unless CreateTime
//	  topic and its max timestamp is not -1)       INVALID_TIMESTAMP
//
// One rule is Samsa's own: a compressed batch may decompress to at most
// MaxDecompressedBatchBytes (64 x max.message.bytes, at least 64 MiB); the
// record that passes it is answered MESSAGE_TOO_LARGE. Kafka streams
// without such a bound and stores a 8 KiB zstd batch holding a 256 MiB
// record; Samsa refuses it, so that no stored batch can make a later
// reader (recompression, the cleaner, ListOffsets, coordinator replay)
// spend unbounded time, and every reader of a stored batch streams it
// (ScanRecords in records.go) so that a large record costs time, not
// memory. Recompress likewise stops with MESSAGE_TOO_LARGE as soon as its
// output or one record passes max.message.bytes (Kafka's
// RecordTooLargeException after recompression).
//
// Structural faults stop the walk and, like Kafka's plain
// InvalidRecordException, carry no record_errors; timestamp faults are
// collected for every record (up to 1000) and returned in the
// ProduceResponse v8+ record_errors (KIP-467) with the record's index,
// as Kafka's RecordValidationException. Failures inside the log (all of
// the above after the request checks, except MESSAGE_TOO_LARGE and
// CORRUPT_MESSAGE) answer with the partition's log start offset, as
// ReplicaManager.appendToLocalLog does; the rest with -1.
//
// Kafka's UNKNOWN_SERVER_ERROR answers come from a KafkaException (codec),
// IllegalArgumentException (CompressionType.forId) or, for compressed
// batches with out-of-order offsets, an UnsupportedOperationException
// while LogValidator rebuilds the batch from PartialDefaultRecords; they
// are matched, not judged. Note that a stored key length of -5 is read
// as null by Kafka's and franz-go's readers but may stop stricter
// readers (librdkafka checks for -1): Kafka stores it so, and so does
// Samsa.
//
// The record's timestamp is baseTimestamp+delta (the header's max
// timestamp for a LogAppendTime batch); the batch's max timestamp is the
// largest record timestamp, -1 if none has one, and for CreateTime topics
// the header's max timestamp and timestamp type are rewritten (with the
// CRC) when the producer's differ, as LogValidator's setMaxTimestamp
// does. librdkafka, for one, writes max timestamp 0 for records without
// a timestamp; keeping that would make retention delete them at once.
// Segments whose batches have no timestamp >= 0 are aged by the time of
// their last write (the file's mtime after a restart), as Kafka's
// LogSegment.largestTimestamp falls back to lastModified. Records
// without a key on compacted topics are refused by the produce handler
// (INVALID_RECORD), as Kafka's LogValidator does.
//
// # On-disk layout
//
//	<Dir>/
//	  .lock                       flock held by the open Store
//	  .samsa-clean-shutdown       present only between Close and Open
//	  .samsa-index/               the Pebble index (Options.IndexDir); disposable
//	  <topic>-<partition>/        one directory per partition
//	    00000000000000000000.log  segments, named by the 20-digit base offset
//	    00000000000000004711.log  (the last one is the active segment)
//	    log-start-offset          decimal; written by DeleteRecordsBefore only
//	    cleaner-offset-checkpoint decimal first dirty offset (compacted topics)
//	    <base>.cleaned            a cleaning in progress (deleted at Open)
//	    <base>-<next>.swap        a committed cleaning (completed at Open)
//	    partition.metadata        "version: 0\ntopic_id: <base64url id>" (Kafka's format)
//	    leader-epoch-checkpoint   "0", count, "epoch startOffset" lines (Kafka's format; see Replication)
//	  <topic>-<partition>.<ns>-delete/   a DeleteTopic in progress (or <uuid>-delete: a moved log)
//	  <topic>-<partition>.<uuid>-stray/  a log no topic claims, moved aside
//	  <topic>-<partition>.<uuid>-future/ the future log of a move into this dir (see Several log dirs)
//
// A segment is a plain concatenation of Kafka record batches (magic v2), as
// in Kafka's .log files, so Kafka's own tools can dump them. A batch is
// stored as the producer sent it (or as the produce handler recompressed
// it for the topic's compression.type) except for the fields the broker
// owns: the base offset (bytes 0-7, outside the CRC), the partition
// leader epoch (bytes 12-15, outside the CRC; the controller's leader
// epoch at append, as Kafka's LogValidator stamps it) and the max
// timestamp and timestamp-type attribute bit (computed from the records
// for CreateTime, the append time for message.timestamp.type=
// LogAppendTime), after which the CRC is recomputed (and the log cleaner,
// which rewrites closed segments of compacted topics; see Log compaction). The
// header layout (big-endian):
//
//	 0 baseOffset int64         27 baseTimestamp int64
//	 8 batchLength int32        35 maxTimestamp int64
//	12 partitionLeaderEpoch     43 producerId int64
//	16 magic int8 (2)           51 producerEpoch int16
//	17 crc uint32 (CRC-32C of   53 baseSequence int32
//	   bytes 21..end)           57 recordCount int32
//	21 attributes int16         61 records...
//	23 lastOffsetDelta int32
//
// Segments are the source of truth. The index can be deleted at any time
// (with the store closed): Open rebuilds it from the segments.
//
// # Index key layout
//
// One Pebble DB per Store. All integers are big-endian so that byte order
// is numeric order; pid is a uint32 allocated per partition and never
// reused, so a recreated topic cannot see a deleted one's leftovers.
//
//	'n'                                  -> next pid (uint32)
//	'p' topic 0x00 partition(int32)      -> pid (uint32)
//	'o' pid baseOffset(int64)            -> version(1) segBase(8) position(8)
//	                                        size(4) maxTimestamp(8)
//	                                        lastOffsetDelta(4) producerId(8)
//	                                        producerEpoch(2) baseSequence(4)
//	                                        attributes(2)
//	't' pid segBase(int64) maxTs(int64^signbit) -> baseOffset(8) lastOffsetDelta(4)
//	'x' pid markerOffset(int64)          -> version(0) producerId(8)
//	                                        firstOffset(8) lastStableOffset(8)
//
// 'o' entries of control batches are version 2: the version 1 value
// followed by the marker type int8 (0 ABORT, 1 COMMIT, -1 none: an empty
// control batch) and the coordinator epoch int32, so that transaction
// state can be rebuilt from the index alone. The 'x' space is the
// aborted-transaction index (see Transactions).
//
// Fetch at offset o is one SeekLT('o' pid o+1): the batch with the greatest
// base offset <= o. The 't' space is Kafka's time index: per segment, an
// entry is written only when a batch raises the segment's running maximum
// timestamp, so keys within a segment are ordered both by time and by
// offset, and SeekGE(ts) finds the first batch of the segment whose max
// timestamp is >= ts. ListOffsets picks the segment from in-memory max
// timestamps, then does that one seek.
//
// Index writes use pebble.NoSync and a batch reused per partition: an
// fsync would buy nothing, since recovery repairs the index from the
// segments. The log start offset set by DeleteRecords is kept in the
// partition directory, not the index, so losing the index cannot
// resurrect deleted records; after retention, the start is simply the
// first segment's base offset.
//
// # Append and read
//
// Append (one batch, under the partition's appendMu) checks idempotence,
// maybe rolls, pwrites the batch at the end of the active segment, commits
// its index entry, applies the flush policy, then publishes: segment size
// first, log end offset second, then closes the Wait channel. A failure at
// any step truncates the segment back and removes the index entry, so the
// next append reuses the offset. Writes are positional, so even if that
// truncation fails the stray bytes stay invisible (readers stop at the
// published size) and are overwritten.
//
// Read takes no lock during I/O: it loads the end offset, finds the batch
// holding the offset (the index, or without it at a segment's start or
// where an earlier read of the partition stopped: read hints, see
// readhint.go; the batch header read there must hold the offset),
// takes a reference on the segment (a short read lock on the segment
// list), and preads whole batches into a pooled buffer. A segment's file
// is closed only when its last reference goes, so retention can unlink a
// file while a Fetch is reading it.
//
// Fetch uses the zero-copy variants (ReadFile, ReadReplicaFile,
// ReadCommittedFile), which read no records: they return the file range
// from the batch holding the offset, checked by a 61-byte pread of its
// header against the index entry, to the segment's published size, cut at
// the last stable offset or a replicated partition's high watermark by a
// second index lookup (the position of the first batch at or past it,
// Kafka's translateOffset), and to whole batches within maxBytes by an
// index scan from the first (which is always sent, KIP-74; Kafka's
// LogSegment.read cuts the last batch at maxBytes instead). The result
// keeps the segment reference until the network layer has sent the range
// with sendfile. A read_committed read with an ABORT marker at or after
// its offset reads the bytes, because the aborted-transaction list needs
// the returned batches' offsets.
//
// # Flushing
//
// As in Kafka, writes go to the page cache. The active segment is fsynced
// when flush.messages records have accumulated (inline, in Append) or
// flush.ms after the first unflushed write (a timer), rolled segments are
// fsynced in the background right after the roll, and everything at Close.
//
// # Recovery
//
// Open recovers each partition (in parallel): the index entries are
// checked against the files (known segment, contiguous positions, growing
// offsets, within the file, last entry's header matches the bytes on
// disk). Entries past a file's end are deleted; any other mismatch, or a
// missing or unreadable DB, means a rebuild from the segments. Then every
// segment is walked from its last indexed position to its end, checking
// lengths, offsets and CRCs; good batches are indexed and the file is
// truncated at the first bad one (a torn or corrupt write). Without the
// clean-shutdown marker the last segment is re-validated from its start,
// as Kafka re-validates everything after its recovery point. Producer
// state is rebuilt from the index entries (producer id, epoch, base
// sequence and last offset delta are in every entry; open transactions
// and coordinator epochs from the attributes and control entries, see
// Transactions).
//
// Re-validating the last segment does not delete its index entries first:
// the scan is merged with them (recovery.go, relog), an entry that already
// holds the scanned value is left as it is, and only entries the scan
// does not produce are deleted (point deletions; one range deletion for a
// lost tail). Range deletions are kept off every routine start because
// Pebble re-fragments the memtable's range deletions whenever an iterator
// is opened after a new one, and sstables keep them until compacted: with
// a range deletion per partition per unclean start, opening 10,000
// partitions took 19 s and got no faster over repeated kills (issue 16).
// Recovery also reuses pooled 1 MiB read-ahead buffers rather than
// allocating one per partition. Measure with
//
//	LOGSTORE_RECOVERY_PARTS=2500,5000,10000 go test -run '^$' -bench BenchmarkRecovery -benchtime 4x -timeout 30m ./logstore
//	SAMSA_RESTART_PARTS=10000 go test -run '^$' -bench BenchmarkRestartManyPartitions -benchtime 3x -timeout 30m ./integration
//
// (the first is part of `make bench` at 2,500 partitions; the second
// drives the binary with kill -9 and SIGTERM).
//
// # Stray logs and damage
//
// A partition directory belongs to the topic whose id its
// partition.metadata records (written when the partition is created, and
// added at start to directories of older releases). With
// Options.MoveStrays, Open moves every directory that the cluster
// metadata does not claim (Options.ConfigFor says no) or that records
// another topic id to <dir>.<uuid>-stray and logs it once with both
// paths: its records are never served, and a topic created later under
// the same name starts empty rather than adopting them (Kafka does the
// same with stray logs; an operator decides what to do with them). A
// directory whose move failed is remembered, and CreatePartition moves it
// aside before creating the partition, or fails.
//
// Every Read compares the header of the first batch it returns with the
// index entry that located it (base offset, size, last offset delta).
// They differ only when the file changed under the index, e.g. a length
// field damaged in a closed segment that recovery does not re-scan after a
// clean shutdown. Such a read fails with ErrCorruptBatch (Fetch answers
// CORRUPT_MESSAGE) and is logged once per batch with the segment's path;
// the batches around it stay readable. Later batches of the same read are
// cut at the first length that does not fit, so the next read starts at
// the damaged batch and reports it.
//
// # Several log dirs (JBOD)
//
// With Options.ExtraDirs (log.dirs beyond the first), Open returns a
// Store over one single-dir Store per log dir (jbod.go). Each dir is
// self-contained: its own partition directories, Pebble index, lock,
// clean-shutdown marker, disk guard and cleaner, laid out as above; a
// partition's current log lives in exactly one dir. The root Store keeps
// the union of the dirs' partitions for lookups, so Partition is the same
// map read as with one dir, and a Store with one dir has no root at all
// (the single-dir path is unchanged; bench figures in the JBOD change).
//
// Placement follows Kafka's LogManager.nextLogDirs: a new partition goes
// to the dir with the fewest logs, current and future (ties to the
// earlier dir of log.dirs), unless AlterLogDir or PreferLogDir named a
// dir for it before it existed (Kafka's preferred log dir, remembered in
// memory until the log is created).
//
// A move (AlterLogDir, Kafka's ReplicaManager.alterReplicaLogDirs and
// ReplicaAlterLogDirsThread) is this state machine, per partition:
//
//  1. Start: an empty future log is created in the destination as
//     <topic>-<partition>.<32 hex>-future (Kafka's logFutureDirName),
//     with its own index id and partition.metadata; the cleaner leaves
//     both logs alone until the end (Kafka's abortAndPauseCleaning). A
//     move to the dir the log is in is a no-op, or cancels a move in
//     progress; a move to another dir than the one in progress cancels
//     it (the future log is deleted) and starts anew.
//  2. Copy: a mover goroutine reads the current log from the future log's
//     end (ReadReplica, up to the log end) 1 MiB at a time and appends
//     it with AppendReplica, so offsets, leader epochs, producer state
//     and transaction markers come along as a follower's would. The
//     future log follows the current log's start (retention and
//     DeleteRecords: it restarts at the new start when it fell below
//     it, DeleteRecordsBefore otherwise); a truncation of the current log
//     (a follower's TruncateTo) makes the copy start over.
//  3. Swap, once a copy step finds less than half a chunk left: the
//     future log is fsynced; then, holding the current log's cleanMu,
//     retMu and appendMu (writers wait, as behind Kafka's
//     leaderIsrUpdateLock; nothing fails), the last appended bytes are
//     copied and, if both logs now have the same start and end, the
//     current log's directory is renamed to <name>.<32 hex>-delete and
//     the future log's to <name> (each rename followed by a directory
//     fsync). The *Partition keeps its identity: under all its locks its
//     location (dir Store, index id, directory), segments, index batch,
//     producer state, epoch cache and transaction offsets become the
//     future log's, and swapSeq is bumped, so a lock-free reader that
//     looked in the old index retries; a reader holding an old segment
//     finishes reading its file (reference counted). The old index data
//     is deleted at once and the -delete directory in the background.
//     Holders of the *Partition (the replica manager, coordinators,
//     requests in flight) never see a change, and the high watermark
//     stays.
//
// Crash recovery (Open): -delete directories are removed as before. A
// future log whose partition has a current log in another dir is opened
// and its move resumed: it is first cut back to the end of its latest
// leader epoch in the current log (and to the current log's end), as
// Kafka's alter-log-dirs thread truncates by epoch. A future log with no
// current log anywhere is a crash between the two renames of step 3 (the
// future log was complete and fsynced): it is renamed to <name> and
// becomes the current log, as Kafka's recoverAbandonedFutureLogs does
// (Kafka 3.9's ZooKeeper mode renames in the other order and would find
// the partition in two dirs). The same current log in two dirs cannot
// come from a swap and fails Open with Kafka's "Duplicate log
// directories" advice; a future log beside a current log in the same dir
// is deleted, and so is a second future log of a partition (in a later
// dir of log.dirs): one move per partition. DeleteTopic deletes future logs before current ones, so a
// crash cannot promote a deleted partition's future log. Close stops the
// movers and keeps the future logs: the moves resume at the next Open.
//
// Locking: the root's createMu serialises CreatePartition, DeleteTopic,
// AlterLogDir and Close; jbod.mu guards the move and preferred-dir maps;
// each dir Store's mu guards its parts and futures. A swap takes the
// current log's cleanMu, retMu, appendMu, then the future log's retMu and
// appendMu, then both epochMu and both mu. It looks at its dir cleaner's
// busy set (cleaner.mu) before taking any of them, as the cleaner takes
// partition locks while it holds cleaner.mu.
//
// Throttle: Options.MoveQuota (the broker's alter-log-dirs quota, the
// dynamic broker config replica.alter.log.dirs.io.max.bytes.per.second,
// set by kafka-reassign-partitions --replica-alter-log-dirs-throttle)
// counts the bytes copied; while it is exceeded the movers copy nothing,
// as Kafka's ReplicaAlterLogDirsThread leaves throttled partitions out of
// its fetch. The swap's final tail copy is not throttled.
//
// A swap that fails after its first rename (the second rename, or the
// directory fsync that orders them) renames the current log back and
// fsyncs that before the log takes writes again; if it cannot, it takes
// the partition offline (ErrPartitionClosed, then
// KAFKA_STORAGE_ERROR for AlterReplicaLogDirs) until the next start,
// which promotes the future log: writes taken after that point would
// have gone to a directory the start deletes.
//
// Not done: offline (failed) log dirs (a failing dir fails its own
// writes with KAFKA_STORAGE_ERROR; Kafka would take the dir offline and
// keep the others), one mover goroutine per move rather than
// num.replica.alter.log.dirs.threads, and the
// replication-offset-checkpoint stays one file in the first dir rather
// than one per dir.
//
// # Roll, retention, DeleteRecords
//
// A new segment starts when the active one would exceed segment.bytes (a
// larger batch goes alone into a segment) or when a batch's timestamp is
// more than segment.ms after the segment's first batch; RunRetention also
// rolls idle active segments older than segment.ms. Retention deletes the
// oldest whole segments while they are entirely below the log start
// offset, or their newest timestamp is older than retention.ms, or
// deleting them still leaves retention.bytes; if that includes the active
// segment, an empty one is rolled first. The log start offset then moves
// to the first remaining segment. DeleteRecordsBefore persists the new
// start first, then deletes whole segments below it. Files are unlinked
// outside all locks.
//
// # Locking
//
// Store.mu guards the partition map; Store.createMu serialises
// CreatePartition and DeleteTopic (which do I/O outside Store.mu). A
// Partition's location (Partition.loc: dir Store, index id, directory)
// is an atomic pointer changed only by a move's swap (see Several log
// dirs). Each
// Partition has retMu (changes of the log start: retention, DeleteRecords,
// close), appendMu (writers: append, roll, producer state, flush
// bookkeeping) and mu (segment list, segment metadata, max timestamp,
// wait channel; never held across I/O), taken in that order. The end
// offset, start offset, config and closed flag are atomics. The fields
// each mutex guards are grouped after it in the struct definitions.
// epochMu (the leader-epoch cache) is taken after appendMu. hintMu (the
// read hints) is a leaf: held for a few field copies, never across I/O
// or another lock.
//
// # Replication
//
// What package replica needs from a log (replication.go), after Kafka's
// UnifiedLog and LeaderEpochFileCache:
//
//   - The leader-epoch cache: for each leader epoch the first offset
//     written in it, kept in leader-epoch-checkpoint (written with
//     writeFileAtomic whenever an epoch is added or truncated away). The
//     append path compares the batch's partition leader epoch with an
//     atomic copy of the latest one (no lock, no allocation) and only a
//     new epoch takes epochMu and rewrites the file. The file is read on
//     first use; when it is missing or damaged the cache is rebuilt from
//     the batch headers of the segments (the segments are the truth), and
//     entries at or past the log end are dropped (a crash cut the tail).
//     EndOffsetForEpoch answers OffsetForLeaderEpoch as Kafka's
//     endOffsetFor; AssignEpochStart records a new leader's epoch at the
//     log end offset.
//   - AppendReplica, the follower path: batches fetched from the leader
//     are written as they are (base offset, leader epoch, timestamps and
//     CRC kept; their base offset must be at or past the log end, gaps
//     allowed), indexed like any append, and folded into producer state
//     without the idempotence checks (Kafka's AppendOrigin.REPLICATION).
//   - TruncateTo(offset): removes every batch whose last offset is at or
//     after offset (a batch holding offset goes whole, as
//     LogSegment.truncateTo cuts), under retMu and appendMu: later
//     segments are deleted, the cut segment's file is truncated and
//     becomes the active segment, the 'o', 't' and 'x' entries of the cut
//     batches are deleted in one index batch, the cut segment's metadata
//     is rebuilt from its remaining entries, producer state and the
//     transaction offsets are rebuilt from the index, the cleaner's
//     first dirty offset is lowered to the new end, and the epoch cache
//     loses the epochs starting at or after the new end.
//     TruncateFullyAndStartAt empties the log and restarts it at an
//     offset.
//   - The high watermark: a partition is single-node (HighWatermark is
//     the log end offset, as always) until SetReplicated; then it is set
//     by the replica manager (SetHighWatermark on followers,
//     MaybeIncrementHighWatermark on leaders, both waking long-polling
//     fetches), Read, ReadCommitted and LastStableOffset stop at it, and
//     ReadReplica (followers' fetches) reads to the log end. The replica
//     manager persists it (replication-offset-checkpoint).
//
// # Storage faults (ENOSPC, EIO)
//
// Segments are written through the FS seam (Options.FS) and the index
// through its own Pebble vfs.FS (Options.IndexFS); the broker passes the
// log dir's disk guard (internal/diskguard) as Options.Guard and its
// Pebble wrapper as IndexFS, and tests inject faults into both (the
// segment FS wrapper, and Pebble's vfs/errorfs via internal/faultfs). The
// rules, per write path:
//
//   - Segment write (Append): the write is undone (truncated back, or left
//     invisible and overwritten, see Append and read) and the append
//     fails with ErrStorage, i.e. KAFKA_STORAGE_ERROR, which producers
//     retry. ENOSPC also marks the guard full.
//   - While the guard is full, Append and CreatePartition of a new
//     partition fail with ErrStorage before touching the disk (one atomic
//     load on the produce path), so the space the guard freed (its reserve
//     file, .samsa-reserve in the log dir) is left to the Pebble writes
//     already in flight. The guard clears by itself when twice the
//     reserve is free again (polled every second); appends then continue
//     at the same offset. Nothing acknowledged is touched.
//   - Index commit: the index DB runs without a WAL, so a commit only
//     writes memory and cannot fail on a full or broken disk (a failed
//     WAL write is fatal to a Pebble DB: its commit pipeline stays
//     blocked). What a crash loses of the index is a suffix of its writes,
//     which recovery rebuilds from the segments (see Recovery); a changed
//     index is flushed every IndexFlushInterval (10s) to keep that suffix,
//     and so the re-indexing after a kill -9, short.
//   - Index flush and compaction: Pebble retries a failed flush without
//     end. A failed flush (FlushEnd with an error) makes Append refuse
//     with ErrStorage until a flush succeeds, so unflushed index data
//     cannot pile up to Pebble's write stall; reads are unaffected. While
//     the guard is full, the retries are paced to one a second and their
//     errors logged at most once per 10s (internal/pebblelog). A failed
//     MANIFEST write is fatal in Pebble: the broker logs one line and
//     exits, as Kafka does when its only log dir fails.
//   - Roll: a new segment that cannot be created fails the append with
//     ErrStorage (ENOSPC marks the guard full); the old segment stays
//     active and the next append tries again.
//   - Retention: deleting segments frees space and needs none (unlinks
//     and an index range deletion in memory), so it runs while full.
//   - DeleteRecords: the log start checkpoint is written before anything
//     is deleted; if that write fails the call fails with ErrStorage and
//     nothing changes.
//   - Recovery (Open): an I/O error while truncating a torn tail or
//     reading a segment fails Open with that error, changing nothing;
//     the broker exits with one line and the next start repairs the
//     segment.
//   - Close: the index is flushed so that the next Open finds it
//     complete; if the disk is full or flushes fail, Close gives up on
//     that, logs it, and leaves out the clean-shutdown marker, so the next
//     Open re-indexes from the segments. Nothing is lost either way.
//
// # Log compaction
//
// Partitions with PartitionConfig.Compact (cleanup.policy compact or
// compact,delete) are cleaned by the store's cleaner (cleaner.go,
// compact.go), following Kafka's LogCleaner, Cleaner and
// LogCleanerManager. log.cleaner.threads goroutines each, every
// log.cleaner.backoff.ms when idle, pick the filthiest log:
//
//   - Each compacted partition first rolls an active segment older than
//     segment.ms (the handlers pass min(segment.ms, max.compaction.lag.ms),
//     Kafka's maxSegmentMs), since the active segment is never cleaned.
//   - Cleanable range: from the first dirty offset (the
//     cleaner-offset-checkpoint, or the log start if it is outside the
//     log) to the first uncleanable offset: the active segment's base,
//     the first unstable offset (the last stable offset, see
//     Transactions) and, with min.compaction.lag.ms, the base of the first
//     segment holding a record newer than the lag. Clean bytes are the
//     segments below the first dirty offset, dirty bytes those in the
//     range; the log is eligible when dirty/(clean+dirty) >
//     min.cleanable.dirty.ratio, or when a dirty segment's first batch is
//     older than max.compaction.lag.ms (those go first), or when a
//     tombstone kept for delete.retention.ms is due (see below). The
//     highest ratio wins; one thread per partition at a time.
//   - Offset map (Kafka's SkimpyOffsetMap): key -> latest offset over the
//     dirty range, whole batches, a 128-bit hash per key in a table sized
//     from log.cleaner.dedupe.buffer.size / threads (24 bytes a slot),
//     filled up to log.cleaner.io.buffer.load.factor; when it is full the
//     clean stops at the last whole batch mapped (end offset).
//   - Every closed segment from the first one to the end offset is
//     rewritten, in groups of consecutive segments whose summed sizes fit
//     segment.bytes (Kafka's groupSegmentsBySize; shrunk segments merge at
//     the next cleaning). A record stays if it is at or past the end
//     offset, or is its key's latest (offset >= the map's) and has a value
//     or its tombstone is still retained; records without a key go, as in
//     Kafka. Tombstones follow Kafka 3.1+'s delete horizon (KIP-534,
//     below). Offsets are never changed: gaps are normal, and a read at
//     an offset in a gap returns the next batch (the index lookup seeks
//     forward after a miss).
//   - Batches: one whose records all stay is copied byte for byte; one
//     partly kept is rebuilt from the kept records' bytes (not re-encoded)
//     with its header unchanged except length, record count, max timestamp
//     (CreateTime: the kept records' largest), CRC; compressed batches are
//     decompressed and recompressed in their own codec with pooled
//     codecs. The last offset delta is kept, so the batch's last sequence
//     (and producer state rebuilt from the index) is unchanged. A batch
//     with nothing left is dropped, except the last data batch of a
//     producer in the producer state (kept as an empty header, Kafka's
//     RETAIN_EMPTY, so the producer's sequence survives) and the last
//     batch of a group (kept, empty if need be, so the cleaned segment
//     covers the same offsets). Transactions: see the section of that
//     name (aborted data goes, markers stay, nothing at or past the last
//     stable offset is mapped).
//
// Delete horizon (KIP-534, Kafka's DefaultRecordBatch deleteHorizonMs and
// MemoryRecords.filterTo; the on-disk and wire format is Kafka's):
//
//   - A batch records its horizon in its header: attribute bit 6 (0x40,
//     DELETE_HORIZON_FLAG_MASK) set means baseTimestamp is the delete
//     horizon (Unix ms) rather than the first record's timestamp. The
//     records' timestamp deltas are relative to it (they may be
//     negative), so base + delta, which every client computes, is still
//     each record's timestamp; maxTimestamp is unchanged.
//   - The first cleaning that keeps a tombstone of a batch without a
//     horizon sets it to the cleaning's time + delete.retention.ms: the
//     batch is rebuilt even if all its records stay, the flag and base
//     set, every kept record's timestamp delta re-encoded against the new
//     base (record length adjusted), recompressed in its codec, new CRC.
//     A later rebuild keeps the flag and base.
//   - A tombstone is kept while its batch has no horizon or the cleaning
//     time is before the horizon; at the first cleaning at or after it,
//     the tombstone goes (if it is still its key's latest record; an
//     older one goes at once as before). A delete.retention.ms below 0
//     keeps tombstones and sets no horizon. The cleaner remembers the
//     earliest horizon of the tombstones it kept (tombstoneDue, in
//     memory; a clean that fails keeps the earlier value) and cleans the
//     log then even without dirty records. After a restart that is
//     forgotten until the log is dirty again.
//   - Transaction markers: a marker whose transaction has no data left
//     (Kafka's containsMarkerForEmptyTxn) gets a horizon the same way (the
//     control batch rebuilt: flag, base timestamp, its record's timestamp
//     delta re-encoded, new CRC), is kept and schedules a cleaning like a
//     tombstone until then, and goes at the first cleaning at or after
//     the horizon. So a marker outlives its transaction's data by at
//     least delete.retention.ms whatever its segment's age, as in Kafka.
//   - An empty header kept for a producer (RETAIN_EMPTY) has no horizon
//     (Kafka's writeEmptyHeader).
//
// The swap of a group [base, next) (next: the base of the segment after
// the group), with its crash rules:
//
//  1. The cleaned batches are written to <base>.cleaned, fsynced, and the
//     file gets the newest source segment's mtime. A crash here leaves a
//     .cleaned file: Open deletes it; the old segments are intact.
//  2. Under retMu (retention and DeleteRecords wait; produce and fetch do
//     not), if the group is still in the log unchanged, <base>.cleaned is
//     renamed to <base>-<next>.swap and the directory fsynced. This is the
//     commit point. From here, Open completes the swap: it deletes every
//     <b>.log with base <= b < next, renames the .swap file to
//     <base>.log, and rebuilds the partition's index from the segments.
//  3. Under mu, one Pebble batch deletes the index entries of [base, next)
//     (offset and time keys) and writes the new segment's, and the
//     segment list replaces the group by the new segment; swapSeq is
//     bumped. A read that did its index lookup before and its segment
//     lookup after sees swapSeq change and retries, so an entry is never
//     applied to the other file; a reader already holding an old segment
//     keeps reading its file (still open, reference-counted).
//  4. retMu is released and the index is flushed (it has no WAL); then,
//     under retMu again, the old segments other than <base>.log are
//     deleted and <base>-<next>.swap is renamed over <base>.log (atomic).
//     A crash before the rename still finds the .swap file (step 2
//     rules); after it, the flushed index matches. If the flush fails
//     (full or failing disk) nothing waits: the swap stays pending (the
//     .swap and old files stay, reads use the new segment), the cleaning
//     fails, and the next cleaning of the partition first completes it
//     (or the next start does, by the step 2 rules). Retention deleting
//     the pending new segment deletes the .swap and old files with it.
//     flushIndex never leaves more than one goroutine in Pebble's Flush:
//     a caller that gave up leaves it running and later callers wait for
//     it (then flush again, since it may predate their writes).
//
// So a crash leaves either the old segments or the new one visible, never
// neither and never both. Finally the checkpoint is set to the end offset
// (written atomically); a lost checkpoint only makes the next cleaning
// redo work. Cleaning never holds appendMu or mu across I/O: produce and
// fetch wait at most for the in-memory swap of step 3.
//
// # Transactions
//
// The log side of Kafka's transactions (KIP-98), following Kafka's
// ProducerStateManager, ProducerAppendInfo, TransactionIndex and the
// Cleaner's CleanedTransactionMetadata (txn.go, producers.go):
//
//   - A transaction of producer P starts at P's first transactional data
//     batch (attribute bit 4) while P has none open (its first offset is
//     remembered) and ends with a control batch (attribute bits 4 and 5)
//     from P. While P's transaction is open, a non-transactional batch
//     from P is refused with INVALID_TXN_STATE.
//   - Markers: Kafka's EndTransactionMarker, one record in a control
//     batch: key version int16 (0) + type int16 (0 ABORT, 1 COMMIT),
//     value version int16 (0) + coordinator epoch int32; base sequence
//     -1, uncompressed, 78 bytes (ParseTxnMarker decodes it; a longer key
//     or value of a later version is read by its prefix). They are
//     written by Partition.AppendMarker (the coordinator's
//     WriteTxnMarkers), or by Append when given as bytes; clients cannot
//     send control batches (INVALID_RECORD). A marker is refused with
//     INVALID_PRODUCER_EPOCH when its epoch is below P's (transaction
//     version 2, KIP-890: also equal to it, unless no transaction is open,
//     which is a retried marker, written again), and with
//     TRANSACTION_COORDINATOR_FENCED when its coordinator epoch is below
//     the one of P's last marker. A marker for a producer with nothing
//     open is written and changes only its epochs. The marker's epoch
//     becomes P's (a new epoch resets the sequence, as for data).
//   - Last stable offset (LSO): the first offset of the earliest open
//     transaction, else the high watermark. It is an atomic next to the
//     end offset: a batch opening a transaction lowers it before its
//     offset is published, a marker raises it after its own is, and
//     readers load the end offset first, so no reader ever sees open
//     data below its LSO. Non-transactional appends and reads pay one
//     branch and one atomic load.
//   - Fetch: last_stable_offset is the LSO for both isolation levels;
//     read_committed returns only whole batches starting below the LSO
//     (nothing when the fetch offset is at or past it) and the aborted
//     transactions (producer id, first offset) whose marker is at or
//     after the fetch offset and whose first offset is below the end of
//     the returned batches (Kafka's collectAbortedTxns, with its stop
//     rule: the search ends at the first entry whose LSO reaches that
//     end); read_uncommitted gets null there. ListOffsets latest answers
//     the LSO for read_committed, and timestamp lookups (also -3) only
//     find offsets below it, as Kafka's fetchOffsetForTimestamp.
//   - Aborted-transaction index ('x'): one entry per ABORT marker that
//     ends a transaction with data, keyed by the marker's offset, holding
//     Kafka's .txnindex fields (producer id, first offset, last offset =
//     the key, LSO right after the marker: the earliest other open
//     transaction's first offset, else marker+1). It is committed in the
//     same index batch as the marker's own entry. Keyed by offset, it
//     belongs to the marker's segment like Kafka's per-segment .txnindex:
//     retention, DeleteRecords and topic deletion drop it with the
//     segment's other keys, and a recovery that drops or re-indexes a
//     segment drops or rewrites its entries.
//   - Recovery and rebuilds: producer state, open transactions included,
//     is replayed from the index entries in offset order (control
//     entries carry the marker type and coordinator epoch); batches
//     indexed from the segments (a torn tail, an unclean shutdown's last
//     segment, a deleted or inconsistent index) are replayed as they are
//     indexed and write the 'x' entries of the ABORT markers among them.
//     If a middle segment had to be re-indexed (out of offset order),
//     producer state is replayed from the whole index afterwards and
//     every 'x' entry rewritten (same values). So open transactions
//     survive restarts and kill -9, and the LSO after Open is the one
//     before. Producers with an open transaction are never expired.
//   - Compaction (Kafka's Cleaner with CleanedTransactionMetadata): the
//     cleaner never maps at or past the LSO (firstUnstableOffset; the
//     bound may fall inside a segment). Data batches of aborted
//     transactions (producer P, offsets between the first offset and the
//     ABORT marker of an 'x' entry; all entries are read, since a group
//     rewrites whole segments) are neither mapped nor kept, except as an
//     empty header when the batch is P's last or the group's last
//     (RETAIN_EMPTY). Walking the log from its first segment, a marker
//     whose transaction showed no data batch in this cleaning (COMMIT:
//     no committed batch of P since P's last marker; ABORT: no aborted
//     one; or an empty control batch) may go: it gets a delete horizon
//     (see "Delete horizon") and goes at the first cleaning at or after
//     it; the group's last batch stays as an empty control batch. The 'x' entries of
//     dropped markers are deleted in the swap's index batch; the others
//     stay (a consumer may be told of an aborted transaction with no
//     data left, which it skips harmlessly, but never of one whose
//     marker is gone, which would make it skip P's later records). After
//     a crash completes a swap, the rebuild derives 'x' entries only for
//     aborted transactions with data left, equivalent for consumers.
//
// # Not done here
//
// The transaction coordinator itself is package txn (the log takes its
// markers through AppendMarker); replication's leadership, ISR and high
// watermark advancement are package replica (the log keeps the leader
// epoch cache, the follower append path and truncation; see
// "Replication").
package logstore
