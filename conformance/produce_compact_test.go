package conformance

import (
	"strings"
	"testing"
)

// TestProduceCompactedTopicKeys: a compacted topic refuses records
// without a key (LogValidator.validateKey), with record_errors naming
// them; keyed records are taken. Samsa keeps such records forever (it
// does not compact), but must answer the produce as Kafka does.
func TestProduceCompactedTopicKeys(t *testing.T) {
	c := scenario(t)
	for _, policy := range []string{"compact", "compact,delete"} {
		topic := c.topic(strings.ReplaceAll(policy, ",", "-"))
		c.at("cleanup.policy=%s", policy)
		c.createTopic(topic, 1, map[string]string{"cleanup.policy": policy})
		T := baseTime()
		o := batchOpts{firstTs: T, pid: -1, epoch: -1, seq: -1}
		for _, v := range []int16{3, 12} {
			c.same(produceReq(v, -1, topic, 0, makeBatch(o, rec{key: []byte("k"), value: []byte("a")}, rec{value: []byte("no key")}, rec{key: []byte("k2")}, rec{value: []byte("none")})))
			c.same(produceReq(v, -1, topic, 0, makeBatch(o, rec{key: []byte("k"), value: []byte("b")})))
		}
		c.same(fetchReq(12, topic, 0, 0))
	}
}
