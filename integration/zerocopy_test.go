package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/embed"
	"samsa/internal/testcerts"
	"samsa/logstore"
	"samsa/protocol"
)

// zcBroker is an in-process broker with a PLAINTEXT listener (Fetch
// records go with sendfile) and an SSL one (they are read into a buffer).
type zcBroker struct {
	b          *embed.Broker
	plain, ssl string
	tls        *tls.Config
}

func startZCBroker(t *testing.T) *zcBroker {
	t.Helper()
	ca := testcerts.NewCA(t)
	server := ca.Issue(t, pkix.Name{CommonName: "samsa-broker"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embed.Start(ctx, embed.Config{
		DataDir:   t.TempDir(),
		Listeners: "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
		Properties: []string{
			"listener.name.ssl.ssl.keystore.type=PEM",
			"listener.name.ssl.ssl.keystore.location=" + ca.WritePEM(t, server, "server.pem"),
			"inter.broker.listener.name=PLAINTEXT",
		},
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return &zcBroker{b: b, plain: b.Addrs()[0], ssl: b.Addrs()[1], tls: ca.ClientTLS(nil)}
}

// zcProduce creates topic with segment.bytes and writes n records of 1 KiB
// whose values start with their offset.
func zcProduce(t *testing.T, addr, topic string, segmentBytes, n int) {
	t.Helper()
	ctx := ctxT(t)
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(time.Millisecond))
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": kadm.StringPtr(fmt.Sprint(segmentBytes))}, topic); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: zcValue(int64(i))}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func zcValue(offset int64) []byte {
	v := bytes.Repeat([]byte{'z'}, 1024)
	copy(v, fmt.Sprintf("%012d", offset))
	return v
}

// zcConsume reads topic from the start until it has n records, over addr
// (TLS when cfg is set), checking that every record's value names its
// offset, and returns how many record bytes it read.
func zcConsume(t *testing.T, addr string, cfg *tls.Config, topic string, n int) {
	t.Helper()
	opts := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(4 << 20)}
	if cfg != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	cl := newClient(t, addr, opts...)
	ctx := ctxT(t)
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !bytes.Equal(r.Value, zcValue(r.Offset)) {
				t.Fatalf("record at offset %d has the value of %q", r.Offset, r.Value[:12])
			}
			got++
		})
	}
}

// TestFetchUsesSendfile: records consumed over PLAINTEXT leave through
// sendfile(2) (the counter moves by at least their bytes), over SSL they
// do not, and both read the right records.
func TestFetchUsesSendfile(t *testing.T) {
	zb := startZCBroker(t)
	const n = 3000
	zcProduce(t, zb.plain, "zc", 1<<20, n)
	before := protocol.SendfileBytes()
	zcConsume(t, zb.plain, nil, "zc", n)
	sent := protocol.SendfileBytes() - before
	if sent < n*1024 {
		t.Fatalf("sendfile sent %d bytes for %d records of 1 KiB over PLAINTEXT; the zero-copy path is off", sent, n)
	}
	before = protocol.SendfileBytes()
	zcConsume(t, zb.ssl, zb.tls, "zc", n)
	if d := protocol.SendfileBytes() - before; d != 0 {
		t.Fatalf("sendfile sent %d bytes over SSL", d)
	}
}

// slowFetch sends one Fetch v12 of up to 16 MiB at offset 0 of topic on
// a connection that does not read, so the broker's write stalls once the
// socket buffers are full; it returns the connection and a reader.
func slowFetch(t *testing.T, addr string, cfg *tls.Config, topic string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := nc.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	c := nc
	if cfg != nil {
		tc := tls.Client(nc, cfg)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		c = tc
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes, req.ReplicaID = 12, 16<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 16 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	frame := []byte{0, 0, 0, 0}
	frame = binary.BigEndian.AppendUint16(frame, 1)
	frame = binary.BigEndian.AppendUint16(frame, uint16(req.Version))
	frame = binary.BigEndian.AppendUint32(frame, 7)
	frame = append(frame, 0xff, 0xff, 0)
	frame = req.AppendTo(frame)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the broker fills the socket buffers and waits
	return c, bufio.NewReader(c)
}

// TestFetchWhileSegmentsGo: a Fetch being written while retention deletes
// its segment, or while the log is truncated under it, over PLAINTEXT
// (sendfile) and SSL (pread): the answer is either whole and right, or
// the connection closes part-way after right bytes only; a consumer
// reading meanwhile gets right records and recovers.
func TestFetchWhileSegmentsGo(t *testing.T) {
	zb := startZCBroker(t)
	logs := zb.b.Internal().Logs()
	for _, l := range []struct {
		name string
		addr string
		cfg  *tls.Config
	}{{"plaintext", zb.plain, nil}, {"ssl", zb.ssl, zb.tls}} {
		t.Run(l.name+"/retention", func(t *testing.T) {
			topic := "zcret-" + l.name
			// 24 MiB: the first segment (20 MiB) is closed, so
			// retention can delete it.
			zcProduce(t, zb.plain, topic, 20<<20, 24<<10)
			p, _ := logs.Partition(topic, 0)
			want := readBytes(t, p, 16<<20)
			c, r := slowFetch(t, l.addr, l.cfg, topic)
			if _, err := kadm.NewClient(newClient(t, zb.plain)).DeleteRecords(ctxT(t), kadm.Offsets{topic: {0: {Topic: topic, At: p.LogEndOffset() - 1, LeaderEpoch: -1}}}); err != nil {
				t.Fatal(err)
			}
			logs.RunRetention()
			seg := filepath.Join(zb.b.DataDir(), topic+"-0", "00000000000000000000.log")
			if _, err := os.Stat(seg); !os.IsNotExist(err) {
				t.Fatalf("retention kept %s: %v", seg, err)
			}
			resp := readFetchResponse(t, r)
			c.Close()
			got := resp.Topics[0].Partitions[0].RecordBatches
			if resp.Topics[0].Partitions[0].ErrorCode != 0 || wholeBatchBytes(got) < 8<<20 || !bytes.Equal(got[:wholeBatchBytes(got)], want[:wholeBatchBytes(got)]) {
				t.Fatalf("answer after the segment was deleted: error %d, %d whole bytes, equal to the log: %v",
					resp.Topics[0].Partitions[0].ErrorCode, wholeBatchBytes(got), bytes.Equal(got[:wholeBatchBytes(got)], want[:wholeBatchBytes(got)]))
			}
		})
		t.Run(l.name+"/truncation", func(t *testing.T) {
			topic := "zctrunc-" + l.name
			zcProduce(t, zb.plain, topic, 64<<20, 20<<10)
			p, _ := logs.Partition(topic, 0)
			want := readBytes(t, p, 16<<20)
			c, r := slowFetch(t, l.addr, l.cfg, topic)
			if _, err := p.TruncateTo(2000); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			c.Close()
			if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrUnexpectedEOF) {
				var ne *net.OpError
				if !errors.As(err, &ne) {
					t.Fatalf("reading the answer: %v", err)
				}
			}
			if len(got) < 4 {
				t.Fatalf("no answer before the close (%d bytes)", len(got))
			}
			size := int(binary.BigEndian.Uint32(got))
			if len(got) >= 4+size {
				t.Fatalf("the answer was completed (%d bytes) although the log was truncated under it", size)
			}
			// What came is a prefix of the log's bytes after the
			// response's header, up to where the log was cut. Past the
			// cut, sendfile's bytes still in the socket buffer are page
			// cache pages the truncation zeroed: they belong to no record
			// any more and the frame they are in is never completed.
			at := bytes.Index(got, want[:61])
			if at < 0 {
				t.Fatalf("the %d bytes received do not hold the first batch", len(got))
			}
			cut := batchPosition(t, want, 2000)
			rest := got[at:]
			if len(rest) > len(want) {
				t.Fatalf("received %d record bytes, more than the %d asked", len(rest), len(want))
			}
			n := min(len(rest), cut)
			if i := firstDiff(rest[:n], want[:n]); i >= 0 {
				t.Fatalf("byte %d of the records received differs from the log's (the log was cut at %d)", i, cut)
			}
			// Produce past the truncation; a consumer reads it all.
			cl := newClient(t, zb.plain, kgo.DefaultProduceTopic(topic))
			for i := p.LogEndOffset(); i < 2500; i++ {
				if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: zcValue(i)}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			zcConsume(t, l.addr, l.cfg, topic, 2500)
		})
	}
	// A consumer running while a log is truncated and retention deletes
	// segments under it: right records only, and it carries on.
	t.Run("consumer", func(t *testing.T) {
		topic := "zcrun"
		zcProduce(t, zb.plain, topic, 2<<20, 12<<10)
		p, _ := logs.Partition(topic, 0)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 20; i++ {
				time.Sleep(20 * time.Millisecond)
				if i%2 == 0 {
					_, _ = p.DeleteRecordsBefore(int64(i) * 500)
					logs.RunRetention()
				}
			}
		}()
		for _, l := range []struct {
			addr string
			cfg  *tls.Config
		}{{zb.plain, nil}, {zb.ssl, zb.tls}} {
			zcConsume(t, l.addr, l.cfg, topic, 2000)
		}
		<-done
	})
}

// readBytes reads up to max bytes of whole batches from offset 0 of p.
func readBytes(t *testing.T, p *logstore.Partition, max int32) []byte {
	t.Helper()
	res, err := p.Read(0, max)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	return bytes.Clone(res.Batches)
}

func readFetchResponse(t *testing.T, r io.Reader) *kmsg.FetchResponse {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	if err := resp.ReadFrom(b[5:]); err != nil { // correlation id, header tags
		t.Fatal(err)
	}
	return resp
}

// batchPosition is the position in batches of the batch holding offset.
func batchPosition(t *testing.T, batches []byte, offset int64) int {
	t.Helper()
	for pos := 0; pos+61 <= len(batches); {
		h, err := logstore.ParseBatchHeader(batches[pos:])
		if err != nil {
			t.Fatal(err)
		}
		if h.LastOffset() >= offset {
			return pos
		}
		pos += h.TotalSize()
	}
	t.Fatalf("offset %d not in the batches", offset)
	return 0
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}
