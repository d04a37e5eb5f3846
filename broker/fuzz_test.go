package broker_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
	"samsa/protocol"
)

// The CPU a request may cost the broker process: a fixed part (GC cycles,
// scheduling, a handler's fixed work), a part per byte of the frame, and
// a part per partition the request may create (CreateTopics,
// CreatePartitions, Metadata auto-creation). The constants leave wide
// margin for -race on a loaded 2-core machine, yet a request whose
// claimed counts buy work beyond its bytes (kmsg v1.15.0 spent ~28 s of
// CPU on a 26-byte DescribeCluster frame) exceeds them within the 3 s a
// fuzz exchange may last.
const (
	dispatchCPUFixed        = 200 * time.Millisecond
	dispatchCPUPerByte      = 20 * time.Microsecond
	dispatchCPUPerPartition = 5 * time.Millisecond
	// fuzzMaxNewPartitions keeps the fuzz broker small: a request that
	// may create more partitions is not sent. Kafka allows up to 10000
	// per request (controller tests cover the limit); creating them costs
	// CPU per partition, not per request byte, and a broker holding many
	// would make every later request that lists them slower.
	fuzzMaxNewPartitions = 100
)

// processCPU is the user plus system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// newPartitions is an upper bound of the partitions frame may create,
// decoded on the test side: 0 for anything that does not decode.
func newPartitions(frame []byte) int64 {
	hdr, req, body, known, err := protocol.ParseRequestHeader(frame)
	if err != nil || !known || req.ReadFrom(body) != nil {
		return 0
	}
	var n int64
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		for _, t := range r.Topics {
			n += max(int64(t.NumPartitions), int64(len(t.ReplicaAssignment)), 1)
		}
	case *kmsg.CreatePartitionsRequest:
		for _, t := range r.Topics {
			n += max(int64(t.Count), 0)
		}
	case *kmsg.MetadataRequest:
		if hdr.Version < 4 || r.AllowAutoTopicCreation {
			n += int64(len(r.Topics))
		}
	}
	return n
}

// FuzzDispatch sends arbitrary request frames through the whole dispatch
// path of a real in-process broker (header decoding, kmsg body decoding,
// every handler) and checks after each one that the broker still answers
// on another connection. A crash, hang, disturbed neighbour, or a request
// costing more CPU than its size allows (see dispatchCPUFixed) fails.
// Long polls and other waits cost no CPU and pass.
func FuzzDispatch(f *testing.F) {
	fm := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	topic := kmsg.NewCreateTopicsRequestTopic()
	topic.Topic, topic.NumPartitions, topic.ReplicationFactor = "fuzz", 2, 1
	for _, req := range []kmsg.Request{
		&kmsg.ApiVersionsRequest{Version: 3, ClientSoftwareName: "a", ClientSoftwareVersion: "1"},
		&kmsg.MetadataRequest{Version: 12},
		&kmsg.MetadataRequest{Version: 4, AllowAutoTopicCreation: true, Topics: []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("auto")}}},
		&kmsg.CreateTopicsRequest{Version: 7, Topics: []kmsg.CreateTopicsRequestTopic{topic}},
		&kmsg.DeleteTopicsRequest{Version: 6},
		&kmsg.DescribeConfigsRequest{Version: 4, Resources: []kmsg.DescribeConfigsRequestResource{{ResourceType: 2, ResourceName: "fuzz"}}},
		&kmsg.DescribeClusterRequest{Version: 1, EndpointType: 1},
		&kmsg.DescribeTopicPartitionsRequest{},
		&kmsg.CreatePartitionsRequest{Version: 3},
	} {
		f.Add(fm.AppendRequest(nil, req, 1)[4:])
	}
	// Bodies whose counts claim far more than they hold: a tag section,
	// an array, a compact array, a string, record bytes.
	huge := [][]byte{
		{0, 60, 0, 0, 0, 0, 0, 1, 0, 4, 'f', 'u', 'z', 'z', 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07},
		{0, 3, 0, 12, 0, 0, 0, 1, 0, 4, 'f', 'u', 'z', 'z', 0, 0xff, 0xff, 0xff, 0xff, 0x07},
		{0, 3, 0, 1, 0, 0, 0, 1, 0, 4, 'f', 'u', 'z', 'z', 0x7f, 0xff, 0xff, 0xff},
		{0, 19, 0, 2, 0, 0, 0, 1, 0, 4, 'f', 'u', 'z', 'z', 0, 0, 0, 1, 0x7f, 0xff, 'a'},
		{0, 0, 0, 3, 0, 0, 0, 1, 0, 4, 'f', 'u', 'z', 'z', 0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff},
	}
	for _, h := range huge {
		f.Add(h)
	}

	b := testbroker.Start(f, testbroker.InProcess, "socket.request.max.bytes=1048576")
	health, err := net.Dial("tcp", b.Addr())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { health.Close() })
	probe := fm.AppendRequest(nil, &kmsg.ApiVersionsRequest{}, 999)

	// exchange sends frame then the probe on a new connection, reads until
	// the probe's answer, a close, or 3 s, and returns the process CPU
	// spent meanwhile.
	exchange := func(t *testing.T, frame []byte) time.Duration {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		out := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
		out = append(out, frame...)
		out = append(out, probe...)
		start := processCPU()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write(out)
		// Read responses until the probe's answer or a close.
		for {
			corr, err := readFrame(c)
			if err != nil || corr == 999 {
				break
			}
		}
		return processCPU() - start
	}

	f.Fuzz(func(t *testing.T, frame []byte) {
		parts := newPartitions(frame)
		if parts > fuzzMaxNewPartitions {
			t.Skipf("may create %d partitions", parts)
		}
		budget := dispatchCPUFixed + time.Duration(len(frame))*dispatchCPUPerByte + time.Duration(parts)*dispatchCPUPerPartition
		// Best of three while over budget: a GC cycle or another
		// process's burst is not the request's cost; unbounded work is
		// over budget every time.
		cpu := exchange(t, frame)
		for try := 1; try < 3 && cpu > budget; try++ {
			cpu = min(cpu, exchange(t, frame))
		}
		if cpu > budget {
			t.Fatalf("a %d-byte request cost %v of CPU, budget %v: %x", len(frame), cpu, budget, frame)
		}
		health.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := health.Write(probe); err != nil {
			t.Fatalf("health connection broken: %v", err)
		}
		if corr, err := readFrame(health); err != nil || corr != 999 {
			t.Fatalf("broker stopped answering: corr %d err %v", corr, err)
		}
	})
}

func readFrame(c net.Conn) (int32, error) {
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 64<<20 {
		return 0, errors.New("bad response size")
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(buf)), nil
}
