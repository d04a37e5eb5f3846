package logstore

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// benchBatch is ~16 KiB: 16 records of 1 KiB.
func benchBatch(b *testing.B) []byte {
	return makeBatch(b, batchSpec{records: 16, valueSize: 1024, baseTs: 1})
}

func BenchmarkAppend(b *testing.B) {
	e := newEnv(b)
	e.open()
	p := e.create("bench", 0, PartitionConfig{SegmentBytes: 256 << 20})
	batch := benchBatch(b)
	h := mustHeader(b, batch)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Append(batch, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendParallelPartitions(b *testing.B) {
	e := newEnv(b)
	e.open()
	const parts = 8
	ps := make([]*Partition, parts)
	for i := range ps {
		ps[i] = e.create(fmt.Sprintf("bench%d", i), 0, PartitionConfig{SegmentBytes: 256 << 20})
	}
	var next atomic.Int32
	proto := benchBatch(b)
	b.SetBytes(int64(len(proto)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := ps[int(next.Add(1))%parts]
		batch := append([]byte(nil), proto...)
		h := mustHeader(b, batch)
		for pb.Next() {
			if _, err := p.Append(batch, h); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkRead(b *testing.B) { benchRead(b, false) }

// BenchmarkReadCommitted is BenchmarkRead at isolation read_committed on a
// log without transactions (librdkafka's default isolation).
func BenchmarkReadCommitted(b *testing.B) { benchRead(b, true) }

func benchRead(b *testing.B, committed bool) {
	e := newEnv(b)
	e.open()
	p := e.create("bench", 0, PartitionConfig{SegmentBytes: 64 << 20})
	batch := benchBatch(b)
	h := mustHeader(b, batch)
	const n = 2000
	for i := 0; i < n; i++ {
		if _, err := p.Append(batch, h); err != nil {
			b.Fatal(err)
		}
	}
	leo := p.LogEndOffset()
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	off := int64(0)
	for b.Loop() {
		var res ReadResult
		var err error
		if committed {
			res, _, err = p.ReadCommitted(off, int32(len(batch)))
		} else {
			res, err = p.Read(off, int32(len(batch)))
		}
		if err != nil || len(res.Batches) != len(batch) {
			b.Fatalf("read %d: %v %d", off, err, len(res.Batches))
		}
		res.Release()
		off += 16 * 37
		if off >= leo {
			off -= leo
		}
	}
}

// BenchmarkReadFileSequential is a consumer of many partitions with a few
// KiB new in each (the 10,000-partition consume of bench/scale.go):
// ReadFile on 200 partitions in turn, each read starting where that
// partition's last one stopped, with read hints (readhint.go) and with
// the index alone.
func BenchmarkReadFileSequential(b *testing.B) {
	for _, hints := range []bool{true, false} {
		name := "hints"
		if !hints {
			name = "index"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b)
			e.open()
			const parts, batches = 200, 400
			ps := make([]*Partition, parts)
			batch := makeBatch(b, batchSpec{records: 4, valueSize: 1000, baseTs: 1})
			h := mustHeader(b, batch)
			for i := range ps {
				ps[i] = e.create(fmt.Sprintf("seq%d", i), 0, PartitionConfig{SegmentBytes: 64 << 20})
				for range batches {
					if _, err := ps[i].Append(batch, h); err != nil {
						b.Fatal(err)
					}
				}
			}
			testNoReadHints = !hints
			defer func() { testNoReadHints = false }()
			next := make([]int64, parts)
			b.SetBytes(int64(2 * len(batch)))
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				p := ps[i]
				res, err := p.ReadFile(next[i], int32(2*len(batch)))
				if err != nil || res.Len() != 2*len(batch) {
					b.Fatalf("read %d at %d: %v, %d bytes", i, next[i], err, res.Len())
				}
				res.Release()
				if next[i] += 8; next[i] >= p.LogEndOffset() {
					next[i] = 0
				}
				i = (i + 1) % parts
			}
		})
	}
}
