package broker_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"samsa/broker"
	"samsa/config"
	"samsa/internal/zktest"
)

// TestZKRegistersAfterRecovery: a ZooKeeper-mode broker held in log
// recovery is not yet in /brokers/ids (the controller would send it
// requests it cannot serve), as Kafka's KafkaServer registers only after
// log recovery with its listeners serving; once Start returns it is.
func TestZKRegistersAfterRecovery(t *testing.T) {
	s := zktest.Start(t)
	cfg, _, err := config.Load("", []string{
		"listeners=PLAINTEXT://127.0.0.1:0",
		"log.dirs=" + t.TempDir(),
		"zookeeper.connect=" + s.Addr,
		"broker.id=4",
		"zookeeper.session.timeout.ms=2000",
	})
	if err != nil {
		t.Fatal(err)
	}
	inRecovery := make(chan struct{}, 1)
	release := make(chan struct{})
	defer broker.SetTestHookPhase(func(_ *broker.Broker, phase string) {
		if phase == "recovering partition logs" {
			inRecovery <- struct{}{}
			<-release
		}
	})()
	type started struct {
		b   *broker.Broker
		err error
	}
	done := make(chan started, 1)
	go func() {
		b, err := broker.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		done <- started{b, err}
	}()
	select {
	case <-inRecovery:
	case r := <-done:
		t.Fatalf("Start returned without recovering logs: %v", r.err)
	case <-time.After(15 * time.Second):
		t.Fatal("start did not reach log recovery")
	}
	conn, _, err := zk.Connect([]string{s.Addr}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if ok, _, err := conn.Exists("/brokers/ids/4"); err != nil || ok {
		close(release)
		t.Fatalf("broker registered in zookeeper during log recovery (%v)", err)
	}
	close(release)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.b.Close(context.Background())
	if ok, _, err := conn.Exists("/brokers/ids/4"); err != nil || !ok {
		t.Fatalf("broker not registered once started: %v %v", ok, err)
	}
}
