// Package zkcontroller is the controller role of a ZooKeeper-coordinated
// Samsa cluster: the one broker elected through ZooKeeper that decides
// partition leadership and ISR and tells every broker, as Kafka 3.9's
// ZooKeeper-mode KafkaController does. Every broker runs a Controller;
// only the elected one is active.
//
// # Election and fencing
//
// A broker becomes controller by creating the ephemeral /controller znode
// and incrementing /controller_epoch in one ZooKeeper multi-op conditional
// on the epoch znode's version (KafkaZkClient
// .registerControllerAndIncrementControllerEpoch). Every later write of
// partition state is a multi-op that first checks /controller_epoch still
// has the version this controller wrote, so a deposed controller (its
// session expired, another was elected) cannot change anything: its
// write fails, and it resigns. Brokers refuse UpdateMetadata, LeaderAndIsr
// and StopReplica carrying an older controller epoch than the newest they
// have seen (metadatacache, and the replica manager).
//
// # State machine
//
// Per partition, as Kafka's PartitionStateMachine:
//
//	NonExistent -> New (assignment znode written by CreateTopics or
//	  CreatePartitions) -> Online (state znode created: leader = first live
//	  replica, ISR = live replicas, leader epoch 0)
//	Online -> Offline when its leader's /brokers/ids znode disappears
//	Offline -> Online by election: the first replica in assignment order
//	  that is live and in the ISR (OfflinePartitionLeaderElectionStrategy);
//	  with unclean.leader.election.enable (topic override, else broker
//	  default) the first live replica when no ISR member lives, ISR = [it]
//	  and leader_recovery_state RECOVERING (KIP-704; a clean election keeps
//	  the previous state).
//	  Without a candidate the partition stays leaderless (leader -1) and
//	  keeps its last ISR member, so that broker's return elects it.
//	any -> NonExistent when the topic is deleted.
//
// A follower whose broker dies leaves the ISR (leader epoch + 1), except
// the ISR's last member, as Kafka's removeReplicasFromIsr. ISR growth and
// shrinking while brokers are alive is the leader's decision, reported
// with AlterPartition and applied here conditionally on the partition
// epoch (the state znode's version), answering Kafka's errors. KIP-704:
// AlterPartition carries the leader's recovery state and the controller
// writes what it says; a leader elected uncleanly considers itself
// RECOVERED at once (Kafka 3.9's Partition.makeLeader), so the znode
// stays RECOVERING until that leader's first AlterPartition (usually a
// follower rejoining the ISR) and has no leader_recovery_state after.
// RECOVERING with more than one ISR member, RECOVERED back to
// RECOVERING and values other than 0 and 1 are INVALID_REQUEST.
//
// Brokers on an inter.broker.protocol.version below 2.7 (Kafka brokers
// during an upgrade) do not send AlterPartition: they write the state
// znode themselves and create a sequential
// /isr_change_notification/isr_change_<seq> ({"version":1,"partitions":
// [{"topic":..,"partition":..}]}). The controller watches that znode's
// children (isrchange.go, processIsrChangeNotification): it re-reads the
// named partitions' states, sends UpdateMetadata to every registered
// broker, completes reassignments the new ISRs finish and deletes the
// notifications (conditional on the controller epoch; unreadable ones
// too). A new controller deletes the ones it finds before reading the
// partition states.
//
// # Controlled shutdown and preferred leaders
//
// ControlledShutdown (doControlledShutdown) marks the broker shutting
// down: it keeps receiving requests and stays in UpdateMetadata's live
// brokers, but no longer counts as a live replica (it is listed offline).
// Each partition it leads with more than one replica gets the first
// assigned replica that is registered, in the ISR and not shutting down
// (ControlledShutdownPartitionLeaderElectionStrategy), the shutting-down
// brokers leaving the ISR; it gets StopReplica (no delete) for the
// partitions it follows and leaves their ISRs. The answer lists what it
// still leads. The mark goes when its registration does.
//
// ElectLeaders (processReplicaLeaderElection) elects the first assigned
// replica when live and in the ISR (preferred), or for a leaderless
// partition the first live ISR member, else the first live replica
// (unclean, admin-triggered only; ISR = [it], leader_recovery_state
// RECOVERING as in an offline election). With auto.leader.rebalance.enable the
// controller runs the preferred election 5 s after its election and then
// every leader.imbalance.check.interval.seconds for every broker whose
// share of preferred partitions led elsewhere exceeds
// leader.imbalance.per.broker.percentage (checkAndTriggerAutoLeaderRebalance).
//
// # Partition reassignment
//
// KafkaController.onPartitionReassignment, with Kafka's names: RS the
// assigned replicas, ORS the original ones, TRS the target, AR = TRS -
// ORS being added, RR = ORS - TRS being removed. While a partition is
// reassigned the topic znode holds RS = distinct(TRS ++ ORS) (target
// first, so TRS's first replica is the preferred leader) with AR and RR
// in adding_replicas / removing_replicas; that znode is the only record
// of ORS, so it is rewritten with RS = TRS last.
//
//	start (AlterPartitionReassignments, /admin/reassign_partitions,
//	  a controller failover, a returning TRS broker):
//	  U1/U2 write RS, AR, RR to the topic znode (conditional on the
//	        controller epoch), then memory;
//	  U3    replicas of an earlier reassignment that the new one drops
//	        (a cancellation drops AR) go offline and are deleted as in
//	        B4/B5.
//	not complete (TRS not all in the ISR):
//	  A1/A2 leader epoch + 1 (same leader and ISR), LeaderAndIsr with RS,
//	        AR and RR to ORS (isNew false) and AR (isNew true): the new
//	        replicas create their logs and follow the leader, whose ISR
//	        grows through AlterPartition.
//	complete (checked again after every accepted AlterPartition of the
//	  partition: isReassignmentComplete, TRS a subset of the ISR):
//	  B2    RS = TRS in memory;
//	  B3    a leader outside TRS (or dead) is replaced by the first TRS
//	        replica that is live and in the ISR
//	        (ReassignPartitionLeaderElectionStrategy), else the epoch is
//	        bumped; LeaderAndIsr to TRS;
//	  B4    RR get StopReplica (no delete) and leave the ISR (epoch + 1,
//	        LeaderAndIsr to the rest);
//	  B5    RR get StopReplica with delete: their logs go (a broker that
//	        is down keeps its copy, as in Kafka);
//	  B6    the topic znode gets RS = TRS without adding/removing;
//	  B7    the partition leaves /admin/reassign_partitions (deleted
//	        when empty);
//	  B8    UpdateMetadata to every broker.
//
// AlterPartitionReassignments (v0, and v1's allowReplicationFactorChange
// of KIP-860) and ListPartitionReassignments are served here, on the
// event goroutine; other brokers answer NOT_CONTROLLER, as Kafka 3.9 in
// ZooKeeper mode. A target is checked as validateReplicas does
// (INVALID_REPLICA_ASSIGNMENT for an empty list, duplicates, negative
// ids or added brokers that are not live); an unknown partition or one
// of a topic being deleted is UNKNOWN_TOPIC_OR_PARTITION; a null list
// cancels (target = ORS), NO_REASSIGNMENT_IN_PROGRESS when there is
// nothing to cancel. A request's reassignment replaces a
// /admin/reassign_partitions one of the same partition. The legacy znode
// is acted on when created (and at failover, before the API
// reassignments found in topic znodes resume); its entries that fail are
// removed from it. Cancelling cannot restore ORS's order when TRS
// overlapped it (Kafka's caveat): [1,2,3] -> [2,3,4] cancelled is
// [2,3,1]. A topic deletion asked for while a partition of the topic is
// being reassigned waits until the reassignment completes (Kafka's
// markTopicIneligibleForDeletion); one found at failover goes ahead and
// abandons the reassignment.
//
// Every change is written to ZooKeeper first; then LeaderAndIsr goes to
// the live replicas of the changed partitions and UpdateMetadata to every
// live broker, in that order (ControllerBrokerRequestBatch). A broker that
// (re)registers gets UpdateMetadata with everything and LeaderAndIsr for
// every partition it hosts. A broker whose registration has a new czxid
// (its session expired and it registered again, even when both happened
// between two reads of /brokers/ids) is bounced, as in Kafka's
// processBrokerChange: a new sender, then onBrokerFailure (its
// leaderships move, it leaves ISRs) and onBrokerStartup, so it always
// learns that it no longer leads. Until then it may still think it does,
// but cannot acknowledge a write: its followers fetch from the new leader
// and its ISR changes carry a fenced leader epoch. Topic deletion (a marker in
// /admin/delete_topics) follows Kafka's TopicDeletionManager: the topic
// leaves elections, every live broker gets UpdateMetadata with leader -2
// and every replica StopReplica(delete); the topic's znodes, config and
// marker are removed (each delete conditional on the controller epoch's
// version) only once every replica acknowledged. A replica on a broker
// that is down gets StopReplica when it returns; a new controller resumes
// deletions from the markers. A broker that does not serve StopReplica
// (no replica manager) counts as having acknowledged.
//
// # Metrics
//
// Config.Stats gets Kafka's ControllerStats: UncleanLeaderElectionsPerSec
// for every leader elected from outside the ISR (offline elections with
// unclean.leader.election.enable and admin unclean elections), and
// PartitionReassignmentRateAndTimeMs, the event goroutine's time on each
// AlterPartitionReassignments request and /admin/reassign_partitions
// change (Kafka times every event of the AlterPartitionReassignment
// controller state).
//
// # Threads and locking
//
// As KafkaController's single event thread: ZooKeeper watches, broker
// requests (AlterPartition, AllocateProducerIds) and session changes are
// events on one channel, processed one at a time by the run goroutine,
// which alone owns the controller context (live brokers with their
// epochs, topics, partition states, senders). No lock guards it. Watches
// carry the failover generation they were set in; events of an older
// generation (set before a resignation) are ignored.
//
// Requests to brokers go through one sender goroutine per live broker
// (ControllerChannelManager's RequestSendThread), each with a queue and a
// franz-go client pinned to Kafka 3.9's versions (LeaderAndIsr v7,
// UpdateMetadata v8, StopReplica v4) on the broker's inter-broker listener.
// A request that fails is tried again every 100 ms until the broker
// answers or leaves the live set (or this controller resigns), as Kafka's
// RequestSendThread; the queue is unbounded, and a queued request that a
// newer one makes pointless (an older full UpdateMetadata that no
// LeaderAndIsr or StopReplica follows, older LeaderAndIsr state of the
// same partition) is dropped, never reordering the rest: a broker learns
// a leader from UpdateMetadata before a LeaderAndIsr makes it follow
// that leader, as Kafka 3.9 brokers require. A broker registers in /brokers/ids only once its logs are
// recovered and its listeners serve (controller.ZK.Register).
//
// # Failures
//
// A ZooKeeper operation that fails because the connection was lost is
// tried again until ZooKeeper answers (KafkaZkClient retries until
// connected); only session expiry or the role stopping ends it, and ends
// the term. Partitions are changed one by one: one that cannot be changed
// is logged and skipped, the rest of the batch goes on, and what was
// written is always sent to the brokers. Watches are re-armed by the
// event they trigger, before any work that can fail.
//
// # What is persisted where
//
// Everything lives in ZooKeeper, in Kafka's znodes (controller/doc.go):
// the controller and its epoch, assignments (with reassignments' adding
// and removing replicas), partition state, deletion markers,
// /admin/reassign_partitions and /latest_producer_id_block. The in-memory context is rebuilt
// from ZooKeeper on every election.
package zkcontroller
