package metrics

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/protocol"
)

// produceOK answers every request with a one-partition ProduceResponse
// without error: the cheapest handler, so that the wrapper's own cost
// shows.
type produceOK struct{ resp *kmsg.ProduceResponse }

func (produceOK) Serves(int16, int16) bool { return true }
func (h produceOK) Handle(context.Context, *protocol.Request) (kmsg.Response, error) {
	return h.resp, nil
}

func newProduceOK() produceOK {
	resp := kmsg.NewPtrProduceResponse()
	rt := kmsg.NewProduceResponseTopic()
	rt.Topic = "t"
	rt.Partitions = append(rt.Partitions, kmsg.NewProduceResponseTopicPartition())
	resp.Topics = append(resp.Topics, rt)
	return produceOK{resp: resp}
}

// instrumentedProduce is what the broker adds to each produce of one
// partition: the request wrapper and the topic counters.
func instrumentedProduce(m *Broker, h Handler, r *protocol.Request, id controller.TopicID) {
	_, _ = h.Handle(context.Background(), r)
	m.Produced(m.TopicByID(id), 1024, 10)
}

// TestHotPathNoAllocs: counting a request, its errors and a partition's
// bytes and records allocates nothing once the topic is known.
func TestHotPathNoAllocs(t *testing.T) {
	m := New()
	id := controller.TopicID{1}
	m.Topic(id, "t")
	h := Handler{Next: newProduceOK(), Metrics: m}
	r := &protocol.Request{Header: protocol.RequestHeader{Key: 0, Version: 11}}
	if n := testing.AllocsPerRun(1000, func() { instrumentedProduce(m, h, r, id) }); n != 0 {
		t.Fatalf("%v allocations per instrumented produce, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { m.Fetched(m.TopicByName("t"), 100, false) }); n != 0 {
		t.Fatalf("%v allocations per fetched partition, want 0", n)
	}
}

// TestCollector: the counters come out under Kafka's JMX exporter names,
// per topic and for all topics, and a forgotten topic's series go.
func TestCollector(t *testing.T) {
	m := New()
	a, b := m.Topic(controller.TopicID{1}, "a"), m.Topic(controller.TopicID{2}, "b")
	m.Produced(a, 100, 3)
	m.Produced(b, 50, 2)
	m.ProduceFailed(nil)
	m.Fetched(a, 70, false)
	m.Fetched(a, 0, true)
	h := Handler{Next: newProduceOK(), Metrics: m}
	_, _ = h.Handle(context.Background(), &protocol.Request{Header: protocol.RequestHeader{Key: 0, Version: 9}})
	m.ConnOpened("PLAINTEXT")
	m.ConnOpened("PLAINTEXT")
	m.ConnClosed("PLAINTEXT")
	c := NewCollector(m, func() Sources { return Sources{} })
	want := `
# HELP kafka_server_brokertopicmetrics_bytesin_total Record batch bytes appended by produce requests (BrokerTopicMetrics BytesInPerSec).
# TYPE kafka_server_brokertopicmetrics_bytesin_total counter
kafka_server_brokertopicmetrics_bytesin_total 150
kafka_server_brokertopicmetrics_bytesin_total{topic="a"} 100
kafka_server_brokertopicmetrics_bytesin_total{topic="b"} 50
# HELP kafka_server_brokertopicmetrics_failedfetchrequests_total Partitions of fetch requests that failed (BrokerTopicMetrics FailedFetchRequestsPerSec).
# TYPE kafka_server_brokertopicmetrics_failedfetchrequests_total counter
kafka_server_brokertopicmetrics_failedfetchrequests_total 1
kafka_server_brokertopicmetrics_failedfetchrequests_total{topic="a"} 1
kafka_server_brokertopicmetrics_failedfetchrequests_total{topic="b"} 0
# HELP kafka_server_brokertopicmetrics_failedproducerequests_total Partitions of produce requests that failed (BrokerTopicMetrics FailedProduceRequestsPerSec).
# TYPE kafka_server_brokertopicmetrics_failedproducerequests_total counter
kafka_server_brokertopicmetrics_failedproducerequests_total 1
kafka_server_brokertopicmetrics_failedproducerequests_total{topic="a"} 0
kafka_server_brokertopicmetrics_failedproducerequests_total{topic="b"} 0
# HELP kafka_server_brokertopicmetrics_messagesin_total Records appended by produce requests (BrokerTopicMetrics MessagesInPerSec).
# TYPE kafka_server_brokertopicmetrics_messagesin_total counter
kafka_server_brokertopicmetrics_messagesin_total 5
kafka_server_brokertopicmetrics_messagesin_total{topic="a"} 3
kafka_server_brokertopicmetrics_messagesin_total{topic="b"} 2
# HELP kafka_server_brokertopicmetrics_bytesout_total Record batch bytes sent by fetch requests (BrokerTopicMetrics BytesOutPerSec).
# TYPE kafka_server_brokertopicmetrics_bytesout_total counter
kafka_server_brokertopicmetrics_bytesout_total 70
kafka_server_brokertopicmetrics_bytesout_total{topic="a"} 70
kafka_server_brokertopicmetrics_bytesout_total{topic="b"} 0
# HELP kafka_network_requestmetrics_errors_total Error codes in responses, NONE included (RequestMetrics ErrorsPerSec).
# TYPE kafka_network_requestmetrics_errors_total counter
kafka_network_requestmetrics_errors_total{error="NONE",request="Produce"} 1
# HELP kafka_network_requestmetrics_requests_total Requests by API and version (RequestMetrics RequestsPerSec).
# TYPE kafka_network_requestmetrics_requests_total counter
kafka_network_requestmetrics_requests_total{request="Produce",version="9"} 1
# HELP kafka_server_socket_server_metrics_connection_count Open connections (socket-server-metrics connection-count).
# TYPE kafka_server_socket_server_metrics_connection_count gauge
kafka_server_socket_server_metrics_connection_count{listener="PLAINTEXT",networkProcessor="0"} 1
# HELP kafka_server_socket_server_metrics_connection_creation_total Connections accepted (socket-server-metrics connection-creation-total).
# TYPE kafka_server_socket_server_metrics_connection_creation_total counter
kafka_server_socket_server_metrics_connection_creation_total{listener="PLAINTEXT",networkProcessor="0"} 2
`
	names := []string{"kafka_server_brokertopicmetrics_bytesin_total", "kafka_server_brokertopicmetrics_bytesout_total",
		"kafka_server_brokertopicmetrics_messagesin_total", "kafka_server_brokertopicmetrics_failedproducerequests_total",
		"kafka_server_brokertopicmetrics_failedfetchrequests_total", "kafka_network_requestmetrics_requests_total",
		"kafka_network_requestmetrics_errors_total", "kafka_server_socket_server_metrics_connection_count",
		"kafka_server_socket_server_metrics_connection_creation_total"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	m.ForgetTopic(controller.TopicID{2})
	if n := testutil.CollectAndCount(c, "kafka_server_brokertopicmetrics_bytesin_total"); n != 2 {
		t.Fatalf("after forgetting b: %d bytesin series, want 2 (all and a)", n)
	}
	if m.TopicByName("b") != nil {
		t.Fatal("b still found by name after ForgetTopic")
	}
}

// BenchmarkInstrumentedProduce is the cost the metrics add to one
// produce of one partition (compare BenchmarkUninstrumentedProduce).
func BenchmarkInstrumentedProduce(b *testing.B) {
	m := New()
	id := controller.TopicID{1}
	m.Topic(id, "t")
	h := Handler{Next: newProduceOK(), Metrics: m}
	r := &protocol.Request{Header: protocol.RequestHeader{Key: 0, Version: 11}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			instrumentedProduce(m, h, r, id)
		}
	})
}

// BenchmarkUninstrumentedProduce is the same handler called directly.
func BenchmarkUninstrumentedProduce(b *testing.B) {
	h := newProduceOK()
	r := &protocol.Request{Header: protocol.RequestHeader{Key: 0, Version: 11}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = h.Handle(context.Background(), r)
		}
	})
}

// TestCountAnyErrorsNested checks the reflective walk on a response three
// levels deep (AddPartitionsToTxn v4: transactions, topics, partitions)
// that also has a top-level code, as Kafka's errorCounts adds them up.
func TestCountAnyErrorsNested(t *testing.T) {
	resp := kmsg.NewPtrAddPartitionsToTxnResponse()
	resp.ErrorCode = 0
	for _, codes := range [][]int16{{0, 48}, {48}} {
		tx := kmsg.NewAddPartitionsToTxnResponseTransaction()
		tp := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
		for _, c := range codes {
			p := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
			p.ErrorCode = c
			tp.Partitions = append(tp.Partitions, p)
		}
		tx.Topics = append(tx.Topics, tp)
		resp.Transactions = append(resp.Transactions, tx)
	}
	var rc requestCounters
	countErrors(&rc, resp)
	if none, bad := rc.errors[0+1].Load(), rc.errors[48+1].Load(); none != 2 || bad != 2 {
		t.Errorf("NONE %d, INVALID_TXN_STATE %d; want 2 and 2 (top level + one partition, two partitions)", none, bad)
	}
}

// TestReplicationMeters: a follower's fetch counts as a fetch request
// but its bytes go to ReplicationBytesOut (and ReassignmentBytesOut for
// an adding replica), not BytesOut; the follower side's bytes go to
// ReplicationBytesIn / ReassignmentBytesIn; all four have no topic label
// (Kafka registers them on allTopicsStats only).
func TestReplicationMeters(t *testing.T) {
	m := New()
	a := m.Topic(controller.TopicID{1}, "a")
	m.FetchedByFollower(a, 100, false, false)
	m.FetchedByFollower(a, 30, false, true)
	m.FetchedByFollower(a, 0, true, false)
	m.ReplicationBytesIn(40, false)
	m.ReplicationBytesIn(5, true)
	c := NewCollector(m, func() Sources { return Sources{} })
	want := `
# HELP kafka_server_brokertopicmetrics_bytesout_total Record batch bytes sent by fetch requests (BrokerTopicMetrics BytesOutPerSec).
# TYPE kafka_server_brokertopicmetrics_bytesout_total counter
kafka_server_brokertopicmetrics_bytesout_total 0
kafka_server_brokertopicmetrics_bytesout_total{topic="a"} 0
# HELP kafka_server_brokertopicmetrics_totalfetchrequests_total Partitions of fetch requests (BrokerTopicMetrics TotalFetchRequestsPerSec).
# TYPE kafka_server_brokertopicmetrics_totalfetchrequests_total counter
kafka_server_brokertopicmetrics_totalfetchrequests_total 3
kafka_server_brokertopicmetrics_totalfetchrequests_total{topic="a"} 3
# HELP kafka_server_brokertopicmetrics_replicationbytesout_total Record bytes this broker sent to followers (BrokerTopicMetrics ReplicationBytesOutPerSec).
# TYPE kafka_server_brokertopicmetrics_replicationbytesout_total counter
kafka_server_brokertopicmetrics_replicationbytesout_total 130
# HELP kafka_server_brokertopicmetrics_reassignmentbytesout_total Record bytes this broker sent to replicas a reassignment adds (BrokerTopicMetrics ReassignmentBytesOutPerSec).
# TYPE kafka_server_brokertopicmetrics_reassignmentbytesout_total counter
kafka_server_brokertopicmetrics_reassignmentbytesout_total 30
# HELP kafka_server_brokertopicmetrics_replicationbytesin_total Record bytes followers on this broker appended from their leaders (BrokerTopicMetrics ReplicationBytesInPerSec).
# TYPE kafka_server_brokertopicmetrics_replicationbytesin_total counter
kafka_server_brokertopicmetrics_replicationbytesin_total 45
# HELP kafka_server_brokertopicmetrics_reassignmentbytesin_total Record bytes appended from leaders by replicas a reassignment adds (BrokerTopicMetrics ReassignmentBytesInPerSec).
# TYPE kafka_server_brokertopicmetrics_reassignmentbytesin_total counter
kafka_server_brokertopicmetrics_reassignmentbytesin_total 5
`
	names := []string{"kafka_server_brokertopicmetrics_bytesout_total", "kafka_server_brokertopicmetrics_totalfetchrequests_total",
		"kafka_server_brokertopicmetrics_replicationbytesout_total", "kafka_server_brokertopicmetrics_reassignmentbytesout_total",
		"kafka_server_brokertopicmetrics_replicationbytesin_total", "kafka_server_brokertopicmetrics_reassignmentbytesin_total"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { m.FetchedByFollower(a, 10, false, true); m.ReplicationBytesIn(10, true) }); n != 0 {
		t.Fatalf("%v allocations per replication count, want 0", n)
	}
}
