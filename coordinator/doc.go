// Package coordinator is Samsa's coordinator runtime: the mechanism by
// which a coordinator keeps its state as records in an internal compacted
// topic (__consumer_offsets for the group coordinator; next
// __transaction_state) and rebuilds it from them, after Kafka 4.x's
// CoordinatorRuntime (org.apache.kafka.coordinator.common.runtime). It
// knows nothing of groups: keys and values are opaque bytes that the
// coordinator built with kmsg.
//
// # State machine
//
// There is one StateMachine per partition of the internal topic (Kafka's
// CoordinatorShard). A partition of the runtime is in one of three
// states:
//
//		unloaded --Load--> loading --replay done--> loaded --Unload--> unloaded
//
//	  - Load (at start for every partition whose log exists — on a single
//	    node this broker leads them all — or lazily on the first write to a
//	    partition that had no log) reads the partition's log from its log
//	    start offset to its end, offsets.load.buffer.size bytes per read,
//	    and hands every record of every data batch to StateMachine.Replay
//	    in offset order. Control batches are skipped (a hook for
//	    transactional markers once transactions exist). Compressed batches
//	    are decompressed through logstore.Recompress. Then LoadComplete is
//	    called and the partition is loaded: writes are accepted.
//	  - Write appends one record batch holding the records to the log and,
//	    only if the append succeeded, calls apply, still under the
//	    partition's write lock, so that the in-memory state is applied in
//	    log order and never holds anything the log does not. A failed append
//	    leaves the state as it was and returns the logstore error (its
//	    KAFKA_STORAGE_ERROR is the coordinator's to map).
//	  - Unload (when the partition goes away or the broker closes) calls
//	    StateMachine.Unload and refuses later writes with ErrNotLoaded.
//
// # Leadership (cluster mode, Options.Managed)
//
// In a ZooKeeper cluster a broker serves only the internal partitions it
// leads, after Kafka's GroupCoordinator.onElection / onResignation and
// TransactionStateManager.loadTransactionsForTxnTopicPartition /
// removeTransactionsForTxnTopicPartition:
//
//	unloaded --Elect(epoch)--> loading --replay done--> loaded
//	loaded --Resign(epoch)--> unloaded
//	loaded --Elect(newer epoch)--> loaded (only the epoch moves on)
//
// In detail:
//
//   - Elect and Resign come from the replica manager's leadership
//     listener (LeaderAndIsr, StopReplica) and are queued; one goroutine
//     per runtime runs them in order (Kafka's single loader thread), so
//     LeaderAndIsr never waits for a load. An event older than the
//     partition's epoch is ignored. Status answers
//     COORDINATOR_LOAD_IN_PROGRESS from the Elect call until the replay
//     is done and NOT_COORDINATOR for a partition that is not loaded;
//     writes to such a partition fail with ErrNotLoaded instead of
//     loading it. After a load Options.OnLoaded runs (timers of loaded
//     groups, completing prepared transactions).
//   - The replay reads to the log end, not the high watermark: a new
//     leader's high watermark may lag what its predecessor acknowledged
//     (Kafka's loaders read with FetchIsolation.LOG_END).
//   - Every append goes through Options.Append (the broker's leaderAppender):
//     appended only while the broker leads the partition in the epoch it
//     was loaded in, the batch stamped with that leader epoch, and the
//     write returns once the high watermark passed it (acks=-1,
//     offsets.commit.timeout.ms), so an acknowledged commit is on every
//     in-sync replica and survives the leader's death. apply runs only
//     then. A write whose append succeeded but whose wait failed is not
//     applied in memory although it is in the leader's log (as with
//     Kafka's GroupMetadataManager): the caller answers an error and the
//     client retries; a later load replays it if it was replicated.
//   - The state machine's Unload runs outside the partition's mu (Resign,
//     Unload and Close alike), so that it may take coordinator locks that
//     writers hold while they wait for that mu.
//
// Replay must be idempotent in the sense compaction needs: the state after
// replaying a log depends only on the last record of each key, and a
// record repeated later with the same value changes nothing. Tombstones
// (a nil value) delete the key's state.
//
// # Record format
//
// Each Write becomes one magic-2 record batch as Kafka's coordinator
// runtime writes it (MemoryRecords.withRecords): producer id -1, epoch
// -1, sequence -1, not transactional, CreateTime with every record's
// timestamp the write time (timestamp deltas 0), offset deltas 0..n-1, no
// headers, keys and values as given (a nil value is a null, i.e. a
// tombstone), CRC-32C over attributes..end, then compressed in
// Options.Compression (offsets.topic.compression.codec: 0 none, 1 gzip, 2
// snappy, 3 lz4, 4 zstd) by logstore.Recompress, Kafka's LogValidator
// rebuild. A write is one batch, so it is in the log whole or not at all,
// as CoordinatorRuntime's atomic writes are; a write whose batch would be
// larger than Options.MaxBatchBytes is refused with ErrRecordTooLarge
// (Kafka's RecordTooLargeException) before anything is appended.
//
// # Locking
//
// Runtime.mu guards the partition map and is held only for map lookups.
// Each partition has its own mu, held across a load, and across each
// Write from building the batch to the end of apply: writes of one
// partition are serialized (one mutex per partition, no loop goroutine),
// writes of different partitions run in parallel. The scratch buffers a
// partition reuses for its batches are guarded by that mu. Callers may
// hold their own locks when they call Write (the group coordinator holds
// a group's mu); the runtime never calls back into a coordinator except
// through apply, Replay, LoadComplete and Unload, all under the
// partition's mu, so the lock order is coordinator locks, then the
// partition's mu.
package coordinator
