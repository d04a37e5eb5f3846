package console_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"samsa/samsatest"
)

// chromium finds Debian's Chromium (scripts/install-test-deps.sh installs
// it); without it the browser tests skip, or fail under
// SAMSA_REQUIRE_TOOLS=1.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("SAMSA_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("SAMSA_REQUIRE_TOOLS") == "1" {
		t.Fatal("chromium is not installed (scripts/install-test-deps.sh installs Debian's chromium)")
	}
	t.Skip("chromium is not installed; run scripts/install-test-deps.sh")
	return ""
}

// artifactDir is where screenshots go: $SAMSA_ARTIFACTS/console, default
// ../artifacts/console (ignored by git).
func artifactDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SAMSA_ARTIFACTS")
	if base == "" {
		base = filepath.Join("..", "artifacts")
	}
	dir := filepath.Join(base, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts headless Chromium with the flags this machine's closed
// network needs (no background networking, no component updates).
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// load is what the console tests put into the broker, and what they
// measured of it through kadm afterwards.
type load struct {
	topic  string
	values map[int64]string // partition 0's values by offset
	binary int64            // offset of the binary record in partition 0
}

func loadBroker(t *testing.T, addr string) load {
	t.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": ptr("86400000")}, "orders"); err != nil {
		t.Fatal(err)
	}
	l := load{topic: "orders", values: map[int64]string{}, binary: -1}
	for i := 0; i < 60; i++ {
		r := &kgo.Record{Partition: int32(i % 3), Key: []byte("k" + strconv.Itoa(i)), Value: []byte(fmt.Sprintf("order %d <b>&amp;</b>", i)),
			Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("test")}}}
		if i == 30 {
			r.Value = []byte{0x00, 0x01, 0xfe, 0xff}
		}
		res := cl.ProduceSync(ctx, r)
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		got := res[0].Record
		if got.Partition == 0 {
			if i == 30 {
				l.binary = got.Offset
			} else {
				l.values[got.Offset] = string(got.Value)
			}
		}
	}
	// A group that consumed part and left: Empty, with lag.
	g, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < 25 {
		fs := g.PollRecords(ctx, 25-n)
		n += fs.NumRecords()
	}
	g.Close() // leaves the group: Empty
	offs := kadm.Offsets{}
	for p := int32(0); p < 3; p++ {
		offs.AddOffset("orders", p, 5, -1)
	}
	resp, err := adm.CommitOffsets(ctx, "billing", offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ptr(s string) *string { return &s }

// shot saves a full-page screenshot of the current page.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(artifactDir(t), name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cellTexts returns the text of every td matching sel.
func cellTexts(t *testing.T, ctx context.Context, sel string) []string {
	t.Helper()
	js := fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(e => e.textContent.trim())`, sel)
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", sel, err)
	}
	return out
}

func TestConsolePagesInChromium(t *testing.T) {
	ctx := browser(t)
	b := samsatest.New(t, samsatest.WithHTTP(), samsatest.WithProperties("samsa.console.actions.enable=true"))
	l := loadBroker(t, b.Addr())
	base := "http://" + b.HTTPAddr()

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	bg := context.Background()

	// A live member in another group, so /groups/{id} has members.
	live, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumerGroup("live"), kgo.ConsumeTopics("orders"), kgo.ClientID("live-consumer"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	liveCtx, stopLive := context.WithCancel(bg)
	defer stopLive()
	go func() {
		for liveCtx.Err() == nil {
			live.PollRecords(liveCtx, 100)
		}
	}()
	waitFor(t, "group live is Stable", func() bool {
		d, err := adm.DescribeGroups(bg, "live")
		return err == nil && d["live"].State == "Stable"
	})

	// Traffic for the throughput chart while the pages load.
	stopTraffic := make(chan struct{})
	defer close(stopTraffic)
	go func() {
		for {
			select {
			case <-stopTraffic:
				return
			case <-time.After(100 * time.Millisecond):
				cl.Produce(bg, &kgo.Record{Topic: "orders", Partition: 1, Value: make([]byte, 512)}, nil)
			}
		}
	}()

	t.Run("overview", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#topics`)); err != nil {
			t.Fatal(err)
		}
		md, err := adm.Metadata(bg)
		if err != nil {
			t.Fatal(err)
		}
		if got := cellTexts(t, ctx, "#cluster-id"); len(got) != 1 || got[0] != md.Cluster {
			t.Errorf("cluster id shown %v, metadata says %q", got, md.Cluster)
		}
		brokers := cellTexts(t, ctx, "#brokers tbody td:nth-child(2)")
		if len(brokers) != len(md.Brokers) || brokers[0] != fmt.Sprintf("%s:%d", md.Brokers[0].Host, md.Brokers[0].Port) {
			t.Errorf("brokers shown %v, metadata has %v", brokers, md.Brokers)
		}
		names := cellTexts(t, ctx, "#topics tbody td:first-child a")
		if !contains(names, "orders") {
			t.Errorf("topics shown %v, want orders among them", names)
		}
		// The page's record count is what ListOffsets says, measured
		// after the page (traffic keeps adding to partition 1, so the
		// page's count lies between a before and an after measurement).
		shown, err := chromedp.Run(ctx, chromedp.Text(`#topics tr[data-topic="orders"] td.records`))
		if err != nil {
			t.Fatal(err)
		}
		after := records(t, adm, "orders")
		n, err := strconv.ParseInt(shown, 10, 64)
		if err != nil || n < 60 || n > after {
			t.Errorf("orders shows %q records; want between 60 and %d", shown, after)
		}
		// The chart: uPlot draws a canvas once samples arrive.
		waitForJS(t, ctx, `(() => { const c = document.querySelector('#throughput-chart'); return !!c.querySelector('canvas') && Number(c.dataset.points) >= 2 })()`)
		shot(t, ctx, "overview")
	})

	t.Run("topic", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/topics/orders"), chromedp.WaitVisible(`#partitions`)); err != nil {
			t.Fatal(err)
		}
		md, err := adm.Metadata(bg, "orders")
		if err != nil {
			t.Fatal(err)
		}
		starts, err := adm.ListStartOffsets(bg, "orders")
		if err != nil {
			t.Fatal(err)
		}
		rows := cellTexts(t, ctx, "#partitions tbody tr")
		if len(rows) != len(md.Topics["orders"].Partitions) {
			t.Fatalf("%d partition rows, metadata has %d", len(rows), len(md.Topics["orders"].Partitions))
		}
		for _, p := range md.Topics["orders"].Partitions.Sorted() {
			sel := fmt.Sprintf(`#partitions tr[data-partition="%d"] td`, p.Partition)
			cells := cellTexts(t, ctx, sel)
			s, _ := starts.Lookup("orders", p.Partition)
			if cells[1] != strconv.Itoa(int(p.Leader)) || cells[3] != joinInts(p.Replicas) || cells[4] != joinInts(p.ISR) || cells[6] != strconv.FormatInt(s.Offset, 10) {
				t.Errorf("partition %d row %v; metadata leader %d replicas %v isr %v, log start %d", p.Partition, cells, p.Leader, p.Replicas, p.ISR, s.Offset)
			}
		}
		if cfgs := cellTexts(t, ctx, "#configs tbody td:first-child"); !contains(cfgs, "retention.ms") {
			t.Errorf("configs shown %v, want the retention.ms override", cfgs)
		}
		shot(t, ctx, "topic")
	})

	t.Run("groups", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/groups"), chromedp.WaitVisible(`#groups`)); err != nil {
			t.Fatal(err)
		}
		lags, err := adm.Lag(bg, "billing")
		if err != nil {
			t.Fatal(err)
		}
		shown, err := chromedp.Run(ctx, chromedp.Text(`#groups tr[data-group="billing"] td.lag`))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := sumLag(lags["billing"].Lag)
		// Partition 1 keeps growing: the page's lag is at most the later
		// measurement and at least what partitions 0 and 2 alone lag.
		n, err := strconv.ParseInt(shown, 10, 64)
		if err != nil || n > want || n < 2*(20-5) {
			t.Errorf("billing shows lag %q; kadm measured %d after the page", shown, want)
		}
		if g := cellTexts(t, ctx, "#groups tbody td:first-child"); !contains(g, "live") {
			t.Errorf("groups shown %v, want live", g)
		}
		shot(t, ctx, "groups")
	})

	t.Run("group", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/groups/live"), chromedp.WaitVisible(`#members`)); err != nil {
			t.Fatal(err)
		}
		if ids := cellTexts(t, ctx, "#members tbody td:first-child"); len(ids) != 1 || ids[0] != "live-consumer" {
			t.Errorf("members shown %v, want the one live-consumer", ids)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/groups/billing"), chromedp.WaitVisible(`#offsets`)); err != nil {
			t.Fatal(err)
		}
		committed := cellTexts(t, ctx, "#offsets td.committed")
		if len(committed) != 3 || committed[0] != "5" || committed[2] != "5" {
			t.Errorf("committed offsets shown %v, want 5 on each of 3 partitions", committed)
		}
		waitForJS(t, ctx, `(() => { const c = document.querySelector('#lag-chart'); return !!c.querySelector('canvas') && Number(c.dataset.points) >= 1 })()`)
		shot(t, ctx, "group")
	})

	t.Run("browse", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/browse?topic=orders&partition=0&offset=0&limit=500"), chromedp.WaitVisible(`#records`)); err != nil {
			t.Fatal(err)
		}
		offs := cellTexts(t, ctx, "#records tbody tr td:first-child")
		vals := cellTexts(t, ctx, "#records tbody td.value")
		if len(offs) != len(l.values)+1 {
			t.Fatalf("browse shows %d records of partition 0, %d were produced", len(offs), len(l.values)+1)
		}
		for i, o := range offs {
			off, _ := strconv.ParseInt(o, 10, 64)
			if off == l.binary {
				if vals[i] != "0001 feff" {
					t.Errorf("binary record at %d shown as %q, want hex 0001 feff", off, vals[i])
				}
				continue
			}
			if vals[i] != l.values[off] {
				t.Errorf("offset %d shown as %q, produced %q", off, vals[i], l.values[off])
			}
		}
		if h := cellTexts(t, ctx, "#records tbody td.headers"); h[0] != "source=test" {
			t.Errorf("headers shown %q, want source=test", h[0])
		}
		shot(t, ctx, "browse")
		// By timestamp: from now on there is nothing in partition 0.
		ts := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/browse?topic=orders&partition=0&timestamp="+url.QueryEscape(ts)), chromedp.WaitVisible(`#range`)); err != nil {
			t.Fatal(err)
		}
		if got := cellTexts(t, ctx, "#records"); len(got) != 1 || got[0] != "No records there." {
			t.Errorf("browse from an hour ahead shows %v", got)
		}
	})

	t.Run("actions", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#create-topic`),
			chromedp.SetValue(`#create-topic input[name=name]`, "made-in-console"),
			chromedp.SetValue(`#create-topic input[name=partitions]`, "4"),
			chromedp.Submit(`#create-topic`),
			chromedp.WaitVisible(`#notice`)); err != nil {
			t.Fatal(err)
		}
		md, err := adm.Metadata(bg, "made-in-console")
		if err != nil || md.Topics["made-in-console"].Err != nil || len(md.Topics["made-in-console"].Partitions) != 4 {
			t.Errorf("topic made in the console: %v %+v", err, md.Topics["made-in-console"])
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/groups/billing"), chromedp.WaitVisible(`#reset-offsets`),
			chromedp.Submit(`#reset-offsets`), chromedp.WaitVisible(`#notice`)); err != nil {
			t.Fatal(err)
		}
		fo, err := adm.FetchOffsets(bg, "billing")
		if err != nil {
			t.Fatal(err)
		}
		starts, _ := adm.ListStartOffsets(bg, "orders")
		fo.Each(func(o kadm.OffsetResponse) {
			s, _ := starts.Lookup(o.Topic, o.Partition)
			if o.At != s.Offset {
				t.Errorf("after reset to earliest %s/%d is at %d, log start %d", o.Topic, o.Partition, o.At, s.Offset)
			}
		})
		// A cross-origin form post is refused even with actions on.
		req, _ := http.NewRequest("POST", base+"/topics", strings.NewReader("name=evil"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://attacker.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin POST answered %d, want 403", resp.StatusCode)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for path, code := range map[string]int{"/topics/nope": 404, "/groups/nope": 404, "/browse?topic=orders&partition=x": 400, "/browse?topic=orders&partition=9": 404} {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != code {
				t.Errorf("%s answered %d, want %d", path, resp.StatusCode, code)
			}
		}
	})
}

func TestConsoleReadOnlyByDefault(t *testing.T) {
	b := samsatest.New(t, samsatest.WithHTTP())
	base := "http://" + b.HTTPAddr()
	for _, path := range []string{"/topics", "/groups/g/reset"} {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader("name=x&to=earliest"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s on a read-only console answered %d, want 403", path, resp.StatusCode)
		}
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET / answered %d", resp.StatusCode)
	}
	// samsa.console.enable=false leaves only health and metrics.
	off := samsatest.New(t, samsatest.WithHTTP(), samsatest.WithProperties("samsa.console.enable=false"))
	resp, err = http.Get("http://" + off.HTTPAddr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET / with the console off answered %d, want 404", resp.StatusCode)
	}
}

func records(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ctx := context.Background()
	s, err1 := adm.ListStartOffsets(ctx, topic)
	e, err2 := adm.ListEndOffsets(ctx, topic)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	var n int64
	e.Each(func(o kadm.ListedOffset) {
		so, _ := s.Lookup(o.Topic, o.Partition)
		n += o.Offset - so.Offset
	})
	return n
}

func sumLag(l kadm.GroupLag) (int64, bool) {
	var sum int64
	for _, ps := range l {
		for _, p := range ps {
			if p.Lag > 0 {
				sum += p.Lag
			}
		}
	}
	return sum, true
}

func joinInts(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitForJS(t *testing.T, ctx context.Context, js string) {
	t.Helper()
	waitFor(t, js, func() bool {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		return err == nil && ok
	})
}
