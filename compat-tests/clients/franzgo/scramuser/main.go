// Command scramuser creates a SCRAM-SHA-256 and a SCRAM-SHA-512 credential
// for a user through AlterUserScramCredentials, as kafka-configs
// --alter --add-config 'SCRAM-SHA-256=[password=...]' does, so that
// franz-go's own SCRAM tests (KGO_TEST_SCRAM) have a user to log in as.
//
//	go run ./compat-tests/clients/franzgo/scramuser <bootstrap> <user> <password>
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: scramuser <bootstrap> <user> <password>")
		os.Exit(2)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(os.Args[1]))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	for _, m := range []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512} {
		res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: os.Args[2], Mechanism: m, Iterations: 4096, Password: os.Args[3]}})
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "scramuser:", err)
			os.Exit(1)
		}
	}
}
