package console

import (
	"net/url"
	"testing"
)

// FuzzParseBrowse feeds /browse query strings to the query parser: it
// must answer an error or a query within bounds, never panic.
func FuzzParseBrowse(f *testing.F) {
	for _, s := range []string{
		"topic=t&partition=0&offset=5&limit=10&format=hex",
		"topic=t&timestamp=2026-01-02T15:04:05Z",
		"topic=t&timestamp=1700000000000&limit=500",
		"topic=t&partition=-1", "limit=0", "offset=1&timestamp=2", "format=bin",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		bq, err := parseBrowse(q.Get)
		if err != nil {
			return
		}
		if bq.partition < 0 || bq.limit < 1 || bq.limit > maxBrowse || (bq.offset >= 0 && bq.timestamp >= 0) {
			t.Fatalf("%q parsed to out-of-bounds %+v", raw, bq)
		}
	})
}

func TestShow(t *testing.T) {
	for _, tt := range []struct {
		in    []byte
		hex   bool
		text  string
		isHex bool
	}{
		{[]byte("hello\tworld\n"), false, "hello\tworld\n", false},
		{[]byte("héllo"), false, "héllo", false},
		{[]byte{0, 1, 0xfe}, false, "0001 fe", true},
		{[]byte("abc"), true, "6162 63", true},
		{[]byte{0xff, 'a'}, false, "ff61", true},
	} {
		s := show(tt.in, false, tt.hex)
		if s.Text != tt.text || s.Hex != tt.isHex {
			t.Errorf("show(%q, hex=%v) = %q hex=%v; want %q hex=%v", tt.in, tt.hex, s.Text, s.Hex, tt.text, tt.isHex)
		}
	}
	big := make([]byte, maxShown+10)
	if s := show(big, false, false); s.Cut != 10 || s.Bytes != maxShown+10 {
		t.Errorf("a %d-byte value: cut %d, bytes %d", len(big), s.Cut, s.Bytes)
	}
	if s := show(nil, true, false); !s.Null {
		t.Error("a null value is not shown as null")
	}
}
