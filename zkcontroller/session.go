package zkcontroller

// onSessionExpired runs on the ZooKeeper session goroutine when the
// session expired: it must not block. The run goroutine resigns before it
// handles anything else (resignIfExpired); ZooKeeper operations under way
// give up (retryConn), so nothing of the old session's term is done as
// controller. The new session's hook then runs the election again.
func (c *Controller) onSessionExpired() {
	c.sessionExpired.Store(true)
	go c.post(evExpired{})
}

// resignIfExpired ends the term when the session expired since the last
// event (KafkaController's session-expiration handling: resign at once;
// /controller went with the session).
func (c *Controller) resignIfExpired() {
	if !c.sessionExpired.Swap(false) || !c.active {
		return
	}
	c.log.Warn("controller: zookeeper session expired; resigning", "broker_id", c.id, "controller_epoch", c.epoch)
	c.resign()
}
