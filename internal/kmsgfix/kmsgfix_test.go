package kmsgfix

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaStopReplicaV4 is the start of a StopReplica v4 body as Kafka 3.9's
// StopReplicaRequestData.write lays it out: ControllerId, then
// isKRaftController, then ControllerEpoch and BrokerEpoch.
func kafkaStopReplicaV4(controller, epoch int32, kraft bool, brokerEpoch int64) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(controller))
	if kraft {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(epoch))
	b = binary.BigEndian.AppendUint64(b, uint64(brokerEpoch))
	// Topics: compact array of one topic "t" with one partition state
	// {index 2, leader epoch 7, delete true}, no tagged fields.
	b = append(b, 2, 2, 't', 2)
	b = binary.BigEndian.AppendUint32(b, 2)
	b = binary.BigEndian.AppendUint32(b, 7)
	b = append(b, 1, 0, 0, 0)
	return b
}

func TestStopReplicaV4FromKafka(t *testing.T) {
	body := kafkaStopReplicaV4(1, 0x01020304, false, 99)
	ToKmsg(5, 4, body)
	req := kmsg.NewPtrStopReplicaRequest()
	req.Version = 4
	if err := req.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	if req.ControllerID != 1 || req.ControllerEpoch != 0x01020304 || req.IsKRaftController || req.BrokerEpoch != 99 ||
		len(req.Topics) != 1 || req.Topics[0].Topic != "t" || len(req.Topics[0].PartitionStates) != 1 ||
		req.Topics[0].PartitionStates[0].Partition != 2 || req.Topics[0].PartitionStates[0].LeaderEpoch != 7 || !req.Topics[0].PartitionStates[0].Delete {
		t.Fatalf("decoded %+v", req)
	}
}

func TestStopReplicaV4ToKafka(t *testing.T) {
	req := kmsg.NewPtrStopReplicaRequest()
	req.Version = 4
	req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = 1, 0x01020304, 99
	rt := kmsg.NewStopReplicaRequestTopic()
	rt.Topic = "t"
	ps := kmsg.NewStopReplicaRequestTopicPartitionState()
	ps.Partition, ps.LeaderEpoch, ps.Delete = 2, 7, true
	rt.PartitionStates = append(rt.PartitionStates, ps)
	req.Topics = append(req.Topics, rt)
	body := Request(req).AppendTo(nil)
	if want := kafkaStopReplicaV4(1, 0x01020304, false, 99); !bytes.Equal(body, want) {
		t.Fatalf("encoded %x\nKafka's  %x", body, want)
	}
}

func TestOtherRequestsUntouched(t *testing.T) {
	for _, c := range []struct{ key, version int16 }{{5, 3}, {4, 7}, {6, 8}, {1, 16}} {
		body := []byte{0, 0, 0, 1, 0, 0, 0, 0, 2, 9, 9}
		orig := bytes.Clone(body)
		ToKmsg(c.key, c.version, body)
		ToKafka(c.key, c.version, body)
		if !bytes.Equal(body, orig) {
			t.Errorf("key %d v%d changed", c.key, c.version)
		}
	}
}

// FuzzRoundTrip: any body, short or long, survives ToKmsg then ToKafka
// unchanged, and neither panics.
func FuzzRoundTrip(f *testing.F) {
	f.Add(int16(5), int16(4), kafkaStopReplicaV4(1, 2, true, 3))
	f.Add(int16(5), int16(4), []byte{1, 2, 3})
	f.Add(int16(4), int16(7), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Fuzz(func(t *testing.T, key, version int16, body []byte) {
		orig := bytes.Clone(body)
		ToKmsg(key, version, body)
		ToKafka(key, version, body)
		if !bytes.Equal(body, orig) {
			t.Fatalf("round trip changed %x to %x", orig, body)
		}
		req := kmsg.NewPtrStopReplicaRequest()
		req.Version = 4
		ToKmsg(5, 4, body)
		_ = req.ReadFrom(body) // must not panic
	})
}
