package zkcontroller

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// sendRetries is how often a failed request is tried again before it is
// dropped (logged); sendBackoff is the wait between tries.
const (
	sendRetries = 5
	sendBackoff = 300 * time.Millisecond
	sendTimeout = 10 * time.Second
)

// sender delivers requests to one broker in order (Kafka's
// RequestSendThread).
type sender struct {
	broker int32
	addr   string
	log    *slog.Logger
	queue  chan kmsg.Request
	stop   chan struct{}
	done   chan struct{}
	cl     *kgo.Client
}

// newClient is a franz-go client for one broker's inter-broker listener,
// limited to the request versions Kafka 3.9 uses.
func newClient(addr, clientID string) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(kversion.V3_9_0()), kgo.ClientID(clientID),
		kgo.RequestRetries(0), kgo.DialTimeout(3*time.Second))
}

func startSender(from, broker int32, addr string, log *slog.Logger) (*sender, error) {
	cl, err := newClient(addr, "controller-"+strconv.Itoa(int(from))+"-to-broker-"+strconv.Itoa(int(broker)))
	if err != nil {
		return nil, fmt.Errorf("client for broker %d at %s: %w", broker, addr, err)
	}
	s := &sender{broker: broker, addr: addr, log: log, queue: make(chan kmsg.Request, 4096),
		stop: make(chan struct{}), done: make(chan struct{}), cl: cl}
	go s.run()
	return s, nil
}

// enqueue queues req; a full queue (a broker that does not answer for a
// long time) drops the request with a log line rather than block the
// controller.
func (s *sender) enqueue(req kmsg.Request) {
	select {
	case s.queue <- req:
	default:
		s.log.Error("controller: request queue to broker full, dropping request", "broker", s.broker, "request", kmsg.NameForKey(req.Key()))
	}
}

func (s *sender) close() {
	close(s.stop)
	<-s.done
	s.cl.Close()
}

func (s *sender) run() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-s.stop; cancel() }()
	for {
		select {
		case <-s.stop:
			return
		case req := <-s.queue:
			s.send(ctx, req)
		}
	}
}

func (s *sender) send(ctx context.Context, req kmsg.Request) {
	name := kmsg.NameForKey(req.Key())
	for try := 0; ; try++ {
		rctx, cancel := context.WithTimeout(ctx, sendTimeout)
		resp, err := s.cl.SeedBrokers()[0].Request(rctx, req)
		cancel()
		if err == nil {
			if code := responseError(resp); code != 0 {
				s.log.Warn("controller: broker answered with an error", "broker", s.broker, "request", name,
					"error", kerr.ErrorForCode(code))
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		if strings.Contains(err.Error(), "broker is too old") {
			// The broker does not serve this API (kgo's errBrokerTooOld,
			// from its ApiVersions): retrying cannot help.
			s.log.Error("controller: broker does not serve request", "broker", s.broker, "request", name)
			return
		}
		if try >= sendRetries {
			s.log.Error("controller: giving up sending request to broker", "broker", s.broker, "addr", s.addr,
				"request", name, "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(sendBackoff):
		}
	}
}

// responseError is the top-level error code of a control response.
func responseError(resp kmsg.Response) int16 {
	switch r := resp.(type) {
	case *kmsg.LeaderAndISRResponse:
		return r.ErrorCode
	case *kmsg.UpdateMetadataResponse:
		return r.ErrorCode
	case *kmsg.StopReplicaResponse:
		return r.ErrorCode
	}
	return 0
}
