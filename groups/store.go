package groups

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"samsa/internal/pebbledb"
	"samsa/internal/pebblelog"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Key spaces (see doc.go). The first byte names the space.
const (
	keySchema    = "m/schema_version"
	schemaVer    = "1"
	prefixGroup  = 'g'
	prefixOffset = 'o'
)

// groupKey is 'g' followed by the group id.
func groupKey(id string) []byte {
	return append([]byte{prefixGroup}, id...)
}

// offsetGroupPrefix is the common prefix of a group's offset keys.
func offsetGroupPrefix(id string) []byte {
	b := make([]byte, 0, 3+len(id))
	b = append(b, prefixOffset)
	b = binary.BigEndian.AppendUint16(b, uint16(len(id)))
	return append(b, id...)
}

// offsetKey is 'o' u16(len group) group u16(len topic) topic i32(partition).
func offsetKey(id string, tp TopicPartition) []byte {
	b := offsetGroupPrefix(id)
	b = binary.BigEndian.AppendUint16(b, uint16(len(tp.Topic)))
	b = append(b, tp.Topic...)
	return binary.BigEndian.AppendUint32(b, uint32(tp.Partition))
}

func parseOffsetKey(k []byte) (string, TopicPartition, error) {
	bad := fmt.Errorf("malformed offset key %q", k)
	if len(k) < 3 {
		return "", TopicPartition{}, bad
	}
	k = k[1:]
	gl := int(binary.BigEndian.Uint16(k))
	k = k[2:]
	if len(k) < gl+2 {
		return "", TopicPartition{}, bad
	}
	id := string(k[:gl])
	k = k[gl:]
	tl := int(binary.BigEndian.Uint16(k))
	k = k[2:]
	if len(k) != tl+4 {
		return "", TopicPartition{}, bad
	}
	tp := TopicPartition{Topic: string(k[:tl]), Partition: int32(binary.BigEndian.Uint32(k[tl:]))}
	return id, tp, nil
}

// offsetValue encoding: version(1)=1 offset(8) leaderEpoch(4)
// commitMs(8) metadataLen(4) metadata.
func encodeOffset(v offsetValue) []byte {
	b := make([]byte, 0, 25+len(v.metadata))
	b = append(b, 1)
	b = binary.BigEndian.AppendUint64(b, uint64(v.offset))
	b = binary.BigEndian.AppendUint32(b, uint32(v.leaderEpoch))
	b = binary.BigEndian.AppendUint64(b, uint64(v.commitMs))
	b = binary.BigEndian.AppendUint32(b, uint32(len(v.metadata)))
	return append(b, v.metadata...)
}

func decodeOffset(b []byte) (offsetValue, error) {
	if len(b) < 25 || b[0] != 1 {
		return offsetValue{}, fmt.Errorf("malformed offset value (%d bytes)", len(b))
	}
	v := offsetValue{
		offset:      int64(binary.BigEndian.Uint64(b[1:])),
		leaderEpoch: int32(binary.BigEndian.Uint32(b[9:])),
		commitMs:    int64(binary.BigEndian.Uint64(b[13:])),
	}
	n := int(binary.BigEndian.Uint32(b[21:]))
	if len(b) != 25+n {
		return offsetValue{}, fmt.Errorf("malformed offset value (%d bytes, metadata %d)", len(b), n)
	}
	v.metadata = string(b[25:])
	return v, nil
}

// storedGroup is the JSON document under a group's 'g' key.
type storedGroup struct {
	Version        int            `json:"version"`
	ProtocolType   string         `json:"protocol_type"`
	Generation     int32          `json:"generation"`
	Protocol       *string        `json:"protocol"`
	Leader         *string        `json:"leader"`
	StateTimestamp int64          `json:"state_timestamp_ms"`
	Members        []storedMember `json:"members"`
}

type storedMember struct {
	MemberID         string           `json:"member_id"`
	InstanceID       *string          `json:"instance_id"`
	ClientID         string           `json:"client_id"`
	ClientHost       string           `json:"client_host"`
	RebalanceTimeout int64            `json:"rebalance_timeout_ms"`
	SessionTimeout   int64            `json:"session_timeout_ms"`
	Protocols        []storedProtocol `json:"protocols"`
	Assignment       []byte           `json:"assignment"`
}

type storedProtocol struct {
	Name     string `json:"name"`
	Metadata []byte `json:"metadata"`
}

// encodeGroup serializes g's metadata with the given assignment (which
// may not be the members' current one yet: the leader's assignment is
// stored before it is handed out, as in Kafka).
func encodeGroup(g *group, assignment map[string][]byte) []byte {
	sg := storedGroup{
		Version:        1,
		Generation:     g.generation,
		Protocol:       g.protocolName,
		StateTimestamp: g.stateTimestamp,
		Members:        make([]storedMember, 0, len(g.members)),
	}
	if g.protocolType != nil {
		sg.ProtocolType = *g.protocolType
	}
	if g.leader != "" {
		l := g.leader
		sg.Leader = &l
	}
	for _, m := range g.members {
		sm := storedMember{
			MemberID:         m.id,
			InstanceID:       m.instanceID,
			ClientID:         m.clientID,
			ClientHost:       m.clientHost,
			RebalanceTimeout: m.rebalanceTimeout.Milliseconds(),
			SessionTimeout:   m.sessionTimeout.Milliseconds(),
			Assignment:       assignment[m.id],
		}
		for _, p := range m.protocols {
			sm.Protocols = append(sm.Protocols, storedProtocol(p))
		}
		sg.Members = append(sg.Members, sm)
	}
	b, err := json.Marshal(sg)
	if err != nil {
		panic(err) // only plain types: cannot fail
	}
	return b
}

// decodeGroup rebuilds a group from its document. Like Kafka's loader it
// comes back Stable if it has members and Empty otherwise.
func decodeGroup(id string, b []byte) (*group, error) {
	var sg storedGroup
	if err := json.Unmarshal(b, &sg); err != nil {
		return nil, fmt.Errorf("group %q: %w", id, err)
	}
	if sg.Version != 1 {
		return nil, fmt.Errorf("group %q: unknown version %d", id, sg.Version)
	}
	g := newGroup(id, sg.StateTimestamp)
	g.generation = sg.Generation
	if sg.ProtocolType != "" {
		pt := sg.ProtocolType
		g.protocolType = &pt
	}
	g.protocolName = sg.Protocol
	if sg.Leader != nil {
		g.leader = *sg.Leader
	}
	for _, sm := range sg.Members {
		m := &member{
			id:               sm.MemberID,
			instanceID:       sm.InstanceID,
			clientID:         sm.ClientID,
			clientHost:       sm.ClientHost,
			rebalanceTimeout: time.Duration(sm.RebalanceTimeout) * time.Millisecond,
			sessionTimeout:   time.Duration(sm.SessionTimeout) * time.Millisecond,
			protocolType:     sg.ProtocolType,
			assignment:       sm.Assignment,
		}
		for _, p := range sm.Protocols {
			m.protocols = append(m.protocols, Protocol(p))
		}
		if g.byID[m.id] != nil {
			return nil, fmt.Errorf("group %q: duplicate member %q", id, m.id)
		}
		g.add(m, nil)
	}
	if g.leader != "" && !g.has(g.leader) {
		return nil, fmt.Errorf("group %q: leader %q is not a member", id, g.leader)
	}
	if len(g.members) > 0 {
		if g.protocolName == nil {
			return nil, fmt.Errorf("group %q: members without a protocol", id)
		}
		g.state = stateStable
	}
	g.computeSubscribedTopics()
	return g, nil
}

// openDB opens (or creates) the Pebble database and checks its schema.
func openDB(opts Options, log *slog.Logger) (*pebbledb.DB, error) {
	dir := opts.Dir
	fs := opts.Guard.WrapPebble(opts.FS)
	db, err := pebbledb.Open(pebbledb.Options{
		Dir:    dir,
		Name:   "groups",
		Guard:  opts.Guard,
		Logger: log,
		Pebble: func() *pebble.Options {
			return &pebble.Options{FS: fs, Logger: pebblelog.NewDB(log, "groups")}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("groups: open %s: %w", dir, err)
	}
	v, closer, err := db.Pebble().Get([]byte(keySchema))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		err = db.Write(func(db *pebble.DB) error { return db.Set([]byte(keySchema), []byte(schemaVer), pebble.Sync) })
	case err == nil:
		if string(v) != schemaVer {
			err = fmt.Errorf("unknown schema version %q", v)
		}
		_ = closer.Close()
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("groups: %s: %w", dir, err)
	}
	return db, nil
}

// load reads every group and committed offset. Offsets of a group
// without a stored document (a group only ever used for offsets) get an
// Empty group without protocol type, as Kafka's loader does.
func load(db *pebble.DB, nowMs int64) (map[string]*group, error) {
	groups := map[string]*group{}
	it, err := db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = it.Close() }()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		switch {
		case string(k) == keySchema:
		case k[0] == prefixGroup:
			id := string(k[1:])
			g, err := decodeGroup(id, it.Value())
			if err != nil {
				return nil, err
			}
			groups[id] = g
		case k[0] == prefixOffset:
			id, tp, err := parseOffsetKey(k)
			if err != nil {
				return nil, err
			}
			v, err := decodeOffset(it.Value())
			if err != nil {
				return nil, fmt.Errorf("offset %s/%s/%d: %w", id, tp.Topic, tp.Partition, err)
			}
			g := groups[id]
			if g == nil {
				// 'g' sorts before 'o', so the group has no document.
				g = newGroup(id, nowMs)
				groups[id] = g
			}
			g.offsets[tp] = v
		default:
			return nil, fmt.Errorf("unknown key %q", k)
		}
	}
	return groups, it.Error()
}
