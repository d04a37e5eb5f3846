package groups

// This file reads the Pebble group store of Samsa releases before groups
// moved to __consumer_offsets (<logdir>/.samsa-groups), for the one-time
// migration in migrate. Its layout (all integers big-endian):
//
//	m/schema_version                  "1"
//	'g' group                         the group's metadata, a JSON document
//	                                  (storedGroup)
//	'o' u16(len) group u16(len) topic i32(partition)
//	                                  a committed offset: version(1)=1
//	                                  offset(8) leaderEpoch(4)
//	                                  commitTimestampMs(8) metadataLen(4)
//	                                  metadata

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"samsa/coordinator"
	"samsa/internal/pebbledb"
	"samsa/internal/pebblelog"
	"samsa/logstore"

	"github.com/cockroachdb/pebble/v2"
)

// Key spaces (see the top of this file). The first byte names the space.
const (
	keySchema    = "m/schema_version"
	schemaVer    = "1"
	prefixGroup  = 'g'
	prefixOffset = 'o'
)

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

// openDB opens the legacy Pebble database and checks its schema.
func openDB(dir string, log *slog.Logger) (*pebbledb.DB, error) {
	db, err := pebbledb.Open(pebbledb.Options{
		Dir:    dir,
		Name:   "groups",
		Logger: log,
		Pebble: func() *pebble.Options {
			return &pebble.Options{Logger: pebblelog.NewDB(log, "groups")}
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

// migratedSuffix names a legacy store whose contents are in the log: the
// rename is the migration's commit point, the removal that follows may be
// interrupted and is redone at the next start.
const migratedSuffix = ".migrated-delete"

// migrate carries every group and committed offset of the legacy Pebble
// store at dir over to __consumer_offsets and removes the store. It runs
// in Open after the log has been replayed, before any request. Crash
// safety: the records are appended with fsync, then the store is renamed
// to dir+migratedSuffix (atomic), then removed. A crash before the rename
// leaves the store in place and the next start migrates it again: the
// same keys with the same values are appended once more, which replay
// (last record per key wins) and compaction make harmless. Commit
// timestamps are carried over, so offsets expire as they would have.
func (c *Coordinator) migrate(dir string) error {
	if dir == "" {
		return nil
	}
	if _, err := os.Stat(dir + migratedSuffix); err == nil {
		if err := os.RemoveAll(dir + migratedSuffix); err != nil {
			return fmt.Errorf("removing migrated store: %w", err)
		}
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	start := time.Now()
	db, err := openDB(dir, c.log)
	if err != nil {
		return err
	}
	legacy, err := load(db.Pebble(), c.nowMs())
	_ = db.Close()
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	ids := make([]string, 0, len(legacy))
	for id := range legacy {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	byPart := map[int32][]coordinator.Record{}
	groupsOf := map[int32][]*group{}
	offsets := 0
	for _, id := range ids {
		g := legacy[id]
		p := PartitionFor(id, c.numPartitions)
		if g.protocolType != nil {
			assignment := make(map[string][]byte, len(g.members))
			for _, m := range g.members {
				assignment[m.id] = m.assignment
			}
			byPart[p] = append(byPart[p], groupRecord(g, assignment))
		}
		for _, tp := range g.sortedOffsetPartitions(nil) {
			byPart[p] = append(byPart[p], offsetRecord(id, tp, g.offsets[tp]))
			offsets++
		}
		groupsOf[p] = append(groupsOf[p], g)
	}
	parts := make([]int32, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		// Each Write is one batch of at most MaxBatchBytes: a large old
		// store goes in several writes. A failure part way leaves the old
		// store in place; the next start migrates it again, and the
		// records written twice are the same values.
		recs := byPart[p]
		for len(recs) > 0 {
			n, size := 0, logstore.BatchHeaderSize
			for n < len(recs) {
				k := coordinator.EstimatedSize(recs[n : n+1])
				if n > 0 && size+k > c.rt.MaxBatchBytes() {
					break
				}
				size += k
				n++
			}
			chunk, last := recs[:n], n == len(recs)
			recs = recs[n:]
			err := c.rt.Write(p, chunk, coordinator.WriteOptions{Sync: true}, func(int64) {
				if !last {
					return
				}
				c.mu.Lock()
				for _, g := range groupsOf[p] {
					c.groups[g.id] = g
					c.pendingLoaded = append(c.pendingLoaded, g)
				}
				c.mu.Unlock()
			})
			if err != nil {
				return err
			}
		}
	}
	// Every record is in the log and synced: retire the old store.
	if err := os.Rename(dir, dir+migratedSuffix); err != nil {
		return fmt.Errorf("retiring old store: %w", err)
	}
	if d, err := os.Open(filepath.Dir(dir)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	if err := os.RemoveAll(dir + migratedSuffix); err != nil {
		c.log.Warn("removing the migrated group store failed; it is removed at the next start", "dir", dir+migratedSuffix, "err", err)
	}
	c.log.Info("migrated the group store to __consumer_offsets", "dir", dir, "groups", len(legacy), "offsets", offsets, "took", time.Since(start))
	return nil
}
