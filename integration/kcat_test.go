package integration

import (
	"encoding/json"
	"os/exec"
	"testing"

	"samsa/internal/testbroker"
)

// kcatMetadata is the part of `kcat -L -J` output the tests read.
type kcatMetadata struct {
	Brokers []struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Topics []struct {
		Topic      string `json:"topic"`
		Partitions []struct {
			Partition int32 `json:"partition"`
			Leader    int32 `json:"leader"`
			Replicas  []any `json:"replicas"`
			ISRs      []any `json:"isrs"`
		} `json:"partitions"`
	} `json:"topics"`
}

func TestKcatListsBrokerAndTopics(t *testing.T) {
	kcat := requireTool(t, "kcat")
	eachMode(t, func(t *testing.T, b *testbroker.Broker) {
		adm := newAdmin(t, b.Addr())
		if _, err := adm.CreateTopic(ctxT(t), 3, 1, nil, "kcat-topic"); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(kcat, "-L", "-J", "-b", b.Addr(), "-m", "10").CombinedOutput()
		if err != nil {
			t.Fatalf("kcat -L: %v\n%s", err, out)
		}
		var md kcatMetadata
		if err := json.Unmarshal(out, &md); err != nil {
			t.Fatalf("kcat output: %v\n%s", err, out)
		}
		if len(md.Brokers) != 1 || md.Brokers[0].ID != 0 || md.Brokers[0].Name != b.Addr() {
			t.Fatalf("brokers = %+v, want one at %s", md.Brokers, b.Addr())
		}
		if len(md.Topics) != 1 || md.Topics[0].Topic != "kcat-topic" || len(md.Topics[0].Partitions) != 3 {
			t.Fatalf("topics = %+v", md.Topics)
		}
		for _, p := range md.Topics[0].Partitions {
			if p.Leader != 0 || len(p.Replicas) != 1 || len(p.ISRs) != 1 {
				t.Fatalf("partition %+v", p)
			}
		}
	})
}
