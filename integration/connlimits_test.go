package integration

import (
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// TestMaxConnectionsPerIP: with max.connections.per.ip=2 a third
// connection from 127.0.0.1 is closed at once while the first two keep
// working; closing one makes room again.
func TestMaxConnectionsPerIP(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "max.connections.per.ip=2")
	c1, c2 := dialRaw(t, b.Addr()), dialRaw(t, b.Addr())
	for i, c := range []net.Conn{c1, c2} {
		writeRequest(t, c, int32(i), kmsg.NewPtrApiVersionsRequest())
		readFrame(t, c)
	}
	c3 := dialRaw(t, b.Addr())
	expectClosed(t, c3)
	c1.Close()
	time.Sleep(100 * time.Millisecond) // the broker notices c1's close
	c4 := dialRaw(t, b.Addr())
	writeRequest(t, c4, 9, kmsg.NewPtrApiVersionsRequest())
	readFrame(t, c4)
	writeRequest(t, c2, 8, kmsg.NewPtrApiVersionsRequest())
	readFrame(t, c2)
}

// TestMaxConnections: with max.connections=1 a second connection is
// accepted by the kernel but not served until the first closes, as
// Kafka's acceptor waits for a connection slot.
func TestMaxConnections(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "max.connections=1")
	c1 := dialRaw(t, b.Addr())
	writeRequest(t, c1, 1, kmsg.NewPtrApiVersionsRequest())
	readFrame(t, c1)
	c2 := dialRaw(t, b.Addr())
	writeRequest(t, c2, 2, kmsg.NewPtrApiVersionsRequest())
	c2.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c2.Read(make([]byte, 1)); err == nil {
		t.Fatal("second connection served while the first is open")
	}
	c1.Close()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	readFrame(t, c2)
}
