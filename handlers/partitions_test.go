package handlers

import (
	"context"
	"testing"

	"samsa/config"
	"samsa/controller"
)

// A produce that resolved its topic just before the topic was deleted
// must not leave the topic's produce settings cached: deleteTopic's
// Delete may already have run (review finding 7).
func TestProduceSettingsNotCachedForDeletedTopic(t *testing.T) {
	ctrl, err := controller.OpenSingle(controller.SingleConfig{Dir: t.TempDir(), BrokerID: 1, Host: "127.0.0.1", Port: 9092})
	if err != nil {
		t.Fatal(err)
	}
	defer ctrl.Close()
	h := &Handlers{Deps: Deps{Config: config.Default(), Controller: ctrl}}
	ctx := context.Background()
	tp, err := ctrl.CreateTopic(ctx, controller.CreateTopic{Name: "gone", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]string{"max.message.bytes": "2048"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := h.produceSettingsFor(tp); s.limits.maxBytes != 2048 {
		t.Fatalf("max.message.bytes %d, want 2048", s.limits.maxBytes)
	}
	if _, err := ctrl.DeleteTopic(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	h.produceSettings.Delete(tp.ID) // what deleteTopic does
	// The in-flight produce resolves its (already deleted) topic now.
	if s := h.produceSettingsFor(tp); s.limits.maxBytes != 2048 {
		t.Fatalf("max.message.bytes %d, want 2048", s.limits.maxBytes)
	}
	n := 0
	h.produceSettings.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d produce settings cached after the topic was deleted, want 0", n)
	}
}
