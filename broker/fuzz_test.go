package broker_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// FuzzDispatch sends arbitrary request frames through the whole dispatch
// path of a real in-process broker (header decoding, kmsg body decoding,
// every handler) and checks after each one that the broker still answers
// on another connection. A crash, hang or disturbed neighbour fails.
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

	b := testbroker.Start(f, testbroker.InProcess, "socket.request.max.bytes=1048576")
	health, err := net.Dial("tcp", b.Addr())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { health.Close() })
	probe := fm.AppendRequest(nil, &kmsg.ApiVersionsRequest{}, 999)

	f.Fuzz(func(t *testing.T, frame []byte) {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		out := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
		out = append(out, frame...)
		out = append(out, probe...)
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write(out)
		// Read responses until the probe's answer or a close.
		for {
			corr, err := readFrame(c)
			if err != nil || corr == 999 {
				break
			}
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
