package controller

import (
	"maps"
	"slices"
	"testing"
)

func racks(m map[int32]string, without ...int32) []BrokerRack {
	var out []BrokerRack
	for id, r := range m {
		out = append(out, BrokerRack{ID: id, Rack: &r})
	}
	for _, id := range without {
		out = append(out, BrokerRack{ID: id})
	}
	slices.SortFunc(out, func(a, b BrokerRack) int { return int(a.ID - b.ID) })
	return out
}

// Kafka's AdminRackAwareTest.testGetRackAlternatedBrokerListAndAssignReplicasToBrokers.
func TestRackAwareAssignmentMatchesKafka(t *testing.T) {
	rackMap := map[int32]string{0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: "rack2", 5: "rack1"}
	if got := RackAlternatedBrokers(racks(rackMap)); !slices.Equal(got, []int32{0, 3, 1, 5, 4, 2}) {
		t.Errorf("rack alternated list %v, want [0 3 1 5 4 2]", got)
	}
	five := maps.Clone(rackMap)
	delete(five, 5)
	if got := RackAlternatedBrokers(racks(five)); !slices.Equal(got, []int32{0, 3, 1, 4, 2}) {
		t.Errorf("rack alternated list without 5: %v, want [0 3 1 4 2]", got)
	}
	got, err := AssignReplicasToBrokers(racks(rackMap), 7, 3, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int32{{0, 3, 1}, {3, 1, 5}, {1, 5, 4}, {5, 4, 2}, {4, 2, 0}, {2, 0, 3}, {0, 4, 2}}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("partition %d: %v, want %v (all: %v)", i, got[i], want[i], got)
		}
	}
}

// checkDistribution is Kafka's RackAwareTest.checkReplicaDistribution.
func checkDistribution(t *testing.T, name string, a [][]int32, rackOf map[int32]string, nBrokers, nParts, rf int, rackAware, leaders, replicas bool) {
	t.Helper()
	leaderCount, replicaCount := map[int32]int{}, map[int32]int{}
	for p, rs := range a {
		if len(rs) != rf {
			t.Errorf("%s: partition %d has %d replicas, want %d", name, p, len(rs), rf)
		}
		seen, seenRack := map[int32]bool{}, map[string]bool{}
		for _, b := range rs {
			if seen[b] {
				t.Errorf("%s: partition %d has broker %d twice: %v", name, p, b, rs)
			}
			seen[b], seenRack[rackOf[b]] = true, true
			replicaCount[b]++
		}
		if rackAware && len(seenRack) != rf {
			t.Errorf("%s: partition %d %v has two replicas in one rack", name, p, rs)
		}
		leaderCount[rs[0]]++
	}
	for id := range rackOf {
		if leaders && leaderCount[id] != nParts/nBrokers {
			t.Errorf("%s: broker %d leads %d partitions, want %d", name, id, leaderCount[id], nParts/nBrokers)
		}
		if replicas && replicaCount[id] != nParts*rf/nBrokers {
			t.Errorf("%s: broker %d holds %d replicas, want %d", name, id, replicaCount[id], nParts*rf/nBrokers)
		}
	}
}

// The other cases of Kafka's AdminRackAwareTest, with its checks; random
// start indexes are tried many times.
func TestRackAwareAssignmentDistribution(t *testing.T) {
	six := map[int32]string{0: "rack1", 1: "rack2", 2: "rack2", 3: "rack3", 4: "rack3", 5: "rack1"}
	type tc struct {
		name                        string
		m                           map[int32]string
		parts, rf, start, first     int
		rackAware, leaders, replics bool
	}
	cases := []tc{
		{"testAssignmentWithRackAware", six, 6, 3, 2, 0, true, true, true},
		{"testAssignmentWithRackAwareWithRandomStartIndex", six, 6, 3, -1, 0, true, true, true},
		{"testAssignmentWithRackAwareWithUnevenReplicas", six, 13, 3, 0, 0, true, false, false},
		{"testAssignmentWithRackAwareWithUnevenRacks", map[int32]string{0: "rack1", 1: "rack1", 2: "rack2", 3: "rack3", 4: "rack3", 5: "rack1"}, 12, 3, -1, 0, true, true, false},
		{"testAssignmentWith2ReplicasRackAware", six, 12, 2, -1, 0, true, true, true},
		{"testRackAwareExpansion", map[int32]string{6: "rack1", 7: "rack2", 8: "rack2", 9: "rack3", 10: "rack3", 11: "rack1"}, 12, 2, -1, 12, true, true, true},
		{"testAssignmentWith2ReplicasRackAwareWith6Partitions", six, 6, 2, -1, 0, true, true, true},
		{"testAssignmentWith2ReplicasRackAwareWith6PartitionsAnd3Brokers", map[int32]string{0: "rack1", 1: "rack2", 4: "rack3"}, 3, 2, -1, 0, true, true, true},
		{"testLargeNumberPartitionsAssignment", map[int32]string{0: "rack1", 1: "rack2", 2: "rack2", 3: "rack3", 4: "rack3", 5: "rack1", 6: "rack1", 7: "rack2", 8: "rack2", 9: "rack3", 10: "rack1", 11: "rack3"}, 96, 3, -1, 0, true, true, true},
		{"testSkipBrokerWithReplicaAlreadyAssigned", map[int32]string{0: "a", 1: "b", 2: "c", 3: "a", 4: "a"}, 6, 4, 2, -1, false, false, false},
	}
	for _, c := range cases {
		tries := 1
		if c.start < 0 {
			tries = 50
		}
		for range tries {
			a, err := AssignReplicasToBrokers(racks(c.m), c.parts, c.rf, c.start, c.start, c.first)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			checkDistribution(t, c.name, a, c.m, len(c.m), c.parts, c.rf, c.rackAware, c.leaders, c.replics)
		}
	}
	// testMoreReplicasThanRacks, testLessReplicasThanRacks, testSingleRack:
	// a partition spans min(rf, racks) racks; one rack spreads leaders.
	for _, c := range []struct {
		m         map[int32]string
		rf, racks int
	}{
		{map[int32]string{0: "rack1", 1: "rack2", 2: "rack2", 3: "rack3", 4: "rack3", 5: "rack2"}, 5, 3},
		{map[int32]string{0: "rack1", 1: "rack2", 2: "rack2", 3: "rack3", 4: "rack3", 5: "rack2"}, 2, 2},
		{map[int32]string{0: "rack1", 1: "rack1", 2: "rack1", 3: "rack1", 4: "rack1", 5: "rack1"}, 3, 1},
	} {
		a, err := AssignReplicasToBrokers(racks(c.m), 6, c.rf, -1, -1, 0)
		if err != nil {
			t.Fatal(err)
		}
		leaders := map[int32]int{}
		for p, rs := range a {
			rs2 := map[string]bool{}
			for _, b := range rs {
				rs2[c.m[b]] = true
			}
			if len(rs) != c.rf || len(rs2) != c.racks {
				t.Errorf("rf %d: partition %d %v spans %d racks, want %d", c.rf, p, rs, len(rs2), c.racks)
			}
			leaders[rs[0]]++
		}
		if c.racks == 1 {
			for id := range c.m {
				if leaders[id] != 1 {
					t.Errorf("single rack: broker %d leads %d partitions, want 1", id, leaders[id])
				}
			}
		}
	}
	// Some brokers without a rack: refused, as Kafka does.
	if _, err := AssignReplicasToBrokers(racks(map[int32]string{0: "a", 1: "b"}, 2), 3, 2, -1, -1, 0); err == nil {
		t.Error("assignment with brokers lacking a rack accepted")
	}
	// None with a rack: the rack-unaware assignment.
	a, _ := AssignReplicasToBrokers(racks(nil, 0, 1, 2, 3, 4), 10, 3, 0, 0, 0)
	if !slices.Equal(a[5], []int32{0, 2, 3}) {
		t.Errorf("rack-unaware partition 5: %v, want [0 2 3]", a[5])
	}
}
