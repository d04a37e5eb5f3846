package integration

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

// eachMode runs fn as a subtest against a fresh broker in every mode.
func eachMode(t *testing.T, fn func(t *testing.T, b *testbroker.Broker), overrides ...string) {
	for _, m := range testbroker.Modes {
		t.Run(string(m), func(t *testing.T) {
			fn(t, testbroker.Start(t, m, overrides...))
		})
	}
}

func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RetryTimeout(10 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newAdmin(t *testing.T, addr string) *kadm.Client {
	return kadm.NewClient(newClient(t, addr))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// requireTool returns the path of an external client. Under `make test`
// (SAMSA_REQUIRE_TOOLS=1) a missing tool fails the test: the Makefile
// installs it, so a skip there would hide a broken install step.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("SAMSA_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s not installed (make test installs it)", name)
		}
		t.Skipf("%s not installed; run via make test", name)
	}
	return p
}
