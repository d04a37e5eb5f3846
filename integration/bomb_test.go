package integration

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// zstdBomb is a produced zstd batch of one record whose value is size
// zero bytes, built by streaming zeros through the encoder (256 MiB
// becomes about 8 KB).
func zstdBomb(t *testing.T, size int) []byte {
	t.Helper()
	var comp bytes.Buffer
	enc, err := zstd.NewWriter(&comp, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte{0, 0, 0, 2, 'k'} // attributes, ts delta, offset delta, key "k"
	body = binary.AppendVarint(body, int64(size))
	_, _ = enc.Write(binary.AppendVarint(nil, int64(len(body)+size+1)))
	_, _ = enc.Write(body)
	zeros := make([]byte, 1<<20)
	for n := size; n > 0; n -= len(zeros) {
		_, _ = enc.Write(zeros[:min(n, len(zeros))])
	}
	_, _ = enc.Write([]byte{0}) // no headers
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	b := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, Attributes: 4, ProducerID: -1, ProducerEpoch: -1,
		FirstSequence: -1, NumRecords: 1, Records: comp.Bytes()}
	b.Length = int32(61 - 12 + comp.Len())
	batch := b.AppendTo(nil)
	binary.BigEndian.PutUint32(batch[17:], crc32.Checksum(batch[21:], crc32.MakeTable(crc32.Castagnoli)))
	return batch
}

// TestProduceDecompressionBomb: review finding 2. An 8 KB zstd batch
// holding a 256 MiB value made the broker allocate ~1.8 GB on a topic
// with compression.type=uncompressed (Recompress), and on a compacted
// topic was stored for the cleaner to inflate. Now every topic refuses
// it with MESSAGE_TOO_LARGE (it decompresses beyond 64 x
// max.message.bytes) while the in-process broker's heap stays small, and
// the broker keeps serving.
func TestProduceDecompressionBomb(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	adm := newAdmin(t, b.Addr())
	topics := map[string]map[string]*string{
		"bomb-producer":     {"compression.type": kadm.StringPtr("producer")},
		"bomb-uncompressed": {"compression.type": kadm.StringPtr("uncompressed")},
		"bomb-gzip":         {"compression.type": kadm.StringPtr("gzip")},
		"bomb-compact":      {"cleanup.policy": kadm.StringPtr("compact")},
	}
	for name, cfg := range topics {
		if _, err := adm.CreateTopic(ctxT(t), 1, 1, cfg, name); err != nil {
			t.Fatal(err)
		}
	}
	bomb := zstdBomb(t, 256<<20)
	t.Logf("bomb batch: %d bytes holding a 256 MiB value", len(bomb))
	const messageTooLarge = 10
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var peakInuse uint64
	for name := range topics {
		sp := produceRaw(t, b.Addr(), 9, -1, name, bomb)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peakInuse = max(peakInuse, ms.HeapInuse)
		if sp.ErrorCode != messageTooLarge {
			t.Fatalf("%s: error code %d (%v), want MESSAGE_TOO_LARGE", name, sp.ErrorCode, deref(sp.ErrorMessage))
		}
	}
	runtime.ReadMemStats(&after)
	allocMiB := (after.TotalAlloc - before.TotalAlloc) >> 20
	inuseMiB := (int64(peakInuse) - int64(before.HeapInuse)) >> 20
	t.Logf("4 bomb produces: %d MiB allocated, heap in use +%d MiB", allocMiB, inuseMiB)
	if allocMiB > 128 || inuseMiB > 64 {
		t.Fatalf("4 bomb produces allocated %d MiB (heap in use +%d MiB), want < 128 MiB (< 64 MiB)", allocMiB, inuseMiB)
	}
	// The broker still serves every topic.
	for name := range topics {
		cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic(name))
		produceAll(t, cl, &kgo.Record{Key: []byte("k"), Value: []byte("after the bomb")})
		recs := consumeAll(t, b.Addr(), name, 1)
		if len(recs) != 1 || string(recs[0].Value) != "after the bomb" || recs[0].Offset != 0 {
			t.Fatalf("%s: read back %d records", name, len(recs))
		}
	}
}
