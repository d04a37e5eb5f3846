package controller

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"samsa/internal/pebblelog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kerr"
)

const testBroker = 1

func testConfig(dir string) SingleConfig {
	rack := "rack-a"
	return SingleConfig{
		Dir:      dir,
		BrokerID: testBroker,
		Host:     "localhost",
		Port:     9092,
		Rack:     &rack,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// openTest opens a Single in a fresh directory and closes it at the end of
// the test.
func openTest(t *testing.T) (*Single, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), ".samsa-meta")
	s, err := OpenSingle(testConfig(dir))
	if err != nil {
		t.Fatalf("OpenSingle: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

func reopen(t *testing.T, s *Single, dir string) *Single {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2, err := OpenSingle(testConfig(dir))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	return s2
}

// withBrokers pretends more brokers are registered, to exercise the rules
// that a single broker cannot reach (differing replica counts, placement).
// Only call it before the controller is shared between goroutines.
func withBrokers(s *Single, ids ...int32) {
	for _, id := range ids {
		s.brokers = append(s.brokers, Broker{ID: id, Host: "localhost", Port: 9092 + id})
	}
	slices.SortFunc(s.brokers, func(a, b Broker) int { return int(a.ID - b.ID) })
}

func mustCreate(t *testing.T, s *Single, req CreateTopic) Topic {
	t.Helper()
	top, err := s.CreateTopic(context.Background(), req)
	if err != nil {
		t.Fatalf("CreateTopic(%q): %v", req.Name, err)
	}
	return top
}

func wantErr(t *testing.T, err error, want *kerr.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %s", err, want.Message)
	}
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke.Code != want.Code {
		t.Fatalf("errors.As gave %v, want code %d", ke, want.Code)
	}
}

func isKafkaUUID(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(s) == 22 && len(b) == 16 && !strings.HasPrefix(s, "-")
}

func TestOpenSingleClusterIdentity(t *testing.T) {
	s, dir := openTest(t)
	id := s.ClusterID()
	if !isKafkaUUID(id) {
		t.Fatalf("cluster id %q is not a 22-char base64 uuid", id)
	}
	if s.ControllerID() != testBroker {
		t.Fatalf("ControllerID = %d", s.ControllerID())
	}
	bs := s.Brokers()
	if len(bs) != 1 || bs[0].ID != testBroker || bs[0].Host != "localhost" || bs[0].Port != 9092 ||
		bs[0].Rack == nil || *bs[0].Rack != "rack-a" {
		t.Fatalf("Brokers = %+v", bs)
	}
	*bs[0].Rack = "changed"
	if *s.Brokers()[0].Rack != "rack-a" {
		t.Fatal("Brokers shares its Rack string with callers")
	}

	s2 := reopen(t, s, dir)
	if s2.ClusterID() != id {
		t.Fatalf("cluster id changed across reopen: %q -> %q", id, s2.ClusterID())
	}

	other, _ := openTest(t)
	if other.ClusterID() == id {
		t.Fatal("two stores got the same cluster id")
	}
}

func TestOpenSingleConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, mod := range []func(*SingleConfig){
		func(c *SingleConfig) { c.Dir = "" },
		func(c *SingleConfig) { c.BrokerID = -1 },
		func(c *SingleConfig) { c.Port = 70000 },
	} {
		cfg := testConfig(dir)
		mod(&cfg)
		if s, err := OpenSingle(cfg); err == nil {
			_ = s.Close()
			t.Fatalf("OpenSingle(%+v) succeeded", cfg)
		}
	}
	cfg := testConfig(filepath.Join(dir, "nil-logger"))
	cfg.Logger = nil
	s, err := OpenSingle(cfg)
	if err != nil {
		t.Fatalf("nil logger: %v", err)
	}
	_ = s.Close()
}

func TestOpenSingleRejectsOtherBrokerID(t *testing.T) {
	s, dir := openTest(t)
	_ = s.Close()
	cfg := testConfig(dir)
	cfg.BrokerID = 2
	if s2, err := OpenSingle(cfg); err == nil {
		_ = s2.Close()
		t.Fatal("opened a store created by broker 1 as broker 2")
	}
}

func TestOpenSingleRejectsBadStore(t *testing.T) {
	for name, kv := range map[string][2]string{
		"schema":  {keySchemaVersion, "2"},
		"unknown": {"bogus/key", "x"},
		"json":    {"topic/t", "{"},
		"name":    {"topic/t", `{"name":"u","id":"AAAAAAAAAAAAAAAAAAAAAQ","partitions":[{"index":0,"replicas":[1],"isr":[1]}]}`},
		"zero-id": {"topic/t", `{"name":"t","id":"AAAAAAAAAAAAAAAAAAAAAA","partitions":[{"index":0,"replicas":[1],"isr":[1]}]}`},
		"order":   {"topic/t", `{"name":"t","id":"AAAAAAAAAAAAAAAAAAAAAQ","partitions":[{"index":1,"replicas":[1],"isr":[1]}]}`},
		"empty":   {"topic/t", `{"name":"t","id":"AAAAAAAAAAAAAAAAAAAAAQ","partitions":[]}`},
	} {
		t.Run(name, func(t *testing.T) {
			s, dir := openTest(t)
			_ = s.Close()
			db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.New(slog.New(slog.NewTextHandler(io.Discard, nil)))})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Set([]byte(kv[0]), []byte(kv[1]), pebble.Sync); err != nil {
				t.Fatal(err)
			}
			_ = db.Close()
			if s2, err := OpenSingle(testConfig(dir)); err == nil {
				_ = s2.Close()
				t.Fatalf("opened a store with %s=%s", kv[0], kv[1])
			}
		})
	}
	// Control: a well-formed record written the same way loads.
	t.Run("valid", func(t *testing.T) {
		s, dir := openTest(t)
		_ = s.Close()
		db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.New(slog.New(slog.NewTextHandler(io.Discard, nil)))})
		if err != nil {
			t.Fatal(err)
		}
		rec := `{"name":"t","id":"AAAAAAAAAAAAAAAAAAAAAg","partitions":[{"index":0,"leader":1,"replicas":[1],"isr":[1]}]}`
		_ = db.Set([]byte("topic/t"), []byte(rec), pebble.Sync)
		_ = db.Close()
		s2, err := OpenSingle(testConfig(dir))
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		if top, ok := s2.TopicByID(TopicID{15: 2}); !ok || top.Name != "t" || top.Partitions[0].Leader != 1 {
			t.Fatalf("loaded %+v, %v", top, ok)
		}
	})
	t.Run("foreign", func(t *testing.T) {
		dir := t.TempDir()
		db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.New(slog.New(slog.NewTextHandler(io.Discard, nil)))})
		if err != nil {
			t.Fatal(err)
		}
		_ = db.Set([]byte("cluster/id"), []byte("x"), pebble.Sync)
		_ = db.Close()
		if s, err := OpenSingle(testConfig(dir)); err == nil {
			_ = s.Close()
			t.Fatal("opened a store without a schema version")
		}
	})
}

func TestRandomUUID(t *testing.T) {
	seen := make(map[TopicID]bool)
	for range 5000 {
		id := randomUUID(nil)
		if id == (TopicID{}) || id == oneUUID {
			t.Fatalf("reserved id %v", id)
		}
		if strings.HasPrefix(id.String(), "-") {
			t.Fatalf("id %s starts with '-'", id)
		}
		if id[6]>>4 != 4 || id[8]>>6 != 2 {
			t.Fatalf("id %x is not a version 4 RFC 4122 uuid", id)
		}
		back, err := parseTopicID(id.String())
		if err != nil || back != id {
			t.Fatalf("parse(%s) = %v, %v", id, back, err)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
	// taken is honoured.
	first := randomUUID(nil)
	calls := 0
	got := randomUUID(func(id TopicID) bool { calls++; return calls == 1 })
	if calls != 2 || got == first {
		t.Fatalf("taken called %d times", calls)
	}
	if oneUUID.String() != "AAAAAAAAAAAAAAAAAAAAAQ" {
		t.Fatalf("ONE_UUID = %s", oneUUID)
	}
}

func TestCreateTopicDefaults(t *testing.T) {
	s, _ := openTest(t)
	top := mustCreate(t, s, CreateTopic{Name: "orders", NumPartitions: 3, ReplicationFactor: 1,
		Configs: map[string]string{"retention.ms": "1000"}})
	if top.Name != "orders" || top.Internal || top.ID == (TopicID{}) || top.ID == oneUUID {
		t.Fatalf("topic = %+v", top)
	}
	if len(top.Partitions) != 3 {
		t.Fatalf("partitions = %d", len(top.Partitions))
	}
	for i, p := range top.Partitions {
		want := Partition{Index: int32(i), Leader: testBroker, Replicas: []int32{testBroker},
			ISR: []int32{testBroker}, OfflineReplicas: []int32{}}
		if !reflect.DeepEqual(p, want) {
			t.Fatalf("partition %d = %+v, want %+v", i, p, want)
		}
	}
	if !reflect.DeepEqual(top.Configs, map[string]string{"retention.ms": "1000"}) {
		t.Fatalf("configs = %v", top.Configs)
	}
	got, ok := s.Topic("orders")
	if !ok || !reflect.DeepEqual(got, top) {
		t.Fatalf("Topic = %+v, %v; want %+v", got, ok, top)
	}
	byID, ok := s.TopicByID(top.ID)
	if !ok || !reflect.DeepEqual(byID, top) {
		t.Fatalf("TopicByID = %+v, %v", byID, ok)
	}
	if _, ok := s.TopicByID(TopicID{}); ok {
		t.Fatal("zero id found a topic")
	}
	if _, ok := s.Topic("nope"); ok {
		t.Fatal("found a missing topic")
	}
}

func TestCreateTopicNameValidation(t *testing.T) {
	s, _ := openTest(t)
	bad := []string{
		"", ".", "..", strings.Repeat("a", 250), "a b", "a/b", "a:b", "tópico", "a\x00", "a*", "日本",
		strings.Repeat("é", 200),
	}
	for _, name := range bad {
		_, err := s.CreateTopic(context.Background(), CreateTopic{Name: name, NumPartitions: 1, ReplicationFactor: 1})
		wantErr(t, err, kerr.InvalidTopicException)
	}
	for _, name := range []string{strings.Repeat("a", 249), "a.b", "A_b-9", "...", "-x", "__foo"} {
		mustCreate(t, s, CreateTopic{Name: name, NumPartitions: 1, ReplicationFactor: 1})
	}
	if n := len(s.Topics()); n != 6 {
		t.Fatalf("%d topics", n)
	}
	// The message is Kafka's.
	_, err := s.CreateTopic(context.Background(), CreateTopic{Name: "..", NumPartitions: 1, ReplicationFactor: 1})
	if !strings.HasPrefix(err.Error(), "Topic name is invalid: '..' is not allowed: ") {
		t.Fatalf("message %q", err)
	}
}

func TestCreateTopicExistsAndCollides(t *testing.T) {
	s, _ := openTest(t)
	mustCreate(t, s, CreateTopic{Name: "a.b", NumPartitions: 1, ReplicationFactor: 1})
	mustCreate(t, s, CreateTopic{Name: "c_d", NumPartitions: 1, ReplicationFactor: 1})
	mustCreate(t, s, CreateTopic{Name: "plain", NumPartitions: 1, ReplicationFactor: 1})

	for _, name := range []string{"a.b", "c_d", "plain"} {
		_, err := s.CreateTopic(context.Background(), CreateTopic{Name: name, NumPartitions: 1, ReplicationFactor: 1})
		wantErr(t, err, kerr.TopicAlreadyExists)
	}
	for _, name := range []string{"a_b", "c.d"} {
		_, err := s.CreateTopic(context.Background(), CreateTopic{Name: name, NumPartitions: 1, ReplicationFactor: 1})
		wantErr(t, err, kerr.InvalidTopicException)
		if !strings.Contains(err.Error(), "collides with existing topic") {
			t.Fatalf("message %q", err)
		}
	}
	// ValidateOnly applies the same checks.
	_, err := s.CreateTopic(context.Background(), CreateTopic{Name: "a_b", NumPartitions: 1, ReplicationFactor: 1, ValidateOnly: true})
	wantErr(t, err, kerr.InvalidTopicException)

	// Deleting the colliding topic frees the name.
	if _, err := s.DeleteTopic(context.Background(), "a.b"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, CreateTopic{Name: "a_b", NumPartitions: 1, ReplicationFactor: 1})
	_, err = s.CreateTopic(context.Background(), CreateTopic{Name: "a.b", NumPartitions: 1, ReplicationFactor: 1})
	wantErr(t, err, kerr.InvalidTopicException)
}

func TestCreateTopicCollisionSurvivesReopen(t *testing.T) {
	s, dir := openTest(t)
	mustCreate(t, s, CreateTopic{Name: "x.y", NumPartitions: 1, ReplicationFactor: 1})
	s = reopen(t, s, dir)
	_, err := s.CreateTopic(context.Background(), CreateTopic{Name: "x_y", NumPartitions: 1, ReplicationFactor: 1})
	wantErr(t, err, kerr.InvalidTopicException)
}

func TestCreateTopicCounts(t *testing.T) {
	s, _ := openTest(t)
	cases := []struct {
		parts int32
		rf    int16
		want  *kerr.Error
	}{
		{0, 1, kerr.InvalidPartitions},
		{-1, 1, kerr.InvalidPartitions},
		{1, 0, kerr.InvalidReplicationFactor},
		{1, -1, kerr.InvalidReplicationFactor},
		{1, 2, kerr.InvalidReplicationFactor}, // only one broker
		{0, 0, kerr.InvalidReplicationFactor}, // Kafka checks the factor first
		{0, 2, kerr.InvalidPartitions},
		{10000, 1, kerr.PolicyViolation}, // topic record + 10000 partitions
		{1 << 30, 1, kerr.PolicyViolation},
	}
	for _, c := range cases {
		_, err := s.CreateTopic(context.Background(), CreateTopic{Name: "t", NumPartitions: c.parts, ReplicationFactor: c.rf})
		wantErr(t, err, c.want)
	}
	if len(s.Topics()) != 0 {
		t.Fatal("a failed create left a topic")
	}
	mustCreate(t, s, CreateTopic{Name: "big", NumPartitions: 9999, ReplicationFactor: 1})
}

func TestCreateTopicAssignments(t *testing.T) {
	s, _ := openTest(t)
	withBrokers(s, 2, 3)
	cases := []struct {
		name string
		a    [][]int32
	}{
		{"empty list", [][]int32{{1}, {}}},
		{"duplicate", [][]int32{{1, 2, 1}}},
		{"unknown broker", [][]int32{{1, 4}}},
		{"negative broker", [][]int32{{-1}}},
		{"lengths differ", [][]int32{{1, 2}, {2}}},
		{"lengths differ later", [][]int32{{1}, {2}, {3, 1}}},
	}
	for _, c := range cases {
		_, err := s.CreateTopic(context.Background(), CreateTopic{Name: "t", Assignments: c.a})
		if !errors.Is(err, kerr.InvalidReplicaAssignment) {
			t.Fatalf("%s: error = %v", c.name, err)
		}
	}

	// Assignments decide the partition count and replication factor;
	// NumPartitions and ReplicationFactor are ignored.
	a := [][]int32{{3, 1}, {1, 2}, {2, 3}}
	top := mustCreate(t, s, CreateTopic{Name: "t", NumPartitions: 7, ReplicationFactor: 3, Assignments: a})
	if len(top.Partitions) != 3 {
		t.Fatalf("partitions = %d", len(top.Partitions))
	}
	for i, p := range top.Partitions {
		if p.Index != int32(i) || p.Leader != a[i][0] || !slices.Equal(p.Replicas, a[i]) ||
			!slices.Equal(p.ISR, a[i]) || p.LeaderEpoch != 0 || p.PartitionEpoch != 0 {
			t.Fatalf("partition %d = %+v", i, p)
		}
	}
	// The caller's slices are not kept.
	a[0][0] = 99
	if got, _ := s.Topic("t"); got.Partitions[0].Replicas[0] != 3 {
		t.Fatal("controller kept the caller's assignment slice")
	}

	// Single broker: the only valid assignment is [1].
	s1, _ := openTest(t)
	_, err := s1.CreateTopic(context.Background(), CreateTopic{Name: "t", Assignments: [][]int32{{2}}})
	wantErr(t, err, kerr.InvalidReplicaAssignment)
	top = mustCreate(t, s1, CreateTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: [][]int32{{1}, {1}}})
	if len(top.Partitions) != 2 || top.Partitions[1].Leader != 1 {
		t.Fatalf("topic = %+v", top)
	}
}

func TestCreateTopicPlacement(t *testing.T) {
	s, _ := openTest(t)
	withBrokers(s, 2, 3)
	top := mustCreate(t, s, CreateTopic{Name: "t", NumPartitions: 4, ReplicationFactor: 2})
	leaders := map[int32]int{}
	for _, p := range top.Partitions {
		if len(p.Replicas) != 2 || p.Replicas[0] == p.Replicas[1] || p.Leader != p.Replicas[0] {
			t.Fatalf("partition %+v", p)
		}
		leaders[p.Leader]++
	}
	if len(leaders) != 3 {
		t.Fatalf("leaders not spread: %v", leaders)
	}
	_, err := s.CreateTopic(context.Background(), CreateTopic{Name: "u", NumPartitions: 1, ReplicationFactor: 4})
	wantErr(t, err, kerr.InvalidReplicationFactor)
}

func TestCreateTopicInternal(t *testing.T) {
	s, dir := openTest(t)
	for name, internal := range map[string]bool{
		"__consumer_offsets":  true,
		"__transaction_state": true,
		"__other":             false,
		"_consumer_offsets":   false,
	} {
		top := mustCreate(t, s, CreateTopic{Name: name, NumPartitions: 1, ReplicationFactor: 1})
		if top.Internal != internal {
			t.Fatalf("%s: Internal = %v", name, top.Internal)
		}
	}
	s = reopen(t, s, dir)
	if top, _ := s.Topic("__consumer_offsets"); !top.Internal {
		t.Fatal("Internal lost across reopen")
	}
}

func TestCreateTopicValidateOnly(t *testing.T) {
	s, dir := openTest(t)
	top, err := s.CreateTopic(context.Background(), CreateTopic{Name: "v", NumPartitions: 2, ReplicationFactor: 1,
		Configs: map[string]string{"k": "v"}, ValidateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if top.Name != "v" || len(top.Partitions) != 2 || top.Partitions[1].Leader != testBroker ||
		top.Configs["k"] != "v" || top.ID != (TopicID{}) {
		t.Fatalf("validate-only topic = %+v", top)
	}
	if _, ok := s.Topic("v"); ok {
		t.Fatal("validate-only created the topic")
	}
	if len(s.Topics()) != 0 {
		t.Fatal("validate-only changed Topics")
	}
	for _, req := range []CreateTopic{
		{Name: "", NumPartitions: 1, ReplicationFactor: 1},
		{Name: "v", NumPartitions: 0, ReplicationFactor: 1},
		{Name: "v", NumPartitions: 1, ReplicationFactor: 2},
		{Name: "v", Assignments: [][]int32{{1, 1}}},
	} {
		req.ValidateOnly = true
		if _, err := s.CreateTopic(context.Background(), req); err == nil {
			t.Fatalf("validate-only accepted %+v", req)
		}
	}
	s = reopen(t, s, dir)
	if len(s.Topics()) != 0 {
		t.Fatal("validate-only persisted a topic")
	}
	mustCreate(t, s, CreateTopic{Name: "v", NumPartitions: 1, ReplicationFactor: 1})
}

func TestDeleteTopic(t *testing.T) {
	s, dir := openTest(t)
	_, err := s.DeleteTopic(context.Background(), "missing")
	wantErr(t, err, kerr.UnknownTopicOrPartition)

	created := mustCreate(t, s, CreateTopic{Name: "d", NumPartitions: 2, ReplicationFactor: 1,
		Configs: map[string]string{"a": "b"}})
	mustCreate(t, s, CreateTopic{Name: "keep", NumPartitions: 1, ReplicationFactor: 1})
	deleted, err := s.DeleteTopic(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(deleted, created) {
		t.Fatalf("DeleteTopic returned %+v, want %+v", deleted, created)
	}
	if _, ok := s.Topic("d"); ok {
		t.Fatal("Topic still finds it")
	}
	if _, ok := s.TopicByID(created.ID); ok {
		t.Fatal("TopicByID still finds it")
	}
	if names := topicNames(s.Topics()); !slices.Equal(names, []string{"keep"}) {
		t.Fatalf("Topics = %v", names)
	}
	_, err = s.DeleteTopic(context.Background(), "d")
	wantErr(t, err, kerr.UnknownTopicOrPartition)

	s = reopen(t, s, dir)
	if _, ok := s.Topic("d"); ok {
		t.Fatal("deleted topic came back after reopen")
	}
	again := mustCreate(t, s, CreateTopic{Name: "d", NumPartitions: 1, ReplicationFactor: 1})
	if again.ID == created.ID {
		t.Fatal("re-created topic reused the old id")
	}
	if len(again.Configs) != 0 {
		t.Fatal("re-created topic inherited the old configs")
	}
}

func TestCreatePartitions(t *testing.T) {
	s, dir := openTest(t)
	ctx := context.Background()
	_, err := s.CreatePartitions(ctx, "missing", 2, nil, false)
	wantErr(t, err, kerr.UnknownTopicOrPartition)

	orig := mustCreate(t, s, CreateTopic{Name: "p", NumPartitions: 2, ReplicationFactor: 1,
		Configs: map[string]string{"x": "y"}})
	for _, total := range []int32{2, 1, 0, -5} {
		_, err := s.CreatePartitions(ctx, "p", total, nil, false)
		wantErr(t, err, kerr.InvalidPartitions)
	}
	for _, a := range [][][]int32{
		{},         // non-nil but no assignment for the new partition
		{{1}, {1}}, // one too many
		{{2}},      // unknown broker
		{{1, 1}},   // duplicate (and wrong factor)
		{{}},       // empty
	} {
		_, err := s.CreatePartitions(ctx, "p", 3, a, false)
		wantErr(t, err, kerr.InvalidReplicaAssignment)
	}
	_, err = s.CreatePartitions(ctx, "p", 2+10001, nil, false)
	wantErr(t, err, kerr.PolicyViolation)

	// validateOnly shows the result without making it.
	v, err := s.CreatePartitions(ctx, "p", 4, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Partitions) != 4 || v.ID != orig.ID {
		t.Fatalf("validate-only = %+v", v)
	}
	if got, _ := s.Topic("p"); len(got.Partitions) != 2 {
		t.Fatal("validate-only added partitions")
	}

	grown, err := s.CreatePartitions(ctx, "p", 4, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	grown, err = s.CreatePartitions(ctx, "p", 5, [][]int32{{1}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if grown.ID != orig.ID || grown.Configs["x"] != "y" || len(grown.Partitions) != 5 {
		t.Fatalf("grown = %+v", grown)
	}
	if !reflect.DeepEqual(grown.Partitions[:2], orig.Partitions) {
		t.Fatal("existing partitions changed")
	}
	for i, p := range grown.Partitions {
		want := Partition{Index: int32(i), Leader: 1, Replicas: []int32{1}, ISR: []int32{1}, OfflineReplicas: []int32{}}
		if !reflect.DeepEqual(p, want) {
			t.Fatalf("partition %d = %+v", i, p)
		}
	}
	if got, _ := s.Topic("p"); !reflect.DeepEqual(got, grown) {
		t.Fatalf("Topic = %+v, want %+v", got, grown)
	}

	s = reopen(t, s, dir)
	if got, _ := s.Topic("p"); !reflect.DeepEqual(got, grown) {
		t.Fatalf("after reopen Topic = %+v, want %+v", got, grown)
	}
}

func TestCreatePartitionsKeepsReplicationFactor(t *testing.T) {
	s, _ := openTest(t)
	withBrokers(s, 2, 3)
	ctx := context.Background()
	mustCreate(t, s, CreateTopic{Name: "r", NumPartitions: 1, ReplicationFactor: 2})
	_, err := s.CreatePartitions(ctx, "r", 2, [][]int32{{1}}, false)
	wantErr(t, err, kerr.InvalidReplicaAssignment)
	_, err = s.CreatePartitions(ctx, "r", 2, [][]int32{{1, 2, 3}}, false)
	wantErr(t, err, kerr.InvalidReplicaAssignment)
	top, err := s.CreatePartitions(ctx, "r", 4, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range top.Partitions {
		if len(p.Replicas) != 2 {
			t.Fatalf("partition %+v", p)
		}
	}
	top, err = s.CreatePartitions(ctx, "r", 5, [][]int32{{3, 2}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if p := top.Partitions[4]; p.Leader != 3 || !slices.Equal(p.ISR, []int32{3, 2}) {
		t.Fatalf("partition %+v", p)
	}
}

func TestSetTopicConfigs(t *testing.T) {
	s, dir := openTest(t)
	ctx := context.Background()
	wantErr(t, s.SetTopicConfigs(ctx, "missing", map[string]string{"a": "b"}), kerr.UnknownTopicOrPartition)

	mustCreate(t, s, CreateTopic{Name: "c", NumPartitions: 1, ReplicationFactor: 1,
		Configs: map[string]string{"old": "1", "keep": "2"}})
	in := map[string]string{"keep": "3", "new": "4"}
	if err := s.SetTopicConfigs(ctx, "c", in); err != nil {
		t.Fatal(err)
	}
	in["new"] = "mutated"
	want := map[string]string{"keep": "3", "new": "4"}
	if got, _ := s.Topic("c"); !reflect.DeepEqual(got.Configs, want) {
		t.Fatalf("configs = %v, want %v (replace, not merge; no aliasing)", got.Configs, want)
	}

	s = reopen(t, s, dir)
	if got, _ := s.Topic("c"); !reflect.DeepEqual(got.Configs, want) {
		t.Fatalf("after reopen configs = %v", got.Configs)
	}
	if err := s.SetTopicConfigs(ctx, "c", nil); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	if got, _ := s.Topic("c"); got.Configs == nil || len(got.Configs) != 0 {
		t.Fatalf("cleared configs = %#v", got.Configs)
	}
}

func TestPersistenceAcrossReopen(t *testing.T) {
	s, dir := openTest(t)
	withBrokers(s, 2) // lets us store a two-replica assignment naming broker 1
	ctx := context.Background()
	mustCreate(t, s, CreateTopic{Name: "b", NumPartitions: 3, ReplicationFactor: 1, Configs: map[string]string{"cleanup.policy": "compact"}})
	mustCreate(t, s, CreateTopic{Name: "a", Assignments: [][]int32{{1, 2}, {2, 1}}})
	mustCreate(t, s, CreateTopic{Name: "__consumer_offsets", NumPartitions: 5, ReplicationFactor: 1})
	if _, err := s.CreatePartitions(ctx, "b", 5, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTopicConfigs(ctx, "a", map[string]string{"retention.ms": "5"}); err != nil {
		t.Fatal(err)
	}
	before := s.Topics()
	cluster := s.ClusterID()

	s = reopen(t, s, dir)
	if s.ClusterID() != cluster {
		t.Fatal("cluster id changed")
	}
	after := s.Topics()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("topics changed across reopen:\nbefore %+v\nafter  %+v", before, after)
	}
	if names := topicNames(after); !slices.Equal(names, []string{"__consumer_offsets", "a", "b"}) {
		t.Fatalf("Topics not sorted: %v", names)
	}
	for _, top := range before {
		if got, ok := s.TopicByID(top.ID); !ok || got.Name != top.Name {
			t.Fatalf("TopicByID(%s) after reopen = %v, %v", top.ID, got.Name, ok)
		}
	}
}

func TestDeepCopies(t *testing.T) {
	s, _ := openTest(t)
	configs := map[string]string{"a": "1"}
	created := mustCreate(t, s, CreateTopic{Name: "t", NumPartitions: 2, ReplicationFactor: 1, Configs: configs})
	configs["a"] = "changed"
	configs["b"] = "added"

	scribble := func(top Topic) {
		top.Partitions[0].Replicas[0] = 42
		top.Partitions[0].ISR[0] = 42
		top.Partitions[0].OfflineReplicas = append(top.Partitions[0].OfflineReplicas, 42)
		top.Partitions[1].Leader = 42
		top.Partitions = append(top.Partitions, Partition{Index: 9})
		top.Configs["a"] = "scribbled"
		top.Configs["z"] = "new"
	}
	scribble(created)
	t1, _ := s.Topic("t")
	scribble(t1)
	t2, _ := s.TopicByID(t1.ID)
	scribble(t2)
	scribble(s.Topics()[0])
	v, err := s.CreatePartitions(context.Background(), "t", 3, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	scribble(v)

	got, _ := s.Topic("t")
	want := Topic{
		Name: "t", ID: got.ID,
		Partitions: []Partition{
			{Index: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}, OfflineReplicas: []int32{}},
			{Index: 1, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}, OfflineReplicas: []int32{}},
		},
		Configs: map[string]string{"a": "1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stored topic changed through a copy:\ngot  %+v\nwant %+v", got, want)
	}

	// Returned values never alias each other either.
	x, _ := s.Topic("t")
	y, _ := s.Topic("t")
	if &x.Partitions[0] == &y.Partitions[0] || &x.Partitions[0].Replicas[0] == &y.Partitions[0].Replicas[0] {
		t.Fatal("two reads share memory")
	}
}

func TestContextAndClose(t *testing.T) {
	s, dir := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.CreateTopic(ctx, CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled create: %v", err)
	}
	if _, ok := s.Topic("t"); ok {
		t.Fatal("cancelled create made a topic")
	}

	// A mutation waiting for the write lock gives up when its context ends.
	s.writeSem <- struct{}{}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := s.CreateTopic(ctx2, CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 1})
		done <- err
	}()
	cancel2()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting create: %v", err)
	}
	s.unlockWrite()

	mustCreate(t, s, CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 1})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	bg := context.Background()
	if _, err := s.CreateTopic(bg, CreateTopic{Name: "u", NumPartitions: 1, ReplicationFactor: 1}); !errors.Is(err, errClosed) {
		t.Fatalf("create after close: %v", err)
	}
	if _, err := s.DeleteTopic(bg, "t"); !errors.Is(err, errClosed) {
		t.Fatalf("delete after close: %v", err)
	}
	if _, err := s.CreatePartitions(bg, "t", 2, nil, false); !errors.Is(err, errClosed) {
		t.Fatalf("create partitions after close: %v", err)
	}
	if err := s.SetTopicConfigs(bg, "t", nil); !errors.Is(err, errClosed) {
		t.Fatalf("set configs after close: %v", err)
	}
	// Reads still answer from memory.
	if _, ok := s.Topic("t"); !ok {
		t.Fatal("read after close")
	}
	// The store is released: it can be opened again.
	s2, err := OpenSingle(testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	_ = s2.Close()
}

func TestOpenSingleLocksDir(t *testing.T) {
	_, dir := openTest(t)
	if s2, err := OpenSingle(testConfig(dir)); err == nil {
		_ = s2.Close()
		t.Fatal("opened the same store twice")
	}
}

func TestConcurrentReadersAndWriters(t *testing.T) {
	s, dir := openTest(t)
	ctx := context.Background()
	const writers, perWriter = 4, 15
	var wg sync.WaitGroup
	stop := make(chan struct{})

	var readers sync.WaitGroup
	for r := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, top := range s.Topics() {
					// Every visible topic is complete and consistent.
					if len(top.Partitions) == 0 || top.ID == (TopicID{}) {
						t.Errorf("reader %d saw %+v", r, top)
						return
					}
					for i, p := range top.Partitions {
						if p.Index != int32(i) || p.Leader != 1 {
							t.Errorf("reader %d saw partition %+v", r, p)
							return
						}
					}
					top.Partitions[0].Replicas[0] = -7 // must not leak
					top.Configs["r"] = "x"
					if byID, ok := s.TopicByID(top.ID); ok && byID.Name != top.Name {
						t.Errorf("id %s maps to %q and %q", top.ID, top.Name, byID.Name)
					}
					_, _ = s.Topic(top.Name)
				}
				_ = s.Brokers()
				_ = s.ClusterID()
			}
		}()
	}

	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				name := fmt.Sprintf("w%d-%d", w, i)
				if _, err := s.CreateTopic(ctx, CreateTopic{Name: name, NumPartitions: 1, ReplicationFactor: 1}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.CreatePartitions(ctx, name, 3, nil, false); err != nil {
					t.Error(err)
					return
				}
				if err := s.SetTopicConfigs(ctx, name, map[string]string{"i": fmt.Sprint(i)}); err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					if _, err := s.DeleteTopic(ctx, name); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	// Racing creates of one name: exactly one wins.
	var wins, losses int
	var mu sync.Mutex
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.CreateTopic(ctx, CreateTopic{Name: "contended", NumPartitions: 1, ReplicationFactor: 1})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, kerr.TopicAlreadyExists):
				losses++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if wins != 1 || losses != 7 {
		t.Fatalf("contended create: %d wins, %d losses", wins, losses)
	}

	want := writers*(perWriter-(perWriter+2)/3) + 1
	topics := s.Topics()
	if len(topics) != want {
		t.Fatalf("%d topics, want %d", len(topics), want)
	}
	for _, top := range topics {
		if top.Name == "contended" {
			continue
		}
		if len(top.Partitions) != 3 || len(top.Configs) != 1 || top.Partitions[0].Replicas[0] != 1 {
			t.Fatalf("topic %+v", top)
		}
	}
	s = reopen(t, s, dir)
	if !reflect.DeepEqual(s.Topics(), topics) {
		t.Fatal("state after reopen differs from state before")
	}
}

func topicNames(ts []Topic) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

func TestAllocateProducerIDsNeverReused(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenSingle(SingleConfig{Dir: dir, Host: "localhost", Port: 9092})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.AllocateProducerIDs(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AllocateProducerIDs(ctx, 10)
	if err != nil || b != a+1000 {
		t.Fatalf("second block %d (err %v), want %d", b, err, a+1000)
	}
	s.Close()
	s, err = OpenSingle(SingleConfig{Dir: dir, Host: "localhost", Port: 9092})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.AllocateProducerIDs(ctx, 1)
	if err != nil || c != b+10 {
		t.Fatalf("after reopen got %d (err %v), want %d", c, err, b+10)
	}
}
