// Package interop runs Apache Kafka 3.9 brokers and Samsa brokers in one
// ZooKeeper cluster (issue 13): the mixed cluster an operator goes
// through when moving a ZooKeeper-mode Kafka cluster to Samsa one broker
// at a time.
//
// # How it runs
//
// `make interop` downloads Kafka 3.9's broker (org.apache.kafka:kafka_2.13
// 3.9.1, interop/pom.xml) and its runtime dependencies from Maven Central
// into interop/target/lib (scripts/install-kafka39.sh) and ZooKeeper 3.8.4
// (internal/zktest), then runs this package's tests. Each test starts one
// real ZooKeeper, Kafka brokers as `java kafka.Kafka server.properties`
// with that classpath (zookeeper.connect with the chroot /kafka,
// broker.id, inter.broker.protocol.version=3.9, a PLAINTEXT listener on a
// free loopback port, -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1,
// log4j at WARN plus the state-change logger) and Samsa binaries
// (internal/testbroker). Without java or the jars the tests are skipped,
// unless SAMSA_REQUIRE_TOOLS=1 (make interop sets it), when they fail.
// `make unit` leaves this package to `make interop`.
//
// Every test fails on an ERROR, or a warning Kafka does not also log in
// a cluster of its own brokers (benignKafkaWarning), in a Kafka broker's
// output; a failed test writes every broker's whole output to
// interop/target/logs/<test>/.
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
package interop
