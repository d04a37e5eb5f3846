package embed_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/embed"
)

// Start a broker in-process, produce a record with franz-go and read it
// back.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	b, err := embed.Start(ctx, embed.Config{
		// Any Kafka broker key, as key=value.
		Properties: []string{"num.partitions=1"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close() // also removes the temporary data dir

	cl, err := kgo.NewClient(
		kgo.SeedBrokers(b.Addr()),
		kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics("greetings"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()

	rec := &kgo.Record{Topic: "greetings", Key: []byte("k"), Value: []byte("hello, samsa")}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		log.Fatal(err)
	}
	fetches := cl.PollFetches(ctx)
	if err := fetches.Err(); err != nil {
		log.Fatal(err)
	}
	fetches.EachRecord(func(r *kgo.Record) {
		fmt.Printf("%s@%d: %s\n", r.Topic, r.Offset, r.Value)
	})
	// Output: greetings@0: hello, samsa
}
