package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseHTTPListeners(t *testing.T) {
	tests := []struct {
		in   string
		want []HTTPListener
	}{
		{"", nil},
		{" , ", nil},
		{"http://127.0.0.1:9644", []HTTPListener{{"127.0.0.1", 9644}}},
		{"HTTP://localhost:0", []HTTPListener{{"localhost", 0}}},
		{"http://:9644", []HTTPListener{{"", 9644}}},
		{"http://[::1]:9644, http://127.0.0.1:9645", []HTTPListener{{"::1", 9644}, {"127.0.0.1", 9645}}},
		{"http://h:0,http://h:0", []HTTPListener{{"h", 0}, {"h", 0}}},
	}
	for _, tt := range tests {
		got, err := ParseHTTPListeners(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseHTTPListeners(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"https://h:1", "PLAINTEXT://h:1", "http://h", "http://h:70000", "http://h:-1",
		"h:9644", "http://h:1,http://h:1"} {
		if got, err := ParseHTTPListeners(in); err == nil {
			t.Errorf("ParseHTTPListeners(%q) = %v, want error", in, got)
		}
	}
}

func TestHTTPListenersKey(t *testing.T) {
	c, warnings, err := load("", nil)
	if err != nil || c.HTTPListeners != nil {
		t.Fatalf("default: %v, %v; want off", c.HTTPListeners, err)
	}
	c, warnings, err = load("", []string{"samsa.http.listeners=http://127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %q; the key is Samsa's own and must not warn", warnings)
	}
	if want := []HTTPListener{{"127.0.0.1", 0}}; !reflect.DeepEqual(c.HTTPListeners, want) {
		t.Errorf("HTTPListeners = %v, want %v", c.HTTPListeners, want)
	}
	if _, _, ok := c.BrokerValue(HTTPListenersKey); ok {
		t.Errorf("DescribeConfigs must not report %s: Kafka does not know it", HTTPListenersKey)
	}
	_, _, err = load("", []string{"samsa.http.listeners=https://127.0.0.1:1"})
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Key != HTTPListenersKey || !strings.Contains(ve.Reason, "https") {
		t.Errorf("https: err = %v, want a ValueError for %s", err, HTTPListenersKey)
	}
}

func FuzzParseHTTPListeners(f *testing.F) {
	for _, s := range []string{"", "http://127.0.0.1:9644", "http://[::1]:0,http://:1", "https://h:1", "http://h:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := ParseHTTPListeners(s)
		if err != nil {
			return
		}
		for _, l := range ls {
			if l.Port < 0 || l.Port > 65535 {
				t.Fatalf("%q: port %d accepted", s, l.Port)
			}
			back, err := ParseHTTPListeners(l.String())
			if err != nil || len(back) != 1 || back[0] != l {
				t.Fatalf("%q: %v does not round-trip: %v, %v", s, l, back, err)
			}
		}
	})
}
