package integration

import (
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// idleMs is the connections.max.idle.ms the idle tests run with.
const idleMs = 300

// waitClosed reads from c until the broker closes it and returns how long
// after since that was; it fails if the connection stays open for 5 s or
// answers.
func waitClosed(t *testing.T, c net.Conn, since time.Time) time.Duration {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	took := time.Since(since)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v (connections.max.idle.ms=%d)", took, idleMs)
	}
	if err == nil || n > 0 {
		t.Fatalf("read %d bytes, err %v; want a close", n, err)
	}
	return took
}

// roundTrip sends an ApiVersions v0 request with correlation id corr on c
// and checks that it is answered.
func roundTrip(t *testing.T, c net.Conn, corr int32) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(frame(18, 0, corr, nil)); err != nil {
		t.Fatalf("request %d: %v", corr, err)
	}
	if got, _ := readResponse(t, c); got != corr {
		t.Fatalf("correlation id %d, want %d", got, corr)
	}
}

// TestConnectionsMaxIdle checks Kafka's connections.max.idle.ms: a
// connection with nothing in flight and no traffic for that long is
// closed by the broker; traffic in either direction, or a request in
// flight (a long-poll Fetch), keeps it open.
func TestConnectionsMaxIdle(t *testing.T) {
	eachMode(t, func(t *testing.T, b *testbroker.Broker) {
		adm := newAdmin(t, b.Addr())
		if _, err := adm.CreateTopic(ctxT(t), 1, 1, nil, "idle"); err != nil {
			t.Fatal(err)
		}
		adm.Close()
		idle := idleMs * time.Millisecond

		t.Run("silent connection is closed", func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			c := dial(t, b.Addr())
			took := waitClosed(t, c, start)
			if took < idle-50*time.Millisecond {
				t.Fatalf("closed after %v, before connections.max.idle.ms", took)
			}
			t.Logf("closed after %v", took)
		})

		t.Run("closed after the last response", func(t *testing.T) {
			t.Parallel()
			c := dial(t, b.Addr())
			roundTrip(t, c, 1)
			answered := time.Now()
			took := waitClosed(t, c, answered)
			if took < idle-50*time.Millisecond {
				t.Fatalf("closed %v after the last response", took)
			}
		})

		t.Run("half-sent frame is closed", func(t *testing.T) {
			t.Parallel()
			c := dial(t, b.Addr())
			c.Write([]byte{0, 0})
			waitClosed(t, c, time.Now())
		})

		t.Run("requests more often than the limit keep it open", func(t *testing.T) {
			t.Parallel()
			c := dial(t, b.Addr())
			for i := int32(0); i < 12; i++ { // 1.2 s, four idle limits
				roundTrip(t, c, i)
				time.Sleep(idle / 3)
			}
			roundTrip(t, c, 99)
		})

		t.Run("a frame trickling in keeps it open", func(t *testing.T) {
			t.Parallel()
			c := dial(t, b.Addr())
			f := frame(18, 0, 5, nil)
			for i := range f { // one byte per third of the limit
				if _, err := c.Write(f[i : i+1]); err != nil {
					t.Fatalf("byte %d: %v", i, err)
				}
				time.Sleep(idle / 3)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if corr, _ := readResponse(t, c); corr != 5 {
				t.Fatalf("correlation id %d", corr)
			}
		})

		t.Run("a peer that stops reading responses is closed", func(t *testing.T) {
			t.Parallel()
			// Small requests, each answered at once by the read loop
			// itself (the write loop is idle): once the socket buffers
			// are full that write cannot finish, and must not hold the
			// connection open past the limit.
			c := dial(t, b.Addr())
			f := frame(18, 0, 9, nil)
			stopped := make(chan error, 1)
			go func() {
				for i := 0; i < 1_000_000; i++ {
					c.SetWriteDeadline(time.Now().Add(30 * time.Second))
					if _, err := c.Write(f); err != nil {
						stopped <- err
						return
					}
				}
				stopped <- nil
			}()
			select {
			case err := <-stopped:
				if err == nil {
					t.Fatal("the broker read a million requests without their responses being read")
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("the broker stopped reading but kept the connection open: %v", err)
				}
			case <-time.After(idle + 20*time.Second):
				t.Fatal("the connection is still open")
			}
		})

		t.Run("long-poll fetch in flight is not cut", func(t *testing.T) {
			t.Parallel()
			c := dial(t, b.Addr())
			req := kmsg.NewPtrFetchRequest()
			req.Version = 11
			req.ReplicaID = -1
			req.MaxWaitMillis = 5 * idleMs
			req.MinBytes = 1
			req.MaxBytes = 1 << 20
			ft := kmsg.NewFetchRequestTopic()
			ft.Topic = "idle"
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.PartitionMaxBytes = 1 << 20
			ft.Partitions = append(ft.Partitions, fp)
			req.Topics = append(req.Topics, ft)
			out := kmsg.NewRequestFormatter(kmsg.FormatterClientID("idle-test")).AppendRequest(nil, req, 77)
			start := time.Now()
			if _, err := c.Write(out); err != nil {
				t.Fatal(err)
			}
			corr, body := readResponse(t, c)
			waited := time.Since(start)
			if corr != 77 {
				t.Fatalf("correlation id %d", corr)
			}
			resp := kmsg.NewPtrFetchResponse()
			resp.Version = req.Version
			if err := resp.ReadFrom(body); err != nil {
				t.Fatalf("fetch response: %v", err)
			}
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
				t.Fatalf("fetch response %+v", resp)
			}
			if waited < time.Duration(req.MaxWaitMillis)*time.Millisecond-100*time.Millisecond {
				t.Fatalf("fetch answered after %v; the test needs it to wait longer than the idle limit", waited)
			}
			// The connection is still open and usable.
			roundTrip(t, c, 78)
		})
	}, "connections.max.idle.ms="+strconv.Itoa(idleMs))
}

// TestConnectionsMaxIdleDisabled checks that -1 turns the limit off, as
// in Kafka's Selector.
func TestConnectionsMaxIdleDisabled(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "connections.max.idle.ms=-1")
	c := dial(t, b.Addr())
	time.Sleep(3 * idleMs * time.Millisecond)
	roundTrip(t, c, 1)
}
