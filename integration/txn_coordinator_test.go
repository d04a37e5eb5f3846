package integration

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/internal/testbroker"
)

func createTopic(t *testing.T, addr, topic string, parts int32) {
	t.Helper()
	adm := newAdmin(t, addr)
	if _, err := adm.CreateTopic(ctxT(t), parts, 1, nil, topic); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

func txnProduce(t *testing.T, cl *kgo.Client, topic string, commit bool, values ...string) {
	t.Helper()
	ctx := ctxT(t)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end (commit %v): %v", commit, err)
	}
}

func sorted(s []string) []string { sort.Strings(s); return s }

// TestTxnCommitAbort: a franz-go transactional producer commits one
// transaction and aborts another; read_committed sees exactly the
// committed records, read_uncommitted both.
func TestTxnCommitAbort(t *testing.T) {
	eachMode(t, func(t *testing.T, b *testbroker.Broker) {
		createTopic(t, b.Addr(), "tx", 2)
		cl := newClient(t, b.Addr(), kgo.TransactionalID("tid-1"), kgo.DefaultProduceTopic("tx"))
		txnProduce(t, cl, "tx", true, "c1", "c2", "c3")
		txnProduce(t, cl, "tx", false, "a1", "a2")
		txnProduce(t, cl, "tx", true, "c4")
		got := sorted(consumeValues(t, b.Addr(), "tx", 4, kgo.FetchIsolationLevel(kgo.ReadCommitted())))
		if fmt.Sprint(got) != "[c1 c2 c3 c4]" {
			t.Fatalf("read_committed got %v", got)
		}
		got = sorted(consumeValues(t, b.Addr(), "tx", 6, kgo.FetchIsolationLevel(kgo.ReadUncommitted())))
		if fmt.Sprint(got) != "[a1 a2 c1 c2 c3 c4]" {
			t.Fatalf("read_uncommitted got %v", got)
		}
		adm := newAdmin(t, b.Addr())
		ds, err := adm.DescribeTransactions(ctxT(t), "tid-1")
		if err != nil {
			t.Fatalf("describe transactions: %v", err)
		}
		d, ok := ds["tid-1"]
		if !ok || d.State != "CompleteCommit" || d.ProducerID < 0 {
			t.Fatalf("describe: %+v", ds)
		}
	})
}

// TestTxnZombieFenced: a second producer with the same transactional id
// fences the first; the first's open transaction is aborted, its next
// produce is answered INVALID_PRODUCER_EPOCH and its commit fails.
func TestTxnZombieFenced(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess)
	createTopic(t, b.Addr(), "zt", 1)
	ctx := ctxT(t)
	zombie := newClient(t, b.Addr(), kgo.TransactionalID("tid-z"), kgo.DefaultProduceTopic("zt"))
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, kgo.StringRecord("zombie")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fresh := newClient(t, b.Addr(), kgo.TransactionalID("tid-z"), kgo.DefaultProduceTopic("zt"))
	if err := fresh.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := fresh.ProduceSync(ctx, kgo.StringRecord("fresh")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// The zombie's Produce is answered INVALID_PRODUCER_EPOCH, as Kafka's
	// partition leaders answer it (the coordinator's PRODUCER_FENCED).
	if err := zombie.ProduceSync(ctx, kgo.StringRecord("late")).FirstErr(); !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie produce after fencing: %v, want INVALID_PRODUCER_EPOCH", err)
	}
	if err := fresh.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// franz-go refuses to commit once a produce of the transaction failed
	// (OPERATION_NOT_ATTEMPTED, decided client side).
	if err := zombie.EndTransaction(ctx, kgo.TryCommit); !errors.Is(err, kerr.OperationNotAttempted) {
		t.Fatalf("zombie commit: %v, want OPERATION_NOT_ATTEMPTED", err)
	}
	got := consumeValues(t, b.Addr(), "zt", 1, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if fmt.Sprint(got) != "[fresh]" {
		t.Fatalf("read_committed got %v", got)
	}
}

// TestTxnGroupTransactSession: consume-transform-produce with the
// offsets committed in the transaction; the group's committed offset
// moves only with the commit.
func TestTxnGroupTransactSession(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "group.initial.rebalance.delay.ms=0")
	createTopic(t, b.Addr(), "in", 1)
	createTopic(t, b.Addr(), "out", 1)
	ctx := ctxT(t)
	p := newClient(t, b.Addr(), kgo.DefaultProduceTopic("in"))
	for i := 0; i < 10; i++ {
		if err := p.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint("v", i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("tid-etl"),
		kgo.ConsumerGroup("etl"), kgo.ConsumeTopics("in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DefaultProduceTopic("out"))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	n := 0
	deadline := time.Now().Add(20 * time.Second)
	for n < 10 && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		fs := sess.PollFetches(pctx)
		cancel()
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Topic: "out", Value: append([]byte("t-"), r.Value...)}, nil)
			n++
		})
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil || !committed {
			t.Fatalf("end: committed %v, err %v", committed, err)
		}
	}
	if n != 10 {
		t.Fatalf("transformed %d records", n)
	}
	got := consumeValues(t, b.Addr(), "out", 10, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if len(got) != 10 {
		t.Fatalf("out has %d committed records: %v", len(got), got)
	}
	adm := newAdmin(t, b.Addr())
	offs, err := adm.FetchOffsets(ctx, "etl")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup("in", 0); !ok || o.At != 10 {
		t.Fatalf("committed offset of etl: %+v", offs)
	}
	_ = kadm.Offsets{}
}

// TestTxnAcrossRestart: a transaction left open when the broker stops
// (gracefully, then with kill -9) is aborted by the coordinator's
// timeout after the restart; a committed one stays visible.
func TestTxnAcrossRestart(t *testing.T) {
	eachMode(t, func(t *testing.T, b *testbroker.Broker) {
		createTopic(t, b.Addr(), "rt", 1)
		ctx := ctxT(t)
		cl := newClient(t, b.Addr(), kgo.TransactionalID("tid-r"), kgo.DefaultProduceTopic("rt"), kgo.TransactionTimeout(2*time.Second))
		txnProduce(t, cl, "rt", true, "before")
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, kgo.StringRecord("open")).FirstErr(); err != nil {
			t.Fatal(err)
		}
		cl.Close()
		b.Kill()
		b.Restart()
		// The open transaction blocks read_committed until the
		// coordinator aborts it (timeout 2 s, checked every 500 ms).
		got := consumeValues(t, b.Addr(), "rt", 1, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		if fmt.Sprint(got) != "[before]" {
			t.Fatalf("read_committed after restart got %v", got)
		}
		cl2 := newClient(t, b.Addr(), kgo.TransactionalID("tid-r"), kgo.DefaultProduceTopic("rt"))
		txnProduce(t, cl2, "rt", true, "after")
		got = consumeValues(t, b.Addr(), "rt", 2, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		if fmt.Sprint(got) != "[before after]" {
			t.Fatalf("read_committed got %v", got)
		}
	}, "transaction.abort.timed.out.transaction.cleanup.interval.ms=500")
}
