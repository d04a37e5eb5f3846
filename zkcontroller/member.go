package zkcontroller

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// IsActiveController reports whether this broker is the elected
// controller.
func (c *Controller) IsActiveController() bool { return c.z.IsActiveController() }

// BrokerEpoch is this broker's epoch (its registration's czxid).
func (c *Controller) BrokerEpoch() int64 { return c.z.BrokerEpoch() }

// LiveBrokers counts the registrations under /brokers/ids.
func (c *Controller) LiveBrokers() (int, error) {
	ids, err := c.z.LiveBrokerIDs()
	return len(ids), err
}

// ApplyUpdateMetadata applies an UpdateMetadata request to the metadata
// cache.
func (c *Controller) ApplyUpdateMetadata(req *kmsg.UpdateMetadataRequest) error {
	return c.z.Cache().Apply(req)
}

// ProducerIDBlock fetches a block of producer ids for this broker, as
// Kafka 3.9's RPCProducerIdManager does: AllocateProducerIds to the
// controller named in the metadata cache (directly when this broker is
// the controller), retrying NOT_CONTROLLER and connection failures until
// ctx ends. It returns the first id and the block size.
func (c *Controller) ProducerIDBlock(ctx context.Context) (int64, int64, error) {
	for {
		first, n, err := c.tryProducerIDBlock(ctx)
		if err == nil {
			return first, n, nil
		}
		c.log.Info("controller: producer id block not allocated yet; retrying", "err", err)
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("allocating producer ids: %w (last error: %v)", kerr.CoordinatorLoadInProgress, err)
		case <-c.stop:
			return 0, 0, fmt.Errorf("allocating producer ids: broker shutting down: %w", kerr.NotCoordinator)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Controller) tryProducerIDBlock(ctx context.Context) (int64, int64, error) {
	req := kmsg.NewPtrAllocateProducerIDsRequest()
	req.BrokerID, req.BrokerEpoch = c.id, c.z.BrokerEpoch()
	var resp *kmsg.AllocateProducerIDsResponse
	if c.z.IsActiveController() {
		resp = c.AllocateProducerIDs(ctx, req)
	} else {
		ctrl := c.z.Cache().ControllerID()
		addr, ok := c.z.Cache().BrokerAddr(ctrl)
		if ctrl < 0 || !ok {
			return 0, 0, fmt.Errorf("controller unknown: %w", kerr.NotController)
		}
		cl, err := newClient(addr, "broker-"+strconv.Itoa(int(c.id))+"-producer-id-manager")
		if err != nil {
			return 0, 0, err
		}
		defer cl.Close()
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		r, err := cl.SeedBrokers()[0].Request(rctx, req)
		if err != nil {
			return 0, 0, err
		}
		resp = r.(*kmsg.AllocateProducerIDsResponse)
	}
	if resp.ErrorCode != 0 {
		return 0, 0, kerr.ErrorForCode(resp.ErrorCode)
	}
	if resp.ProducerIDLen <= 0 || resp.ProducerIDStart < 0 {
		return 0, 0, fmt.Errorf("controller returned an empty producer id block")
	}
	return resp.ProducerIDStart, int64(resp.ProducerIDLen), nil
}
