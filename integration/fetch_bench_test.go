package integration

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// BenchmarkFetchRaw measures the broker's Fetch path alone: an in-process
// broker holds 64 MB of 1 KiB records in one partition, and each operation
// is one Fetch v12 of up to 1 MiB, sent and read back as raw bytes over TCP
// (the response is not decoded, so the allocations counted are the
// broker's). ns/op and B/op are per ~1 MiB response; MB/s is the response
// bytes per second. cpu-ns/op is the process's user+system CPU time per
// fetch (broker and this client), steadier than ns/op on a shared machine.
//
//	go test -run '^$' -bench FetchRaw -benchtime 2000x -count 3 ./integration
func BenchmarkFetchRaw(b *testing.B) {
	br := testbroker.Start(b, testbroker.InProcess)
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.DefaultProduceTopic("fetchbench"),
		kgo.ProducerLinger(time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := kgoAdmin(cl).CreateTopic(context.Background(), 1, 1, nil, "fetchbench"); err != nil {
		b.Fatal(err)
	}
	value := benchValue()
	const records = 64 << 10
	for i := 0; i < records; i++ {
		cl.Produce(context.Background(), &kgo.Record{Value: value}, nil)
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	cl.Close()

	nc, err := net.Dial("tcp", br.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	br2 := bufio.NewReaderSize(nc, 1<<20)
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes, req.MaxWaitMillis, req.ReplicaID = 12, 1<<20, 0, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "fetchbench"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	var frame, resp []byte
	var size [4]byte
	fetch := func(offset int64) int {
		req.Topics[0].Partitions[0].FetchOffset = offset
		frame = frame[:0]
		frame = append(frame, 0, 0, 0, 0)
		frame = binary.BigEndian.AppendUint16(frame, 1)
		frame = binary.BigEndian.AppendUint16(frame, uint16(req.Version))
		frame = binary.BigEndian.AppendUint32(frame, 1)
		frame = append(frame, 0xff, 0xff, 0) // null client id, no tags
		frame = req.AppendTo(frame)
		binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
		if _, err := nc.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(br2, size[:]); err != nil {
			b.Fatal(err)
		}
		n := int(binary.BigEndian.Uint32(size[:]))
		if cap(resp) < n {
			resp = make([]byte, n)
		}
		if _, err := io.ReadFull(br2, resp[:n]); err != nil {
			b.Fatal(err)
		}
		return n
	}
	n := fetch(0)
	if n < 512<<10 {
		b.Fatalf("first fetch answered %d bytes; want about 1 MiB", n)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	step := int64(n / (len(value) + 70))
	off := int64(0)
	for i := 0; i < b.N; i++ {
		fetch(off)
		off += step
		if off > records-2*step {
			off = 0
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
