package groups

// This file is the contract between the group coordinator and its callers
// (the handlers for FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups,
// DeleteGroups, OffsetDelete, and the broker for lifecycle). Error codes
// are Kafka's (github.com/twmb/franz-go/pkg/kerr codes as int16), so the
// handlers copy them into responses unchanged. The implementation lives in
// the other files of the package.

import (
	"log/slog"
	"time"

	"samsa/coordinator"
	"samsa/internal/diskguard"
	"samsa/logstore"
)

// Config holds the broker settings the coordinator follows.
type Config struct {
	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms
	MaxSize               int           // group.max.size
	OffsetsRetention      time.Duration // offsets.retention.minutes
	// OffsetsRetentionCheckInterval is offsets.retention.check.interval.ms
	// (Kafka's default 600000).
	OffsetsRetentionCheckInterval time.Duration
	// OffsetMetadataMaxSize is offset.metadata.max.bytes (Kafka's default
	// 4096, used when zero): longer commit metadata is refused with
	// OFFSET_METADATA_TOO_LARGE.
	OffsetMetadataMaxSize int
}

// Options opens a Coordinator.
type Options struct {
	// Logs gives the log of a __consumer_offsets partition, creating the
	// topic and the log when asked to (the broker: the controller and the
	// log store). Nil: Open keeps a private log store in Dir.
	Logs coordinator.LogSource
	// Dir is the log dir of the private log store used when Logs is nil
	// (tests and tools).
	Dir string
	// LegacyDir is the Pebble group store of earlier Samsa releases
	// (<logdir>/.samsa-groups). If it exists, Open carries every group
	// and offset in it over to __consumer_offsets and then removes it.
	LegacyDir string
	// NumPartitions is the partition count of __consumer_offsets: the
	// topic's if it exists, else offsets.topic.num.partitions (default
	// 50).
	NumPartitions int32
	// Compression is offsets.topic.compression.codec (0 none, 1 gzip, 2
	// snappy, 3 lz4, 4 zstd): the codec of the batches the coordinator
	// writes.
	Compression int
	// LoadBufferSize is offsets.load.buffer.size, the bytes read at a
	// time while replaying a partition (default 5 MiB).
	LoadBufferSize int32
	// SegmentBytes is offsets.topic.segment.bytes for the private log
	// store (the broker sets it on the topic).
	SegmentBytes int64
	Config       Config
	Logger       *slog.Logger
	Now          func() time.Time // nil -> time.Now
	// FS is the private log store's file system (nil: the OS); tests
	// inject faults through it.
	FS logstore.FS
	// Managed is cluster mode (zookeeper.connect): nothing is loaded at
	// Open; OnElection / OnResignation load and unload the partitions
	// this broker leads, and requests for groups of other partitions
	// get NOT_COORDINATOR (COORDINATOR_LOAD_IN_PROGRESS while loading).
	// The Pebble migration (LegacyDir) is a single node's and skipped.
	Managed bool
	// Append makes every write to __consumer_offsets go through the
	// partition's leadership and wait for the in-sync replicas (the
	// broker's replica manager, Kafka's appendRecords with acks=-1 and
	// offsets.commit.timeout.ms); nil: direct appends (a single node).
	Append coordinator.Appender
	// Guard is the log dir's disk-full state for the private log store
	// (the broker's log store has its own): while it is full, appends
	// fail and the requests get NOT_COORDINATOR (see storeErrCode). Nil
	// means no guard.
	Guard *diskguard.Guard
}

// Protocol is one assignment protocol a member supports (JoinGroup).
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup request, version-independent.
type JoinRequest struct {
	Group              string
	MemberID           string  // "" on the first join
	InstanceID         *string // static membership (v5+), nil for dynamic members
	ProtocolType       string
	Protocols          []Protocol
	SessionTimeout     time.Duration
	RebalanceTimeout   time.Duration // v0 requests: equal to SessionTimeout
	ClientID           string
	ClientHost         string // "/" + the client's IP, as Kafka reports it
	RequireKnownMember bool   // v4+: an unknown member first gets MEMBER_ID_REQUIRED and a member id
	Reason             *string
	// SupportSkippingAssignment is set for v9+ requests. A static leader
	// that rejoins a stable group is then told it is the leader with
	// SkipAssignment; older clients instead get the previous leader id, so
	// that they do not run an assignment nobody would receive.
	SupportSkippingAssignment bool
}

// Member is one member as the leader sees it in a JoinGroup response.
type Member struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// JoinResponse is a JoinGroup response.
type JoinResponse struct {
	ErrorCode      int16
	Generation     int32 // -1 on error
	ProtocolType   *string
	ProtocolName   *string
	LeaderID       string
	MemberID       string
	SkipAssignment bool     // v9+: static leader rejoining while the group is stable
	Members        []Member // only for the leader
}

// SyncRequest is a SyncGroup request.
type SyncRequest struct {
	Group        string
	MemberID     string
	InstanceID   *string
	Generation   int32
	ProtocolType *string // v5+, checked when set
	ProtocolName *string // v5+, checked when set
	// Assignments is the leader's assignment per member id (empty from
	// followers).
	Assignments map[string][]byte
}

// SyncResponse is a SyncGroup response.
type SyncResponse struct {
	ErrorCode    int16
	ProtocolType *string
	ProtocolName *string
	Assignment   []byte
}

// LeaveMember identifies a member leaving (LeaveGroup v3+ batches them).
type LeaveMember struct {
	MemberID   string
	InstanceID *string
	Reason     *string
}

// LeaveResult is the per-member outcome of a LeaveGroup.
type LeaveResult struct {
	MemberID   string
	InstanceID *string
	ErrorCode  int16
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// OffsetCommit is one partition's committed position.
type OffsetCommit struct {
	TopicPartition
	Offset      int64
	LeaderEpoch int32 // -1 if unknown
	Metadata    *string
}

// CommitRequest is an OffsetCommit request. Generation -1 with an empty
// member id is a "simple" commit from a client outside any group session
// (assign() users, kafka-consumer-groups --reset-offsets); it is accepted
// only while the group has no active members.
type CommitRequest struct {
	Group      string
	MemberID   string
	InstanceID *string
	Generation int32
	Offsets    []OffsetCommit
}

// CommittedOffset is one partition's answer to OffsetFetch.
type CommittedOffset struct {
	TopicPartition
	Offset      int64 // -1 if nothing is committed
	LeaderEpoch int32 // -1 if unknown
	Metadata    *string
	ErrorCode   int16 // UNSTABLE_OFFSET_COMMIT with RequireStable, when applicable
}

// GroupDescription is what DescribeGroups reports.
type GroupDescription struct {
	Group        string
	ErrorCode    int16  // GROUP_ID_NOT_FOUND (v6+ asks for it) is left to the handler: a missing group is State "Dead"
	State        string // "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"
	ProtocolType string
	Protocol     string
	Members      []MemberDescription
}

// MemberDescription is one member in DescribeGroups.
type MemberDescription struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte // the chosen protocol's metadata
	Assignment []byte
}

// GroupListing is one row of ListGroups.
type GroupListing struct {
	Group        string
	ProtocolType string
	State        string
	Type         string // "classic"
}
