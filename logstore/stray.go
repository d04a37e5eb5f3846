package logstore

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// partitionMetadataFile names, in each partition directory, the topic the
// log belongs to, in the format of Kafka's PartitionMetadataFile
// ("version: 0\ntopic_id: <base64url topic id>"), so that a log can never
// be handed to another topic that later takes the same name: after the
// cluster metadata was lost, a topic deleted while the broker could not
// remove its directory, or a log dir moved between clusters.
const partitionMetadataFile = "partition.metadata"

// strayDirSuffix marks a partition directory no topic claims, moved aside
// by Open. Kafka names them the same way (LocalLog.logStrayDirName:
// <topic>-<partition>.<uuid without dashes>-stray) and likewise neither
// serves nor deletes them: an operator decides.
const strayDirSuffix = "-stray"

// encodeTopicID renders a topic id as Kafka's Uuid.toString does:
// base64url without padding, 22 characters.
func encodeTopicID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// partitionMetadata is the encoded content of partitionMetadataFile.
func partitionMetadata(id [16]byte) []byte {
	return []byte("version: 0\ntopic_id: " + encodeTopicID(id))
}

// readPartitionMetadata returns the topic id recorded in dir; ok is false
// when the file does not exist (a log written by an older Samsa). A file
// that exists but does not parse is an error: the caller must not guess
// which topic the log belongs to.
func readPartitionMetadata(fsys FS, dir string) (id [16]byte, ok bool, err error) {
	f, err := fsys.OpenFile(filepath.Join(dir, partitionMetadataFile), os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return id, false, nil
		}
		return id, false, err
	}
	defer f.Close()
	var buf [256]byte
	n, err := f.ReadAt(buf[:], 0)
	if err != nil && err != io.EOF {
		return id, false, err
	}
	var version, topicID string
	for _, line := range bytes.Split(buf[:n], []byte{'\n'}) {
		k, v, found := strings.Cut(string(line), ":")
		if !found {
			continue
		}
		switch strings.TrimSpace(k) {
		case "version":
			version = strings.TrimSpace(v)
		case "topic_id":
			topicID = strings.TrimSpace(v)
		}
	}
	raw, derr := base64.RawURLEncoding.DecodeString(topicID)
	if version != "0" || derr != nil || len(raw) != len(id) {
		return id, false, fmt.Errorf("malformed %s: %q", partitionMetadataFile, buf[:n])
	}
	copy(id[:], raw)
	return id, true, nil
}

// strayDirName returns a fresh name to move the partition directory name
// aside to.
func strayDirName(name string) string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	return name + "." + hex.EncodeToString(u[:]) + strayDirSuffix
}

func isStrayDir(name string) bool {
	return strings.HasSuffix(name, strayDirSuffix) && strings.Contains(name, ".")
}

// claimPartitionDir decides whether the partition directory name found by
// Open belongs to a topic the cluster metadata knows (ConfigFor claims it
// and, when the directory records a topic id, the ids agree). An
// unclaimed directory is renamed to a stray name and reported once; a
// claimed one written by an older release gets its partition.metadata.
// It returns the config to open the partition with and whether to open it.
func (s *Store) claimPartitionDir(k partKey, name string) (PartitionConfig, bool) {
	cfg := defaultPartitionConfig
	claimed := true
	if s.configFor != nil {
		cfg, claimed = s.configFor(k.topic, k.partition)
		if !claimed {
			cfg = defaultPartitionConfig
		}
	}
	if !s.moveStrays {
		return cfg, true
	}
	dir := filepath.Join(s.dir, name)
	recorded, has, err := readPartitionMetadata(s.fs, dir)
	var reason string
	switch {
	case err != nil:
		reason = "its " + partitionMetadataFile + " is unreadable: " + err.Error()
	case !claimed:
		reason = "the cluster metadata has no such topic partition"
	case has && cfg.TopicID != [16]byte{} && recorded != cfg.TopicID:
		reason = "it belongs to topic id " + encodeTopicID(recorded) + ", not the current topic's " + encodeTopicID(cfg.TopicID)
	}
	if reason == "" {
		if !has {
			// A log written before partition.metadata existed.
			if err := ensurePartitionMetadata(s.fs, dir, cfg.TopicID); err != nil {
				s.log.Warn("logstore: writing partition.metadata", "dir", dir, "err", err)
			}
		}
		return cfg, true
	}
	stray := filepath.Join(s.dir, strayDirName(name))
	if err := s.fs.Rename(dir, stray); err != nil {
		// Not serving it is what matters; the rename is retried next start.
		s.log.Error("logstore: partition log claimed by no topic; not serving it, and moving it aside failed",
			"dir", dir, "reason", reason, "err", err)
		return cfg, false
	}
	_ = syncDir(s.fs, s.dir)
	s.log.Error("logstore: partition log claimed by no topic moved aside as stray; its records are not served",
		"dir", dir, "moved_to", stray, "reason", reason)
	return cfg, false
}

// adoptableLocked makes sure CreatePartition does not hand topic id's new
// partition k a directory that belongs to another topic: a directory Open
// left unclaimed, or one recording another topic id, is moved aside
// first, and if that fails the creation fails. s.createMu must be held.
func (s *Store) adoptableLocked(k partKey, id [16]byte) error {
	if !s.moveStrays {
		return nil
	}
	name := k.topic + "-" + strconv.Itoa(int(k.partition))
	dir := filepath.Join(s.dir, name)
	_, unclaimed := s.strays[k]
	if !unclaimed {
		recorded, has, err := readPartitionMetadata(s.fs, dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			unclaimed = true
		} else if has && id != [16]byte{} && recorded != id {
			unclaimed = true
		}
	}
	if !unclaimed {
		return nil
	}
	stray := filepath.Join(s.dir, strayDirName(name))
	if err := s.fs.Rename(dir, stray); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s belongs to no current topic and cannot be moved aside: %w", ErrStorage, dir, err)
	}
	_ = syncDir(s.fs, s.dir)
	delete(s.strays, k)
	s.log.Error("logstore: partition log claimed by no topic moved aside as stray before creating the partition anew",
		"dir", dir, "moved_to", stray)
	return nil
}

// ensurePartitionMetadata records topic id in dir unless it is already
// there (or id is zero: a store used without cluster metadata).
func ensurePartitionMetadata(fsys FS, dir string, id [16]byte) error {
	if id == [16]byte{} {
		return nil
	}
	if _, has, err := readPartitionMetadata(fsys, dir); err != nil || has {
		return err
	}
	return writeFileAtomic(fsys, filepath.Join(dir, partitionMetadataFile), partitionMetadata(id))
}
