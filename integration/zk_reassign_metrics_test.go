package integration

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestZKReassignmentMetrics: while a throttled reassignment adds broker
// 3 to a partition on [1 2], the leader's ReplicaManager
// ReassigningPartitions gauge is 1 and its ReassignmentBytesOutPerSec
// grows, as does broker 3's ReassignmentBytesInPerSec (Kafka 3.9's
// BrokerTopicMetrics, all topics only); afterwards the gauge is 0
// everywhere and records replicated later count as ReplicationBytes but
// not as ReassignmentBytes.
func TestZKReassignmentMetrics(t *testing.T) {
	rc := startRackCluster(t, func(int32) []string {
		return []string{"replication.quota.window.num=2", "replica.fetch.max.bytes=65536", "replica.fetch.backoff.ms=100",
			"auto.leader.rebalance.enable=false"}
	})
	const topic = "rmetrics"
	rc.createAssigned(topic, 1, 2)
	rc.fill(t, topic, 100, 10000) // 1 MB
	adm := kadm.NewClient(rc.adminClient(t))
	rate := "200000"
	if res, err := adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "leader.replication.throttled.rate", Value: &rate},
		{Op: kadm.SetConfig, Name: "follower.replication.throttled.rate", Value: &rate},
	}, 1, 2, 3); err != nil || alterErr(res) != nil {
		t.Fatalf("throttle rates: %v %v", err, alterErr(res))
	}
	leaderReplicas, followerReplicas := "0:1,0:2", "0:3"
	if res, err := adm.AlterTopicConfigs(ctxT(t), []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "leader.replication.throttled.replicas", Value: &leaderReplicas},
		{Op: kadm.SetConfig, Name: "follower.replication.throttled.replicas", Value: &followerReplicas},
	}, topic); err != nil || alterErr(res) != nil {
		t.Fatalf("throttled replicas: %v %v", err, alterErr(res))
	}
	time.Sleep(500 * time.Millisecond) // config change notifications reach the brokers

	value := func(id int32, name string) float64 {
		t.Helper()
		v, ok := metricValue(scrape(t, rc.httpBase[id]), name)
		if !ok {
			t.Fatalf("broker %d exports no %s", id, name)
		}
		return v
	}
	const (
		gaugeName = "kafka_server_replicamanager_reassigningpartitions"
		outName   = "kafka_server_brokertopicmetrics_reassignmentbytesout_total"
		inName    = "kafka_server_brokertopicmetrics_reassignmentbytesin_total"
		replIn    = "kafka_server_brokertopicmetrics_replicationbytesin_total"
		replOut   = "kafka_server_brokertopicmetrics_replicationbytesout_total"
	)
	for id := int32(1); id <= 3; id++ {
		if g, in, out := value(id, gaugeName), value(id, inName), value(id, outName); g != 0 || in != 0 || out != 0 {
			t.Fatalf("broker %d before the reassignment: gauge %v, in %v, out %v", id, g, in, out)
		}
	}
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign(topic, 0, []int32{1, 2, 3})
	if res, err := adm.AlterPartitionAssignments(ctxT(t), req); err != nil || res.Error() != nil {
		t.Fatalf("AlterPartitionAssignments: %v %v", err, res.Error())
	}
	// During: the leader counts the partition and both sides count bytes.
	var sawGauge, sawOut, sawIn bool
	deadline := time.Now().Add(30 * time.Second)
	for {
		mp := partitionOf(metadataFrom(t, rc.brokers[1].Addr()), topic, 0)
		inSync := slices.Contains(mp.ISR, 3)
		if !inSync {
			sawGauge = sawGauge || value(1, gaugeName) == 1
			sawOut = sawOut || value(1, outName) > 0
			sawIn = sawIn || value(3, inName) > 0
		}
		if inSync || sawGauge && sawOut && sawIn {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reassignment not observed within 30s: gauge %v out %v in %v", sawGauge, sawOut, sawIn)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !sawGauge || !sawOut || !sawIn {
		t.Fatalf("broker 3 joined the ISR before the metrics moved: ReassigningPartitions=1 %v, ReassignmentBytesOut>0 %v, ReassignmentBytesIn>0 %v", sawGauge, sawOut, sawIn)
	}
	// The controller timed the AlterPartitionReassignments event
	// (ControllerStats PartitionReassignmentRateAndTimeMs).
	ctrlID := metadataFrom(t, rc.brokers[1].Addr()).ControllerID
	if n := value(ctrlID, "kafka_controller_controllerstats_partitionreassignmentrateandtimems"); n < 1 {
		t.Errorf("controller %d's PartitionReassignmentRateAndTimeMs count = %v, want at least 1", ctrlID, n)
	}
	if g := value(2, gaugeName); g != 0 {
		t.Errorf("follower 2's ReassigningPartitions = %v, want 0 (only leaders count)", g)
	}
	// After: the gauge goes back to 0 everywhere.
	rc.waitAgree("reassignment done", 30*time.Second, func(m *kmsg.MetadataResponse) bool {
		mp := partitionOf(m, topic, 0)
		return slices.Equal(mp.Replicas, []int32{1, 2, 3}) && len(mp.ISR) == 3
	})
	deadline = time.Now().Add(10 * time.Second)
	for value(1, gaugeName) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("ReassigningPartitions still %v after the reassignment", value(1, gaugeName))
		}
		time.Sleep(100 * time.Millisecond)
	}
	in3, out1, rin3 := value(3, inName), value(1, outName), value(3, replIn)
	t.Logf("reassignment moved %v bytes out of the leader and %v into broker 3", out1, in3)
	if in3 < 900000 {
		t.Errorf("ReassignmentBytesIn on broker 3 = %v, want about the 1 MB it copied", in3)
	}
	rc.fill(t, topic, 10, 1000)
	deadline = time.Now().Add(10 * time.Second)
	for value(3, replIn) <= rin3 {
		if time.Now().After(deadline) {
			t.Fatal("ReplicationBytesIn of broker 3 did not grow with new records")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if value(1, replOut) == 0 {
		t.Error("the leader's ReplicationBytesOut is 0")
	}
	if in, out := value(3, inName), value(1, outName); in != in3 || out != out1 {
		t.Errorf("reassignment bytes grew after the reassignment: in %v -> %v, out %v -> %v", in3, in, out1, out)
	}
}

func alterErr(rs kadm.AlterConfigsResponses) error {
	for _, r := range rs {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}
