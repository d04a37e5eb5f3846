package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/acl"
	"samsa/config"
	"samsa/controller"
	"samsa/fetchsession"
	"samsa/groups"
	"samsa/logstore"
	"samsa/metrics"
	"samsa/protocol"
	"samsa/quota"
	"samsa/replica"
	"samsa/txn"
)

// Deps are the packages handlers translate to.
type Deps struct {
	Config     *config.Config
	Controller controller.Controller
	Logs       *logstore.Store
	Groups     *groups.Coordinator
	Txn        *txn.Coordinator
	Logger     *slog.Logger
	// Metrics receives the BrokerTopicMetrics counts; New makes one
	// when it is nil.
	Metrics *metrics.Broker
	// Cluster is set in ZooKeeper mode (zookeeper.connect) and nil on a
	// single node; the inter-broker APIs are served only when it is set.
	Cluster Cluster
	// Replicas is the replica manager: partitions a LeaderAndIsr named
	// are served by its leadership, ISR and high watermark; the rest
	// (all of them on a single node) as a single node's. May be nil.
	Replicas *replica.Manager
	// Authorizer, when set (authorizer.class.name), decides every
	// request (authorize.go); nil lets every client do anything.
	Authorizer *acl.Authorizer
	// Quotas are the client quotas (package quota); New makes one from
	// the config and the stored quotas when it is nil.
	Quotas *quota.Manager
}

// Handlers serves every registered API. It implements protocol.Handler.
type Handlers struct {
	Deps

	// txnForward is SetTxnForward's function (cluster mode), set before
	// the listeners serve.
	txnForward TxnForward

	// alterMu serializes topic config changes, which read the current
	// overrides and write back a changed set.
	alterMu sync.Mutex

	// produceSettings caches *produceSettings by controller.TopicID.
	produceSettings sync.Map

	// fetchSessions are the incremental fetch sessions (KIP-227).
	fetchSessions *fetchsession.Cache

	// quotaMu serializes AlterClientQuotas, which reads the current
	// values and writes back changed ones.
	quotaMu sync.Mutex

	// dynConfig is Config with the dynamic broker configs merged in
	// (RefreshDynamicConfigs; nil before the first), read through cfg.
	dynConfig atomic.Pointer[config.Config]
	// dynMu serializes RefreshDynamicConfigs; dynIgnored is the last
	// logged list of dynamic broker configs it does not apply.
	dynMu      sync.Mutex
	dynIgnored string
	// applyMu serializes ApplyConfigChanges, so that the last one
	// leaves the newest settings on the partitions.
	applyMu sync.Mutex
}

// New returns the handlers for deps.
func New(deps Deps) *Handlers {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Metrics == nil {
		deps.Metrics = metrics.New()
	}
	if deps.Quotas == nil {
		deps.Quotas = newQuotaManager(deps)
		// In a ZooKeeper cluster quotas also change through other
		// brokers (a /config/changes notification): the manager takes
		// them over at once, as Kafka's ClientQuotaManager does through
		// its DynamicConfigManager.
		qs, ok := deps.Controller.(quotaStore)
		n, watches := deps.Controller.(interface{ OnQuotasChanged(func()) })
		if ok && watches {
			m := deps.Quotas
			n.OnQuotasChanged(func() { m.Set(qs.ClientQuotas()) })
		}
	}
	slots := 1000
	if deps.Config != nil {
		slots = int(deps.Config.MaxIncrementalFetchSessionCacheSlots)
	}
	return &Handlers{Deps: deps, fetchSessions: fetchsession.NewCache(slots, fetchsession.DefaultEvictionAge)}
}

type api struct {
	key, min, max int16
	serve         func(h *Handlers, ctx context.Context, r *protocol.Request) (kmsg.Response, error)
	// clusterOnly APIs (the inter-broker protocol) are served and
	// advertised only in ZooKeeper mode, as a KRaft-mode Kafka does not
	// list them either.
	clusterOnly bool
}

// registry is filled by init functions and read-only afterwards.
var registry = map[int16]api{}

// register declares that Samsa serves the API of request type Req at
// versions min..max. It panics at start-up on a range kmsg cannot encode,
// so a bad registration never reaches a client.
func register[Req kmsg.Request](min, max int16, fn func(h *Handlers, ctx context.Context, r *protocol.Request, req Req) (kmsg.Response, error)) {
	var zero Req
	key := zero.Key()
	if min < 0 || min > max || max > zero.MaxVersion() {
		panic(fmt.Sprintf("handlers: bad version range %d..%d for %s (kmsg max %d)", min, max, kmsg.NameForKey(key), zero.MaxVersion()))
	}
	if _, dup := registry[key]; dup {
		panic(fmt.Sprintf("handlers: %s registered twice", kmsg.NameForKey(key)))
	}
	registry[key] = api{key: key, min: min, max: max, serve: func(h *Handlers, ctx context.Context, r *protocol.Request) (kmsg.Response, error) {
		req, ok := r.Body.(Req)
		if !ok {
			return nil, fmt.Errorf("request body is %T, want %T", r.Body, zero)
		}
		return fn(h, ctx, r, req)
	}}
}

// registerCluster is register for an inter-broker API served only in
// ZooKeeper mode.
func registerCluster[Req kmsg.Request](min, max int16, fn func(h *Handlers, ctx context.Context, r *protocol.Request, req Req) (kmsg.Response, error)) {
	register(min, max, fn)
	var zero Req
	a := registry[zero.Key()]
	a.clusterOnly = true
	registry[zero.Key()] = a
}

// Serves implements protocol.Handler.
func (h *Handlers) Serves(key, version int16) bool {
	a, ok := registry[key]
	if ok && interBrokerOnly(key) && !h.servesControllerRequests() {
		// A single node closes the connection on the ZooKeeper
		// controller's requests, as a KRaft-mode Kafka broker does.
		return false
	}
	return ok && version >= a.min && version <= a.max && (!a.clusterOnly || h.Cluster != nil)
}

// servesControllerRequests: cluster mode (zookeeper.connect), or
// samsa.controller.requests.enable for tests that play the controller.
func (h *Handlers) servesControllerRequests() bool {
	return h.Config != nil && (h.Config.ZookeeperConnect != "" || h.Config.ControllerRequests)
}

// Handle implements protocol.Handler.
func (h *Handlers) Handle(ctx context.Context, r *protocol.Request) (kmsg.Response, error) {
	a, ok := registry[r.Header.Key]
	if !ok {
		return nil, fmt.Errorf("no handler for api key %d", r.Header.Key)
	}
	if !h.Quotas.Enabled(quota.Request) || r.Header.Key <= 1 || throttleExempt(r.Header.Key) {
		// Produce and Fetch record request time themselves.
		return h.serve(ctx, r, a)
	}
	start := time.Now()
	resp, err := h.serve(ctx, r, a)
	if err == nil && resp != nil {
		h.requestQuota(r, resp, time.Since(start))
	}
	return resp, err
}

// serve runs a's handler, through the authorizer when there is one
// (authorize.go).
func (h *Handlers) serve(ctx context.Context, r *protocol.Request, a api) (kmsg.Response, error) {
	if h.Authorizer != nil {
		return h.authorized(ctx, r, a)
	}
	return a.serve(h, ctx, r)
}

// supportedAPIs returns the registry sorted by key, for ApiVersions;
// inter-broker APIs only in ZooKeeper mode (cluster).
func supportedAPIs(cluster bool) []api {
	out := make([]api, 0, len(registry))
	for _, a := range registry {
		if a.clusterOnly && !cluster {
			continue
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// errCode maps an error from the packages below to a Kafka error code:
// kerr errors (possibly wrapped) keep their code, anything else is
// UNKNOWN_SERVER_ERROR.
func errCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}

// errMessage returns the response's error_message for err: the context
// the broker added, without the generic text of the Kafka error code that
// clients print next to it anyway ("Topic already has 1 partition(s)."
// rather than "...: INVALID_PARTITIONS: Number of partitions is below 1.").
// It is nil when err carries nothing beyond the code.
func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	var ke *kerr.Error
	if errors.As(err, &ke) {
		if s == ke.Error() {
			return nil
		}
		s = strings.TrimSuffix(s, ": "+ke.Error())
	}
	return &s
}

// topicCounters returns the BrokerTopicMetrics counters of the topic a
// request names (by id when byID, Produce and Fetch v13+), nil when the
// topic does not exist. Known topics are found without a lock or an
// allocation; the first request for a topic looks it up.
func (h *Handlers) topicCounters(byID bool, name string, id [16]byte) *metrics.TopicCounters {
	var tc *metrics.TopicCounters
	if byID {
		tc = h.Metrics.TopicByID(controller.TopicID(id))
	} else {
		tc = h.Metrics.TopicByName(name)
	}
	if tc != nil {
		return tc
	}
	t, err := h.lookupTopic(byID, name, id)
	if err != nil {
		return nil
	}
	return h.Metrics.Topic(t.ID, t.Name)
}

// batchRecords is the record count in a v2 record batch's header, as
// logstore parses it; 0 for a batch that does not parse.
func batchRecords(b []byte) int {
	h, err := logstore.ParseBatchHeader(b)
	if err != nil {
		return 0
	}
	return int(h.NumRecords)
}
