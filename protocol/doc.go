// Package protocol is Samsa's network front end: it accepts TCP connections,
// splits the byte stream into Kafka request frames, decodes request headers,
// hands decoded requests to a Handler and writes the responses back.
//
// # Framing
//
// Every Kafka request and response is a frame: a big-endian int32 size
// followed by that many bytes. A request frame starts with the request
// header:
//
//	api_key int16, api_version int16, correlation_id int32,
//	client_id nullable_string                      (header v1)
//	+ tagged_fields                                 (header v2, flexible versions)
//
// ControlledShutdown v0 is the one request that uses header v0 (no client
// id). Whether a version is flexible is a property of the API and version, so
// the header cannot be decoded before the key and version are known; kmsg
// supplies that fact. The body after the header is decoded with kmsg, never
// by hand.
//
// A response frame is size, correlation_id, then tagged fields when the
// response is flexible (header v1), then the body. ApiVersions responses
// always use header v0 so that a client that does not yet know which
// versions the broker speaks can read them (KIP-511).
//
// # Connections
//
// Each connection has two goroutines, like nats-server: a read loop that
// reads a frame, decodes it, calls the Handler and queues the encoded
// response, and a write loop that drains the queue and writes responses with
// one writev when several are pending. Because requests of a connection are
// handled one after another in the read loop, responses leave in request
// order, as Kafka guarantees; a Kafka broker also stops reading a connection
// until its in-flight request is answered.
//
// # Idle connections
//
// Config.MaxIdle is Kafka's connections.max.idle.ms (default 10 minutes):
// a connection with no request in flight and no bytes read or written for
// that long is closed, as Kafka's Selector closes idle channels. Only a
// read that has to wait on the socket arms the read deadline, so a request
// in flight (a long-poll Fetch, a JoinGroup waiting for its group) is never
// cut, pipelined requests cost no deadline update, and there is no timer
// per connection. When the deadline passes the read loop checks the write
// side: a response queued or being written, or bytes that arrived, move
// the deadline on. A frame that stops half-way is closed within twice the
// limit. A write the peer stops reading is cut once it has lasted the
// limit, noticed by the read deadline or, when the response queue is full
// and the read loop waits on it, by a timer armed only then (Kafka would
// keep a slowly progressing write alive).
//
// # Security
//
// A listener served with ServeSecure has a Security (package security
// implements it): on the connection's goroutine, before any frame, Accept
// does the TLS handshake and returns the connection's Session. The read
// loop asks the Session about every request: Gate sees the API key before
// the body is decoded (an unauthenticated request other than ApiVersions
// or SaslHandshake closes the connection, as Kafka's
// SaslServerAuthenticator does), Intercept answers SaslHandshake and
// SaslAuthenticate while authenticating, and RawToken switches the loop
// to bare size-prefixed SASL tokens after a SaslHandshake v0. Every
// Request carries the connection's Principal ("User:ANONYMOUS" on
// PLAINTEXT) for the authorizer. Over TLS the write loop gathers the
// queued responses into one buffered write, so small responses share TLS
// records.
//
// # Throttling and connection limits
//
// A handler that finds the client over a quota calls Request.Throttle
// (package quota computes the time). When the response version lets the
// client throttle itself (KIP-219), the response is queued at once and
// the read loop then waits out the throttle time before reading the next
// request, so the connection is muted while the write loop still sends
// what is queued; for older versions the read loop waits first and the
// response goes out after it, as Kafka delays it. Shutdown ends the wait
// and closes the connection. Config.Limiter (quota.ConnectionQuotas) is
// asked about every accepted connection before it is served: it may
// block the accept loop (max.connections), close the connection at once
// (max.connections.per.ip) or after a delay (an IP's
// connection_creation_rate), and is told when an admitted connection
// closes; the inter-broker listener never waits for max.connections
// when there are several listeners (Kafka's protectedListener), and
// Shutdown calls its Close so that an accept loop waiting for a slot
// returns.
//
// # Bad input
//
// Nothing a client sends may stop the broker or disturb other connections.
// A frame size that is negative or above socket.request.max.bytes closes the
// connection before any buffer is allocated. An unknown API key, a version
// the broker does not advertise, or a body that does not decode closes the
// connection with a warning naming the client address and client id. The one
// exception is ApiVersions at an unknown version: it is answered with a v0
// response carrying UNSUPPORTED_VERSION and the supported ranges, so that
// the client can negotiate down. A panic in a handler is recovered, logged
// with its stack, and closes only that connection.
//
// # Buffers
//
// Request frames and encoded responses live in pooled byte slices. A decoded
// kmsg request may alias its frame buffer (record batches are not copied),
// so the frame is returned to the pool only after the handler has returned:
// handlers that keep bytes beyond the call must copy them.
//
// # Zero-copy Fetch
//
// Fetch record bytes do not pass through user space (Kafka's
// FileRecords.writeTo with transferFrom). The handler puts a per-response
// marker (a random 8-byte nonce and the range's index) in place of each
// partition's records (Request.SpliceRecords); kmsg encodes the body as
// always, and the connection finds the markers in order and cuts the
// encoded bytes there, writing each records field's length prefix (int32,
// or uvarint(len+1) for flexible versions) by hand. The queued response is
// a list of pieces: byte pieces go with writev, file ranges with
// sendfile(2) at an explicit offset through the socket's RawConn (EAGAIN
// waits on the poller). A range of at most smallRange (16 KiB; a consumer
// of many partitions with little new in each) is read with pread into a
// per-connection stage and goes out in the writev with the bytes around
// it: one system call per partition instead of a writev and a sendfile.
// TLS connections, and files without a descriptor, pread the range into
// a pooled buffer instead. A range that comes up
// short (the segment was truncated under it) cannot complete the frame:
// the connection is closed, as Kafka does, and the client fetches again.
// FuzzSpliceFetchResponse checks the spliced bytes against kmsg's own
// encoding for every Fetch version. SendfileBytes counts what went by
// sendfile.
package protocol
