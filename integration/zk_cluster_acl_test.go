package integration

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestZKClusterActionACLs: with the authorizer on, ElectLeaders needs
// ALTER on the cluster and ControlledShutdown CLUSTER_ACTION on the
// cluster (Kafka 3.9's KafkaApis.handleElectLeaders and
// handleControlledShutdownRequest); a user without the ACL gets
// CLUSTER_AUTHORIZATION_FAILED and nothing changes, and once granted the
// same requests elect the preferred leader and move leadership off the
// broker shutting down.
func TestZKClusterActionACLs(t *testing.T) {
	// No automatic preferred election may fix the imbalance before the
	// test's own ElectLeaders does.
	c := startZKSecCluster(t, "auto.leader.rebalance.enable=false")
	ctx := ctxT(t)
	adminCl := newClient(t, c.brokers[1].Addr()) // ANONYMOUS on PLAINTEXT is a super user
	admin := kadm.NewClient(adminCl)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ctt := kmsg.NewCreateTopicsRequestTopic()
	ctt.Topic, ctt.NumPartitions, ctt.ReplicationFactor = "acl-elect", -1, -1
	for p, rs := range [][]int32{{1, 2, 3}, {3, 1, 2}} {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = int32(p), rs
		ctt.ReplicaAssignment = append(ctt.ReplicaAssignment, a)
	}
	ct.Topics = append(ct.Topics, ctt)
	if cr, err := ct.RequestWith(ctx, adminCl); err != nil || cr.Topics[0].ErrorCode != 0 {
		t.Fatalf("create acl-elect: %v %+v", err, cr)
	}
	c.waitAgree("acl-elect led by the first replicas", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		p0, p1 := partitionOf(m, "acl-elect", 0), partitionOf(m, "acl-elect", 1)
		return p0.Leader == 1 && len(p0.ISR) == 3 && p1.Leader == 3 && len(p1.ISR) == 3
	})
	// Reordering acl-elect-0's replicas makes broker 2 its preferred
	// leader while broker 1 keeps leading it.
	var reorder kadm.AlterPartitionAssignmentsReq
	reorder.Assign("acl-elect", 0, []int32{2, 1, 3})
	if res, err := admin.AlterPartitionAssignments(ctx, reorder); err != nil || res.Error() != nil {
		t.Fatalf("reassign acl-elect-0: %v %v", err, res.Error())
	}
	m := c.waitAgree("acl-elect-0 replicas [2 1 3], still led by 1", 20*time.Second, func(m *kmsg.MetadataResponse) bool {
		p := partitionOf(m, "acl-elect", 0)
		return slices.Equal(p.Replicas, []int32{2, 1, 3}) && p.Leader == 1
	})
	ctrl := m.ControllerID

	alice := kadm.NewClient(userClient(t, c.sasl[1], "alice"))
	var elect kadm.TopicsSet
	elect.Add("acl-elect", 0)
	shutdown := func() *kmsg.ControlledShutdownResponse {
		_, st := c.get("/brokers/ids/3")
		req := kmsg.NewPtrControlledShutdownRequest()
		req.Version, req.BrokerID, req.BrokerEpoch = 3, 3, st.Czxid
		return saslRequest[*kmsg.ControlledShutdownResponse](t, c.sasl[ctrl], plainUser("alice"), req)
	}

	// Without ACLs.
	if _, err := alice.ElectLeaders(ctx, kadm.ElectPreferredReplica, elect); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Errorf("ElectLeaders without ALTER on the cluster: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	if r := shutdown(); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("ControlledShutdown without CLUSTER_ACTION: %v, want CLUSTER_AUTHORIZATION_FAILED", kerr.ErrorForCode(r.ErrorCode))
	}
	m = c.waitAgree("metadata after the refusals", 10*time.Second, func(*kmsg.MetadataResponse) bool { return true })
	if p0, p1 := partitionOf(m, "acl-elect", 0), partitionOf(m, "acl-elect", 1); p0.Leader != 1 || p1.Leader != 3 {
		t.Fatalf("refused requests changed leadership: acl-elect-0 led by %d, acl-elect-1 by %d", p0.Leader, p1.Leader)
	}

	// ALTER alone does not grant CLUSTER_ACTION, nor the reverse.
	grant := func(op kadm.ACLOperation) {
		t.Helper()
		res, err := admin.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Clusters().Operations(op).ResourcePatternType(kadm.ACLPatternLiteral))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create ACL: %v", r.Err)
			}
		}
	}
	grant(kadm.OpAlter)
	var res kadm.ElectLeadersResults
	waitWithin(t, "ALTER on the cluster enforced at the controller", 5*time.Second, func() bool {
		var err error
		res, err = alice.ElectLeaders(ctx, kadm.ElectPreferredReplica, elect)
		return err == nil
	})
	if r := res["acl-elect"][0]; r.Err != nil {
		t.Fatalf("ElectLeaders with ALTER: %v %s", r.Err, r.ErrMessage)
	}
	c.waitAgree("acl-elect-0 led by its preferred replica 2", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		return partitionOf(m, "acl-elect", 0).Leader == 2
	})
	if r := shutdown(); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("ControlledShutdown with ALTER only: %v, want CLUSTER_AUTHORIZATION_FAILED", kerr.ErrorForCode(r.ErrorCode))
	}

	grant(kadm.OpClusterAction)
	var r *kmsg.ControlledShutdownResponse
	waitWithin(t, "CLUSTER_ACTION on the cluster enforced at the controller", 5*time.Second, func() bool {
		r = shutdown()
		return r.ErrorCode != kerr.ClusterAuthorizationFailed.Code
	})
	if r.ErrorCode != 0 || len(r.PartitionsRemaining) != 0 {
		t.Fatalf("ControlledShutdown of broker 3 with CLUSTER_ACTION: %v, remaining %+v", kerr.ErrorForCode(r.ErrorCode), r.PartitionsRemaining)
	}
	c.waitAgree("acl-elect-1 moved off broker 3", 10*time.Second, func(m *kmsg.MetadataResponse) bool {
		p := partitionOf(m, "acl-elect", 1)
		return p.Leader == 1 && !slices.Contains(p.ISR, 3)
	})
}
