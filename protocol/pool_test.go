package protocol

import "testing"

func TestBufferClasses(t *testing.T) {
	for _, n := range []int{0, 1, 4096, 4097, 1 << 20, 1<<20 + 1, 64 << 20} {
		bp := getBuf(n)
		if cap(*bp) < n || len(*bp) != 0 {
			t.Fatalf("getBuf(%d): len %d cap %d", n, len(*bp), cap(*bp))
		}
		putBuf(bp)
	}
	// A buffer that grew by append is reused for the class its capacity
	// covers, never handed out smaller than asked.
	b := make([]byte, 0, 5000)
	putBuf(&b)
	if got := getBuf(4096); cap(*got) < 4096 {
		t.Fatalf("cap %d", cap(*got))
	}
	if got := getBuf(8192); cap(*got) < 8192 {
		t.Fatalf("cap %d for 8192", cap(*got))
	}
}
