package integration

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/internal/testbroker"
)

// TestTxnIDExpiration: a transactional id whose transaction completed
// is forgotten transactional.id.expiration.ms after its last update (a
// tombstone in __transaction_state, so also after a kill -9 and
// restart): DescribeTransactions answers TRANSACTIONAL_ID_NOT_FOUND,
// ListTransactions leaves it out, and the next producer with that id
// gets a new producer id. An id with a transaction open is kept.
func TestTxnIDExpiration(t *testing.T) {
	eachMode(t, func(t *testing.T, b *testbroker.Broker) {
		createTopic(t, b.Addr(), "exp", 1)
		ctx := ctxT(t)
		done := newClient(t, b.Addr(), kgo.TransactionalID("tid-done"), kgo.DefaultProduceTopic("exp"))
		txnProduce(t, done, "exp", true, "c1")
		open := newClient(t, b.Addr(), kgo.TransactionalID("tid-open"), kgo.DefaultProduceTopic("exp"), kgo.TransactionTimeout(time.Minute))
		if err := open.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := open.ProduceSync(ctx, kgo.StringRecord("o1")).FirstErr(); err != nil {
			t.Fatal(err)
		}
		adm := newAdmin(t, b.Addr())
		before, err := adm.DescribeTransactions(ctx, "tid-done")
		if err != nil || before["tid-done"].State != "CompleteCommit" {
			t.Fatalf("describe before expiration: %+v %v", before, err)
		}
		oldPID := before["tid-done"].ProducerID

		gone := func(when string) {
			t.Helper()
			req := kmsg.NewPtrDescribeTransactionsRequest()
			req.TransactionalIDs = []string{"tid-done", "tid-open"}
			resp, err := req.RequestWith(ctx, newClient(t, b.Addr()))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]kmsg.DescribeTransactionsResponseTransactionState{}
			for _, s := range resp.TransactionStates {
				got[s.TransactionalID] = s
			}
			if err := kerr.ErrorForCode(got["tid-done"].ErrorCode); !errors.Is(err, kerr.TransactionalIDNotFound) {
				t.Fatalf("%s: tid-done: %v (%+v), want TRANSACTIONAL_ID_NOT_FOUND", when, err, got["tid-done"])
			}
			if s := got["tid-open"]; s.ErrorCode != 0 || s.State != "Ongoing" {
				t.Fatalf("%s: tid-open: %+v, want Ongoing", when, s)
			}
			ls, err := adm.ListTransactions(ctx, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := ls["tid-done"]; ok {
				t.Fatalf("%s: ListTransactions still lists tid-done: %+v", when, ls)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			d, _ := adm.DescribeTransactions(ctx, "tid-done")
			if d["tid-done"].Err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("tid-done not expired after 10 s: %+v", d)
			}
			time.Sleep(100 * time.Millisecond)
		}
		gone("after expiration")
		open.Close()
		b.Kill()
		b.Restart()
		gone("after restart")
		again := newClient(t, b.Addr(), kgo.TransactionalID("tid-done"), kgo.DefaultProduceTopic("exp"))
		txnProduce(t, again, "exp", true, "c2")
		after, err := newAdmin(t, b.Addr()).DescribeTransactions(ctx, "tid-done")
		if err != nil || after["tid-done"].State != "CompleteCommit" || after["tid-done"].ProducerID == oldPID {
			t.Fatalf("tid-done reused: %+v %v, want a new producer id (not %d)", after, err, oldPID)
		}
	}, "transactional.id.expiration.ms=1500", "transaction.remove.expired.transaction.cleanup.interval.ms=200")
}

// TestProducerIDExpiration: a partition forgets an idempotent producer
// producer.id.expiration.ms after its last write (DescribeProducers no
// longer lists it), and keeps a transactional producer whose
// transaction is open.
func TestProducerIDExpiration(t *testing.T) {
	b := testbroker.Start(t, testbroker.InProcess, "producer.id.expiration.ms=1000", "log.retention.check.interval.ms=200")
	createTopic(t, b.Addr(), "pexp", 1)
	ctx := ctxT(t)
	idem := newClient(t, b.Addr(), kgo.DefaultProduceTopic("pexp"))
	if err := idem.ProduceSync(ctx, kgo.StringRecord("i1")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tx := newClient(t, b.Addr(), kgo.TransactionalID("tid-pexp"), kgo.DefaultProduceTopic("pexp"), kgo.TransactionTimeout(time.Minute))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, kgo.StringRecord("t1")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b.Addr())
	producers := func() []kmsg.DescribeProducersResponseTopicPartitionActiveProducer {
		req := kmsg.NewPtrDescribeProducersRequest()
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = "pexp", []int32{0}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ActiveProducers
	}
	if ps := producers(); len(ps) != 2 {
		t.Fatalf("producers before expiration: %+v, want 2", ps)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps := producers()
		if len(ps) == 1 {
			if ps[0].CurrentTxnStartOffset < 0 {
				t.Fatalf("the producer kept is %+v, want the one with the open transaction", ps[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("producers after 10 s: %+v, want only the transactional one", ps)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
