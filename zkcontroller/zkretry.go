package zkcontroller

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
)

// zkRetryBackoff is the wait before trying a ZooKeeper operation again
// after the connection was lost.
const zkRetryBackoff = 100 * time.Millisecond

// errSessionLost ends a controller operation when ZooKeeper's session
// expired or the role is stopping; it counts as errControllerMoved, so
// the term ends (Kafka's controller resigns on session expiry).
var errSessionLost = fmt.Errorf("zookeeper session lost or controller stopping: %w", errControllerMoved)

// retryConn is the controller's ZooKeeper connection. Each operation that
// fails because the connection was lost (ErrConnectionClosed, ErrNoServer)
// is tried again until it gets ZooKeeper's answer, as Kafka's
// KafkaZkClient retries requests until connected; it gives up with
// errSessionLost when the session expired or the controller stops. A
// write whose reply was lost may have been applied: callers see
// NODEEXISTS, NONODE or BADVERSION for it on the retry, which they handle
// as for a concurrent change.
type retryConn struct {
	*zk.Conn
	c *Controller
}

func transientZK(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer)
}

// do runs op until it does not fail with a lost connection.
func (r retryConn) do(op func() error) error {
	for {
		err := op()
		if errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrClosing) {
			return fmt.Errorf("%w: %w", errSessionLost, err)
		}
		if !transientZK(err) {
			return err
		}
		if r.c.sessionExpired.Load() {
			return fmt.Errorf("%w: %w", errSessionLost, err)
		}
		select {
		case <-r.c.stop:
			return fmt.Errorf("%w: %w", errSessionLost, err)
		case <-time.After(zkRetryBackoff):
		}
	}
}

func (r retryConn) Get(path string) (data []byte, st *zk.Stat, err error) {
	err = r.do(func() error { data, st, err = r.Conn.Get(path); return err })
	return data, st, err
}

func (r retryConn) GetW(path string) (data []byte, st *zk.Stat, ch <-chan zk.Event, err error) {
	err = r.do(func() error { data, st, ch, err = r.Conn.GetW(path); return err })
	return data, st, ch, err
}

func (r retryConn) Children(path string) (names []string, st *zk.Stat, err error) {
	err = r.do(func() error { names, st, err = r.Conn.Children(path); return err })
	return names, st, err
}

func (r retryConn) ChildrenW(path string) (names []string, st *zk.Stat, ch <-chan zk.Event, err error) {
	err = r.do(func() error { names, st, ch, err = r.Conn.ChildrenW(path); return err })
	return names, st, ch, err
}

func (r retryConn) Exists(path string) (ok bool, st *zk.Stat, err error) {
	err = r.do(func() error { ok, st, err = r.Conn.Exists(path); return err })
	return ok, st, err
}

func (r retryConn) ExistsW(path string) (ok bool, st *zk.Stat, ch <-chan zk.Event, err error) {
	err = r.do(func() error { ok, st, ch, err = r.Conn.ExistsW(path); return err })
	return ok, st, ch, err
}

func (r retryConn) Create(path string, data []byte, flags int32, acl []zk.ACL) (name string, err error) {
	err = r.do(func() error { name, err = r.Conn.Create(path, data, flags, acl); return err })
	return name, err
}

func (r retryConn) Set(path string, data []byte, version int32) (st *zk.Stat, err error) {
	err = r.do(func() error { st, err = r.Conn.Set(path, data, version); return err })
	return st, err
}

func (r retryConn) Delete(path string, version int32) error {
	return r.do(func() error { return r.Conn.Delete(path, version) })
}

func (r retryConn) Multi(ops ...any) (res []zk.MultiResponse, err error) {
	err = r.do(func() error { res, err = r.Conn.Multi(ops...); return err })
	return res, err
}

// partitionFailed decides what a failed change of one partition means for
// the batch it is part of: errControllerMoved (this controller's term is
// over) is returned and ends the batch; anything else is logged and the
// batch goes on with the other partitions, as Kafka's state machines
// handle partitions individually. The partition keeps its last written
// state and is considered again at the next event that concerns it.
func (c *Controller) partitionFailed(err error, topic string, p int32) error {
	if err == nil || errors.Is(err, errControllerMoved) {
		return err
	}
	c.log.Error("controller: partition state change failed; going on with the others", "topic", topic, "partition", p, "err", err)
	return nil
}
