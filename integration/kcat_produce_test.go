package integration

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

// TestKcatRoundTrip produces with kcat (librdkafka) with keys, headers and
// each codec, and reads back with kcat.
func TestKcatRoundTrip(t *testing.T) {
	kcat := requireTool(t, "kcat")
	b := testbroker.Start(t, testbroker.Binary)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := "kcat-" + codec
			if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			var in strings.Builder
			for i := 0; i < 50; i++ {
				fmt.Fprintf(&in, "key%d:value %d\n", i, i)
			}
			prod := exec.Command(kcat, "-P", "-b", b.Addr(), "-t", topic, "-K:", "-H", "origin=kcat", "-z", codec, "-X", "enable.idempotence=true")
			prod.Stdin = strings.NewReader(in.String())
			if out, err := prod.CombinedOutput(); err != nil {
				t.Fatalf("kcat -P: %v\n%s", err, out)
			}
			cons := exec.Command(kcat, "-C", "-b", b.Addr(), "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k|%s|%h|%o\n")
			out, err := cons.CombinedOutput()
			if err != nil {
				t.Fatalf("kcat -C: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 50 {
				t.Fatalf("read %d records, want 50:\n%s", len(lines), out)
			}
			for i, l := range lines {
				want := fmt.Sprintf("key%d|value %d|origin=kcat|%d", i, i, i)
				if l != want {
					t.Fatalf("record %d = %q, want %q", i, l, want)
				}
			}
		})
	}
}

// TestMinInsyncReplicasAboveReplicationFactor: with the broker's
// min.insync.replicas=2 (and a topic override of 3) on one node, Kafka
// 3.7+ caps the minimum at the replication factor (KAFKA-15583), so
// acks=all producers succeed: kgo's default idempotent acks=all producer
// and kcat with acks=all. Then kcat reads back what the broker stored
// for a compression.type=snappy topic (recompressed, xerial framed, as
// Kafka writes snappy).
func TestMinInsyncReplicasAboveReplicationFactor(t *testing.T) {
	kcat := requireTool(t, "kcat")
	b := testbroker.Start(t, testbroker.InProcess, "min.insync.replicas=2")
	adm := newAdmin(t, b.Addr())
	three, snappy := "3", "snappy"
	if _, err := adm.CreateTopic(ctxT(t), 1, 1, nil, "isr-broker"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctxT(t), 1, 1, map[string]*string{"min.insync.replicas": &three, "compression.type": &snappy}, "isr-topic"); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"isr-broker", "isr-topic"} {
		cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic(topic)) // idempotent, acks=all by default
		for i := 0; i < 10; i++ {
			produceAll(t, cl, &kgo.Record{Key: []byte(fmt.Sprint("kgo", i)), Value: []byte(fmt.Sprint("value ", i))})
		}
		var in strings.Builder
		for i := 10; i < 20; i++ {
			fmt.Fprintf(&in, "kcat%d:value %d\n", i, i)
		}
		prod := exec.Command(kcat, "-P", "-b", b.Addr(), "-t", topic, "-K:", "-X", "acks=all", "-X", "enable.idempotence=true")
		prod.Stdin = strings.NewReader(in.String())
		if out, err := prod.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P to %s: %v\n%s", topic, err, out)
		}
		out, err := exec.Command(kcat, "-C", "-b", b.Addr(), "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s|%o\n").CombinedOutput()
		if err != nil {
			t.Fatalf("kcat -C: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 20 {
			t.Fatalf("%s: read %d records, want 20:\n%s", topic, len(lines), out)
		}
		for i, l := range lines {
			if want := fmt.Sprintf("value %d|%d", i, i); l != want {
				t.Fatalf("%s record %d = %q, want %q", topic, i, l, want)
			}
		}
	}
}
