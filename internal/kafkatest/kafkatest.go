// Package kafkatest prepares an Apache Kafka broker for the suites that
// compare Samsa with it (conformance/, bench/): one KRaft node that is
// both broker and controller, run from the Maven Central jars of the
// compatibility suite through compat-tests/bin/kafka-run-class.sh, which
// downloads them on first use.
package kafkatest

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
)

// Node is one Kafka node's layout: its listener ports, data directory
// and extra server.properties lines.
type Node struct {
	// Root is the Samsa module root (compat-tests/bin lives there).
	Root string
	// Dir holds server.properties and the log dir (Dir/data).
	Dir string
	// NodeID is node.id (and the controller quorum's voter id).
	NodeID int
	// Port is the PLAINTEXT listener, ControllerPort the KRaft
	// controller's, both on 127.0.0.1.
	Port, ControllerPort int
	// Props are added to server.properties (key=value), e.g.
	// group.initial.rebalance.delay.ms=0.
	Props map[string]string
	// Env is added to the JVM's environment (KAFKA_HEAP_OPTS,
	// KAFKA_JVM_PERFORMANCE_OPTS, ...).
	Env []string
}

// Command writes server.properties, formats the log dir when it has not
// been formatted yet (a fresh random cluster id), and returns the command
// that runs the node (kafka.Kafka), not started. The JVM is the command's
// own process: kafka-run-class.sh execs java.
func (n Node) Command() (*exec.Cmd, error) {
	if err := os.MkdirAll(n.Dir, 0o755); err != nil {
		return nil, err
	}
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=%[4]d
controller.quorum.voters=%[4]d@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=%[3]s
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
`, n.Port, n.ControllerPort, filepath.Join(n.Dir, "data"), n.NodeID)
	keys := make([]string, 0, len(n.Props))
	for k := range n.Props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		props += k + "=" + n.Props[k] + "\n"
	}
	propsPath := filepath.Join(n.Dir, "server.properties")
	if err := os.WriteFile(propsPath, []byte(props), 0o644); err != nil {
		return nil, err
	}
	runClass := filepath.Join(n.Root, "compat-tests", "bin", "kafka-run-class.sh")
	if _, err := os.Stat(filepath.Join(n.Dir, "data", "meta.properties")); errors.Is(err, os.ErrNotExist) {
		var id [16]byte
		_, _ = rand.Read(id[:])
		format := exec.Command(runClass, "kafka.tools.StorageTool", "format", "-t", base64.RawURLEncoding.EncodeToString(id[:]), "-c", propsPath)
		if out, err := format.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("formatting the Kafka log dir: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(runClass, "kafka.Kafka", propsPath)
	cmd.Env = append(os.Environ(), n.Env...)
	return cmd, nil
}
