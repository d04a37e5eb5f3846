package integration

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

// TestVolumeExactlyOnceInOrder produces 1 KiB records with acks=all and
// idempotence across 8 partitions and reads them all back: each exactly
// once, in produce order per partition, with equal checksums. make test
// runs it at full scale (1,000,000 records, SAMSA_FULL_SCALE=1) without the
// race detector, and at a small scale under it.
func TestVolumeExactlyOnceInOrder(t *testing.T) {
	n := 20000
	if os.Getenv("SAMSA_FULL_SCALE") == "1" {
		n = 1000000
	}
	b := testbroker.Start(t, testbroker.Binary)
	if _, err := newAdmin(t, b.Addr()).CreateTopic(ctxT(t), 8, 1, nil, "volume"); err != nil {
		t.Fatal(err)
	}
	prod := newClient(t, b.Addr(), kgo.DefaultProduceTopic("volume"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(time.Millisecond))
	value := func(i int) []byte {
		v := make([]byte, 1024)
		binary.BigEndian.PutUint64(v, uint64(i))
		for j := 8; j < len(v); j++ {
			v[j] = byte(i*31 + j)
		}
		return v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sent := make([][sha256.Size]byte, n)
	errs := make(chan error, 1)
	for i := 0; i < n; i++ {
		v := value(i)
		sent[i] = sha256.Sum256(v)
		prod.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Fatalf("produce: %v", err)
	default:
	}

	cons := newClient(t, b.Addr(), kgo.ConsumeTopics("volume"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	seen := make([]bool, n)
	lastIdx := map[int32]int{}
	nextOff := map[int32]int64{}
	got := 0
	for got < n {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", got, n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			i := int(binary.BigEndian.Uint64(r.Value))
			if i < 0 || i >= n || seen[i] {
				t.Fatalf("record %d duplicated or unknown", i)
			}
			if prev, ok := lastIdx[r.Partition]; ok && i <= prev {
				t.Fatalf("partition %d: record %d after %d", r.Partition, i, prev)
			}
			if r.Offset != nextOff[r.Partition] {
				t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, nextOff[r.Partition])
			}
			nextOff[r.Partition]++
			lastIdx[r.Partition] = i
			seen[i] = true
			if sha256.Sum256(r.Value) != sent[i] {
				t.Fatalf("record %d: checksum differs from what was produced", i)
			}
			got++
		})
	}
	t.Logf("%d records (%d MiB) produced with acks=all and read back exactly once", n, n/1024)
}
