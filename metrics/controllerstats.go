package metrics

import (
	"sync/atomic"
	"time"
)

// ControllerStats are the kafka.controller:type=ControllerStats metrics
// Samsa's ZooKeeper-mode controller marks (Kafka's ControllerStats): as
// in Kafka they exist on every broker and move only on the one that
// processes the events. A nil *ControllerStats counts nothing, so the
// controller calls it without checks.
type ControllerStats struct {
	// uncleanLeaderElections is UncleanLeaderElectionsPerSec: leaders
	// elected outside the ISR (PartitionLeaderElectionAlgorithms
	// .offlinePartitionLeaderElection marks it).
	uncleanLeaderElections atomic.Uint64
	// reassign* are the PartitionReassignmentRateAndTimeMs timer: the
	// time the controller's event thread spends on each
	// AlterPartitionReassignment-state event (an
	// AlterPartitionReassignments request, a /admin/reassign_partitions
	// change).
	reassignBuckets [len(totalTimeBuckets) + 1]atomic.Uint64
	reassignMicro   atomic.Uint64
}

// UncleanLeaderElection counts one leader elected from outside the ISR.
func (s *ControllerStats) UncleanLeaderElection() {
	if s != nil {
		s.uncleanLeaderElections.Add(1)
	}
}

// PartitionReassignment records one reassignment event that took d on
// the controller's event goroutine.
func (s *ControllerStats) PartitionReassignment(d time.Duration) {
	if s == nil {
		return
	}
	s.reassignBuckets[bucketOf(d)].Add(1)
	s.reassignMicro.Add(uint64(d / time.Microsecond))
}

// Controller returns the broker's ControllerStats, for the ZooKeeper
// controller role (nil for a nil Broker).
func (m *Broker) Controller() *ControllerStats {
	if m == nil {
		return nil
	}
	return &m.controllerStats
}

// UncleanLeaderElections is the UncleanLeaderElectionsPerSec count so
// far (0 for nil).
func (s *ControllerStats) UncleanLeaderElections() uint64 {
	if s == nil {
		return 0
	}
	return s.uncleanLeaderElections.Load()
}
