package config

import "strings"

// securityKeys are the Kafka broker keys packages security and acl
// implement. They are not Config fields: package security reads them from Values for each
// listener (a listener.name.<listener>.<key> override first, then <key>),
// checks them when the broker starts, and answers a bad value with a
// *ValueError naming the key.
var securityKeys = map[string]bool{
	"inter.broker.listener.name":            true,
	"security.inter.broker.protocol":        true,
	"connections.max.reauth.ms":             true,
	"sasl.enabled.mechanisms":               true,
	"sasl.jaas.config":                      true,
	"sasl.mechanism.inter.broker.protocol":  true,
	"ssl.cipher.suites":                     true,
	"ssl.client.auth":                       true,
	"ssl.enabled.protocols":                 true,
	"ssl.key.password":                      true,
	"ssl.keystore.certificate.chain":        true,
	"ssl.keystore.key":                      true,
	"ssl.keystore.location":                 true,
	"ssl.keystore.password":                 true,
	"ssl.keystore.type":                     true,
	"ssl.principal.mapping.rules":           true,
	"ssl.protocol":                          true,
	"ssl.truststore.certificates":           true,
	"ssl.truststore.location":               true,
	"ssl.truststore.password":               true,
	"ssl.truststore.type":                   true,
	"ssl.endpoint.identification.algorithm": true,
	"authorizer.class.name":                 true,
	"super.users":                           true,
	"allow.everyone.if.no.acl.found":        true,
	// OAUTHBEARER's JWKS validator (KIP-768); also read as
	// listener.name.<listener>.oauthbearer.<key>.
	"sasl.oauthbearer.jwks.endpoint.url":                  true,
	"sasl.oauthbearer.jwks.endpoint.refresh.ms":           true,
	"sasl.oauthbearer.jwks.endpoint.retry.backoff.ms":     true,
	"sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms": true,
	"sasl.oauthbearer.expected.audience":                  true,
	"sasl.oauthbearer.expected.issuer":                    true,
	"sasl.oauthbearer.scope.claim.name":                   true,
	"sasl.oauthbearer.sub.claim.name":                     true,
	"sasl.oauthbearer.clock.skew.seconds":                 true,
}

// SecretKey reports whether key (or a listener.name override of it) holds
// a secret: passwords, private keys and JAAS lines. Such values are never
// logged or reported.
func SecretKey(key string) bool {
	return strings.HasSuffix(key, ".password") || strings.HasSuffix(key, "sasl.jaas.config") || strings.HasSuffix(key, "ssl.keystore.key")
}

// isSecurityKey reports whether package security implements key: one of
// securityKeys, listener.name.<listener>.<one of them>, a JAAS line per
// mechanism, listener.name.<listener>.<mechanism>.sasl.jaas.config, the
// OAUTHBEARER server callback handler,
// listener.name.<listener>.oauthbearer.sasl.server.callback.handler.class,
// or listener.name.<listener>.oauthbearer.<one of securityKeys>.
func isSecurityKey(key string) bool {
	if securityKeys[key] {
		return true
	}
	rest, ok := strings.CutPrefix(key, "listener.name.")
	if !ok {
		return false
	}
	i := strings.IndexByte(rest, '.')
	if i <= 0 {
		return false
	}
	rest = rest[i+1:]
	if securityKeys[rest] {
		return true
	}
	if j := strings.IndexByte(rest, '.'); j > 0 && rest[j+1:] == "sasl.jaas.config" {
		return true
	}
	if mech, ok := strings.CutPrefix(rest, "oauthbearer."); ok && (mech == "sasl.server.callback.handler.class" || securityKeys[mech]) {
		return true
	}
	return false
}

// ListenerValue returns the value of a security key for a listener as
// Kafka resolves it (KafkaConfig.valuesWithPrefixOverride): the
// listener.name.<listener in lower case>.<key> override if set, else
// <key>. set is false when neither is.
func (c *Config) ListenerValue(listener, key string) (value string, set bool) {
	if v, ok := c.Values["listener.name."+strings.ToLower(listener)+"."+key]; ok {
		return v, true
	}
	v, ok := c.Values[key]
	return v, ok
}
