package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kafkaTool returns the path of one of compat-tests/bin's wrappers of the
// Apache Kafka command-line tools when their jars are cached (the compat
// suite and `make compat-deps` download them); otherwise the test skips,
// or fails under SAMSA_REQUIRE_TOOLS=1.
func kafkaTool(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		requireTool(t, "java")
	}
	bin, err := filepath.Abs(filepath.Join("..", "compat-tests", "bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("..", "compat-tests", "clients", "tools", "target", "lib", ".pom.sha256")); err != nil {
		if os.Getenv("SAMSA_REQUIRE_TOOLS") == "1" {
			t.Fatalf("Kafka tools jars not cached (compat-tests/bin/kafka-run-class.sh downloads them)")
		}
		t.Skip("Kafka tools jars not cached; run compat-tests/bin/kafka-topics.sh once to download them")
	}
	return bin
}

func runTool(t *testing.T, stdin string, tool string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s %v: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(tool), args, err, out.String(), errb.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s %v did not finish\nstdout:\n%s\nstderr:\n%s", filepath.Base(tool), args, out.String(), errb.String())
	}
	return out.String()
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

// TestZKClusterKafkaTools runs the stock Kafka CLI tools against the
// three-broker cluster: kafka-topics --create --replication-factor 3,
// --describe printing each partition's leader, replicas and ISR as the
// brokers' metadata has them (Kafka's TopicCommand format), and the
// console producer and consumer through partitions led by every broker.
func TestZKClusterKafkaTools(t *testing.T) {
	topics := kafkaTool(t, "kafka-topics.sh")
	producer := kafkaTool(t, "kafka-console-producer.sh")
	consumer := kafkaTool(t, "kafka-console-consumer.sh")
	c := startCoordCluster(t)
	bootstrap := strings.Join(c.seeds(), ",")

	out := runTool(t, "", topics, "--bootstrap-server", bootstrap, "--create", "--topic", "cli-rf3", "--partitions", "3", "--replication-factor", "3")
	if !strings.Contains(out, "Created topic cli-rf3.") {
		t.Fatalf("kafka-topics --create printed %q", out)
	}
	c.waitTopic("cli-rf3", 3, 3)
	m := metadataFrom(t, c.anyLive().Addr())

	out = runTool(t, "", topics, "--bootstrap-server", bootstrap, "--describe", "--topic", "cli-rf3")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("kafka-topics --describe printed %d lines, want 4:\n%s", len(lines), out)
	}
	head := regexp.MustCompile(`^Topic: cli-rf3\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 3\tReplicationFactor: 3\tConfigs: `)
	if !head.MatchString(lines[0]) {
		t.Errorf("describe header %q", lines[0])
	}
	leaders := map[int32]bool{}
	for p := int32(0); p < 3; p++ {
		mp := partitionOf(m, "cli-rf3", p)
		leaders[mp.Leader] = true
		want := fmt.Sprintf("\tTopic: cli-rf3\tPartition: %d\tLeader: %d\tReplicas: %s\tIsr: %s", p, mp.Leader, joinIDs(mp.Replicas), joinIDs(mp.ISR))
		found := false
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, want+"\t") || l == want {
				found = true
			}
		}
		if !found {
			t.Errorf("describe has no line starting %q:\n%s", want, out)
		}
	}
	if len(leaders) != 3 {
		t.Errorf("leaders %v: the three partitions should be led by three brokers", leaders)
	}

	var in strings.Builder
	want := map[string]bool{}
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&in, "k%d:v%d\n", i, i)
		want["v"+strconv.Itoa(i)] = true
	}
	runTool(t, in.String(), producer, "--bootstrap-server", bootstrap, "--topic", "cli-rf3",
		"--producer-property", "acks=all", "--reader-property", "parse.key=true", "--reader-property", "key.separator=:")
	out = runTool(t, "", consumer, "--bootstrap-server", bootstrap, "--topic", "cli-rf3", "--from-beginning",
		"--max-messages", "30", "--timeout-ms", "30000", "--group", "cli-group")
	got := strings.Fields(out)
	if len(got) != 30 {
		t.Fatalf("console consumer printed %d values, want 30:\n%s", len(got), out)
	}
	for _, v := range got {
		if !want[v] {
			t.Fatalf("console consumer printed %q twice or unexpected", v)
		}
		delete(want, v)
	}
}
