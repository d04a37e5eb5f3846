package console

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxBrowse bounds how many records one /browse page shows.
const maxBrowse = 500

// maxShown bounds how many bytes of one key or value are shown; longer
// ones are cut with a note, so a 1 MiB record does not make a 1 MiB page
// line.
const maxShown = 4096

// recordRow is one record on /browse.
type recordRow struct {
	Offset    int64
	Timestamp string
	Key       shown
	Value     shown
	Headers   []string
}

// shown is a key or value as displayed: text when it is printable UTF-8
// (and text was asked for), else hex.
type shown struct {
	Text  string
	Hex   bool
	Null  bool
	Cut   int // bytes not shown
	Bytes int
}

type browseData struct {
	Topics    []string
	Topic     string
	Partition int32
	From      string // the offset or timestamp asked for
	Limit     int
	Format    string
	Start     int64
	End       int64
	Records   []recordRow
	Asked     bool
	Next      int64
}

// browseQuery is /browse's parsed query.
type browseQuery struct {
	topic     string
	partition int32
	offset    int64 // -1 when a timestamp was given
	timestamp int64 // ms, -1 when an offset was given
	limit     int
	hex       bool
}

// parseBrowse reads topic, partition, offset or timestamp (ms since the
// epoch or RFC 3339), limit and format from q.
func parseBrowse(get func(string) string) (browseQuery, error) {
	bq := browseQuery{topic: get("topic"), offset: -1, timestamp: -1, limit: 50}
	if p := get("partition"); p != "" {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 {
			return bq, badRequest("partition %q is not a partition number", p)
		}
		bq.partition = int32(n)
	}
	if o := get("offset"); o != "" {
		n, err := strconv.ParseInt(o, 10, 64)
		if err != nil || n < 0 {
			return bq, badRequest("offset %q is not an offset", o)
		}
		bq.offset = n
	}
	if ts := get("timestamp"); ts != "" {
		if bq.offset >= 0 {
			return bq, badRequest("give an offset or a timestamp, not both")
		}
		if n, err := strconv.ParseInt(ts, 10, 64); err == nil && n >= 0 {
			bq.timestamp = n
		} else if t, err := time.Parse(time.RFC3339, ts); err == nil {
			bq.timestamp = t.UnixMilli()
		} else if t, err := time.ParseInLocation("2006-01-02T15:04", ts, time.UTC); err == nil {
			bq.timestamp = t.UnixMilli()
		} else {
			return bq, badRequest("timestamp %q is neither milliseconds since the epoch nor RFC 3339", ts)
		}
	}
	if l := get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxBrowse {
			return bq, badRequest("limit %q is not between 1 and %d", l, maxBrowse)
		}
		bq.limit = n
	}
	switch f := get("format"); f {
	case "", "text":
	case "hex":
		bq.hex = true
	default:
		return bq, badRequest("format %q is neither text nor hex", f)
	}
	return bq, nil
}

func (c *Console) browse(ctx context.Context, r *http.Request) (string, view, error) {
	q := r.URL.Query()
	bq, err := parseBrowse(q.Get)
	if err != nil {
		return "", view{}, err
	}
	adm, _, err := c.admin()
	if err != nil {
		return "", view{}, err
	}
	topics, err := adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return "", view{}, fmt.Errorf("list topics: %w", err)
	}
	d := browseData{Topics: topics.Names(), Topic: bq.topic, Partition: bq.partition, Limit: bq.limit, Format: "text", Start: -1, End: -1, Next: -1}
	if bq.hex {
		d.Format = "hex"
	}
	if bq.offset >= 0 {
		d.From = strconv.FormatInt(bq.offset, 10)
	} else if bq.timestamp >= 0 {
		d.From = time.UnixMilli(bq.timestamp).UTC().Format(time.RFC3339)
	}
	v := view{Title: "Browse records", Nav: "browse", Data: &d}
	if bq.topic == "" {
		return "browse", v, nil
	}
	d.Asked = true
	td, ok := topics[bq.topic]
	if !ok {
		return "", view{}, notFound("topic %q does not exist", bq.topic)
	}
	if _, ok := td.Partitions[bq.partition]; !ok {
		return "", view{}, notFound("topic %q has no partition %d", bq.topic, bq.partition)
	}
	starts, ends := c.offsets(ctx, adm, []string{bq.topic})
	if o, ok := starts.Lookup(bq.topic, bq.partition); ok && o.Err == nil {
		d.Start = o.Offset
	}
	if o, ok := ends.Lookup(bq.topic, bq.partition); ok && o.Err == nil {
		d.End = o.Offset
	}
	from := bq.offset
	if bq.timestamp >= 0 {
		lo, err := adm.ListOffsetsAfterMilli(ctx, bq.timestamp, bq.topic)
		if err != nil {
			return "", view{}, fmt.Errorf("offset for timestamp: %w", err)
		}
		o, ok := lo.Lookup(bq.topic, bq.partition)
		if !ok || o.Err != nil {
			return "", view{}, fmt.Errorf("offset for timestamp in partition %d: %v", bq.partition, o.Err)
		}
		from = o.Offset
	}
	if from < 0 {
		from = d.Start
	}
	if from < d.Start {
		from = d.Start
	}
	if d.End < 0 || from >= d.End {
		return "browse", v, nil
	}
	recs, err := c.read(ctx, bq.topic, bq.partition, from, d.End, bq.limit)
	if err != nil {
		return "", view{}, err
	}
	for _, rec := range recs {
		row := recordRow{Offset: rec.Offset, Timestamp: rec.Timestamp.UTC().Format("2006-01-02 15:04:05.000Z"),
			Key: show(rec.Key, rec.Key == nil, bq.hex), Value: show(rec.Value, rec.Value == nil, bq.hex)}
		for _, h := range rec.Headers {
			hv := show(h.Value, h.Value == nil, bq.hex)
			row.Headers = append(row.Headers, h.Key+"="+hv.Text)
		}
		d.Records = append(d.Records, row)
	}
	if n := len(recs); n > 0 && recs[n-1].Offset+1 < d.End {
		d.Next = recs[n-1].Offset + 1
	}
	return "browse", v, nil
}

// read fetches up to limit records of one partition from offset from,
// stopping at end (the end offset listed just before) or when ctx ends.
// It uses a client of its own: a consuming client's assignment is its
// state, and pages are served concurrently.
func (c *Console) read(ctx context.Context, topic string, partition int32, from, end int64, limit int) ([]*kgo.Record, error) {
	if _, _, err := c.admin(); err != nil {
		return nil, err
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(c.opts.Seeds()...),
		kgo.ClientID("samsa-console"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(from)}}),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, c.opts.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("console reader: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < limit {
		fs := cl.PollRecords(ctx, limit-len(out))
		if ctx.Err() != nil {
			break
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return out, fmt.Errorf("fetch %s/%d at %d: %w", topic, partition, from, ferr)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if len(out) < limit && r.Offset < end {
				out = append(out, r)
			}
			if r.Offset+1 >= end {
				done = true
			}
		})
		if done {
			break
		}
	}
	return out, nil
}

// show renders b as text when it is printable UTF-8 and text was asked
// for, else as hex, cut at maxShown bytes.
func show(b []byte, null, asHex bool) shown {
	s := shown{Null: null, Bytes: len(b)}
	if null {
		return s
	}
	if len(b) > maxShown {
		s.Cut = len(b) - maxShown
		b = b[:maxShown]
	}
	if !asHex && printable(b) {
		s.Text = string(b)
		return s
	}
	s.Hex = true
	s.Text = spacedHex(b)
	return s
}

// printable reports whether b is UTF-8 text without control characters
// other than tab and newlines.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r == '\t' || r == '\n' || r == '\r' {
			continue
		}
		if !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// spacedHex prints b as hex in groups of two bytes, as xxd does.
func spacedHex(b []byte) string {
	h := hex.EncodeToString(b)
	var sb strings.Builder
	for i := 0; i < len(h); i += 4 {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(h[i:min(i+4, len(h))])
	}
	return sb.String()
}
