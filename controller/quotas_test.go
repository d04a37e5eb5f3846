package controller

import (
	"context"
	"fmt"
	"testing"

	"samsa/quota"
)

// TestClientQuotasPersist: quotas written with SetClientQuotas are read
// back by a reopened store, and an entity with no values is deleted.
func TestClientQuotasPersist(t *testing.T) {
	dir := t.TempDir()
	open := func() *Single {
		s, err := OpenSingle(SingleConfig{Dir: dir, BrokerID: 1, Host: "localhost", Port: 9092})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	alice := quota.Entity{User: quota.Named("alice/x y"), ClientID: quota.DefaultPart()}
	ip := quota.Entity{IP: quota.Named("10.0.0.1")}
	err := s.SetClientQuotas(context.Background(), []quota.Entry{
		{Entity: alice, Values: map[string]float64{quota.ProducerByteRate: 1024, quota.RequestPercentage: 12.5}},
		{Entity: ip, Values: map[string]float64{quota.ConnectionCreationRate: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetClientQuotas(context.Background(), []quota.Entry{{Entity: ip}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open()
	defer s.Close()
	got := s.ClientQuotas()
	want := []quota.Entry{{Entity: alice, Values: map[string]float64{quota.ProducerByteRate: 1024, quota.RequestPercentage: 12.5}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reopen: %v, want %v", got, want)
	}
	if k := quotaKey(alice); k != "quota/user=alice%2Fx%20y/client-id" {
		t.Fatalf("key %q", k)
	}
}
