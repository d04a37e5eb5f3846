// Package groups is Samsa's group coordinator: Kafka's classic group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), committed
// offsets (OffsetCommit, OffsetFetch, OffsetDelete) and group
// administration (DescribeGroups, ListGroups, DeleteGroups), with groups
// and offsets kept in a Pebble database instead of __consumer_offsets.
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
// order) are made in join order; a failed Pebble write answers
// COORDINATOR_NOT_AVAILABLE, Kafka's answer to a failed append; and a
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
// # Pebble key layout
//
// One Pebble database at Options.Dir. Integers are big-endian.
//
//	m/schema_version                  "1"; another value makes Open fail
//	                                  rather than misread the store
//	'g' group                         the group's metadata, a JSON document:
//	    {"version":1,"protocol_type":"consumer","generation":3,
//	     "protocol":"range","leader":"<member id>",
//	     "state_timestamp_ms":1700000000000,
//	     "members":[{"member_id":"c-<uuid>","instance_id":null,
//	       "client_id":"c","client_host":"/10.0.0.1",
//	       "rebalance_timeout_ms":300000,"session_timeout_ms":45000,
//	       "protocols":[{"name":"range","metadata":"<base64>"}],
//	       "assignment":"<base64>"}]}
//	'o' u16(len) group u16(len) topic i32(partition)
//	                                  a committed offset: version(1)=1
//	                                  offset(8) leaderEpoch(4)
//	                                  commitTimestampMs(8) metadataLen(4)
//	                                  metadata
//
// Offsets are written with pebble.Sync before Commit returns, so an
// acknowledged commit survives a crash. Group metadata is written (synced)
// when the leader's assignment arrives (before anyone receives it, and the
// group becomes Stable), when a join phase leaves the group Empty, and
// when a static member is replaced in a Stable group: the same points at
// which Kafka appends a GroupMetadata record. DeleteGroups, OffsetDelete
// and topic deletion delete keys with a synced batch; expiration does not
// sync (a lost deletion just expires again). Unlike Kafka's record, which
// keeps only the selected protocol's metadata, a member's full protocol
// list is stored, so that it behaves after a restart exactly as before.
//
// Open loads every group (Stable if it has members, else Empty, as Kafka's
// loader does) and every offset; offsets without a group document belong
// to an Empty group without protocol type. Loaded members get a fresh
// session timeout: those that come back and heartbeat keep their
// generation and assignment, the others expire and trigger a rebalance.
// A group over group.max.size after loading rebalances at once.
//
// # Storage faults
//
// The store writes through internal/pebbledb (see that package): while
// the log dir's disk guard (Options.Guard) reports a full disk, writes
// fail before touching Pebble; a write that fails anyway (EIO, ENOSPC)
// answers instead of panicking, and later writes are refused until the
// store has reopened itself. A refused or failed write is a storage
// error, which requests see as Kafka's GroupMetadataManager maps
// KAFKA_STORAGE_ERROR from its log appends: NOT_COORDINATOR for
// OffsetCommit, SyncGroup (the leader's assignment), a static member's
// JoinGroup, DeleteGroups and OffsetDelete; any other store error is
// COORDINATOR_NOT_AVAILABLE (storeErrCode). Clients rediscover the
// coordinator and retry. Nothing is applied in memory unless it was
// written, so OffsetFetch and DescribeGroups, served from memory, keep
// answering with the last acknowledged state. A commit whose write failed
// may still be in the reopened store (its WAL write may have happened):
// after a restart OffsetFetch can then return that newer offset, which the
// member did send.
//
// # Locking
//
// Coordinator.mu (an RWMutex) guards the group map and the expiration
// timer, and is held only for map operations. Each group has its own mu,
// which guards all of the group's state, its members, and its Pebble
// keys: every write of a group's keys (including the synced ones) happens
// under that group's mu and no other lock, so that writes of one group
// are ordered and a deleted group cannot be resurrected by a late write,
// while different groups write in parallel. The order is group.mu, then
// Coordinator.mu (when a group is deleted); nothing takes a group's mu
// while holding Coordinator.mu. Close sets the closed flag under
// Coordinator.mu, then takes every group's mu once: after that, everyone
// who takes a group's mu sees the flag and leaves Pebble alone, so Pebble
// can be closed.
package groups
