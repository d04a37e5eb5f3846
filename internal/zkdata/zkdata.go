// Package zkdata encodes and decodes the znodes of Kafka 3.x's ZooKeeper
// mode (kafka.zk.ZkData in Kafka 3.9), so that a Samsa cluster's
// ZooKeeper holds exactly what a Kafka cluster's does and Kafka's tools
// can read it. controller/doc.go lists the layout.
//
// Decoders accept what Kafka writes and what Kafka would accept, and
// return an error (never panic) for anything else: a znode may have been
// written by another program.
package zkdata

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Paths of Kafka's znodes (relative to the chroot).
const (
	ClusterIDPath       = "/cluster/id"
	BrokerIDsPath       = "/brokers/ids"
	TopicsPath          = "/brokers/topics"
	ControllerPath      = "/controller"
	ControllerEpochPath = "/controller_epoch"
	ConfigTopicsPath    = "/config/topics"
	ConfigChangesPath   = "/config/changes"
	ConfigChangePrefix  = "config_change_"
	DeleteTopicsPath    = "/admin/delete_topics"
	// ReassignPartitionsPath is ReassignPartitionsZNode: the legacy
	// (pre-KIP-455) way to ask the controller for reassignments, still
	// watched by Kafka 3.9's ZooKeeper-mode controller.
	ReassignPartitionsPath = "/admin/reassign_partitions"
	// ConfigBrokersPath holds dynamic broker configs, one znode per broker
	// id and "<default>" for the cluster-wide defaults.
	ConfigBrokersPath    = "/config/brokers"
	ProducerIDBlockPath  = "/latest_producer_id_block"
	IsrChangeNotifyPath  = "/isr_change_notification"
	LogDirEventNotifPath = "/log_dir_event_notification"
)

// PersistentPaths are the znodes Kafka's KafkaZkClient.createTopLevelPaths
// creates at broker start-up (ZkData.PersistentZkPaths).
var PersistentPaths = []string{
	"/consumers", BrokerIDsPath, TopicsPath, ConfigChangesPath,
	DeleteTopicsPath, "/brokers/seqid", IsrChangeNotifyPath, "/latest_producer_id_block",
	LogDirEventNotifPath, ConfigTopicsPath, "/config/clients", "/config/users", "/config/brokers", "/config/ips",
}

// BrokerPath is /brokers/ids/<id>.
func BrokerPath(id int32) string { return BrokerIDsPath + "/" + strconv.Itoa(int(id)) }

// TopicPath is /brokers/topics/<name>.
func TopicPath(name string) string { return TopicsPath + "/" + name }

// PartitionsPath is /brokers/topics/<name>/partitions.
func PartitionsPath(name string) string { return TopicPath(name) + "/partitions" }

// PartitionPath is /brokers/topics/<name>/partitions/<p>.
func PartitionPath(name string, p int32) string {
	return PartitionsPath(name) + "/" + strconv.Itoa(int(p))
}

// StatePath is /brokers/topics/<name>/partitions/<p>/state.
func StatePath(name string, p int32) string { return PartitionPath(name, p) + "/state" }

// ConfigBrokerPath is /config/brokers/<entity>: a broker id or "<default>".
func ConfigBrokerPath(entity string) string { return ConfigBrokersPath + "/" + entity }

// ConfigTopicPath is /config/topics/<name>.
func ConfigTopicPath(name string) string { return ConfigTopicsPath + "/" + name }

// DeleteTopicPath is /admin/delete_topics/<name>.
func DeleteTopicPath(name string) string { return DeleteTopicsPath + "/" + name }

// ---------------------------------------------------------------- cluster id

// EncodeClusterID is ClusterIdZNode.toJson: the version is a JSON string.
func EncodeClusterID(id string) []byte {
	b, _ := json.Marshal(map[string]string{"version": "1", "id": id})
	return b
}

// DecodeClusterID is ClusterIdZNode.fromJson.
func DecodeClusterID(data []byte) (string, error) {
	var v struct {
		ID *string `json:"id"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return "", fmt.Errorf("cluster id znode: %w", err)
	}
	if v.ID == nil || *v.ID == "" {
		return "", errors.New("cluster id znode: no id")
	}
	return *v.ID, nil
}

// ---------------------------------------------------------------- brokers

// Endpoint is one advertised listener of a broker.
type Endpoint struct {
	Listener         string
	Host             string
	Port             int32
	SecurityProtocol string // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
}

// String is Kafka's EndPoint.connectionString: NAME://host:port, with an
// IPv6 host in brackets.
func (e Endpoint) String() string {
	return e.Listener + "://" + net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
}

// SecurityProtocolID is Kafka's SecurityProtocol.id, as UpdateMetadata
// carries it; -1 for an unknown name.
func SecurityProtocolID(name string) int16 {
	switch name {
	case "PLAINTEXT":
		return 0
	case "SSL":
		return 1
	case "SASL_PLAINTEXT":
		return 2
	case "SASL_SSL":
		return 3
	}
	return -1
}

// Broker is the content of /brokers/ids/<id> (BrokerIdZNode, version 5).
type Broker struct {
	ID        int32
	Endpoints []Endpoint
	Rack      *string
	// Timestamp is the registration time in epoch ms, as written.
	Timestamp int64
}

// Endpoint returns the endpoint of the named listener.
func (b Broker) Endpoint(listener string) (Endpoint, bool) {
	for _, e := range b.Endpoints {
		if e.Listener == listener {
			return e, true
		}
	}
	return Endpoint{}, false
}

type brokerJSON struct {
	Version     int               `json:"version"`
	Host        *string           `json:"host"`
	Port        int32             `json:"port"`
	Endpoints   []string          `json:"endpoints"`
	ProtocolMap map[string]string `json:"listener_security_protocol_map,omitempty"`
	JmxPort     int32             `json:"jmx_port"`
	Timestamp   string            `json:"timestamp"`
	Rack        *string           `json:"rack,omitempty"`
	Features    map[string]any    `json:"features"`
}

// EncodeBroker is BrokerIdZNode.encode at version 5: the top-level host
// and port repeat the first PLAINTEXT endpoint (null and -1 without one),
// "rack" only when set, jmx_port -1, features empty.
func EncodeBroker(b Broker) []byte {
	j := brokerJSON{Version: 5, Port: -1, JmxPort: -1, Timestamp: strconv.FormatInt(b.Timestamp, 10),
		Rack: b.Rack, ProtocolMap: map[string]string{}, Features: map[string]any{}, Endpoints: []string{}}
	for _, e := range b.Endpoints {
		if j.Host == nil && e.SecurityProtocol == "PLAINTEXT" {
			h := e.Host
			j.Host, j.Port = &h, e.Port
		}
		j.Endpoints = append(j.Endpoints, e.String())
		j.ProtocolMap[e.Listener] = e.SecurityProtocol
	}
	out, _ := json.Marshal(j)
	return out
}

// DecodeBroker is BrokerIdZNode.decode. Versions 1 (host/port only)
// through 5 are read; the security protocol of an endpoint is taken from
// listener_security_protocol_map, else the listener name itself (as for
// versions 2 and 3, where they are the same).
func DecodeBroker(id int32, data []byte) (Broker, error) {
	var j brokerJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return Broker{}, fmt.Errorf("broker %d znode: %w", id, err)
	}
	b := Broker{ID: id, Rack: j.Rack}
	if j.Timestamp != "" {
		ts, err := strconv.ParseInt(j.Timestamp, 10, 64)
		if err != nil {
			return Broker{}, fmt.Errorf("broker %d znode: timestamp %q: %w", id, j.Timestamp, err)
		}
		b.Timestamp = ts
	}
	if j.Version == 1 || len(j.Endpoints) == 0 {
		if j.Host == nil || j.Port < 0 || j.Port > 65535 {
			return Broker{}, fmt.Errorf("broker %d znode: no endpoints", id)
		}
		b.Endpoints = []Endpoint{{Listener: "PLAINTEXT", Host: *j.Host, Port: j.Port, SecurityProtocol: "PLAINTEXT"}}
		return b, nil
	}
	for _, s := range j.Endpoints {
		e, err := ParseEndpoint(s)
		if err != nil {
			return Broker{}, fmt.Errorf("broker %d znode: %w", id, err)
		}
		e.SecurityProtocol = e.Listener
		if p, ok := j.ProtocolMap[e.Listener]; ok {
			e.SecurityProtocol = p
		}
		b.Endpoints = append(b.Endpoints, e)
	}
	return b, nil
}

// ParseEndpoint parses NAME://host:port (EndPoint.createEndPoint); the
// security protocol is left empty.
func ParseEndpoint(s string) (Endpoint, error) {
	name, hp, ok := strings.Cut(s, "://")
	if !ok || name == "" {
		return Endpoint{}, fmt.Errorf("endpoint %q: want NAME://host:port", s)
	}
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: %w", s, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: port: %w", s, err)
	}
	return Endpoint{Listener: name, Host: host, Port: int32(p)}, nil
}

// ---------------------------------------------------------------- controller

// EncodeController is ControllerZNode.encode: version 2 with
// kraftControllerEpoch -1 (a ZooKeeper-mode controller).
func EncodeController(brokerID int32, timestampMs int64) []byte {
	return fmt.Appendf(nil, `{"version":2,"brokerid":%d,"timestamp":"%d","kraftControllerEpoch":-1}`, brokerID, timestampMs)
}

// DecodeController is ControllerZNode.decode: the broker id only.
func DecodeController(data []byte) (int32, error) {
	var j struct {
		BrokerID *int32 `json:"brokerid"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return -1, fmt.Errorf("controller znode: %w", err)
	}
	if j.BrokerID == nil {
		return -1, errors.New("controller znode: no brokerid")
	}
	return *j.BrokerID, nil
}

// EncodeControllerEpoch is ControllerEpochZNode.encode: decimal text.
func EncodeControllerEpoch(epoch int32) []byte { return strconv.AppendInt(nil, int64(epoch), 10) }

// DecodeControllerEpoch is ControllerEpochZNode.decode.
func DecodeControllerEpoch(data []byte) (int32, error) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("controller epoch znode: %w", err)
	}
	return int32(n), nil
}

// ---------------------------------------------------------------- topics

// TopicID is a 16-byte Kafka Uuid.
type TopicID = [16]byte

// Topic is /brokers/topics/<name> (TopicZNode, version 3): the topic id
// and each partition's replica list, preferred leader first.
type Topic struct {
	ID       TopicID // zero when the znode has none (written before Kafka 2.8)
	Replicas map[int32][]int32
	Adding   map[int32][]int32
	Removing map[int32][]int32
}

// Partitions returns the partition numbers in order.
func (t Topic) Partitions() []int32 {
	ps := make([]int32, 0, len(t.Replicas))
	for p := range t.Replicas {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

type topicJSON struct {
	Version  int                `json:"version"`
	TopicID  *string            `json:"topic_id,omitempty"`
	Parts    map[string][]int32 `json:"partitions"`
	Adding   map[string][]int32 `json:"adding_replicas"`
	Removing map[string][]int32 `json:"removing_replicas"`
}

func intKeys(m map[int32][]int32) map[string][]int32 {
	out := make(map[string][]int32, len(m))
	for k, v := range m {
		out[strconv.Itoa(int(k))] = v
	}
	return out
}

// EncodeTopic is TopicZNode.encode.
func EncodeTopic(t Topic) []byte {
	j := topicJSON{Version: 3, Parts: intKeys(t.Replicas), Adding: intKeys(t.Adding), Removing: intKeys(t.Removing)}
	if t.ID != (TopicID{}) {
		s := base64.RawURLEncoding.EncodeToString(t.ID[:])
		j.TopicID = &s
	}
	out, _ := json.Marshal(j)
	return out
}

// DecodeTopic is TopicZNode.decode. Partition keys must be decimal
// partition numbers from 0 without gaps, and replica lists non-empty
// without duplicates.
func DecodeTopic(data []byte) (Topic, error) {
	var j topicJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return Topic{}, fmt.Errorf("topic znode: %w", err)
	}
	var t Topic
	if j.TopicID != nil {
		b, err := base64.RawURLEncoding.DecodeString(*j.TopicID)
		if err != nil || len(b) != 16 {
			return Topic{}, fmt.Errorf("topic znode: topic_id %q is not a Kafka uuid", *j.TopicID)
		}
		copy(t.ID[:], b)
	}
	conv := func(m map[string][]int32, what string) (map[int32][]int32, error) {
		out := make(map[int32][]int32, len(m))
		for k, v := range m {
			p, err := strconv.ParseInt(k, 10, 32)
			if err != nil || p < 0 {
				return nil, fmt.Errorf("topic znode: %s: bad partition %q", what, k)
			}
			out[int32(p)] = v
		}
		return out, nil
	}
	var err error
	if t.Replicas, err = conv(j.Parts, "partitions"); err != nil {
		return Topic{}, err
	}
	if t.Adding, err = conv(j.Adding, "adding_replicas"); err != nil {
		return Topic{}, err
	}
	if t.Removing, err = conv(j.Removing, "removing_replicas"); err != nil {
		return Topic{}, err
	}
	for p := int32(0); p < int32(len(t.Replicas)); p++ {
		r, ok := t.Replicas[p]
		if !ok {
			return Topic{}, fmt.Errorf("topic znode: partition %d missing", p)
		}
		if len(r) == 0 {
			return Topic{}, fmt.Errorf("topic znode: partition %d has no replicas", p)
		}
		seen := make(map[int32]bool, len(r))
		for _, id := range r {
			if seen[id] || id < 0 {
				return Topic{}, fmt.Errorf("topic znode: partition %d: bad replica list %v", p, r)
			}
			seen[id] = true
		}
	}
	return t, nil
}

// ---------------------------------------------------------------- reassignments

// Reassignment is one partition of /admin/reassign_partitions
// (ReassignPartitionsZNode.ReplicaAssignment): the target replicas.
type Reassignment struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
}

// EncodeReassignments is ReassignPartitionsZNode.encode:
// {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]}]}.
func EncodeReassignments(rs []Reassignment) []byte {
	if rs == nil {
		rs = []Reassignment{}
	}
	out, _ := json.Marshal(struct {
		Version    int            `json:"version"`
		Partitions []Reassignment `json:"partitions"`
	}{1, rs})
	return out
}

// DecodeReassignments is ReassignPartitionsZNode.decode: version 1, every
// entry with a topic, a partition >= 0 and a replica list (Kafka refuses
// the whole znode otherwise, and so does this). A partition named twice
// is an error, as Kafka's decode into a map would silently keep the last.
func DecodeReassignments(data []byte) ([]Reassignment, error) {
	var j struct {
		Version    *int `json:"version"`
		Partitions []struct {
			Topic     *string `json:"topic"`
			Partition *int32  `json:"partition"`
			Replicas  []int32 `json:"replicas"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("reassign_partitions znode: %w", err)
	}
	if j.Version == nil || *j.Version != 1 {
		return nil, errors.New("reassign_partitions znode: version must be 1")
	}
	out := make([]Reassignment, 0, len(j.Partitions))
	seen := map[string]map[int32]bool{}
	for _, p := range j.Partitions {
		if p.Topic == nil || *p.Topic == "" || p.Partition == nil || *p.Partition < 0 || p.Replicas == nil {
			return nil, errors.New("reassign_partitions znode: an entry lacks topic, partition or replicas")
		}
		if seen[*p.Topic] == nil {
			seen[*p.Topic] = map[int32]bool{}
		}
		if seen[*p.Topic][*p.Partition] {
			return nil, fmt.Errorf("reassign_partitions znode: %s-%d given twice", *p.Topic, *p.Partition)
		}
		seen[*p.Topic][*p.Partition] = true
		out = append(out, Reassignment{Topic: *p.Topic, Partition: *p.Partition, Replicas: p.Replicas})
	}
	return out, nil
}

// ---------------------------------------------------------------- partition state

// LeaderRecovered and LeaderRecovering are Kafka's LeaderRecoveryState
// values (KIP-704).
const (
	LeaderRecovered  int8 = 0
	LeaderRecovering int8 = 1
)

// NoLeader is LeaderAndIsr.NoLeader; LeaderDuringDelete is
// LeaderAndIsr.LeaderDuringDelete, which UpdateMetadata uses to say a
// topic is being deleted.
const (
	NoLeader           int32 = -1
	LeaderDuringDelete int32 = -2
)

// PartitionState is /brokers/topics/<t>/partitions/<p>/state
// (TopicPartitionStateZNode, version 1). The partition epoch is the
// znode's version, not a field.
type PartitionState struct {
	Leader              int32
	LeaderEpoch         int32
	ControllerEpoch     int32
	ISR                 []int32
	LeaderRecoveryState int8
}

type stateJSON struct {
	Version         int     `json:"version"`
	Leader          *int32  `json:"leader"`
	LeaderEpoch     *int32  `json:"leader_epoch"`
	ControllerEpoch *int32  `json:"controller_epoch"`
	ISR             []int32 `json:"isr"`
	Recovery        *int8   `json:"leader_recovery_state,omitempty"`
}

// EncodePartitionState is TopicPartitionStateZNode.encode:
// leader_recovery_state only when not RECOVERED.
func EncodePartitionState(s PartitionState) []byte {
	isr := s.ISR
	if isr == nil {
		isr = []int32{}
	}
	j := stateJSON{Version: 1, Leader: &s.Leader, LeaderEpoch: &s.LeaderEpoch, ControllerEpoch: &s.ControllerEpoch, ISR: isr}
	if s.LeaderRecoveryState != LeaderRecovered {
		r := s.LeaderRecoveryState
		j.Recovery = &r
	}
	out, _ := json.Marshal(j)
	return out
}

// DecodePartitionState is TopicPartitionStateZNode.decode: leader,
// leader_epoch, controller_epoch and isr are required.
func DecodePartitionState(data []byte) (PartitionState, error) {
	var j stateJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return PartitionState{}, fmt.Errorf("partition state znode: %w", err)
	}
	if j.Leader == nil || j.LeaderEpoch == nil || j.ControllerEpoch == nil || j.ISR == nil {
		return PartitionState{}, errors.New("partition state znode: leader, leader_epoch, controller_epoch and isr are required")
	}
	s := PartitionState{Leader: *j.Leader, LeaderEpoch: *j.LeaderEpoch, ControllerEpoch: *j.ControllerEpoch, ISR: j.ISR}
	if j.Recovery != nil {
		if *j.Recovery != LeaderRecovered && *j.Recovery != LeaderRecovering {
			return PartitionState{}, fmt.Errorf("partition state znode: leader_recovery_state %d", *j.Recovery)
		}
		s.LeaderRecoveryState = *j.Recovery
	}
	return s, nil
}

// ---------------------------------------------------------------- ISR change notifications

// IsrChangePrefix is IsrChangeNotificationSequenceZNode.SequenceNumberPrefix:
// brokers on an inter.broker.protocol.version below 2.7 (no
// AlterPartition) create /isr_change_notification/isr_change_<seq>
// (persistent sequential) after writing a partition state themselves.
const IsrChangePrefix = "isr_change_"

// IsrChangePartition names one partition in an ISR change notification.
type IsrChangePartition struct {
	Topic     string
	Partition int32
}

type isrChangeJSON struct {
	Version    int `json:"version"`
	Partitions []struct {
		Topic     *string `json:"topic"`
		Partition *int32  `json:"partition"`
	} `json:"partitions"`
}

// EncodeIsrChangeNotification is IsrChangeNotificationSequenceZNode.encode:
// {"version":1,"partitions":[{"topic":..,"partition":..}]}
// (IsrChangeNotificationHandler.Version 1).
func EncodeIsrChangeNotification(parts []IsrChangePartition) []byte {
	type part struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
	}
	ps := make([]part, len(parts))
	for i, x := range parts {
		ps[i] = part{x.Topic, x.Partition}
	}
	return marshal(struct {
		Version    int    `json:"version"`
		Partitions []part `json:"partitions"`
	}{1, ps})
}

// DecodeIsrChangeNotification is IsrChangeNotificationSequenceZNode.decode:
// the partitions, each with topic (a string) and partition (an int)
// required; the version is not checked (Kafka does not either). Errors:
// not JSON, no partitions array, a partition without both fields.
func DecodeIsrChangeNotification(data []byte) ([]IsrChangePartition, error) {
	var j isrChangeJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("isr change notification: %w", err)
	}
	if j.Partitions == nil {
		return nil, errors.New("isr change notification: partitions is required")
	}
	out := make([]IsrChangePartition, 0, len(j.Partitions))
	for _, p := range j.Partitions {
		if p.Topic == nil || p.Partition == nil {
			return nil, errors.New("isr change notification: a partition needs topic and partition")
		}
		out = append(out, IsrChangePartition{*p.Topic, *p.Partition})
	}
	return out, nil
}

// ---------------------------------------------------------------- configs

// EncodeConfig is ConfigEntityZNode.encode: {"version":1,"config":{...}}.
func EncodeConfig(configs map[string]string) []byte {
	if configs == nil {
		configs = map[string]string{}
	}
	return marshal(struct {
		Version int               `json:"version"`
		Config  map[string]string `json:"config"`
	}{1, configs})
}

// DecodeConfig is ConfigEntityZNode.decode; an empty znode is no
// overrides (Kafka writes none, but tolerates it).
func DecodeConfig(data []byte) (map[string]string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]string{}, nil
	}
	var j struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("config znode: %w", err)
	}
	out := make(map[string]string, len(j.Config))
	for k, v := range j.Config {
		// Kafka's Properties hold strings; a number written by hand is
		// taken as its text.
		switch v := v.(type) {
		case string:
			out[k] = v
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(v)
		default:
			return nil, fmt.Errorf("config znode: %q is not a string", k)
		}
	}
	return out, nil
}

// EncodeConfigChange is the version 2 change notification
// (ConfigEntityChangeNotificationSequenceZNode):
// {"version":2,"entity_path":"topics/<name>"}.
func EncodeConfigChange(entityPath string) []byte {
	return marshal(struct {
		Version    int    `json:"version"`
		EntityPath string `json:"entity_path"`
	}{2, entityPath})
}

// DecodeConfigChange returns the entity type and name of a change
// notification (versions 1 and 2, as ZkConfigManager reads them).
func DecodeConfigChange(data []byte) (entityType, name string, err error) {
	var j struct {
		Version    int     `json:"version"`
		EntityPath *string `json:"entity_path"`
		EntityType *string `json:"entity_type"`
		EntityName *string `json:"entity_name"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return "", "", fmt.Errorf("config change: %w", err)
	}
	switch {
	case j.Version == 2 && j.EntityPath != nil:
		typ, name, ok := strings.Cut(*j.EntityPath, "/")
		if !ok || typ == "" || name == "" {
			return "", "", fmt.Errorf("config change: entity_path %q", *j.EntityPath)
		}
		return typ, name, nil
	case j.Version == 1 && j.EntityType != nil && j.EntityName != nil:
		return *j.EntityType, *j.EntityName, nil
	}
	return "", "", errors.New("config change: unknown version or missing fields")
}

// ---------------------------------------------------------------- producer ids

// ProducerIDBlockSize is ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE.
const ProducerIDBlockSize = 1000

// ProducerIDBlock is /latest_producer_id_block (ProducerIdBlockZNode):
// the last block handed out, ids First..Last inclusive, to Broker.
type ProducerIDBlock struct {
	Broker      int32
	First, Last int64
}

// EncodeProducerIDBlock writes version 1 with the ids as JSON strings.
func EncodeProducerIDBlock(b ProducerIDBlock) []byte {
	return fmt.Appendf(nil, `{"version":1,"broker":%d,"block_start":"%d","block_end":"%d"}`, b.Broker, b.First, b.Last)
}

// DecodeProducerIDBlock is ProducerIdBlockZNode.parseProducerIdBlockData.
func DecodeProducerIDBlock(data []byte) (ProducerIDBlock, error) {
	var j struct {
		Broker *int32  `json:"broker"`
		Start  *string `json:"block_start"`
		End    *string `json:"block_end"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return ProducerIDBlock{}, fmt.Errorf("producer id block znode: %w", err)
	}
	if j.Broker == nil || j.Start == nil || j.End == nil {
		return ProducerIDBlock{}, errors.New("producer id block znode: broker, block_start and block_end are required")
	}
	first, err1 := strconv.ParseInt(*j.Start, 10, 64)
	last, err2 := strconv.ParseInt(*j.End, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return ProducerIDBlock{}, fmt.Errorf("producer id block znode: bad block %q..%q", *j.Start, *j.End)
	}
	return ProducerIDBlock{Broker: *j.Broker, First: first, Last: last}, nil
}
