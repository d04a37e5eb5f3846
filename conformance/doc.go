// Package conformance is Samsa's differential conformance suite: it
// starts Apache Kafka (the newest 4.x release on Maven Central, KRaft,
// one combined node, from the jars the compatibility suite downloads) and
// Samsa side by side, sends both the same scripted sequences of raw
// requests (kmsg, at exactly the version written in the scenario, no
// client retries or version negotiation), and compares the answers field
// by field.
//
// A scenario's expectation is always Kafka's measured answer, never a
// hand-typed one. A difference fails the scenario and is printed as
//
//	<Api> v<N> <field path>: kafka=<value> samsa=<value>
//
// unless the field is in the allow-list (allowlist_test.go), which names
// the fields that legitimately differ between two brokers (cluster and
// topic ids, hosts and ports, throttle times, wall-clock timestamps, the
// wording of error messages) with the reason for each.
//
// Run it with `make conformance` (part of `make test`), which downloads
// the Kafka jars if needed and sets SAMSA_CONFORMANCE=1; without that
// variable the tests skip. The run writes conformance/REPORT.md: the
// scenarios, the differences found and the allow-list.
//
// Both brokers are shared by all scenarios of a run, so every scenario
// works on topics and groups of its own (named after the scenario), and
// the same names are used on both sides so that answers compare.
package conformance
