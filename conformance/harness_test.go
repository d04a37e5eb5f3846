package conformance

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/broker"
	"samsa/config"
	"samsa/internal/kafkatest"
)

// enabled is set by `make conformance`; without it every scenario skips
// (the suite needs Java and the Kafka jars).
var enabled = os.Getenv("SAMSA_CONFORMANCE") == "1"

// sharedOverrides are broker settings both sides run with, so that their
// answers can compare: Kafka's defaults where Samsa's differ, and a short
// initial rebalance delay to keep group scenarios quick.
var sharedOverrides = map[string]string{
	"group.initial.rebalance.delay.ms": "0",
	"offsets.topic.replication.factor": "1",
	"num.partitions":                   "1",
	"default.replication.factor":       "1",
	"auto.create.topics.enable":        "true",
}

var (
	// runID makes names unique per run, so that a Kafka kept running
	// between runs (SAMSA_CONFORMANCE_KAFKA) starts each run clean.
	runID                = fmt.Sprintf("%04x", time.Now().UnixNano()&0xffff)
	kafkaAddr, samsaAddr string
	kafkaVersion         string
	report               = &reportLog{}
)

func TestMain(m *testing.M) {
	if !enabled {
		os.Exit(m.Run())
	}
	code, err := runSuite(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func runSuite(m *testing.M) (int, error) {
	work, err := os.MkdirTemp("", "samsa-conformance-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)

	if ext := os.Getenv("SAMSA_CONFORMANCE_KAFKA"); ext != "" {
		// A Kafka already running (started by hand, with sharedOverrides),
		// to iterate on scenarios without a JVM start per run.
		kafkaAddr = ext
		if err := waitKafkaReady(ext, time.Minute, nil); err != nil {
			return 0, err
		}
	} else {
		stopKafka, err := startKafka(filepath.Join(work, "kafka"))
		if err != nil {
			return 0, err
		}
		defer stopKafka()
	}

	var overrides []string
	for k, v := range sharedOverrides {
		overrides = append(overrides, k+"="+v)
	}
	overrides = append(overrides, "listeners=PLAINTEXT://127.0.0.1:0", "log.dirs="+filepath.Join(work, "samsa"))
	cfg, _, err := config.Load("", overrides)
	if err != nil {
		return 0, fmt.Errorf("samsa config: %w", err)
	}
	logf, err := os.Create(filepath.Join(work, "samsa.log"))
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	sb, err := broker.Start(cfg, slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return 0, fmt.Errorf("start samsa: %w", err)
	}
	defer sb.Close(context.Background())
	samsaAddr = sb.Addr()
	for _, addr := range []string{kafkaAddr, samsaAddr} {
		if err := warmUp(addr, 2*time.Minute); err != nil {
			return 0, err
		}
	}

	if err := loadKnown("known-differences.txt"); err != nil {
		return 0, err
	}
	start := time.Now()
	code := m.Run()
	if stale := report.staleKnown(); len(stale) > 0 {
		fmt.Fprintf(os.Stderr, "conformance: %d known differences no longer occur; remove them from conformance/known-differences.txt:\n", len(stale))
		for _, k := range stale {
			fmt.Fprintln(os.Stderr, "  "+k)
		}
		if code == 0 {
			code = 1
		}
	}
	if err := report.write("REPORT.md", time.Since(start)); err != nil {
		return 0, err
	}
	return code, nil
}

// known holds the differences Samsa is known to have, one per line of
// known-differences.txt ("Scenario: Api vN (label) field.path", with the
// run id of topic names written as RUN), like the compatibility suite's
// expected failures: they are reported but do not fail the run, and a
// listed difference that no longer occurs fails it, so the list only
// shrinks. An empty list is the goal.
var known = map[string]bool{}

func loadKnown(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			known[line] = true
		}
	}
	return nil
}

// knownKey is a difference line without the values, with the run id
// normalised.
func knownKey(scenario, line string) string {
	if i := strings.Index(line, ": kafka="); i >= 0 {
		line = line[:i]
	}
	return strings.ReplaceAll(scenario+": "+line, runID, "RUN")
}

// moduleRoot is the repository root (the test runs in conformance/).
func moduleRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startKafka formats a KRaft log dir and starts one combined
// broker+controller node of Apache Kafka from the compatibility suite's
// jars (compat-tests/bin/kafka-run-class.sh downloads them on first use).
func startKafka(dir string) (stop func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cport, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd, err := kafkatest.Node{Root: moduleRoot(), Dir: dir, NodeID: 0, Port: port, ControllerPort: cport,
		Props: sharedOverrides, Env: []string{"KAFKA_HEAP_OPTS=-Xmx1G"}}.Command()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "kafka.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting Kafka: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		logf.Close()
	}
	kafkaAddr = fmt.Sprintf("127.0.0.1:%d", port)
	if err := waitKafkaReady(kafkaAddr, 3*time.Minute, exited); err != nil {
		stop()
		out, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	return stop, nil
}

// waitKafkaReady polls until the broker is unfenced: it lists itself in
// Metadata and creates a topic.
func waitKafkaReady(addr string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("kafka exited during start-up")
		default:
		}
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version, req.TimeoutMillis = 7, 30000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "conformance-ready", 1, 1
		req.Topics = append(req.Topics, rt)
		resp, err := roundTrip(addr, req)
		if err == nil {
			code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
			if code == 0 || code == 36 { // created, or TOPIC_ALREADY_EXISTS
				av := kmsg.NewPtrApiVersionsRequest()
				av.Version = 3
				av.ClientSoftwareName, av.ClientSoftwareVersion = "samsa-conformance", "0"
				if r, err := roundTrip(addr, av); err == nil {
					kafkaVersion = kafkaReleaseFrom(r.(*kmsg.ApiVersionsResponse))
				}
				return nil
			}
			err = fmt.Errorf("CreateTopics error %d", code)
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("kafka not ready after %v: %v", timeout, last)
}

// kafkaReleaseFrom names the release from the jars on the classpath.
func kafkaReleaseFrom(*kmsg.ApiVersionsResponse) string {
	m, _ := filepath.Glob(filepath.Join(moduleRoot(), "compat-tests", "clients", "tools", "target", "lib", "kafka_2.13-*.jar"))
	if len(m) == 0 {
		return "unknown"
	}
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m[0]), "kafka_2.13-"), ".jar")
}

// warmUp waits until the broker's coordinators answer: a Kafka that has
// just started answers FindCoordinator with COORDINATOR_NOT_AVAILABLE
// until its internal topics exist and InitProducerId with
// COORDINATOR_LOAD_IN_PROGRESS until it has a producer id block. Both
// brokers are warmed up the same way (which also creates their internal
// topics), so that scenarios compare steady states.
func warmUp(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	ready := func(req kmsg.Request, code func(kmsg.Response) int16) error {
		for {
			resp, err := roundTrip(addr, req)
			if err == nil && code(resp) == 0 {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: %s not ready after %v (err %v)", addr, kmsg.NameForKey(req.Key()), timeout, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, keyType := range []int8{0, 1} {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.Version, fc.CoordinatorType, fc.CoordinatorKeys = 4, keyType, []string{"conformance-warm-up"}
		if err := ready(fc, func(r kmsg.Response) int16 { return r.(*kmsg.FindCoordinatorResponse).Coordinators[0].ErrorCode }); err != nil {
			return err
		}
	}
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.Version, ip.TransactionTimeoutMillis, ip.ProducerID, ip.ProducerEpoch = 4, 60000, -1, -1
	return ready(ip, func(r kmsg.Response) int16 { return r.(*kmsg.InitProducerIDResponse).ErrorCode })
}

// errNoAnswer means the broker closed the connection instead of answering.
var errNoAnswer = errors.New("connection closed without an answer")

// roundTrip sends req at exactly the version it carries on a new
// connection and decodes the answer.
func roundTrip(addr string, req kmsg.Request) (kmsg.Response, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("conformance")).AppendRequest(nil, req, 1)
	if _, err := c.Write(frame); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			return nil, errNoAnswer
		}
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, err
	}
	body = body[4:] // correlation id
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if req.Key() == 18 && req.GetVersion() > req.MaxVersion() {
		resp.SetVersion(0) // KIP-511: an unknown ApiVersions version is answered in v0
	}
	if resp.IsFlexible() && req.Key() != 18 {
		// Response header v1: a tag section (empty from both brokers).
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decoding %s v%d response: %w", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp, nil
}

// side is one broker within a scenario, with the state the scenario keeps
// for it (member ids, producer ids: values each broker chooses itself).
type side struct {
	Name string // "kafka" or "samsa"
	Addr string
	Vals map[string]any
}

// sc is a running scenario.
type sc struct {
	t     *testing.T
	name  string
	sides [2]*side
	entry *scenarioResult
	label string // what the next requests are about, for difference lines
}

// at labels the following requests in difference lines ("fetch at 6").
func (c *sc) at(format string, args ...any) { c.label = fmt.Sprintf(format, args...) }

// scenario starts a conformance scenario; it skips unless the suite is
// enabled.
func scenario(t *testing.T) *sc {
	t.Helper()
	if !enabled {
		t.Skip("conformance suite: run with `make conformance` (SAMSA_CONFORMANCE=1)")
	}
	c := &sc{t: t, name: t.Name(), sides: [2]*side{
		{Name: "kafka", Addr: kafkaAddr, Vals: map[string]any{}},
		{Name: "samsa", Addr: samsaAddr, Vals: map[string]any{}},
	}}
	c.entry = report.start(t.Name())
	t.Cleanup(func() { c.entry.failed = t.Failed() })
	return c
}

// topic returns a topic name unique to the scenario (and the same on both
// sides).
func (c *sc) topic(suffix string) string {
	n := strings.NewReplacer("/", ".", "#", "").Replace(c.name)
	if suffix != "" {
		n += "." + suffix
	}
	return strings.ToLower(n) + "-" + runID
}

// do sends to both brokers the request mk builds for each side, compares
// the answers and returns them (kafka's first). A nil answer means the
// broker closed the connection.
func (c *sc) do(mk func(s *side) kmsg.Request) (kafka, samsa kmsg.Response) {
	c.t.Helper()
	var resps [2]kmsg.Response
	var errs [2]error
	var req kmsg.Request
	for i, s := range c.sides {
		req = mk(s)
		resps[i], errs[i] = roundTrip(s.Addr, req)
		if errs[i] != nil && !errors.Is(errs[i], errNoAnswer) {
			c.t.Fatalf("%s: %s v%d: %v", s.Name, kmsg.NameForKey(req.Key()), req.GetVersion(), errs[i])
		}
	}
	api := fmt.Sprintf("%s v%d", kmsg.NameForKey(req.Key()), req.GetVersion())
	c.entry.apis[api] = true
	switch {
	case resps[0] == nil && resps[1] == nil:
		return nil, nil
	case resps[0] == nil || resps[1] == nil:
		c.fail(api, "", describeAnswer(resps[0]), describeAnswer(resps[1]))
		return resps[0], resps[1]
	}
	for _, d := range compare(req.Key(), resps[0], resps[1]) {
		c.fail(api, d.path, d.kafka, d.samsa)
	}
	return resps[0], resps[1]
}

// same sends one request, identical on both sides.
func (c *sc) same(req kmsg.Request) (kafka, samsa kmsg.Response) {
	c.t.Helper()
	return c.do(func(*side) kmsg.Request { return req })
}

func (c *sc) fail(api, path, kafka, samsa string) {
	c.t.Helper()
	if c.label != "" {
		api += " (" + c.label + ")"
	}
	line := fmt.Sprintf("%s %s: kafka=%s samsa=%s", api, path, kafka, samsa)
	key := knownKey(c.name, line)
	if known[key] {
		report.seenKnown(key)
		c.entry.knownDiffs = append(c.entry.knownDiffs, line)
		c.t.Log("known difference: " + line)
		return
	}
	c.entry.diffs = append(c.entry.diffs, line)
	c.t.Error(line)
}

func describeAnswer(r kmsg.Response) string {
	if r == nil {
		return "<connection closed>"
	}
	return "<answered>"
}

// difference is one field that differs.
type difference struct{ path, kafka, samsa string }

// compare walks two responses of the same type field by field. Arrays
// whose elements name themselves (topics, partitions, configs, groups...)
// are compared in a canonical order, since neither broker promises one.
func compare(key int16, a, b kmsg.Response) []difference {
	var out []difference
	walk(kmsg.NameForKey(key), "", reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), &out)
	return out
}

func walk(api, path string, a, b reflect.Value, out *[]difference) {
	if allowed(api, path) {
		return
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				*out = append(*out, difference{path, show(a), show(b)})
			}
			return
		}
		walk(api, path, a.Elem(), b.Elem(), out)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			if !f.IsExported() || f.Name == "UnknownTags" || f.Name == "Version" {
				continue
			}
			walk(api, joinPath(path, f.Name), a.Field(i), b.Field(i), out)
		}
	case reflect.Slice:
		if strings.HasSuffix(path, "RecordBatches") && a.Type().Elem().Kind() == reflect.Uint8 {
			// Stored batches compare as decoded batches (see decodedBatch).
			if a.IsNil() != b.IsNil() {
				*out = append(*out, difference{path + " (null vs empty)", show(a), show(b)})
				return
			}
			da, db := decodeBatches(a.Bytes()), decodeBatches(b.Bytes())
			walk(api, path, reflect.ValueOf(&da).Elem(), reflect.ValueOf(&db).Elem(), out)
			return
		}
		if a.Type().Elem().Kind() == reflect.Uint8 {
			if a.IsNil() != b.IsNil() || !bytes.Equal(a.Bytes(), b.Bytes()) {
				*out = append(*out, difference{path, show(a), show(b)})
			}
			return
		}
		if a.IsNil() != b.IsNil() && a.Len() == 0 && b.Len() == 0 {
			// kmsg decodes an empty non-nullable array as nil, so this
			// is a nullable array sent as null by one and empty by the
			// other.
			*out = append(*out, difference{path + " (null vs empty)", show(a), show(b)})
			return
		}
		as, bs := canonical(a), canonical(b)
		if ka, kb, ok := alignKeyed(as, bs); ok {
			// Elements named by a unique identity pair by name, so one
			// missing element shows as absent rather than shifting the
			// ones after it (feature lists, say).
			as, bs = ka, kb
		}
		n := max(len(as), len(bs))
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("%s[%s]", path, elemName(as, bs, i))
			switch {
			case i >= len(as) || !as[i].IsValid():
				*out = append(*out, difference{p, "<absent>", show(bs[i])})
			case i >= len(bs) || !bs[i].IsValid():
				*out = append(*out, difference{p, show(as[i]), "<absent>"})
			default:
				walk(api, p, as[i], bs[i], out)
			}
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, difference{path, show(a), show(b)})
		}
	}
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// identityFields name an array element, in order of preference.
var identityFields = []string{"ApiKey", "Topic", "Name", "ResourceName", "Group", "GroupID", "Partition", "PartitionIndex", "Index", "APIKey", "NodeID", "Key", "LogDir"}

func identity(v reflect.Value) (string, bool) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "", false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return "", false
	}
	for _, name := range identityFields {
		f := v.FieldByName(name)
		if !f.IsValid() {
			continue
		}
		for f.Kind() == reflect.Pointer {
			if f.IsNil() {
				return "null", true
			}
			f = f.Elem()
		}
		switch f.Kind() {
		case reflect.String, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return fmt.Sprint(f.Interface()), true
		}
	}
	return "", false
}

// canonical returns the elements sorted by identity when every element
// has one (numbers sort numerically), else in the order sent.
func canonical(s reflect.Value) []reflect.Value {
	out := make([]reflect.Value, s.Len())
	keyed := true
	for i := range out {
		out[i] = s.Index(i)
		if _, ok := identity(out[i]); !ok {
			keyed = false
		}
	}
	if keyed {
		sort.SliceStable(out, func(i, j int) bool {
			a, _ := identity(out[i])
			b, _ := identity(out[j])
			if len(a) != len(b) && isNumber(a) && isNumber(b) {
				return len(a) < len(b)
			}
			return a < b
		})
	}
	return out
}

// alignKeyed pairs two canonical slices whose elements all have unique
// identities: both come back the same length, an element missing on one
// side as an invalid reflect.Value there. ok is false (and the slices
// unusable) when some element has no identity or shares one.
func alignKeyed(as, bs []reflect.Value) (ka, kb []reflect.Value, ok bool) {
	ids := func(s []reflect.Value) (map[string]reflect.Value, []string, bool) {
		m := make(map[string]reflect.Value, len(s))
		var order []string
		for _, v := range s {
			id, ok := identity(v)
			if _, dup := m[id]; !ok || dup {
				return nil, nil, false
			}
			m[id] = v
			order = append(order, id)
		}
		return m, order, true
	}
	am, ao, okA := ids(as)
	bm, bo, okB := ids(bs)
	if !okA || !okB || len(as) == 0 || len(bs) == 0 {
		return nil, nil, false
	}
	var names []string
	seen := map[string]bool{}
	for _, id := range append(ao, bo...) {
		if !seen[id] {
			seen[id] = true
			names = append(names, id)
		}
	}
	sort.SliceStable(names, func(i, j int) bool {
		a, b := names[i], names[j]
		if len(a) != len(b) && isNumber(a) && isNumber(b) {
			return len(a) < len(b)
		}
		return a < b
	})
	for _, id := range names {
		ka, kb = append(ka, am[id]), append(kb, bm[id])
	}
	return ka, kb, true
}

var numberRE = regexp.MustCompile(`^-?[0-9]+$`)

func isNumber(s string) bool { return numberRE.MatchString(s) }

func elemName(as, bs []reflect.Value, i int) string {
	for _, s := range [][]reflect.Value{as, bs} {
		if i < len(s) && s[i].IsValid() {
			if id, ok := identity(s[i]); ok {
				return id
			}
		}
	}
	return fmt.Sprint(i)
}

func show(v reflect.Value) string {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return "null"
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Slice:
		if v.IsNil() {
			return "null"
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := v.Bytes()
			if len(b) > 24 {
				return fmt.Sprintf("%d bytes %x…", len(b), b[:24])
			}
			return fmt.Sprintf("%d bytes %x", len(b), b)
		}
		return fmt.Sprintf("[%d elements]", v.Len())
	case reflect.String:
		return fmt.Sprintf("%q", v.String())
	case reflect.Struct:
		return "{…}"
	}
	return fmt.Sprint(v.Interface())
}

// reportLog collects what the run did, for REPORT.md.
type reportLog struct {
	mu        sync.Mutex
	scenarios []*scenarioResult
	seen      map[string]bool // known differences that occurred
}

type scenarioResult struct {
	name       string
	apis       map[string]bool
	diffs      []string
	knownDiffs []string
	failed     bool
}

func (r *reportLog) seenKnown(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[key] = true
}

// staleKnown lists known differences that did not occur in this run.
// Scenarios that did not run (-run filters) make none stale.
func (r *reportLog) staleKnown() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ran := map[string]bool{}
	for _, s := range r.scenarios {
		ran[s.name] = true
	}
	var out []string
	for k := range known {
		scen, _, _ := strings.Cut(k, ": ")
		if ran[scen] && !r.seen[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (r *reportLog) start(name string) *scenarioResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &scenarioResult{name: name, apis: map[string]bool{}}
	r.scenarios = append(r.scenarios, s)
	return s
}

func (r *reportLog) write(name string, took time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "# Conformance report\n\nWritten by `make conformance`: Samsa and Apache Kafka %s (KRaft, one combined node) were sent the same requests; every field of every answer was compared. %d scenarios, %s.\n\n", kafkaVersion, len(r.scenarios), took.Round(time.Second))
	var failed, diffs, knownDiffs int
	apis := map[string]bool{}
	for _, s := range r.scenarios {
		if s.failed {
			failed++
		}
		diffs += len(s.diffs)
		knownDiffs += len(s.knownDiffs)
		for a := range s.apis {
			apis[a] = true
		}
	}
	fmt.Fprintf(&b, "%d passed, %d failed; %d new differences, %d known differences (conformance/known-differences.txt); %d API versions exercised.\n\n", len(r.scenarios)-failed, failed, diffs, knownDiffs, len(apis))
	b.WriteString("## Scenarios\n\n| scenario | requests | result |\n|---|---|---|\n")
	for _, s := range r.scenarios {
		var as []string
		for a := range s.apis {
			as = append(as, a)
		}
		sort.Strings(as)
		res := "same as Kafka"
		if len(s.knownDiffs) > 0 {
			res = fmt.Sprintf("%d known differences", len(s.knownDiffs))
		}
		if s.failed {
			res = fmt.Sprintf("**%d differences**", len(s.diffs))
			if len(s.diffs) == 0 {
				res = "**failed**"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", s.name, strings.Join(as, ", "), res)
	}
	if diffs > 0 {
		b.WriteString("\n## New differences\n\n")
		for _, s := range r.scenarios {
			for _, d := range s.diffs {
				fmt.Fprintf(&b, "- %s: `%s`\n", s.name, d)
			}
		}
	}
	if knownDiffs > 0 {
		b.WriteString("\n## Known differences (still to fix)\n\n")
		for _, s := range r.scenarios {
			for _, d := range s.knownDiffs {
				fmt.Fprintf(&b, "- %s: `%s`\n", s.name, d)
			}
		}
	}
	b.WriteString("\n## Allowed differences\n\nFields that legitimately differ between two brokers; they are not compared.\n\n| API | field | reason |\n|---|---|---|\n")
	for _, a := range allowList {
		fmt.Fprintf(&b, "| %s | `%s` | %s |\n", a.api, a.path, a.reason)
	}
	return os.WriteFile(name, []byte(b.String()), 0o644)
}

// roundTrip sends req to this side only (waiting for a state, not
// comparing).
func (s *side) roundTrip(req kmsg.Request) (kmsg.Response, error) { return roundTrip(s.Addr, req) }
