package logstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConcurrentAppendsAndReads(t *testing.T) {
	e := newEnv(t)
	e.open()
	const parts, perPart, writersPerPart = 6, 150, 2
	ps := make([]*Partition, parts)
	for i := range ps {
		ps[i] = e.create(fmt.Sprintf("c%d", i), int32(i), PartitionConfig{SegmentBytes: 3000})
	}
	var wg sync.WaitGroup
	var stop atomic.Bool
	errc := make(chan error, 100)
	report := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	// Writers: several per partition; every append must get a fresh range.
	for _, p := range ps {
		for w := 0; w < writersPerPart; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perPart; i++ {
					b := makeBatch(t, batchSpec{records: 1 + i%4, valueSize: 40, baseTs: int64(i)})
					h, _ := ParseBatchHeader(b)
					if _, err := p.Append(b, h); err != nil {
						report(err)
						return
					}
				}
			}()
		}
	}
	// Readers: random offsets below the end must return the containing
	// batch, intact.
	var readers sync.WaitGroup
	for r := 0; r < 8; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for !stop.Load() {
				p := ps[rng.IntN(parts)]
				leo := p.LogEndOffset()
				if leo == 0 {
					continue
				}
				off := rng.Int64N(leo)
				res, err := p.Read(off, int32(rng.IntN(8000)))
				if err != nil {
					report(err)
					return
				}
				if len(res.Batches) == 0 {
					report(fmt.Errorf("empty read at %d < %d", off, leo))
					return
				}
				h, err := ParseBatchHeader(res.Batches)
				if err != nil || off < h.BaseOffset || off > h.LastOffset() || !VerifyCRC(res.Batches) {
					report(fmt.Errorf("read at %d: batch [%d, %d] %v", off, h.BaseOffset, h.LastOffset(), err))
					return
				}
				res.Release()
			}
		}()
	}
	// Long-pollers.
	for _, p := range ps {
		readers.Add(1)
		go func() {
			defer readers.Done()
			seen := int64(0)
			for !stop.Load() {
				ch := p.Wait()
				if p.LogEndOffset() > seen {
					seen = p.LogEndOffset()
					continue
				}
				select {
				case <-ch:
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for _, p := range ps {
		got := readAll(t, p)
		if len(got) != perPart*writersPerPart {
			t.Fatalf("%s: %d batches", p.topic, len(got))
		}
	}
}

func TestReadersDuringRetention(t *testing.T) {
	e := newEnv(t)
	e.open()
	p := e.create("t", 0, PartitionConfig{SegmentBytes: 1000, RetentionBytes: 4000})
	var stop atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 10)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 600; i++ {
			b := makeBatch(t, batchSpec{records: 2, valueSize: 60})
			h, _ := ParseBatchHeader(b)
			if _, err := p.Append(b, h); err != nil {
				errc <- err
				return
			}
			if i%20 == 0 {
				e.s.RunRetention()
			}
		}
	}()
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				ls, leo := p.LogStartOffset(), p.LogEndOffset()
				if leo == ls {
					continue
				}
				off := ls + rand.Int64N(leo-ls)
				res, err := p.Read(off, 3000)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue // retention overtook us: a legal answer
				}
				if err != nil {
					errc <- err
					return
				}
				if len(res.Batches) > 0 && !VerifyCRC(res.Batches) {
					errc <- fmt.Errorf("corrupt read at %d", off)
					return
				}
				res.Release()
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	for p.LogEndOffset() < 1200 {
		select {
		case err := <-errc:
			t.Fatal(err)
		case <-time.After(time.Millisecond):
		}
	}
	stop.Store(true)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	if p.LogStartOffset() == 0 {
		t.Fatal("retention never ran")
	}
}
