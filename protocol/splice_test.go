package protocol

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// randFetchResponse builds a FetchResponse of the given version with
// random topics, partitions, offsets, aborted transactions, tags, brokers
// and record bytes (possibly empty), all drawn from rng.
func randFetchResponse(rng *rand.Rand, version int16) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = version
	resp.ThrottleMillis = rng.Int32()
	resp.ErrorCode = int16(rng.IntN(100))
	resp.SessionID = rng.Int32()
	randBytes := func(max int) []byte {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	if version >= 12 && rng.IntN(3) == 0 {
		resp.UnknownTags.Set(uint32(10+rng.IntN(5)), randBytes(20))
	}
	for range rng.IntN(4) {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = string(randBytes(30))
		for i := range t.TopicID {
			t.TopicID[i] = byte(rng.Uint32())
		}
		for range rng.IntN(5) {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition, p.ErrorCode = rng.Int32(), int16(rng.IntN(120))
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = rng.Int64(), rng.Int64(), rng.Int64()
			p.PreferredReadReplica = rng.Int32()
			if rng.IntN(3) == 0 {
				p.DivergingEpoch.Epoch, p.DivergingEpoch.EndOffset = rng.Int32(), rng.Int64()
			}
			if rng.IntN(3) == 0 {
				p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = rng.Int32(), rng.Int32()
			}
			if rng.IntN(4) == 0 {
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
				for range rng.IntN(4) {
					a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
					a.ProducerID, a.FirstOffset = rng.Int64(), rng.Int64()
					p.AbortedTransactions = append(p.AbortedTransactions, a)
				}
			}
			switch rng.IntN(4) {
			case 0:
				p.RecordBatches = []byte{}
			case 1:
				p.RecordBatches = randBytes(20)
			default:
				// Sizes around the uvarint boundaries (127, 16383).
				p.RecordBatches = randBytes([]int{130, 300, 17000}[rng.IntN(3)])
			}
			if version >= 12 && rng.IntN(4) == 0 {
				p.UnknownTags.Set(uint32(5+rng.IntN(3)), randBytes(10))
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if version >= 16 && rng.IntN(2) == 0 {
		b := kmsg.NewFetchResponseBroker()
		b.NodeID, b.Host, b.Port = rng.Int32(), string(randBytes(10)), rng.Int32()
		resp.Brokers = append(resp.Brokers, b)
	}
	return resp
}

// checkSplice encodes resp with kmsg, then replaces the records of a
// random subset of its partitions by SpliceRecords markers over a
// scratch "file", splices, and checks that the pieces with the file's
// bytes filled in equal kmsg's encoding byte for byte, and that every
// range is released exactly once.
func checkSplice(t testing.TB, seed uint64, version int16) {
	rng := rand.New(rand.NewPCG(seed, uint64(version)))
	resp := randFetchResponse(rng, version)
	want := AppendResponse(nil, 42, resp)

	var file []byte
	released := 0
	r := &Request{}
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			p := &resp.Topics[i].Partitions[j]
			if rng.IntN(4) == 0 {
				continue // stays inline (the pread path)
			}
			if rng.IntN(3) == 0 && len(p.RecordBatches) > 0 {
				// Bytes in memory (a small range logstore read).
				b := append([]byte(nil), p.RecordBatches...)
				p.RecordBatches = r.SpliceRecords(FileRange{Bytes: b, Len: int64(len(b)), Release: func() { released++ }})
				continue
			}
			pad := rng.IntN(50)
			file = append(file, make([]byte, pad)...)
			pos := len(file)
			file = append(file, p.RecordBatches...)
			p.RecordBatches = r.SpliceRecords(FileRange{Pos: int64(pos), Len: int64(len(p.RecordBatches)), Release: func() { released++ }})
		}
	}
	ranges := 0
	if r.splice != nil {
		ranges = len(r.splice.ranges)
		for i := range r.splice.ranges {
			if r.splice.ranges[i].Bytes == nil {
				r.splice.ranges[i].File = bytes.NewReader(file)
			}
		}
	} else {
		// No range: a splicer with a nonce, as SpliceRecords draws
		// one (a pooled one's may be zero, and zero bytes are common
		// in an encoded response).
		r.splice = splicerPool.Get().(*splicer)
		binary.LittleEndian.PutUint64(r.splice.nonce[:], rng.Uint64()|1)
	}
	out := splicedPool.Get().(*spliced)
	bp := getBuf(0)
	if err := spliceResponse(bp, 42, resp, r.splice, out); err != nil {
		t.Fatalf("seed %d v%d: %v", seed, version, err)
	}
	r.splice.release()
	r.splice = nil
	if released != 0 {
		t.Fatalf("seed %d v%d: %d ranges released before the write", seed, version, released)
	}
	var got []byte
	for _, p := range out.pieces {
		if p.b != nil {
			got = append(got, p.b...)
			continue
		}
		if p.fr.Bytes != nil {
			got = append(got, p.fr.Bytes...)
			continue
		}
		b := make([]byte, p.fr.Len)
		if _, err := p.fr.File.ReadAt(b, p.fr.Pos); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		got = append(got, b...)
	}
	if int64(len(got)) != out.size {
		t.Fatalf("seed %d v%d: pieces hold %d bytes, size says %d", seed, version, len(got), out.size)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("seed %d v%d: spliced response differs from kmsg's encoding\n got %x\nwant %x", seed, version, got, want)
	}
	out.release()
	if released != ranges {
		t.Fatalf("seed %d v%d: %d of %d ranges released", seed, version, released, ranges)
	}
}

// TestSpliceEveryVersion checks the splice against kmsg's own encoding for
// every Fetch response version kmsg knows.
func TestSpliceEveryVersion(t *testing.T) {
	for v := int16(0); v <= kmsg.NewPtrFetchResponse().MaxVersion(); v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			for seed := uint64(0); seed < 50; seed++ {
				checkSplice(t, seed, v)
			}
		})
	}
}

// TestSpliceUnusedRangesReleased: a range whose marker is not in the
// encoded response (the partition was filtered out by a fetch session, or
// another response went out) is released, not sent.
func TestSpliceUnusedRangesReleased(t *testing.T) {
	released := 0
	r := &Request{}
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	tp := kmsg.NewFetchResponseTopic()
	p := kmsg.NewFetchResponseTopicPartition()
	p.RecordBatches = r.SpliceRecords(FileRange{File: bytes.NewReader([]byte("abc")), Len: 3, Release: func() { released++ }})
	_ = r.SpliceRecords(FileRange{File: bytes.NewReader([]byte("abc")), Len: 3, Release: func() { released++ }})
	tp.Partitions = append(tp.Partitions, p)
	resp.Topics = append(resp.Topics, tp)
	out := splicedPool.Get().(*spliced)
	sp := r.splice
	r.splice = nil
	if err := spliceResponse(getBuf(0), 1, resp, sp, out); err != nil {
		t.Fatal(err)
	}
	sp.release()
	if released != 1 {
		t.Fatalf("after splicing, %d ranges released; want the unused one", released)
	}
	out.release()
	if released != 2 {
		t.Fatalf("after the write, %d ranges released; want 2", released)
	}
	r.SpliceRecords(FileRange{Release: func() { released++ }})
	r.DropSplices()
	if released != 3 {
		t.Fatalf("DropSplices released %d; want 3", released)
	}
}

// FuzzSpliceFetchResponse: for random FetchResponses of every version,
// the spliced pieces with the records filled in equal kmsg's AppendTo of
// the real response.
func FuzzSpliceFetchResponse(f *testing.F) {
	for v := range 19 {
		f.Add(uint64(v)*7919, uint8(v))
	}
	max := kmsg.NewPtrFetchResponse().MaxVersion()
	f.Fuzz(func(t *testing.T, seed uint64, version uint8) {
		checkSplice(t, seed, int16(version)%(max+1))
	})
}
