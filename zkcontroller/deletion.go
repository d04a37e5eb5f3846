package zkcontroller

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/zkdata"
)

// topicDeletion is a topic being deleted, as Kafka's TopicDeletionManager
// tracks it: the brokers whose replicas have not yet acknowledged
// StopReplica with delete. Its znodes and /admin/delete_topics marker stay
// until that set is empty; a broker that is down gets StopReplica when it
// comes back, and a new controller resumes from the markers.
type topicDeletion struct {
	tc      *topicCtx
	pending map[int32]bool
}

type (
	evStopReplicaDone struct {
		gen    int
		topic  string
		broker int32
		resp   kmsg.Response
		err    error
	}
	evResendStopReplica struct {
		gen    int
		topic  string
		broker int32
	}
)

// stopReplicaRetry is the wait before StopReplica is sent again to a
// broker that answered it with an error.
const stopReplicaRetry = time.Second

// holdDeletions takes the topics with a deletion marker out of the
// topics to elect for, at failover, before any election
// (TopicDeletionManager.init: topics queued for deletion are not acted
// on); onDeleteTopics then starts or resumes their deletion.
func (c *Controller) holdDeletions() error {
	names, _, err := c.conn.Children(c.p(zkdata.DeleteTopicsPath))
	if err != nil {
		return fmt.Errorf("list topic deletions: %w", err)
	}
	if c.deleting == nil {
		c.deleting = map[string]*topicDeletion{}
	}
	for _, name := range names {
		if tc, ok := c.topics[name]; ok {
			c.deleting[name] = &topicDeletion{tc: tc}
			delete(c.topics, name)
		}
	}
	return nil
}

// onDeleteTopics processes /admin/delete_topics markers: each marked topic
// not yet being deleted starts its deletion; a marker for a topic that
// does not exist is removed.
func (c *Controller) onDeleteTopics() error {
	names, _, ch, err := c.conn.ChildrenW(c.p(zkdata.DeleteTopicsPath))
	if err != nil {
		return err
	}
	c.watch(ch, evDeleteTopics{c.gen})
	if c.deleting == nil {
		c.deleting = map[string]*topicDeletion{}
	}
	slices.Sort(names)
	for _, name := range names {
		if d, ok := c.deleting[name]; ok {
			if d.pending == nil {
				c.deleteTopic(d.tc) // held at failover, not started yet
				if err := c.maybeCompleteDeletion(name); err != nil {
					return err
				}
			}
			continue
		}
		if tc, ok := c.topics[name]; ok {
			if c.topicReassigning(tc) {
				// TopicDeletionManager: ineligible while a partition
				// is reassigned; resumed when the reassignment ends.
				c.log.Info("controller: topic deletion waits for its reassignment", "topic", name)
				continue
			}
			c.deleteTopic(tc)
			if err := c.maybeCompleteDeletion(name); err != nil {
				return err
			}
			continue
		}
		if ok, _, err := c.conn.Exists(c.p(zkdata.TopicPath(name))); err != nil {
			return err
		} else if ok {
			// Not loaded (unreadable assignment): leave the marker.
			c.log.Error("controller: topic marked for deletion cannot be loaded; its deletion waits", "topic", name)
			continue
		}
		if err := c.deleteConditional(c.p(zkdata.DeleteTopicPath(name))); err != nil {
			return err
		}
	}
	return nil
}

// deleteTopic starts a topic's deletion (TopicDeletionManager
// .onTopicDeletion): UpdateMetadata with leader -2 to every live broker,
// StopReplica with delete to every live replica; the topic's znodes go
// once every replica acknowledged (maybeCompleteDeletion).
func (c *Controller) deleteTopic(tc *topicCtx) {
	c.log.Info("controller: deleting topic", "topic", tc.name)
	delete(c.topics, tc.name)
	d := &topicDeletion{tc: tc, pending: map[int32]bool{}}
	for _, rs := range tc.replicas {
		for _, r := range rs {
			d.pending[r] = true
		}
	}
	c.deleting[tc.name] = d
	for _, id := range c.liveIDs() {
		req := c.updateMetadataRequest(id)
		req.TopicStates = nil
		ts := kmsg.NewUpdateMetadataRequestTopicState()
		ts.Topic, ts.TopicID = tc.name, tc.id
		ps := make([]int32, 0, len(tc.replicas))
		for p := range tc.replicas {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		for _, p := range ps {
			s := kmsg.NewUpdateMetadataRequestTopicPartition()
			s.Partition, s.Leader, s.ControllerEpoch = p, zkdata.LeaderDuringDelete, c.epoch
			s.Replicas, s.ISR, s.OfflineReplicas = tc.replicas[p], []int32{}, []int32{}
			ts.PartitionStates = append(ts.PartitionStates, s)
		}
		req.TopicStates = append(req.TopicStates, ts)
		c.enqueue(id, req)
	}
	for _, b := range sortedIDs(d.pending) {
		c.sendStopReplica(d, b)
	}
}

func sortedIDs(m map[int32]bool) []int32 {
	out := make([]int32, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// sendStopReplica sends StopReplica v4 with delete for the topic's
// partitions on broker b, if it is live; its answer comes back as
// evStopReplicaDone. A replica on a dead broker waits for it to return
// (ReplicaDeletionIneligible).
func (c *Controller) sendStopReplica(d *topicDeletion, b int32) {
	s := c.senders[b]
	if s == nil || !c.isRegistered(b) {
		return
	}
	req := kmsg.NewPtrStopReplicaRequest()
	req.Version, req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = 4, c.id, c.epoch, c.live[b].epoch
	t := kmsg.NewStopReplicaRequestTopic()
	t.Topic = d.tc.name
	var ps []int32
	for p, rs := range d.tc.replicas {
		if slices.Contains(rs, b) {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	for _, p := range ps {
		st := kmsg.NewStopReplicaRequestTopicPartitionState()
		st.Partition, st.LeaderEpoch, st.Delete = p, -2, true // EpochDuringDelete
		t.PartitionStates = append(t.PartitionStates, st)
	}
	req.Topics = append(req.Topics, t)
	gen, topic := c.gen, d.tc.name
	s.enqueueWithCallback(req, func(resp kmsg.Response, err error) {
		go c.post(evStopReplicaDone{gen: gen, topic: topic, broker: b, resp: resp, err: err})
	})
}

// onStopReplicaDone records a broker's answer to StopReplica: success (or
// a broker that does not serve StopReplica, so holds no replica) removes
// it from the pending set; an error sends it again after
// stopReplicaRetry.
func (c *Controller) onStopReplicaDone(e evStopReplicaDone) error {
	d := c.deleting[e.topic]
	if d == nil || !d.pending[e.broker] {
		return nil
	}
	code := int16(0)
	if r, ok := e.resp.(*kmsg.StopReplicaResponse); ok {
		code = r.ErrorCode
		for _, p := range r.Partitions {
			if code == 0 && p.Topic == e.topic && p.ErrorCode != 0 && p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
				code = p.ErrorCode
			}
		}
	}
	switch {
	case errors.Is(e.err, errNotServed):
		c.log.Warn("controller: broker does not serve StopReplica; taking its replicas as deleted", "topic", e.topic, "broker", e.broker)
	case e.err != nil || code != 0:
		c.log.Warn("controller: StopReplica for topic deletion failed; retrying", "topic", e.topic, "broker", e.broker,
			"error", kerr.ErrorForCode(code), "err", e.err)
		gen := c.gen
		go func() {
			select {
			case <-time.After(stopReplicaRetry):
				c.post(evResendStopReplica{gen: gen, topic: e.topic, broker: e.broker})
			case <-c.stop:
			}
		}()
		return nil
	}
	delete(d.pending, e.broker)
	return c.maybeCompleteDeletion(e.topic)
}

func (c *Controller) resendStopReplica(topic string, b int32) {
	if d := c.deleting[topic]; d != nil && d.pending[b] {
		c.sendStopReplica(d, b)
	}
}

// resumeDeletions sends StopReplica to brokers that came back with
// replicas of topics being deleted (resumeDeletionForTopics).
func (c *Controller) resumeDeletions(added []int32) {
	for _, name := range sortedKeys(c.deleting) {
		d := c.deleting[name]
		for _, b := range added {
			if d.pending[b] {
				c.sendStopReplica(d, b)
			}
		}
	}
}

// maybeCompleteDeletion removes the topic's znodes, config and marker once
// no replica is pending (completeDeleteTopic), each delete conditional on
// this controller's epoch version.
func (c *Controller) maybeCompleteDeletion(name string) error {
	d := c.deleting[name]
	if d == nil || d.pending == nil || len(d.pending) > 0 {
		return nil
	}
	if err := c.deleteConditionalRecursive(c.p(zkdata.TopicPath(name))); err != nil {
		return fmt.Errorf("delete znodes of topic %s: %w", name, err)
	}
	if ok, _, err := c.conn.Exists(c.p(zkdata.ConfigTopicPath(name))); err != nil {
		return err
	} else if ok {
		if err := c.deleteConditional(c.p(zkdata.ConfigTopicPath(name))); err != nil {
			return fmt.Errorf("delete config of topic %s: %w", name, err)
		}
		_, _ = c.conn.Create(c.p(zkdata.ConfigChangesPath+"/"+zkdata.ConfigChangePrefix),
			zkdata.EncodeConfigChange("topics/"+name), zk.FlagSequence, zk.WorldACL(zk.PermAll))
	}
	if err := c.deleteConditional(c.p(zkdata.DeleteTopicPath(name))); err != nil {
		return fmt.Errorf("delete deletion marker of topic %s: %w", name, err)
	}
	delete(c.deleting, name)
	c.log.Info("controller: topic deleted", "topic", name)
	return nil
}

// deleteConditional deletes path in a multi-op that checks
// /controller_epoch still has this controller's version (Kafka's
// deletes with expectedControllerEpochZkVersion); a missing znode is
// fine; a changed epoch is errControllerMoved.
func (c *Controller) deleteConditional(path string) error {
	res, err := c.conn.Multi(
		&zk.CheckVersionRequest{Path: c.p(zkdata.ControllerEpochPath), Version: c.epochVersion},
		&zk.DeleteRequest{Path: path, Version: -1},
	)
	switch {
	case err == nil:
		return nil
	case len(res) > 0 && errors.Is(res[0].Error, zk.ErrBadVersion):
		return errControllerMoved
	case len(res) > 1 && errors.Is(res[1].Error, zk.ErrNoNode):
		return nil
	}
	return err
}

func (c *Controller) deleteConditionalRecursive(path string) error {
	children, _, err := c.conn.Children(path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, ch := range children {
		if err := c.deleteConditionalRecursive(path + "/" + ch); err != nil {
			return err
		}
	}
	return c.deleteConditional(path)
}
