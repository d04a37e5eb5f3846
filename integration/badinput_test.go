package integration

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// frame builds a request frame: size, key, version, correlation id, client
// id (header v1), then body.
func frame(key, version int16, corr int32, body []byte) []byte {
	b := make([]byte, 4, 64+len(body))
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "test"...)
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// expectClosed asserts that the broker closes c without answering.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	buf := make([]byte, 1)
	n, err := c.Read(buf)
	if err == nil || n > 0 {
		t.Fatalf("connection not closed: read %d bytes, err %v", n, err)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection left open (read timed out)")
	}
}

func readResponse(t *testing.T, c net.Conn) (int32, []byte) {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("read response size: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("read response: %v", err)
	}
	return int32(binary.BigEndian.Uint32(body)), body[4:]
}

// assertHealthy checks that the broker process lives and serves a new
// client.
func assertHealthy(t *testing.T, b *testbroker.Broker) {
	t.Helper()
	if !b.Alive() {
		t.Fatalf("broker died\n%s", b.Output())
	}
	adm := newAdmin(t, b.Addr())
	if _, err := adm.ListTopics(ctxT(t)); err != nil {
		t.Fatalf("broker not serving after bad input: %v\n%s", err, b.Output())
	}
	adm.Close()
}

func TestBadInput(t *testing.T) {
	eachMode(t, func(t *testing.T, b *testbroker.Broker) {
		// A healthy connection opened before the bad ones must keep working.
		good := dial(t, b.Addr())

		cases := []struct {
			name string
			data []byte
		}{
			{"negative size", []byte{0xff, 0xff, 0xff, 0xff}},
			{"size above socket.request.max.bytes", []byte{0x7f, 0xff, 0xff, 0xff}},
			{"size just above limit", binary.BigEndian.AppendUint32(nil, 1<<20+1)},
			{"header shorter than fixed fields", []byte{0, 0, 0, 3, 0, 18, 0}},
			{"unknown api key", frame(999, 0, 1, nil)},
			{"unadvertised metadata version", frame(3, 99, 1, nil)},
			{"negative version", frame(3, -1, 1, nil)},
			{"garbage metadata body", frame(3, 9, 1, []byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3})},
			{"garbage produce body", frame(0, 9, 1, []byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9})},
			{"client id longer than frame", []byte{0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0x7f, 0xff}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				conn := dial(t, b.Addr())
				if _, err := conn.Write(c.data); err != nil {
					t.Fatal(err)
				}
				expectClosed(t, conn)
				assertHealthy(t, b)
			})
		}

		t.Run("frame cut short", func(t *testing.T) {
			conn := dial(t, b.Addr())
			f := frame(18, 3, 1, nil)
			conn.Write(f[:len(f)-3])
			conn.Close()
			assertHealthy(t, b)
		})

		t.Run("ApiVersions at unknown version negotiates down", func(t *testing.T) {
			conn := dial(t, b.Addr())
			if _, err := conn.Write(frame(18, 99, 42, nil)); err != nil {
				t.Fatal(err)
			}
			corr, body := readResponse(t, conn)
			if corr != 42 {
				t.Fatalf("correlation id %d", corr)
			}
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.Version = 0
			if err := resp.ReadFrom(body); err != nil {
				t.Fatalf("v0 ApiVersions response does not decode: %v", err)
			}
			if resp.ErrorCode != 35 || len(resp.ApiKeys) == 0 {
				t.Fatalf("got error %d with %d keys, want UNSUPPORTED_VERSION with the ranges", resp.ErrorCode, len(resp.ApiKeys))
			}
			// The connection stays usable.
			conn.Write(frame(18, 0, 43, nil))
			if corr, _ := readResponse(t, conn); corr != 43 {
				t.Fatalf("follow-up correlation id %d", corr)
			}
		})

		t.Run("pipelined requests answered in order", func(t *testing.T) {
			conn := dial(t, b.Addr())
			var batch []byte
			for i := int32(0); i < 20; i++ {
				batch = append(batch, frame(18, 0, 100+i, nil)...)
			}
			conn.Write(batch)
			for i := int32(0); i < 20; i++ {
				if corr, _ := readResponse(t, conn); corr != 100+i {
					t.Fatalf("response %d has correlation id %d", i, corr)
				}
			}
		})

		good.Write(frame(18, 0, 7, nil))
		if corr, _ := readResponse(t, good); corr != 7 {
			t.Fatalf("earlier connection disturbed: correlation id %d", corr)
		}
	}, "socket.request.max.bytes=1048576")
}

// flexFrame is frame for flexible versions: header v2 adds an empty
// tagged-field section after the client id.
func flexFrame(key, version int16, corr int32, body []byte) []byte {
	return frame(key, version, corr, append([]byte{0}, body...))
}

// TestHugeClaimedCounts sends requests whose counts and lengths claim far
// more than the frame holds, at the top level and nested in array
// elements, all at once. Each must be rejected at once (Kafka: buffer
// underflow, connection closed) and must not slow other clients: with kmsg
// v1.15.0 the 26-byte DescribeCluster frame alone kept a core busy ~28 s.
func TestHugeClaimedCounts(t *testing.T) {
	const max31 = "\xff\xff\xff\xff\x07" // uvarint 2^31-1
	describeCluster := []byte{0, 0, 0, 22, 0, 60, 0, 0, 0, 0, 0, 1, 0, 5, 'b', 'o', 'm', 'b', '!', 0, 0}
	describeCluster = append(describeCluster, max31...)
	if len(describeCluster) != 26 {
		t.Fatalf("DescribeCluster frame is %d bytes, want the reported 26", len(describeCluster))
	}
	produceV3 := []byte{0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}
	produceV9 := append([]byte{0, 0, 1, 0, 0, 0x75, 0x30, 2, 2, 't', 2, 0, 0, 0, 0, 1}, max31...)
	metadataV12 := append(append([]byte{2}, make([]byte, 16)...), 2, 'a')
	metadataV12 = append(metadataV12, max31...)
	cases := []struct {
		name string
		data []byte
	}{
		{"DescribeCluster v0 claiming 2^31-1 tags", describeCluster},
		{"Metadata v12 topics compact array of 2^31-2", flexFrame(3, 12, 1, []byte(max31))},
		{"Metadata v1 topics array of 2^31-1", frame(3, 1, 1, []byte{0x7f, 0xff, 0xff, 0xff})},
		{"Metadata v12 topic element claiming 2^31-1 tags", flexFrame(3, 12, 1, metadataV12)},
		{"CreateTopics v2 topic name of 32767 bytes", frame(19, 2, 1, []byte{0, 0, 0, 1, 0x7f, 0xff, 'a'})},
		{"ApiVersions v3 software name of 2^31-2 bytes", flexFrame(18, 3, 1, []byte(max31))},
		{"Produce v3 records of 2^31-1 bytes", frame(0, 3, 1, produceV3)},
		{"Produce v9 partition element claiming 2^31-1 tags", flexFrame(0, 9, 1, produceV9)},
	}
	eachMode(t, func(t *testing.T, b *testbroker.Broker) {
		good := dial(t, b.Addr())
		conns := make([]net.Conn, len(cases))
		sent := time.Now()
		for i, c := range cases {
			conns[i] = dial(t, b.Addr())
			if _, err := conns[i].Write(c.data); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		// Meanwhile another client is answered promptly.
		start := time.Now()
		good.Write(frame(18, 0, 7, nil))
		if corr, _ := readResponse(t, good); corr != 7 {
			t.Fatalf("correlation id %d", corr)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("ApiVersions took %v while the hostile frames were handled", d)
		}
		// Each is closed within 2 s of sending, without an answer. The
		// reads run at once: a read after its deadline would report a
		// timeout even for a closed connection.
		type outcome struct {
			n     int
			err   error
			after time.Duration
		}
		outcomes := make([]chan outcome, len(cases))
		for i := range cases {
			outcomes[i] = make(chan outcome, 1)
			conns[i].SetReadDeadline(sent.Add(2 * time.Second))
			go func() {
				n, err := conns[i].Read(make([]byte, 1))
				outcomes[i] <- outcome{n, err, time.Since(sent)}
			}()
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				o := <-outcomes[i]
				if ne, ok := o.err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("connection still open %v after sending", o.after)
				}
				if o.err == nil || o.n > 0 {
					t.Fatalf("answered instead of closed: read %d bytes, err %v", o.n, o.err)
				}
			})
		}
		assertHealthy(t, b)
	}, "socket.request.max.bytes=1048576")
}
