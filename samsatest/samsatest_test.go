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
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		if n := fs.NumRecords(); n != 1 {
			t.Fatalf("got %d records, want 1", n)
		}
		// The delay itself, as the broker reports it (a timed check of the
		// first poll failed on a loaded machine).
		adm := kadm.NewClient(cl)
		md, err := adm.BrokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := adm.DescribeBrokerConfigs(ctx, md.Brokers.NodeIDs()...)
		if err != nil {
			t.Fatal(err)
		}
		var delay string
		for _, r := range rc {
			for _, c := range r.Configs {
				if c.Key == "group.initial.rebalance.delay.ms" {
					delay = c.MaybeValue()
				}
			}
		}
		if delay != "0" {
			t.Errorf("group.initial.rebalance.delay.ms = %q, want 0", delay)
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
