package integration

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"samsa/internal/testbroker"
	"samsa/internal/testcerts"
)

// BenchmarkSecurity measures produce and consume throughput of 1 KiB
// records (acks=1, 1 partition, no compression) through the built binary
// over PLAINTEXT and over SASL_SSL with SCRAM-SHA-512 (TLS 1.3), on one
// broker with both listeners. Each op is one record, so MB/s is payload
// throughput:
//
//	go test -run '^$' -bench BenchmarkSecurity -benchtime 200000x ./integration
func BenchmarkSecurity(b *testing.B) {
	ca := testcerts.NewCA(b)
	server := ca.Issue(b, pkix.Name{CommonName: "samsa-bench"})
	plainPort, sslPort := testbroker.FreePort(b), testbroker.FreePort(b)
	plainAddr, sslAddr := fmt.Sprintf("127.0.0.1:%d", plainPort), fmt.Sprintf("127.0.0.1:%d", sslPort)
	cmd := exec.Command(testbroker.BinaryPath(b),
		"--override", "listeners=PLAINTEXT://"+plainAddr+",SASL_SSL://"+sslAddr,
		"--override", "log.dirs="+b.TempDir(),
		"--override", "sasl.enabled.mechanisms=SCRAM-SHA-512",
		"--override", "ssl.keystore.type=PEM",
		"--override", "ssl.keystore.location="+ca.WritePEM(b, server, "server.pem"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	if err := testbroker.WaitListening(sslAddr, 10*time.Second, nil); err != nil {
		b.Fatal(err)
	}
	adminCl, err := kgo.NewClient(kgo.SeedBrokers(plainAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer adminCl.Close()
	if _, err := kgoAdmin(adminCl).AlterUserSCRAMs(context.Background(), nil, []kadm.UpsertSCRAM{{User: "bench", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "bench-pw"}}); err != nil {
		b.Fatal(err)
	}
	value := benchValue()
	for _, l := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"PLAINTEXT", []kgo.Opt{kgo.SeedBrokers(plainAddr)}},
		{"SASL_SSL", []kgo.Opt{kgo.SeedBrokers(sslAddr), kgo.DialTLSConfig(ca.ClientTLS(nil)),
			kgo.SASL(scram.Auth{User: "bench", Pass: "bench-pw"}.AsSha512Mechanism())}},
	} {
		topic := "bench-" + l.name
		if _, err := kgoAdmin(adminCl).CreateTopic(context.Background(), 1, 1, nil, topic); err != nil {
			b.Fatal(err)
		}
		produced := 0
		b.Run(l.name+"/produce", func(b *testing.B) {
			cl, err := kgo.NewClient(append(l.opts, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
				kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(time.Millisecond))...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cl.Produce(context.Background(), &kgo.Record{Value: value}, nil)
			}
			if err := cl.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			produced += b.N
		})
		b.Run(l.name+"/consume", func(b *testing.B) {
			if b.N > produced {
				b.Skipf("only %d records produced; run with -benchtime Nx", produced)
			}
			cl, err := kgo.NewClient(append(l.opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			for n := 0; n < b.N; {
				fs := cl.PollFetches(context.Background())
				if err := fs.Err(); err != nil {
					b.Fatal(err)
				}
				n += fs.NumRecords()
			}
		})
	}
}
