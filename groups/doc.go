// Package groups is Samsa's group coordinator: Kafka's classic group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), committed
// offsets (OffsetCommit, OffsetFetch, OffsetDelete) and group
// administration (DescribeGroups, ListGroups, DeleteGroups), with groups
// and offsets kept, as Kafka keeps them, as records in __consumer_offsets
// through the coordinator runtime (package coordinator).
//
// api.go is the contract with the request handlers; error codes are
// Kafka's, so handlers copy them into responses.
//
// # Semantics
//
// The rules follow Apache Kafka 3.x's GroupCoordinator and GroupMetadata
// (core/src/main/scala/kafka/coordinator/group), checked against the
// ClassicGroup code of Kafka 4's group-coordinator module, down to the
// order of the checks, so that a request with several problems gets the
// error Kafka would give. In short:
//
//   - States: Empty -> PreparingRebalance -> CompletingRebalance -> Stable,
//     back to PreparingRebalance on any membership change, to Empty when a
//     join phase ends without members, and Dead once deleted (Dead groups
//     are forgotten at once: every lookup of them finds nothing).
//   - A join phase from Empty waits group.initial.rebalance.delay.ms,
//     extended by one more delay at a time while new members keep
//     arriving, within the rebalance timeout (InitialDelayedJoin).
//     Otherwise it ends as soon as every member and every member id
//     handed out with MEMBER_ID_REQUIRED has joined, or at the largest
//     rebalance timeout of the members; dynamic members that did not
//     rejoin are then removed, static ones are kept (their session
//     timeout decides). Members that do not send SyncGroup within the
//     rebalance timeout after the join phase are removed (DelayedSync).
//   - Session timeouts: a member is removed when nothing was heard from it
//     for its session timeout, except while it has a JoinGroup or
//     SyncGroup parked (the rebalance machinery bounds those). A member
//     joining for the first time expires after 5 minutes even while
//     parked (Kafka's NewMemberJoinTimeoutMs). Heartbeats, accepted
//     SyncGroups, commits of members, and JoinGroups answered from the
//     current generation restart the timer (Kafka does not count the last
//     kind; doing so is harmless and what the brief asks).
//   - Static members (group.instance.id) rejoining with an empty member id
//     replace their old id, which is fenced (FENCED_INSTANCE_ID); in a
//     Stable group whose selected protocol would not change they get the
//     current generation back without a rebalance.
//   - Simple commits (generation < 0, no member id) are accepted only while
//     the group is Empty, and create an Empty group without protocol type
//     if there is none.
//   - Offsets expire after offsets.retention.minutes: all of them once a
//     group with a protocol type has been Empty that long; by commit time
//     for groups without protocol type; by commit time for topics no
//     member subscribes to in a Stable consumer group. A group that is
//     Empty with no offsets after any removal of offsets is deleted.
//
// Deliberate differences, all invisible to well-behaved clients: a
// JoinGroup or SyncGroup that Kafka would leave unanswered forever (a
// member removed, or a second request from the same member superseding a
// parked one) is answered (UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS);
// Kafka's unordered choices (new leader, protocol vote ties, member list
// order) are made in join order; a failed append answers
// COORDINATOR_NOT_AVAILABLE, as Kafka answers a failed append; and a
// static member replaced before it sent SyncGroup owes that SyncGroup
// under its new id rather than its old one.
//
// # Blocking and timers
//
// Join and Sync park the caller on a per-member channel (buffer of one,
// so answering never blocks) and return when it is answered, when their
// context ends or when Close is called; the last two answer
// COORDINATOR_NOT_AVAILABLE. A parked member stays parked in the group
// when its caller goes away, as in Kafka, where the response would be
// written to a closed connection.
//
// No goroutine runs per group or member and nothing polls. Each member has
// one time.Timer for its session (created once, then Reset; a firing that
// finds the deadline moved re-arms itself), each member id handed out with
// MEMBER_ID_REQUIRED one AfterFunc timer, and a group at most one join
// timer and one sync timer. A timer callback takes the group's lock and
// checks that it is still current (the member still in the group, the
// group's join/sync op still the one that armed it). Offset expiration is
// one coordinator-wide timer every offsets.retention.check.interval.ms.
//
// # __consumer_offsets
//
// A group lives in partition PartitionFor(group) = Utils.abs(Java
// String.hashCode(group)) % the topic's partition count
// (offsets.topic.num.partitions, default 50), Kafka's placement. Each
// partition is one coordinator.StateMachine (shard, records.go); the
// runtime serializes its writes. The records are Kafka 4.x's
// (GroupCoordinatorRecordHelpers), built and read with kmsg:
//
//	key OffsetCommitKey v1 (group, topic, partition)
//	  value OffsetCommitValue v3 (offset, leader epoch, metadata,
//	  commit timestamp), or null: the offset was deleted
//	key GroupMetadataKey v2 (group)
//	  value GroupMetadataValue v3 (protocol type, generation, protocol,
//	  leader, state timestamp, members with client id/host, timeouts,
//	  instance id, the selected protocol's subscription and the
//	  assignment), or null: the group was deleted
//
// An acknowledged OffsetCommit is an acknowledged append: the records are
// appended (one batch per request), and only then applied in memory.
// Appends follow the topic's flush settings as Kafka's do (no fsync per
// commit by default): an acknowledged commit survives the broker process
// dying (kill -9), and a power loss as far as the OS had written it back.
// Group metadata is appended when the leader's assignment arrives (before
// anyone receives it, and the group becomes Stable), when a join phase
// leaves the group Empty, and when a static member is replaced in a Stable
// group: the points at which Kafka appends a GroupMetadata record.
// DeleteGroups appends a tombstone for every offset and the group;
// OffsetDelete, topic deletion and offset expiration (every
// offsets.retention.check.interval.ms) append offset tombstones, plus the
// group's tombstone when that leaves it Empty without offsets. Like
// Kafka's record, a member's stored metadata is only the selected
// protocol's: after a restart a member supports just that protocol.
//
// Loading (Open, for every partition whose log exists; a partition
// without log is loaded, empty, on its first write) replays the log
// offsets.load.buffer.size bytes at a time; the last record per key wins
// and tombstones delete. A group record makes the group (Stable if it has
// members, else Empty, as Kafka's loader does); offsets without a group
// record belong to an Empty group without protocol type. Loaded members
// get a fresh session timeout: those that come back and heartbeat keep
// their generation and assignment, the others expire and trigger a
// rebalance. A group over group.max.size after loading rebalances at
// once.
//
// # Cluster mode
//
// With zookeeper.connect (Options.Managed) nothing is loaded at Open:
// OnElection loads a partition's groups when this broker becomes leader
// of it (COORDINATOR_LOAD_IN_PROGRESS meanwhile), OnResignation unloads
// them when it stops (parked JoinGroup/SyncGroup answered
// NOT_COORDINATOR, as Kafka's onGroupUnloaded; every later request of
// the partition's groups NOT_COORDINATOR, checked in lockGroup before and
// after taking the group's lock so that no group outlives an unload).
// Writes go through the partition's leadership with acks=-1
// (Options.Append, see package coordinator); a lost leadership answers
// NOT_COORDINATOR, too few in-sync replicas and timeouts
// COORDINATOR_NOT_AVAILABLE (Kafka answers REQUEST_TIMED_OUT for
// commits and REBALANCE_IN_PROGRESS for group writes; both retriable).
// The Pebble migration is a single node's and skipped.
//
// # Migration from the Pebble store
//
// Releases before this one kept groups in a Pebble database at
// <logdir>/.samsa-groups (layout in legacy.go). Open migrates it after
// loading the log: every group and offset (with its commit timestamp) is
// appended to its partition with fsync, then the directory is renamed to
// .samsa-groups.migrated-delete and removed. A crash before the rename
// migrates again at the next start (the same keys and values once more:
// harmless for replay and compaction); after it, only the removal is
// redone.
//
// # Storage faults
//
// A failed append (EIO, ENOSPC, the log dir's disk guard reporting a full
// disk: logstore.ErrStorage, KAFKA_STORAGE_ERROR) is answered as Kafka's
// GroupMetadataManager maps a storage error from its appends:
// NOT_COORDINATOR for OffsetCommit, SyncGroup (the leader's assignment),
// a static member's JoinGroup, DeleteGroups and OffsetDelete; any other
// append error is COORDINATOR_NOT_AVAILABLE (storeErrCode). Clients
// rediscover the coordinator and retry. Nothing is applied in memory
// unless it was appended, so OffsetFetch and DescribeGroups, served from
// memory, keep answering with the last acknowledged state.
//
// # Locking
//
// Coordinator.mu (an RWMutex) guards the group map and the expiration
// timer, and is held only for map operations. Each group has its own mu,
// which guards all of the group's state, its members, and the appending
// of its records: every write of a group's records happens under that
// group's mu, so that writes of one group are ordered and a deleted group
// cannot be resurrected by a late write. The runtime's per-partition mutex
// is taken inside a group's mu (groups of one partition append one at a
// time; partitions in parallel). The order is group.mu, then the
// runtime's partition mu, then Coordinator.mu; nothing takes a group's mu
// while holding Coordinator.mu or a partition's mu, except the runtime's
// Unload, which runs without any group locked. Close sets the closed flag
// under Coordinator.mu, then takes every group's mu once: after that,
// everyone who takes a group's mu sees the flag and writes nothing, so the
// runtime can be closed.
package groups
