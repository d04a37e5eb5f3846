package zkdata

import (
	"reflect"
	"testing"
)

// The encoders write the JSON Kafka 3.9's ZkData writes, byte for byte
// where Kafka's output is deterministic.
func TestEncodeKafkaShapes(t *testing.T) {
	rack := "r1"
	for _, c := range []struct{ got, want string }{
		{string(EncodeClusterID("abc")), `{"id":"abc","version":"1"}`},
		{string(EncodeController(2, 5)), `{"version":2,"brokerid":2,"timestamp":"5","kraftControllerEpoch":-1}`},
		{string(EncodeControllerEpoch(7)), `7`},
		{string(EncodePartitionState(PartitionState{Leader: 1, LeaderEpoch: 2, ControllerEpoch: 3, ISR: []int32{1, 2}})),
			`{"version":1,"leader":1,"leader_epoch":2,"controller_epoch":3,"isr":[1,2]}`},
		{string(EncodePartitionState(PartitionState{Leader: 1, ISR: []int32{1}, LeaderRecoveryState: LeaderRecovering})),
			`{"version":1,"leader":1,"leader_epoch":0,"controller_epoch":0,"isr":[1],"leader_recovery_state":1}`},
		{string(EncodeTopic(Topic{ID: TopicID{1}, Replicas: map[int32][]int32{0: {1, 2}, 1: {2, 3}}})),
			`{"version":3,"topic_id":"AQAAAAAAAAAAAAAAAAAAAA","partitions":{"0":[1,2],"1":[2,3]},"adding_replicas":{},"removing_replicas":{}}`},
		{string(EncodeConfig(map[string]string{"retention.ms": "1000"})), `{"version":1,"config":{"retention.ms":"1000"}}`},
		{string(EncodeConfigChange("topics/t")), `{"version":2,"entity_path":"topics/t"}`},
		{string(EncodeProducerIDBlock(ProducerIDBlock{Broker: 1, First: 1000, Last: 1999})),
			`{"version":1,"broker":1,"block_start":"1000","block_end":"1999"}`},
		{string(EncodeBroker(Broker{ID: 1, Timestamp: 9, Rack: &rack, Endpoints: []Endpoint{
			{Listener: "INTERNAL", Host: "h", Port: 9093, SecurityProtocol: "PLAINTEXT"},
			{Listener: "PLAINTEXT", Host: "h", Port: 9092, SecurityProtocol: "PLAINTEXT"}}})),
			`{"version":5,"host":"h","port":9093,"endpoints":["INTERNAL://h:9093","PLAINTEXT://h:9092"],"listener_security_protocol_map":{"INTERNAL":"PLAINTEXT","PLAINTEXT":"PLAINTEXT"},"jmx_port":-1,"timestamp":"9","rack":"r1","features":{}}`},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
}

func TestRoundTrips(t *testing.T) {
	b := Broker{ID: 3, Timestamp: 1, Endpoints: []Endpoint{{Listener: "PLAINTEXT", Host: "::1", Port: 1, SecurityProtocol: "PLAINTEXT"}}}
	if got, err := DecodeBroker(3, EncodeBroker(b)); err != nil || !reflect.DeepEqual(got, b) {
		t.Errorf("broker: %+v, %v", got, err)
	}
	tp := Topic{ID: TopicID{9}, Replicas: map[int32][]int32{0: {1}, 1: {2}}, Adding: map[int32][]int32{}, Removing: map[int32][]int32{}}
	if got, err := DecodeTopic(EncodeTopic(tp)); err != nil || !reflect.DeepEqual(got, tp) {
		t.Errorf("topic: %+v, %v", got, err)
	}
	for _, bad := range []string{`{"partitions":{"1":[1]}}`, `{"partitions":{"0":[]}}`, `{"partitions":{"0":[1,1]}}`, `{"topic_id":"x","partitions":{}}`, `[]`} {
		if _, err := DecodeTopic([]byte(bad)); err == nil {
			t.Errorf("DecodeTopic(%s) accepted", bad)
		}
	}
	if _, err := DecodePartitionState([]byte(`{"version":1,"leader":1}`)); err == nil {
		t.Error("partial state accepted")
	}
	if typ, name, err := DecodeConfigChange(EncodeConfigChange("topics/a/b")); err != nil || typ != "topics" || name != "a/b" {
		t.Errorf("config change: %q %q %v", typ, name, err)
	}
}

// FuzzDecode feeds arbitrary bytes to every znode decoder: none may panic,
// and whatever a decoder accepts must survive its encoder unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":3,"topic_id":"AQAAAAAAAAAAAAAAAAAAAA","partitions":{"0":[1,2]},"adding_replicas":{},"removing_replicas":{}}`))
	f.Add([]byte(`{"version":1,"leader":1,"leader_epoch":2,"controller_epoch":3,"isr":[1,2],"leader_recovery_state":1}`))
	f.Add([]byte(`{"version":5,"host":"h","port":9092,"endpoints":["PLAINTEXT://h:9092"],"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"jmx_port":-1,"timestamp":"9","features":{}}`))
	f.Add([]byte(`{"version":1,"broker":1,"block_start":"0","block_end":"999"}`))
	f.Add([]byte(`{"version":2,"entity_path":"topics/t"}`))
	f.Add([]byte(`{"version":1,"config":{"a":"b","n":1}}`))
	f.Add([]byte(`{"version":2,"brokerid":1,"timestamp":"1","kraftControllerEpoch":-1}`))
	f.Add([]byte(`12`))
	f.Add([]byte(`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[2,3,4]}]}`))
	f.Add([]byte(`{"version":1,"partitions":[{"topic":"t","partition":0},{"topic":"u","partition":3}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if ps, err := DecodeIsrChangeNotification(data); err == nil {
			if again, err := DecodeIsrChangeNotification(EncodeIsrChangeNotification(ps)); err != nil || !reflect.DeepEqual(again, ps) {
				t.Fatalf("isr change round trip: %+v -> %+v, %v", ps, again, err)
			}
		}
		if rs, err := DecodeReassignments(data); err == nil {
			if again, err := DecodeReassignments(EncodeReassignments(rs)); err != nil || !reflect.DeepEqual(again, rs) {
				t.Fatalf("reassignments round trip: %+v -> %+v, %v", rs, again, err)
			}
		}
		if tp, err := DecodeTopic(data); err == nil {
			if again, err := DecodeTopic(EncodeTopic(tp)); err != nil || !reflect.DeepEqual(normTopic(again), normTopic(tp)) {
				t.Fatalf("topic round trip: %+v -> %+v, %v", tp, again, err)
			}
		}
		if s, err := DecodePartitionState(data); err == nil {
			if again, err := DecodePartitionState(EncodePartitionState(s)); err != nil || !reflect.DeepEqual(again, s) {
				t.Fatalf("state round trip: %+v -> %+v, %v", s, again, err)
			}
		}
		if b, err := DecodeBroker(1, data); err == nil {
			if _, err := DecodeBroker(1, EncodeBroker(b)); err != nil {
				t.Fatalf("broker round trip: %+v: %v", b, err)
			}
		}
		if b, err := DecodeProducerIDBlock(data); err == nil {
			if again, err := DecodeProducerIDBlock(EncodeProducerIDBlock(b)); err != nil || again != b {
				t.Fatalf("producer id block round trip: %+v -> %+v, %v", b, again, err)
			}
		}
		_, _ = DecodeClusterID(data)
		_, _ = DecodeController(data)
		_, _ = DecodeControllerEpoch(data)
		_, _ = DecodeConfig(data)
		_, _, _ = DecodeConfigChange(data)
		_, _ = ParseEndpoint(string(data))
	})
}

func normTopic(t Topic) Topic {
	for _, m := range []*map[int32][]int32{&t.Replicas, &t.Adding, &t.Removing} {
		if len(*m) == 0 {
			*m = nil
		}
	}
	return t
}

func TestReassignments(t *testing.T) {
	rs, err := DecodeReassignments([]byte(`{"version":1,"partitions":[{"topic":"t","partition":1,"replicas":[2,3,4]}]}`))
	if err != nil || len(rs) != 1 || rs[0].Topic != "t" || rs[0].Partition != 1 || !reflect.DeepEqual(rs[0].Replicas, []int32{2, 3, 4}) {
		t.Fatalf("decode: %+v %v", rs, err)
	}
	if got := string(EncodeReassignments(rs)); got != `{"version":1,"partitions":[{"topic":"t","partition":1,"replicas":[2,3,4]}]}` {
		t.Errorf("encode: %s", got)
	}
	for _, bad := range []string{`{"partitions":[]}`, `{"version":2,"partitions":[]}`, `{"version":1,"partitions":[{"topic":"t","replicas":[1]}]}`,
		`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1]},{"topic":"t","partition":0,"replicas":[2]}]}`, `[`} {
		if _, err := DecodeReassignments([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestIsrChangeNotification: the bytes Kafka 3.9's
// IsrChangeNotificationSequenceZNode.encode writes, both ways; malformed
// notifications are errors.
func TestIsrChangeNotification(t *testing.T) {
	kafka := `{"version":1,"partitions":[{"topic":"t","partition":0},{"topic":"u","partition":3}]}`
	want := []IsrChangePartition{{"t", 0}, {"u", 3}}
	got, err := DecodeIsrChangeNotification([]byte(kafka))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decode: %+v, %v", got, err)
	}
	if enc := string(EncodeIsrChangeNotification(want)); enc != kafka {
		t.Fatalf("encode: %s, want %s", enc, kafka)
	}
	for _, bad := range []string{``, `{}`, `{"version":1,"partitions":[{"topic":"t"}]}`, `{"partitions":[{"topic":1,"partition":0}]}`, `{"partitions":[{"topic":"t","partition":1e12}]}`} {
		if ps, err := DecodeIsrChangeNotification([]byte(bad)); err == nil {
			t.Errorf("%q accepted: %+v", bad, ps)
		}
	}
}
