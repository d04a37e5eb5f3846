// Package httpapi is Samsa's HTTP listener: the operations endpoints that
// sit beside the Kafka protocol listeners. It is off unless
// samsa.http.listeners names at least one http://host:port (a
// comma-separated list, like Kafka's listeners; port 0 binds a free port,
// and Server.Addrs reports the bound addresses).
//
// # Endpoints
//
//   - GET /healthz: liveness. 200 "ok" whenever the process answers HTTP
//     at all, including during start-up and shutdown; a Kubernetes
//     livenessProbe that fails means the process is wedged.
//   - GET /readyz: readiness. 200 "ok" when every readiness check passes;
//     503 and one line naming the checks that fail, "not ready: <check>:
//     <reason>", otherwise. A check may pass with a note (a full log dir:
//     reads are still served, so the broker stays ready, and the body
//     says "ok: log dir: ..."). Kubernetes readinessProbes and CI scripts
//     that wait for the broker poll it.
//
// Both answer GET and HEAD; other methods get 405. Bodies are text/plain,
// one line, and never cached.
//
// # Readiness
//
// Readiness is a set of named checks (Readiness.Set). The broker
// (package broker) registers "startup", which fails with the start-up
// phase ("recovering partition logs", ...) until every Kafka listener is
// bound, log recovery has finished and the stores are open, and again
// with "shutting down" once Close begins; and "log dir", which passes
// with a note while the log dir is out of disk space. Cluster mode will
// add a check that passes once the broker is registered with the
// controller quorum and has caught up with the metadata log, without
// changes here.
//
// The listener is bound early in broker.Start, right after the Kafka
// listeners, so that /readyz answers 503 during a long log recovery
// rather than refusing connections. Kafka itself has no HTTP endpoint;
// these follow the Kubernetes API server's /healthz and /readyz.
//
// Other parts register their handlers on the same Server with Handle:
// the broker serves Prometheus /metrics (package metrics) there; the web
// console will follow.
package httpapi
