package zkcontroller

import (
	"errors"

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

// adoptElection is electedByUs for an election noticed only later
// (/controller names this broker while it is not active): the epoch is
// whatever /controller_epoch holds, since nobody can bump it while our
// /controller exists.
func (c *Controller) adoptElection() (int32, int32, bool) {
	epoch, version, ok := c.ownElection()
	if ok {
		c.log.Info("controller: /controller is this session's; taking the election", "controller_epoch", epoch)
	}
	return epoch, version, ok
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
