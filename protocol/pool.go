package protocol

import (
	"math/bits"
	"sync"
)

// Buffers come in power-of-two size classes from 4 KiB to 64 MiB, one
// sync.Pool each, so that a large fetch response reuses a large buffer
// instead of growing a small one by doubling (and zeroing each new array)
// on every request. Larger buffers are left to the garbage collector.
const (
	minClassShift = 12 // 4 KiB
	maxClassShift = 26 // 64 MiB
)

var pools [maxClassShift - minClassShift + 1]sync.Pool

// class returns the size class index holding n bytes, or -1 above the
// largest class.
func class(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	shift := bits.Len(uint(n - 1))
	if shift > maxClassShift {
		return -1
	}
	return shift - minClassShift
}

// getBuf returns an empty buffer with at least n bytes of capacity.
func getBuf(n int) *[]byte {
	c := class(n)
	if c < 0 {
		b := make([]byte, 0, n)
		return &b
	}
	if bp, ok := pools[c].Get().(*[]byte); ok {
		*bp = (*bp)[:0]
		return bp
	}
	b := make([]byte, 0, 1<<(c+minClassShift))
	return &b
}

// putBuf returns a buffer to the pool of its capacity; the caller must not
// touch it again. A buffer that grew past its class goes to the class its
// capacity fills.
func putBuf(bp *[]byte) {
	if bp == nil {
		return
	}
	n := cap(*bp)
	if n < 1<<minClassShift {
		return
	}
	// The largest class whose size fits in the capacity.
	c := bits.Len(uint(n)) - 1 - minClassShift
	if c >= len(pools) {
		return
	}
	*bp = (*bp)[:0]
	pools[c].Put(bp)
}
