// Package quota implements Kafka's client quotas and connection limits:
// the quota entities AlterClientQuotas and DescribeClientQuotas manage
// (KIP-546), the byte-rate and request-time quotas of Kafka's
// ClientQuotaManager and ClientRequestQuotaManager, and the connection
// limits of SocketServer.ConnectionQuotas.
//
// # Entities and keys
//
// An entity is a user, a client id, a user and client id, or an IP; any
// part may be the default entity (<default>, a null name on the wire,
// kafka-configs --entity-default). Users and client ids take
// producer_byte_rate and consumer_byte_rate (bytes per second, whole
// numbers), request_percentage (percent of one request handler thread,
// may be fractional) and controller_mutation_rate (stored and described;
// not enforced, as Samsa's topic mutations are not throttled); IPs take
// connection_creation_rate (connections per second, an int). Validation
// and its messages are ClientQuotaControlManager's (EntityFromWire,
// Apply) and ClientQuotasImage.describe's (ParseFilter); see those.
//
// # Which quota applies
//
// Each quota type (Produce, Fetch, Request) is resolved on its own, as
// Kafka runs one ClientQuotaManager per type. For a client with user u
// and client id c, the first entity with a value for the type wins:
//
//	user=u,client-id=c; user=u,client-id=<default>; user=u;
//	user=<default>,client-id=c; user=<default>,client-id=<default>;
//	user=<default>; client-id=c; client-id=<default>
//
// The winner also decides who shares a sensor (the metric tags of
// DefaultQuotaCallback.quotaMetricTags): a client-id quota is shared by
// all connections with that client id, a user quota by all of the user's
// connections, and default entities give each user or client id its own
// sensor with the default bound. The user is the name of the principal
// package security authenticated (protocol.Request.Principal,
// "User:alice" gives alice): the SASL user, the mapped client
// certificate name, or ANONYMOUS on a PLAINTEXT listener.
//
// # Windows and formulas
//
// A sensor is Kafka's Rate over a SampledStat: quota.window.num windows
// (default 11) of quota.window.size.seconds (default 1), in a ring of
// num+1. A record goes to the current window, which is replaced by a
// fresh one once it has lasted a window; windows without a record for
// num windows are reset. The rate is the sum of the windows divided by
// the window size in seconds, where the window size is the time since the
// oldest window started, but at least num-1 whole windows (10 s by
// default) and at least 1 ms. So a client's first 10 s allow 10 s worth
// of quota in any pattern, and the rate then follows a sliding 10-11 s
// span.
//
// The value recorded is the request size for Produce (header and body),
// the response size for Fetch, and for Request the handling time as
// percentage-seconds (nanoseconds * 100 / 1e9), so that the rate is a
// percentage. When the rate after recording is above the bound, the
// throttle time is QuotaUtils.throttleTime:
//
//	throttle_ms = round((rate - bound) / bound * window_size_ms)
//
// the time without traffic after which the rate is back at the bound.
// Request throttles are capped at one window (1 s), as
// ClientRequestQuotaManager caps them; byte-rate throttles are not capped.
// Produce and Fetch answer with the larger of the byte-rate and request
// throttle; a throttled Fetch answers no partitions and takes its size
// back out of the sensor (KafkaApis.handleFetchRequest), and a consumer's
// max_bytes is capped at bound * (num-1) * window seconds.
//
// The throttle goes into the response's throttle_time_ms and the
// connection is muted (KIP-219): the response is sent at once and the
// connection's read loop does not read the socket until the throttle
// time has passed (protocol.Request.Throttle). Responses at versions
// before KIP-219 are held back for the throttle time instead.
//
// # Connection limits
//
// ConnectionQuotas applies, for every accepted connection and in
// ConnectionQuotas.inc's order: max.connections (the accept loop waits
// until a connection closes, as Kafka's acceptor stops accepting),
// the IP's connection_creation_rate (its own, else the default IP's; over
// it, the connection is closed after the throttle time, capped at one
// window, and not counted), then max.connections.per.ip or the IP's
// entry in max.connections.per.ip.overrides (over it, closed at once).
// The inter-broker listener, when the broker has several
// (ConnConfig.ProtectedListener, Kafka's protectedListener), never waits
// for max.connections but its connections count toward it; Kafka's
// further step of closing another listener's least recently used
// connection to make room is not done. max.connections=0 admits only the
// protected listener, as in Kafka. Close (broker shutdown) wakes an
// accept loop waiting for a slot.
//
// # Cost and locking
//
// The quotas are an immutable snapshot behind an atomic pointer that is
// nil while no quota exists, so a request with no quota configured pays
// one atomic load and no lock or allocation (BenchmarkRecordNoQuota);
// Enabled(type) lets Produce and Fetch skip the clock too. With quotas,
// the sensor map is read under a sync.RWMutex (written only when a new
// client appears) and each sensor has its own mutex held for one record
// and measure; sensors unused for an hour are dropped. ConnectionQuotas
// has one mutex for its counts, taken once per accepted and closed
// connection.
package quota
