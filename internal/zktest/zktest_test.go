package zktest

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestStart proves the harness gives a ZooKeeper a real client can use.
func TestStart(t *testing.T) {
	s := Start(t)
	conn, _, err := zk.Connect([]string{s.Addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/x", []byte("y"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create: %v\n%s", err, s.Output())
	}
	got, _, err := conn.Get("/x")
	if err != nil || string(got) != "y" {
		t.Fatalf("get = %q, %v", got, err)
	}
}
