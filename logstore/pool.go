package logstore

import (
	"math/bits"
	"sync"
)

// Read buffers come from power-of-two size classes so that a Fetch does not
// allocate its response bytes: 4 KiB up to 16 MiB. Larger reads (a single
// batch bigger than 16 MiB) allocate and are left to the GC.
const (
	minBufShift = 12
	maxBufShift = 24
)

type readBuf struct {
	b       []byte
	class   int
	release func() // rb.put, bound once so that handing it out does not allocate
}

var readBufPools [maxBufShift - minBufShift + 1]sync.Pool

func bufClass(n int) int {
	if n <= 1<<minBufShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufShift
}

// getReadBuf returns a buffer with len(b) == n.
func getReadBuf(n int) *readBuf {
	if n > 1<<maxBufShift {
		return &readBuf{b: make([]byte, n), class: -1}
	}
	c := bufClass(n)
	if v := readBufPools[c].Get(); v != nil {
		rb := v.(*readBuf)
		rb.b = rb.b[:n]
		return rb
	}
	rb := &readBuf{b: make([]byte, n, 1<<(c+minBufShift)), class: c}
	rb.release = rb.put
	return rb
}

func (rb *readBuf) put() {
	if rb.class >= 0 {
		readBufPools[rb.class].Put(rb)
	}
}
