package zkcontroller

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-zookeeper/zk"

	"samsa/internal/zkdata"
)

// evIsrChange is a child change of /isr_change_notification.
type evIsrChange struct{ gen int }

// onIsrChangeNotification is KafkaController.processIsrChangeNotification:
// brokers on an inter.broker.protocol.version below 2.7 change a
// partition's ISR by writing its state znode themselves, then create a
// sequential /isr_change_notification/isr_change_<seq> naming the
// partitions (zkdata.DecodeIsrChangeNotification). The controller
// re-reads those partitions' states (updateLeaderAndIsrCache), sends
// UpdateMetadata to every registered broker, checks whether the change
// completes a reassignment (maybeCompleteReassignment) and deletes the
// notifications it read, each deletion conditional on the controller
// epoch. With process false (failover, KafkaController
// .onControllerFailover) the notifications are only deleted: the states
// are read afterwards anyway. The watch is re-armed first; a notification
// that cannot be decoded is logged and deleted, one naming an unknown
// partition is ignored (as Kafka, which finds no state for it). Only
// errControllerMoved and ZooKeeper errors other than a missing znode are
// returned.
func (c *Controller) onIsrChangeNotification(process bool) error {
	dir := c.p(zkdata.IsrChangeNotifyPath)
	names, _, ch, err := c.conn.ChildrenW(dir)
	if errors.Is(err, zk.ErrNoNode) {
		// Brokers create it at start (zkdata.PersistentPaths); watch for
		// it meanwhile.
		ok, _, ch, err := c.conn.ExistsW(dir)
		if err != nil {
			return fmt.Errorf("watch %s: %w", zkdata.IsrChangeNotifyPath, err)
		}
		c.watch(ch, evIsrChange{c.gen})
		if ok {
			go c.post(evIsrChange{c.gen}) // never wait on our own queue
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("list isr change notifications: %w", err)
	}
	c.watch(ch, evIsrChange{c.gen})
	slices.Sort(names)
	var read []string
	var parts []tp
	for _, name := range names {
		if !strings.HasPrefix(name, zkdata.IsrChangePrefix) {
			continue // not a notification: Kafka cannot read it either
		}
		path := dir + "/" + name
		data, _, err := c.conn.Get(path)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		read = append(read, path)
		if !process {
			continue
		}
		ps, err := zkdata.DecodeIsrChangeNotification(data)
		if err != nil {
			c.log.Warn("controller: ignoring an unreadable ISR change notification", "znode", name, "err", err)
			continue
		}
		for _, p := range ps {
			if x := (tp{p.Topic, p.Partition}); !slices.Contains(parts, x) {
				parts = append(parts, x)
			}
		}
	}
	var firstErr error
	if len(parts) > 0 {
		firstErr = c.applyIsrChanges(parts)
	}
	for _, path := range read {
		if err := c.deleteConditional(path); err != nil {
			if errors.Is(err, errControllerMoved) {
				return err
			}
			c.log.Warn("controller: deleting an ISR change notification failed", "znode", path, "err", err)
		}
	}
	return firstErr
}

// applyIsrChanges re-reads the named partitions' states, tells every
// registered broker, and completes the reassignments the new ISRs finish.
func (c *Controller) applyIsrChanges(parts []tp) error {
	var changed []tp
	for _, x := range parts {
		tc := c.topics[x.topic]
		if tc == nil || tc.parts[x.part] == nil {
			continue
		}
		if err := c.reloadState(tc, x.part); err != nil {
			c.log.Warn("controller: cannot re-read a partition state after an ISR change notification", "topic", x.topic, "partition", x.part, "err", err)
			continue
		}
		changed = append(changed, x)
	}
	if len(changed) == 0 {
		return nil
	}
	c.log.Info("controller: ISR change notification", "partitions", len(changed))
	c.sendUpdateMetadata(c.liveIDs())
	for _, x := range changed {
		if tc := c.topics[x.topic]; tc != nil && c.assignmentOf(tc, x.part).reassigning() {
			if err := c.maybeCompleteReassignment(x); err != nil {
				return err
			}
		}
	}
	return nil
}
