// Package metrics is Samsa's Prometheus /metrics: the counters the
// request paths add to, and the collector that exports them, with the
// gauges that need a walk, when scraped.
//
// # Names
//
// Kafka's own metrics are JMX MBeans; operators scrape them through the
// Prometheus JMX exporter, and most dashboards and alerts are written
// against what Strimzi's kafka-metrics.yaml rules make of them
// (lowercased "kafka_<domain>_<type>_<name>", "...PerSec" meters as
// "<name>_total" counters of the meter's Count, gauges by name, MBean
// keys as labels). Samsa exports the same names and labels, so that
// those dashboards work unchanged: e.g. BrokerTopicMetrics BytesInPerSec
// with topic=t is kafka_server_brokertopicmetrics_bytesin_total{topic="t"},
// and without the topic key (all topics) the same name without the
// label. Consumer group lag, which Kafka does not export, uses
// kafka_exporter's names (kafka_consumergroup_lag{consumergroup,topic,
// partition}, ...). Go runtime and process metrics are client_golang's.
//
// # Cost
//
// The request path only adds to atomics: Handler keeps RequestMetrics in
// arrays indexed by API key and version (no lock, no allocation), and
// per-topic BrokerTopicMetrics are found through an immutable index
// behind an atomic pointer (Broker.TopicByID / TopicByName), copied only
// when a topic is first seen or deleted. Connection counts change once
// per connection. Everything that needs a walk over topics, partition
// logs or groups (log sizes and offsets, replica manager counts, group
// states, lag) is computed by Collector when /metrics is scraped.
//
// # Differences from Kafka
//
// RequestMetrics TotalTimeMs and RequestQueueTimeMs are Prometheus
// histograms (_bucket, _sum, _count) rather than the JMX exporter's
// quantile gauges; their _count is the same series. TotalTimeMs measures
// from a request's decoding to its response being ready. Samsa has no
// request queue and no handler thread pool: a connection's read loop
// decodes a request and runs its handler itself, so RequestQueueTimeMs
// is the time from the frame's last byte read to the handler starting
// (the header and body decoding), near zero, exported so that dashboards
// and alerts that query it find it. The thread pool idle ratios
// (NetworkProcessorAvgIdlePercent, RequestHandlerAvgIdlePercent) do not
// exist. networkProcessor is always "0". Error counts cover every API:
// the frequent ones are walked by hand, the rest by reflection over the
// response's ErrorCode fields.
package metrics
