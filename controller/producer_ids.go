package controller

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
)

// keyNextProducerID holds the first producer id not yet handed out, as a
// decimal string.
const keyNextProducerID = "producer/next-id"

// AllocateProducerIDs implements Controller. The new high-water mark is
// written with a synced write before any id is returned, so a crash can
// only skip ids, never reuse them.
func (s *Single) AllocateProducerIDs(ctx context.Context, count int) (int64, error) {
	if count <= 0 {
		return 0, errors.New("controller: producer id count must be positive")
	}
	if err := s.lockWrite(ctx); err != nil {
		return 0, err
	}
	defer s.unlockWrite()
	first := s.nextProducerID
	if first > math.MaxInt64-int64(count) {
		return 0, errors.New("controller: producer ids exhausted")
	}
	next := first + int64(count)
	err := s.db.Write(func(db *pebble.DB) error {
		return db.Set([]byte(keyNextProducerID), []byte(strconv.FormatInt(next, 10)), pebble.Sync)
	})
	if err != nil {
		return 0, fmt.Errorf("controller: persist producer id block: %w", err)
	}
	s.nextProducerID = next
	return first, nil
}
