package groups

// GroupStats is one group's state as metrics report it (Kafka's
// GroupMetadataManager gauges NumGroups* and NumOffsets, and the consumer
// group lag kafka_exporter computes from committed offsets).
type GroupStats struct {
	Group   string
	State   string // as DescribeGroups names it: Empty, Stable, ...
	Members int
	// Offsets are the committed offsets, sorted by topic and partition.
	Offsets []GroupOffset
}

// GroupOffset is one committed offset of a group.
type GroupOffset struct {
	TopicPartition
	Offset int64
}

// Stats returns every live group (Dead ones are left out, as Kafka's
// NumGroups does not count them once removed), sorted by group id. It
// takes each group's lock briefly in turn, so a scrape never holds up
// more than one group at a time. A closed coordinator has none.
func (c *Coordinator) Stats() []GroupStats {
	if c.closed.Load() {
		return nil
	}
	gs := c.snapshot()
	out := make([]GroupStats, 0, len(gs))
	for _, g := range gs {
		g.mu.Lock()
		if g.state == stateDead {
			g.mu.Unlock()
			continue
		}
		s := GroupStats{Group: g.id, State: g.state.String(), Members: len(g.members)}
		tps := g.sortedOffsetPartitions(nil)
		s.Offsets = make([]GroupOffset, len(tps))
		for i, tp := range tps {
			s.Offsets[i] = GroupOffset{TopicPartition: tp, Offset: g.offsets[tp].offset}
		}
		g.mu.Unlock()
		out = append(out, s)
	}
	return out
}
