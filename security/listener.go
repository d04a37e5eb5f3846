package security

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"samsa/config"
	"samsa/controller"
	"samsa/protocol"
)

// Mechanisms Samsa's SASL server implements.
var supportedMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}

// Options are what Build needs besides the configuration.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
}

// Listeners is the security of every served listener.
type Listeners struct {
	byName map[string]*listenerSecurity
	creds  *credentials
	// InterBrokerMechanism is sasl.mechanism.inter.broker.protocol when the
	// inter-broker listener is SASL_PLAINTEXT or SASL_SSL, else "".
	InterBrokerMechanism string
}

// credentials is the SCRAM credential store, set once the metadata store
// is open (SetCredentials); until then every SCRAM login fails.
type credentials struct {
	store atomic.Pointer[CredentialStore]
}

func (c *credentials) ScramCredential(user string, m controller.ScramMechanism) (controller.ScramCredential, bool) {
	if s := c.store.Load(); s != nil {
		return (*s).ScramCredential(user, m)
	}
	return controller.ScramCredential{}, false
}

// SetCredentials gives the SCRAM server its credential store. Build runs
// before the stores open, so that a bad setting fails fast.
func (ls *Listeners) SetCredentials(s CredentialStore) { ls.creds.store.Store(&s) }

// For returns the protocol.Security of a listener, nil for PLAINTEXT.
func (ls *Listeners) For(name string) protocol.Security {
	if l := ls.byName[name]; l != nil {
		return l
	}
	return nil
}

// HandshakeTimeout bounds a TLS handshake, or connections.max.idle.ms when
// that is shorter. Kafka has no separate limit (connections.max.idle.ms
// covers it); Samsa cuts a stalled handshake sooner so a port scanner does
// not hold a goroutine for ten minutes.
var HandshakeTimeout = 10 * time.Second

// listenerSecurity secures one listener; it implements protocol.Security.
type listenerSecurity struct {
	name     string
	protocol string // SSL, SASL_PLAINTEXT or SASL_SSL
	log      *slog.Logger

	tls              *tlsReloader // nil without TLS
	handshakeTimeout time.Duration
	mapper           *PrincipalMapper // SSL principals

	mechanisms  []string          // sasl.enabled.mechanisms; nil without SASL
	plainUsers  map[string]string // from the PLAIN JAAS line; secrets
	oauth       tokenValidator    // OAUTHBEARER's server callback handler
	jwks        *jwksSource       // the JWKS validator's keys; nil without one
	store       CredentialStore
	sessionLife time.Duration // connections.max.reauth.ms; 0: sessions never expire
	maxReceive  int32         // sasl.server.max.receive.size
}

// Build checks the TLS and SASL settings of every served listener and
// prepares them. A bad or missing value is a *config.ValueError naming
// the key as the user wrote it (with its listener.name prefix if that is
// where it came from); secret values are never included.
func Build(opts Options) (*Listeners, error) {
	cfg := opts.Config
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	out := &Listeners{byName: map[string]*listenerSecurity{}, creds: &credentials{}}
	for _, l := range cfg.Listeners {
		proto := cfg.SecurityProtocols[l.Name]
		if proto == "" || proto == "PLAINTEXT" {
			continue
		}
		ls, err := buildListener(cfg, l.Name, proto, out.creds, log)
		if err != nil {
			out.Close()
			return nil, err
		}
		out.byName[l.Name] = ls
	}
	// Kafka requires the inter-broker mechanism (default GSSAPI) to be
	// enabled on a SASL inter-broker listener. A single node has no
	// inter-broker traffic, so Samsa checks it only when the user chose
	// the inter-broker listener or mechanism.
	_, chose1 := cfg.Values["inter.broker.listener.name"]
	_, chose2 := cfg.Values["security.inter.broker.protocol"]
	mechRaw, chose3 := cfg.Values["sasl.mechanism.inter.broker.protocol"]
	if ib := out.byName[cfg.InterBrokerListenerName]; ib != nil && ib.mechanisms != nil && (chose1 || chose2 || chose3) {
		mech := "GSSAPI"
		if chose3 {
			mech = strings.TrimSpace(mechRaw)
		}
		if !slices.Contains(ib.mechanisms, mech) {
			out.Close()
			return nil, bad(cfg, "", "sasl.mechanism.inter.broker.protocol", mech+" must be included in sasl.enabled.mechanisms of listener "+ib.name+" when SASL is used for inter-broker communication")
		}
		out.InterBrokerMechanism = mech
	}
	return out, nil
}

// bad makes the error for key of listener (as resolved by ListenerValue).
func bad(cfg *config.Config, listener, key, reason string) error {
	name := key
	if listener != "" {
		if _, ok := cfg.Values["listener.name."+strings.ToLower(listener)+"."+key]; ok {
			name = "listener.name." + strings.ToLower(listener) + "." + key
		}
	}
	v, ok := cfg.Values[name]
	if config.SecretKey(name) && ok {
		v = "[hidden]"
	}
	if listener != "" {
		reason = "listener " + listener + ": " + reason
	}
	return &config.ValueError{Key: name, Value: v, Reason: reason}
}

func buildListener(cfg *config.Config, name, proto string, store CredentialStore, log *slog.Logger) (*listenerSecurity, error) {
	ls := &listenerSecurity{name: name, protocol: proto, log: log, store: store, handshakeTimeout: HandshakeTimeout}
	// An idle connection is closed after connections.max.idle.ms, a
	// stalled TLS handshake no later.
	if idle := time.Duration(cfg.ConnectionsMaxIdleMs) * time.Millisecond; cfg.ConnectionsMaxIdleMs > 0 && idle < ls.handshakeTimeout {
		ls.handshakeTimeout = idle
	}
	get := func(key, def string) string {
		if v, ok := cfg.ListenerValue(name, key); ok {
			return strings.TrimSpace(v)
		}
		return def
	}
	if proto == "SSL" || proto == "SASL_SSL" {
		s := tlsSettings{
			keystoreType: get("ssl.keystore.type", "JKS"), keystoreLocation: get("ssl.keystore.location", ""),
			keystorePassword: get("ssl.keystore.password", ""), keyPassword: get("ssl.key.password", ""),
			keystoreChain: get("ssl.keystore.certificate.chain", ""), keystoreKey: get("ssl.keystore.key", ""),
			truststoreType: get("ssl.truststore.type", "JKS"), truststoreLocation: get("ssl.truststore.location", ""),
			truststorePassword: get("ssl.truststore.password", ""), truststoreCerts: get("ssl.truststore.certificates", ""),
		}
		// Kafka applies the broker-wide ssl.client.auth to SSL listeners
		// only; a SASL_SSL listener takes it from its listener.name
		// override alone.
		auth := "none"
		if v, ok := cfg.Values["listener.name."+strings.ToLower(name)+".ssl.client.auth"]; ok {
			auth = strings.TrimSpace(v)
		} else if v, ok := cfg.Values["ssl.client.auth"]; ok && proto == "SSL" {
			auth = strings.TrimSpace(v)
		}
		switch strings.ToLower(auth) {
		case "required":
			s.clientAuth = tls.RequireAndVerifyClientCert
		case "requested":
			s.clientAuth = tls.VerifyClientCertIfGiven
		case "none":
			s.clientAuth = tls.NoClientCert
		default:
			return nil, bad(cfg, name, "ssl.client.auth", "must be required, requested or none")
		}
		var err error
		if s.minVersion, s.maxVersion, err = parseProtocols(get("ssl.enabled.protocols", "TLSv1.2,TLSv1.3")); err != nil {
			return nil, bad(cfg, name, "ssl.enabled.protocols", err.Error())
		}
		if s.cipherSuites, err = parseCipherSuites(get("ssl.cipher.suites", "")); err != nil {
			return nil, bad(cfg, name, "ssl.cipher.suites", err.Error())
		}
		if ls.tls, err = newTLSReloader(name, s, log); err != nil {
			var ke *keyError
			if errors.As(err, &ke) {
				return nil, bad(cfg, name, ke.key, ke.reason)
			}
			return nil, bad(cfg, name, "ssl.keystore.location", err.Error())
		}
		if ls.mapper, err = ParsePrincipalMappingRules(get("ssl.principal.mapping.rules", "DEFAULT")); err != nil {
			return nil, bad(cfg, name, "ssl.principal.mapping.rules", err.Error())
		}
	}
	if proto == "SASL_PLAINTEXT" || proto == "SASL_SSL" {
		mechs := splitList(get("sasl.enabled.mechanisms", "GSSAPI"))
		if len(mechs) == 0 {
			return nil, bad(cfg, name, "sasl.enabled.mechanisms", "no SASL mechanism enabled")
		}
		for _, m := range mechs {
			if !slices.Contains(supportedMechanisms, m) {
				return nil, bad(cfg, name, "sasl.enabled.mechanisms", "mechanism "+m+" is not supported; Samsa implements "+strings.Join(supportedMechanisms, ", "))
			}
		}
		ls.mechanisms = mechs
		if slices.Contains(mechs, "PLAIN") {
			users, key, err := plainUsers(cfg, name)
			if err != nil {
				return nil, bad(cfg, "", key, err.Error())
			}
			ls.plainUsers = users
		}
		mr, err := strconv.ParseInt(get("sasl.server.max.receive.size", "524288"), 10, 32)
		if err != nil || mr <= 0 {
			return nil, bad(cfg, name, "sasl.server.max.receive.size", "must be a positive number of bytes")
		}
		ls.maxReceive = int32(mr)
		reauth := get("connections.max.reauth.ms", "0")
		ms, err := strconv.ParseInt(reauth, 10, 64)
		if err != nil || ms < 0 {
			return nil, bad(cfg, name, "connections.max.reauth.ms", "must be a non-negative number of milliseconds")
		}
		ls.sessionLife = time.Duration(ms) * time.Millisecond
		// Last, so that no later error leaves a JWKS refresher running.
		if slices.Contains(mechs, "OAUTHBEARER") {
			if err := ls.buildOAuth(cfg, log); err != nil {
				return nil, err
			}
		}
	}
	return ls, nil
}

// buildOAuth sets the listener's OAUTHBEARER validator from
// listener.name.<l>.oauthbearer.sasl.server.callback.handler.class, as
// Kafka's SaslChannelBuilder picks the server callback handler: none (or
// Kafka's unsecured class) is the unsecured validator configured by the
// JAAS options, OAuthBearerValidatorCallbackHandler (either package name)
// the JWKS validator configured by the sasl.oauthbearer.* keys (KIP-768).
func (ls *listenerSecurity) buildOAuth(cfg *config.Config, log *slog.Logger) error {
	class, set := cfg.ListenerValue(ls.name, "oauthbearer.sasl.server.callback.handler.class")
	class = strings.TrimSpace(class)
	switch {
	case !set || class == "" || class == unsecuredValidatorHandlerClass:
		opts, key, err := jaasOptions(cfg, ls.name, "oauthbearer")
		if err != nil {
			return bad(cfg, "", key, err.Error())
		}
		o, err := parseOAuthOptions(opts)
		if err != nil {
			return bad(cfg, "", key, err.Error())
		}
		ls.oauth = o
		return nil
	case class == validatorHandlerClass || class == validatorHandlerClassSecured:
		opts, jaasKey, err := jaasOptions(cfg, ls.name, "oauthbearer")
		if err != nil {
			return bad(cfg, "", jaasKey, err.Error())
		}
		v, err := buildJWKSValidator(cfg.Values, ls.name, opts, log)
		if err != nil {
			var ke *keyError
			if errors.As(err, &ke) {
				if ke.key == "" { // a JAAS option
					ke.key = jaasKey
				}
				return bad(cfg, "", ke.key, "listener "+ls.name+": "+ke.reason)
			}
			return bad(cfg, ls.name, "sasl.oauthbearer.jwks.endpoint.url", err.Error())
		}
		ls.oauth, ls.jwks = v, v.keys
		return nil
	}
	return bad(cfg, ls.name, "oauthbearer.sasl.server.callback.handler.class",
		"Samsa implements Kafka's "+validatorHandlerClass+" (JWKS, KIP-768) and "+unsecuredValidatorHandlerClass+", not "+class)
}

// Close stops the JWKS refreshers of the listeners' OAUTHBEARER
// validators. The broker calls it once it no longer serves.
func (ls *Listeners) Close() {
	if ls == nil {
		return
	}
	for _, l := range ls.byName {
		l.jwks.close()
	}
}

// jaasOptions returns the options of a listener's JAAS line for mech
// (lower case), looked up like plainUsers; none when there is no line.
func jaasOptions(cfg *config.Config, listener, mech string) (map[string]string, string, error) {
	l := strings.ToLower(listener)
	for _, k := range []string{"listener.name." + l + "." + mech + ".sasl.jaas.config", "listener.name." + l + ".sasl.jaas.config", mech + ".sasl.jaas.config", "sasl.jaas.config"} {
		v, ok := cfg.Values[k]
		if !ok {
			continue
		}
		entries, err := ParseJAAS(v)
		if err != nil {
			return nil, k, err
		}
		if len(entries) != 1 {
			return nil, k, fmt.Errorf("JAAS config property contains %d login modules, should be 1 module", len(entries))
		}
		return entries[0].Options, k, nil
	}
	return map[string]string{}, "", nil
}

// plainUsers reads the PLAIN users of a listener from its JAAS line,
// looked up as Kafka's JaasContext.loadServerContext does, first
// listener.name.<listener>.plain.sasl.jaas.config, then the broker-wide
// sasl.jaas.config. key names where it came from, for errors.
func plainUsers(cfg *config.Config, listener string) (users map[string]string, key string, err error) {
	l := strings.ToLower(listener)
	for _, k := range []string{"listener.name." + l + ".plain.sasl.jaas.config", "listener.name." + l + ".sasl.jaas.config", "plain.sasl.jaas.config", "sasl.jaas.config"} {
		v, ok := cfg.Values[k]
		if !ok {
			continue
		}
		entries, err := ParseJAAS(v)
		if err != nil {
			return nil, k, err
		}
		if len(entries) != 1 {
			return nil, k, fmt.Errorf("JAAS config property contains %d login modules, should be 1 module", len(entries))
		}
		users := map[string]string{}
		for opt, val := range entries[0].Options {
			if u, ok := strings.CutPrefix(opt, "user_"); ok {
				users[u] = val
			}
		}
		return users, k, nil
	}
	k := "listener.name." + l + ".plain.sasl.jaas.config"
	return nil, k, errors.New("PLAIN is enabled but no JAAS configuration lists its users (user_<name>=\"<password>\")")
}

// Accept implements protocol.Security: the TLS handshake first, then a
// session that starts unauthenticated (SASL) or already authenticated as
// the certificate's principal (SSL).
func (l *listenerSecurity) Accept(nc net.Conn, log *slog.Logger) (net.Conn, protocol.Session, error) {
	rw := nc
	principal := protocol.AnonymousPrincipal
	if l.tls != nil {
		tc := tls.Server(nc, l.tls.serverConfig())
		_ = nc.SetDeadline(time.Now().Add(l.handshakeTimeout))
		if err := tc.Handshake(); err != nil {
			log.Info("closing connection: TLS handshake failed", "listener", l.name, "err", err)
			return nil, nil, err
		}
		_ = nc.SetDeadline(time.Time{})
		rw = tc
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			dn := SubjectDN(certs[0])
			name, err := l.mapper.Name(dn)
			if err != nil {
				log.Info("closing connection: no ssl.principal.mapping.rules rule applies to the client certificate", "listener", l.name, "dn", dn)
				return nil, nil, err
			}
			principal = "User:" + name
		}
	}
	if l.mechanisms == nil {
		return rw, fixedSession(principal), nil
	}
	return rw, &saslSession{l: l, sessionLife: l.sessionLife}, nil
}
