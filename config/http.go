package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// HTTPListenersKey is the Samsa-only broker key that turns on the HTTP
// listener serving /healthz, /readyz (and, later, /metrics and the web
// console). Kafka has no such key: its metrics go through JMX and an
// exporter. It is accepted without a warning but not reported by
// DescribeConfigs, since a Kafka 4 broker does not know it.
const HTTPListenersKey = "samsa.http.listeners"

// ConsoleEnableKey and ConsoleActionsEnableKey are the Samsa-only keys of
// the web console (package console): served on the HTTP listener unless
// samsa.console.enable=false, read-only unless
// samsa.console.actions.enable=true.
const (
	ConsoleEnableKey        = "samsa.console.enable"
	ConsoleActionsEnableKey = "samsa.console.actions.enable"
)

// PprofEnableKey serves Go's runtime profiles (net/http/pprof) under
// /debug/pprof/ on the HTTP listener. Off by default: a CPU profile costs
// CPU while it runs and the heap profile reveals memory contents' shapes,
// so only operators who ask get them.
const PprofEnableKey = "samsa.debug.pprof.enable"

// HTTPListener is one entry of samsa.http.listeners: http://host:port.
// Host has no brackets and is empty for "every interface"; a Port of 0
// asks the OS for a free port (the broker reports the bound address).
type HTTPListener struct {
	Host string
	Port int32
}

// Addr is the host:port to bind, with IPv6 hosts bracketed.
func (l HTTPListener) Addr() string {
	return net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
}

// String renders the listener as it is written in a config file.
func (l HTTPListener) String() string { return "http://" + l.Addr() }

// ParseHTTPListeners parses samsa.http.listeners: a comma-separated list of
// http://host:port, split and trimmed like Kafka's listeners (empty items
// are dropped, so "" is no listener: the HTTP listener is off). The host
// may be bracketed or empty; ports are 0..65535 and, apart from 0,
// distinct. Only the http scheme is served: https is refused rather than
// silently served in clear text.
func ParseHTTPListeners(s string) ([]HTTPListener, error) {
	var out []HTTPListener
	for _, entry := range splitCSV(s) {
		m := listenerRE.FindStringSubmatch(entry)
		if m == nil {
			return nil, fmt.Errorf("cannot parse %q as http://host:port", entry)
		}
		if scheme := strings.ToLower(m[1]); scheme != "http" {
			return nil, fmt.Errorf("listener %q: scheme must be http (https is not implemented)", entry)
		}
		port, err := strconv.Atoi(m[3])
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("listener %q: port must be 0..65535", entry)
		}
		l := HTTPListener{Host: m[2], Port: int32(port)}
		for _, o := range out {
			if o == l && port != 0 {
				return nil, fmt.Errorf("listener %s is listed twice", l)
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// httpListeners resolves samsa.http.listeners.
func (b *builder) httpListeners() error {
	ls, err := ParseHTTPListeners(b.value(HTTPListenersKey))
	if err != nil {
		return b.bad(HTTPListenersKey, err.Error())
	}
	b.c.HTTPListeners = ls
	b.c.ConsoleEnable = b.value(ConsoleEnableKey) == "true"
	b.c.ConsoleActionsEnable = b.value(ConsoleActionsEnableKey) == "true"
	b.c.PprofEnable = b.value(PprofEnableKey) == "true"
	return nil
}
