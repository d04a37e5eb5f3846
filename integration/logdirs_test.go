package integration

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

func TestDescribeLogDirs(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	adm := newAdmin(t, b.Addr())
	if _, err := adm.CreateTopic(ctxT(t), 2, 1, nil, "dirs"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr(), kgo.DefaultProduceTopic("dirs"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceAll(t, cl, &kgo.Record{Partition: 1, Value: benchValue()}, &kgo.Record{Partition: 1, Value: benchValue()})
	all, err := adm.DescribeAllLogDirs(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs := all[0]
	if len(dirs) != 1 {
		t.Fatalf("want one log dir, got %+v", dirs)
	}
	for _, d := range dirs {
		if d.Err != nil || d.TotalBytes <= 0 {
			t.Fatalf("dir %+v", d)
		}
		p, ok := d.Topics.Lookup("dirs", 1)
		if !ok || p.Size < 2048 {
			t.Fatalf("partition 1 of dirs: %+v %v", p, ok)
		}
		// A partition without records has a log too, as in Kafka.
		if p0, ok := d.Topics.Lookup("dirs", 0); !ok || p0.Size != 0 {
			t.Fatalf("partition 0 of dirs: %+v %v", p0, ok)
		}
	}
}
