package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseProperties(t *testing.T) {
	type kv = [2]string
	tests := []struct {
		name string
		in   string
		want []kv
	}{
		{"equals", "a=b", []kv{{"a", "b"}}},
		{"equals with spaces", "a = b", []kv{{"a", "b"}}},
		{"colon", "a:b", []kv{{"a", "b"}}},
		{"colon with spaces", "a : b", []kv{{"a", "b"}}},
		{"space", "a b", []kv{{"a", "b"}}},
		{"tab and form feed", "a\t\f b", []kv{{"a", "b"}}},
		{"whitespace then separator", "a \t= b", []kv{{"a", "b"}}},
		{"only first separator skipped", "a==b", []kv{{"a", "=b"}}},
		{"separator inside value", "a=b=c:d", []kv{{"a", "b=c:d"}}},
		{"key only", "a", []kv{{"a", ""}}},
		{"empty value", "a=", []kv{{"a", ""}}},
		{"leading whitespace dropped, trailing kept", "   a=b  ", []kv{{"a", "b  "}}},
		{"hash comment", "#a=b\nc=d", []kv{{"c", "d"}}},
		{"bang comment", "!a=b\nc=d", []kv{{"c", "d"}}},
		{"indented comment", "  \t# a=b\nc=d", []kv{{"c", "d"}}},
		{"hash inside value", "a=b # c", []kv{{"a", "b # c"}}},
		{"blank lines", "\n\n  \t\n\fa=b\n\n", []kv{{"a", "b"}}},
		{"continuation", "a=b\\\n    c", []kv{{"a", "bc"}}},
		{"continuation chain", "a=1,\\\n  2,\\\n\t3", []kv{{"a", "1,2,3"}}},
		{"continuation of key", "ab\\\n  cd=e", []kv{{"abcd", "e"}}},
		{"continued line starting with hash", "a=b\\\n#c", []kv{{"a", "b#c"}}},
		{"continuation onto blank line ends entry", "a=b\\\n\nc=d", []kv{{"a", "b"}, {"c", "d"}}},
		{"comment line is not continued", "#a\\\nb=c", []kv{{"b", "c"}}},
		{"escaped backslash at end is no continuation", "a=b\\\\\nc=d", []kv{{"a", "b\\"}, {"c", "d"}}},
		{"backslash at end of input", "a=b\\", []kv{{"a", "b"}}},
		{"CRLF", "a=1\r\nb=2\r\n", []kv{{"a", "1"}, {"b", "2"}}},
		{"CR", "a=1\rb=2", []kv{{"a", "1"}, {"b", "2"}}},
		{"CRLF continuation", "a=1\\\r\n  2", []kv{{"a", "12"}}},
		{"escapes", `a=\t\n\r\f\\x`, []kv{{"a", "\t\n\r\f\\x"}}},
		{"unicode escapes", `a=\u0041\u00e9\u00E9`, []kv{{"a", "Aéé"}}},
		{"surrogate pair", `a=\uD83D\uDE00`, []kv{{"a", "😀"}}},
		{"lone surrogate", `a=\uD83D`, []kv{{"a", "\uFFFD"}}},
		{"other escapes drop the backslash", `a=\q\#\!`, []kv{{"a", "q#!"}}},
		{"escaped separator in key", `a\=b\:c=d`, []kv{{"a=b:c", "d"}}},
		{"escaped space in key", `a\ b c`, []kv{{"a b", "c"}}},
		{"escaped leading space in value", `a=\  b`, []kv{{"a", "  b"}}},
		{"duplicates kept in order", "a=1\nb=2\na=3", []kv{{"a", "1"}, {"b", "2"}, {"a", "3"}}},
		{"utf8", "a=café", []kv{{"a", "café"}}},
		{"latin1 when not utf8", "a=caf\xe9", []kv{{"a", "café"}}},
		{"byte order mark", "\xef\xbb\xbfa=b", []kv{{"a", "b"}}},
		{"separator only", "=b", []kv{{"", "b"}}},
		{"empty input", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProperties([]byte(tt.in))
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			var pairs []kv
			for _, p := range got {
				pairs = append(pairs, kv{p.Key, p.Value})
			}
			if !reflect.DeepEqual(pairs, tt.want) {
				t.Errorf("ParseProperties(%q) = %q, want %q", tt.in, pairs, tt.want)
			}
		})
	}
}

func TestParsePropertiesLineNumbers(t *testing.T) {
	got, err := ParseProperties([]byte("# c\n\na=1\\\n  2\r\nb=3\r#x\rc=4"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Property{{"a", "12", 3}, {"b", "3", 5}, {"c", "4", 7}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParsePropertiesMalformedUnicode(t *testing.T) {
	for _, in := range []string{`a=\u00g1`, `a=\u12`, "x=1\n\\u004", `a=\u`} {
		_, err := ParseProperties([]byte(in))
		if err == nil || !strings.Contains(err.Error(), `\uxxxx`) || !strings.Contains(err.Error(), "line ") {
			t.Errorf("ParseProperties(%q) error = %v, want malformed \\uxxxx with line", in, err)
		}
	}
	// A continuation may split an escape: Java joins the lines first.
	got, err := ParseProperties([]byte("b=\\u00\\\n  41"))
	if err != nil || len(got) != 1 || got[0].Value != "A" {
		t.Errorf("split escape: got %+v, %v", got, err)
	}
}

func TestReadPropertiesFileErrors(t *testing.T) {
	if _, err := ReadPropertiesFile(t.TempDir() + "/missing.properties"); err == nil {
		t.Error("missing file: no error")
	}
}

func FuzzParseProperties(f *testing.F) {
	for _, s := range []string{"a=b", "a b\\\n c", "#x\n!y\n k : v ", `\u0041=\uD83D\uDE00`, "a=\\u12", "\r\n\\\r\n=", "\xff\xfe=x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, errA := ParseProperties(data)
		b, errB := ParseProperties(data)
		if (errA == nil) != (errB == nil) || !reflect.DeepEqual(a, b) {
			t.Fatalf("not deterministic on %q", data)
		}
		if errA != nil {
			return
		}
		for _, p := range a {
			if p.Line < 1 {
				t.Fatalf("entry %+v has no line number", p)
			}
		}
	})
}
