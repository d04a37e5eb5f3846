package embed_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/config"
	"samsa/embed"
)

func start(t *testing.T, c embed.Config) *embed.Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embed.Start(ctx, c)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return b
}

// roundTrip produces values to topic on b and consumes the topic from the
// start, wanting exactly values.
func roundTrip(t *testing.T, b *embed.Broker, topic string, values []string) {
	t.Helper()
	produceConsume(t, b, topic, values, values)
}

// produceConsume produces values to topic on b, then consumes the topic
// from the start, wanting exactly want.
func produceConsume(t *testing.T, b *embed.Broker, topic string, values, want []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", b.Addr(), err)
		}
	}
	var got []string
	for len(got) < len(want) {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("fetch from %s: %v (got %q)", b.Addr(), err, got)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: consumed %q, want %q", b.Addr(), got, want)
	}
}

// TestTwoBrokersInOneProcess starts two brokers side by side on free
// ports with their own temporary data dirs; each keeps its own records,
// and Close removes each data dir.
func TestTwoBrokersInOneProcess(t *testing.T) {
	a := start(t, embed.Config{HTTPListeners: "http://127.0.0.1:0"})
	b := start(t, embed.Config{Properties: []string{"num.partitions=2"}})
	if a.Addr() == b.Addr() || a.DataDir() == b.DataDir() {
		t.Fatalf("brokers share %s / %s", a.Addr(), a.DataDir())
	}
	roundTrip(t, a, "t", []string{"a1", "a2", "a3"})
	roundTrip(t, b, "t", []string{"b1"})
	// Each broker holds only its own records: a's "t" has a's three and
	// the new one, none of b's.
	produceConsume(t, a, "t", []string{"a4"}, []string{"a1", "a2", "a3", "a4"})

	if b.HTTPAddr() != "" {
		t.Errorf("HTTPAddr without HTTPListeners = %q", b.HTTPAddr())
	}
	resp, err := http.Get("http://" + a.HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("/readyz = %d %q", resp.StatusCode, body)
	}
	if ok, d := b.Ready(); !ok || d != "" {
		t.Errorf("Ready() = %v %q", ok, d)
	}

	for _, br := range []*embed.Broker{a, b} {
		dir := br.DataDir()
		if _, err := os.Stat(filepath.Join(dir, "t-0")); err != nil {
			t.Fatalf("partition dir missing before Close: %v", err)
		}
		if err := br.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("data dir %s after Close: %v, want removed", dir, err)
		}
		if err := br.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
}

// TestGivenDataDirIsKept: a DataDir the caller gives survives Close, and
// a broker started again on it serves the same records.
func TestGivenDataDirIsKept(t *testing.T) {
	dir := t.TempDir()
	b := start(t, embed.Config{DataDir: dir})
	roundTrip(t, b, "kept", []string{"x"})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kept-0")); err != nil {
		t.Fatalf("given data dir not kept: %v", err)
	}
	b = start(t, embed.Config{DataDir: dir})
	defer b.Close()
	produceConsume(t, b, "kept", []string{"y"}, []string{"x", "y"})
}

func TestStartErrors(t *testing.T) {
	_, err := embed.Start(context.Background(), embed.Config{Properties: []string{"num.partitions=zero"}})
	var ve *config.ValueError
	if !errors.As(err, &ve) || ve.Key != "num.partitions" {
		t.Errorf("bad property: err = %v, want a ValueError for num.partitions", err)
	}
	a := start(t, embed.Config{})
	defer a.Close()
	if _, err := embed.Start(context.Background(), embed.Config{Listeners: "PLAINTEXT://" + a.Addr()}); err == nil {
		t.Error("Start on a taken port succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := embed.Start(ctx, embed.Config{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err = %v", err)
	}
}
