// Package integration holds Samsa's end-to-end tests: real clients (franz-go
// kgo and kadm, kcat) against a real broker, run once in-process and once as
// the built binary (see internal/testbroker). It has no non-test code.
package integration
