package groups

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/coordinator"
)

// Describe handles one group of a DescribeGroups. A group that does not
// exist is reported as State "Dead" without error, as Kafka's coordinator
// does; the handler turns that into GROUP_ID_NOT_FOUND for v6+. Member
// metadata and assignments are only shown for a Stable group, the only
// state in which they are consistent.
func (c *Coordinator) Describe(groupID string) GroupDescription {
	d := GroupDescription{Group: groupID}
	g, code := c.lockGroup(groupID, false)
	if code != 0 {
		d.ErrorCode = code
		return d
	}
	if g == nil {
		d.State = stateDead.String()
		return d
	}
	defer g.mu.Unlock()
	d.State = g.state.String()
	if g.protocolType != nil {
		d.ProtocolType = *g.protocolType
	}
	stable := g.is(stateStable)
	if stable {
		d.Protocol = *g.protocolName
	}
	for _, m := range g.members {
		md := MemberDescription{
			MemberID:   m.id,
			InstanceID: cloneStr(m.instanceID),
			ClientID:   m.clientID,
			ClientHost: m.clientHost,
			Metadata:   []byte{},
			Assignment: []byte{},
		}
		if stable {
			md.Metadata = m.metadata(d.Protocol)
			md.Assignment = m.assignment
		}
		d.Members = append(d.Members, md)
	}
	return d
}

// List handles ListGroups, sorted by group id. Filters compare
// case-insensitively and an empty filter accepts everything; every group
// is of type "classic", so a type filter without "classic" matches
// nothing. A closed coordinator lists nothing.
func (c *Coordinator) List(states, types []string) []GroupListing {
	if c.closed.Load() {
		return nil
	}
	if len(types) > 0 {
		classic := false
		for _, t := range types {
			classic = classic || strings.EqualFold(t, "classic")
		}
		if !classic {
			return nil
		}
	}
	var out []GroupListing
	for _, g := range c.snapshot() {
		g.mu.Lock()
		st, pt := g.state, ""
		if g.protocolType != nil {
			pt = *g.protocolType
		}
		g.mu.Unlock()
		if st == stateDead {
			continue
		}
		if len(states) > 0 {
			ok := false
			for _, s := range states {
				ok = ok || strings.EqualFold(s, st.String())
			}
			if !ok {
				continue
			}
		}
		out = append(out, GroupListing{Group: g.id, ProtocolType: pt, State: st.String(), Type: "classic"})
	}
	return out
}

// Delete handles one group of a DeleteGroups: only an Empty group can be
// deleted (NON_EMPTY_GROUP otherwise), and its committed offsets go with
// it. GROUP_ID_NOT_FOUND for a group that does not exist.
func (c *Coordinator) Delete(groupID string) int16 {
	g, code := c.lockGroup(groupID, false)
	if code != 0 {
		return code
	}
	if g == nil {
		return kerr.GroupIDNotFound.Code
	}
	defer g.mu.Unlock()
	if !g.is(stateEmpty) {
		return kerr.NonEmptyGroup.Code
	}
	recs := make([]coordinator.Record, 0, len(g.offsets)+1)
	for _, tp := range g.sortedOffsetPartitions(nil) {
		recs = append(recs, offsetTombstone(g.id, tp))
	}
	recs = append(recs, groupTombstone(g.id))
	if err := c.write(g, recs, nil); err != nil {
		return storeErrCode(err)
	}
	c.log.Info("group deleted", "group", g.id, "offsets", len(g.offsets))
	clear(g.offsets)
	c.markDead(g)
	return 0
}
