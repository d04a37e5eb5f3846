// Package broker assembles a Samsa broker from its parts: configuration,
// controller, handlers and the protocol server. cmd/samsa and the tests
// both start brokers through it, so an in-process test broker is the same
// broker the binary runs.
//
// Start order: bind every Kafka listener (so port-0 listeners know their
// port before the controller registers the endpoint), bind and serve the
// HTTP listener if samsa.http.listeners is set (its /readyz answers 503
// with the phase until the end of Start), open the controller (metadata
// under the first log dir), recover the partition logs, load the groups,
// then serve the Kafka listeners. Stop order is the reverse: /readyz turns
// 503 "shutting down", stop accepting and let connections finish their
// in-flight request, stop the HTTP listener, then close the stores.
//
// Readiness (Ready, AddReadyCheck, package httpapi) is kept whether or
// not the HTTP listener is on; package embed reports it to embedders.
package broker
