package samsatest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/embed"
	"samsa/samsatest"
)

// TestNewGroupConsumer: a broker from New serves a consumer group whose
// first rebalance is not delayed (group.initial.rebalance.delay.ms=0),
// and the broker is gone with its data dir after the subtest's cleanup.
func TestNewGroupConsumer(t *testing.T) {
	var b *embed.Broker
	t.Run("use", func(t *testing.T) {
		b = samsatest.New(t, samsatest.WithHTTP(), samsatest.WithProperties("num.partitions=3"))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(),
			kgo.ConsumerGroup("g"), kgo.ConsumeTopics("events"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "events", Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		if n := fs.NumRecords(); n != 1 {
			t.Fatalf("got %d records, want 1", n)
		}
		// With Kafka's default 3 s delay the first poll takes over 3 s.
		if d := time.Since(t0); d > 2500*time.Millisecond {
			t.Errorf("group's first fetch took %v: initial rebalance delay not 0", d)
		}
		topics, err := kadm.NewClient(cl).ListTopics(ctx, "events")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(topics["events"].Partitions); n != 3 {
			t.Errorf("events has %d partitions, want 3 (WithProperties)", n)
		}
		resp, err := http.Get("http://" + b.HTTPAddr() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok\n" {
			t.Errorf("/healthz = %d %q", resp.StatusCode, body)
		}
	})
	if _, err := os.Stat(b.DataDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir after cleanup: %v, want removed", err)
	}
	if c, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("broker still accepts connections after cleanup")
	}
}
