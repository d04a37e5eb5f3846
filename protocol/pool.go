package protocol

import "sync"

// maxPooled is the largest buffer kept for reuse. Larger frames are rare
// (big produce batches) and are left to the garbage collector so that one
// huge request does not pin memory in the pool forever.
const maxPooled = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// getBuf returns an empty buffer with at least n bytes of capacity.
func getBuf(n int) *[]byte {
	if n > maxPooled {
		b := make([]byte, 0, n)
		return &b
	}
	bp := bufPool.Get().(*[]byte)
	if cap(*bp) < n {
		*bp = make([]byte, 0, n)
	}
	*bp = (*bp)[:0]
	return bp
}

// putBuf returns a buffer to the pool; the caller must not touch it again.
func putBuf(bp *[]byte) {
	if bp == nil || cap(*bp) > maxPooled {
		return
	}
	*bp = (*bp)[:0]
	bufPool.Put(bp)
}
