package controller

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// BrokerRack is a broker with its broker.rack (nil when it has none), what
// Kafka's replica assignment works from (BrokerMetadata).
type BrokerRack struct {
	ID   int32
	Rack *string
}

// errNotAllRacks is AdminUtils.assignReplicasToBrokersRackAware's refusal
// when only some brokers have a rack (Kafka's AdminOperationException,
// which reaches the client as UNKNOWN_SERVER_ERROR).
var errNotAllRacks = errors.New("Not all brokers have rack information for replica rack aware assignment.")

// AssignReplicasToBrokers is Kafka's AdminUtils.assignReplicasToBrokers
// (3.9): rack-unaware (AssignReplicas) when no broker has a rack,
// rack-aware (AssignReplicasRackAware) when every broker has one, and an
// error when only some have; kerr.InvalidReplicationFactor when rf is
// not between 1 and the number of brokers. brokers must be sorted by id. startIndex and
// shift < 0 pick random ones; Kafka passes the same fixed start index for
// both, or -1.
func AssignReplicasToBrokers(brokers []BrokerRack, nPartitions, rf, startIndex, shift, firstPartition int) ([][]int32, error) {
	if rf < 1 || rf > len(brokers) {
		return nil, fmt.Errorf("Replication factor: %d larger than available brokers: %d.: %w", rf, len(brokers), kerr.InvalidReplicationFactor)
	}
	withRack := 0
	ids := make([]int32, len(brokers))
	for i, b := range brokers {
		ids[i] = b.ID
		if b.Rack != nil {
			withRack++
		}
	}
	switch withRack {
	case 0:
		return AssignReplicas(ids, nPartitions, rf, startIndex, shift, firstPartition), nil
	case len(brokers):
		return AssignReplicasRackAware(brokers, nPartitions, rf, startIndex, shift, firstPartition), nil
	}
	return nil, errNotAllRacks
}

// RackAlternatedBrokers is AdminUtils.getRackAlternatedBrokerList: the
// brokers of each rack in id order, taken one rack at a time with the
// racks in name order, so that neighbours in the list are on different
// racks as long as possible.
func RackAlternatedBrokers(brokers []BrokerRack) []int32 {
	byRack := map[string][]int32{}
	for _, b := range brokers {
		byRack[*b.Rack] = append(byRack[*b.Rack], b.ID)
	}
	racks := make([]string, 0, len(byRack))
	for r, ids := range byRack {
		slices.Sort(ids)
		racks = append(racks, r)
	}
	slices.Sort(racks)
	next := make(map[string]int, len(racks))
	out := make([]int32, 0, len(brokers))
	for i := 0; len(out) < len(brokers); i = (i + 1) % len(racks) {
		r := racks[i]
		if next[r] < len(byRack[r]) {
			out = append(out, byRack[r][next[r]])
			next[r]++
		}
	}
	return out
}

// AssignReplicasRackAware is AdminUtils.assignReplicasToBrokersRackAware:
// leaders go round the rack-alternated broker list; each further replica
// is the next broker (at the partition's shift, times the number of
// racks) whose rack holds no replica of the partition yet, until every
// rack has one, and that holds none itself, until every broker has one.
// Every broker must have a rack; startIndex and shift < 0 pick random
// ones.
func AssignReplicasRackAware(brokers []BrokerRack, nPartitions, rf, startIndex, shift, firstPartition int) [][]int32 {
	rackOf := make(map[int32]string, len(brokers))
	racks := map[string]bool{}
	for _, b := range brokers {
		rackOf[b.ID] = *b.Rack
		racks[*b.Rack] = true
	}
	numRacks := len(racks)
	list := RackAlternatedBrokers(brokers)
	n := len(list)
	if startIndex < 0 {
		startIndex = rand.IntN(n)
	}
	if shift < 0 {
		shift = rand.IntN(n)
	}
	out := make([][]int32, 0, nPartitions)
	cur := max(0, firstPartition)
	for range nPartitions {
		if cur > 0 && cur%n == 0 {
			shift++
		}
		first := (cur + startIndex) % n
		leader := list[first]
		r := []int32{leader}
		rackHas := map[string]bool{rackOf[leader]: true}
		brokerHas := map[int32]bool{leader: true}
		k := 0
		for j := 0; j < rf-1; j++ {
			for {
				b := list[replicaIndex(first, shift*numRacks, k, n)]
				k++
				rack := rackOf[b]
				if (!rackHas[rack] || len(rackHas) == numRacks) && (!brokerHas[b] || len(brokerHas) == n) {
					r = append(r, b)
					rackHas[rack], brokerHas[b] = true, true
					break
				}
			}
		}
		out = append(out, r)
		cur++
	}
	return out
}

// replicaIndex is AdminUtils.replicaIndex: where the (j+1)th follower of a
// partition whose leader is at first goes, n brokers.
func replicaIndex(first, shift, j, n int) int {
	s := 1 + (shift+j)%(n-1)
	return (first + s) % n
}
