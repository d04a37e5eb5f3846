// Package controller owns Samsa's cluster metadata: the cluster id, the
// brokers, which broker is the controller, and every topic's id,
// partitions, replica assignment, leader/ISR state and per-topic config
// overrides.
//
// # The interface
//
// Request handlers depend only on the Controller interface (controller.go)
// and never on how metadata is stored, so that a single-node broker and a
// ZooKeeper-coordinated cluster serve the same handler code. Two rules
// follow from that:
//
//   - Reads return deep copies. A handler may keep, sort or modify what it
//     gets without locking and without affecting anyone else.
//   - Errors are franz-go kerr errors (*kerr.Error), wrapped with fmt.Errorf
//     and %w. A handler finds the Kafka error code with errors.As (or tests
//     with errors.Is). The text before the final ": <kerr text>" is the
//     message Kafka itself would put in the response's ErrorMessage. Any
//     other error (an I/O failure, a closed controller, a cancelled
//     context) means the request failed for reasons the client cannot fix.
//
// Validation follows Apache Kafka 4's KRaft controller
// (ReplicationControlManager), including the order of the checks, so that
// a request with several problems gets the error Kafka would give:
// Topic.validate on the name, TOPIC_ALREADY_EXISTS, then
// INVALID_TOPIC_EXCEPTION for a name that equals an existing one once '.'
// is replaced with '_' (Kafka 4 uses INVALID_TOPIC_EXCEPTION here, not
// TOPIC_ALREADY_EXISTS), then the replica checks. Like Kafka, a single
// operation may not produce more than 10000 metadata records (topic,
// configs, partitions); beyond that the answer is POLICY_VIOLATION.
//
// # Single-node implementation
//
// Single is the controller of a one-broker cluster. It holds all metadata
// in memory and writes each change through to a Pebble database in
// <first log dir>/.samsa-meta with a synced write before the change becomes
// visible, so whatever a client was told survives a crash. Readers never
// touch Pebble.
//
// Pebble keys (all values are UTF-8):
//
//	meta/schema_version  "1". Bumped when any key or value changes meaning;
//	                     an unknown version makes OpenSingle fail instead of
//	                     misreading the store.
//	meta/broker_id       the broker id the store was created with, decimal.
//	                     Replica lists name this id, so opening with another
//	                     id fails (as Kafka refuses a changed broker.id).
//	cluster/id           the cluster id: 22 characters of unpadded URL-safe
//	                     base64 of a random version 4 UUID (Kafka's
//	                     Uuid.randomUuid().toString()), never starting with
//	                     '-'. Written once, with the two keys above, in one
//	                     synced batch.
//	topic/<name>         one JSON document per topic, rewritten whole on
//	                     every change:
//	                     {"name":"t","id":"<22-char base64>",
//	                      "partitions":[{"index":0,"leader":1,"leader_epoch":0,
//	                        "partition_epoch":0,"replicas":[1],"isr":[1]}],
//	                      "configs":{"retention.ms":"1000"}}
//	producer/next-id     the first producer id never handed out, decimal.
//	scram/<mechanism>/<user>
//	                     one SCRAM credential (scram.go), mechanism
//	                     SCRAM-SHA-256 or SCRAM-SHA-512, user as given to
//	                     AlterUserScramCredentials (may contain '/'):
//	                     {"salt":"<base64>","stored_key":"<base64>",
//	                      "server_key":"<base64>","iterations":4096}.
//	                     Never the password: Kafka's ScramCredential. All
//	                     changes of one AlterUserScramCredentials request
//	                     are one synced batch. Credentials have their own
//	                     RWMutex (scramState.mu) besides writeSem, so the
//	                     SCRAM server's reads never wait for topic reads.
//	acl/<id>             one ACL (acls.go), id a random UUID in Kafka's
//	                     22-character base64 form:
//	                     {"id":"..","resource_type":2,"resource_name":"t",
//	                      "pattern_type":3,"principal":"User:alice",
//	                      "host":"*","operation":3,"permission":3}
//	                     (Kafka's wire numbers; package acl names them).
//	                     One CreateAcls or DeleteAcls request is one synced
//	                     batch; ACLs have their own RWMutex (aclState.mu).
//	quota/<entity>       one JSON document per client quota entity
//	                     (quotas.go), written by AlterClientQuotas:
//	                     {"entity":{"user":"alice","client-id":null},
//	                      "quotas":{"producer_byte_rate":1048576}}.
//	                     <entity> is the entity's parts in the order user,
//	                     client-id, ip joined by '/', each "type=<name>"
//	                     with the name URL-path-escaped, or the bare type
//	                     for the default entity (a null name): the key above
//	                     is quota/user=alice/client-id. An entity whose last
//	                     quota is removed is deleted. All entities changed
//	                     by one request are written in one synced batch;
//	                     the in-memory map is under Single.mu. This is the
//	                     only quota format: a store holding keys of the
//	                     short-lived quota/<base64url> format of the first
//	                     security merge fails to open (entity does not match
//	                     its key).
//
// Keeping a topic in one key makes every mutation a single atomic write and
// means a partially applied change cannot exist. OpenSingle refuses keys it
// does not know and documents that do not check out (wrong name, zero or
// duplicate id, partitions out of order) rather than serve wrong metadata.
// Topic ids are random version 4 UUIDs, never Kafka's reserved ZERO_UUID or
// ONE_UUID (the KRaft metadata topic's id), never starting with '-' in
// base64, and never an id already in use.
//
// Locking:
//
//   - writeSem, a one-slot channel, serializes mutations and Close. Its
//     holder validates against the current state, writes Pebble (the
//     fsync happens here), then publishes. It also guards the "closed" flag
//     and the '.'/'_' collision index, which only writers use. It is a
//     channel rather than a mutex so that a waiting mutation can give up
//     when its context ends.
//   - mu, a sync.RWMutex, guards the maps and the sorted name list that
//     readers use. Writers hold it exclusively only for the few map
//     operations of publishing, never across Pebble I/O, so readers are not
//     held up by disk writes. Readers hold it shared while deep-copying.
//   - A stored *Topic is never modified; a change stores a new value. That
//     is what lets the writeSem holder read the maps without mu.
//   - The cluster id and the broker list never change after OpenSingle and
//     need no lock.
//
// # Storage faults
//
// Single writes through internal/pebbledb. While the log dir's disk guard
// (SingleConfig.Guard, internal/diskguard) reports a full disk, every
// mutation fails with KAFKA_STORAGE_ERROR before touching Pebble, except
// DeleteTopic, which frees space and undoes a CreateTopics whose logs
// could not be created (the handler deletes the topic again, so a topic
// is never left without logs and the client's retry does not get
// TOPIC_ALREADY_EXISTS). A write that fails anyway (EIO, or ENOSPC beyond
// the guard's reserve) answers KAFKA_STORAGE_ERROR instead of Pebble's
// fatal panic; from then on mutations are refused until the store has
// reopened itself in the background (close, open, replay the WAL) and
// reconcile has rewritten the topics and the producer id block from
// memory, since the failed write may or may not have reached the WAL.
// Reads (Metadata, DescribeConfigs) are served from memory throughout.
// Kafka's KRaft controller answers a metadata log it cannot append to by
// failing over; a single node has nowhere to fail over to, so the client
// retries (KAFKA_STORAGE_ERROR is retriable).
//
// # ZooKeeper-backed implementation
//
// ZK (zk.go) implements Controller on ZooKeeper with
// github.com/go-zookeeper/zk, using the znodes of Kafka 3.x's ZooKeeper
// mode (kafka.zk.ZkData, encoded by internal/zkdata) so that the layout
// is familiar and inspectable with Kafka's own tooling. zookeeper.connect
// may end in a chroot (host:port/kafka), created when missing; every path
// below is relative to it. Those znodes are:
//
//	/cluster/id                 persistent JSON {"version":"1","id":"<base64 uuid>"};
//	                            note the version is a JSON string here. The first
//	                            broker to create it decides the cluster id.
//	/brokers/ids/<id>           ephemeral, one per live broker, JSON version 5:
//	                            {"version":5,"host":"h","port":9092,
//	                             "endpoints":["PLAINTEXT://h:9092"],
//	                             "listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},
//	                             "jmx_port":-1,"timestamp":"<epoch ms>","rack":"r",
//	                             "features":{}}
//	                            "rack" only when set; the top-level host/port
//	                            repeat the PLAINTEXT endpoint for old readers.
//	                            The node vanishes with the broker's session,
//	                            which is how liveness is tracked.
//	/controller                 ephemeral JSON {"version":2,"brokerid":1,
//	                            "timestamp":"<epoch ms>","kraftControllerEpoch":-1}
//	                            (version 1 lacks kraftControllerEpoch). Whoever
//	                            creates it is the controller; readers only need
//	                            "brokerid".
//	/controller_epoch           persistent, the epoch as plain decimal text (not
//	                            JSON). Each new controller increments it with a
//	                            conditional set on the znode version, and writes
//	                            partition state only while it still holds that
//	                            epoch, which fences a deposed controller.
//	/brokers/topics/<name>      persistent JSON {"version":3,"topic_id":"<base64>",
//	                            "partitions":{"0":[1,2],"1":[2,3]},
//	                            "adding_replicas":{},"removing_replicas":{}};
//	                            partition numbers are decimal string keys, values
//	                            are replica lists with the preferred leader first.
//	/brokers/topics/<name>/partitions/<p>/state
//	                            JSON {"version":1,"leader":1,"leader_epoch":0,
//	                            "controller_epoch":1,"isr":[1,2]}, plus
//	                            "leader_recovery_state" only when not recovered.
//	                            The partition epoch is not a field: it is the
//	                            znode's data version (Stat.Version).
//	/config/topics/<name>       JSON {"version":1,"config":{"retention.ms":"1000"}},
//	                            overrides only, all values strings. Writers then
//	                            create a sequential /config/changes/config_change_N
//	                            with {"version":2,"entity_path":"topics/<name>"}
//	                            so that every broker reloads that entity.
//	                            adding_replicas / removing_replicas are non-empty
//	                            for a partition being reassigned (its replicas are
//	                            then target + original, zkcontroller/doc.go).
//	/admin/reassign_partitions  legacy reassignment request (pre-KIP-455 tools):
//	                            {"version":1,"partitions":[{"topic":"t",
//	                             "partition":0,"replicas":[2,3,4]}]}; the
//	                            controller acts on its creation, removes each
//	                            partition once reassigned and the znode when empty.
//	/config/brokers/<id>        dynamic broker configs, same JSON as topic configs;
//	/config/brokers/<default>   "<default>" for the cluster-wide ones. Samsa
//	                            allows the replication throttles
//	                            (leader/follower.replication.throttled.rate,
//	                            replica.alter.log.dirs.io.max.bytes.per.second)
//	                            and the topic defaults of Kafka's
//	                            DynamicLogConfig (message.max.bytes,
//	                            log.retention.ms, ...); writers add a
//	                            "brokers/<id>" change notification.
//	/admin/delete_topics/<name> a marker asking the controller to delete the
//	                            topic; the controller removes the topic's znodes
//	                            and then the marker.
//	/latest_producer_id_block   JSON {"version":1,"broker":1,"block_start":"0",
//	                            "block_end":"999"}: the last block of 1000 producer
//	                            ids handed out; the controller rewrites it
//	                            conditionally on its version for each
//	                            AllocateProducerIds.
//	/isr_change_notification/isr_change_<seq>
//	                            sequential, {"version":1,"partitions":[{"topic":"t",
//	                             "partition":0}]}: written by Kafka brokers on an
//	                            inter.broker.protocol.version below 2.7 after they
//	                            changed a state znode's ISR themselves; the
//	                            controller re-reads those states, sends
//	                            UpdateMetadata and deletes the notification
//	                            (zkcontroller/isrchange.go). Samsa brokers use
//	                            AlterPartition and never write one.
//	/config/changes/config_change_<seq>
//	                            sequential, {"version":2,"entity_path":"topics/t"};
//	                            also "users/<u>", "users/<u>/clients/<c>",
//	                            "clients/<c>" and "ips/<ip>" for the entities below.
//	/config/users/<u>           JSON {"version":1,"config":{...}}, a user's SCRAM
//	                            credentials and quotas in one znode (zksec.go):
//	                            "SCRAM-SHA-256"/"SCRAM-SHA-512":
//	                            "salt=<b64>,stored_key=<b64>,server_key=<b64>,iterations=4096"
//	                            (ScramCredentialUtils.credentialToString, standard
//	                            base64 with padding), "producer_byte_rate":"1048576",
//	                            "request_percentage":"50.0" (LONG/INT quotas as
//	                            integers, DOUBLE ones as Java's Double.toString).
//	                            <u> is Kafka's Sanitizer.sanitize of the name (URL
//	                            encoding, space and '*' as %20 and %2A), or
//	                            <default> for the default entity.
//	/config/users/<u>/clients/<c>
//	                            the quotas of user <u> with client id <c> (either may
//	                            be <default>).
//	/config/clients/<c>         the quotas of client id <c>.
//	/config/ips/<ip>            connection_creation_rate of an IP (or <default>).
//	                            An entity whose last key goes is deleted when it has
//	                            no children (AdminZkClient.tryCleanQuotaNodes).
//	/kafka-acl/<Type>/<name>    literal ACLs of one resource, <Type> "Topic", "Group",
//	                            "Cluster", "TransactionalId", "DelegationToken" or
//	                            "User", <name> unescaped:
//	                            {"version":1,"acls":[{"principal":"User:alice",
//	                             "permissionType":"Allow","operation":"Read","host":"*"}]}
//	                            (AclEntry); rewritten conditionally on the znode
//	                            version, deleted with its last ACL.
//	/kafka-acl-extended/prefixed/<Type>/<name>
//	                            prefixed ACLs, same JSON.
//	/kafka-acl-changes/acl_changes_<seq>
//	                            sequential, text "TOPIC:<name>" (the Java enum
//	                            name): the literal resource to reload.
//	/kafka-acl-extended-changes/acl_changes_<seq>
//	                            sequential, {"version":1,"resourceType":"GROUP",
//	                            "name":"g-","patternType":"PREFIXED"}.
//
// ACLs have no ids in ZooKeeper; package acl deletes by id, so an ACL's
// id is derived from its binding (aclID), the same on every broker.
// Every broker reads all of the security znodes at start (and after a
// new session) and then follows the change notifications, so a change
// made through one broker applies on the others within a round trip to
// ZooKeeper. SCRAM credentials are altered only by the active
// controller (Kafka 3.9 answers NOT_CONTROLLER elsewhere); quotas and
// ACLs by any broker; DescribeUserScramCredentials, DescribeClientQuotas
// and DescribeAcls are answered by any broker from its copy. Unlike
// Kafka, the ACL paths are created by every broker at start, not only by
// those running the authorizer, since every broker watches them. As
// Kafka's ZkNodeChangeNotificationListener, every broker deletes the
// change notifications it has processed once they are 15 minutes old
// (config and ACL changes alike); a broker that was away longer reloads
// everything with its new session.
//
// Who writes what, as in Kafka 3.9: the broker registers itself and keeps
// its registration across sessions (a new session re-registers; the
// znode's czxid is the broker epoch, KIP-380). Any broker writes
// /config/topics plus a change notification (AlterConfigs) and, for
// auto-created and internal topics, /brokers/topics/<name>. Only the
// active controller serves CreateTopics, CreatePartitions and
// DeleteTopics requests (other brokers answer NOT_CONTROLLER, as
// KafkaApis does in ZooKeeper mode, and clients retry at the controller
// named in Metadata); the znode writes themselves are ZK's methods here:
// CreateTopic writes /config/topics/<name> and then /brokers/topics/<name>
// (AdminZkClient.createTopicWithAssignment), CreatePartitions rewrites
// /brokers/topics/<name> conditionally on its version, DeleteTopic only
// creates the marker. Everything else (/controller, /controller_epoch,
// partition state, deleting topics, producer id blocks) is written by the
// elected controller, package zkcontroller, which documents its state
// machine and fencing.
//
// Readers never touch ZooKeeper. Brokers, the controller id, topics, ids
// and partition state come from the metadata cache (package
// metadatacache) that the controller keeps current with UpdateMetadata,
// as a Kafka broker answers Metadata from its ZkMetadataCache; per-topic
// configs from an in-memory copy that the /config/changes watch keeps
// current, plus the overrides of each topic id new to the broker, read
// when UpdateMetadata first names it (LearnTopics: a Kafka broker creates
// /config/topics/<name> without a notification). The read-modify-writes
// of IncrementalAlterConfigs start from the znode itself
// (TopicConfigFromZooKeeper, BrokerConfigsFromZooKeeper), as Kafka's
// ZkAdminManager does, so that a change whose notification is still on
// its way is not undone. Mutations that create partitions wait (up to the request's
// context, at most 10 s) until this broker's cache shows a leader for
// each, so a client can use a topic as soon as CreateTopics answers.
// The error contract of the interface is the same as Single's; replica
// assignment is Kafka's AdminUtils.assignReplicasToBrokersRackUnaware
// (broker.rack is registered but placement ignores it for now).
package controller
