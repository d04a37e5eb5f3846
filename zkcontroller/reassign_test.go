package zkcontroller

import (
	"slices"
	"testing"
)

// TestReassignTo checks ReplicaAssignment's arithmetic with the example
// of KafkaController.onPartitionReassignment's documentation, a move
// overlapping the current replicas, its cancellation and a replacement.
func TestReassignTo(t *testing.T) {
	eq := func(what string, got, want []int32) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	cur := assignment{replicas: []int32{1, 2, 3}}
	a := cur.reassignTo([]int32{4, 5, 6})
	eq("RS", a.replicas, []int32{4, 5, 6, 1, 2, 3})
	eq("AR", a.adding, []int32{4, 5, 6})
	eq("RR", a.removing, []int32{1, 2, 3})
	eq("ORS", a.origin(), []int32{1, 2, 3})
	eq("TRS", a.target(), []int32{4, 5, 6})

	b := cur.reassignTo([]int32{2, 3, 4})
	eq("RS", b.replicas, []int32{2, 3, 4, 1})
	eq("AR", b.adding, []int32{4})
	eq("RR", b.removing, []int32{1})
	if !b.reassigning() {
		t.Error("a move is not reassigning")
	}
	// Cancelling: back to ORS, in RS's order (Kafka cannot restore [1,2,3]).
	c := b.reassignTo(b.origin())
	eq("cancelled RS", c.replicas, []int32{2, 3, 1})
	if c.reassigning() {
		t.Errorf("cancelled still reassigning: %+v", c)
	}
	// Replacing a reassignment in progress keeps the original replicas.
	d := b.reassignTo([]int32{3, 5})
	eq("RS", d.replicas, []int32{3, 5, 2, 1})
	eq("AR", d.adding, []int32{5})
	eq("RR", d.removing, []int32{2, 1})
	// Reordering only: nothing to add or remove.
	if e := cur.reassignTo([]int32{3, 1, 2}); e.reassigning() || !slices.Equal(e.replicas, []int32{3, 1, 2}) {
		t.Errorf("reorder: %+v", e)
	}
}
