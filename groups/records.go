package groups

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/coordinator"
)

// OffsetsTopic is Kafka's internal topic of committed offsets and group
// metadata (Topic.GROUP_METADATA_TOPIC_NAME).
const OffsetsTopic = "__consumer_offsets"

// Record key versions in __consumer_offsets: the key's leading int16 is
// Kafka 4's CoordinatorRecordType id (0 and 1 are both an OffsetCommitKey;
// Kafka 4 writes 1), see GroupCoordinatorRecordHelpers.
const (
	keyOffsetCommitV0  = 0
	keyOffsetCommit    = 1
	keyGroupMetadata   = 2
	valueOffsetCommit  = 3 // OffsetCommitValue: v3 (leader epoch); Kafka writes v1 only with an expire timestamp, which no request version Samsa serves sets
	valueGroupMetadata = 3 // GroupMetadataValue v3 (GROUP_METADATA_VALUE_VERSION)
)

// PartitionFor is the __consumer_offsets partition of a group, as Kafka
// places it: Utils.abs(groupId.hashCode()) % partitions, with Java's
// String.hashCode over UTF-16 code units and Utils.abs mapping
// Integer.MIN_VALUE to 0.
func PartitionFor(groupID string, partitions int32) int32 {
	var h int32
	for _, r := range groupID {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

func offsetRecordKey(group string, tp TopicPartition) []byte {
	k := kmsg.OffsetCommitKey{Version: keyOffsetCommit, Group: group, Topic: tp.Topic, Partition: tp.Partition}
	return k.AppendTo(make([]byte, 0, 10+len(group)+len(tp.Topic)))
}

func offsetRecord(group string, tp TopicPartition, v offsetValue) coordinator.Record {
	val := kmsg.OffsetCommitValue{Version: valueOffsetCommit, Offset: v.offset, LeaderEpoch: v.leaderEpoch,
		Metadata: v.metadata, CommitTimestamp: v.commitMs, ExpireTimestamp: -1}
	return coordinator.Record{Key: offsetRecordKey(group, tp), Value: val.AppendTo(make([]byte, 0, 28+len(v.metadata)))}
}

func offsetTombstone(group string, tp TopicPartition) coordinator.Record {
	return coordinator.Record{Key: offsetRecordKey(group, tp)}
}

func groupRecordKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: keyGroupMetadata, Group: group}
	return k.AppendTo(make([]byte, 0, 4+len(group)))
}

func groupTombstone(group string) coordinator.Record {
	return coordinator.Record{Key: groupRecordKey(group)}
}

// groupRecord is Kafka's newGroupMetadataRecord: the group's protocol
// type, generation, selected protocol, leader and state timestamp, and
// per member only the selected protocol's metadata (the subscription)
// with the given assignment (which may not be the members' current one
// yet: the leader's assignment is stored before it is handed out).
func groupRecord(g *group, assignment map[string][]byte) coordinator.Record {
	v := kmsg.GroupMetadataValue{
		Version:               valueGroupMetadata,
		Generation:            g.generation,
		Protocol:              cloneStr(g.protocolName),
		CurrentStateTimestamp: g.stateTimestamp,
	}
	if g.protocolType != nil {
		v.ProtocolType = *g.protocolType
	}
	if g.leader != "" {
		v.Leader = kmsg.StringPtr(g.leader)
	}
	for _, m := range g.members {
		sub := []byte{}
		if g.protocolName != nil {
			if md := m.metadata(*g.protocolName); md != nil {
				sub = md
			}
		}
		a := assignment[m.id]
		if a == nil {
			a = []byte{}
		}
		v.Members = append(v.Members, kmsg.GroupMetadataValueMember{
			MemberID:               m.id,
			InstanceID:             cloneStr(m.instanceID),
			ClientID:               m.clientID,
			ClientHost:             m.clientHost,
			RebalanceTimeoutMillis: int32(m.rebalanceTimeout.Milliseconds()),
			SessionTimeoutMillis:   int32(m.sessionTimeout.Milliseconds()),
			Subscription:           sub,
			Assignment:             a,
		})
	}
	return coordinator.Record{Key: groupRecordKey(g.id), Value: v.AppendTo(nil)}
}

// groupFromRecord rebuilds a group from its GroupMetadataValue. Like
// Kafka's loader (ClassicGroup.fromRecord) it comes back Stable if it has
// members and Empty otherwise, and each member supports just the selected
// protocol, with the stored subscription as its metadata.
func groupFromRecord(id string, v *kmsg.GroupMetadataValue) (*group, error) {
	g := newGroup(id, v.CurrentStateTimestamp)
	g.generation = v.Generation
	if v.ProtocolType != "" {
		pt := v.ProtocolType
		g.protocolType = &pt
	}
	g.protocolName = cloneStr(v.Protocol)
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	for _, mm := range v.Members {
		if g.protocolName == nil {
			return nil, fmt.Errorf("group %q: members without a protocol", id)
		}
		m := &member{
			id:               mm.MemberID,
			instanceID:       cloneStr(mm.InstanceID),
			clientID:         mm.ClientID,
			clientHost:       mm.ClientHost,
			rebalanceTimeout: time.Duration(mm.RebalanceTimeoutMillis) * time.Millisecond,
			sessionTimeout:   time.Duration(mm.SessionTimeoutMillis) * time.Millisecond,
			protocolType:     v.ProtocolType,
			protocols:        []Protocol{{Name: *g.protocolName, Metadata: mm.Subscription}},
			assignment:       mm.Assignment,
		}
		if v.Version < 1 {
			m.rebalanceTimeout = m.sessionTimeout
		}
		if g.byID[m.id] != nil {
			return nil, fmt.Errorf("group %q: duplicate member %q", id, m.id)
		}
		g.add(m, nil)
	}
	if v.Leader != nil && !g.has(*v.Leader) {
		g.leader = ""
		if len(g.members) > 0 {
			g.leader = g.members[0].id
		}
	}
	if len(g.members) > 0 {
		g.state = stateStable
	}
	g.computeSubscribedTopics()
	return g, nil
}

// loadingGroup is what replay knows of one group so far.
type loadingGroup struct {
	meta    *kmsg.GroupMetadataValue // nil: no (or a deleted) group record
	offsets map[TopicPartition]offsetValue
	pending map[int64]map[TopicPartition]offsetValue // transactional offsets by producer id
}

// shard is the state machine of one __consumer_offsets partition. While
// loading it collects the last record per key; LoadComplete turns that
// into groups in the coordinator's map.
type shard struct {
	c       *Coordinator
	id      int32
	loading map[string]*loadingGroup
}

func (c *Coordinator) newShard(id int32) coordinator.StateMachine {
	return &shard{c: c, id: id, loading: map[string]*loadingGroup{}}
}

func (s *shard) lg(id string) *loadingGroup {
	l := s.loading[id]
	if l == nil {
		l = &loadingGroup{offsets: map[TopicPartition]offsetValue{}}
		s.loading[id] = l
	}
	return l
}

// Replay applies one record, as Kafka's GroupMetadataManager and
// OffsetMetadataManager replay them: the last record of a key wins, a
// tombstone deletes. Record types Samsa does not write (the consumer,
// share and streams group records of KIP-848 and later) are skipped.
func (s *shard) Replay(offset int64, rec coordinator.Record) error {
	return s.replay(rec, -1)
}

// ReplayTxn replays a record of a transactional batch (a TxnOffsetCommit
// of producerID): offsets stay pending until ReplayMarker.
func (s *shard) ReplayTxn(offset, producerID int64, _ int16, rec coordinator.Record) error {
	return s.replay(rec, producerID)
}

// ReplayMarker settles producerID's pending offsets of every group of the
// partition: committed on COMMIT, dropped on ABORT.
func (s *shard) ReplayMarker(offset, producerID int64, _ int16, commit bool) error {
	for _, l := range s.loading {
		pend, ok := l.pending[producerID]
		if !ok {
			continue
		}
		delete(l.pending, producerID)
		if commit {
			for tp, v := range pend {
				l.offsets[tp] = v
			}
		}
	}
	return nil
}

func (s *shard) replay(rec coordinator.Record, producerID int64) error {
	if len(rec.Key) < 2 {
		return fmt.Errorf("key of %d bytes", len(rec.Key))
	}
	switch kv := int16(binary.BigEndian.Uint16(rec.Key)); kv {
	case keyOffsetCommitV0, keyOffsetCommit:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(rec.Key); err != nil {
			return fmt.Errorf("offset commit key: %w", err)
		}
		tp := TopicPartition{Topic: k.Topic, Partition: k.Partition}
		if rec.Value == nil {
			if l := s.loading[k.Group]; l != nil {
				delete(l.offsets, tp)
			}
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(rec.Value); err != nil {
			return fmt.Errorf("offset commit value of %s: %w", k.Group, err)
		}
		le := v.LeaderEpoch
		if v.Version < 3 {
			le = -1
		}
		ov := offsetValue{offset: v.Offset, leaderEpoch: le, metadata: v.Metadata, commitMs: v.CommitTimestamp}
		l := s.lg(k.Group)
		if producerID >= 0 {
			if l.pending == nil {
				l.pending = map[int64]map[TopicPartition]offsetValue{}
			}
			if l.pending[producerID] == nil {
				l.pending[producerID] = map[TopicPartition]offsetValue{}
			}
			l.pending[producerID][tp] = ov
			return nil
		}
		l.offsets[tp] = ov
	case keyGroupMetadata:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(rec.Key); err != nil {
			return fmt.Errorf("group metadata key: %w", err)
		}
		if rec.Value == nil {
			if l := s.loading[k.Group]; l != nil {
				l.meta = nil
			}
			return nil
		}
		v := new(kmsg.GroupMetadataValue)
		if err := v.ReadFrom(rec.Value); err != nil {
			return fmt.Errorf("group metadata value of %s: %w", k.Group, err)
		}
		s.lg(k.Group).meta = v
	}
	return nil
}

// LoadComplete publishes the loaded groups: a group record makes the
// group (with its offsets); offsets without a group record make an Empty
// group without protocol type, as Kafka's loader does. A group already in
// memory (created before this partition was loaded, which only happens
// for a partition loaded lazily and so empty) is kept.
func (s *shard) LoadComplete() {
	c := s.c
	nowMs := c.nowMs()
	var loaded []*group
	for id, l := range s.loading {
		var g *group
		if l.meta != nil {
			var err error
			if g, err = groupFromRecord(id, l.meta); err != nil {
				c.log.Error("skipping unreadable group record", "group", id, "partition", s.id, "err", err)
				g = nil
			}
		}
		if g == nil {
			if len(l.offsets) == 0 && len(l.pending) == 0 {
				continue
			}
			g = newGroup(id, nowMs)
		}
		g.offsets = l.offsets
		if len(l.pending) > 0 {
			g.pendingTxn = l.pending
		}
		loaded = append(loaded, g)
	}
	s.loading = nil
	c.mu.Lock()
	for _, g := range loaded {
		if _, ok := c.groups[g.id]; !ok {
			c.groups[g.id] = g
			c.pendingLoaded = append(c.pendingLoaded, g)
		}
	}
	c.mu.Unlock()
}

// Unload forgets the partition's groups (Kafka's onResignation): they
// are made Dead, their timers stopped and parked requests answered
// NOT_COORDINATOR, so that clients look for the coordinator again. The
// runtime calls it with no group's mu held (Close, or a partition going
// away), so taking each group's mu here is in the usual order.
func (s *shard) Unload() {
	c := s.c
	c.mu.Lock()
	var gone []*group
	for id, g := range c.groups {
		if PartitionFor(id, c.numPartitions) == s.id {
			gone = append(gone, g)
			delete(c.groups, id)
		}
	}
	c.mu.Unlock()
	for _, g := range gone {
		g.mu.Lock()
		c.stopGroupTimers(g)
		for _, m := range g.members {
			g.maybeInvokeJoin(m, joinError(m.id, kerr.NotCoordinator.Code))
			g.maybeInvokeSync(m, SyncResponse{ErrorCode: kerr.NotCoordinator.Code})
		}
		g.transitionTo(stateDead, c.nowMs())
		g.mu.Unlock()
	}
}
