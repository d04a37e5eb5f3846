// Package handlers holds one file per Kafka API, named after the API key
// (18_api_versions.go, 03_metadata.go, ...), in the manner of franz-go's
// kfake.
//
// Each file registers its API with the version range it serves in an init
// function. That registry is the only source of truth for versions: the
// protocol layer asks it whether to accept a request (Serves), and the
// ApiVersions response is generated from it, so what Samsa advertises and
// what it serves cannot drift apart.
//
// Handlers are thin: they translate between kmsg messages and the packages
// that own the state (controller for cluster metadata, logstore for
// partition logs), and map those packages' errors to Kafka error codes.
// Errors from those packages are franz-go kerr values, possibly wrapped;
// errCode unwraps them.
//
// A handler returns the response for the request's version (the protocol
// layer sets the version before encoding). Returning an error closes the
// client's connection; that is for requests Kafka itself would drop, not
// for per-topic failures, which go in the response.
//
// Concurrency: the protocol layer calls a handler from the connection's
// read loop, one request at a time per connection, and many connections
// at once; every handler is therefore safe for concurrent use. Produce
// alone fans out within one request: a request of several partitions of
// at least 256 KiB in all is appended by up to GOMAXPROCS goroutines, one
// partition each at a time (appendAll in 00_produce.go), and its
// response's errors are filled in request order afterwards; Kafka appends
// them one after the other.
//
// With an authorizer (Deps.Authorizer, authorizer.class.name), Handle goes
// through authorize.go first: it checks what KafkaApis checks for the API
// with the request's Principal, takes refused resources out of the
// request, serves the rest, and adds the refused ones back to the
// response with Kafka's authorization error; see package acl.
package handlers
