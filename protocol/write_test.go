package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteSplicedPieces sends spliced Fetch responses made of encoded
// bytes, file ranges of a real file (sendfile above smallRange, read into
// the writev below it) and ranges already in memory (FileRange.Bytes)
// through the write loop's writer over a real TCP connection, and checks
// that the peer receives kmsg's encoding byte for byte, that the large
// file ranges went by sendfile, and that every range is released once.
func TestWriteSplicedPieces(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	sc, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer sc.Close()
	w := newRespWriter(&conn{nc: sc, rw: sc})
	if w.raw == nil {
		t.Fatal("a plain TCP connection has no raw conn: sendfile is off")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "segment"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fileBytes, memBytes, stagedBytes int64
	sentBefore := SendfileBytes()
	for seed := uint64(0); seed < 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		resp := randFetchResponse(rng, int16(4+rng.IntN(14)))
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if rng.IntN(4) == 0 { // above smallRange: sendfile
					b := make([]byte, smallRange+1+rng.IntN(smallRange))
					for k := range b {
						b[k] = byte(rng.Uint32())
					}
					resp.Topics[i].Partitions[j].RecordBatches = b
				}
			}
		}
		want := AppendResponse(nil, 7, resp)
		released, ranges := 0, 0
		r := &Request{}
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				p := &resp.Topics[i].Partitions[j]
				b := p.RecordBatches
				if len(b) == 0 || rng.IntN(4) == 0 {
					continue // stays in the encoded bytes
				}
				ranges++
				if rng.IntN(2) == 0 {
					memBytes += int64(len(b))
					p.RecordBatches = r.SpliceRecords(FileRange{Bytes: append([]byte(nil), b...), Len: int64(len(b)), Release: func() { released++ }})
					continue
				}
				pos, err := f.Seek(0, io.SeekEnd)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write(b); err != nil {
					t.Fatal(err)
				}
				if len(b) > smallRange {
					fileBytes += int64(len(b))
				} else {
					stagedBytes += int64(len(b))
				}
				p.RecordBatches = r.SpliceRecords(FileRange{File: f, Pos: pos, Len: int64(len(b)), Release: func() { released++ }})
			}
		}
		if r.splice == nil {
			// No range: a splicer with a nonce, as SpliceRecords draws
			// one (a pooled one's may be zero, and zero bytes are common
			// in an encoded response).
			r.splice = splicerPool.Get().(*splicer)
			binary.LittleEndian.PutUint64(r.splice.nonce[:], rng.Uint64()|1)
		}
		out := splicedPool.Get().(*spliced)
		if err := spliceResponse(getBuf(0), 7, resp, r.splice, out); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		r.splice.release()
		got := make(chan []byte, 1)
		go func() {
			b := make([]byte, len(want))
			if _, err := io.ReadFull(peer, b); err != nil {
				b = nil
			}
			got <- b
		}()
		if err := w.write([]outMsg{{sp: out}}); err != nil {
			t.Fatalf("seed %d: write: %v", seed, err)
		}
		out.release()
		if b := <-got; !bytes.Equal(b, want) {
			t.Fatalf("seed %d: the peer read %d bytes that differ from kmsg's %d", seed, len(b), len(want))
		}
		if released != ranges {
			t.Fatalf("seed %d: %d of %d ranges released", seed, released, ranges)
		}
	}
	if fileBytes == 0 || memBytes == 0 || stagedBytes == 0 {
		t.Fatalf("the responses had %d bytes in large and %d in small file ranges, %d in memory; want all three", fileBytes, stagedBytes, memBytes)
	}
	if sent := SendfileBytes() - sentBefore; sent < fileBytes {
		t.Fatalf("sendfile sent %d bytes of the %d in large file ranges", sent, fileBytes)
	}
}

// TestWriteShortRange: a file range that ends before its length (the
// segment was truncated after the response was built) fails the write
// with errFileShort, whether it goes by sendfile or is read into the
// writev (one after the other on the same writer).
func TestWriteShortRange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	w := newRespWriter(&conn{nc: peer, rw: peer})
	f, err := os.Create(filepath.Join(t.TempDir(), "segment"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{smallRange, 4 * smallRange} { // staged, sendfile
		out := splicedPool.Get().(*spliced)
		out.pieces = append(out.pieces, piece{b: []byte("head")}, piece{fr: FileRange{File: f, Pos: 500, Len: n}})
		if err := w.write([]outMsg{{sp: out}}); !errors.Is(err, errFileShort) {
			t.Errorf("range of %d bytes over a 1000-byte file at 500: %v, want errFileShort", n, err)
		}
		out.release()
	}
}
