// Package kmsgfix corrects, on the wire, the request layouts where
// franz-go's kmsg (v1.15.1) and Apache Kafka 3.9 disagree, so that Samsa
// reads what a Kafka broker sends and sends what a Kafka broker reads.
//
// The one such layout found (package interop runs Kafka 3.9 brokers and
// Samsa in one cluster) is StopReplica v4 (KIP-866): Kafka's
// StopReplicaRequest.json puts isKRaftController (bool, v4+) between
// ControllerId and ControllerEpoch, as in LeaderAndIsr v7+ and
// UpdateMetadata v8+, where kmsg agrees; kmsg's StopReplicaRequest puts
// it after ControllerEpoch. Read with kmsg, Kafka's StopReplica from
// controller epoch 1 has epoch 0 (Samsa answered STALE_CONTROLLER_EPOCH,
// and Kafka's controller never finished deleting a topic); written with
// kmsg, Samsa's StopReplica from epoch 1 reads as epoch 256 at a Kafka
// broker, which then refuses every later LeaderAndIsr of the real epoch
// as stale.
package kmsgfix

import "github.com/twmb/franz-go/pkg/kmsg"

// stopReplicaKey is StopReplica's API key.
const stopReplicaKey = 5

// ToKmsg rewrites body, a request body (after the request header) in
// Kafka's layout, into kmsg's layout in place, before kmsg decodes it. A
// body too short to hold the fields is left alone (kmsg then fails to
// decode it).
func ToKmsg(key, version int16, body []byte) {
	if key == stopReplicaKey && version >= 4 && len(body) >= 9 {
		// Kafka: [ControllerId 4][isKRaftController 1][ControllerEpoch 4]
		// kmsg:  [ControllerID 4][ControllerEpoch 4][IsKRaftController 1]
		b := body[4]
		copy(body[4:8], body[5:9])
		body[8] = b
	}
}

// ToKafka rewrites body, a request body kmsg encoded, into Kafka's layout
// in place; it undoes ToKmsg.
func ToKafka(key, version int16, body []byte) {
	if key == stopReplicaKey && version >= 4 && len(body) >= 9 {
		b := body[8]
		copy(body[5:9], body[4:8])
		body[4] = b
	}
}

// Request returns req as a Kafka broker reads it: a StopReplica wrapped
// so that it encodes in Kafka's field order (ToKafka), anything else
// unchanged. Send the result; keep req (the response is req's kind).
func Request(req kmsg.Request) kmsg.Request {
	if r, ok := req.(*kmsg.StopReplicaRequest); ok {
		return kafkaStopReplica{r}
	}
	return req
}

// kafkaStopReplica encodes a StopReplica in Kafka's field order.
type kafkaStopReplica struct{ *kmsg.StopReplicaRequest }

func (r kafkaStopReplica) AppendTo(dst []byte) []byte {
	start := len(dst)
	dst = r.StopReplicaRequest.AppendTo(dst)
	ToKafka(r.Key(), r.Version, dst[start:])
	return dst
}
