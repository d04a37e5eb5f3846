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
// cache, and reads the config overrides of topics new to this broker
// (controller.ZK.LearnTopics).
func (c *Controller) ApplyUpdateMetadata(req *kmsg.UpdateMetadataRequest) error {
	if err := c.z.Cache().Apply(req); err != nil {
		return err
	}
	// Topics created by a Kafka broker have their overrides in
	// /config/topics without a change notification.
	topics := map[string][16]byte{}
	for _, p := range req.PartitionStates {
		topics[p.Topic] = [16]byte{}
	}
	for _, ts := range req.TopicStates {
		topics[ts.Topic] = ts.TopicID
	}
	c.z.LearnTopics(topics)
	return nil
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

// ControlledShutdown serves ControlledShutdown (key 7) as Kafka 3.9's
// KafkaApis.handleControlledShutdownRequest with KafkaController
// .doControlledShutdown: leadership of every partition the broker leads
// moves to another in-sync replica, the broker leaves the ISRs it
// follows in, and the answer lists the partitions it still leads.
// Errors: NOT_CONTROLLER, STALE_BROKER_EPOCH, BROKER_NOT_AVAILABLE,
// REQUEST_TIMED_OUT when ctx ends first.
func (c *Controller) ControlledShutdown(ctx context.Context, req *kmsg.ControlledShutdownRequest) *kmsg.ControlledShutdownResponse {
	resp := req.ResponseKind().(*kmsg.ControlledShutdownResponse)
	epoch := req.BrokerEpoch
	if req.Version < 2 {
		epoch = -1 // AbstractControlRequest.UNKNOWN_BROKER_EPOCH
	}
	r, code := call(c, ctx, func(reply chan shutdownResult) any { return evControlledShutdown{req.BrokerID, epoch, reply} })
	if code == 0 && r.err != nil {
		code = c.errorCode("controlled shutdown", r.err, "broker", req.BrokerID)
	}
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	for _, x := range r.remaining {
		rp := kmsg.NewControlledShutdownResponsePartitionsRemaining()
		rp.Topic, rp.Partition = x.topic, x.part
		resp.PartitionsRemaining = append(resp.PartitionsRemaining, rp)
	}
	return resp
}

// ElectLeaders serves ElectLeaders (key 43) as Kafka 3.9's ZooKeeper-mode
// KafkaApis.handleElectLeaders: the partitions asked for (every partition
// in this broker's metadata cache when the request names none) are
// elected by the controller (per-partition NOT_CONTROLLER on any other
// broker, as ZooKeeper mode does not forward), then the answer waits
// until this broker's metadata cache shows each elected leader or the
// request's timeout passes (REQUEST_TIMED_OUT for those, as
// DelayedElectLeader). For "all partitions" the ones that needed no
// election are left out of the answer.
func (c *Controller) ElectLeaders(ctx context.Context, req *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	typ := ElectionPreferred
	if req.Version >= 1 {
		typ = req.ElectionType
	}
	var parts []tp
	all := req.Topics == nil
	if all {
		for _, t := range c.z.Cache().Topics() {
			for p := range t.Partitions {
				parts = append(parts, tp{t.Name, p})
			}
		}
	} else {
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, tp{t.Topic, p})
			}
		}
	}
	deadline := time.Now().Add(time.Duration(req.TimeoutMillis) * time.Millisecond)
	if req.TimeoutMillis <= 0 {
		deadline = time.Now()
	}
	results := make(map[tp]electResult, len(parts))
	if typ != ElectionPreferred && typ != ElectionUnclean {
		for _, x := range parts {
			results[x] = electResult{code: kerr.InvalidRequest.Code}
		}
	} else {
		r, code := call(c, ctx, func(reply chan map[tp]electResult) any { return evElectLeaders{typ, parts, reply} })
		switch code {
		case 0:
			results = r
		case kerr.NotController.Code:
			for _, x := range parts {
				results[x] = electResult{code: code}
			}
		default:
			resp.ErrorCode = code
			return resp
		}
	}
	// DelayedElectLeader: wait for the metadata cache to show the leaders.
	for {
		waiting := false
		for x, r := range results {
			if r.code != 0 || r.leader < 0 {
				continue
			}
			if p, ok := c.z.Cache().Partition(x.topic, x.part); ok && p.Leader == r.leader {
				r.leader = -1 // seen
				results[x] = r
				continue
			}
			waiting = true
		}
		if !waiting {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			for x, r := range results {
				if r.code == 0 && r.leader >= 0 {
					results[x] = electResult{code: kerr.RequestTimedOut.Code}
				}
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	byTopic := map[string]int{}
	for _, x := range parts {
		r, ok := results[x]
		if !ok {
			continue
		}
		delete(results, x) // each partition once
		if all && r.code == kerr.ElectionNotNeeded.Code {
			continue
		}
		i, ok := byTopic[x.topic]
		if !ok {
			t := kmsg.NewElectLeadersResponseTopic()
			t.Topic = x.topic
			resp.Topics = append(resp.Topics, t)
			i = len(resp.Topics) - 1
			byTopic[x.topic] = i
		}
		pr := kmsg.NewElectLeadersResponseTopicPartition()
		pr.Partition, pr.ErrorCode, pr.ErrorMessage = x.part, r.code, r.msg
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, pr)
	}
	return resp
}

// RequestControlledShutdown is the broker side of a controlled shutdown,
// as Kafka 3.9's KafkaServer.controlledShutdown: ControlledShutdown
// (v3, with this broker's id and epoch) to the controller named in the
// metadata cache (handled directly when this broker is the controller),
// up to maxRetries attempts with backoff between them, until the
// controller answers without error and with no partition remaining. It
// returns whether that happened; the broker stops either way.
func (c *Controller) RequestControlledShutdown(ctx context.Context, maxRetries int, backoff time.Duration) bool {
	for remaining := maxRetries; remaining > 0; {
		remaining--
		err := c.tryControlledShutdown(ctx)
		if err == nil {
			c.log.Info("controlled shutdown succeeded")
			return true
		}
		c.log.Info("controlled shutdown attempt failed", "err", err, "retries_left", remaining)
		if remaining == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
	}
	c.log.Warn("controlled shutdown did not succeed; proceeding to shut down")
	return false
}

func (c *Controller) tryControlledShutdown(ctx context.Context) error {
	req := kmsg.NewPtrControlledShutdownRequest()
	req.Version, req.BrokerID, req.BrokerEpoch = 3, c.id, c.z.BrokerEpoch()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second) // controller.socket.timeout.ms
	defer cancel()
	var resp *kmsg.ControlledShutdownResponse
	if c.z.IsActiveController() {
		resp = c.ControlledShutdown(rctx, req)
	} else {
		ctrl := c.z.Cache().ControllerID()
		addr, ok := c.z.Cache().BrokerAddr(ctrl)
		if ctrl < 0 || !ok {
			return fmt.Errorf("controller unknown: %w", kerr.NotController)
		}
		cl, err := newClient(addr, "broker-"+strconv.Itoa(int(c.id))+"-controlled-shutdown")
		if err != nil {
			return err
		}
		defer cl.Close()
		r, err := cl.SeedBrokers()[0].Request(rctx, req)
		if err != nil {
			return fmt.Errorf("controlled shutdown to controller %d: %w", ctrl, err)
		}
		resp = r.(*kmsg.ControlledShutdownResponse)
	}
	if resp.ErrorCode != 0 {
		return kerr.ErrorForCode(resp.ErrorCode)
	}
	if n := len(resp.PartitionsRemaining); n > 0 {
		return fmt.Errorf("%d partitions remaining to move", n)
	}
	return nil
}
