package zkcontroller

import (
	"errors"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"

	"samsa/internal/zkdata"
)

// electedByUs reports whether /controller is this broker's, created by
// this ZooKeeper session, and /controller_epoch holds epoch: the election
// multi-op was applied though its reply was lost (Kafka's
// KafkaZkClient.checkControllerAndEpoch after NODEEXISTS or BADVERSION).
// It returns the epoch znode's version.
func (c *Controller) electedByUs(epoch int32) (int32, bool) {
	got, version, ok := c.ownElection()
	return version, ok && got == epoch
}

// ownElection reads /controller and /controller_epoch: ok when the first
// names this broker and is owned by this session.
func (c *Controller) ownElection() (epoch, version int32, ok bool) {
	data, st, err := c.conn.Get(c.p(zkdata.ControllerPath))
	if err != nil {
		return 0, 0, false
	}
	id, err := zkdata.DecodeController(data)
	if err != nil || id != c.id || st.EphemeralOwner != c.conn.SessionID() {
		return 0, 0, false
	}
	data, est, err := c.conn.Get(c.p(zkdata.ControllerEpochPath))
	if err != nil {
		return 0, 0, false
	}
	epoch, err = zkdata.DecodeControllerEpoch(data)
	if err != nil {
		return 0, 0, false
	}
	return epoch, est.Version, true
}

// watchController sets a watch on /controller for when it changes hands.
func (c *Controller) watchController() error {
	_, _, ch, err := c.conn.ExistsW(c.p(zkdata.ControllerPath))
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	c.watch(ch, evControllerChange{})
	return nil
}

// deleteControllerTimeout bounds the wait for ZooKeeper when the role
// stops: an unreachable ZooKeeper must not hold up a broker's shutdown
// (the session's expiry removes /controller then).
const deleteControllerTimeout = 3 * time.Second

// stopped ends the role (Close): resign, and give the next controller
// its turn at once instead of after the session timeout.
func (c *Controller) stopped() {
	if !c.active {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.deleteController()
	}()
	select {
	case <-done:
	case <-time.After(deleteControllerTimeout):
		c.log.Warn("controller: zookeeper did not answer; /controller goes with the session", "broker_id", c.id)
	}
	c.resign()
}

// deleteController deletes /controller only while /controller_epoch still
// has the version this controller wrote (Kafka's
// KafkaZkClient.deleteController(expectedControllerEpochZkVersion)), so a
// successor's /controller is never removed. Failures are logged.
func (c *Controller) deleteController() {
	res, err := c.conn.Multi(
		&zk.CheckVersionRequest{Path: c.p(zkdata.ControllerEpochPath), Version: c.epochVersion},
		&zk.DeleteRequest{Path: c.p(zkdata.ControllerPath), Version: -1},
	)
	switch {
	case err == nil:
	case errors.Is(err, zk.ErrBadVersion) || len(res) > 0 && errors.Is(res[0].Error, zk.ErrBadVersion):
		c.log.Info("controller: another broker is controller now; leaving /controller alone", "broker_id", c.id)
	case errors.Is(err, zk.ErrNoNode):
	default:
		c.log.Warn("controller: deleting /controller failed", "err", err)
	}
}

// offlineRecoveryState is the leader_recovery_state an offline election
// writes (Kafka 3.9's Election.leaderForOffline with IBP 3.2 or newer,
// KIP-704): RECOVERING when the new leader was not in the ISR (an unclean
// election), else the partition's previous state; a partition left
// without a leader keeps its state too.
func offlineRecoveryState(cur zkdata.PartitionState, leader int32) int8 {
	if leader >= 0 && !slices.Contains(cur.ISR, leader) {
		return zkdata.LeaderRecovering
	}
	return cur.LeaderRecoveryState
}
