// Package interop runs Apache Kafka 3.9 brokers and Samsa brokers in one
// ZooKeeper cluster (issue 13): the mixed cluster an operator goes
// through when moving a ZooKeeper-mode Kafka cluster to Samsa one broker
// at a time. It has only tests.
//
// # How it runs
//
// `make interop` downloads Kafka 3.9's broker and tools
// (org.apache.kafka:kafka_2.13, kafka-tools 3.9.1 and slf4j-reload4j,
// interop/pom.xml) and their runtime dependencies from Maven Central
// into interop/target/lib
// (scripts/install-kafka39.sh), ZooKeeper 3.8.4 (internal/zktest), then
// runs this package's tests. Each test starts one real ZooKeeper, Kafka
// brokers as `java kafka.Kafka server.properties` with that classpath
// (zookeeper.connect with the chroot /kafka, broker.id,
// inter.broker.protocol.version=3.9, a PLAINTEXT listener on a free
// loopback port, -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1,
// log4j at WARN plus the state-change logger and a few INFO lines the
// checks need) and Samsa binaries (internal/testbroker), at most three
// Kafka JVMs and ZooKeeper's at a time. Without java or the jars the
// tests are skipped, unless SAMSA_REQUIRE_TOOLS=1 (make interop sets
// it), when they fail. `make unit` leaves this package to `make interop`.
//
// Every test fails on an ERROR, or on a warning that Kafka does not also
// log in a cluster of its own brokers (benignKafkaWarning and
// kafkaProblems say which and why), in any Kafka broker's output. A
// failed test (or any, with SAMSA_INTEROP_LOGS=1) writes every broker's
// whole output to interop/target/logs/<test>/.
//
// The Kafka CLI tools the tests run are Kafka 3.9.1's
// (org.apache.kafka:kafka-tools in interop/pom.xml, started as
// bin/kafka-run-class.sh would, at most one at a time next to the
// brokers); a tool that exits non-zero or logs a warning fails the test.
//
// The tests:
//
//   - TestKafkaControllerSamsaReplicas: Kafka is the controller of two
//     Kafka brokers and one Samsa broker. A topic with RF 3 has a
//     partition led by each kind; acks=all produce through either kind;
//     both kinds list all brokers and finalize the same features; topics
//     auto-created through either kind get their leaders from Kafka's
//     controller; consumer groups and transactions are coordinated by all
//     three brokers (WriteTxnMarkers and KIP-890 AddPartitionsToTxn
//     verification both ways); Kafka's controller deletes a topic with a
//     Samsa replica; Samsa takes over from a Kafka leader after kill -9
//     and hands everything to Kafka in its controlled shutdown; an unclean
//     election by Kafka's controller (KIP-704) sends the Samsa replica
//     RECOVERING and Samsa's AlterPartition adding a Kafka follower makes
//     the state znode RECOVERED; and the last Kafka broker has every
//     acknowledged record, in order, and every committed offset.
//   - TestSamsaControllerKafkaReplicas: Samsa is the controller of two
//     Kafka brokers. Kafka accepts its LeaderAndIsr, UpdateMetadata and
//     StopReplica (a topic deleted while the cluster goes on), its leaders
//     change ISRs through Samsa's controller (AlterPartition), kill -9 of a
//     Kafka leader fails over, a Kafka broker with an empty log dir comes
//     back into every ISR, Kafka's controlled shutdown runs through
//     Samsa's controller, and after Samsa stops, Kafka (now controller and
//     coordinator) has the consumer group's offsets Samsa wrote. An ISR
//     change notification (what a Kafka broker on an IBP below 2.7
//     writes) reaches every broker's metadata through Samsa's controller,
//     and Samsa's unclean election of a Kafka leader (RECOVERING) ends
//     RECOVERED through that leader's AlterPartition.
//   - TestReplaceKafkaBrokersOneByOne: three Kafka brokers serve an
//     acks=all producer and a consumer group, and a transactional id
//     commits and aborts; each broker in turn is stopped (controlled
//     shutdown) and replaced by a Samsa broker with the same broker.id and
//     an empty log dir, the next only once it is in every ISR (the
//     topics', __consumer_offsets' and __transaction_state's). After the
//     first replacement the controller moves to Samsa (/controller is
//     deleted while the Kafka brokers are paused with SIGSTOP, so that
//     Samsa wins the election: left to itself it moves only when the
//     last Kafka broker stops), so the other two controlled shutdowns go
//     through Samsa's controller. At every step Kafka 3.9's own
//     kafka-topics --describe (and --under-replicated-partitions),
//     kafka-consumer-groups --describe and kafka-reassign-partitions
//     --list agree. Nothing acknowledged is lost, the log is exactly the
//     acknowledged records in order, the group read every record in order
//     with no redelivery beyond its last autocommit, and the
//     transactional id keeps its producer id (epoch bumped) with a Samsa
//     coordinator, which loaded what Kafka's wrote, and a new one gets a
//     producer id above every earlier one; six groups' offsets committed
//     before the move (with metadata) read back the same through Samsa's
//     coordinators.
//   - TestReplaceSamsaBrokersOneByOne: the way back, the same steps
//     (replaceOneByOne) from three Samsa brokers to three Kafka brokers:
//     Kafka brokers with empty log dirs replicate from Samsa leaders, take
//     the controller role after the first replacement (the Samsa brokers
//     paused for the election), run the two remaining Samsa controlled
//     shutdowns, and their group and transaction coordinators load the
//     __consumer_offsets and __transaction_state records Samsa wrote. It
//     ends with an all-Kafka cluster and a Kafka controller.
//   - TestConfigsQuotasACLsBothWays: one Kafka broker (the controller)
//     and one Samsa broker, both with AclAuthorizer. Changes made through
//     one kind are described by, and take effect on, the other: topic
//     configs (max.message.bytes at the other kind's leader; a topic
//     Kafka created with no replica on Samsa; the Kafka 3.9 configs
//     Kafka 4 removed, message.timestamp.difference.max.ms enforced),
//     client quotas (a client id that needs sanitizing and a user +
//     client id; listed alike, throttle_time_ms at the other kind's
//     leader), ACLs (a literal and a prefixed DENY: listed alike,
//     TOPIC_AUTHORIZATION_FAILED at both kinds), dynamic broker configs
//     (replication throttles at <default> with source
//     DYNAMIC_DEFAULT_BROKER_CONFIG; per broker, where only the broker
//     itself answers, the znodes each writes are identical; topic
//     defaults message.max.bytes and log.retention.ms at <default>,
//     described and enforced for a topic without overrides). The quota
//     and ACL znodes and every change notification each kind writes have
//     the same form.
//
// # Differences found, and their fixes
//
//  1. Samsa's controller dropped a queued full UpdateMetadata when a newer
//     one was queued, even when a LeaderAndIsr was queued between them. A
//     Kafka broker that registered while another was starting got the
//     LeaderAndIsr of a new topic before any UpdateMetadata naming the
//     other broker, logged "cannot become follower since the new leader 1
//     is unavailable" (ReplicaManager.makeFollowers looks the leader up in
//     its metadata cache), never fetched that partition and left its ISR
//     30 s later. Kafka's controller drops no queued request. Fix
//     (zkcontroller/sender.go, supersedeSnapshots): a full UpdateMetadata
//     replaces only the older ones queued after the newest LeaderAndIsr or
//     StopReplica.
//  2. StopReplica v4's field order: Kafka 3.9 sends isKRaftController
//     (KIP-866) between ControllerId and ControllerEpoch; franz-go's kmsg
//     (v1.15.1) has it after ControllerEpoch (LeaderAndIsr and
//     UpdateMetadata agree). Samsa read a Kafka controller's epoch 1 as 0
//     and answered STALE_CONTROLLER_EPOCH, so Kafka's controller never
//     finished deleting a topic with a Samsa replica; Samsa's controller
//     wrote epoch 1 so that Kafka read 256, after which the Kafka broker
//     refused every LeaderAndIsr of the real epoch (no failover). Fix
//     (internal/kmsgfix): the two fields are swapped on the wire, when
//     reading (protocol/conn.go) and sending (zkcontroller/sender.go).
//  3. Samsa advertised transaction.version 2 finalized (as Kafka 4) in
//     ZooKeeper mode too. Kafka 3.9 ZooKeeper brokers advertise no
//     features (measured), and clients take the highest level any broker
//     finalizes: franz-go skipped AddPartitionsToTxn (KIP-890 part 2), and
//     Kafka 3.9 leaders failed its transactional produces with
//     INVALID_TXN_STATE or TRANSACTION_ABORTABLE. Fix
//     (handlers/18_api_versions.go): no features in ZooKeeper mode.
//  4. Samsa wrote __transaction_state values with a null partition list
//     for every state without partitions (CompleteCommit, say). Kafka's
//     TransactionLog writes null only for Empty and reads the list for
//     every other state: a Kafka broker taking over the coordinator failed
//     to load the whole partition (NullPointerException in
//     readTxnRecordValue). Fix (txn/records.go): an empty list.
//  5. A Samsa follower that had been leader of an epoch without writing
//     anything in it (its leader-epoch cache ends with that epoch at the
//     log end, as Kafka's Partition.makeLeader assigns it) never
//     replicated again from its next leader: every Fetch carried that
//     epoch as LastFetchedEpoch, the leader answered with the same
//     DivergingEpoch (an earlier epoch ending at the log end), and
//     truncating to the log end was a no-op that kept the epoch. Kafka's
//     UnifiedLog.truncateTo drops epochs starting at the log end even
//     when nothing is cut. Seen in TestReplaceKafkaBrokersOneByOne: a
//     __transaction_state partition's high watermark stayed put, the
//     transaction coordinator's appends timed out for 30 s until the
//     leader took the follower out of the ISR. A Samsa-only cluster had
//     it too: a restart then a preferred election is enough
//     (integration TestZKFollowerAfterEmptyEpoch: 45 s for five acks=all
//     records and an ISR shrink before the fix, 1 s after). Fix
//     (logstore/replication.go, TruncateTo): the same truncation of the
//     epoch cache; and a new epoch replaces an older one starting at the
//     same offset (Kafka's LeaderEpochFileCache.assign), where Samsa had
//     kept both.
//  6. A topic config change read from ZooKeeper (made through a Kafka
//     broker or another Samsa broker) reached Samsa's produce checks but
//     not its open logs: retention, segment rolling, compaction and
//     flush settings stayed those the log was opened with until a
//     restart; only the broker that took the request applied them.
//     Kafka's TopicConfigHandler applies the notification on every
//     broker. Fix (handlers/dynamic_configs.go, ApplyConfigChanges on
//     controller.ZK's OnConfigChange). Samsa-only: integration
//     TestZKConfigChangesApplyEverywhere (retention.ms set through broker
//     1 never deleted anything on broker 2 before the fix).
//  7. Dynamic broker configs that change topic defaults (Kafka's
//     DynamicLogConfig: message.max.bytes, log.retention.ms,
//     min.insync.replicas, ... in /config/brokers/<default> or /<id>)
//     were refused by Samsa (INVALID_CONFIG) and ignored when Kafka wrote
//     them: under a cluster default message.max.bytes=5000 a Kafka leader
//     refused a 6000-byte batch and a Samsa leader took it, and Samsa
//     described the static defaults. Fix (config/dynamic.go WithDynamic,
//     handlers RefreshDynamicConfigs, alterBrokerConfigs): the merged
//     values with Kafka's precedence (per broker, cluster default,
//     server.properties), sources and synonyms; set through Samsa with
//     the key's own validation. Other dynamic broker configs Kafka
//     accepts (log.cleaner.threads, num.io.threads, listener and SSL
//     keys, ...) are still refused by Samsa, and logged once as ignored
//     when Kafka wrote them.
//  8. Topic configs Kafka 3.9 has and Kafka 4 removed
//     (message.downconversion.enable, message.format.version,
//     message.timestamp.difference.max.ms): once Kafka had set one on a
//     topic, every IncrementalAlterConfigs of that topic through Samsa
//     failed (INVALID_CONFIG "unknown topic config", the read-modify-write
//     validated Kafka's overrides), DescribeConfigs through Samsa left
//     them out, and Samsa did not apply the timestamp difference. Fix
//     (config/topic_legacy.go; handlers, ZooKeeper mode only): accepted,
//     validated as Kafka 3.9 does, described with Kafka 3.9's defaults,
//     and message.timestamp.difference.max.ms bounds timestamps where
//     .before/.after.max.ms are unset (LogConfig's fallback).
//  9. A topic a Kafka broker creates has its /config/topics znode
//     written without a change notification
//     (AdminZkClient.createTopicWithAssignment). A Samsa broker with no
//     replica of it never read that znode and described Kafka's
//     defaults (max.message.bytes 1048588 where Kafka said 3000); a
//     replica learnt it only when LeaderAndIsr came before
//     UpdateMetadata. Fix (controller.ZK.LearnTopics, from
//     zkcontroller's ApplyUpdateMetadata): the overrides of a topic id
//     new to the broker are read from ZooKeeper.
//  10. IncrementalAlterConfigs through Samsa changed its own copy of a
//     topic's (or broker entity's) overrides and wrote the whole result
//     back: a change made through another broker whose notification had
//     not arrived yet was undone (seen once in this test as a lost
//     message.timestamp.difference.max.ms). Kafka's ZkAdminManager
//     starts from the znode (AdminZkClient.fetchEntityConfig). Fix
//     (handlers/alter_configs.go, zkConfigReader): the same.
//  11. DescribeClientQuotas listed a user + client id entity as
//     client-id, user (Kafka 4's KRaft order); Kafka 3.9 in ZooKeeper
//     mode lists user first (ZkAdminManager.userClientIdToEntity). Fix
//     (handlers/48_describe_client_quotas.go): user first in ZooKeeper
//     mode.
//
// # Differences left as they are
//
// Client-facing API ranges follow Kafka 4, not 3.9 (measured with
// ApiVersions v3 against both in one cluster): Samsa has no versions
// Kafka 4 removed (Fetch 0-3, ListOffsets 0, OffsetCommit 0-1,
// OffsetFetch 0, CreateTopics 0-1, DeleteTopics 0, OffsetForLeaderEpoch
// 0-1, the ACL requests 0, DescribeConfigs 0, DescribeLogDirs 0), some
// newer ones (Produce 12-13, Fetch 18, Metadata 13, EndTxn 5,
// TxnOffsetCommit 5, ...), and none of the delegation token requests,
// UpdateFeatures, Envelope or the KIP-848 consumer group requests that a
// Kafka 3.9 ZooKeeper broker advertises (AlterReplicaLogDirs,
// AlterPartitionReassignments and ListPartitionReassignments were added
// after this was measured).
// A client old enough to need a removed version, or using one of those
// requests, works with the Kafka brokers of a mixed cluster and not with
// Samsa's. The inter-broker requests (LeaderAndIsr 0-7, StopReplica 0-4,
// UpdateMetadata 0-8, ControlledShutdown 0-3, AlterPartition 0-3,
// AllocateProducerIds 0, WriteTxnMarkers 1 of Kafka's 0-1) have the
// ranges Kafka 3.9 uses.
//
// A Samsa broker's message.timestamp.after.max.ms default is Kafka 4's
// (one hour, KIP-937); Kafka 3.9's is Long.MAX_VALUE, so a record stamped
// more than an hour ahead is taken by a Kafka 3.9 leader and refused
// (INVALID_TIMESTAMP) by a Samsa leader unless log.message.timestamp
// .after.max.ms is set in server.properties.
//
// Samsa writes a topics/<name> change notification when it creates a
// topic with configs (a Kafka broker writes none): Kafka brokers read the
// unchanged znode again, and Samsa brokers without a replica learn the
// overrides at once.
//
// A per-broker dynamic config (/config/brokers/<id>) is described only by
// that broker, by either kind (Kafka's ConfigHelper and Samsa answer
// INVALID_REQUEST for another id), so the test compares the znodes.
//
// Samsa's controller sends every UpdateMetadata with every partition (a
// newer one replaces an older one still queued, see finding 1), where
// Kafka's sends the changed partitions only: a Kafka broker's metadata
// cache ends the same ("Add 10 partitions and deleted 0" on each), with
// more bytes on the wire per ISR change.
//
// # Kafka's own warnings the checks excuse
//
// Found in the mixed cluster, and what Kafka's own brokers do too: a
// follower fetching with the old leader epoch from a leader that already
// has the new one stops that partition until its LeaderAndIsr arrives
// ("marked as failed" after "has an older epoch",
// AbstractFetcherThread.onPartitionFenced); a new leader whose high
// watermark lags a follower's answers with its own, and the follower
// takes it ("Non-monotonic update of high watermark": Kafka's
// Partition.fetchRecords also reads the watermark before the fetch moves
// it); a Kafka controller loses its connection to a broker that is
// shutting down (its last StopReplica crosses the end of the broker's
// controlled shutdown, after which a Kafka broker stops its socket
// server, KafkaServer.shutdown, and a Samsa broker its listeners). The
// same lost connection to a Samsa broker is excused only when that
// broker was stopped with SIGTERM and closed no connection because of a
// request.
package interop
