// Package replica is Samsa's replica manager: what a broker does, as
// leader or follower, with the partitions the controller assigns it. It
// follows Kafka 3.9's ReplicaManager, cluster.Partition,
// AbstractFetcherThread / ReplicaFetcherThread and
// AlterPartitionManager, and speaks only Kafka's inter-broker protocol at
// the versions Kafka 3.9 uses with inter.broker.protocol.version=3.9
// (LeaderAndIsr v7 and StopReplica v4 in; Fetch v17, OffsetForLeaderEpoch
// v4, ListOffsets v9 and AlterPartition v3 out), so Samsa and Kafka
// brokers can replicate from each other.
//
// # Partition state machine
//
//	from            event                                          to
//	none|follower   LeaderAndIsr, leader = this broker, epoch > current  leader
//	none|leader     LeaderAndIsr, leader = another, epoch > current      follower
//	leader|follower StopReplica with delete, epoch >= current or -1/-2   none
//	follower        StopReplica without delete                           follower, not fetching
//	any             LeaderAndIsr, epoch <= current                       unchanged
//
// "none" is also where every partition of a single node stays: no
// LeaderAndIsr ever names it, so Manager.Get answers nil and the
// handlers serve it as today (leader, ISR = itself, high watermark = log
// end offset, no lock or lookup beyond one atomic load). In cluster mode
// (zookeeper.connect, Config.ClusterMode) a partition in "none" is not
// served: NOT_LEADER_OR_FOLLOWER. Offline (a log dir failure) is not
// modelled yet.
//
// Checks on the way in, as Kafka's ReplicaManager.becomeLeaderOrFollower
// and stopReplicas make them: a request from an older controller epoch is
// refused whole (STALE_CONTROLLER_EPOCH), one for an older broker epoch
// too (STALE_BROKER_EPOCH, once SetBrokerEpoch gave one); a partition
// whose leader epoch is not above the current one is answered
// STALE_CONTROLLER_EPOCH and left alone; one whose replicas do not
// include this broker UNKNOWN_TOPIC_OR_PARTITION. StopReplica with a
// leader epoch below the current one is FENCED_LEADER_EPOCH.
//
// Leader: on becoming leader the leader epoch is recorded in the log's
// leader-epoch cache at the log end offset (Partition.makeLeader), every
// follower's log end offset is unknown and ISR members count as caught
// up now. A follower's Fetch (replica id >= 0, Fetch v15+'s ReplicaState)
// reads up to the log end offset and records the follower's log end
// offset = its fetch offset; the high watermark is the smallest log end
// offset of the maximal ISR (the ISR, or the proposed one while an
// AlterPartition is in flight when it is larger) and only grows.
// Consumers read below it (logstore's replicated mode). A fetch with a
// last fetched epoch that ends earlier on the leader gets a KIP-320
// diverging epoch instead of records. acks=all produces are refused
// before the append (NOT_ENOUGH_REPLICAS) when the ISR is smaller than
// min.insync.replicas capped at the replication factor, and answered
// once the high watermark passes the batch (NOT_ENOUGH_REPLICAS_AFTER_APPEND
// if the ISR shrank below the minimum meanwhile, REQUEST_TIMED_OUT at the
// request's timeout, NOT_LEADER_OR_FOLLOWER if leadership moved).
//
// ISR: every replica.lag.time.max.ms / 2 the leader drops followers whose
// log end offset differs from its own and that have not been caught up
// for replica.lag.time.max.ms (caught up: fetched at or past the leader's
// log end, or past the leader's log end of its previous fetch); a
// follower whose log end offset reaches the high watermark and the start
// of this leader's epoch is added. A change is proposed to the controller
// with AlterPartition (leader epoch and the partition epoch from
// LeaderAndIsr's ZooKeeper version, members with their broker epochs),
// one in flight per partition, retried every replica.fetch.backoff.ms
// while the controller is unreachable, and applied only from the
// controller's answer (its ISR and partition epoch), never locally.
//
// Leader recovery state (KIP-704): a follower keeps the state
// LeaderAndIsr (v6+) gives it; a leader is RECOVERED from the moment it
// becomes leader, even when the controller elected it uncleanly and sent
// RECOVERING (Kafka 3.9's Partition.makeLeader: there is no recovery to
// do, the log is just truncated by the followers), and every
// AlterPartition it sends carries its state, which is how the
// controller's znode goes back to RECOVERED. Fetches and ISR changes are
// not restricted while RECOVERING, as in Kafka 3.9. An AlterPartition
// answer with a state other than 0 or 1 is treated as
// UNKNOWN_SERVER_ERROR and sent again (AlterPartitionManager).
//
// Follower: a fetcher goroutine per (leader, hash(partition) modulo
// num.replica.fetchers) first truncates every partition new to it: it
// sends OffsetForLeaderEpoch with its latest epoch and cuts its log at
// the smaller of the leader's end offset for that epoch and its own
// (Kafka's getOffsetTruncationState; again if the leader answered an
// epoch the follower does not know; to the high watermark when it has no
// epochs). Then it fetches (replica.fetch.max.bytes per partition,
// replica.fetch.min.bytes, replica.fetch.wait.max.ms, the current leader
// epoch and the last fetched epoch), appends the leader's batches as
// they are (offsets, leader epochs, timestamps, producer state) and
// takes high watermark = min(leader's, own log end). OFFSET_OUT_OF_RANGE
// truncates to the leader's log end or restarts the log at the leader's
// log start. Epoch and leadership errors pause the partition for
// replica.fetch.backoff.ms until the controller's next LeaderAndIsr.
//
// # Fetch from the closest replica (KIP-392)
//
// replica.selector.class picks the replica a consumer reads from (Kafka's
// ReplicaSelector, selector.go): unset (Kafka's default) or
// org.apache.kafka.common.replica.LeaderSelector keep consumers on the
// leader; org.apache.kafka.common.replica.RackAwareReplicaSelector lets
// the leader answer a consumer's Fetch v11+ that carries rack_id
// (client.rack, franz-go's kgo.Rack) with preferred_read_replica = a
// follower in that rack, as Kafka's ReplicaManager.findPreferredReadReplica
// does: only the leader names one, only for consumers, never when the
// client's rack is empty or the leader is in it; candidates are the
// followers in the ISR whose log end offset (from their last fetch) is at
// or past the fetch offset, whose log start offset (the LogStartOffset
// their last Fetch carried; unknown passes) is at or below it, and whose
// broker is live in the metadata
// cache with that broker.rack; the most caught-up wins (largest log end
// offset, then most recently caught up, then highest id:
// ReplicaView.comparator). Such an answer carries no records and the
// leader's high watermark, last stable offset and log start offset, and
// goes out at once (no min_bytes wait).
//
// Any replica serves consumer fetches v11+ (Kafka's
// FetchParams.fetchOnlyLeader is false once a fetch carries client
// metadata; handlers.fetchPartition with Partition.CheckReplica), whatever
// replica.selector.class says: a follower reads its log up to its own
// high watermark (min of the leader's, as of its last fetch, and its log
// end), answers nothing between that and its log end offset and
// OFFSET_OUT_OF_RANGE past its log end offset, which makes the Java
// client and franz-go go back to the leader. Consumer fetches v4-v10 to a
// follower are NOT_LEADER_OR_FOLLOWER, as in Kafka. A follower learns
// the leader's high watermark one fetch later, so records reach
// consumers of a follower up to replica.fetch.wait.max.ms after
// consumers of the leader.
//
// # Reassignment and replication metrics
//
// LeaderAndIsr's AddingReplicas and RemovingReplicas are kept: while
// either is non-empty the partition is being reassigned (Kafka's
// OngoingReassignmentState), which Manager.ReassigningPartitions counts
// over led partitions (ReplicaManager ReassigningPartitions). A
// follower's fetcher counts the record bytes it appends as
// ReplicationBytesInPerSec, and also ReassignmentBytesInPerSec when this
// broker is one of the adding replicas (Deps.Meters); the leader's Fetch
// handler counts what it sends followers as ReplicationBytesOutPerSec,
// and ReassignmentBytesOutPerSec for adding replicas
// (Partition.IsAddingReplica).
//
// # Log dirs
//
// A broker's log.dirs are independent log dirs (JBOD; logstore/doc.go,
// "Several log dirs"): a replica's log lives in one of them, chosen when
// it is created (the fewest logs, or the dir an earlier
// AlterReplicaLogDirs named). DescribeLogDirs lists every dir on every
// broker, with each of the broker's own partition logs, its size and
// Kafka's offset lag (high watermark - log end offset, at least 0: 0
// outside future logs; for a future log, the current log's end minus
// its own). AlterReplicaLogDirs moves a replica to another of its
// broker's dirs while it keeps replicating (a leader keeps serving, a
// follower keeps fetching into the same *logstore.Partition, which takes
// the future log's place at the swap, so the replica manager sees no
// change): NONE when the move started or the replica is already there,
// LOG_DIR_NOT_FOUND for a path that is not one of log.dirs,
// REPLICA_NOT_AVAILABLE when the broker holds no replica (the dir is
// remembered for when LeaderAndIsr creates it), INVALID_TOPIC_EXCEPTION
// when the future log's directory name would pass 255 bytes. The high
// watermark checkpoint (replication-offset-checkpoint) is one file in
// the first dir for every partition, where Kafka keeps one per dir.
//
// # Replication throttles
//
// Kafka's ReplicationQuotaManager (KIP-73), one per side (quota.go): a
// byte rate, leader/follower.replication.throttled.rate from the dynamic
// broker configs (/config/brokers/<id>, else <default>; unlimited when
// unset), and the throttled partitions, from each topic's
// leader/follower.replication.throttled.replicas ("*" or partition:broker
// pairs; this broker's pairs count). The broker sets both from
// ZooKeeper's config change notifications. Follower side: a fetcher
// leaves out a throttled partition that is not in sync (lag to the
// leader's high watermark above 0) while the follower quota is exceeded,
// and records the bytes it fetches for throttled partitions. Leader side:
// a follower outside the ISR fetching a throttled partition gets no
// records while the leader quota is exceeded; the bytes read for
// throttled partitions are recorded. The rate is measured over
// replication.quota.window.num samples of
// replication.quota.window.size.seconds, as Kafka's Rate: a quiet quota
// admits about (num - 1) x size x rate bytes at once.
//
// # Locks
//
//   - Manager.mu guards the partition map, topic ids, fetchers and the
//     controller epoch. LeaderAndIsr holds it while creating partitions,
//     then applies each partition under that partition's lock alone.
//   - Partition.mu is Kafka's leaderIsrUpdateLock: written by
//     LeaderAndIsr, StopReplica and AlterPartition answers; read-held by
//     leader appends (the append happens under it, so a newer epoch
//     fences writes at once), follower fetches on the leader, and the
//     fetcher's truncations and appends (which re-check role and epoch
//     under it, so a fetch that raced a leadership change is dropped).
//   - Partition.stateMu guards the followers' fetch state, taken under
//     Partition.mu. Order: Manager.mu, Partition.mu, Partition.stateMu,
//     then logstore's own locks.
//   - fetcher.mu guards a fetcher's partition set and is held while a
//     response is applied to a log (Kafka's partitionMapLock), so that
//     removing a partition from its fetcher waits for that and nothing is
//     written afterwards. It is taken before Partition.mu, never while
//     holding a Partition.mu for writing.
//
// # Persistence
//
//   - replication-offset-checkpoint in the log dir (Kafka's
//     OffsetCheckpointFile: "0", count, "topic partition offset" lines):
//     every managed partition's high watermark, written every
//     replica.high.watermark.checkpoint.interval.ms and on Close, read at
//     start, so a restarted broker does not expose records that were
//     never replicated (a partition without an entry starts at 0).
//   - leader-epoch-checkpoint in each partition dir (logstore; Kafka's
//     format): the leader-epoch cache, rebuilt from the batches' leader
//     epochs when missing.
//   - Leadership, ISR and epochs themselves are not persisted here: they
//     come from the controller (ZooKeeper) after every start.
//
// # Wiring (cluster mode)
//
// The broker also sets a LeadershipListener (SetLeadershipListener):
// after every change of role (LeaderAndIsr applied, StopReplica) it is
// told leader or not, with the leader epoch, and moves the group and
// transaction coordinators of __consumer_offsets and __transaction_state
// with it (Kafka's onLeadershipChange callback).
//
// broker.openStores creates the Manager (Config from the replica.* keys,
// ClusterMode = zookeeper.connect set) and hands it to the handlers
// (handlers.Deps.Replicas); broker.Broker.Replicas returns it. The
// ZooKeeper side then:
//
//   - calls SetCluster with its metadata cache (Cluster: BrokerAddr gives
//     a broker's inter-broker listener host:port, ControllerID the active
//     controller); until then LearnedCluster, fed by LeaderAndIsr's
//     controller id and LiveLeaders, is used;
//   - calls SetBrokerEpoch with the czxid of /brokers/ids/<id>;
//   - sends LeaderAndIsr / StopReplica (served by handlers 4 and 5 through
//     Manager.LeaderAndIsr / StopReplica), with ZKVersion = the partition
//     state's znode version, which comes back as AlterPartition's
//     partition epoch;
//   - answers AlterPartition v3 with the new ISR, leader epoch and
//     partition epoch (the new znode version) per partition;
//   - lets the log of a new topic be created from LeaderAndIsr alone:
//     Kafka's controller sends it before the UpdateMetadata that brings
//     the topic into the metadata cache, so handlers.OpenLog takes the
//     topic's name and id from LeaderAndIsr and its overrides from the
//     config znode (controller.ZK.TopicConfigFromZooKeeper).
package replica
