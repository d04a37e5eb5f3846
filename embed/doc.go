// Package embed starts a real Samsa broker inside a Go process, for tests
// and tools that want "Kafka in CI" without a container or a separate
// process. The broker is the same one cmd/samsa runs (package broker): it
// speaks the Kafka protocol on a TCP listener, keeps its data in a log
// dir and is driven with any Kafka client, such as franz-go's kgo.
//
//	b, err := embed.Start(ctx, embed.Config{})
//	if err != nil { ... }
//	defer b.Close()
//	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
//
// By default the broker listens on a free loopback port
// (PLAINTEXT://127.0.0.1:0; Addr reports the bound address), keeps its data
// in a fresh temporary directory that Close removes, and logs nothing.
// Config sets the data dir, the listeners, the HTTP listener
// (/healthz, /readyz) and any broker key of Kafka's as key=value, exactly
// as `samsa --override key=value` would. Several brokers may run in one
// process, each with its own data dir and ports.
//
// Package samsatest wraps Start for tests: samsatest.New(t) starts a
// broker and closes it when the test ends.
//
// # Importing
//
// Samsa's module path is currently "samsa" (see go.mod), so the package is
// imported as
//
//	import "samsa/embed"
//
// which works inside this module and, with a replace directive
// (`replace samsa => ../samsa`), from another module on the same machine.
// A module path that resolves on the network (e.g. github.com/<owner>/samsa)
// is needed before other projects can `go get` it; that rename is for the
// first published release.
//
// The name follows etcd's server/embed, which does the same for etcd.
// (A file that also uses the standard library's embed directive imports
// one of the two under another name.)
package embed
