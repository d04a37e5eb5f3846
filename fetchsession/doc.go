// Package fetchsession is Kafka's incremental fetch sessions (KIP-227):
// a consumer or follower that fetches many partitions names them once,
// and afterwards sends only the partitions whose fetch position changed
// and receives only the partitions that have something new. With 10,000
// partitions that is the difference between a few hundred bytes and a
// few hundred kilobytes per fetch in each direction. The semantics follow
// Kafka's FetchManager, FetchSession and FetchSessionCache
// (core/src/main/scala/kafka/server/FetchSession.scala).
//
// # Request kinds (by the request's session id and epoch)
//
//	epoch -1 (FINAL)     full, sessionless: the request lists every
//	                     partition; a session named by the id is closed;
//	                     the answer has session id 0.
//	epoch 0 (INITIAL)    full: as above, and a new session is created from
//	                     the partitions and the answer, if the cache admits
//	                     it; the answer carries its id (0 if none).
//	epoch > 0            incremental, against session id: the request
//	                     lists partitions to add or update and "forgotten"
//	                     ones to drop. Unknown id: FETCH_SESSION_ID_NOT_FOUND.
//	                     Epoch other than the session's next:
//	                     INVALID_FETCH_SESSION_EPOCH. A session made with
//	                     topic ids (Fetch v13+) used by a request without
//	                     them, or the reverse: FETCH_SESSION_TOPIC_ID_ERROR.
//	                     A session left without partitions is closed and
//	                     the request answered sessionless.
//
// The epoch a session expects next starts at 1 and increments with each
// incremental fetch, wrapping from MaxInt32 to 1. An incremental fetch
// reads every partition of the session (in the session's order, which
// matters when the response's byte limit is reached) and answers only
// those that have records, an error, a high watermark or log start
// offset other than the last one sent, a diverging epoch or a preferred
// read replica. Partitions that returned records move to the end of the
// order, so that the next fetch starts with the others (fairness under
// fetch.max.bytes).
//
// # The cache
//
// At most max.incremental.fetch.session.cache.slots sessions (default
// 1000) are kept. A new session that does not fit may evict the least
// recently used session if it has been idle for more than 120 s;
// otherwise it evicts the smallest evictable session if it is larger than
// that one. Sessions of followers (replica id >= 0) are privileged: they
// can be evicted only by other privileged ones until they are 120 s old.
// When nothing can be evicted, the answer simply has no session and the
// client keeps sending full fetches. Sessions live in memory only; after
// a restart clients get FETCH_SESSION_ID_NOT_FOUND and start over.
//
// # Locking
//
// Cache.mu guards the session map and every session's cache bookkeeping
// (lastUsed, size); Session.mu guards a session's partitions and epoch.
// Cache.mu is taken before Session.mu, never the reverse. A request holds
// neither while it reads the log or waits for data: Begin updates the
// session and copies what the read needs, Finish filters the answer.
package fetchsession
