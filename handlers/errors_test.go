package handlers

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestErrMessageDropsGenericCodeText(t *testing.T) {
	err := fmt.Errorf("Topic already has 1 partition(s).: %w", kerr.InvalidPartitions)
	if m := errMessage(err); m == nil || *m != "Topic already has 1 partition(s)." {
		t.Fatalf("got %v", m)
	}
	if m := errMessage(kerr.InvalidPartitions); m != nil {
		t.Fatalf("bare code: got %q, want nil", *m)
	}
	if m := errMessage(errors.New("disk on fire")); m == nil || *m != "disk on fire" {
		t.Fatalf("plain error: got %v", m)
	}
	if c := errCode(fmt.Errorf("x: %w", kerr.InvalidConfig)); c != kerr.InvalidConfig.Code {
		t.Fatalf("code %d", c)
	}
}
