package logstore

import "math"

// ReadBelowStart is Read for lookups that, as in Kafka, may answer with a
// record below the log start offset while its segment still exists:
// ListOffsets MAX_TIMESTAMP names the record with the largest timestamp
// in the log's segments even after DeleteRecords moved the log start past
// it (measured against Kafka 4.3.1 by the conformance suite). Offsets in
// segments retention already deleted give ErrOffsetOutOfRange or nothing.
func (p *Partition) ReadBelowStart(offset int64, maxBytes int32) (ReadResult, error) {
	return p.read(offset, maxBytes, true, false, false, false)
}

// SegmentEnd returns the base offset of the segment after the one holding
// offset (math.MaxInt64 for the active segment): a lookup that, like
// Kafka's LogSegment.findOffsetByTimestamp, searches one segment stops
// there.
func (p *Partition) SegmentEnd(offset int64) int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for i, s := range p.segs {
		if i+1 < len(p.segs) && p.segs[i+1].base <= offset {
			continue
		}
		_ = s
		if i+1 < len(p.segs) {
			return p.segs[i+1].base
		}
		break
	}
	return math.MaxInt64
}
