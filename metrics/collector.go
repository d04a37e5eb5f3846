package metrics

import (
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/procfs"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/groups"
	"samsa/logstore"
)

// Sources are what the collector reads at scrape time. Any may be nil
// (e.g. before the stores open); the metrics that need it are then left
// out of the scrape.
type Sources struct {
	BrokerID int32
	// MinInsyncReplicas is a topic's effective min.insync.replicas: its
	// override, else the dynamic broker config, else the static default
	// (the value Produce enforces, handlers.Handlers.MinInsyncReplicas);
	// nil: 1.
	MinInsyncReplicas func(topic string) int
	Controller        controller.Controller
	Logs              *logstore.Store
	Groups            *groups.Coordinator
	// Replicas is the replica manager (cluster mode), for
	// ReplicaManager's ReassigningPartitions; nil: 0.
	Replicas ReplicaCounts
}

// ReplicaCounts is what the collector asks the replica manager
// (replica.Manager implements it).
type ReplicaCounts interface {
	// ReassigningPartitions is the number of partitions this broker
	// leads that are being reassigned.
	ReassigningPartitions() int
}

// Collector is the prometheus.Collector of a broker: the counters of
// Broker, and the gauges that need a walk over topics, logs or groups,
// which it computes when scraped, never on a request's path.
type Collector struct {
	m   *Broker
	src func() Sources

	rateMu  sync.Mutex // guards rates
	rates   map[string]rateWindow
	rateWin time.Duration
}

// rateWindow is the connection-creation count at the start of the
// window Kafka's connection-creation-rate is measured over.
type rateWindow struct {
	at    time.Time
	count uint64
	rate  float64
}

// NewCollector returns the collector of m, reading the broker's state
// from src at each scrape.
func NewCollector(m *Broker, src func() Sources) *Collector {
	return &Collector{m: m, src: src, rates: map[string]rateWindow{}, rateWin: 30 * time.Second}
}

// Registry returns a registry with c and client_golang's Go runtime and
// process collectors, and HTTPHandler serves it.
func Registry(c *Collector) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// HTTPHandler serves the Prometheus text (or protobuf / OpenMetrics, as
// the scraper asks) exposition of r for /metrics.
func HTTPHandler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// d is shorthand for a descriptor.
func d(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// Descriptors. Names are those the Prometheus JMX exporter gives Kafka's
// MBeans with Strimzi's kafka-metrics.yaml rules (lowercased type and
// name, "PerSec" meters as <name>_total counters, gauges by name), and
// kafka_exporter's names for what Kafka itself does not export.
var (
	btmNames = [...]string{
		"kafka_server_brokertopicmetrics_bytesin_total",
		"kafka_server_brokertopicmetrics_bytesout_total",
		"kafka_server_brokertopicmetrics_messagesin_total",
		"kafka_server_brokertopicmetrics_totalproducerequests_total",
		"kafka_server_brokertopicmetrics_failedproducerequests_total",
		"kafka_server_brokertopicmetrics_totalfetchrequests_total",
		"kafka_server_brokertopicmetrics_failedfetchrequests_total",
	}
	btmHelp = [...]string{
		"Record batch bytes appended by produce requests (BrokerTopicMetrics BytesInPerSec).",
		"Record batch bytes sent by fetch requests (BrokerTopicMetrics BytesOutPerSec).",
		"Records appended by produce requests (BrokerTopicMetrics MessagesInPerSec).",
		"Partitions of produce requests (BrokerTopicMetrics TotalProduceRequestsPerSec).",
		"Partitions of produce requests that failed (BrokerTopicMetrics FailedProduceRequestsPerSec).",
		"Partitions of fetch requests (BrokerTopicMetrics TotalFetchRequestsPerSec).",
		"Partitions of fetch requests that failed (BrokerTopicMetrics FailedFetchRequestsPerSec).",
	}
	btmDescs = func() (out [len(btmNames)]*prometheus.Desc) {
		for i, h := range btmHelp {
			out[i] = d(btmNames[i], h, "topic")
		}
		return out
	}()
	// The all-topics meters have no topic label, as the JMX exporter
	// exports the MBean without a topic key.
	btmAllDescs = func() (out [len(btmDescs)]*prometheus.Desc) {
		for i, h := range btmHelp {
			out[i] = d(btmNames[i], h)
		}
		return out
	}()

	// The replication meters exist only for all topics.
	replBytesInDesc      = d("kafka_server_brokertopicmetrics_replicationbytesin_total", "Record bytes followers on this broker appended from their leaders (BrokerTopicMetrics ReplicationBytesInPerSec).")
	replBytesOutDesc     = d("kafka_server_brokertopicmetrics_replicationbytesout_total", "Record bytes this broker sent to followers (BrokerTopicMetrics ReplicationBytesOutPerSec).")
	reassignBytesInDesc  = d("kafka_server_brokertopicmetrics_reassignmentbytesin_total", "Record bytes appended from leaders by replicas a reassignment adds (BrokerTopicMetrics ReassignmentBytesInPerSec).")
	reassignBytesOutDesc = d("kafka_server_brokertopicmetrics_reassignmentbytesout_total", "Record bytes this broker sent to replicas a reassignment adds (BrokerTopicMetrics ReassignmentBytesOutPerSec).")

	reqTotalDesc  = d("kafka_network_requestmetrics_requests_total", "Requests by API and version (RequestMetrics RequestsPerSec).", "request", "version")
	reqErrorsDesc = d("kafka_network_requestmetrics_errors_total", "Error codes in responses, NONE included (RequestMetrics ErrorsPerSec).", "request", "error")
	reqTimeDesc   = d("kafka_network_requestmetrics_totaltimems", "Time from a request's decoding to its response, in milliseconds (RequestMetrics TotalTimeMs).", "request")
	reqQueueDesc  = d("kafka_network_requestmetrics_requestqueuetimems", "Time from a request's last byte read to its handler starting (decoding and dispatch; Samsa has no handler thread pool to wait for), in milliseconds (RequestMetrics RequestQueueTimeMs).", "request")

	connCountDesc    = d("kafka_server_socket_server_metrics_connection_count", "Open connections (socket-server-metrics connection-count).", "listener", "networkProcessor")
	connCreatedDesc  = d("kafka_server_socket_server_metrics_connection_creation_total", "Connections accepted (socket-server-metrics connection-creation-total).", "listener", "networkProcessor")
	connClosedDesc   = d("kafka_server_socket_server_metrics_connection_close_total", "Connections closed (socket-server-metrics connection-close-total).", "listener", "networkProcessor")
	connRateDesc     = d("kafka_server_socket_server_metrics_connection_creation_rate", "Connections accepted per second over about the last 30 seconds (socket-server-metrics connection-creation-rate).", "listener", "networkProcessor")
	rmPartitionsDesc = d("kafka_server_replicamanager_partitioncount", "Partitions this broker has a replica of (ReplicaManager PartitionCount).")
	rmLeadersDesc    = d("kafka_server_replicamanager_leadercount", "Partitions this broker leads (ReplicaManager LeaderCount).")
	rmURPDesc        = d("kafka_server_replicamanager_underreplicatedpartitions", "Led partitions with fewer in-sync replicas than replicas (ReplicaManager UnderReplicatedPartitions).")
	rmUnderMinDesc   = d("kafka_server_replicamanager_underminisrpartitioncount", "Led partitions with fewer in-sync replicas than min.insync.replicas (ReplicaManager UnderMinIsrPartitionCount).")
	rmAtMinDesc      = d("kafka_server_replicamanager_atminisrpartitioncount", "Led partitions with exactly min.insync.replicas in-sync replicas (ReplicaManager AtMinIsrPartitionCount).")
	rmOfflineDesc    = d("kafka_server_replicamanager_offlinereplicacount", "Replicas on this broker whose log is unavailable (ReplicaManager OfflineReplicaCount).")
	rmReassignDesc   = d("kafka_server_replicamanager_reassigningpartitions", "Partitions this broker leads that are being reassigned (ReplicaManager ReassigningPartitions).")

	cpURDesc       = d("kafka_cluster_partition_underreplicated", "1 when the partition is under-replicated (Partition UnderReplicated).", "topic", "partition")
	cpUnderMinDesc = d("kafka_cluster_partition_underminisr", "1 when the partition has fewer in-sync replicas than min.insync.replicas (Partition UnderMinIsr).", "topic", "partition")
	cpAtMinDesc    = d("kafka_cluster_partition_atminisr", "1 when the partition has exactly min.insync.replicas in-sync replicas (Partition AtMinIsr).", "topic", "partition")
	cpReplicasDesc = d("kafka_cluster_partition_replicascount", "Replicas of the partition (Partition ReplicasCount).", "topic", "partition")
	cpISRDesc      = d("kafka_cluster_partition_insyncreplicascount", "In-sync replicas of the partition (Partition InSyncReplicasCount).", "topic", "partition")

	ctrlActiveDesc       = d("kafka_controller_kafkacontroller_activecontrollercount", "1 on the broker that is the active controller (KafkaController ActiveControllerCount).")
	ctrlOfflineDesc      = d("kafka_controller_kafkacontroller_offlinepartitionscount", "Partitions without a leader (KafkaController OfflinePartitionsCount).")
	ctrlTopicsDesc       = d("kafka_controller_kafkacontroller_globaltopiccount", "Topics in the cluster (KafkaController GlobalTopicCount).")
	ctrlPartitionsDesc   = d("kafka_controller_kafkacontroller_globalpartitioncount", "Partitions in the cluster (KafkaController GlobalPartitionCount).")
	ctrlBrokersDesc      = d("kafka_controller_kafkacontroller_activebrokercount", "Registered brokers that are not fenced (KafkaController ActiveBrokerCount).")
	ctrlUncleanDesc      = d("kafka_controller_controllerstats_uncleanleaderelections_total", "Leaders this broker elected from outside the ISR as controller (ControllerStats UncleanLeaderElectionsPerSec); never on a single node.")
	ctrlReassignTimeDesc = d("kafka_controller_controllerstats_partitionreassignmentrateandtimems", "Time the controller spent on each partition reassignment event (an AlterPartitionReassignments request or a /admin/reassign_partitions change), in milliseconds (ControllerStats PartitionReassignmentRateAndTimeMs).")

	logSizeDesc     = d("kafka_log_log_size", "Bytes of the partition's log on disk (Log Size).", "topic", "partition")
	logStartDesc    = d("kafka_log_log_logstartoffset", "The partition's log start offset (Log LogStartOffset).", "topic", "partition")
	logEndDesc      = d("kafka_log_log_logendoffset", "The partition's log end offset (Log LogEndOffset).", "topic", "partition")
	logSegmentsDesc = d("kafka_log_log_numlogsegments", "Segments of the partition's log (Log NumLogSegments).", "topic", "partition")

	gmmNumGroupsDesc = d("kafka_coordinator_group_groupmetadatamanager_numgroups", "Consumer groups (GroupMetadataManager NumGroups).")
	gmmStateDescs    = map[string]*prometheus.Desc{
		"PreparingRebalance":  d("kafka_coordinator_group_groupmetadatamanager_numgroupspreparingrebalance", "Groups in PreparingRebalance (GroupMetadataManager NumGroupsPreparingRebalance)."),
		"CompletingRebalance": d("kafka_coordinator_group_groupmetadatamanager_numgroupscompletingrebalance", "Groups in CompletingRebalance (GroupMetadataManager NumGroupsCompletingRebalance)."),
		"Stable":              d("kafka_coordinator_group_groupmetadatamanager_numgroupsstable", "Groups in Stable (GroupMetadataManager NumGroupsStable)."),
		"Dead":                d("kafka_coordinator_group_groupmetadatamanager_numgroupsdead", "Groups in Dead (GroupMetadataManager NumGroupsDead)."),
		"Empty":               d("kafka_coordinator_group_groupmetadatamanager_numgroupsempty", "Groups in Empty (GroupMetadataManager NumGroupsEmpty)."),
	}
	gmmOffsetsDesc = d("kafka_coordinator_group_groupmetadatamanager_numoffsets", "Committed offsets held by the group coordinator (GroupMetadataManager NumOffsets).")

	diskReadDesc  = d("kafka_server_kafkaserver_linux_disk_read_bytes", "Bytes the process read from storage, /proc/self/io read_bytes (KafkaServer linux-disk-read-bytes).")
	diskWriteDesc = d("kafka_server_kafkaserver_linux_disk_write_bytes", "Bytes the process wrote to storage, /proc/self/io write_bytes (KafkaServer linux-disk-write-bytes).")

	// kafka_exporter (github.com/danielqsj/kafka_exporter) names.
	keBrokersDesc     = d("kafka_brokers", "Brokers in the cluster (kafka_exporter).")
	keBrokerInfoDesc  = d("kafka_broker_info", "One per broker, with its address and id (kafka_exporter).", "address", "id")
	keTopicPartsDesc  = d("kafka_topic_partitions", "Partitions of the topic (kafka_exporter).", "topic")
	keCurOffsetDesc   = d("kafka_topic_partition_current_offset", "Log end offset (high watermark) of the partition (kafka_exporter).", "topic", "partition")
	keOldOffsetDesc   = d("kafka_topic_partition_oldest_offset", "Log start offset of the partition (kafka_exporter).", "topic", "partition")
	keLeaderDesc      = d("kafka_topic_partition_leader", "Leader broker id of the partition (kafka_exporter).", "topic", "partition")
	keReplicasDesc    = d("kafka_topic_partition_replicas", "Replicas of the partition (kafka_exporter).", "topic", "partition")
	keISRDesc         = d("kafka_topic_partition_in_sync_replica", "In-sync replicas of the partition (kafka_exporter).", "topic", "partition")
	kePreferredDesc   = d("kafka_topic_partition_leader_is_preferred", "1 when the leader is the preferred (first) replica (kafka_exporter).", "topic", "partition")
	keURPDesc         = d("kafka_topic_partition_under_replicated_partition", "1 when the partition is under-replicated (kafka_exporter).", "topic", "partition")
	keCGOffsetDesc    = d("kafka_consumergroup_current_offset", "Committed offset of the group for the partition (kafka_exporter).", "consumergroup", "topic", "partition")
	keCGOffsetSumDesc = d("kafka_consumergroup_current_offset_sum", "Sum of the group's committed offsets over the topic's partitions (kafka_exporter).", "consumergroup", "topic")
	keCGLagDesc       = d("kafka_consumergroup_lag", "Log end offset minus committed offset (kafka_exporter).", "consumergroup", "topic", "partition")
	keCGLagSumDesc    = d("kafka_consumergroup_lag_sum", "Sum of the group's lag over the topic's partitions (kafka_exporter).", "consumergroup", "topic")
	keCGMembersDesc   = d("kafka_consumergroup_members", "Members of the group (kafka_exporter).", "consumergroup")
)

// Describe implements prometheus.Collector. The collector is unchecked
// (it sends no descriptors): the label sets of the walk-based gauges
// change with topics and groups, and the all-topics BrokerTopicMetrics
// share their names with the per-topic ones, as the JMX exporter's
// output does.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(desc *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, lv...)
	}
	gauge := func(desc *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, lv...)
	}
	m := c.m

	// BrokerTopicMetrics.
	btm := func(tc *TopicCounters, descs []*prometheus.Desc, lv ...string) {
		counter(descs[0], float64(tc.BytesIn.Load()), lv...)
		counter(descs[1], float64(tc.BytesOut.Load()), lv...)
		counter(descs[2], float64(tc.MessagesIn.Load()), lv...)
		counter(descs[3], float64(tc.TotalProduceRequests.Load()), lv...)
		counter(descs[4], float64(tc.FailedProduceRequests.Load()), lv...)
		counter(descs[5], float64(tc.TotalFetchRequests.Load()), lv...)
		counter(descs[6], float64(tc.FailedFetchRequests.Load()), lv...)
	}
	btm(&m.all, btmAllDescs[:])
	counter(replBytesInDesc, float64(m.replicationBytesIn.Load()))
	counter(replBytesOutDesc, float64(m.replicationBytesOut.Load()))
	counter(reassignBytesInDesc, float64(m.reassignmentBytesIn.Load()))
	counter(reassignBytesOutDesc, float64(m.reassignmentBytesOut.Load()))
	for _, tc := range m.topics.Load().byID {
		btm(tc, btmDescs[:], tc.Name)
	}

	// RequestMetrics.
	for key := range m.requests {
		rc := &m.requests[key]
		name := kmsg.NameForKey(int16(key))
		var n uint64
		for v := range rc.byVersion {
			if x := rc.byVersion[v].Load(); x > 0 {
				counter(reqTotalDesc, float64(x), name, strconv.Itoa(v))
				n += x
			}
		}
		if n == 0 {
			continue
		}
		for i := range rc.errors {
			if x := rc.errors[i].Load(); x > 0 {
				counter(reqErrorsDesc, float64(x), name, errorName(int16(i-1)))
			}
		}
		ch <- histogram(reqTimeDesc, &rc.buckets, rc.totalMicro.Load(), name)
		ch <- histogram(reqQueueDesc, &rc.queueBuckets, rc.queueMicro.Load(), name)
	}

	// Network.
	c.m.listenersMu.Lock()
	ls := append([]*listenerCounters(nil), m.listeners...)
	c.m.listenersMu.Unlock()
	now := time.Now()
	for _, l := range ls {
		created := l.created.Load()
		gauge(connCountDesc, float64(l.open.Load()), l.name, "0")
		counter(connCreatedDesc, float64(created), l.name, "0")
		counter(connClosedDesc, float64(l.closed.Load()), l.name, "0")
		gauge(connRateDesc, c.creationRate(l.name, created, now), l.name, "0")
	}

	if io, err := readProcIO(); err == nil {
		gauge(diskReadDesc, float64(io.ReadBytes))
		gauge(diskWriteDesc, float64(io.WriteBytes))
	}

	src := c.src()
	if src.Controller != nil {
		c.collectCluster(ch, src)
	}
	if src.Groups != nil {
		c.collectGroups(ch, src)
	}
}

// creationRate returns connections per second over the current window
// of about rateWin, restarting the window once it is that old (Kafka's
// Rate over its samples is similar: a rate over the last ~30 s).
// histogram turns bucket counts over totalTimeBuckets (the last one +Inf)
// and a sum in microseconds into a Prometheus histogram in milliseconds.
func histogram(desc *prometheus.Desc, counts *[len(totalTimeBuckets) + 1]atomic.Uint64, sumMicro uint64, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(totalTimeBuckets))
	var cum uint64
	for i, ub := range totalTimeBuckets {
		cum += counts[i].Load()
		buckets[ub] = cum
	}
	cum += counts[len(totalTimeBuckets)].Load()
	return prometheus.MustNewConstHistogram(desc, cum, float64(sumMicro)/1000, buckets, labels...)
}

func (c *Collector) creationRate(listener string, count uint64, now time.Time) float64 {
	c.rateMu.Lock()
	defer c.rateMu.Unlock()
	w, ok := c.rates[listener]
	if !ok {
		// First scrape: the rate since the broker started.
		w = rateWindow{at: c.m.start, count: 0}
	}
	el := now.Sub(w.at).Seconds()
	if el > 0 {
		w.rate = float64(count-w.count) / el
	}
	if !ok || now.Sub(w.at) >= c.rateWin {
		w.at, w.count = now, count
	}
	c.rates[listener] = w
	return w.rate
}

// collectCluster emits the replica manager, partition, controller, log
// and kafka_exporter topic gauges, from one walk over the topics.
func (c *Collector) collectCluster(ch chan<- prometheus.Metric, src Sources) {
	gauge := func(desc *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, lv...)
	}
	self := src.BrokerID
	brokers := src.Controller.Brokers()
	gauge(keBrokersDesc, float64(len(brokers)))
	for _, b := range brokers {
		gauge(keBrokerInfoDesc, 1, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))), strconv.Itoa(int(b.ID)))
	}
	active := 0.0
	if src.Controller.ControllerID() == self {
		active = 1
	}
	gauge(ctrlActiveDesc, active)
	gauge(ctrlBrokersDesc, float64(len(brokers)))
	cs := &c.m.controllerStats
	ch <- prometheus.MustNewConstMetric(ctrlUncleanDesc, prometheus.CounterValue, float64(cs.uncleanLeaderElections.Load()))
	ch <- histogram(ctrlReassignTimeDesc, &cs.reassignBuckets, cs.reassignMicro.Load())

	var partCount, leaders, urp, underMin, atMin, offlineReplicas, offlineParts, globalParts int
	topics := src.Controller.Topics()
	for _, t := range topics {
		minISR := 1
		if src.MinInsyncReplicas != nil {
			minISR = src.MinInsyncReplicas(t.Name)
		}
		gauge(keTopicPartsDesc, float64(len(t.Partitions)), t.Name)
		for _, p := range t.Partitions {
			globalParts++
			ps := strconv.Itoa(int(p.Index))
			if p.Leader < 0 {
				offlineParts++
			}
			hasReplica := false
			for _, r := range p.Replicas {
				hasReplica = hasReplica || r == self
			}
			isURP := len(p.ISR) < len(p.Replicas)
			preferred := 0.0
			if len(p.Replicas) > 0 && p.Leader == p.Replicas[0] {
				preferred = 1
			}
			gauge(keLeaderDesc, float64(p.Leader), t.Name, ps)
			gauge(keReplicasDesc, float64(len(p.Replicas)), t.Name, ps)
			gauge(keISRDesc, float64(len(p.ISR)), t.Name, ps)
			gauge(kePreferredDesc, preferred, t.Name, ps)
			gauge(keURPDesc, b2f(isURP), t.Name, ps)
			var lp *logstore.Partition
			if src.Logs != nil {
				lp, _ = src.Logs.Partition(t.Name, p.Index)
			}
			if lp != nil {
				gauge(keCurOffsetDesc, float64(lp.HighWatermark()), t.Name, ps)
				gauge(keOldOffsetDesc, float64(lp.LogStartOffset()), t.Name, ps)
			}
			if !hasReplica {
				continue
			}
			partCount++
			if lp == nil && !t.Internal {
				// A replica without its log (internal topics' logs
				// are made on first use, so they are not offline).
				offlineReplicas++
			}
			if lp != nil {
				gauge(logSizeDesc, float64(lp.Size()), t.Name, ps)
				gauge(logStartDesc, float64(lp.LogStartOffset()), t.Name, ps)
				gauge(logEndDesc, float64(lp.LogEndOffset()), t.Name, ps)
				gauge(logSegmentsDesc, float64(lp.NumSegments()), t.Name, ps)
			}
			if p.Leader != self {
				continue
			}
			// Kafka's Partition gauges are registered on the leader.
			leaders++
			under, at := len(p.ISR) < minISR, len(p.ISR) == minISR
			urp += b2i(isURP)
			underMin += b2i(under)
			atMin += b2i(at)
			gauge(cpURDesc, b2f(isURP), t.Name, ps)
			gauge(cpUnderMinDesc, b2f(under), t.Name, ps)
			gauge(cpAtMinDesc, b2f(at), t.Name, ps)
			gauge(cpReplicasDesc, float64(len(p.Replicas)), t.Name, ps)
			gauge(cpISRDesc, float64(len(p.ISR)), t.Name, ps)
		}
	}
	gauge(rmPartitionsDesc, float64(partCount))
	gauge(rmLeadersDesc, float64(leaders))
	gauge(rmURPDesc, float64(urp))
	gauge(rmUnderMinDesc, float64(underMin))
	gauge(rmAtMinDesc, float64(atMin))
	gauge(rmOfflineDesc, float64(offlineReplicas))
	reassigning := 0
	if src.Replicas != nil {
		reassigning = src.Replicas.ReassigningPartitions()
	}
	gauge(rmReassignDesc, float64(reassigning))
	gauge(ctrlOfflineDesc, float64(offlineParts*int(active)))
	gauge(ctrlTopicsDesc, float64(len(topics))*active)
	gauge(ctrlPartitionsDesc, float64(globalParts)*active)
}

// collectGroups emits the group coordinator gauges and kafka_exporter's
// consumer group offsets and lag. Lag is the partition's high watermark
// minus the committed offset, as kafka_exporter computes it; a partition
// whose log is not here is left out.
func (c *Collector) collectGroups(ch chan<- prometheus.Metric, src Sources) {
	gauge := func(desc *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, lv...)
	}
	stats := src.Groups.Stats()
	byState := map[string]int{}
	offsets := 0
	for _, g := range stats {
		byState[g.State]++
		offsets += len(g.Offsets)
		gauge(keCGMembersDesc, float64(g.Members), g.Group)
		var topic string
		var offSum, lagSum int64
		var hasLag bool
		flush := func() {
			if topic == "" {
				return
			}
			gauge(keCGOffsetSumDesc, float64(offSum), g.Group, topic)
			if hasLag {
				gauge(keCGLagSumDesc, float64(lagSum), g.Group, topic)
			}
		}
		for _, o := range g.Offsets {
			if o.Topic != topic {
				flush()
				topic, offSum, lagSum, hasLag = o.Topic, 0, 0, false
			}
			ps := strconv.Itoa(int(o.Partition))
			gauge(keCGOffsetDesc, float64(o.Offset), g.Group, o.Topic, ps)
			offSum += o.Offset
			if src.Logs == nil {
				continue
			}
			if lp, ok := src.Logs.Partition(o.Topic, o.Partition); ok {
				lag := lp.HighWatermark() - o.Offset
				gauge(keCGLagDesc, float64(lag), g.Group, o.Topic, ps)
				lagSum += lag
				hasLag = true
			}
		}
		flush()
	}
	gauge(gmmNumGroupsDesc, float64(len(stats)))
	for state, desc := range gmmStateDescs {
		gauge(desc, float64(byState[state]))
	}
	gauge(gmmOffsetsDesc, float64(offsets))
}

// readProcIO reads /proc/self/io, as Kafka's LinuxIoMetricsCollector
// does; it fails off Linux.
func readProcIO() (procfs.ProcIO, error) {
	p, err := procfs.NewProc(os.Getpid())
	if err != nil {
		return procfs.ProcIO{}, err
	}
	return p.IO()
}

// errorName is Kafka's name for an error code (Errors.name()), "NONE"
// for 0 and "UNKNOWN_<code>" for a code franz-go does not know.
func errorName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	if e := kerr.ErrorForCode(code); e != nil {
		if ke, ok := e.(*kerr.Error); ok {
			return ke.Message
		}
	}
	return "UNKNOWN_" + strconv.Itoa(int(code))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func b2f(b bool) float64 { return float64(b2i(b)) }
