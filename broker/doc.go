// Package broker assembles a Samsa broker from its parts: configuration,
// controller, handlers and the protocol server. cmd/samsa and the tests
// both start brokers through it, so an in-process test broker is the same
// broker the binary runs.
//
// Start order: open the controller (metadata under the first log dir), then
// bind every listener, then serve. Stop order is the reverse: stop
// accepting and let connections finish their in-flight request, then close
// the stores.
package broker
