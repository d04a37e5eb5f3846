// Package console is Samsa's built-in web console: a few server-rendered
// pages on the HTTP listener (samsa.http.listeners) that show brokers,
// topics, consumer groups and their lag, live throughput, and the records
// of a partition, without installing a separate UI such as Kafka UI, AKHQ
// or Redpanda Console.
//
// # Pages
//
//	GET  /                  brokers (id, address, rack, controller), topics
//	                        (partitions, replication factor, under-replicated
//	                        partitions, records, size) and a live chart of
//	                        produce and fetch bytes per second
//	GET  /topics/{name}     partitions (leader, replicas, ISR, log start and
//	                        end offsets, size), non-default configs
//	GET  /groups            groups (state, protocol, members, total lag)
//	GET  /groups/{id}       state, members and their assignments, committed
//	                        offset and lag per partition, a live lag chart
//	GET  /browse            records of one partition from an offset or a
//	                        timestamp (query: topic, partition, offset or
//	                        timestamp in ms or RFC 3339, limit <= 500,
//	                        format text|hex): offset, timestamp, key, value,
//	                        headers
//	GET  /console/static/   the embedded CSS, script and uPlot 1.6.32
//	GET  /console/api/throughput        JSON samples of the chart on /
//	GET  /console/api/groups/{id}/lag   JSON samples of the group's lag
//
// Two actions exist only with samsa.console.actions.enable=true (default
// false, when they answer 403): POST /topics (create a topic: name,
// partitions, replication factor) and POST /groups/{id}/reset (set every
// committed offset of an Empty group to the earliest or latest offset, as
// kafka-consumer-groups --reset-offsets --to-earliest|--to-latest does,
// which also refuses a group with members). Both require a same-origin
// request (Origin or Referer naming this host), so a page elsewhere
// cannot drive them from an operator's browser. The console is on
// whenever the HTTP listener is, unless samsa.console.enable=false.
//
// # Where the data comes from
//
// The console is a Kafka client of its own broker: it reads through
// franz-go's kadm over the broker's first Kafka listener (Metadata,
// ListOffsets, DescribeLogDirs, DescribeConfigs, ListGroups,
// DescribeGroups, OffsetFetch; the browser a Fetch). So it shows exactly
// what kafka-topics.sh and kafka-consumer-groups.sh would, and in cluster
// mode the whole cluster, not one broker's share. The client is created
// on the first page view and closed by Close.
//
// Only the throughput chart reads the broker directly: a sampler turns
// the all-topics BrokerTopicMetrics counts (package metrics) into bytes
// per second once a second, keeping the last five minutes. Group lag is
// sampled every LagEvery (5 s) while somebody has looked at a console
// page in the last ten minutes, keeping the last 120 samples per group,
// so an idle broker does not query itself.
//
// # Locking
//
// Console.clMu guards the lazily created client. sampler.mu guards the
// sample rings; the sampler goroutine is the only writer, handlers copy
// under the lock. lastView is an atomic.
package console
