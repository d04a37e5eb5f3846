package logstore

// Read hints: finding a read's first batch without the index.
//
// Every read starts by turning an offset into a segment and a position.
// The index answers that with a Pebble iterator (open, SeekLT, close:
// 3-10 µs, more once the index outgrows Pebble's block cache). Two cases
// are common enough to answer from what is already known:
//
//   - the offset a segment starts with: a consumer reading from the
//     earliest offset, or crossing into the next segment. The batch is at
//     position 0 of that segment.
//   - the offset where an earlier read stopped: a consumer or follower
//     reading on sequentially. Each partition remembers the last
//     readHintSlots such stops (segment, position, offset expected there).
//
// Either way the position is only a candidate. The batch header there is
// read (the read needs it anyway) and used only when it parses, holds the
// offset, and ends within the segment's published size; anything else
// falls back to the index. A hint is dropped when a cleaner swap or a log
// dir move (swapSeq) or a truncation (truncations) happened after it was
// taken, since those rewrite positions: what remains is a batch boundary
// of the current file, and the file is the truth the index is built from.
//
// Locking: hintMu guards the slots; it is held for a few loads and
// stores, never across I/O.

// Tests only: testNoReadHints turns locateFast off, so that a test can
// compare reads with and without it; testHookFastLocate runs when
// locateFast found a batch.
var (
	testNoReadHints    bool
	testHookFastLocate func()
)

// readHintSlots is how many read stops a partition remembers: one per
// consumer (or follower) reading it sequentially, up to this many before
// the oldest is overwritten.
const readHintSlots = 4

// readHint is a position where a read stopped.
type readHint struct {
	swapSeq, truncations uint64 // the partition's counters when the read began
	segBase              int64  // the segment read
	pos                  int64  // the position after the last batch returned
	next                 int64  // the offset a read at pos starts with; 0 for an empty slot
}

// hintAt returns the remembered position of offset, if a slot taken at
// the current swapSeq and truncations has it.
func (p *Partition) hintAt(offset int64, seq, trunc uint64) (segBase, pos int64, ok bool) {
	if offset <= 0 {
		return 0, 0, false
	}
	p.hintMu.Lock()
	defer p.hintMu.Unlock()
	for i := range p.hints {
		h := &p.hints[i]
		if h.next == offset && h.swapSeq == seq && h.truncations == trunc {
			return h.segBase, h.pos, true
		}
	}
	return 0, 0, false
}

// remember records that a read that began at (seq, trunc) stopped at pos
// of the segment at segBase, where offset next is expected. A slot for
// the offset the read started at is reused (the same reader moved on),
// else the oldest.
func (p *Partition) remember(from int64, seq, trunc uint64, segBase, pos, next int64) {
	if next <= from {
		return
	}
	p.hintMu.Lock()
	defer p.hintMu.Unlock()
	i := -1
	for j := range p.hints {
		if h := &p.hints[j]; h.next == from || h.next == next {
			i = j
			break
		}
	}
	if i < 0 {
		i = int(p.hintNext)
		p.hintNext = (p.hintNext + 1) % readHintSlots
	}
	p.hints[i] = readHint{swapSeq: seq, truncations: trunc, segBase: segBase, pos: pos, next: next}
}

// locateFast finds the batch holding offset from a read hint or a
// segment start (see the top of this file), reading the batch's header
// into head (len BatchHeaderSize). It returns the segment, referenced,
// and the batch's entry as the index would give it, or ok false: then
// the index is asked.
func (p *Partition) locateFast(offset int64, seq, trunc uint64, head []byte) (seg *segment, e indexEntry, ok bool) {
	if testNoReadHints {
		return nil, e, false
	}
	defer func() {
		if ok && testHookFastLocate != nil {
			testHookFastLocate()
		}
	}()
	var pos int64
	if base, at, found := p.hintAt(offset, seq, trunc); found {
		seg = p.segmentAt(base)
		pos = at
	} else {
		seg = p.segmentAt(offset) // position 0 when offset starts a segment
	}
	if seg == nil {
		return nil, e, false
	}
	size := seg.size.Load()
	if pos+BatchHeaderSize > size || p.readSegment(seg, head, pos) != nil {
		seg.release()
		return nil, e, false
	}
	h, err := ParseBatchHeader(head)
	if err != nil || h.BaseOffset > offset || h.LastOffset() < offset || pos+int64(h.TotalSize()) > size ||
		p.swapSeq.Load() != seq || p.truncations.Load() != trunc {
		seg.release()
		return nil, e, false
	}
	return seg, entryFromHeader(&h, seg.base, pos), true
}
