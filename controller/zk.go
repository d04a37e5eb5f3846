package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"

	"samsa/internal/zkdata"
	"samsa/metadatacache"
	"samsa/quota"
)

// ZKConfig configures the ZooKeeper-backed controller (Kafka's
// zookeeper.* keys and the broker's identity).
type ZKConfig struct {
	// Connect is zookeeper.connect: host:port[,host:port...][/chroot].
	// The chroot is created when missing, as Kafka does.
	Connect string
	// SessionTimeout is zookeeper.session.timeout.ms; ConnectionTimeout
	// is zookeeper.connection.timeout.ms, how long OpenZK waits for the
	// first session.
	SessionTimeout    time.Duration
	ConnectionTimeout time.Duration
	BrokerID          int32
	Rack              *string
	// Endpoints are the advertised listeners registered in
	// /brokers/ids/<id>, with their security protocols.
	Endpoints []zkdata.Endpoint
	// Cache is the broker's metadata cache, filled by UpdateMetadata;
	// readers answer from it.
	Cache  *metadatacache.Cache
	Logger *slog.Logger
	// DeferRegistration leaves the /brokers/ids/<id> registration to a
	// later Register call: a broker registers only once it has recovered
	// its logs and its listeners serve (KafkaServer.startup registers
	// after LogManager and SocketServer start), since the controller
	// sends it requests as soon as it appears there.
	DeferRegistration bool
}

// ZK is the Controller of a broker in a ZooKeeper-coordinated cluster
// (Kafka 3.x's ZooKeeper mode). See the package documentation for the
// znodes and for which broker writes what. Readers never touch ZooKeeper:
// topics, partitions, brokers and the controller id come from the
// metadata cache the controller keeps current with UpdateMetadata, and
// topic configs from a copy kept current by the /config/changes watch.
type ZK struct {
	cfg    ZKConfig
	log    *slog.Logger
	conn   *zk.Conn
	chroot string
	cache  *metadatacache.Cache

	clusterID string
	// brokerEpoch is the czxid of this broker's registration znode
	// (Kafka's broker epoch, KIP-380); it changes with every new session.
	brokerEpoch atomic.Int64
	// registered is set once this broker registered in /brokers/ids: a
	// new session registers again only then.
	registered atomic.Bool
	// active is set by the controller role (package zkcontroller) while
	// this broker is the elected controller.
	active atomic.Bool

	// sessionMu guards onSession and onExpire.
	sessionMu sync.Mutex
	onSession []func()
	onExpire  []func()

	// configMu guards configs, configTopicIDs, brokerConfigs,
	// lastChange and onConfigChange.
	configMu       sync.RWMutex
	configs        map[string]map[string]string // topic -> overrides
	configTopicIDs map[string][16]byte          // topic -> the id LearnTopics read its overrides for
	brokerConfigs  map[string]map[string]string // broker id or "<default>" -> dynamic configs
	lastChange     string                       // newest processed config_change_ znode
	// onConfigChange are told of every topic or broker config change
	// read from ZooKeeper (and of every reload), outside configMu.
	onConfigChange []func()

	// sec is the copy of the SCRAM credentials, client quotas and ACLs
	// (zksec.go); it has its own lock.
	sec zkSec
	// changeExpirationMs is how old (by its ctime) a processed change
	// notification gets before this broker deletes it
	// (ZkNodeChangeNotificationListener's changeExpirationMs, 15 minutes).
	changeExpirationMs atomic.Int64

	// pidMu guards the producer id block handed out locally.
	pidMu             sync.Mutex
	pidNext, pidLimit int64 // next id; first id past the block
	// BlockSource fetches a new producer id block; set by the broker
	// before serving (AllocateProducerIds to the controller, Kafka's
	// RPCProducerIdManager).
	BlockSource func(ctx context.Context) (first int64, count int64, err error)

	closeOnce sync.Once
	closed    chan struct{}
	done      chan struct{}
}

var _ Controller = (*ZK)(nil)

// ParseZKConnect splits zookeeper.connect into servers and chroot ("" for
// none), as Kafka's ZooKeeper client does.
func ParseZKConnect(s string) (servers []string, chroot string, err error) {
	hosts, root, hasRoot := strings.Cut(s, "/")
	if hasRoot {
		chroot = "/" + strings.TrimSuffix(root, "/")
		if chroot == "/" {
			chroot = ""
		}
	}
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			servers = append(servers, h)
		}
	}
	if len(servers) == 0 {
		return nil, "", fmt.Errorf("zookeeper.connect %q: no servers", s)
	}
	return servers, chroot, nil
}

type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug("zookeeper client: " + fmt.Sprintf(format, args...))
}

// OpenZK connects to ZooKeeper, waits for a session (up to
// ConnectionTimeout), creates the chroot and Kafka's top-level znodes,
// reads or creates the cluster id, registers this broker and loads the
// topic configs. It fails when broker.id is registered by another live
// broker for longer than one session timeout.
func OpenZK(ctx context.Context, cfg ZKConfig) (*ZK, error) {
	servers, chroot, err := ParseZKConnect(cfg.Connect)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 18 * time.Second
	}
	if cfg.ConnectionTimeout <= 0 {
		cfg.ConnectionTimeout = cfg.SessionTimeout
	}
	if cfg.Cache == nil {
		return nil, errors.New("controller: ZKConfig.Cache is nil")
	}
	// go-zookeeper drops session events when its 6-slot channel is full
	// (a process resumed after SIGSTOP gets disconnected, expired,
	// connecting, connected and has-session at once): a dropped
	// has-session would leave the broker unregistered for good. The
	// callback never drops; it only wakes the event loop, which then
	// compares the connection's session with the registered one.
	kick := make(chan struct{}, 1)
	expired := new(atomic.Bool) // an expiry the event loop has not handled yet
	onEvent := func(ev zk.Event) {
		if ev.Type == zk.EventSession {
			if ev.State == zk.StateExpired {
				expired.Store(true)
			}
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}
	conn, events, err := zk.Connect(servers, cfg.SessionTimeout, zk.WithLogger(zkLogger{log}), zk.WithLogInfo(false), zk.WithEventCallback(onEvent))
	if err != nil {
		return nil, fmt.Errorf("controller: zookeeper %s: %w", cfg.Connect, err)
	}
	z := &ZK{cfg: cfg, log: log, conn: conn, chroot: chroot, cache: cfg.Cache,
		configs: map[string]map[string]string{}, closed: make(chan struct{}), done: make(chan struct{}),
		sec: zkSec{scram: map[scramKey]ScramCredential{}, quotas: map[quota.Entity]map[string]float64{},
			acls: map[zkdata.ACLResource][]ACL{}, lastACLChange: map[string]string{}}}
	z.changeExpirationMs.Store(defaultChangeExpiration.Milliseconds())
	fail := func(err error) (*ZK, error) {
		conn.Close()
		return nil, err
	}
	// Wait for the first session.
	deadline := time.NewTimer(cfg.ConnectionTimeout)
	defer deadline.Stop()
wait:
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				break wait
			}
			if ev.State == zk.StateAuthFailed {
				return fail(fmt.Errorf("controller: zookeeper %s: authentication failed", cfg.Connect))
			}
		case <-deadline.C:
			return fail(fmt.Errorf("controller: zookeeper %s: no session within zookeeper.connection.timeout.ms (%v)", cfg.Connect, cfg.ConnectionTimeout))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	if chroot != "" {
		if err := z.ensurePath(chroot, true); err != nil {
			return fail(fmt.Errorf("controller: create chroot %s: %w", chroot, err))
		}
	}
	// The ACL paths are what AclAuthorizer creates when it starts
	// (KafkaZkClient.createAclPaths); every broker watches the change
	// paths, authorizer or not.
	for _, p := range append(slices.Clone(zkdata.PersistentPaths), zkdata.ACLPaths()...) {
		if err := z.ensurePath(p, false); err != nil {
			return fail(fmt.Errorf("controller: create %s: %w", p, err))
		}
	}
	if err := z.loadClusterID(); err != nil {
		return fail(err)
	}
	if !cfg.DeferRegistration {
		if err := z.register(ctx); err != nil {
			return fail(err)
		}
		z.registered.Store(true)
	}
	if err := z.loadConfigs(); err != nil {
		return fail(err)
	}
	go z.eventLoop(events, kick, expired, conn.SessionID())
	if !cfg.DeferRegistration {
		log.Info("controller: registered in zookeeper", "zookeeper", cfg.Connect, "broker_id", cfg.BrokerID,
			"broker_epoch", z.brokerEpoch.Load(), "cluster_id", z.clusterID)
	}
	return z, nil
}

// Register creates this broker's /brokers/ids/<id> znode when OpenZK was
// told to defer it (ZKConfig.DeferRegistration): call it once the broker
// can serve the controller's requests. Errors as OpenZK's registration:
// broker.id held by another live session, ctx ending, ZooKeeper failing.
func (z *ZK) Register(ctx context.Context) error {
	if z.registered.Load() {
		return nil
	}
	if err := z.register(ctx); err != nil {
		return err
	}
	z.registered.Store(true)
	z.log.Info("controller: registered in zookeeper", "zookeeper", z.cfg.Connect, "broker_id", z.cfg.BrokerID,
		"broker_epoch", z.brokerEpoch.Load(), "cluster_id", z.clusterID)
	return nil
}

// p prefixes a Kafka path with the chroot.
func (z *ZK) p(kafkaPath string) string { return z.chroot + kafkaPath }

// Conn is the ZooKeeper connection, for the controller role.
func (z *ZK) Conn() *zk.Conn { return z.conn }

// Path returns the full path of a Kafka znode path (with the chroot).
func (z *ZK) Path(kafkaPath string) string { return z.p(kafkaPath) }

// BrokerID is this broker's id.
func (z *ZK) BrokerID() int32 { return z.cfg.BrokerID }

// BrokerEpoch is the czxid of this broker's current registration (Kafka's
// broker epoch), which AlterPartition and AllocateProducerIds carry.
func (z *ZK) BrokerEpoch() int64 { return z.brokerEpoch.Load() }

// Cache is the metadata cache readers answer from.
func (z *ZK) Cache() *metadatacache.Cache { return z.cache }

// SetActive is called by the controller role when this broker becomes or
// stops being the controller.
func (z *ZK) SetActive(v bool) { z.active.Store(v) }

// IsActiveController reports whether this broker is the elected
// controller. Kafka 3.9 answers CreateTopics, CreatePartitions and
// DeleteTopics with NOT_CONTROLLER elsewhere (KafkaApis, ZooKeeper mode).
func (z *ZK) IsActiveController() bool { return z.active.Load() }

// OnSession registers fn to run (on the session goroutine) after every
// new ZooKeeper session once this broker has registered again: the
// controller role re-runs its election there.
func (z *ZK) OnSession(fn func()) {
	z.sessionMu.Lock()
	defer z.sessionMu.Unlock()
	z.onSession = append(z.onSession, fn)
}

// OnExpire registers fn to run (on the session goroutine, so it must not
// block) as soon as ZooKeeper reports this broker's session expired,
// before a new session exists: the controller role ends its term there,
// as Kafka's KafkaController does on session expiry.
func (z *ZK) OnExpire(fn func()) {
	z.sessionMu.Lock()
	defer z.sessionMu.Unlock()
	z.onExpire = append(z.onExpire, fn)
}

// eventLoop re-registers the broker after a session expired (its
// ephemeral znode went with the old session) and follows config changes.
func (z *ZK) eventLoop(events <-chan zk.Event, kick <-chan struct{}, expired *atomic.Bool, session int64) {
	defer close(z.done)
	changes := z.watchConfigChanges()
	literalACLs := z.watchACLChanges(zkdata.LiteralACLChangesPath)
	extendedACLs := z.watchACLChanges(zkdata.ExtendedACLChangesPath)
	for {
		select {
		case <-z.closed:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.State == zk.StateExpired {
				z.log.Warn("controller: zookeeper session expired; registering again", "broker_id", z.cfg.BrokerID)
			}
		case <-kick:
		case <-changes:
			changes = z.watchConfigChanges()
		case <-literalACLs:
			literalACLs = z.watchACLChanges(zkdata.LiteralACLChangesPath)
		case <-extendedACLs:
			extendedACLs = z.watchACLChanges(zkdata.ExtendedACLChangesPath)
		}
		if expired.Swap(false) {
			// The session is gone: whatever depended on it (the
			// controller's term) ends before anything else happens.
			z.sessionMu.Lock()
			hooks := slices.Clone(z.onExpire)
			z.sessionMu.Unlock()
			for _, fn := range hooks {
				fn()
			}
		}
		if z.conn.State() == zk.StateHasSession && z.conn.SessionID() != session && z.conn.SessionID() != 0 {
			// A new session: register again (unless registration is
			// still deferred until start-up finishes).
			session = z.conn.SessionID()
			if z.registered.Load() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*z.cfg.SessionTimeout)
				if err := z.register(ctx); err != nil {
					z.log.Error("controller: re-registering broker failed", "err", err)
				}
				cancel()
			}
			if err := z.loadConfigs(); err != nil {
				z.log.Error("controller: reloading topic configs failed", "err", err)
			}
			z.fire(false)
			z.fire(true)
			changes = z.watchConfigChanges()
			literalACLs = z.watchACLChanges(zkdata.LiteralACLChangesPath)
			extendedACLs = z.watchACLChanges(zkdata.ExtendedACLChangesPath)
			z.sessionMu.Lock()
			hooks := slices.Clone(z.onSession)
			z.sessionMu.Unlock()
			for _, fn := range hooks {
				fn()
			}
		}
	}
}

// ensurePath creates p (a full path when full, else a Kafka path) and its
// parents as persistent znodes with empty data, ignoring ones that exist.
func (z *ZK) ensurePath(p string, full bool) error {
	if !full {
		p = z.p(p)
	}
	cur := ""
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		cur += "/" + part
		if _, err := z.conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	return nil
}

// loadClusterID reads /cluster/id, creating it with a new id when absent
// (KafkaServer.getOrGenerateClusterId): the first broker decides.
func (z *ZK) loadClusterID() error {
	for {
		data, _, err := z.conn.Get(z.p(zkdata.ClusterIDPath))
		if err == nil {
			id, err := zkdata.DecodeClusterID(data)
			if err != nil {
				return fmt.Errorf("controller: %w", err)
			}
			z.clusterID = id
			return nil
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("controller: read cluster id: %w", err)
		}
		if err := z.ensurePath("/cluster", false); err != nil {
			return fmt.Errorf("controller: create /cluster: %w", err)
		}
		id := randomUUID(nil).String()
		_, err = z.conn.Create(z.p(zkdata.ClusterIDPath), zkdata.EncodeClusterID(id), 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("controller: create cluster id: %w", err)
		}
	}
}

// register creates the ephemeral /brokers/ids/<id> (Kafka's
// KafkaZkClient.registerBroker) and takes its czxid as the broker epoch.
// A znode left by this broker's previous, not yet expired session is
// waited out for up to one session timeout; one held by a live broker
// fails, as Kafka fails with NODE_EXISTS.
func (z *ZK) register(ctx context.Context) error {
	data := zkdata.EncodeBroker(zkdata.Broker{ID: z.cfg.BrokerID, Endpoints: z.cfg.Endpoints, Rack: z.cfg.Rack,
		Timestamp: time.Now().UnixMilli()})
	p := z.p(zkdata.BrokerPath(z.cfg.BrokerID))
	deadline := time.Now().Add(z.cfg.SessionTimeout + 2*time.Second)
	for {
		_, err := z.conn.Create(p, data, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		if err == nil || errors.Is(err, zk.ErrNodeExists) {
			_, st, serr := z.conn.Get(p)
			if serr == nil && st.EphemeralOwner == z.conn.SessionID() {
				z.brokerEpoch.Store(st.Czxid)
				return nil
			}
			if serr != nil && !errors.Is(serr, zk.ErrNoNode) {
				return fmt.Errorf("controller: read %s: %w", p, serr)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("controller: broker.id %d is already registered in zookeeper by another session (%s): %w",
					z.cfg.BrokerID, p, zk.ErrNodeExists)
			}
		} else if !errors.Is(err, zk.ErrConnectionClosed) && !errors.Is(err, zk.ErrNoServer) {
			return fmt.Errorf("controller: register %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// loadConfigs reads every /config/topics/<name>, the user, client and IP
// config entities (SCRAM credentials and quotas) and the ACLs into
// memory and marks all existing change notifications processed.
func (z *ZK) loadConfigs() error {
	names, _, err := z.conn.Children(z.p(zkdata.ConfigTopicsPath))
	if err != nil {
		return fmt.Errorf("controller: list topic configs: %w", err)
	}
	changes, _, err := z.conn.Children(z.p(zkdata.ConfigChangesPath))
	if err != nil {
		return fmt.Errorf("controller: list config changes: %w", err)
	}
	if err := z.loadEntities(); err != nil {
		return err
	}
	if err := z.loadACLs(); err != nil {
		return err
	}
	configs := make(map[string]map[string]string, len(names))
	for _, name := range names {
		c, err := z.readTopicConfig(name)
		if err != nil {
			z.log.Error("controller: bad topic config znode", "topic", name, "err", err)
			continue
		}
		if c != nil {
			configs[name] = c
		}
	}
	entities, _, err := z.conn.Children(z.p(zkdata.ConfigBrokersPath))
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("controller: list broker configs: %w", err)
	}
	brokers := make(map[string]map[string]string, len(entities))
	for _, e := range entities {
		c, err := z.readConfig(zkdata.ConfigBrokerPath(e))
		if err != nil {
			z.log.Error("controller: bad broker config znode", "entity", e, "err", err)
			continue
		}
		if c != nil {
			brokers[e] = c
		}
	}
	sort.Strings(changes)
	z.configMu.Lock()
	z.configs = configs
	z.configTopicIDs = make(map[string][16]byte, len(names))
	for _, name := range names {
		z.configTopicIDs[name] = loadedTopicID
	}
	z.brokerConfigs = brokers
	if len(changes) > 0 {
		z.lastChange = changes[len(changes)-1]
	}
	z.configMu.Unlock()
	z.configChanged()
	return nil
}

// OnConfigChange registers fn to run after every topic or dynamic broker
// config change this broker reads from ZooKeeper (DynamicConfigManager's
// handlers), and after every full reload.
func (z *ZK) OnConfigChange(fn func()) {
	z.configMu.Lock()
	z.onConfigChange = append(z.onConfigChange, fn)
	z.configMu.Unlock()
}

func (z *ZK) configChanged() {
	z.configMu.RLock()
	hooks := slices.Clone(z.onConfigChange)
	z.configMu.RUnlock()
	for _, fn := range hooks {
		fn()
	}
}

// BrokerDefaultEntity is the /config/brokers entity of the cluster-wide
// dynamic broker defaults (ZooKeeper's "<default>").
const BrokerDefaultEntity = "<default>"

// BrokerConfigs returns a copy of the dynamic configs of a broker entity
// (a broker id, or BrokerDefaultEntity) as last read from
// /config/brokers.
func (z *ZK) BrokerConfigs(entity string) map[string]string {
	z.configMu.RLock()
	defer z.configMu.RUnlock()
	return cloneConfigs(z.brokerConfigs[entity])
}

// TopicConfigsAll returns a copy of every topic's overrides.
func (z *ZK) TopicConfigsAll() map[string]map[string]string {
	z.configMu.RLock()
	defer z.configMu.RUnlock()
	out := make(map[string]map[string]string, len(z.configs))
	for t, c := range z.configs {
		out[t] = cloneConfigs(c)
	}
	return out
}

// SetBrokerConfigs replaces a broker entity's dynamic configs in
// /config/brokers/<entity> (deleting the znode when none is left, as
// AdminZkClient.changeBrokerConfig writes an empty map) and notifies
// every broker with a "brokers/<entity>" change.
func (z *ZK) SetBrokerConfigs(ctx context.Context, entity string, configs map[string]string) error {
	p := z.p(zkdata.ConfigBrokerPath(entity))
	data := zkdata.EncodeConfig(configs)
	if _, err := z.conn.Set(p, data, -1); errors.Is(err, zk.ErrNoNode) {
		if err := z.ensurePath(zkdata.ConfigBrokersPath, false); err != nil {
			return fmt.Errorf("controller: create %s: %w", zkdata.ConfigBrokersPath, err)
		}
		if _, err := z.conn.Create(p, data, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("controller: write config of broker %s: %w", entity, err)
		}
	} else if err != nil {
		return fmt.Errorf("controller: write config of broker %s: %w", entity, err)
	}
	if _, err := z.conn.Create(z.p(zkdata.ConfigChangesPath+"/"+zkdata.ConfigChangePrefix),
		zkdata.EncodeConfigChange("brokers/"+entity), zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		return fmt.Errorf("controller: notify config change of broker %s: %w", entity, err)
	}
	z.configMu.Lock()
	if z.brokerConfigs == nil {
		z.brokerConfigs = map[string]map[string]string{}
	}
	z.brokerConfigs[entity] = cloneConfigs(configs)
	z.configMu.Unlock()
	z.configChanged()
	return nil
}

// BrokerConfigsFromZooKeeper reads a broker entity's dynamic configs (a
// broker id, or BrokerDefaultEntity) from /config/brokers itself, nil
// when it has none, for a read-modify-write that must not undo a change
// whose notification has not arrived yet. Errors: ZooKeeper's, wrapped.
func (z *ZK) BrokerConfigsFromZooKeeper(entity string) (map[string]string, error) {
	c, err := z.readConfig(zkdata.ConfigBrokerPath(entity))
	if err != nil {
		return nil, fmt.Errorf("controller: read config of broker %s: %w", entity, err)
	}
	return c, nil
}

// readConfig reads a config znode at kafkaPath, nil when missing.
func (z *ZK) readConfig(kafkaPath string) (map[string]string, error) {
	data, _, err := z.conn.Get(z.p(kafkaPath))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return zkdata.DecodeConfig(data)
}

// TopicConfigFromZooKeeper reads a topic's overrides from
// /config/topics/<name> (nil when it has none), for a log that
// LeaderAndIsr creates before UpdateMetadata brought the topic into the
// metadata cache, as Kafka's LogManager.fetchTopicConfigOverrides reads
// them. The overrides are also remembered for TopicConfigs. Errors:
// ZooKeeper's, wrapped.
func (z *ZK) TopicConfigFromZooKeeper(name string) (map[string]string, error) {
	c, err := z.readTopicConfig(name)
	if err != nil {
		return nil, fmt.Errorf("controller: read config of topic %s: %w", name, err)
	}
	if c != nil {
		z.configMu.Lock()
		if z.configs == nil {
			z.configs = map[string]map[string]string{}
		}
		if _, ok := z.configs[name]; !ok {
			z.configs[name] = cloneConfigs(c)
		}
		z.configMu.Unlock()
	}
	return c, nil
}

// LearnTopics reads from /config/topics the overrides of every topic in
// topics (name -> topic id, the zero id when UpdateMetadata v4 or older
// gave none) that this broker has not read them for under that id: a
// topic that a Kafka 3.9 broker creates gets its /config/topics/<name>
// without a change notification (AdminZkClient.createTopicWithAssignment
// sets it directly), so a broker learns it only by reading it, as Kafka's
// brokers do when they need it (LogManager.fetchTopicConfigOverrides,
// ConfigHelper.describeConfigs). A topic created again under the same
// name has a new id and is read again. The metadata cache's
// UpdateMetadata calls it (zkcontroller); the onConfigChange hooks run
// when an override was learnt. A ZooKeeper error is logged and the topic
// is read again at the next UpdateMetadata naming it.
func (z *ZK) LearnTopics(topics map[string][16]byte) {
	var learnt bool
	for name, id := range topics {
		z.configMu.RLock()
		known, seen := z.configTopicIDs[name]
		z.configMu.RUnlock()
		if seen && (known == id || id == [16]byte{} || known == loadedTopicID) {
			if known == loadedTopicID && id != [16]byte{} {
				z.configMu.Lock()
				z.configTopicIDs[name] = id // read by loadConfigs, under this id
				z.configMu.Unlock()
			}
			continue
		}
		cfg, err := z.readTopicConfig(name)
		if err != nil {
			z.log.Warn("controller: reading topic config failed; retrying at the next UpdateMetadata", "topic", name, "err", err)
			continue
		}
		z.configMu.Lock()
		if z.configTopicIDs == nil {
			z.configTopicIDs = map[string][16]byte{}
		}
		prev, had := z.configTopicIDs[name]
		z.configTopicIDs[name] = id
		// A change notification may have brought the overrides of a new
		// topic already (Samsa writes one); an id that changed means
		// whatever is held belongs to a deleted topic.
		if _, have := z.configs[name]; !have || (had && prev != id) {
			if z.configs == nil {
				z.configs = map[string]map[string]string{}
			}
			if cfg == nil {
				delete(z.configs, name)
			} else {
				z.configs[name] = cfg
				learnt = true
			}
		}
		z.configMu.Unlock()
	}
	if learnt {
		z.configChanged()
	}
}

// loadedTopicID marks in configTopicIDs a topic whose overrides
// loadConfigs read (under whatever id it had then).
var loadedTopicID = [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// readTopicConfig returns a topic's overrides, nil when it has no znode.
func (z *ZK) readTopicConfig(name string) (map[string]string, error) {
	data, _, err := z.conn.Get(z.p(zkdata.ConfigTopicPath(name)))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return zkdata.DecodeConfig(data)
}

// watchConfigChanges processes the change notifications newer than the
// last one processed (ZkConfigManager) and returns the watch for the
// next. A notification is marked processed only once the topic config it
// names was read (or is gone); when ZooKeeper cannot be read, the
// returned channel fires after configRetryBackoff to try again from the
// first unprocessed notification, so that no change is skipped.
func (z *ZK) watchConfigChanges() <-chan zk.Event {
	children, _, ch, err := z.conn.ChildrenW(z.p(zkdata.ConfigChangesPath))
	if err != nil {
		z.log.Warn("controller: watching config changes failed; retrying", "err", err)
		return z.retryConfigChanges()
	}
	sort.Strings(children)
	z.configMu.RLock()
	last := z.lastChange
	z.configMu.RUnlock()
	for _, c := range children {
		if !strings.HasPrefix(c, zkdata.ConfigChangePrefix) || c <= last {
			continue
		}
		if err := z.applyConfigChange(c); err != nil {
			z.log.Warn("controller: processing config change failed; retrying", "znode", c, "err", err)
			return z.retryConfigChanges()
		}
		z.configMu.Lock()
		z.lastChange = c
		z.configMu.Unlock()
	}
	z.configMu.RLock()
	last = z.lastChange
	z.configMu.RUnlock()
	z.purgeChanges(zkdata.ConfigChangesPath, zkdata.ConfigChangePrefix, children, last)
	return ch
}

// defaultChangeExpiration is ZkNodeChangeNotificationListener's
// changeExpirationMs default.
const defaultChangeExpiration = 15 * time.Minute

// purgeChanges deletes the processed notifications (children up to
// last) of a change path that are older than changeExpirationMs, as
// Kafka's ZkNodeChangeNotificationListener.purgeObsoleteNotifications
// does after processing, so that the path does not grow for ever.
// Children are in sequence (and so creation) order: it stops at the
// first one that is still young. Errors are left for the next round.
func (z *ZK) purgeChanges(changesPath, prefix string, sorted []string, last string) {
	cutoff := time.Now().UnixMilli() - z.changeExpirationMs.Load()
	for _, c := range sorted {
		if !strings.HasPrefix(c, prefix) {
			continue
		}
		if c > last {
			return
		}
		p := z.p(changesPath + "/" + c)
		ok, st, err := z.conn.Exists(p)
		if err != nil {
			return
		}
		if !ok {
			continue
		}
		if st.Ctime >= cutoff {
			return
		}
		if err := z.conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return
		}
	}
}

// configRetryBackoff is the wait before reading config changes again
// after ZooKeeper failed to answer.
const configRetryBackoff = time.Second

// retryConfigChanges is a channel that fires after configRetryBackoff
// (never once the ZK closes).
func (z *ZK) retryConfigChanges() <-chan zk.Event {
	ch := make(chan zk.Event, 1)
	go func() {
		select {
		case <-time.After(configRetryBackoff):
			ch <- zk.Event{}
		case <-z.closed:
		}
	}()
	return ch
}

// applyConfigChange reads one change notification and the topic config it
// names. A notification already purged or undecodable is skipped (nil);
// an error means ZooKeeper could not be read and the change must be
// tried again.
func (z *ZK) applyConfigChange(c string) error {
	data, _, err := z.conn.Get(z.p(zkdata.ConfigChangesPath + "/" + c))
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", c, err)
	}
	typ, name, err := zkdata.DecodeConfigChange(data)
	if err != nil {
		z.log.Warn("controller: ignoring bad config change notification", "znode", c, "err", err)
		return nil
	}
	switch typ {
	case "users", "clients", "ips":
		if err := z.reloadEntity(typ, name); err != nil {
			return fmt.Errorf("read config entity %s/%s: %w", typ, name, err)
		}
		return nil
	case "brokers":
		cfg, err := z.readConfig(zkdata.ConfigBrokerPath(name))
		if err != nil {
			return fmt.Errorf("read config of broker %s: %w", name, err)
		}
		z.configMu.Lock()
		if z.brokerConfigs == nil {
			z.brokerConfigs = map[string]map[string]string{}
		}
		if cfg == nil {
			delete(z.brokerConfigs, name)
		} else {
			z.brokerConfigs[name] = cfg
		}
		z.configMu.Unlock()
		z.configChanged()
		return nil
	case "topics":
	default:
		return nil
	}
	cfg, err := z.readTopicConfig(name)
	if err != nil {
		return fmt.Errorf("read config of topic %s: %w", name, err)
	}
	z.configMu.Lock()
	if cfg == nil {
		delete(z.configs, name)
	} else {
		z.configs[name] = cfg
	}
	z.configMu.Unlock()
	z.configChanged()
	return nil
}

// ClusterID is the id in /cluster/id.
func (z *ZK) ClusterID() string { return z.clusterID }

// ControllerID is the controller named by the newest UpdateMetadata; -1
// until the first arrives.
func (z *ZK) ControllerID() int32 { return z.cache.ControllerID() }

// Brokers returns the live brokers of the metadata cache, each with every
// listener it advertises (Broker.Listeners) and, in Host/Port, its
// endpoint on this broker's first advertised listener's name.
func (z *ZK) Brokers() []Broker {
	cb := z.cache.Brokers()
	out := make([]Broker, 0, len(cb))
	first := ""
	if len(z.cfg.Endpoints) > 0 {
		first = z.cfg.Endpoints[0].Listener
	}
	for _, b := range cb {
		nb := Broker{ID: b.ID, Rack: b.Rack}
		for _, e := range b.Endpoints {
			nb.Listeners = append(nb.Listeners, Listener{Name: e.Listener, Host: e.Host, Port: e.Port})
		}
		if e, ok := b.Endpoint(first); ok {
			nb.Host, nb.Port = e.Host, e.Port
		} else if len(b.Endpoints) > 0 {
			nb.Host, nb.Port = b.Endpoints[0].Host, b.Endpoints[0].Port
		}
		out = append(out, nb)
	}
	return out
}

// topicFromCache converts a cached topic, with its config overrides.
func (z *ZK) topicFromCache(t metadatacache.Topic) Topic {
	out := Topic{Name: t.Name, ID: TopicID(t.ID), Internal: isInternalTopic(t.Name)}
	idx := make([]int32, 0, len(t.Partitions))
	for i := range t.Partitions {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		p := t.Partitions[i]
		out.Partitions = append(out.Partitions, Partition{Index: i, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			PartitionEpoch: p.PartitionEpoch, Replicas: cloneInt32s(p.Replicas), ISR: cloneInt32s(p.ISR),
			OfflineReplicas: cloneInt32s(p.OfflineReplicas)})
	}
	z.configMu.RLock()
	out.Configs = cloneConfigs(z.configs[t.Name])
	z.configMu.RUnlock()
	return out
}

// Topic returns the named topic as the metadata cache has it.
func (z *ZK) Topic(name string) (Topic, bool) {
	t, ok := z.cache.Topic(name)
	if !ok {
		return Topic{}, false
	}
	return z.topicFromCache(t), true
}

// TopicByID returns the topic with the given id.
func (z *ZK) TopicByID(id TopicID) (Topic, bool) {
	if id == (TopicID{}) {
		return Topic{}, false
	}
	t, ok := z.cache.TopicByID(id)
	if !ok {
		return Topic{}, false
	}
	return z.topicFromCache(t), true
}

// Topics returns every topic of the metadata cache, sorted by name.
func (z *ZK) Topics() []Topic {
	ts := z.cache.Topics()
	out := make([]Topic, len(ts))
	for i, t := range ts {
		out[i] = z.topicFromCache(t)
	}
	return out
}

// LiveBrokerIDs lists /brokers/ids, sorted: what Kafka's AdminZkClient
// assigns replicas over.
func (z *ZK) LiveBrokerIDs() ([]int32, error) {
	children, _, err := z.conn.Children(z.p(zkdata.BrokerIDsPath))
	if err != nil {
		return nil, fmt.Errorf("controller: list brokers: %w", err)
	}
	var ids []int32
	for _, c := range children {
		if n, err := strconv.ParseInt(c, 10, 32); err == nil {
			ids = append(ids, int32(n))
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// liveBrokerRacks reads every registration under /brokers/ids for its
// broker.rack, sorted by id: what Kafka's replica assignment works from.
// A broker that went away meanwhile is left out.
func (z *ZK) liveBrokerRacks() ([]BrokerRack, error) {
	ids, err := z.LiveBrokerIDs()
	if err != nil {
		return nil, err
	}
	out := make([]BrokerRack, 0, len(ids))
	for _, id := range ids {
		data, _, err := z.conn.Get(z.p(zkdata.BrokerPath(id)))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("controller: read broker %d: %w", id, err)
		}
		b, err := zkdata.DecodeBroker(id, data)
		if err != nil {
			return nil, fmt.Errorf("controller: broker %d registration: %w", id, err)
		}
		out = append(out, BrokerRack{ID: id, Rack: b.Rack})
	}
	return out, nil
}

// AssignReplicas is Kafka's AdminUtils.assignReplicasToBrokersRackUnaware:
// partition p's first replica is brokers[(p+startIndex) % n], the others
// follow at a shift that grows by one every n partitions, so leaders and
// followers spread evenly. startIndex and shift < 0 pick random ones, as
// Kafka does for a new topic. brokers must be sorted.
func AssignReplicas(brokers []int32, nPartitions, rf, startIndex, shift, firstPartition int) [][]int32 {
	n := len(brokers)
	if startIndex < 0 {
		startIndex = rand.IntN(n)
	}
	if shift < 0 {
		shift = rand.IntN(n)
	}
	out := make([][]int32, 0, nPartitions)
	cur := max(0, firstPartition)
	for range nPartitions {
		if cur > 0 && cur%n == 0 {
			shift++
		}
		first := (cur + startIndex) % n
		r := []int32{brokers[first]}
		for j := 0; j < rf-1; j++ {
			s := 1 + (shift+j)%(n-1)
			r = append(r, brokers[(first+s)%n])
		}
		out = append(out, r)
		cur++
	}
	return out
}

// CreateTopic writes the topic's config znode and then its assignment
// znode, as Kafka's AdminZkClient.createTopicWithAssignment does; the
// controller then elects leaders and tells every broker. It waits (up to
// ctx, at most 10 s) until this broker's metadata cache shows a leader
// for every partition, so the client can use the topic at once. Errors
// are those of Controller plus kerr.InvalidReplicationFactor when fewer
// brokers are registered than asked for.
func (z *ZK) CreateTopic(ctx context.Context, req CreateTopic) (Topic, error) {
	if err := validateTopicName(req.Name); err != nil {
		return Topic{}, err
	}
	existing, _, err := z.conn.Children(z.p(zkdata.TopicsPath))
	if err != nil {
		return Topic{}, fmt.Errorf("controller: list topics: %w", err)
	}
	if slices.Contains(existing, req.Name) {
		return Topic{}, fmt.Errorf("Topic '%s' already exists: %w", req.Name, kerr.TopicAlreadyExists)
	}
	if hasCollisionChars(req.Name) {
		for _, e := range existing {
			if collisionKey(e) == collisionKey(req.Name) {
				return Topic{}, fmt.Errorf("Topic '%s' collides with existing topic: %s: %w", req.Name, e, kerr.InvalidTopicException)
			}
		}
	}
	brokers, err := z.LiveBrokerIDs()
	if err != nil {
		return Topic{}, err
	}
	var replicas [][]int32
	if len(req.Assignments) > 0 {
		for _, r := range req.Assignments {
			if err := validateZKAssignment(r, len(req.Assignments[0]), brokers); err != nil {
				return Topic{}, err
			}
		}
		replicas = req.Assignments
	} else {
		if req.NumPartitions < 1 {
			return Topic{}, fmt.Errorf("Number of partitions must be larger than 0.: %w", kerr.InvalidPartitions)
		}
		if req.ReplicationFactor < 1 {
			return Topic{}, fmt.Errorf("Replication factor must be larger than 0.: %w", kerr.InvalidReplicationFactor)
		}
		if int(req.ReplicationFactor) > len(brokers) {
			return Topic{}, fmt.Errorf("Replication factor: %d larger than available brokers: %d.: %w",
				req.ReplicationFactor, len(brokers), kerr.InvalidReplicationFactor)
		}
		if err := checkRecordCount(1 + len(req.Configs) + int(req.NumPartitions)); err != nil {
			return Topic{}, err
		}
		withRacks, err := z.liveBrokerRacks()
		if err != nil {
			return Topic{}, err
		}
		if replicas, err = AssignReplicasToBrokers(withRacks, int(req.NumPartitions), int(req.ReplicationFactor), -1, -1, 0); err != nil {
			return Topic{}, err
		}
	}
	planned := Topic{Name: req.Name, Internal: isInternalTopic(req.Name), Configs: cloneConfigs(req.Configs)}
	for i, r := range replicas {
		p := newPartition(int32(i), r)
		planned.Partitions = append(planned.Partitions, p)
	}
	if req.ValidateOnly {
		return planned, nil
	}
	planned.ID = randomUUID(nil)
	if err := z.writeTopicConfig(req.Name, req.Configs); err != nil {
		return Topic{}, err
	}
	assign := zkdata.Topic{ID: planned.ID, Replicas: map[int32][]int32{}}
	for i, r := range replicas {
		assign.Replicas[int32(i)] = r
	}
	_, err = z.conn.Create(z.p(zkdata.TopicPath(req.Name)), zkdata.EncodeTopic(assign), 0, zk.WorldACL(zk.PermAll))
	if errors.Is(err, zk.ErrNodeExists) {
		return Topic{}, fmt.Errorf("Topic '%s' already exists: %w", req.Name, kerr.TopicAlreadyExists)
	}
	if err != nil {
		return Topic{}, fmt.Errorf("controller: create topic %q: %w", req.Name, err)
	}
	z.log.Info("controller: created topic znode", "topic", req.Name, "topic_id", planned.ID.String(),
		"partitions", len(replicas), "replication_factor", len(replicas[0]))
	if t, ok := z.waitForLeaders(ctx, req.Name, planned.ID, len(replicas), 0); ok {
		return t, nil
	}
	return planned, nil
}

// validateZKAssignment checks a manual replica list as Kafka's
// AdminZkClient.validateTopicCreate does.
func validateZKAssignment(r []int32, rf int, brokers []int32) error {
	if len(r) == 0 {
		return fmt.Errorf("The manual partition assignment includes an empty replica list: %w", kerr.InvalidReplicaAssignment)
	}
	seen := map[int32]bool{}
	for _, id := range r {
		if seen[id] {
			return fmt.Errorf("Duplicate replica assignment found: %v: %w", r, kerr.InvalidReplicaAssignment)
		}
		seen[id] = true
		if !slices.Contains(brokers, id) {
			return fmt.Errorf("Unknown broker(s) in replica assignment: %d.: %w", id, kerr.InvalidReplicaAssignment)
		}
	}
	if len(r) != rf {
		return fmt.Errorf("All partitions should have the same number of replicas: %w", kerr.InvalidReplicaAssignment)
	}
	return nil
}

// writeTopicConfig sets or creates /config/topics/<name> and adds a change
// notification so that every broker reloads it (AdminZkClient
// .changeTopicConfig), and updates this broker's copy at once.
func (z *ZK) writeTopicConfig(name string, configs map[string]string) error {
	p := z.p(zkdata.ConfigTopicPath(name))
	data := zkdata.EncodeConfig(configs)
	if _, err := z.conn.Set(p, data, -1); errors.Is(err, zk.ErrNoNode) {
		if _, err := z.conn.Create(p, data, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("controller: write config of %q: %w", name, err)
		}
	} else if err != nil {
		return fmt.Errorf("controller: write config of %q: %w", name, err)
	}
	_, err := z.conn.Create(z.p(zkdata.ConfigChangesPath+"/"+zkdata.ConfigChangePrefix),
		zkdata.EncodeConfigChange("topics/"+name), zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return fmt.Errorf("controller: notify config change of %q: %w", name, err)
	}
	z.configMu.Lock()
	z.configs[name] = cloneConfigs(configs)
	z.configMu.Unlock()
	z.configChanged()
	return nil
}

// waitForLeaders polls the metadata cache until topic id has at least
// partitions partitions from index from on, each with a leader.
func (z *ZK) waitForLeaders(ctx context.Context, name string, id TopicID, partitions, from int) (Topic, bool) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if t, ok := z.cache.Topic(name); ok && TopicID(t.ID) == id && len(t.Partitions) >= partitions {
			ready := true
			for i := from; i < partitions; i++ {
				if p, ok := t.Partitions[int32(i)]; !ok || p.Leader < 0 {
					ready = false
				}
			}
			if ready {
				return z.topicFromCache(t), true
			}
		}
		select {
		case <-ctx.Done():
			return Topic{}, false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return Topic{}, false
}

// DeleteTopic creates the /admin/delete_topics/<name> marker; the
// controller deletes the topic (AdminZkClient.deleteTopic). It returns
// the topic as this broker last knew it.
func (z *ZK) DeleteTopic(ctx context.Context, name string) (Topic, error) {
	exists, _, err := z.conn.Exists(z.p(zkdata.TopicPath(name)))
	if err != nil {
		return Topic{}, fmt.Errorf("controller: delete topic %q: %w", name, err)
	}
	if !exists {
		return Topic{}, unknownTopic(name)
	}
	t, _ := z.Topic(name)
	t.Name = name
	_, err = z.conn.Create(z.p(zkdata.DeleteTopicPath(name)), nil, 0, zk.WorldACL(zk.PermAll))
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return Topic{}, fmt.Errorf("controller: mark topic %q for deletion: %w", name, err)
	}
	z.log.Info("controller: marked topic for deletion", "topic", name)
	return t, nil
}

// CreatePartitions rewrites /brokers/topics/<name> with the new
// partitions' replicas, conditional on the znode's version (Kafka's
// AdminZkClient.createPartitions); new replicas are placed as Kafka does,
// starting from the first replica of partition 0.
func (z *ZK) CreatePartitions(ctx context.Context, name string, total int32, assignments [][]int32, validateOnly bool) (Topic, error) {
	data, st, err := z.conn.Get(z.p(zkdata.TopicPath(name)))
	if errors.Is(err, zk.ErrNoNode) {
		return Topic{}, unknownTopic(name)
	}
	if err != nil {
		return Topic{}, fmt.Errorf("controller: read topic %q: %w", name, err)
	}
	cur, err := zkdata.DecodeTopic(data)
	if err != nil {
		return Topic{}, fmt.Errorf("controller: topic %q: %w", name, err)
	}
	if del, _, _ := z.conn.Exists(z.p(zkdata.DeleteTopicPath(name))); del {
		return Topic{}, fmt.Errorf("The topic %s is queued for deletion.: %w", name, kerr.InvalidTopicException)
	}
	for p := range cur.Replicas {
		if len(cur.Adding[p]) > 0 || len(cur.Removing[p]) > 0 {
			// ZkAdminManager.createPartitions: RS = ORS + TRS would give
			// the new partitions the wrong replication factor.
			return Topic{}, fmt.Errorf("A partition reassignment is in progress for the topic '%s'.: %w", name, kerr.ReassignmentInProgress)
		}
	}
	have := len(cur.Replicas)
	switch {
	case int(total) == have:
		return Topic{}, fmt.Errorf("Topic already has %d partitions.: %w", have, kerr.InvalidPartitions)
	case int(total) < have:
		return Topic{}, fmt.Errorf("The number of partitions for a topic can only be increased. Topic %s currently has %d partitions, %d would not be an increase.: %w",
			name, have, total, kerr.InvalidPartitions)
	}
	add := int(total) - have
	rf := len(cur.Replicas[0])
	brokers, err := z.LiveBrokerIDs()
	if err != nil {
		return Topic{}, err
	}
	if assignments != nil {
		if len(assignments) != add {
			return Topic{}, fmt.Errorf("Increasing the number of partitions by %d but %d assignments provided.: %w",
				add, len(assignments), kerr.InvalidReplicaAssignment)
		}
		for _, r := range assignments {
			if err := validateZKAssignment(r, rf, brokers); err != nil {
				return Topic{}, err
			}
		}
	} else {
		if rf > len(brokers) {
			return Topic{}, fmt.Errorf("Replication factor: %d larger than available brokers: %d.: %w", rf, len(brokers), kerr.InvalidReplicationFactor)
		}
		start := 0
		for i, b := range brokers {
			if b >= cur.Replicas[0][0] {
				start = i
				break
			}
		}
		withRacks, err := z.liveBrokerRacks()
		if err != nil {
			return Topic{}, err
		}
		if assignments, err = AssignReplicasToBrokers(withRacks, add, rf, start, start, have); err != nil {
			if errors.Is(err, errNotAllRacks) {
				// AdminZkClient.getBrokerMetadatas' wording (RackAwareMode.Enforced).
				err = errors.New("Not all brokers have rack information. Add --disable-rack-aware in command line to make replica assignment without rack information.")
			}
			return Topic{}, err
		}
	}
	if err := checkRecordCount(add); err != nil {
		return Topic{}, err
	}
	t, _ := z.Topic(name)
	t.Name = name
	for i, r := range assignments {
		t.Partitions = append(t.Partitions, newPartition(int32(have+i), r))
	}
	if validateOnly {
		return t, nil
	}
	for i, r := range assignments {
		cur.Replicas[int32(have+i)] = r
	}
	if _, err := z.conn.Set(z.p(zkdata.TopicPath(name)), zkdata.EncodeTopic(cur), st.Version); err != nil {
		if errors.Is(err, zk.ErrBadVersion) {
			return Topic{}, fmt.Errorf("topic %q changed concurrently: %w", name, kerr.ReassignmentInProgress)
		}
		return Topic{}, fmt.Errorf("controller: write topic %q: %w", name, err)
	}
	z.log.Info("controller: added partitions", "topic", name, "from", have, "to", total)
	if got, ok := z.waitForLeaders(ctx, name, TopicID(cur.ID), int(total), have); ok {
		return got, nil
	}
	return t, nil
}

// SetTopicConfigs replaces a topic's overrides in /config/topics/<name>
// and notifies every broker.
func (z *ZK) SetTopicConfigs(ctx context.Context, name string, configs map[string]string) error {
	exists, _, err := z.conn.Exists(z.p(zkdata.TopicPath(name)))
	if err != nil {
		return fmt.Errorf("controller: set configs of %q: %w", name, err)
	}
	if !exists {
		return unknownTopic(name)
	}
	return z.writeTopicConfig(name, configs)
}

// AllocateProducerIDs hands out ids from this broker's current block and
// fetches a new block of 1000 (ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE)
// through BlockSource when it runs out, as Kafka's RPCProducerIdManager
// does with AllocateProducerIds. Ids are never reused: each block comes
// from the controller's conditional update of /latest_producer_id_block.
func (z *ZK) AllocateProducerIDs(ctx context.Context, count int) (int64, error) {
	if count <= 0 {
		return 0, errors.New("controller: producer id count must be positive")
	}
	z.pidMu.Lock()
	defer z.pidMu.Unlock()
	for z.pidLimit-z.pidNext < int64(count) {
		if z.BlockSource == nil {
			return 0, fmt.Errorf("no producer id source yet: %w", kerr.CoordinatorLoadInProgress)
		}
		first, n, err := z.BlockSource(ctx)
		if err != nil {
			return 0, err
		}
		z.pidNext, z.pidLimit = first, first+n
	}
	id := z.pidNext
	z.pidNext += int64(count)
	return id, nil
}

// Close deregisters the broker (its session ends, so its ephemeral znodes
// go at once) and closes the connection.
func (z *ZK) Close() error {
	z.closeOnce.Do(func() {
		close(z.closed)
		z.conn.Close()
		<-z.done
	})
	return nil
}

// TopicConfigs returns a copy of a topic's overrides as this broker last
// read them from /config/topics.
func (z *ZK) TopicConfigs(name string) map[string]string {
	z.configMu.RLock()
	defer z.configMu.RUnlock()
	return cloneConfigs(z.configs[name])
}
