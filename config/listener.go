package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Listener is one entry of Kafka's listeners / advertised.listeners:
// NAME://host:port. Name is upper-cased, as Kafka normalises listener
// names; Host has no brackets, and is empty for "every interface".
type Listener struct {
	Name string
	Host string
	Port int32
}

// Addr is the host:port to bind or dial, with IPv6 hosts bracketed.
func (l Listener) Addr() string {
	return net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
}

// String renders the listener the way it is written in a config file.
func (l Listener) String() string {
	return l.Name + "://" + l.Addr()
}

// listenerRE is Kafka's own listener pattern (SocketServerConfigs), so the
// same strings parse: brackets around the host are optional, and the host
// may be empty.
var listenerRE = regexp.MustCompile(`^(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)$`)

// ParseListeners parses a comma-separated list of NAME://host:port, e.g.
// "PLAINTEXT://:9092,CONTROLLER://[::1]:9093". An empty string is an empty
// list. Names must be distinct; ports must be 0..65535 (0 asks the OS for
// a free port).
func ParseListeners(s string) ([]Listener, error) {
	var out []Listener
	for _, entry := range splitCSV(s) {
		m := listenerRE.FindStringSubmatch(entry)
		if m == nil {
			return nil, fmt.Errorf("cannot parse %q as NAME://host:port", entry)
		}
		name := strings.ToUpper(m[1])
		if name == "" {
			return nil, fmt.Errorf("listener %q has no name", entry)
		}
		port, err := strconv.Atoi(m[3])
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("listener %q: port must be 0..65535", entry)
		}
		for _, l := range out {
			if l.Name == name {
				return nil, fmt.Errorf("listener name %s is used twice", name)
			}
		}
		out = append(out, Listener{Name: name, Host: m[2], Port: int32(port)})
	}
	return out, nil
}

// splitCSV splits like Kafka's Csv.parseCsvList: trimmed items, empty
// items dropped.
func splitCSV(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = javaTrim(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// hostname is os.Hostname, replaceable in tests.
var hostname = os.Hostname

// isWildcard reports whether a host means "every interface".
func isWildcard(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::"
}

// listeners resolves listeners, advertised.listeners,
// controller.listener.names and listener.security.protocol.map.
func (b *builder) listeners() error {
	controller := map[string]bool{}
	for _, n := range splitCSV(b.value("controller.listener.names")) {
		controller[strings.ToUpper(n)] = true
	}
	protocols, err := parseProtocolMap(b.value("listener.security.protocol.map"))
	if err != nil {
		return b.bad("listener.security.protocol.map", err.Error())
	}
	all, err := ParseListeners(b.value("listeners"))
	if err == nil {
		err = checkDistinctPorts(all)
	}
	if err != nil {
		return b.bad("listeners", err.Error())
	}
	// usable says whether Samsa serves a (non-controller) listener name.
	usable := func(name string) (bool, error) {
		if controller[name] {
			return false, nil
		}
		if _, ok := protocols[name]; !ok {
			return false, fmt.Errorf("no security protocol defined for listener %s in listener.security.protocol.map", name)
		}
		return true, nil
	}
	var served []Listener
	for _, l := range all {
		ok, err := usable(l.Name)
		if err != nil {
			return b.bad("listeners", err.Error())
		}
		if ok {
			served = append(served, l)
		}
	}
	if len(served) == 0 {
		return b.bad("listeners", "no listener left to serve: every listener is a controller listener")
	}
	b.c.Listeners = served
	b.c.SecurityProtocols = map[string]string{}
	for _, l := range served {
		b.c.SecurityProtocols[l.Name] = protocols[l.Name]
	}
	adv, err := b.advertised(served, all, usable)
	if err != nil {
		return err
	}
	b.c.AdvertisedListeners = adv
	return b.interBroker(protocols)
}

// interBroker resolves inter.broker.listener.name and
// security.inter.broker.protocol as Kafka's KafkaConfig does: at most one
// of them may be set; the protocol names the listener of that name; and
// the listener must be advertised (other brokers connect to it). Unset,
// it is the PLAINTEXT listener when there is one, else the first
// advertised listener (Kafka would refuse to start; a single node has no
// inter-broker traffic, so Samsa picks one for the cluster code).
func (b *builder) interBroker(protocols map[string]string) error {
	nameRaw, nameSet := b.c.Values["inter.broker.listener.name"]
	protoRaw, protoSet := b.c.Values["security.inter.broker.protocol"]
	if nameSet && protoSet {
		return b.bad("inter.broker.listener.name", "only one of inter.broker.listener.name and security.inter.broker.protocol should be set")
	}
	var name string
	switch {
	case nameSet:
		name = strings.ToUpper(javaTrim(nameRaw))
		if _, ok := protocols[name]; !ok {
			return b.bad("inter.broker.listener.name", "listener "+name+" has no security protocol in listener.security.protocol.map")
		}
	case protoSet:
		p := strings.ToUpper(javaTrim(protoRaw))
		if !slices.Contains(securityProtocols, p) {
			return b.bad("security.inter.broker.protocol", "must be one of "+strings.Join(securityProtocols, ", "))
		}
		name = p
	}
	if name != "" {
		if !slices.ContainsFunc(b.c.AdvertisedListeners, func(l Listener) bool { return l.Name == name }) {
			key := "inter.broker.listener.name"
			if protoSet {
				key = "security.inter.broker.protocol"
			}
			return b.bad(key, "inter-broker listener "+name+" must be one of the advertised listeners")
		}
		b.c.InterBrokerListenerName = name
		return nil
	}
	b.c.InterBrokerListenerName = b.c.AdvertisedListeners[0].Name
	for _, l := range b.c.AdvertisedListeners {
		if l.Name == "PLAINTEXT" {
			b.c.InterBrokerListenerName = l.Name
		}
	}
	return nil
}

// advertised resolves advertised.listeners. Unset, it is the served
// listeners with wildcard hosts replaced by this machine's name. Set, an
// empty host is replaced the same way (as Kafka does), a wildcard address
// is an error (Kafka rejects 0.0.0.0; Samsa also rejects ::), and every
// name must be one of the listeners.
func (b *builder) advertised(served, all []Listener, usable func(string) (bool, error)) ([]Listener, error) {
	raw, set := b.norm["advertised.listeners"]
	if !set {
		out := make([]Listener, len(served))
		for i, l := range served {
			if isWildcard(l.Host) {
				l.Host = b.localHost()
			}
			out[i] = l
		}
		return out, nil
	}
	bad := func(reason string) error { return b.bad("advertised.listeners", reason) }
	parsed, err := ParseListeners(raw)
	if err != nil {
		return nil, bad(err.Error())
	}
	var out []Listener
	for _, l := range parsed {
		ok, err := usable(l.Name)
		if err != nil {
			return nil, bad(err.Error())
		}
		if !ok {
			continue
		}
		if !slices.ContainsFunc(all, func(x Listener) bool { return x.Name == l.Name }) {
			return nil, bad("listener " + l.Name + " is not one of listeners")
		}
		switch {
		case l.Host == "":
			l.Host = b.localHost()
		case isWildcard(l.Host):
			return nil, bad("cannot advertise the wildcard address " + l.Host + "; use a host name or routable IP")
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, bad("no served listener is advertised")
	}
	return out, nil
}

// localHost is the name advertised for a wildcard host, looked up once.
func (b *builder) localHost() string {
	if b.host == "" {
		h, err := hostname()
		if err != nil || h == "" {
			b.warn(fmt.Sprintf("cannot determine this machine's host name (%v); advertising localhost", err))
			h = "localhost"
		}
		b.host = h
	}
	return b.host
}

// checkDistinctPorts applies Kafka's rule for listeners: no two on one
// port, except port 0, and except one IPv4 and one IPv6 literal.
func checkDistinctPorts(ls []Listener) error {
	byPort := map[int32][]Listener{}
	for _, l := range ls {
		if l.Port != 0 {
			byPort[l.Port] = append(byPort[l.Port], l)
		}
	}
	for _, l := range ls { // in listener order, for a stable message
		group := byPort[l.Port]
		if len(group) < 2 || group[0] != l {
			continue
		}
		if len(group) == 2 {
			a, errA := netip.ParseAddr(group[0].Host)
			c, errC := netip.ParseAddr(group[1].Host)
			if errA == nil && errC == nil && a.Is4() != c.Is4() {
				continue
			}
		}
		return fmt.Errorf("listeners %s and %s share port %d", group[0].Name, group[1].Name, l.Port)
	}
	return nil
}

var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

// parseProtocolMap parses listener.security.protocol.map, NAME:PROTOCOL
// pairs, names upper-cased.
func parseProtocolMap(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, item := range splitCSV(s) {
		i := strings.LastIndexByte(item, ':')
		if i < 0 {
			return nil, fmt.Errorf("entry %q is not NAME:PROTOCOL", item)
		}
		name := strings.ToUpper(javaTrim(item[:i]))
		proto := strings.ToUpper(javaTrim(item[i+1:]))
		if name == "" || !slices.Contains(securityProtocols, proto) {
			return nil, fmt.Errorf("entry %q: protocol must be one of %s", item, strings.Join(securityProtocols, ", "))
		}
		m[name] = proto
	}
	return m, nil
}
