package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"samsa/httpapi"
	"samsa/internal/diskguard"

	"samsa/acl"
	"samsa/config"
	"samsa/console"
	"samsa/controller"
	"samsa/coordinator"
	"samsa/groups"
	"samsa/handlers"
	"samsa/internal/zkdata"
	"samsa/logstore"
	"samsa/metadatacache"
	"samsa/metrics"
	"samsa/protocol"
	"samsa/quota"
	"samsa/replica"
	"samsa/security"
	"samsa/txn"
	"samsa/zkcontroller"
)

// Directories under the first log dir that hold the single-node
// controller's Pebble database and the log index's Pebble database. Their
// names cannot be partition directories (<topic>-<partition>).
const (
	metaDirName   = ".samsa-meta"
	indexDirName  = ".samsa-index"
	groupsDirName = ".samsa-groups"
)

// Broker is a running Samsa broker.
type Broker struct {
	cfg    *config.Config
	log    *slog.Logger
	ctrl   controller.Controller
	logs   *logstore.Store
	groups *groups.Coordinator
	txn    *txn.Coordinator
	// replicas is the replica manager (package replica).
	replicas *replica.Manager
	server   *protocol.Server
	addrs    []net.Addr
	guard    *diskguard.Guard
	// extraGuards are the disk guards of log.dirs after the first.
	extraGuards []*diskguard.Guard

	// ready holds /readyz's checks; phase is the start-up (or shutdown)
	// phase the "startup" check reports, "" once serving.
	ready *httpapi.Readiness
	phase atomic.Pointer[string]
	http  *httpapi.Server // nil when samsa.http.listeners is unset
	// console is the web console on http; nil when http is or when
	// samsa.console.enable=false.
	console *console.Console

	// metrics are the hot-path counters; stores holds what the /metrics
	// collector walks once the stores are open (nil before).
	metrics *metrics.Broker
	stores  atomic.Pointer[stores]

	stopRetention chan struct{}
	retentionDone chan struct{}

	// sec is the listeners' TLS and SASL settings; Close stops its JWKS
	// refreshers.
	sec *security.Listeners

	closeOnce sync.Once
	closeErr  error
}

// Start opens the stores, binds every listener and starts serving. Listener
// ports of 0 are bound to free ports; Addrs reports them, and advertised
// listeners derived from such a listener advertise the bound port.
//
// When samsa.http.listeners is set, the HTTP listener is bound and served
// right after the Kafka listeners, before the stores open, so that its
// /readyz answers 503 with the start-up phase during a long log recovery
// (package httpapi).
func Start(cfg *config.Config, log *slog.Logger) (*Broker, error) {
	if log == nil {
		log = slog.Default()
	}
	b := &Broker{cfg: cfg, log: log, ready: httpapi.NewReadiness(), metrics: metrics.New()}
	b.setPhase("binding listeners")
	b.ready.Set("startup", func() (bool, string) {
		if p := *b.phase.Load(); p != "" {
			return false, p
		}
		return true, ""
	})
	// Cluster mode adds its check here ("cluster": registered with the
	// controller quorum and caught up with the metadata log) with
	// b.ready.Set; see AddReadyCheck.

	// TLS and SASL settings are checked before anything is bound or
	// opened, so a bad one fails at once with the key named.
	sec, err := security.Build(security.Options{Config: cfg, Logger: log})
	if err != nil {
		return nil, err
	}
	// The OAUTHBEARER JWKS refreshers stop with the broker, or here
	// when the start fails.
	b.sec = sec
	started := false
	defer func() {
		if !started {
			sec.Close()
		}
	}()
	authz, err := authorizerConfig(cfg)
	if err != nil {
		return nil, err
	}

	// Bind first so that port-0 listeners know their port before the
	// controller registers this broker's endpoint.
	lns := make([]net.Listener, 0, len(cfg.Listeners))
	for _, l := range cfg.Listeners {
		ln, err := net.Listen("tcp", net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))))
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return nil, fmt.Errorf("listener %s://%s:%d: %w", l.Name, l.Host, l.Port, err)
		}
		lns = append(lns, ln)
		b.addrs = append(b.addrs, ln.Addr())
		if l.Port == 0 {
			port := int32(ln.Addr().(*net.TCPAddr).Port)
			for i := range cfg.AdvertisedListeners {
				if cfg.AdvertisedListeners[i].Name == l.Name && cfg.AdvertisedListeners[i].Port == 0 {
					cfg.AdvertisedListeners[i].Port = port
				}
			}
		}
	}
	if len(cfg.HTTPListeners) > 0 {
		b.http = httpapi.New(b.ready, log)
		b.http.Handle("/metrics", metrics.HTTPHandler(metrics.Registry(metrics.NewCollector(b.metrics, b.metricSources))))
		if cfg.PprofEnable {
			b.http.Handle("/debug/pprof/", http.HandlerFunc(pprof.Index))
			b.http.Handle("/debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
			b.http.Handle("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
			b.http.Handle("/debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
			b.http.Handle("/debug/pprof/trace", http.HandlerFunc(pprof.Trace))
			runtime.SetMutexProfileFraction(100)
			runtime.SetBlockProfileRate(int(time.Millisecond))
		}
		if cfg.ConsoleEnable {
			con, err := console.New(console.Options{
				Seeds:        b.consoleSeeds,
				Counters:     b.metrics,
				AllowActions: cfg.ConsoleActionsEnable,
				Logger:       log,
			})
			if err != nil {
				for _, ln := range lns {
					ln.Close()
				}
				return nil, err
			}
			b.console = con
			con.Register(b.http)
		}
		if err := b.http.Start(cfg.HTTPListeners); err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return nil, err
		}
	}
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
		if b.http != nil {
			_ = b.http.Shutdown(context.Background())
		}
		if b.console != nil {
			b.console.Close()
		}
	}
	overrides, err := quota.ParseOverrides(cfg.MaxConnectionsPerIPOverrides, nil)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("max.connections.per.ip.overrides: %w", err)
	}
	b.setPhase("opening log dir")

	if err := os.MkdirAll(cfg.LogDirs[0], 0o755); err != nil {
		closeAll()
		return nil, fmt.Errorf("log dir %s: %w", cfg.LogDirs[0], err)
	}
	guard, err := diskguard.New(diskguard.Options{Dir: cfg.LogDirs[0], Logger: log})
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("log dir %s: %w", cfg.LogDirs[0], err)
	}
	b.guard = guard
	// Every further log dir (JBOD) has its own disk guard, as it has its
	// own index: a full disk there refuses writes to its partitions only.
	for _, d := range cfg.LogDirs[1:] {
		if err := os.MkdirAll(d, 0o755); err != nil {
			closeAll()
			guard.Close()
			b.closeExtraGuards()
			return nil, fmt.Errorf("log dir %s: %w", d, err)
		}
		g, err := diskguard.New(diskguard.Options{Dir: d, Logger: log})
		if err != nil {
			closeAll()
			guard.Close()
			b.closeExtraGuards()
			return nil, fmt.Errorf("log dir %s: %w", d, err)
		}
		b.extraGuards = append(b.extraGuards, g)
	}
	st, err := openStoresWatched(cfg, log, guard, b.extraGuards, b.metrics, b.setPhase)
	if err != nil {
		closeAll()
		guard.Close()
		b.closeExtraGuards()
		return nil, err
	}
	b.ctrl, b.logs, b.groups, b.txn = st.ctrl, st.logs, st.groups, st.txn
	b.replicas = st.replicas
	if cs, ok := st.ctrl.(security.CredentialStore); ok {
		sec.SetCredentials(cs)
	}
	if authz != nil {
		store, ok := st.ctrl.(acl.Store)
		if !ok {
			st.close()
			closeAll()
			guard.Close()
			return nil, fmt.Errorf("authorizer.class.name is set but the controller keeps no ACLs")
		}
		authz.Logger = log
		st.h.Authorizer = acl.New(store, *authz)
		if n, ok := st.ctrl.(interface{ OnACLsChanged(func()) }); ok {
			// ACLs changed through another broker of a ZooKeeper
			// cluster (AclAuthorizer's change notifications).
			n.OnACLsChanged(st.h.Authorizer.Reload)
		}
		log.Info("authorizer on", "acls", len(store.ACLs()), "super.users", cfg.Values["super.users"])
	}
	b.stores.Store(st)
	h := st.h
	guards := append([]*diskguard.Guard{guard}, b.extraGuards...) // in log.dirs order
	for i, g := range guards {
		if g.Full() {
			log.Error("log dir is out of disk space: starting with writes refused (KAFKA_STORAGE_ERROR) until space is freed; reads are served", "log_dir", cfg.LogDirs[i])
		}
		g.Start()
	}
	b.ready.Set("log dir", func() (bool, string) {
		// Reads are served and a consumer can drain the backlog, so a
		// full log dir keeps the broker in rotation; the note says
		// why produces fail, and with several log.dirs which of them
		// (each refuses writes to the partitions it holds).
		var full []string
		for i, g := range guards {
			if g.Full() {
				full = append(full, cfg.LogDirs[i])
			}
		}
		switch {
		case len(full) == 0:
			return true, ""
		case len(guards) == 1:
			return true, "out of disk space, writes refused with KAFKA_STORAGE_ERROR until space is freed; reads are served"
		}
		return true, fmt.Sprintf("out of disk space in %s, writes to the partitions there refused with KAFKA_STORAGE_ERROR until space is freed; reads are served", strings.Join(full, ", "))
	})
	b.stopRetention, b.retentionDone = make(chan struct{}), make(chan struct{})
	go b.retentionLoop(time.Duration(cfg.LogRetentionCheckIntervalMs) * time.Millisecond)

	b.server = protocol.NewServer(metrics.Handler{Next: h, Metrics: b.metrics}, protocol.Config{
		MaxRequestBytes: cfg.SocketRequestMaxBytes,
		MaxIdle:         maxIdle(cfg.ConnectionsMaxIdleMs),
		Logger:          log,
		Conns:           b.metrics,
		Limiter: quota.NewConnectionQuotas(quota.ConnConfig{
			MaxConnections:      int(cfg.MaxConnections),
			ProtectedListener:   protectedListener(cfg),
			MaxConnectionsPerIP: int(cfg.MaxConnectionsPerIP),
			PerIPOverrides:      overrides,
			Logger:              log,
		}, h.Quotas),
	})
	for i, ln := range lns {
		b.server.ServeSecure(cfg.Listeners[i].Name, ln, sec.For(cfg.Listeners[i].Name))
	}
	if st.role != nil {
		// Registered only now that the logs are recovered and the
		// listeners serve, as KafkaServer.startup: the controller
		// sends LeaderAndIsr as soon as the broker appears.
		b.setPhase("registering in zookeeper")
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(int64(cfg.ZookeeperConnectionTimeoutMs)+2*int64(cfg.ZookeeperSessionTimeoutMs))*time.Millisecond)
		err := st.z.Register(ctx)
		cancel()
		if err != nil {
			_ = b.Close(context.Background())
			return nil, fmt.Errorf("register broker in zookeeper: %w", err)
		}
		st.role.Start()
	}
	b.setPhase("")
	started = true
	log.Info("samsa started", "broker_id", cfg.BrokerID, "cluster_id", b.ctrl.ClusterID(), "listeners", b.addrs, "http_listeners", b.HTTPAddrs(), "log_dirs", cfg.LogDirs)
	return b, nil
}

// consoleSeeds are the addresses the web console's client dials: the
// bound Kafka listeners, with a wildcard host replaced by loopback.
func (b *Broker) consoleSeeds() []string {
	out := make([]string, 0, len(b.addrs))
	for _, a := range b.addrs {
		host, port, err := net.SplitHostPort(a.String())
		if err != nil {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			if ip.To4() != nil {
				host = "127.0.0.1"
			} else {
				host = "::1"
			}
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out
}

// metricSources is what /metrics walks at scrape time: nothing but the
// counters until the stores are open.
func (b *Broker) metricSources() metrics.Sources {
	src := metrics.Sources{BrokerID: b.cfg.BrokerID}
	if st := b.stores.Load(); st != nil {
		src.Controller, src.Logs, src.Groups = st.ctrl, st.logs, st.groups
		if st.h != nil {
			src.MinInsyncReplicas = st.h.MinInsyncReplicas
		}
		if st.replicas != nil {
			src.Replicas = st.replicas
		}
	}
	return src
}

// testHookPhase, when set by a test, is called after each phase change:
// a test can hold a start in a phase to see /readyz answer 503.
var testHookPhase func(b *Broker, phase string)

// setPhase records what Start (or Close) is doing, for /readyz; "" means
// serving.
func (b *Broker) setPhase(p string) {
	b.phase.Store(&p)
	if testHookPhase != nil {
		testHookPhase(b, p)
	}
}

// AddReadyCheck adds (or, with a nil c, removes) a named /readyz check,
// for conditions beyond the start-up phase and the log dir, such as
// cluster registration.
func (b *Broker) AddReadyCheck(name string, c httpapi.Check) { b.ready.Set(name, c) }

// Ready reports what /readyz would answer: whether the broker is ready,
// and a one-line reason (not ready) or note (ready), as httpapi.Readiness
// describes. It works without the HTTP listener.
func (b *Broker) Ready() (bool, string) { return b.ready.Ready() }

// HTTPAddrs returns the bound address of each HTTP listener, in config
// order; none when samsa.http.listeners is unset.
func (b *Broker) HTTPAddrs() []net.Addr {
	if b.http == nil {
		return nil
	}
	return b.http.Addrs()
}

type stores struct {
	ctrl controller.Controller
	// role is the controller role in ZooKeeper mode, nil on a single node.
	role *zkcontroller.Controller
	z    *controller.ZK // ZooKeeper mode only
	logs *logstore.Store
	// moveQuota throttles moves between log dirs
	// (replica.alter.log.dirs.io.max.bytes.per.second).
	moveQuota *replica.ReplicationQuota
	replicas  *replica.Manager
	groups    *groups.Coordinator
	txn       *txn.Coordinator
	h         *handlers.Handlers
	markers   *remoteMarkers // cluster mode: WriteTxnMarkers to other leaders
}

// StartupFullTimeout is how long Start waits for the stores to open while
// the log dir is out of disk space. Pebble cannot open a store whose WAL
// must be flushed when there is no room for the flush (it retries without
// end), so rather than hang, Start gives up with one clear error.
var StartupFullTimeout = 3 * time.Second

// openStoresWatched opens the stores, giving up if the disk is full and
// they have not opened after StartupFullTimeout. Stores that open after
// that are closed again.
func openStoresWatched(cfg *config.Config, log *slog.Logger, guard *diskguard.Guard, extra []*diskguard.Guard, m *metrics.Broker, phase func(string)) (*stores, error) {
	type result struct {
		st  *stores
		err error
	}
	done := make(chan result, 1)
	var abandoned atomic.Bool
	go func() {
		st, err := openStores(cfg, log, guard, extra, m, phase)
		if err == nil && abandoned.Load() {
			st.close()
			return
		}
		done <- result{st, err}
	}()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var fullSince time.Time
	for {
		select {
		case r := <-done:
			return r.st, r.err
		case now := <-t.C:
			if !guard.Full() {
				fullSince = time.Time{}
				continue
			}
			if fullSince.IsZero() {
				fullSince = now
			}
			if now.Sub(fullSince) >= StartupFullTimeout {
				abandoned.Store(true)
				select {
				case r := <-done: // it finished meanwhile after all
					return r.st, r.err
				default:
				}
				return nil, fmt.Errorf("log dir %s is out of disk space (%s); the stores cannot open without room to recover. Free some space and start again", cfg.LogDirs[0], freeSpace(cfg.LogDirs[0]))
			}
		}
	}
}

func freeSpace(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "free space unknown"
	}
	return strconv.FormatInt(int64(st.Bavail)*int64(st.Bsize), 10) + " bytes free"
}

func (st *stores) close() {
	if st.role != nil {
		st.role.Close()
	}
	if st.replicas != nil {
		_ = st.replicas.Close()
	}
	if st.txn != nil {
		st.txn.Close()
	}
	if st.markers != nil {
		st.markers.close()
	}
	if st.groups != nil {
		_ = st.groups.Close()
	}
	if st.logs != nil {
		_ = st.logs.Close()
	}
	if st.ctrl != nil {
		_ = st.ctrl.Close()
	}
}

func openStores(cfg *config.Config, log *slog.Logger, guard *diskguard.Guard, extra []*diskguard.Guard, m *metrics.Broker, phase func(string)) (*stores, error) {
	st := &stores{}
	phase("opening cluster metadata")
	host, port := "", int32(0)
	if len(cfg.AdvertisedListeners) > 0 {
		host, port = cfg.AdvertisedListeners[0].Host, cfg.AdvertisedListeners[0].Port
	}
	var ctrl controller.Controller
	var cluster handlers.Cluster
	if cfg.ZookeeperConnect != "" {
		z, role, err := openZooKeeper(cfg, log, m.Controller())
		if err != nil {
			return nil, err
		}
		ctrl, cluster, st.role, st.z = z, role, role, z
	} else {
		single, err := controller.OpenSingle(controller.SingleConfig{
			Dir:      filepath.Join(cfg.LogDirs[0], metaDirName),
			BrokerID: cfg.BrokerID,
			Host:     host,
			Port:     port,
			Logger:   log,
			Guard:    guard,
		})
		if err != nil {
			return nil, fmt.Errorf("open controller: %w", err)
		}
		ctrl = single
	}
	st.ctrl = ctrl

	h := handlers.New(handlers.Deps{Config: cfg, Controller: ctrl, Logger: log, Metrics: m, Cluster: cluster})
	st.h = h
	// Topic defaults changed by dynamic broker configs
	// (/config/brokers) apply from the first log opened.
	h.RefreshDynamicConfigs()
	phase("recovering partition logs")
	// log.dirs beyond the first: independent log dirs, each with its
	// own index (see "Several log dirs" in logstore/doc.go).
	var extraDirs []logstore.DirOptions
	for i, d := range cfg.LogDirs[1:] {
		extraDirs = append(extraDirs, logstore.DirOptions{Dir: d, IndexDir: filepath.Join(d, indexDirName),
			IndexFS: extra[i].WrapPebble(nil), Guard: extra[i]})
	}
	// Kafka's alter-log-dirs quota: alter.log.dirs.replication.quota.window.num
	// and .size.seconds keep their defaults (11 samples of 1 s).
	st.moveQuota = replica.NewReplicationQuota(cfg.BrokerID, 11, time.Second, nil)
	logs, err := logstore.Open(logstore.Options{
		ExtraDirs: extraDirs,
		MoveQuota: st.moveQuota,
		Dir:       cfg.LogDirs[0],
		IndexDir:  filepath.Join(cfg.LogDirs[0], indexDirName),
		IndexFS:   guard.WrapPebble(nil),
		Guard:     guard,
		Logger:    log,
		ConfigFor: h.PartitionConfigFor,
		// Logs no topic claims are moved aside, never served (Kafka's
		// stray logs): after .samsa-meta is lost, a new topic of the
		// same name must not adopt an old topic's records.
		// In ZooKeeper mode the metadata arrives from the controller
		// after start-up, so nothing is a stray yet; the replica
		// manager deals with replicas the controller no longer assigns
		// here.
		MoveStrays:           cfg.ZookeeperConnect == "",
		ProducerIDExpiration: time.Duration(cfg.ProducerIDExpirationMs) * time.Millisecond,
		Cleaner: &logstore.CleanerConfig{
			Enable:             cfg.LogCleanerEnable,
			Threads:            int(cfg.LogCleanerThreads),
			DedupeBufferSize:   cfg.LogCleanerDedupeBufferSize,
			IOBufferSize:       int(cfg.LogCleanerIOBufferSize),
			IOBufferLoadFactor: cfg.LogCleanerIOBufferLoadFactor,
			BackoffMs:          cfg.LogCleanerBackoffMs,
		},
	})
	if err != nil {
		st.close()
		return nil, fmt.Errorf("open log store: %w", err)
	}
	st.logs = logs
	h.Logs = logs
	// The replica manager serves LeaderAndIsr and StopReplica; until one
	// names a partition it stays a single node's partition.
	replicaDeps := replica.Deps{Logs: logs, OpenLog: h.OpenLog, Logger: log}
	if m != nil {
		replicaDeps.Meters = m
	}
	st.replicas = replica.New(replica.Config{
		BrokerID:               cfg.BrokerID,
		ReplicaLagTimeMaxMs:    cfg.ReplicaLagTimeMaxMs,
		FetchMaxBytes:          cfg.ReplicaFetchMaxBytes,
		FetchResponseMaxBytes:  cfg.ReplicaFetchResponseMaxBytes,
		FetchMinBytes:          cfg.ReplicaFetchMinBytes,
		FetchWaitMaxMs:         cfg.ReplicaFetchWaitMaxMs,
		FetchBackoffMs:         cfg.ReplicaFetchBackoffMs,
		NumFetchers:            int(cfg.NumReplicaFetchers),
		HWCheckpointIntervalMs: cfg.ReplicaHighWatermarkCheckpointIntervalMs,
		ClusterMode:            cfg.ZookeeperConnect != "",
		ReplicaSelector:        replicaSelector(cfg.ReplicaSelectorClass),
		QuotaWindowNum:         cfg.ReplicationQuotaWindowNum,
		QuotaWindowSize:        time.Duration(cfg.ReplicationQuotaWindowSizeSeconds) * time.Second,
	}, replicaDeps)
	if z, ok := ctrl.(*controller.ZK); ok {
		// The cluster view (brokers' inter-broker addresses, the
		// controller) and the broker epoch come from ZooKeeper mode's
		// metadata cache and registration.
		st.replicas.SetCluster(z.Cache())
		st.replicas.SetBrokerEpochSource(z.BrokerEpoch)
		// Replication throttles follow the dynamic broker and topic
		// configs (Kafka's BrokerConfigHandler / TopicConfigHandler).
		rm, mq := st.replicas, st.moveQuota
		var throttleMu sync.Mutex // one application at a time, each from the newest configs
		z.OnConfigChange(func() {
			throttleMu.Lock()
			defer throttleMu.Unlock()
			applyReplicationThrottles(z, rm, mq, cfg.BrokerID, log)
		})
		applyReplicationThrottles(z, rm, mq, cfg.BrokerID, log)
		// Topic configs and topic defaults changed through any broker
		// apply to this broker's logs and produce checks.
		z.OnConfigChange(h.ApplyConfigChanges)
		h.ApplyConfigChanges()
	}
	st.replicas.Start()
	h.Replicas = st.replicas
	recreateMissingLogs(ctrl, logs, h.PartitionConfigFor, log)
	phase("loading consumer groups")
	// In cluster mode the coordinators serve the internal topics'
	// partitions this broker leads, loading and unloading them as
	// leadership moves, and write through that leadership with acks=-1.
	managed := cfg.ZookeeperConnect != ""
	var offsetsAppend, txnAppend coordinator.Appender
	if managed {
		commitTimeout := time.Duration(cfg.OffsetsCommitTimeoutMs) * time.Millisecond
		offsetsAppend = leaderAppender(st.replicas, groups.OffsetsTopic, h.MinInsyncReplicas, commitTimeout)
		txnAppend = leaderAppender(st.replicas, txn.StateTopic, h.MinInsyncReplicas, commitTimeout)
	}
	numOffsetsParts := cfg.OffsetsTopicNumPartitions
	if t, ok := ctrl.Topic(groups.OffsetsTopic); ok {
		numOffsetsParts = int32(len(t.Partitions))
	}
	offsetsSrc, txnSrc := offsetsLogs(ctrl, logs, h), internalLogs(ctrl, logs, h, txn.StateTopic, h.EnsureTxnTopic)
	if managed {
		offsetsSrc, txnSrc = replicaLogs(st.replicas, groups.OffsetsTopic), replicaLogs(st.replicas, txn.StateTopic)
	}
	coord, err := groups.Open(groups.Options{
		Logs:           offsetsSrc,
		LegacyDir:      filepath.Join(cfg.LogDirs[0], groupsDirName),
		NumPartitions:  numOffsetsParts,
		Compression:    int(cfg.OffsetsTopicCompressionCodec),
		LoadBufferSize: cfg.OffsetsLoadBufferSize,
		Managed:        managed,
		Append:         offsetsAppend,
		Config: groups.Config{
			InitialRebalanceDelay:         time.Duration(cfg.GroupInitialRebalanceDelayMs) * time.Millisecond,
			MinSessionTimeout:             time.Duration(cfg.GroupMinSessionTimeoutMs) * time.Millisecond,
			MaxSessionTimeout:             time.Duration(cfg.GroupMaxSessionTimeoutMs) * time.Millisecond,
			MaxSize:                       int(cfg.GroupMaxSize),
			OffsetsRetention:              time.Duration(cfg.OffsetsRetentionMinutes) * time.Minute,
			OffsetsRetentionCheckInterval: time.Duration(cfg.OffsetsRetentionCheckIntervalMs) * time.Millisecond,
		},
		Logger: log,
	})
	if err != nil {
		st.close()
		return nil, fmt.Errorf("open group coordinator: %w", err)
	}
	st.groups = coord
	h.Groups = coord
	coord.DropOffsetsOfUnknownTopics(func(topic string) bool {
		_, ok := ctrl.Topic(topic)
		return ok
	})
	phase("loading transactions")
	numTxnParts := cfg.TransactionStateLogNumPartitions
	if t, ok := ctrl.Topic(txn.StateTopic); ok {
		numTxnParts = int32(len(t.Partitions))
	}
	tc, err := txn.Open(txn.Options{
		Logs:           txnSrc,
		NumPartitions:  numTxnParts,
		LoadBufferSize: cfg.TransactionStateLogLoadBufferSize,
		AllocateProducerID: func(ctx context.Context) (int64, error) {
			return ctrl.AllocateProducerIDs(ctx, 1)
		},
		Markers:        st.markerWriter(cfg.BrokerID, ctrl, logs, coord, log),
		Managed:        managed,
		Append:         txnAppend,
		MaxTimeout:     time.Duration(cfg.TransactionMaxTimeoutMs) * time.Millisecond,
		AbortInterval:  time.Duration(cfg.TransactionAbortTimedOutTransactionCleanupIntervalMs) * time.Millisecond,
		IDExpiration:   time.Duration(cfg.TransactionalIDExpirationMs) * time.Millisecond,
		RemoveInterval: time.Duration(cfg.TransactionRemoveExpiredTransactionCleanupIntervalMs) * time.Millisecond,
		Logger:         log,
	})
	if err != nil {
		st.close()
		return nil, fmt.Errorf("open transaction coordinator: %w", err)
	}
	st.txn = tc
	h.Txn = tc
	if managed {
		wireCoordinators(st.replicas, coord, tc)
		if st.markers != nil {
			h.SetTxnForward(st.markers.txnForward)
		}
	}
	// Transactions a crash left between their prepare record and their
	// markers are completed now that the groups are open.
	tc.Complete()
	return st, nil
}

// markerWriter writes a transaction marker to one partition: the group
// coordinator's partition of __consumer_offsets through the group
// coordinator (which settles its pending transactional offsets), any
// other through its log. A partition that no longer exists is skipped,
// as Kafka drops markers for deleted partitions.
//
// In cluster mode a partition led by another broker gets the marker
// through WriteTxnMarkers at its leader (remoteMarkers), as Kafka's
// TransactionMarkerChannelManager sends them.
func (st *stores) markerWriter(self int32, ctrl controller.Controller, logs *logstore.Store, groupsCoord *groups.Coordinator, log *slog.Logger) txn.MarkerWriter {
	local := localMarkerWriter(ctrl, logs, st.replicas, groupsCoord)
	z, ok := ctrl.(*controller.ZK)
	if !ok {
		return local
	}
	st.markers = &remoteMarkers{self: self, ctrl: ctrl, addr: z.Cache().BrokerAddr, log: log, conns: map[int32]*replica.Conn{}}
	return func(topic string, partition int32, pid int64, epoch int16, commit bool, coordEpoch int32) error {
		return st.markers.send(topic, partition, pid, epoch, commit, coordEpoch, func() error {
			return local(topic, partition, pid, epoch, commit, coordEpoch)
		})
	}
}

func localMarkerWriter(ctrl controller.Controller, logs *logstore.Store, replicas *replica.Manager, groupsCoord *groups.Coordinator) txn.MarkerWriter {
	return func(topic string, partition int32, pid int64, epoch int16, commit bool, coordEpoch int32) error {
		if topic == groups.OffsetsTopic {
			return groupsCoord.CompleteTxn(partition, pid, epoch, commit, coordEpoch)
		}
		t, ok := ctrl.Topic(topic)
		if !ok || int(partition) >= len(t.Partitions) {
			return nil
		}
		lp, ok := logs.Partition(topic, partition)
		if !ok {
			return nil
		}
		rp, err := replicas.Lookup(topic, partition)
		if err != nil {
			return err
		}
		if rp != nil {
			// A replicated partition: written under its leadership in
			// the leader's epoch (a follower's answer is
			// NOT_LEADER_OR_FOLLOWER).
			_, err := rp.AppendAsLeader(1, 1, func(leaderEpoch int32) error {
				_, err := lp.AppendMarker(pid, epoch, commit, coordEpoch, leaderEpoch, 0)
				return err
			})
			return err
		}
		_, err = lp.AppendMarker(pid, epoch, commit, coordEpoch, t.Partitions[partition].LeaderEpoch, 0)
		return err
	}
}

// internalLogs is offsetsLogs for another internal topic.
func internalLogs(ctrl controller.Controller, logs *logstore.Store, h *handlers.Handlers, name string, ensure func() (bool, error)) coordinator.LogSource {
	return func(p int32, create bool) (*logstore.Partition, error) {
		t, ok := ctrl.Topic(name)
		if !ok {
			if !create {
				return nil, nil
			}
			if _, err := ensure(); err != nil {
				return nil, err
			}
			if t, ok = ctrl.Topic(name); !ok {
				return nil, fmt.Errorf("%s was not created", name)
			}
		}
		if p < 0 || int(p) >= len(t.Partitions) {
			return nil, fmt.Errorf("%s has no partition %d", name, p)
		}
		if lp, ok := logs.Partition(t.Name, p); ok {
			return lp, nil
		}
		cfg, _ := h.PartitionConfigFor(t.Name, p)
		return logs.CreatePartition(t.Name, p, cfg)
	}
}

// offsetsLogs is the group coordinator's access to the logs of
// __consumer_offsets. On a single node this broker leads every partition:
// once the topic exists every partition's log is opened (created if
// missing, like any led replica without a log). Without the topic, a
// write (create) makes it first, as FindCoordinator would.
func offsetsLogs(ctrl controller.Controller, logs *logstore.Store, h *handlers.Handlers) coordinator.LogSource {
	return func(p int32, create bool) (*logstore.Partition, error) {
		t, ok := ctrl.Topic(groups.OffsetsTopic)
		if !ok {
			if !create {
				return nil, nil
			}
			if _, err := h.EnsureOffsetsTopic(); err != nil {
				return nil, err
			}
			if t, ok = ctrl.Topic(groups.OffsetsTopic); !ok {
				return nil, fmt.Errorf("%s was not created", groups.OffsetsTopic)
			}
		}
		if p < 0 || int(p) >= len(t.Partitions) {
			return nil, fmt.Errorf("%s has no partition %d", groups.OffsetsTopic, p)
		}
		if lp, ok := logs.Partition(t.Name, p); ok {
			return lp, nil
		}
		cfg, _ := h.PartitionConfigFor(t.Name, p)
		return logs.CreatePartition(t.Name, p, cfg)
	}
}

// recreateMissingLogs finds partitions the cluster metadata has but the
// log dir lacks (a directory removed by hand or lost with its disk, or a
// crash between creating a topic and its logs), logs each once with the
// path it expected, and creates it empty, as Kafka does for a replica
// without a log. Internal topics are left alone: their logs are made on
// first use.
func recreateMissingLogs(ctrl controller.Controller, logs *logstore.Store, cfgFor func(string, int32) (logstore.PartitionConfig, bool), log *slog.Logger) {
	for _, t := range ctrl.Topics() {
		if t.Internal {
			continue
		}
		for _, p := range t.Partitions {
			if _, ok := logs.Partition(t.Name, p.Index); ok {
				continue
			}
			dir := filepath.Join(logs.Dir(), t.Name+"-"+strconv.Itoa(int(p.Index)))
			log.Warn("partition log missing for an existing topic; starting it empty", "topic", t.Name, "partition", p.Index, "dir", dir)
			cfg, _ := cfgFor(t.Name, p.Index)
			if _, err := logs.CreatePartition(t.Name, p.Index, cfg); err != nil {
				log.Error("recreating missing partition log", "dir", dir, "err", err)
			}
		}
	}
}

// retentionLoop runs the log store's roll and retention pass every
// log.retention.check.interval.ms until Close.
func (b *Broker) retentionLoop(every time.Duration) {
	defer close(b.retentionDone)
	if every <= 0 {
		every = 5 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.logs.RunRetention()
		case <-b.stopRetention:
			return
		}
	}
}

// Addrs returns the bound address of each listener, in config order.
func (b *Broker) Addrs() []net.Addr { return b.addrs }

// Addr returns the first listener's bound address as host:port.
func (b *Broker) Addr() string { return b.addrs[0].String() }

// MetadataCache is the cluster view UpdateMetadata keeps (brokers'
// inter-broker addresses, the controller id, partition states) in
// ZooKeeper mode, nil on a single node. The replica manager finds
// leaders and the controller through it.
func (b *Broker) MetadataCache() *metadatacache.Cache {
	if z, ok := b.ctrl.(*controller.ZK); ok {
		return z.Cache()
	}
	return nil
}

// Controller returns the broker's controller, for tests and tools.
func (b *Broker) Controller() controller.Controller { return b.ctrl }

// Logs returns the broker's partition logs, for in-process tests and for
// the transaction coordinator to come, which writes transaction markers
// with logstore.Partition.AppendMarker (WriteTxnMarkers).
func (b *Broker) Logs() *logstore.Store { return b.logs }

// Replicas returns the broker's replica manager: the ZooKeeper side sets
// its cluster view (SetCluster) and broker epoch through it.
func (b *Broker) Replicas() *replica.Manager { return b.replicas }

// Close shuts down gracefully: in-flight requests finish (until ctx ends),
// then the stores close.
func (b *Broker) Close(ctx context.Context) error {
	b.closeOnce.Do(func() {
		b.setPhase("shutting down")
		if st := b.stores.Load(); st != nil && st.role != nil {
			// Kafka's KafkaServer.shutdown starts with controlledShutdown:
			// leadership moves to other in-sync replicas while this broker
			// still serves, so clients see a leader change rather than
			// an outage.
			if b.cfg.ControlledShutdownEnable {
				b.setPhase("controlled shutdown")
				st.role.RequestControlledShutdown(ctx, int(b.cfg.ControlledShutdownMaxRetries),
					time.Duration(b.cfg.ControlledShutdownRetryBackoffMs)*time.Millisecond)
			}
			// Resign next, so another broker takes over at once.
			st.role.Close()
		}
		// The console is a client of this broker: it goes before the
		// server, so that its connections do not hold up the shutdown.
		if b.console != nil {
			b.console.Close()
		}
		if err := b.server.Shutdown(ctx); err != nil {
			b.log.Warn("connections did not finish before shutdown deadline", "err", err)
		}
		b.sec.Close()
		// The HTTP listener goes before the stores close, so that no
		// handler (metrics, console) reads a closed store.
		if b.http != nil {
			if err := b.http.Shutdown(ctx); err != nil {
				b.log.Warn("http requests did not finish before shutdown deadline", "err", err)
			}
		}
		b.txn.Close()
		if st := b.stores.Load(); st != nil && st.markers != nil {
			st.markers.close()
		}
		if err := b.groups.Close(); err != nil {
			b.closeErr = fmt.Errorf("close group coordinator: %w", err)
		}
		close(b.stopRetention)
		<-b.retentionDone
		if err := b.replicas.Close(); err != nil && b.closeErr == nil {
			b.closeErr = fmt.Errorf("close replica manager: %w", err)
		}
		if err := b.logs.Close(); err != nil && b.closeErr == nil {
			b.closeErr = fmt.Errorf("close log store: %w", err)
		}
		if err := b.ctrl.Close(); err != nil && b.closeErr == nil {
			b.closeErr = fmt.Errorf("close controller: %w", err)
		}
		b.guard.Close()
		b.closeExtraGuards()
		b.log.Info("samsa stopped")
	})
	return b.closeErr
}

// closeExtraGuards closes the disk guards of the further log dirs.
func (b *Broker) closeExtraGuards() {
	for _, g := range b.extraGuards {
		g.Close()
	}
	b.extraGuards = nil
}

// maxIdle turns connections.max.idle.ms into protocol.Config.MaxIdle:
// negative never closes (Kafka's Selector.NO_IDLE_TIMEOUT_MS), 0 closes a
// connection as soon as it is idle, which protocol needs as a positive
// duration, and more than a century is taken as never.
func maxIdle(ms int64) time.Duration {
	switch {
	case ms < 0:
		return 0
	case ms == 0:
		return time.Nanosecond
	case ms > 100*365*24*3600*1000:
		return 0 // more than a century: never, without deadline overflow
	}
	return time.Duration(ms) * time.Millisecond
}

// openZooKeeper connects a cluster-mode broker (zookeeper.connect set):
// its registration with every advertised listener, the metadata cache
// UpdateMetadata fills, and the controller role (started once the
// listeners serve). The inter-broker listener must be advertised, since
// the controller and the other brokers connect to it.
func openZooKeeper(cfg *config.Config, log *slog.Logger, stats *metrics.ControllerStats) (*controller.ZK, *zkcontroller.Controller, error) {
	protocols := map[string]string{}
	for _, pair := range strings.Split(cfg.Values["listener.security.protocol.map"], ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(pair), ":"); ok {
			protocols[strings.ToUpper(k)] = strings.ToUpper(v)
		}
	}
	var eps []zkdata.Endpoint
	inter := false
	for _, l := range cfg.AdvertisedListeners {
		proto := protocols[l.Name]
		if proto == "" {
			proto = l.Name // Kafka's default map names each protocol after itself
		}
		eps = append(eps, zkdata.Endpoint{Listener: l.Name, Host: l.Host, Port: l.Port, SecurityProtocol: proto})
		inter = inter || l.Name == cfg.InterBrokerListenerName
	}
	if !inter {
		return nil, nil, fmt.Errorf("inter.broker.listener.name %s is not among advertised.listeners; other brokers could not reach this one", cfg.InterBrokerListenerName)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ZookeeperConnectionTimeoutMs)*time.Millisecond+time.Duration(cfg.ZookeeperSessionTimeoutMs)*time.Millisecond)
	defer cancel()
	z, err := controller.OpenZK(ctx, controller.ZKConfig{
		Connect:           cfg.ZookeeperConnect,
		SessionTimeout:    time.Duration(cfg.ZookeeperSessionTimeoutMs) * time.Millisecond,
		ConnectionTimeout: time.Duration(cfg.ZookeeperConnectionTimeoutMs) * time.Millisecond,
		BrokerID:          cfg.BrokerID,
		Rack:              cfg.BrokerRack,
		Endpoints:         eps,
		Cache:             metadatacache.New(cfg.InterBrokerListenerName),
		Logger:            log,
		DeferRegistration: true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("open controller: %w", err)
	}
	role := zkcontroller.New(zkcontroller.Config{ZK: z, InterBrokerListener: cfg.InterBrokerListenerName,
		UncleanLeaderElection:              cfg.UncleanLeaderElectionEnable,
		AutoLeaderRebalance:                cfg.AutoLeaderRebalanceEnable,
		LeaderImbalanceCheckInterval:       time.Duration(cfg.LeaderImbalanceCheckIntervalSeconds) * time.Second,
		LeaderImbalancePerBrokerPercentage: int(cfg.LeaderImbalancePerBrokerPercentage),
		Logger:                             log,
		Stats:                              stats})
	z.BlockSource = role.ProducerIDBlock
	return z, role, nil
}

// authorizerClasses are the authorizer.class.name values that turn on
// Samsa's authorizer, which follows Kafka's StandardAuthorizer (KRaft)
// and AclAuthorizer (ZooKeeper mode): both decide the same way.
var authorizerClasses = map[string]bool{
	"org.apache.kafka.metadata.authorizer.StandardAuthorizer": true,
	"kafka.security.authorizer.AclAuthorizer":                 true,
}

// authorizerConfig reads authorizer.class.name, super.users and
// allow.everyone.if.no.acl.found; nil when no authorizer is configured.
func authorizerConfig(cfg *config.Config) (*acl.Config, error) {
	class := strings.TrimSpace(cfg.Values["authorizer.class.name"])
	if class == "" {
		return nil, nil
	}
	if !authorizerClasses[class] {
		return nil, &config.ValueError{Key: "authorizer.class.name", Value: class,
			Reason: "Samsa implements org.apache.kafka.metadata.authorizer.StandardAuthorizer (and kafka.security.authorizer.AclAuthorizer, which decides the same way)"}
	}
	c := &acl.Config{SuperUsers: cfg.Values["super.users"]}
	if v, ok := cfg.Values["allow.everyone.if.no.acl.found"]; ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			c.AllowEveryoneIfNoACLFound = true
		case "false":
		default:
			return nil, &config.ValueError{Key: "allow.everyone.if.no.acl.found", Value: v, Reason: "must be true or false"}
		}
	}
	return c, nil
}

// protectedListener is the listener max.connections does not hold back
// (its connections still count): Kafka's inter-broker listener, when
// there is more than one listener (ConnectionQuotas.protectedListener).
func protectedListener(cfg *config.Config) string {
	if len(cfg.Listeners) > 1 {
		return cfg.InterBrokerListenerName
	}
	return ""
}

// replicaSelector maps replica.selector.class, already checked by the
// config package, to the replica manager's selector.
func replicaSelector(class string) replica.ReplicaSelector {
	sel, err := replica.ParseReplicaSelector(class)
	if err != nil {
		return replica.SelectorNone
	}
	return sel
}

// applyReplicationThrottles sets the replica manager's replication quotas
// (KIP-73) from ZooKeeper's dynamic configs: the rates from
// /config/brokers/<id>, else /config/brokers/<default> (unlimited when
// neither sets them), the throttled partitions from every topic's
// leader/follower.replication.throttled.replicas; and the throttle of
// moves between log dirs from replica.alter.log.dirs.io.max.bytes.per.second
// (Kafka's ConfigHandler updating quotaManagers.alterLogDirs).
func applyReplicationThrottles(z *controller.ZK, m *replica.Manager, moves *replica.ReplicationQuota, id int32, log *slog.Logger) {
	own, def := z.BrokerConfigs(strconv.Itoa(int(id))), z.BrokerConfigs(controller.BrokerDefaultEntity)
	rate := func(k string) int64 {
		v, ok := own[k]
		if !ok {
			v, ok = def[k]
		}
		if !ok {
			return -1
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			log.Warn("ignoring bad replication throttle", "config", k, "value", v)
			return -1
		}
		return n
	}
	m.LeaderQuota().SetLimit(rate("leader.replication.throttled.rate"))
	m.FollowerQuota().SetLimit(rate("follower.replication.throttled.rate"))
	moves.SetLimit(rate("replica.alter.log.dirs.io.max.bytes.per.second"))
	topics := z.TopicConfigsAll()
	for t, c := range topics {
		if err := m.LeaderQuota().SetThrottled(t, c["leader.replication.throttled.replicas"]); err != nil {
			log.Warn("ignoring bad throttled replica list", "topic", t, "err", err)
		}
		if err := m.FollowerQuota().SetThrottled(t, c["follower.replication.throttled.replicas"]); err != nil {
			log.Warn("ignoring bad throttled replica list", "topic", t, "err", err)
		}
	}
	keep := func(t string) bool { _, ok := topics[t]; return ok }
	m.LeaderQuota().RetainTopics(keep)
	m.FollowerQuota().RetainTopics(keep)
}
