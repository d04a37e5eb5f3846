package groups

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/coordinator"
)

// Commit handles an OffsetCommit. partErrs is parallel to req.Offsets and
// always complete; groupErr is non-zero when the request was refused as a
// whole (every partErr then carries the same code), so a handler can copy
// partErrs alone. The offsets are appended to __consumer_offsets before
// Commit returns: an acknowledged commit is an acknowledged append.
func (c *Coordinator) Commit(req CommitRequest) (groupErr int16, partErrs []int16) {
	partErrs = make([]int16, len(req.Offsets))
	fail := func(code int16) (int16, []int16) {
		for i := range partErrs {
			partErrs[i] = code
		}
		return code, partErrs
	}
	// A commit outside any group session (generation < 0) creates the
	// group, as an Empty group holding only offsets.
	g, code := c.lockGroup(req.Group, req.Generation < 0)
	if code != 0 {
		return fail(code)
	}
	if g == nil {
		// Kafka 3.x; OffsetCommit v9+ on Kafka 4 says GROUP_ID_NOT_FOUND.
		return fail(kerr.IllegalGeneration.Code)
	}
	defer g.mu.Unlock()
	if code := validateOffsetCommit(g, req); code != 0 {
		return fail(code)
	}
	switch g.state {
	case stateStable, statePreparingRebalance:
		// Members of the current generation may still commit while a
		// rebalance is prepared: they learn about it from heartbeats.
		if m := g.byID[req.MemberID]; m != nil {
			c.scheduleHeartbeat(g, m, m.sessionTimeout)
		}
	case stateCompletingRebalance:
		// Valid member and generation: it has its JoinGroup answer but
		// not yet its assignment.
		return fail(kerr.RebalanceInProgress.Code)
	}
	c.storeOffsets(g, req.Offsets, partErrs)
	return 0, partErrs
}

// validateOffsetCommit is Kafka's: simple commits are accepted only while
// the group is Empty; anything naming a member or a generation must be
// the current generation of a current member.
func validateOffsetCommit(g *group, req CommitRequest) int16 {
	if req.Generation < 0 && g.is(stateEmpty) {
		return 0
	}
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		if code := validateMember(g, req.MemberID, req.InstanceID); code != 0 {
			return code
		}
		if req.Generation != g.generation {
			return kerr.IllegalGeneration.Code
		}
		return 0
	}
	if !g.is(stateEmpty) {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

// storeOffsets appends an OffsetCommit record for each offset whose
// metadata fits, in one batch, and then applies them; partErrs gets
// OFFSET_METADATA_TOO_LARGE for the others and the storage error code
// (storeErrCode) for all if the append fails.
func (c *Coordinator) storeOffsets(g *group, offsets []OffsetCommit, partErrs []int16) {
	vals, recs := c.offsetRecords(g, offsets, partErrs)
	if len(recs) == 0 {
		return
	}
	err := c.write(g, recs, func() {
		for i, o := range offsets {
			if partErrs[i] == 0 {
				g.offsets[o.TopicPartition] = vals[i]
			}
		}
	})
	if err != nil {
		code := storeErrCode(err)
		for i := range partErrs {
			if partErrs[i] == 0 {
				partErrs[i] = code
			}
		}
	}
}

// javaLength is the length Kafka compares with offset.metadata.max.bytes:
// Java's String.length, in UTF-16 code units.
func javaLength(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// Fetch handles an OffsetFetch for one group. partitions nil asks for
// every committed partition of the group (sorted by topic and
// partition). A partition without a commit, and every partition of an
// unknown group, answers offset -1 without error, as Kafka does, because
// groups that only store offsets are indistinguishable from no group.
// Commits are applied before Commit returns, so requireStable never finds
// a pending one.
func (c *Coordinator) Fetch(groupID string, partitions []TopicPartition, requireStable bool) (int16, []CommittedOffset) {
	g, code := c.lockGroup(groupID, false)
	if code != 0 {
		return code, nil
	}
	if g == nil {
		out := make([]CommittedOffset, len(partitions))
		for i, tp := range partitions {
			out[i] = noOffset(tp)
		}
		return 0, out
	}
	defer g.mu.Unlock()
	if partitions == nil {
		partitions = g.sortedOffsetPartitions(nil)
	}
	out := make([]CommittedOffset, len(partitions))
	for i, tp := range partitions {
		if requireStable && g.hasPendingTxn(tp) {
			out[i] = noOffset(tp)
			out[i].ErrorCode = kerr.UnstableOffsetCommit.Code
			continue
		}
		v, ok := g.offsets[tp]
		if !ok {
			out[i] = noOffset(tp)
			continue
		}
		md := v.metadata
		out[i] = CommittedOffset{TopicPartition: tp, Offset: v.offset, LeaderEpoch: v.leaderEpoch, Metadata: &md}
	}
	return 0, out
}

func noOffset(tp TopicPartition) CommittedOffset {
	md := ""
	return CommittedOffset{TopicPartition: tp, Offset: -1, LeaderEpoch: -1, Metadata: &md}
}

// sortedOffsetPartitions lists the committed partitions accepted by keep
// (all when nil), sorted.
func (g *group) sortedOffsetPartitions(keep func(TopicPartition) bool) []TopicPartition {
	out := make([]TopicPartition, 0, len(g.offsets))
	for tp := range g.offsets {
		if keep == nil || keep(tp) {
			out = append(out, tp)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// DeleteOffsets handles an OffsetDelete. An Empty group loses every
// requested partition; a consumer group with members keeps the topics its
// members subscribe to (GROUP_SUBSCRIBED_TO_TOPIC), since deleting them
// would reset a live consumer; any other group with members refuses
// (NON_EMPTY_GROUP). With a group error partErrs is nil, as the response
// then carries no topics; otherwise it is parallel to partitions.
func (c *Coordinator) DeleteOffsets(groupID string, partitions []TopicPartition) (groupErr int16, partErrs []int16) {
	g, code := c.lockGroup(groupID, false)
	if code != 0 {
		return code, nil
	}
	if g == nil {
		return kerr.GroupIDNotFound.Code, nil
	}
	defer g.mu.Unlock()
	partErrs = make([]int16, len(partitions))
	switch g.state {
	case stateEmpty:
	default:
		if g.protocolType == nil || *g.protocolType != consumerProtocolType {
			return kerr.NonEmptyGroup.Code, nil
		}
		for i, tp := range partitions {
			if g.isSubscribedToTopic(tp.Topic) {
				partErrs[i] = kerr.GroupSubscribedToTopic.Code
			}
		}
	}
	var eligible []TopicPartition
	for i, tp := range partitions {
		if partErrs[i] == 0 {
			eligible = append(eligible, tp)
		}
	}
	if len(eligible) == 0 {
		return 0, partErrs
	}
	if err := c.removeOffsets(g, eligible); err != nil {
		code := storeErrCode(err)
		for i := range partErrs {
			if partErrs[i] == 0 {
				partErrs[i] = code
			}
		}
		return 0, partErrs
	}
	c.log.Info("offsets deleted", "group", g.id, "partitions", len(eligible))
	return 0, partErrs
}

// DeleteTopicOffsets removes a deleted topic's committed offsets from
// every group, so that a topic created later under the same name starts
// without them. Groups left Empty without offsets are deleted, as Kafka
// does after any offset removal.
func (c *Coordinator) DeleteTopicOffsets(topic string) {
	for _, g := range c.snapshot() {
		if !c.lockLive(g) {
			continue
		}
		tps := g.sortedOffsetPartitions(func(tp TopicPartition) bool { return tp.Topic == topic })
		if len(tps) > 0 {
			if err := c.removeOffsets(g, tps); err == nil {
				c.log.Info("removed offsets of deleted topic", "group", g.id, "topic", topic, "partitions", len(tps))
			}
		}
		g.mu.Unlock()
	}
}

// DropOffsetsOfUnknownTopics removes, at start, the committed offsets of
// every topic that exists does not know, logging each topic once. The broker
// calls it after opening the cluster metadata: a topic deleted while the
// broker crashed between the metadata change and the offsets removal, or
// cluster metadata that was lost, must not leave offsets that a topic
// created later under the same name would silently inherit.
func (c *Coordinator) DropOffsetsOfUnknownTopics(exists func(topic string) bool) {
	unknown := make(map[string]bool)
	for _, g := range c.snapshot() {
		if !c.lockLive(g) {
			continue
		}
		for tp := range g.offsets {
			if _, seen := unknown[tp.Topic]; !seen {
				unknown[tp.Topic] = !exists(tp.Topic)
			}
		}
		g.mu.Unlock()
	}
	for topic, drop := range unknown {
		if drop {
			c.log.Warn("committed offsets found for a topic the cluster metadata does not have; removing them", "topic", topic)
			c.DeleteTopicOffsets(topic)
		}
	}
}

// removeOffsets appends tombstones for the offsets (and for the group,
// if that leaves it Empty without offsets: Kafka's cleanupGroupMetadata)
// and then removes them from memory, deleting the group in the second
// case. Called with g.mu held.
func (c *Coordinator) removeOffsets(g *group, tps []TopicPartition) error {
	var recs []coordinator.Record
	for _, tp := range tps {
		if _, ok := g.offsets[tp]; ok {
			recs = append(recs, offsetTombstone(g.id, tp))
		}
	}
	dead := g.is(stateEmpty) && g.offsetsLeftAfter(tps) == 0
	if dead {
		recs = append(recs, groupTombstone(g.id))
	}
	if err := c.write(g, recs, func() {
		for _, tp := range tps {
			delete(g.offsets, tp)
		}
	}); err != nil {
		return err
	}
	if dead {
		c.log.Info("group has no members and no offsets, deleting it", "group", g.id)
		c.markDead(g)
	}
	return nil
}

// offsetsLeftAfter counts the offsets that removing tps would leave.
func (g *group) offsetsLeftAfter(tps []TopicPartition) int {
	n := len(g.offsets)
	seen := make(map[TopicPartition]bool, len(tps))
	for _, tp := range tps {
		if _, ok := g.offsets[tp]; ok && !seen[tp] {
			seen[tp] = true
			n--
		}
	}
	return n
}

// runExpiration is the offsets.retention.check.interval.ms task.
func (c *Coordinator) runExpiration() {
	start := time.Now()
	nowMs := c.nowMs()
	removed, deleted := 0, 0
	for _, g := range c.snapshot() {
		if !c.lockLive(g) {
			continue
		}
		expired := g.expiredOffsets(nowMs, c.cfg.OffsetsRetention.Milliseconds())
		// Expired offsets get tombstones, as Kafka's
		// cleanupGroupMetadata writes them.
		if len(expired) > 0 || (g.is(stateEmpty) && len(g.offsets) == 0) {
			if err := c.removeOffsets(g, expired); err == nil {
				removed += len(expired)
				if g.is(stateDead) {
					deleted++
				}
			}
		}
		g.mu.Unlock()
	}
	if removed > 0 || deleted > 0 {
		c.log.Info("expired offsets", "offsets", removed, "groups_deleted", deleted, "took", time.Since(start))
	}
	c.mu.Lock()
	if !c.closed.Load() {
		c.expireTimer.Reset(c.cfg.OffsetsRetentionCheckInterval)
	}
	c.mu.Unlock()
}

// expiredOffsets applies Kafka's offset expiration conditions:
//   - a group with a protocol type that is Empty: every offset, once the
//     retention has passed since the group became Empty;
//   - a stable consumer group that knows its subscriptions: offsets of
//     topics nobody subscribes to, by commit time;
//   - a group without protocol type (offsets only): by commit time.
func (g *group) expiredOffsets(nowMs, retentionMs int64) []TopicPartition {
	var keep func(TopicPartition) bool
	switch {
	case g.protocolType != nil && g.is(stateEmpty):
		if nowMs-g.stateTimestamp < retentionMs {
			return nil
		}
	case g.protocolType != nil && *g.protocolType == consumerProtocolType && g.subKnown && g.is(stateStable):
		keep = func(tp TopicPartition) bool {
			return !g.subscribed[tp.Topic] && nowMs-g.offsets[tp].commitMs >= retentionMs
		}
	case g.protocolType == nil:
		keep = func(tp TopicPartition) bool { return nowMs-g.offsets[tp].commitMs >= retentionMs }
	default:
		return nil
	}
	return g.sortedOffsetPartitions(keep)
}

// offsetRecords builds the OffsetCommit records of a commit (plain or
// transactional) and the values they hold; an offset whose metadata is
// longer than offset.metadata.max.bytes gets OFFSET_METADATA_TOO_LARGE in
// partErrs and no record.
func (c *Coordinator) offsetRecords(g *group, offsets []OffsetCommit, partErrs []int16) ([]offsetValue, []coordinator.Record) {
	nowMs := c.nowMs()
	vals := make([]offsetValue, len(offsets))
	recs := make([]coordinator.Record, 0, len(offsets))
	for i, o := range offsets {
		md := ""
		if o.Metadata != nil {
			md = *o.Metadata
		}
		if javaLength(md) > c.cfg.OffsetMetadataMaxSize {
			partErrs[i] = kerr.OffsetMetadataTooLarge.Code
			continue
		}
		vals[i] = offsetValue{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: md, commitMs: nowMs}
		recs = append(recs, offsetRecord(g.id, o.TopicPartition, vals[i]))
	}
	return vals, recs
}
