// Package metadatacache is a broker's view of the cluster in ZooKeeper
// mode: what the controller last told it with UpdateMetadata (key 6), as
// Kafka 3.9's ZkMetadataCache keeps it. Metadata, FindCoordinator and
// DescribeCluster answer from it; the replica fetchers find the leaders'
// inter-broker addresses in it (BrokerAddr) and the broker finds the
// controller to send AlterPartition and AllocateProducerIds to
// (ControllerID).
//
// # Updates
//
// Apply takes an UpdateMetadata request as ZkMetadataCache.updateMetadata
// does: the live broker list is replaced whole; each partition state
// replaces the cached one, and a state whose leader is -2
// (LeaderAndIsr.LeaderDuringDelete) removes the partition, and its topic
// once it has none left. A request from an older controller epoch than
// the newest seen is refused with STALE_CONTROLLER_EPOCH, so a deposed
// controller cannot roll the cache back.
//
// # Locking
//
// mu guards every field below it. Apply holds it exclusively; readers
// hold it shared and return copies, so callers may keep what they get.
// Nothing is persisted: a restarted broker starts empty and the
// controller sends it the full state when it registers.
package metadatacache

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaderDuringDelete is Kafka's LeaderAndIsr.LeaderDuringDelete: in
// UpdateMetadata it marks a partition of a topic being deleted.
const LeaderDuringDelete int32 = -2

// Endpoint is one listener of a broker.
type Endpoint struct {
	Listener         string
	Host             string
	Port             int32
	SecurityProtocol int16 // Kafka's SecurityProtocol.id
}

// Broker is a live broker.
type Broker struct {
	ID        int32
	Rack      *string
	Endpoints []Endpoint
}

// Endpoint returns the broker's endpoint on the named listener.
func (b Broker) Endpoint(listener string) (Endpoint, bool) {
	for _, e := range b.Endpoints {
		if e.Listener == listener {
			return e, true
		}
	}
	return Endpoint{}, false
}

// Partition is a partition's state as the controller last sent it.
type Partition struct {
	Index           int32
	ControllerEpoch int32
	Leader          int32 // -1: no leader
	LeaderEpoch     int32
	ISR             []int32
	// PartitionEpoch is the state znode's version (UpdateMetadata's
	// ZkVersion field).
	PartitionEpoch  int32
	Replicas        []int32
	OfflineReplicas []int32
}

// Topic is a topic with the partitions the cache knows, by index.
type Topic struct {
	Name       string
	ID         [16]byte
	Partitions map[int32]Partition
}

// Cache is the metadata cache. The zero value is not usable; use New.
type Cache struct {
	mu              sync.RWMutex
	controllerID    int32
	controllerEpoch int32
	brokers         map[int32]Broker
	topics          map[string]*Topic
	byID            map[[16]byte]string // topic id -> name
	// interBroker is the listener name other brokers are reached on
	// (inter.broker.listener.name); fixed at New.
	interBroker string
}

// New returns an empty cache. interBrokerListener names the listener
// BrokerAddr returns (Kafka's inter.broker.listener.name).
func New(interBrokerListener string) *Cache {
	return &Cache{controllerID: -1, controllerEpoch: -1, brokers: map[int32]Broker{},
		topics: map[string]*Topic{}, byID: map[[16]byte]string{}, interBroker: interBrokerListener}
}

// Apply applies an UpdateMetadata request (any version kmsg decodes).
// It returns kerr.StaleControllerEpoch, changing nothing, when the
// request's controller epoch is older than the newest applied.
func (c *Cache) Apply(req *kmsg.UpdateMetadataRequest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.ControllerEpoch < c.controllerEpoch {
		return fmt.Errorf("UpdateMetadata from controller %d with epoch %d, newest seen %d: %w",
			req.ControllerID, req.ControllerEpoch, c.controllerEpoch, kerr.StaleControllerEpoch)
	}
	c.controllerEpoch = req.ControllerEpoch
	c.controllerID = req.ControllerID
	brokers := make(map[int32]Broker, len(req.LiveBrokers))
	for _, lb := range req.LiveBrokers {
		b := Broker{ID: lb.ID}
		if lb.Rack != nil {
			r := *lb.Rack
			b.Rack = &r
		}
		if req.Version == 0 {
			b.Endpoints = []Endpoint{{Listener: "PLAINTEXT", Host: lb.Host, Port: lb.Port}}
		}
		for _, e := range lb.Endpoints {
			name := e.ListenerName
			if req.Version < 3 {
				name = securityProtocolName(e.SecurityProtocol)
			}
			b.Endpoints = append(b.Endpoints, Endpoint{Listener: name, Host: e.Host, Port: e.Port, SecurityProtocol: e.SecurityProtocol})
		}
		brokers[lb.ID] = b
	}
	c.brokers = brokers
	apply := func(topic string, id [16]byte, ps []kmsg.UpdateMetadataRequestTopicPartition) {
		for _, p := range ps {
			name := topic
			if req.Version <= 4 {
				name = p.Topic
			}
			t := c.topics[name]
			if p.Leader == LeaderDuringDelete {
				if t != nil {
					delete(t.Partitions, p.Partition)
					if len(t.Partitions) == 0 {
						delete(c.topics, name)
						delete(c.byID, t.ID)
					}
				}
				continue
			}
			if t == nil || (id != [16]byte{} && t.ID != id && t.ID != [16]byte{}) {
				// A new topic, or a topic deleted and created again
				// under the same name: start afresh.
				if t != nil {
					delete(c.byID, t.ID)
				}
				t = &Topic{Name: name, Partitions: map[int32]Partition{}}
				c.topics[name] = t
			}
			if id != [16]byte{} {
				t.ID = id
				c.byID[id] = name
			}
			t.Partitions[p.Partition] = Partition{
				Index: p.Partition, ControllerEpoch: p.ControllerEpoch, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
				ISR: slices.Clone(p.ISR), PartitionEpoch: p.ZKVersion, Replicas: slices.Clone(p.Replicas),
				OfflineReplicas: slices.Clone(p.OfflineReplicas),
			}
		}
	}
	if req.Version <= 4 {
		apply("", [16]byte{}, req.PartitionStates)
	}
	for _, ts := range req.TopicStates {
		apply(ts.Topic, ts.TopicID, ts.PartitionStates)
	}
	return nil
}

func securityProtocolName(id int16) string {
	switch id {
	case 0:
		return "PLAINTEXT"
	case 1:
		return "SSL"
	case 2:
		return "SASL_PLAINTEXT"
	case 3:
		return "SASL_SSL"
	}
	return "UNKNOWN"
}

// BrokerAddr returns host:port of broker id's inter-broker listener
// (inter.broker.listener.name), as the controller last advertised it;
// ok is false when the broker is not live or has no such listener.
func (c *Cache) BrokerAddr(id int32) (hostport string, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.brokers[id]
	if !ok {
		return "", false
	}
	e, ok := b.Endpoint(c.interBroker)
	if !ok {
		return "", false
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port))), true
}

// ControllerID is the id of the controller that sent the newest
// UpdateMetadata, -1 before any.
func (c *Cache) ControllerID() int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.controllerID
}

// ControllerEpoch is the newest controller epoch applied, -1 before any.
func (c *Cache) ControllerEpoch() int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.controllerEpoch
}

// Brokers returns the live brokers sorted by id.
func (c *Cache) Brokers() []Broker {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Broker, 0, len(c.brokers))
	for _, b := range c.brokers {
		b.Endpoints = slices.Clone(b.Endpoints)
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// IsLive reports whether broker id is in the live broker list.
func (c *Cache) IsLive(id int32) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.brokers[id]
	return ok
}

// Topic returns a copy of the named topic.
func (c *Cache) Topic(name string) (Topic, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.topics[name]
	if !ok {
		return Topic{}, false
	}
	return cloneTopic(t), true
}

// TopicByID returns a copy of the topic with the given id.
func (c *Cache) TopicByID(id [16]byte) (Topic, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	name, ok := c.byID[id]
	if !ok {
		return Topic{}, false
	}
	return cloneTopic(c.topics[name]), true
}

// Topics returns copies of every topic, sorted by name.
func (c *Cache) Topics() []Topic {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Topic, 0, len(c.topics))
	for _, t := range c.topics {
		out = append(out, cloneTopic(t))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Partition returns one partition's state.
func (c *Cache) Partition(topic string, p int32) (Partition, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.topics[topic]
	if !ok {
		return Partition{}, false
	}
	part, ok := t.Partitions[p]
	if !ok {
		return Partition{}, false
	}
	return clonePartition(part), true
}

func cloneTopic(t *Topic) Topic {
	out := Topic{Name: t.Name, ID: t.ID, Partitions: make(map[int32]Partition, len(t.Partitions))}
	for k, p := range t.Partitions {
		out.Partitions[k] = clonePartition(p)
	}
	return out
}

func clonePartition(p Partition) Partition {
	p.ISR = slices.Clone(p.ISR)
	p.Replicas = slices.Clone(p.Replicas)
	p.OfflineReplicas = slices.Clone(p.OfflineReplicas)
	return p
}
