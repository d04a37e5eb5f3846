// Package quota keeps Kafka's client quotas (AlterClientQuotas,
// DescribeClientQuotas; kafka-configs --entity-type users / clients / ips)
// and enforces the byte-rate ones as Kafka's ClientQuotaManager does.
//
// # Entities and precedence
//
// A quota entity is a user, a client id, a user and a client id, or an IP,
// each name possibly the default (<default>, a nil name). For a request by
// user U with client id C the first entity with the quota key set wins,
// in Kafka's order: U+C, U+<default>, U, <default>+C, <default>+<default>,
// <default>, C, <default> client. The match also decides who shares one
// measured rate: a user-level quota is shared by all of that user's
// clients, a client-id-level one by all users of that client id (the tags
// of Kafka's DefaultQuotaCallback).
//
// # Measuring and throttling
//
// producer_byte_rate counts the record bytes of each Produce request,
// consumer_byte_rate the record bytes of each Fetch response (replica
// fetches are exempt). A rate is Kafka's Rate over quota.window.num
// samples (11) of quota.window.size.seconds (1 s): the bytes of the
// retained samples divided by the time they span, never less than
// samples-1 windows. When a record makes the rate exceed the quota the
// client is throttled for (rate - quota) / quota x window (QuotaUtils):
// the response carries throttle_time_ms and the connection is not read
// for that long (KIP-219); other clients are not affected. Samsa sends a
// throttled fetch's records with the throttle, where Kafka answers it
// empty.
//
// request_percentage, controller_mutation_rate (user / client-id) and
// connection_creation_rate (ip) are validated, stored and described, but
// not enforced yet. max.connections (accepting waits for a free slot; the
// inter-broker listener is exempt when there are several listeners) and
// max.connections.per.ip with max.connections.per.ip.overrides (a
// connection beyond is closed at once) are enforced by package protocol.
//
// # Storage and locking
//
// Quotas live in the controller (controller/quotas.go: quota/<entity>
// keys, one synced batch per AlterClientQuotas) and in memory here under
// mu; each measured rate has its own mutex, found through a sync.Map, so
// clients of different entities never contend. alterMu serializes
// AlterClientQuotas. With no quota set nothing is measured.
package quota
