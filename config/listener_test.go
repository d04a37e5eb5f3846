package config

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseListeners(t *testing.T) {
	tests := []struct {
		in   string
		want []Listener
	}{
		{"", nil},
		{" , ", nil},
		{"PLAINTEXT://:9092", []Listener{{"PLAINTEXT", "", 9092}}},
		{"PLAINTEXT://0.0.0.0:9092", []Listener{{"PLAINTEXT", "0.0.0.0", 9092}}},
		{"PLAINTEXT://[::1]:9092", []Listener{{"PLAINTEXT", "::1", 9092}}},
		{"PLAINTEXT://[::]:9092", []Listener{{"PLAINTEXT", "::", 9092}}},
		{"PLAINTEXT://::1:9092", []Listener{{"PLAINTEXT", "::1", 9092}}},
		{"PLAINTEXT://[fe80::1%eth0]:9092", []Listener{{"PLAINTEXT", "fe80::1%eth0", 9092}}},
		{"plaintext://my-host.example.com:0", []Listener{{"PLAINTEXT", "my-host.example.com", 0}}},
		{" A://h:1 , b://h:2,", []Listener{{"A", "h", 1}, {"B", "h", 2}}},
	}
	for _, tt := range tests {
		got, err := ParseListeners(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseListeners(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"PLAINTEXT://host", "PLAINTEXT://host:-1", "://h:1", "PLAINTEXT://h:70000",
		"x://h:1,X://h:2", "PLAINTEXT:/h:1", "PLAINTEXT://h h:1", "host:9092"} {
		if got, err := ParseListeners(in); err == nil {
			t.Errorf("ParseListeners(%q) = %v, want error", in, got)
		}
	}
}

func TestListenerAddr(t *testing.T) {
	for _, tt := range []struct {
		l          Listener
		addr, text string
	}{
		{Listener{"PLAINTEXT", "", 9092}, ":9092", "PLAINTEXT://:9092"},
		{Listener{"PLAINTEXT", "::1", 9092}, "[::1]:9092", "PLAINTEXT://[::1]:9092"},
		{Listener{"X", "h", 1}, "h:1", "X://h:1"},
	} {
		if tt.l.Addr() != tt.addr || tt.l.String() != tt.text {
			t.Errorf("%+v: Addr %q String %q", tt.l, tt.l.Addr(), tt.l.String())
		}
	}
}

func TestLoadListeners(t *testing.T) {
	L := func(name, host string, port int32) Listener { return Listener{name, host, port} }
	tests := []struct {
		name       string
		overrides  []string
		listeners  []Listener
		advertised []Listener
		warnings   []string
	}{
		{"wildcard IPv4 advertised as host name", []string{"listeners=PLAINTEXT://0.0.0.0:9092"},
			[]Listener{L("PLAINTEXT", "0.0.0.0", 9092)}, []Listener{L("PLAINTEXT", testHost, 9092)}, nil},
		{"wildcard IPv6 advertised as host name", []string{"listeners=PLAINTEXT://[::]:9092"},
			[]Listener{L("PLAINTEXT", "::", 9092)}, []Listener{L("PLAINTEXT", testHost, 9092)}, nil},
		{"empty host advertised as host name", []string{"listeners=PLAINTEXT://:9092"},
			[]Listener{L("PLAINTEXT", "", 9092)}, []Listener{L("PLAINTEXT", testHost, 9092)}, nil},
		{"IPv6 literal kept", []string{"listeners=PLAINTEXT://[::1]:9092"},
			[]Listener{L("PLAINTEXT", "::1", 9092)}, []Listener{L("PLAINTEXT", "::1", 9092)}, nil},
		{"controller listener excluded", []string{"listeners=PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names=controller"},
			[]Listener{L("PLAINTEXT", "", 9092)}, []Listener{L("PLAINTEXT", testHost, 9092)}, nil},
		{"controller listener excluded from explicit advertised",
			[]string{"listeners=PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names=CONTROLLER",
				"advertised.listeners=PLAINTEXT://broker1:9092,CONTROLLER://broker1:9093"},
			[]Listener{L("PLAINTEXT", "", 9092)}, []Listener{L("PLAINTEXT", "broker1", 9092)}, nil},
		{"explicit advertised empty host", []string{"advertised.listeners=PLAINTEXT://:9092"},
			[]Listener{L("PLAINTEXT", "localhost", 9092)}, []Listener{L("PLAINTEXT", testHost, 9092)}, nil},
		{"SSL served", []string{"listeners=PLAINTEXT://:9092,SSL://:9093", "advertised.listeners=PLAINTEXT://h:9092,SSL://h:9093"},
			[]Listener{L("PLAINTEXT", "", 9092), L("SSL", "", 9093)}, []Listener{L("PLAINTEXT", "h", 9092), L("SSL", "h", 9093)}, nil},
		{"custom names mapped to protocols", []string{"listeners=INTERNAL://:9092,EXTERNAL://:9094",
			"listener.security.protocol.map=internal:plaintext, EXTERNAL:SASL_SSL"},
			[]Listener{L("INTERNAL", "", 9092), L("EXTERNAL", "", 9094)}, []Listener{L("INTERNAL", testHost, 9092), L("EXTERNAL", testHost, 9094)}, nil},
		{"IPv4 and IPv6 may share a port", []string{"listeners=A://127.0.0.1:9092,B://[::1]:9092", "listener.security.protocol.map=A:PLAINTEXT,B:PLAINTEXT"},
			[]Listener{L("A", "127.0.0.1", 9092), L("B", "::1", 9092)}, []Listener{L("A", "127.0.0.1", 9092), L("B", "::1", 9092)}, nil},
		{"port 0 may repeat", []string{"listeners=A://:0,B://:0", "listener.security.protocol.map=A:PLAINTEXT,B:PLAINTEXT"},
			[]Listener{L("A", "", 0), L("B", "", 0)}, []Listener{L("A", testHost, 0), L("B", testHost, 0)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, w := mustBuild(t, "", tt.overrides...)
			if !reflect.DeepEqual(c.Listeners, tt.listeners) || !reflect.DeepEqual(c.AdvertisedListeners, tt.advertised) {
				t.Errorf("listeners %v advertised %v; want %v, %v", c.Listeners, c.AdvertisedListeners, tt.listeners, tt.advertised)
			}
			if !reflect.DeepEqual(w, tt.warnings) {
				t.Errorf("warnings %q, want %q", w, tt.warnings)
			}
		})
	}
}

func TestLoadListenersHostnameFailure(t *testing.T) {
	defer func(h func() (string, error)) { hostname = h }(hostname)
	hostname = func() (string, error) { return "", errors.New("no name") }
	c, w := mustBuild(t, "", "listeners=PLAINTEXT://:9092,OTHER://0.0.0.0:9093", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT")
	if c.AdvertisedListeners[0].Host != "localhost" || c.AdvertisedListeners[1].Host != "localhost" || len(w) != 1 {
		t.Errorf("advertised %v, warnings %q", c.AdvertisedListeners, w)
	}
}

func TestLoadSecurityProtocols(t *testing.T) {
	c, w := mustBuild(t, "", "listeners=INTERNAL://:9092,EXTERNAL://:9094,CONTROLLER://:9093",
		"controller.listener.names=CONTROLLER",
		"listener.security.protocol.map=internal:sasl_plaintext,EXTERNAL:SASL_SSL,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name=internal",
		"listener.name.external.ssl.keystore.location=/k.p12",
		"listener.name.internal.scram-sha-256.sasl.jaas.config=x required;",
		"sasl.enabled.mechanisms=PLAIN")
	if len(w) != 0 {
		t.Errorf("warnings %q, want none", w)
	}
	want := map[string]string{"INTERNAL": "SASL_PLAINTEXT", "EXTERNAL": "SASL_SSL"}
	if !reflect.DeepEqual(c.SecurityProtocols, want) || c.InterBrokerListenerName != "INTERNAL" {
		t.Errorf("protocols %v inter-broker %q", c.SecurityProtocols, c.InterBrokerListenerName)
	}
	if v, ok := c.ListenerValue("EXTERNAL", "ssl.keystore.location"); !ok || v != "/k.p12" {
		t.Errorf("ListenerValue = %q, %v", v, ok)
	}
	if _, ok := c.ListenerValue("INTERNAL", "ssl.keystore.location"); ok {
		t.Error("INTERNAL sees EXTERNAL's override")
	}
	if v, _ := c.ListenerValue("INTERNAL", "sasl.enabled.mechanisms"); v != "PLAIN" {
		t.Errorf("fallback to the broker key: %q", v)
	}
	c, _ = mustBuild(t, "", "listeners=PLAINTEXT://:9092,SSL://:9093", "security.inter.broker.protocol=SSL")
	if c.InterBrokerListenerName != "SSL" {
		t.Errorf("inter-broker %q, want SSL", c.InterBrokerListenerName)
	}
}
