package integration

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"samsa/internal/testbroker"
)

// TestKcatRoundTrip produces with kcat (librdkafka) with keys, headers and
// each codec, and reads back with kcat.
func TestKcatRoundTrip(t *testing.T) {
	kcat := requireTool(t, "kcat")
	b := testbroker.Start(t, testbroker.Binary)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := "kcat-" + codec
			if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 1, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			var in strings.Builder
			for i := 0; i < 50; i++ {
				fmt.Fprintf(&in, "key%d:value %d\n", i, i)
			}
			prod := exec.Command(kcat, "-P", "-b", b.Addr(), "-t", topic, "-K:", "-H", "origin=kcat", "-z", codec, "-X", "enable.idempotence=true")
			prod.Stdin = strings.NewReader(in.String())
			if out, err := prod.CombinedOutput(); err != nil {
				t.Fatalf("kcat -P: %v\n%s", err, out)
			}
			cons := exec.Command(kcat, "-C", "-b", b.Addr(), "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k|%s|%h|%o\n")
			out, err := cons.CombinedOutput()
			if err != nil {
				t.Fatalf("kcat -C: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 50 {
				t.Fatalf("read %d records, want 50:\n%s", len(lines), out)
			}
			for i, l := range lines {
				want := fmt.Sprintf("key%d|value %d|origin=kcat|%d", i, i, i)
				if l != want {
					t.Fatalf("record %d = %q, want %q", i, l, want)
				}
			}
		})
	}
}
