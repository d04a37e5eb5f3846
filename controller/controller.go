package controller

import (
	"context"
)

// TopicID is Kafka's 16-byte topic UUID. The zero value is Kafka's "no
// topic id" (all zero bytes), which is never assigned to a real topic.
type TopicID [16]byte

// Broker is one registered broker and the endpoint clients are told to use.
type Broker struct {
	ID   int32
	Host string
	Port int32
	Rack *string
	// Listeners are all the broker's advertised endpoints by listener
	// name, when known (a ZooKeeper cluster's brokers); Metadata tells a
	// client the endpoint of the listener it connected through.
	Listeners []Listener
}

// Listener is one advertised endpoint of a broker.
type Listener struct {
	Name string
	Host string
	Port int32
}

// Partition is the replication state of one partition, in Kafka's terms.
type Partition struct {
	Index           int32
	Leader          int32 // -1 when there is no leader
	LeaderEpoch     int32
	PartitionEpoch  int32
	Replicas        []int32
	ISR             []int32
	OfflineReplicas []int32
}

// Topic is a topic's metadata. Configs holds only the per-topic overrides a
// user set (Kafka's "dynamic topic config"); defaults come from the broker
// configuration and are resolved by whoever describes them.
type Topic struct {
	Name       string
	ID         TopicID
	Internal   bool
	Partitions []Partition
	Configs    map[string]string
}

// CreateTopic describes a topic to create. NumPartitions and
// ReplicationFactor have already been resolved from broker defaults (-1 is
// not accepted here) unless Assignments is set, in which case Assignments
// decides both: Assignments[i] is the replica list of partition i.
type CreateTopic struct {
	Name              string
	NumPartitions     int32
	ReplicationFactor int16
	Assignments       [][]int32
	Configs           map[string]string
	ValidateOnly      bool
}

// Controller is the cluster metadata every handler reads and changes. The
// single-node implementation keeps it in a local Pebble database; a
// ZooKeeper-coordinated implementation will keep it in Kafka's znodes. Both
// return Kafka errors from github.com/twmb/franz-go/pkg/kerr (possibly
// wrapped with context) so that handlers can map them to error codes with
// errors.As.
type Controller interface {
	// ClusterID is generated once and kept for the life of the data dir.
	ClusterID() string
	// ControllerID is the broker id of the active controller.
	ControllerID() int32
	// Brokers returns the live brokers sorted by id.
	Brokers() []Broker

	// Topic returns a copy of the named topic.
	Topic(name string) (Topic, bool)
	// TopicByID returns a copy of the topic with the given id.
	TopicByID(id TopicID) (Topic, bool)
	// Topics returns copies of all topics sorted by name.
	Topics() []Topic

	// CreateTopic validates and (unless ValidateOnly) creates a topic.
	// Errors: kerr.InvalidTopicException, kerr.TopicAlreadyExists,
	// kerr.InvalidPartitions, kerr.InvalidReplicationFactor,
	// kerr.InvalidReplicaAssignment.
	CreateTopic(ctx context.Context, req CreateTopic) (Topic, error)
	// DeleteTopic removes a topic's metadata and returns what it was.
	// Errors: kerr.UnknownTopicOrPartition.
	DeleteTopic(ctx context.Context, name string) (Topic, error)
	// CreatePartitions grows a topic to total partitions. assignments, when
	// not nil, holds the replica lists of the new partitions only.
	// Errors: kerr.UnknownTopicOrPartition, kerr.InvalidPartitions,
	// kerr.InvalidReplicaAssignment.
	CreatePartitions(ctx context.Context, name string, total int32, assignments [][]int32, validateOnly bool) (Topic, error)
	// SetTopicConfigs replaces a topic's per-topic overrides with configs.
	// Errors: kerr.UnknownTopicOrPartition.
	SetTopicConfigs(ctx context.Context, name string, configs map[string]string) error

	// AllocateProducerIDs reserves count consecutive producer ids that
	// were never handed out before, not even before a restart, and returns
	// the first. Kafka's controller hands out ids in blocks the same way.
	AllocateProducerIDs(ctx context.Context, count int) (int64, error)

	// Close releases the store. The controller must not be used afterwards.
	Close() error
}
