package integration

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// scrape fetches and parses /metrics.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body, err := httpGet(base + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("/metrics = %d %v\n%s", code, err, body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// metricValue returns the value of the series of name whose labels are
// exactly labels (pairs), and whether there is one.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.Metric {
		if len(m.Label) != len(want) {
			continue
		}
		match := true
		for _, l := range m.Label {
			if want[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// metricSum sums the series of name whose labels include labels (pairs).
func metricSum(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
	var sum float64
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}
			if !found {
				continue next
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// TestMetrics: after producing, consuming and committing with franz-go,
// /metrics (in-process and the binary) reports what happened under the
// names Kafka dashboards read: bytes and messages in, bytes out, request
// counts, log offsets, replica manager and controller gauges, groups, and
// consumer lag = log end offset - committed offset.
func TestMetrics(t *testing.T) {
	for _, m := range testbroker.Modes {
		t.Run(string(m), func(t *testing.T) {
			port := testbroker.FreePort(t)
			b := testbroker.Start(t, m, fmt.Sprintf("samsa.http.listeners=http://127.0.0.1:%d", port))
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			ctx := ctxT(t)
			const topic = "metrics-t"
			created, err := newAdmin(t, b.Addr()).CreateTopic(ctx, 2, 1, nil, topic)
			if err != nil {
				t.Fatal(err)
			}
			cl := newClient(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
			const perPart = 50
			var valueBytes int
			for i := 0; i < 2*perPart; i++ {
				v := []byte(strings.Repeat("v", 100+i))
				valueBytes += len(v)
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: v}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}

			// Consume everything in group g and commit.
			const group = "metrics-g"
			cons := newClient(t, b.Addr(), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			got := 0
			for got < 2*perPart {
				fs := cons.PollFetches(ctx)
				if err := fs.Err(); err != nil {
					t.Fatal(err)
				}
				got += fs.NumRecords()
			}
			if err := cons.CommitUncommittedOffsets(ctx); err != nil {
				t.Fatal(err)
			}
			// Seven more on partition 1: the group lags by 7 there.
			for i := 0; i < 7; i++ {
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("late")}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}

			// A produce to a partition the topic lacks and a fetch past
			// the log end fail: one failed request of each per topic.
			preq := kmsg.NewPtrProduceRequest()
			preq.Acks, preq.TimeoutMillis = 1, 5000
			pt := kmsg.NewProduceRequestTopic()
			pt.Topic, pt.TopicID = topic, created.ID
			pp := kmsg.NewProduceRequestTopicPartition()
			pp.Partition = 9
			pt.Partitions = append(pt.Partitions, pp)
			preq.Topics = append(preq.Topics, pt)
			presp, err := preq.RequestWith(ctx, cl)
			if err != nil || presp.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Fatalf("produce to partition 9: %v %+v", err, presp)
			}
			freq := kmsg.NewPtrFetchRequest()
			freq.MaxBytes, freq.MaxWaitMillis = 1<<20, 10
			ft := kmsg.NewFetchRequestTopic()
			ft.Topic, ft.TopicID = topic, created.ID
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = 0, 1000, 1<<20
			ft.Partitions = append(ft.Partitions, fp)
			freq.Topics = append(freq.Topics, ft)
			fresp, err := freq.RequestWith(ctx, cl)
			if err != nil || fresp.Topics[0].Partitions[0].ErrorCode != kerr.OffsetOutOfRange.Code {
				t.Fatalf("fetch at 1000: %v %+v", err, fresp)
			}

			// An API whose errors are found by reflection (not walked by
			// hand): IncrementalAlterConfigs of a topic that does not exist.
			areq := kmsg.NewPtrIncrementalAlterConfigsRequest()
			ar := kmsg.NewIncrementalAlterConfigsRequestResource()
			ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeTopic, "metrics-no-such-topic"
			ac := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			ac.Name, ac.Value = "retention.ms", kmsg.StringPtr("1000")
			ar.Configs = append(ar.Configs, ac)
			areq.Resources = append(areq.Resources, ar)
			aresp, err := areq.RequestWith(ctx, cl)
			if err != nil || aresp.Resources[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Fatalf("alter configs of a missing topic: %v %+v", err, aresp)
			}

			fams := scrape(t, base)
			expect := func(name string, want float64, labels ...string) {
				t.Helper()
				v, ok := metricValue(fams, name, labels...)
				if !ok || v != want {
					t.Errorf("%s%v = %v (present %v), want %v", name, labels, v, ok, want)
				}
			}
			atLeast := func(name string, min float64, labels ...string) float64 {
				t.Helper()
				v, ok := metricValue(fams, name, labels...)
				if !ok || v < min {
					t.Errorf("%s%v = %v (present %v), want >= %v", name, labels, v, ok, min)
				}
				return v
			}
			records := float64(2*perPart + 7)
			expect("kafka_server_brokertopicmetrics_messagesin_total", records, "topic", topic)
			expect("kafka_server_brokertopicmetrics_totalproducerequests_total", records+1, "topic", topic)
			expect("kafka_server_brokertopicmetrics_failedproducerequests_total", 1, "topic", topic)
			expect("kafka_server_brokertopicmetrics_failedproducerequests_total", 1)
			expect("kafka_server_brokertopicmetrics_failedfetchrequests_total", 1, "topic", topic)
			atLeast("kafka_network_requestmetrics_errors_total", 1, "request", "Produce", "error", "UNKNOWN_TOPIC_OR_PARTITION")
			atLeast("kafka_network_requestmetrics_errors_total", 1, "request", "Fetch", "error", "OFFSET_OUT_OF_RANGE")
			// One batch per ProduceSync: 61 header bytes and at most 12
			// bytes of record framing besides each value.
			in := atLeast("kafka_server_brokertopicmetrics_bytesin_total", float64(valueBytes+7*4), "topic", topic)
			if max := float64(valueBytes+7*4) + records*(61+12); in > max {
				t.Errorf("bytesin %v for %d value bytes in %v batches, want <= %v", in, valueBytes+28, records, max)
			}
			// The consumer read the first 100 records' batches at least once.
			atLeast("kafka_server_brokertopicmetrics_bytesout_total", in-7*(61+12+4), "topic", topic)
			atLeast("kafka_server_brokertopicmetrics_totalfetchrequests_total", 1, "topic", topic)
			atLeast("kafka_server_brokertopicmetrics_messagesin_total", records) // all topics
			atLeast("kafka_server_brokertopicmetrics_bytesin_total", in)

			if v := metricSum(fams, "kafka_network_requestmetrics_requests_total", "request", "Produce"); v < records {
				t.Errorf("Produce requests over all versions = %v, want >= %v", v, records)
			}
			atLeast("kafka_network_requestmetrics_errors_total", records, "request", "Produce", "error", "NONE")
			atLeast("kafka_network_requestmetrics_totaltimems", records, "request", "Produce")
			expect("kafka_network_requestmetrics_errors_total", 1, "request", "IncrementalAlterConfigs", "error", "UNKNOWN_TOPIC_OR_PARTITION")
			// Every Produce request has a queue time sample.
			expect("kafka_network_requestmetrics_requestqueuetimems", metricSum(fams, "kafka_network_requestmetrics_requests_total", "request", "Produce"), "request", "Produce")
			atLeast("kafka_network_requestmetrics_errors_total", 1, "request", "OffsetCommit", "error", "NONE")

			expect("kafka_log_log_logstartoffset", 0, "topic", topic, "partition", "0")
			expect("kafka_log_log_logendoffset", perPart, "topic", topic, "partition", "0")
			expect("kafka_log_log_logendoffset", perPart+7, "topic", topic, "partition", "1")
			if b.Mode() == testbroker.InProcess {
				expect("kafka_log_log_size", float64(b.Partition(topic, 0).Size()), "topic", topic, "partition", "0")
			} else {
				atLeast("kafka_log_log_size", float64(valueBytes/2), "topic", topic, "partition", "0")
			}
			expect("kafka_topic_partition_current_offset", perPart+7, "topic", topic, "partition", "1")
			expect("kafka_topic_partition_oldest_offset", 0, "topic", topic, "partition", "1")
			expect("kafka_topic_partitions", 2, "topic", topic)

			expect("kafka_consumergroup_current_offset", perPart, "consumergroup", group, "topic", topic, "partition", "0")
			expect("kafka_consumergroup_current_offset", perPart, "consumergroup", group, "topic", topic, "partition", "1")
			expect("kafka_consumergroup_lag", 0, "consumergroup", group, "topic", topic, "partition", "0")
			expect("kafka_consumergroup_lag", 7, "consumergroup", group, "topic", topic, "partition", "1")
			expect("kafka_consumergroup_lag_sum", 7, "consumergroup", group, "topic", topic)
			expect("kafka_consumergroup_members", 1, "consumergroup", group)
			expect("kafka_coordinator_group_groupmetadatamanager_numgroupsstable", 1)
			expect("kafka_coordinator_group_groupmetadatamanager_numgroups", 1)
			expect("kafka_coordinator_group_groupmetadatamanager_numoffsets", 2)

			// Single node: every partition (with __consumer_offsets'
			// 50) is led here and fully in sync.
			parts := atLeast("kafka_server_replicamanager_partitioncount", 2)
			expect("kafka_server_replicamanager_leadercount", parts)
			expect("kafka_server_replicamanager_underreplicatedpartitions", 0)
			expect("kafka_server_replicamanager_underminisrpartitioncount", 0)
			expect("kafka_server_replicamanager_atminisrpartitioncount", parts) // ISR 1 = min.insync.replicas 1
			expect("kafka_controller_kafkacontroller_activecontrollercount", 1)
			expect("kafka_controller_kafkacontroller_offlinepartitionscount", 0)
			expect("kafka_cluster_partition_atminisr", 1, "topic", topic, "partition", "0")
			expect("kafka_brokers", 1)

			atLeast("kafka_server_socket_server_metrics_connection_count", 2, "listener", "PLAINTEXT", "networkProcessor", "0")
			atLeast("kafka_server_socket_server_metrics_connection_creation_total", 2, "listener", "PLAINTEXT", "networkProcessor", "0")
			atLeast("process_open_fds", 1)
			atLeast("go_goroutines", 1)
			if t.Failed() {
				_, body, _ := httpGet(base + "/metrics")
				t.Logf("/metrics:\n%s", body)
			}
		})
	}
}

// dashboardUnsupported are the metrics Strimzi's dashboards query that
// Samsa cannot export, and why. TestMetricsDashboardCoverage keeps this
// list honest: each must really be missing, and nothing else may be.
var dashboardUnsupported = map[string]string{
	"kafka_network_socketserver_networkprocessoravgidle_percent":         "no network processor threads: a goroutine per connection",
	"kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent": "no request handler pool: requests are handled on their connection's goroutine",
	"jvm_memory_used_bytes":                "JVM; the Go equivalents are go_memstats_*",
	"jvm_gc_collection_seconds_sum":        "JVM; the Go equivalent is go_gc_duration_seconds",
	"jvm_gc_collection_seconds_count":      "JVM; the Go equivalent is go_gc_duration_seconds",
	"jvm_threads_current":                  "JVM; the Go equivalents are go_goroutines and go_threads",
	"container_memory_usage_bytes":         "cAdvisor (kubelet), not the broker",
	"container_cpu_usage_seconds_total":    "cAdvisor (kubelet), not the broker",
	"kubelet_volume_stats_available_bytes": "kubelet, not the broker",
}

var metricNameRE = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{`)

// dashboardMetrics returns the metric names the queries in file use.
func dashboardMetrics(t *testing.T, file string) []string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		for _, m := range metricNameRE.FindAllStringSubmatch(line, -1) {
			set[m[1]] = true
		}
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TestMetricsDashboardCoverage: every metric name the queries of
// Strimzi's Kafka and Kafka Exporter Grafana dashboards use (saved under
// testdata/) is exported by a loaded Samsa, except those listed in
// dashboardUnsupported with the reason.
func TestMetricsDashboardCoverage(t *testing.T) {
	port := testbroker.FreePort(t)
	b := testbroker.Start(t, testbroker.InProcess, fmt.Sprintf("samsa.http.listeners=http://127.0.0.1:%d", port))
	ctx := ctxT(t)
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctx, 1, 1, nil, "dash"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.ConsumerGroup("dash-g"), kgo.ConsumeTopics("dash"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dash", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 1; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		n += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	fams := scrape(t, fmt.Sprintf("http://127.0.0.1:%d", port))
	for _, file := range []string{"testdata/strimzi-kafka-dashboard.promql", "testdata/strimzi-kafka-exporter-dashboard.promql"} {
		names := dashboardMetrics(t, file)
		if len(names) < 10 {
			t.Fatalf("%s: only %d metric names found", file, len(names))
		}
		for _, n := range names {
			_, exported := fams[n]
			why, unsupported := dashboardUnsupported[n]
			switch {
			case unsupported && exported:
				t.Errorf("%s: %s is exported but listed as unsupported (%s)", file, n, why)
			case !unsupported && !exported:
				t.Errorf("%s: %s is not exported", file, n)
			case exported && len(fams[n].Metric) == 0:
				t.Errorf("%s: %s has no series", file, n)
			}
		}
	}
}
