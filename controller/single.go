package controller

import (
	"samsa/quota"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"samsa/internal/pebblelog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"

	"samsa/internal/diskguard"
	"samsa/internal/pebbledb"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Pebble keys; doc.go describes the layout.
const (
	keySchemaVersion = "meta/schema_version"
	keyBrokerID      = "meta/broker_id"
	keyClusterID     = "cluster/id"
	topicKeyPrefix   = "topic/"

	// schemaVersion is bumped whenever the meaning of a key or value
	// changes, so that an older binary refuses a newer store instead of
	// misreading it.
	schemaVersion = "1"
)

// maxRecordsPerOp mirrors Kafka's QuorumController.MAX_RECORDS_PER_USER_OP:
// one request may not create more than this many metadata records (a topic
// record, one per config and one per partition). Besides matching Kafka,
// it keeps a single request from making the broker allocate billions of
// partitions.
const maxRecordsPerOp = 10000

// maxTopicNameLength is Kafka's Topic.MAX_NAME_LENGTH; the limit comes from
// file-system name lengths (the partition directory is "<topic>-<n>").
const maxTopicNameLength = 249

var errClosed = errors.New("controller: closed")

// SingleConfig configures a single-node controller.
type SingleConfig struct {
	// Dir holds the Pebble metadata database. It is created if missing.
	// The broker passes <first log dir>/.samsa-meta so that the metadata
	// lives and dies with the data it describes.
	Dir string
	// BrokerID is this broker's id. It is stored on first open and must
	// stay the same afterwards, because every partition's replica list
	// names it (Kafka refuses a changed broker.id the same way).
	BrokerID int32
	// Host and Port are the endpoint clients are told to connect to.
	Host string
	Port int32
	// Rack is reported in metadata for rack-aware clients; nil for none.
	Rack *string
	// Logger receives the controller's and Pebble's messages; nil means
	// slog.Default().
	Logger *slog.Logger
	// FS is Pebble's file system (nil: the OS); tests inject faults with
	// Pebble's vfs/errorfs.
	FS vfs.FS
	// Guard is the log dir's disk-full state: while it is full, every
	// mutation fails with KAFKA_STORAGE_ERROR before touching Pebble. Nil
	// means no guard.
	Guard *diskguard.Guard
}

// Single is the Controller of a one-broker cluster. It keeps all metadata
// in memory and writes every change through to a local Pebble database
// before making it visible, so a restart recovers exactly what clients were
// told. See the package documentation for the locking rules.
type Single struct {
	db        *pebbledb.DB
	log       *slog.Logger
	clusterID string
	brokers   []Broker // sorted by id; fixed after open

	// writeSem is a one-slot semaphore rather than a sync.Mutex so that a
	// mutation waiting behind a slow fsync can give up when its context
	// ends. Its holder is the only goroutine that changes state, so it may
	// read the maps below without mu. It also guards closed and collide.
	writeSem chan struct{}
	closed   bool
	// collide maps a name containing '.' or '_', with '.' replaced by
	// '_', to that topic's name (Kafka's topicsWithCollisionChars).
	collide map[string]string
	// nextProducerID is the first producer id never handed out.
	nextProducerID int64

	// mu guards byName, byID, names and quotas. The *Topic values and
	// quota value maps are never modified once stored (a change stores
	// a new value), so readers only need mu long enough to copy them.
	mu     sync.RWMutex
	byName map[string]*Topic
	byID   map[TopicID]*Topic
	names  []string // sorted, for Topics
	// quotas are the client quotas (quotas.go).
	quotas map[quota.Entity]map[string]float64

	// scram holds the SCRAM credentials (scram.go), under its own lock.
	scram scramState
	// acls holds the ACLs (acls.go), under its own lock.
	acls aclState
}

var _ Controller = (*Single)(nil)

// OpenSingle opens or creates the metadata database in cfg.Dir and loads it
// into memory. It fails rather than guess when the store is from a newer
// schema, belongs to another broker id, or is damaged.
func OpenSingle(cfg SingleConfig) (*Single, error) {
	if cfg.Dir == "" {
		return nil, errors.New("controller: SingleConfig.Dir is empty")
	}
	if cfg.BrokerID < 0 {
		return nil, fmt.Errorf("controller: invalid broker id %d", cfg.BrokerID)
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("controller: invalid port %d", cfg.Port)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	var rack *string
	if cfg.Rack != nil {
		r := *cfg.Rack
		rack = &r
	}
	s := &Single{
		log:      log,
		brokers:  []Broker{{ID: cfg.BrokerID, Host: cfg.Host, Port: cfg.Port, Rack: rack}},
		writeSem: make(chan struct{}, 1),
		collide:  make(map[string]string),
		byName:   make(map[string]*Topic),
		byID:     make(map[TopicID]*Topic),
		quotas:   make(map[quota.Entity]map[string]float64),
	}
	fs := cfg.Guard.WrapPebble(cfg.FS)
	db, err := pebbledb.Open(pebbledb.Options{
		Dir:    cfg.Dir,
		Name:   "metadata",
		Guard:  cfg.Guard,
		Logger: log,
		Pebble: func() *pebble.Options {
			return &pebble.Options{FS: fs, Logger: pebblelog.NewDB(log, "metadata")}
		},
		OnReopen: s.reconcile,
	})
	if err != nil {
		return nil, fmt.Errorf("controller: open %s: %w", cfg.Dir, err)
	}
	s.db = db
	if err := s.load(cfg.BrokerID); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("controller: %s: %w", cfg.Dir, err)
	}
	log.Info("controller: metadata loaded", "dir", cfg.Dir, "cluster_id", s.clusterID,
		"broker_id", cfg.BrokerID, "topics", len(s.names))
	return s, nil
}

// load reads every key into memory, initializing an empty store.
func (s *Single) load(brokerID int32) error {
	iter, err := s.db.Pebble().NewIter(nil)
	if err != nil {
		return err
	}
	var (
		meta   = make(map[string]string)
		topics []*Topic
		nkeys  int
	)
	for iter.First(); iter.Valid(); iter.Next() {
		nkeys++
		key := string(iter.Key())
		val, err := iter.ValueAndErr()
		if err != nil {
			_ = iter.Close()
			return fmt.Errorf("read %q: %w", key, err)
		}
		switch {
		case key == keySchemaVersion, key == keyBrokerID, key == keyClusterID, key == keyNextProducerID:
			meta[key] = string(val)
		case strings.HasPrefix(key, topicKeyPrefix):
			t, err := decodeTopic(strings.TrimPrefix(key, topicKeyPrefix), val)
			if err != nil {
				_ = iter.Close()
				return fmt.Errorf("key %q: %w", key, err)
			}
			topics = append(topics, t)
		case strings.HasPrefix(key, quotaKeyPrefix):
			e, err := decodeQuota(key, val)
			if err != nil {
				_ = iter.Close()
				return fmt.Errorf("key %q: %w", key, err)
			}
			s.quotas[e.Entity] = e.Values
		case strings.HasPrefix(key, aclKeyPrefix):
			if err := s.loadACL(key, val); err != nil {
				_ = iter.Close()
				return fmt.Errorf("key %q: %w", key, err)
			}
		case strings.HasPrefix(key, scramKeyPrefix):
			if err := s.loadScram(key, val); err != nil {
				_ = iter.Close()
				return fmt.Errorf("key %q: %w", key, err)
			}
		default:
			_ = iter.Close()
			return fmt.Errorf("unexpected key %q", key)
		}
	}
	if err := iter.Close(); err != nil {
		return err
	}

	if nkeys == 0 {
		return s.initialize(brokerID)
	}
	switch v, ok := meta[keySchemaVersion]; {
	case !ok:
		return fmt.Errorf("no %q key: not a samsa metadata store", keySchemaVersion)
	case v != schemaVersion:
		return fmt.Errorf("metadata schema version %q is not supported (want %q)", v, schemaVersion)
	}
	id, ok := meta[keyClusterID]
	if !ok {
		return fmt.Errorf("no %q key", keyClusterID)
	}
	if _, err := parseTopicID(id); err != nil {
		return fmt.Errorf("cluster id: %w", err)
	}
	s.clusterID = id
	if v, ok := meta[keyNextProducerID]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%q: bad value %q", keyNextProducerID, v)
		}
		s.nextProducerID = n
	}
	stored, ok := meta[keyBrokerID]
	if !ok {
		return fmt.Errorf("no %q key", keyBrokerID)
	}
	if stored != strconv.Itoa(int(brokerID)) {
		return fmt.Errorf("configured broker id %d does not match broker id %s stored in the metadata", brokerID, stored)
	}

	for _, t := range topics {
		if other, ok := s.byID[t.ID]; ok {
			return fmt.Errorf("topics %q and %q share id %s", other.Name, t.Name, t.ID)
		}
		s.publish(t)
	}
	return nil
}

// initialize writes the identity of a new store in one synced batch, so a
// crash leaves either an empty store or a complete one.
func (s *Single) initialize(brokerID int32) error {
	s.clusterID = randomUUID(nil).String()
	err := s.db.Write(func(db *pebble.DB) error {
		b := db.NewBatch()
		defer b.Close()
		for _, kv := range [][2]string{
			{keySchemaVersion, schemaVersion},
			{keyClusterID, s.clusterID},
			{keyBrokerID, strconv.Itoa(int(brokerID))},
		} {
			if err := b.Set([]byte(kv[0]), []byte(kv[1]), nil); err != nil {
				return err
			}
		}
		return b.Commit(pebble.Sync)
	})
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	s.log.Info("controller: initialized new metadata store", "cluster_id", s.clusterID)
	return nil
}

// ClusterID returns the id generated when the store was created.
func (s *Single) ClusterID() string { return s.clusterID }

// ControllerID is this broker: a single node always controls itself.
func (s *Single) ControllerID() int32 { return s.brokers[0].ID }

// Brokers returns this broker only.
func (s *Single) Brokers() []Broker {
	out := make([]Broker, len(s.brokers))
	for i, b := range s.brokers {
		out[i] = b
		if b.Rack != nil {
			r := *b.Rack
			out[i].Rack = &r
		}
	}
	return out
}

// Topic returns a deep copy of the named topic.
func (s *Single) Topic(name string) (Topic, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.byName[name]
	if !ok {
		return Topic{}, false
	}
	return cloneTopic(t), true
}

// TopicByID returns a deep copy of the topic with the given id. The zero id
// never matches.
func (s *Single) TopicByID(id TopicID) (Topic, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.byID[id]
	if !ok {
		return Topic{}, false
	}
	return cloneTopic(t), true
}

// Topics returns deep copies of all topics sorted by name.
func (s *Single) Topics() []Topic {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Topic, len(s.names))
	for i, name := range s.names {
		out[i] = cloneTopic(s.byName[name])
	}
	return out
}

// CreateTopic validates req the way Kafka 4's controller does and, unless
// req.ValidateOnly, stores the new topic durably before returning it.
//
// Besides the errors listed on Controller, it returns
// kerr.PolicyViolation when the topic would need more than Kafka's
// per-request metadata record limit (10000, counting the topic, its
// configs and its partitions).
//
// A ValidateOnly result has the zero ID: no id is assigned to a topic that
// is not created. (Kafka returns a throwaway random id there.)
func (s *Single) CreateTopic(ctx context.Context, req CreateTopic) (Topic, error) {
	if err := s.lockWrite(ctx); err != nil {
		return Topic{}, err
	}
	defer s.unlockWrite()

	t, err := s.planTopic(req)
	if err != nil {
		return Topic{}, err
	}
	if req.ValidateOnly {
		return cloneTopic(t), nil
	}
	t.ID = randomUUID(func(id TopicID) bool { return s.byID[id] != nil })
	if err := s.put(t); err != nil {
		return Topic{}, err
	}
	s.publish(t)
	s.log.Info("controller: created topic", "topic", t.Name, "topic_id", t.ID.String(),
		"partitions", len(t.Partitions), "replication_factor", len(t.Partitions[0].Replicas))
	return cloneTopic(t), nil
}

// planTopic validates req and builds the topic it describes, without an id.
// Checks run in Kafka's order so that a request with several problems gets
// the error Kafka would give.
func (s *Single) planTopic(req CreateTopic) (*Topic, error) {
	if err := validateTopicName(req.Name); err != nil {
		return nil, err
	}
	if _, ok := s.byName[req.Name]; ok {
		return nil, fmt.Errorf("Topic '%s' already exists: %w", req.Name, kerr.TopicAlreadyExists)
	}
	if other, ok := s.collide[collisionKey(req.Name)]; ok && hasCollisionChars(req.Name) {
		return nil, fmt.Errorf("Topic '%s' collides with existing topic: %s: %w",
			req.Name, other, kerr.InvalidTopicException)
	}

	var replicas [][]int32
	if len(req.Assignments) > 0 {
		rf := 0
		for _, r := range req.Assignments {
			if err := s.validateAssignment(r, rf); err != nil {
				return nil, err
			}
			rf = len(r)
		}
		if err := checkRecordCount(1 + len(req.Configs) + len(req.Assignments)); err != nil {
			return nil, err
		}
		replicas = req.Assignments
	} else {
		if req.ReplicationFactor < 1 {
			return nil, fmt.Errorf("Replication factor must be larger than 0: %w", kerr.InvalidReplicationFactor)
		}
		if req.NumPartitions < 1 {
			return nil, fmt.Errorf("Number of partitions was set to an invalid non-positive value: %w",
				kerr.InvalidPartitions)
		}
		if err := s.checkReplicationFactor(int(req.ReplicationFactor)); err != nil {
			return nil, err
		}
		if err := checkRecordCount(1 + len(req.Configs) + int(req.NumPartitions)); err != nil {
			return nil, err
		}
		replicas = s.placeReplicas(0, int(req.NumPartitions), int(req.ReplicationFactor))
	}

	t := &Topic{
		Name:       req.Name,
		Internal:   isInternalTopic(req.Name),
		Partitions: make([]Partition, len(replicas)),
		Configs:    cloneConfigs(req.Configs),
	}
	for i, r := range replicas {
		t.Partitions[i] = newPartition(int32(i), r)
	}
	return t, nil
}

// DeleteTopic removes the topic's metadata durably and returns what it was.
// Removing the partitions' data is the caller's business.
func (s *Single) DeleteTopic(ctx context.Context, name string) (Topic, error) {
	if err := s.lockWrite(ctx); err != nil {
		return Topic{}, err
	}
	defer s.unlockWrite()

	t, ok := s.byName[name]
	if !ok {
		return Topic{}, unknownTopic(name)
	}
	// Allowed on a full disk: it frees space, and undoes a CreateTopic
	// whose logs could not be created.
	err := s.db.WriteFreeing(func(db *pebble.DB) error { return db.Delete(topicKey(name), pebble.Sync) })
	if err != nil {
		return Topic{}, fmt.Errorf("controller: delete topic %q: %w", name, err)
	}
	s.unpublish(t)
	s.log.Info("controller: deleted topic", "topic", name, "topic_id", t.ID.String())
	return cloneTopic(t), nil
}

// CreatePartitions grows a topic the way Kafka 4's controller does: new
// partitions keep the replication factor of the existing ones, and
// explicit assignments must match it. It also returns kerr.PolicyViolation
// when more than 10000 partitions would be added at once (see CreateTopic).
func (s *Single) CreatePartitions(ctx context.Context, name string, total int32, assignments [][]int32, validateOnly bool) (Topic, error) {
	if err := s.lockWrite(ctx); err != nil {
		return Topic{}, err
	}
	defer s.unlockWrite()

	cur, ok := s.byName[name]
	if !ok {
		return Topic{}, unknownTopic(name)
	}
	have := len(cur.Partitions)
	switch {
	case int(total) == have:
		return Topic{}, fmt.Errorf("Topic already has %d partition(s): %w", have, kerr.InvalidPartitions)
	case int(total) < have:
		return Topic{}, fmt.Errorf("The topic %s currently has %d partition(s); %d would not be an increase: %w",
			name, have, total, kerr.InvalidPartitions)
	}
	add := int(total) - have
	if assignments != nil && len(assignments) != add {
		return Topic{}, fmt.Errorf("Attempted to add %d additional partition(s), but only %d assignment(s) were specified: %w",
			add, len(assignments), kerr.InvalidReplicaAssignment)
	}
	rf := len(cur.Partitions[0].Replicas)
	if assignments != nil {
		for _, r := range assignments {
			if err := s.validateAssignment(r, rf); err != nil {
				return Topic{}, err
			}
		}
	} else if err := s.checkReplicationFactor(rf); err != nil {
		return Topic{}, err
	}
	if err := checkRecordCount(add); err != nil {
		return Topic{}, err
	}
	if assignments == nil {
		assignments = s.placeReplicas(have, add, rf)
	}

	c := cloneTopic(cur)
	t := &c
	for i, r := range assignments {
		t.Partitions = append(t.Partitions, newPartition(int32(have+i), r))
	}
	if validateOnly {
		return cloneTopic(t), nil
	}
	if err := s.put(t); err != nil {
		return Topic{}, err
	}
	s.publish(t)
	s.log.Info("controller: created partitions", "topic", name, "from", have, "to", total)
	return cloneTopic(t), nil
}

// SetTopicConfigs durably replaces the topic's overrides with a copy of
// configs; nil or empty removes them all. Config names and values are not
// checked here: only the caller knows the broker's config schema.
func (s *Single) SetTopicConfigs(ctx context.Context, name string, configs map[string]string) error {
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.unlockWrite()

	cur, ok := s.byName[name]
	if !ok {
		return unknownTopic(name)
	}
	c := cloneTopic(cur)
	t := &c
	t.Configs = cloneConfigs(configs)
	if err := s.put(t); err != nil {
		return err
	}
	s.publish(t)
	s.log.Info("controller: set topic configs", "topic", name, "overrides", len(t.Configs))
	return nil
}

// Close waits for a mutation in progress, then closes Pebble. Later
// mutations fail; reads keep answering from memory. Closing twice is
// harmless.
func (s *Single) Close() error {
	s.writeSem <- struct{}{}
	defer s.unlockWrite()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

// lockWrite takes writeSem, giving up if ctx ends first, and refuses once
// the controller is closed.
func (s *Single) lockWrite(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.writeSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.closed {
		s.unlockWrite()
		return errClosed
	}
	return nil
}

func (s *Single) unlockWrite() { <-s.writeSem }

// put writes t through to Pebble with a synced write. Caller holds writeSem.
func (s *Single) put(t *Topic) error {
	val, err := encodeTopic(t)
	if err != nil {
		return fmt.Errorf("controller: encode topic %q: %w", t.Name, err)
	}
	err = s.db.Write(func(db *pebble.DB) error { return db.Set(topicKey(t.Name), val, pebble.Sync) })
	if err != nil {
		return fmt.Errorf("controller: write topic %q: %w", t.Name, err)
	}
	return nil
}

// reconcile makes a reopened store (after a failed write, see pebbledb)
// say what memory says: a write that failed may still have reached the
// WAL, and clients were told it did not happen. Runs while every mutation
// is refused, so memory does not change meanwhile.
func (s *Single) reconcile(db *pebble.DB) error {
	s.mu.RLock()
	want := make(map[string][]byte, len(s.byName))
	var err error
	for name, t := range s.byName {
		if want[name], err = encodeTopic(t); err != nil {
			break
		}
	}
	next := s.nextProducerID
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	b := db.NewBatch()
	defer b.Close()
	hi := []byte(topicKeyPrefix)
	hi[len(hi)-1]++ // "topic0": just past every "topic/..." key
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(topicKeyPrefix), UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if _, ok := want[strings.TrimPrefix(string(it.Key()), topicKeyPrefix)]; !ok {
			_ = b.Delete(append([]byte(nil), it.Key()...), nil)
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	for name, val := range want {
		_ = b.Set(topicKey(name), val, nil)
	}
	if next > 0 {
		_ = b.Set([]byte(keyNextProducerID), []byte(strconv.FormatInt(next, 10)), nil)
	}
	if err := s.reconcileScram(db, b); err != nil {
		return err
	}
	if err := s.reconcileACLs(db, b); err != nil {
		return err
	}
	if err := s.reconcileQuotas(db, b); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

// publish makes t (new or replacing the topic of the same name and id)
// visible to readers. Caller holds writeSem, or is load.
func (s *Single) publish(t *Topic) {
	if hasCollisionChars(t.Name) {
		if _, ok := s.collide[collisionKey(t.Name)]; !ok {
			s.collide[collisionKey(t.Name)] = t.Name
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[t.Name]; !ok {
		i, _ := slices.BinarySearch(s.names, t.Name)
		s.names = slices.Insert(s.names, i, t.Name)
	}
	s.byName[t.Name] = t
	s.byID[t.ID] = t
}

// unpublish removes t from what readers see. Caller holds writeSem.
func (s *Single) unpublish(t *Topic) {
	if s.collide[collisionKey(t.Name)] == t.Name {
		delete(s.collide, collisionKey(t.Name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byName, t.Name)
	delete(s.byID, t.ID)
	if i, ok := slices.BinarySearch(s.names, t.Name); ok {
		s.names = slices.Delete(s.names, i, i+1)
	}
}

// validateAssignment checks one partition's manual replica list as Kafka's
// validateManualPartitionAssignment does; rf > 0 is the length every list
// must have.
func (s *Single) validateAssignment(replicas []int32, rf int) error {
	if len(replicas) == 0 {
		return fmt.Errorf("The manual partition assignment includes an empty replica list: %w",
			kerr.InvalidReplicaAssignment)
	}
	sorted := slices.Clone(replicas)
	slices.Sort(sorted)
	for i, id := range sorted {
		if !s.isBroker(id) {
			return fmt.Errorf("The manual partition assignment includes broker %d, but no such broker is registered: %w",
				id, kerr.InvalidReplicaAssignment)
		}
		if i > 0 && sorted[i-1] == id {
			return fmt.Errorf("The manual partition assignment includes the broker %d more than once: %w",
				id, kerr.InvalidReplicaAssignment)
		}
	}
	if rf > 0 && len(replicas) != rf {
		return fmt.Errorf("The manual partition assignment includes a partition with %d replica(s), "+
			"but this is not consistent with previous partitions, which have %d replica(s): %w",
			len(replicas), rf, kerr.InvalidReplicaAssignment)
	}
	return nil
}

func (s *Single) isBroker(id int32) bool {
	for _, b := range s.brokers {
		if b.ID == id {
			return true
		}
	}
	return false
}

// checkReplicationFactor rejects a factor the registered brokers cannot
// satisfy, with the message of Kafka's replica placer.
func (s *Single) checkReplicationFactor(rf int) error {
	if rf > len(s.brokers) {
		return fmt.Errorf("Unable to replicate the partition %d time(s): The target replication factor of %d "+
			"cannot be reached because only %d broker(s) are registered: %w",
			rf, rf, len(s.brokers), kerr.InvalidReplicationFactor)
	}
	return nil
}

// placeReplicas assigns partitions first..first+count-1 round-robin over
// the brokers, so leadership spreads evenly. rf <= len(s.brokers).
func (s *Single) placeReplicas(first, count, rf int) [][]int32 {
	out := make([][]int32, count)
	for i := range out {
		r := make([]int32, rf)
		for j := range r {
			r[j] = s.brokers[(first+i+j)%len(s.brokers)].ID
		}
		out[i] = r
	}
	return out
}

func checkRecordCount(n int) error {
	if n > maxRecordsPerOp {
		return fmt.Errorf("Unable to perform excessively large batch operation: %w", kerr.PolicyViolation)
	}
	return nil
}

// newPartition is a fresh partition as Kafka creates it: every replica in
// sync, the first one leading, both epochs zero.
func newPartition(index int32, replicas []int32) Partition {
	return Partition{
		Index:           index,
		Leader:          replicas[0],
		Replicas:        slices.Clone(replicas),
		ISR:             slices.Clone(replicas),
		OfflineReplicas: []int32{},
	}
}

func unknownTopic(name string) error {
	return fmt.Errorf("topic '%s': %w", name, kerr.UnknownTopicOrPartition)
}

// validateTopicName applies Kafka's Topic.validate, with its messages.
func validateTopicName(name string) error {
	var reason string
	switch {
	case name == "":
		reason = "the empty string is not allowed"
	case name == ".":
		reason = "'.' is not allowed"
	case name == "..":
		reason = "'..' is not allowed"
	case javaLength(name) > maxTopicNameLength:
		reason = fmt.Sprintf("the length of '%s' is longer than the max allowed length %d", name, maxTopicNameLength)
	case strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}):
		reason = fmt.Sprintf("'%s' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'", name)
	default:
		return nil
	}
	return fmt.Errorf("Topic name is invalid: %s: %w", reason, kerr.InvalidTopicException)
}

// javaLength is String.length() in Java (UTF-16 code units), which is what
// Kafka's length limit counts; it only decides which message an already
// invalid non-ASCII name gets.
func javaLength(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// hasCollisionChars and collisionKey are Kafka's Topic.hasCollisionChars
// and unifyCollisionChars: metric names replace '.' with '_', so Kafka
// refuses a topic whose name differs from an existing one only there.
func hasCollisionChars(name string) bool { return strings.ContainsAny(name, "._") }

func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// isInternalTopic reports the topics Kafka's Topic.isInternal marks
// internal: clients hide them and refuse to produce to them directly.
func isInternalTopic(name string) bool { return IsInternalTopic(name) }

// IsInternalTopic is Kafka's Topic.isInternal (Kafka 4.x: the group,
// transaction and share-group state topics). Produce answers
// INVALID_TOPIC_EXCEPTION for these names whether or not the topic
// exists yet, as Kafka 4.3.1 does.
func IsInternalTopic(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state" || name == "__share_group_state"
}

func topicKey(name string) []byte { return []byte(topicKeyPrefix + name) }

// topicRecord is the stored form of a Topic. It has its own JSON names so
// that renaming a Go field never changes the format on disk. Internal is
// not stored: it follows from the name.
type topicRecord struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	Partitions []partitionRecord `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

type partitionRecord struct {
	Index           int32   `json:"index"`
	Leader          int32   `json:"leader"`
	LeaderEpoch     int32   `json:"leader_epoch"`
	PartitionEpoch  int32   `json:"partition_epoch"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	OfflineReplicas []int32 `json:"offline_replicas,omitempty"`
}

func encodeTopic(t *Topic) ([]byte, error) {
	rec := topicRecord{
		Name:       t.Name,
		ID:         t.ID.String(),
		Partitions: make([]partitionRecord, len(t.Partitions)),
		Configs:    t.Configs,
	}
	for i, p := range t.Partitions {
		rec.Partitions[i] = partitionRecord{
			Index:           p.Index,
			Leader:          p.Leader,
			LeaderEpoch:     p.LeaderEpoch,
			PartitionEpoch:  p.PartitionEpoch,
			Replicas:        p.Replicas,
			ISR:             p.ISR,
			OfflineReplicas: p.OfflineReplicas,
		}
	}
	return json.Marshal(rec)
}

// decodeTopic parses and checks a stored topic; name is the one in its key.
func decodeTopic(name string, val []byte) (*Topic, error) {
	var rec topicRecord
	if err := json.Unmarshal(val, &rec); err != nil {
		return nil, err
	}
	if rec.Name != name {
		return nil, fmt.Errorf("record names topic %q", rec.Name)
	}
	if err := validateTopicName(name); err != nil {
		return nil, err
	}
	id, err := parseTopicID(rec.ID)
	if err != nil {
		return nil, err
	}
	if id == (TopicID{}) {
		return nil, errors.New("zero topic id")
	}
	if len(rec.Partitions) == 0 {
		return nil, errors.New("no partitions")
	}
	t := &Topic{
		Name:       name,
		ID:         id,
		Internal:   isInternalTopic(name),
		Partitions: make([]Partition, len(rec.Partitions)),
		Configs:    cloneConfigs(rec.Configs),
	}
	for i, p := range rec.Partitions {
		if int(p.Index) != i {
			return nil, fmt.Errorf("partition %d stored at position %d", p.Index, i)
		}
		if len(p.Replicas) == 0 {
			return nil, fmt.Errorf("partition %d has no replicas", i)
		}
		t.Partitions[i] = clonePartition(Partition{
			Index:           p.Index,
			Leader:          p.Leader,
			LeaderEpoch:     p.LeaderEpoch,
			PartitionEpoch:  p.PartitionEpoch,
			Replicas:        p.Replicas,
			ISR:             p.ISR,
			OfflineReplicas: p.OfflineReplicas,
		})
	}
	return t, nil
}

// cloneTopic deep-copies t. Slices and maps in the copy are never nil, so
// callers can append or assign without checks.
func cloneTopic(t *Topic) Topic {
	c := *t
	c.Partitions = make([]Partition, len(t.Partitions))
	for i, p := range t.Partitions {
		c.Partitions[i] = clonePartition(p)
	}
	c.Configs = cloneConfigs(t.Configs)
	return c
}

func clonePartition(p Partition) Partition {
	p.Replicas = cloneInt32s(p.Replicas)
	p.ISR = cloneInt32s(p.ISR)
	p.OfflineReplicas = cloneInt32s(p.OfflineReplicas)
	return p
}

func cloneInt32s(s []int32) []int32 {
	out := make([]int32, len(s))
	copy(out, s)
	return out
}

func cloneConfigs(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
