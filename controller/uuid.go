package controller

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// oneUUID is Kafka's Uuid.ONE_UUID (METADATA_TOPIC_ID): KRaft uses it for
// __cluster_metadata, so Kafka never hands it out and neither do we.
var oneUUID = TopicID{15: 1}

// String returns the id in Kafka's textual form, unpadded URL-safe base64
// (Uuid.toString), so that logs, kafka-topics.sh output and ZooKeeper's
// "topic_id" field all spell the same id the same way.
func (id TopicID) String() string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// parseTopicID is the inverse of TopicID.String (Kafka's Uuid.fromString).
func parseTopicID(s string) (TopicID, error) {
	var id TopicID
	if len(s) != 22 {
		return id, fmt.Errorf("uuid %q: want 22 base64 characters, got %d", s, len(s))
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return id, fmt.Errorf("uuid %q: %w", s, err)
	}
	copy(id[:], b)
	return id, nil
}

// randomUUID returns an id Kafka's Uuid.randomUuid could have returned: a
// random version 4 (RFC 4122 variant) UUID that is neither ZERO_UUID nor
// ONE_UUID and whose base64 form does not start with '-'. Kafka avoids the
// leading '-' because such ids read as options on tool command lines.
// taken, if not nil, rejects ids already in use.
func randomUUID(taken func(TopicID) bool) TopicID {
	for {
		var id TopicID
		_, _ = rand.Read(id[:]) // never fails since Go 1.24
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		if id == (TopicID{}) || id == oneUUID || strings.HasPrefix(id.String(), "-") {
			continue
		}
		if taken != nil && taken(id) {
			continue
		}
		return id
	}
}
