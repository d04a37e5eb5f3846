package logstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	bt "samsa/internal/batchtest"
)

// decodeRecords reads every record of a batch with franz-go (the
// reference reader here, independent of recReader).
func decodeRecords(t testing.TB, b []byte) (kmsg.RecordBatch, []kmsg.Record) {
	t.Helper()
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		t.Fatalf("kmsg: %v", err)
	}
	raw, err := kgo.DefaultDecompressor().Decompress(rb.Records, kgo.CompressionCodecType(rb.Attributes&7))
	if err != nil {
		t.Fatalf("franz-go cannot decompress: %v", err)
	}
	var out []kmsg.Record
	for len(raw) > 0 {
		l, k := binary.Varint(raw)
		if k <= 0 || int64(len(raw)-k) < l {
			t.Fatalf("bad record length after %d records", len(out))
		}
		var r kmsg.Record
		if err := r.ReadFrom(raw[:k+int(l)]); err != nil {
			t.Fatalf("record %d: %v", len(out), err)
		}
		out = append(out, r)
		raw = raw[k+int(l):]
	}
	return rb, out
}

// TestRecompressEveryCodecPair rebuilds batches from every codec into
// every codec and checks what a consumer reads: the same keys, values,
// headers and timestamps, offsets 0..n-1, the producer fields kept, the
// codec bits set, a valid CRC, and a batch ValidateRecords accepts.
func TestRecompressEveryCodecPair(t *testing.T) {
	now := time.Now().UnixMilli()
	recs := bt.Simple(40, 700)
	recs[3].Value = nil
	recs[5].Headers = []bt.Header{{Key: []byte("h"), Value: []byte("v")}, {Key: []byte("n"), Value: nil}}
	recs[7].TimestampDelta = 50
	recs[9].OffsetDelta = 77 // rewritten on recompression
	recs[11].Key, recs[11].KeyLen = nil, bt.Int32(-4)
	for _, src := range allCodecs {
		for tgt := 0; tgt <= 4; tgt++ {
			if src.id == tgt || src.id == bt.Xerial && tgt == bt.Snappy {
				continue
			}
			t.Run(fmt.Sprintf("%s-to-%d", src.name, tgt), func(t *testing.T) {
				in := bt.Batch{Records: recs, Codec: src.id, BaseTimestamp: now, MaxTimestamp: now + 50,
					HasProducer: true, ProducerID: 42, ProducerEpoch: 3, BaseSequence: 10, Attributes: attrTransactional}.Bytes()
				cfg := testCfg()
				cfg.Recompress = true
				h, err := validate(t, in, cfg)
				if err != nil {
					t.Fatal(err)
				}
				rb, err := Recompress(in, h, tgt, DefaultCompressionLevels, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer rb.Release()
				if !VerifyCRC(rb.Bytes) || rb.Header.TotalSize() != len(rb.Bytes) || mustHeader(t, rb.Bytes) != rb.Header {
					t.Fatal("rebuilt header, CRC or length wrong")
				}
				hdr, got := decodeRecords(t, rb.Bytes)
				if int(hdr.Attributes&7) != tgt || hdr.Attributes&attrTransactional == 0 || hdr.ProducerID != 42 ||
					hdr.ProducerEpoch != 3 || hdr.FirstSequence != 10 || hdr.NumRecords != 40 || hdr.LastOffsetDelta != 39 ||
					hdr.FirstTimestamp != now || hdr.MaxTimestamp != now+50 {
					t.Fatalf("header: attributes %x producer %d/%d/%d records %d last delta %d timestamps %d %d",
						hdr.Attributes, hdr.ProducerID, hdr.ProducerEpoch, hdr.FirstSequence, hdr.NumRecords, hdr.LastOffsetDelta, hdr.FirstTimestamp-now, hdr.MaxTimestamp-now)
				}
				if len(got) != len(recs) {
					t.Fatalf("%d records, want %d", len(got), len(recs))
				}
				for i, r := range got {
					w := recs[i]
					wantKey := w.Key
					if r.OffsetDelta != int32(i) || r.TimestampDelta64 != w.TimestampDelta ||
						!bytes.Equal(r.Key, wantKey) || (r.Key == nil) != (wantKey == nil) ||
						!bytes.Equal(r.Value, w.Value) || (r.Value == nil) != (w.Value == nil) || len(r.Headers) != len(w.Headers) {
						t.Fatalf("record %d: offset delta %d timestamp delta %d key %q value of %d bytes, %d headers", i, r.OffsetDelta, r.TimestampDelta64, r.Key, len(r.Value), len(r.Headers))
					}
					for j, hd := range r.Headers {
						if hd.Key != string(w.Headers[j].Key) || !bytes.Equal(hd.Value, w.Headers[j].Value) || (hd.Value == nil) != (w.Headers[j].Value == nil) {
							t.Fatalf("record %d header %d: %+v", i, j, hd)
						}
					}
				}
				again := append([]byte(nil), rb.Bytes...)
				if _, err := ValidateRecords(again, mustHeader(t, again), testCfg()); err != nil {
					t.Fatalf("rebuilt batch refused by the validator: %v", err)
				}
			})
		}
	}
}

// The rebuilt batch's base timestamp is its first record's timestamp,
// as Kafka's MemoryRecordsBuilder writes it.
func TestRecompressRebasesTimestamps(t *testing.T) {
	recs := bt.Simple(3, 5)
	recs[0].TimestampDelta, recs[1].TimestampDelta, recs[2].TimestampDelta = 100, 90, 130
	in := bt.Batch{Records: recs, BaseTimestamp: 1_000, MaxTimestamp: 1_130}.Bytes()
	h, err := validate(t, in, ValidateConfig{BeforeMaxMs: 1 << 62, AfterMaxMs: 1 << 62, NowMs: 2_000, Recompress: true})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Recompress(in, h, 1, CompressionLevels{Gzip: 9, LZ4: 1, Zstd: 19}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Release()
	hdr, got := decodeRecords(t, rb.Bytes)
	if hdr.FirstTimestamp != 1_100 || hdr.MaxTimestamp != 1_130 || got[0].TimestampDelta64 != 0 || got[1].TimestampDelta64 != -10 || got[2].TimestampDelta64 != 30 {
		t.Fatalf("base %d max %d deltas %d %d %d", hdr.FirstTimestamp, hdr.MaxTimestamp, got[0].TimestampDelta64, got[1].TimestampDelta64, got[2].TimestampDelta64)
	}
}

func TestRecompressAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	now := time.Now().UnixMilli()
	in := bt.Batch{Records: bt.Simple(64, 1024), BaseTimestamp: now, MaxTimestamp: now + 63}.Bytes()
	h := mustHeader(t, in)
	for tgt := 1; tgt <= 4; tgt++ {
		run := func() {
			rb, err := Recompress(in, h, tgt, DefaultCompressionLevels, 0)
			if err != nil {
				t.Fatal(err)
			}
			rb.Release()
		}
		run()
		// The Rebuilt value and a few per-call objects of the codecs; none
		// per record (64 records here).
		if allocs := testing.AllocsPerRun(20, run); allocs > 8 {
			t.Errorf("codec %d: %.1f allocations per batch of 64 records", tgt, allocs)
		}
	}
}

// FuzzRecompress: whatever ValidateRecords accepts for recompression must
// rebuild, in every codec, into a batch the validator accepts again with
// the same number of records.
func FuzzRecompress(f *testing.F) {
	for _, c := range allCodecs {
		f.Add(uint8(c.id&0xff), uint8(3), uint8(1), bt.Compress(c.id, bt.Batch{Records: bt.Simple(3, 4)}.RawRecords()))
	}
	f.Fuzz(func(t *testing.T, codec, count, target uint8, payload []byte) {
		codecID := int(codec & 0x07)
		tgt := int(target % 5)
		n := int32(count%64) + 1
		b := bt.Batch{Codec: codecID, Payload: payload, NumRecords: &n, BaseTimestamp: 1000, MaxTimestamp: 5000}.Bytes()
		h, err := ParseBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		cfg := ValidateConfig{BeforeMaxMs: 1 << 62, AfterMaxMs: 1 << 62, NowMs: 1_700_000_000_000, Recompress: true}
		if h, err = ValidateRecords(b, h, cfg); err != nil {
			return
		}
		rb, err := Recompress(b, h, tgt, DefaultCompressionLevels, 1<<20)
		if err != nil {
			t.Fatalf("validated batch does not recompress: %v", err)
		}
		defer rb.Release()
		out := append([]byte(nil), rb.Bytes...)
		cfg.Recompress = false
		h2, err := ValidateRecords(out, mustHeader(t, out), cfg)
		if err != nil || h2.NumRecords != n {
			t.Fatalf("rebuilt batch refused (%v) or has %d records, want %d", err, h2.NumRecords, n)
		}
	})
}

// BenchmarkRecompress measures the rebuild of a batch of 64 records of
// 1 KiB (MB/s of uncompressed record bytes).
func BenchmarkRecompress(b *testing.B) {
	now := time.Now().UnixMilli()
	raw := int64(len(bt.Batch{Records: bt.Simple(64, 1024)}.RawRecords()))
	for _, p := range []struct {
		name     string
		src, tgt int
	}{
		{"none-to-gzip", bt.None, 1}, {"none-to-snappy", bt.None, 2}, {"none-to-lz4", bt.None, 3}, {"none-to-zstd", bt.None, 4},
		{"gzip-to-none", bt.Gzip, 0}, {"gzip-to-lz4", bt.Gzip, 3}, {"snappy-to-zstd", bt.Snappy, 4}, {"zstd-to-lz4", bt.Zstd, 3},
	} {
		in := bt.Batch{Records: bt.Simple(64, 1024), Codec: p.src, BaseTimestamp: now, MaxTimestamp: now + 63}.Bytes()
		h := mustHeader(b, in)
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(raw)
			b.ReportAllocs()
			for b.Loop() {
				rb, err := Recompress(in, h, p.tgt, DefaultCompressionLevels, 0)
				if err != nil {
					b.Fatal(err)
				}
				rb.Release()
			}
		})
	}
}
