// Package security secures Samsa's listeners as Kafka secures a broker's:
// TLS for the SSL and SASL_SSL security protocols, SASL (PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER with JWKS-validated (KIP-768)
// or unsecured tokens) for SASL_PLAINTEXT and SASL_SSL, and the principal
// each connection acts as ("User:alice"), which the authorizer (package
// acl) checks.
//
// # Configuration
//
// listeners and listener.security.protocol.map (package config) decide
// each listener's protocol. Every key below is read per listener the way
// Kafka reads it, listener.name.<listener in lower case>.<key> first, then
// <key>; Build checks them all at start-up, before anything is bound, and
// a bad one is a *config.ValueError naming the key (exit status 2), with
// secret values shown as [hidden].
//
//   - ssl.keystore.type PEM with ssl.keystore.location (a file holding the
//     private key and the certificate chain) or inline
//     ssl.keystore.certificate.chain and ssl.keystore.key; PKCS12 (and
//     Kafka's default JKS name for a PKCS12 file, which Java also reads)
//     with ssl.keystore.password, falling back to ssl.key.password,
//     decoded by software.sslmate.com/src/go-pkcs12. A real JKS file and
//     an encrypted PEM key are refused with a message saying how to
//     convert them. Truststores likewise (ssl.truststore.*, PEM inline in
//     ssl.truststore.certificates).
//   - ssl.client.auth required|requested|none. As in Kafka the broker-wide
//     value applies to SSL listeners only; a SASL_SSL listener takes only
//     its listener.name override.
//   - ssl.enabled.protocols (TLSv1.2,TLSv1.3 by default) becomes Go's
//     version range; ssl.cipher.suites uses the IANA names Java and Go
//     share (TLS 1.3 suites are always on in Go).
//   - ssl.principal.mapping.rules (SslPrincipalMapper): DEFAULT or
//     RULE:pattern/replacement/[LU], patterns in Go's RE2 syntax. The DN
//     is the client certificate's subject in RFC 2253 form
//     ("CN=alice,OU=eng,O=acme"), Java's X500Principal.getName(); no
//     client certificate is User:ANONYMOUS, as Kafka.
//   - sasl.enabled.mechanisms (Kafka's default GSSAPI is refused: Samsa
//     has no Kerberos); the PLAIN users come from the JAAS line of
//     listener.name.<l>.plain.sasl.jaas.config, else
//     listener.name.<l>.sasl.jaas.config, plain.sasl.jaas.config,
//     sasl.jaas.config, as user_<name>="<password>" options (ParseJAAS
//     tokenizes like Kafka's JaasConfig). SCRAM users live in the
//     controller's store (controller/scram.go), made with
//     AlterUserScramCredentials.
//   - OAUTHBEARER is validated by the server callback handler named in
//     listener.name.<l>.oauthbearer.sasl.server.callback.handler.class.
//     Without one (or with Kafka's
//     OAuthBearerUnsecuredValidatorCallbackHandler), as Kafka's default
//     ("for development"): an unsecured JWS (alg none, empty signature)
//     with the principal in "sub" and a future "exp"; the JAAS options
//     unsecuredValidatorPrincipalClaimName, ...ScopeClaimName,
//     ...RequiredScope and ...AllowableClockSkewMs apply. With Kafka's
//     OAuthBearerValidatorCallbackHandler (KIP-768; the older
//     ...oauthbearer.secured. name too), signed JWTs are checked against
//     the JWKS of sasl.oauthbearer.jwks.endpoint.url (jwks.go): keys
//     parsed and signatures verified by github.com/go-jose/go-jose/v4,
//     asymmetric algorithms only (jose4j would also take HMAC with an
//     "oct" key in the JWKS); exp and iat required, exp and nbf with
//     sasl.oauthbearer.clock.skew.seconds (30), aud one of
//     sasl.oauthbearer.expected.audience, iss equal to
//     sasl.oauthbearer.expected.issuer, then Kafka's
//     ClaimValidationUtils (sasl.oauthbearer.sub.claim.name, the
//     principal; sasl.oauthbearer.scope.claim.name, no duplicates).
//     These keys are read as Kafka's ConfigurationUtils reads them:
//     listener.name.<l>.oauthbearer.<key>, listener.name.<l>.<key>,
//     <key>. An http(s) JWKS is fetched at start-up (a failure stops
//     the start, as Kafka's RefreshingHttpsJwks.init stops the broker),
//     then every sasl.oauthbearer.jwks.endpoint.refresh.ms (1 h) and at
//     once when a token names a kid the JWKS lacks (once a minute per
//     kid, 16 kids remembered; that token is still refused); a failed
//     refresh retries from retry.backoff.ms (100) doubling for at most
//     retry.backoff.max.ms (10000) and keeps the old keys. An https
//     endpoint is checked against the system roots, or, as Kafka's
//     JaasOptionsUtils does, the ssl.truststore.* options of the
//     listener's OAUTHBEARER JAAS line. A file: JWKS is read once. Any refused token answers RFC 7628's error JSON
//     ({"status":"invalid_token"}) as a challenge; the client's ^A then
//     fails with that JSON, and the log line says why (never the
//     token). The session ends when the token expires.
//   - sasl.server.max.receive.size (512 KiB): until a SASL connection has
//     authenticated, a larger frame closes it before it is read, so an
//     unauthenticated client cannot make the broker buffer
//     socket.request.max.bytes.
//   - connections.max.reauth.ms (KIP-368), 0 by default: sessions never
//     expire (OAUTHBEARER sessions still end with their token).
//
// Certificates are reloaded when the keystore or truststore file changes
// (size or modification time, looked at no more than once a second, on a
// handshake): Kafka does it through a dynamic config update of the same
// keys. A file that no longer loads keeps the previous certificates and
// logs one error.
//
// # Connections
//
// protocol.Server calls Accept on the connection's own goroutine: the TLS
// handshake (bounded by HandshakeTimeout, 10s; garbage is one Info line
// and a closed connection), then a Session. An SSL session is complete
// from the start (fixedSession). A SASL session (saslSession) follows
// Kafka's SaslServerAuthenticator:
//
//	HANDSHAKE_OR_VERSIONS --ApiVersions--> HANDSHAKE --SaslHandshake--> AUTHENTICATE
//	HANDSHAKE_OR_VERSIONS --SaslHandshake--------------------------->  AUTHENTICATE
//	AUTHENTICATE --token(s) accepted--> COMPLETE
//	COMPLETE --SaslHandshake from a client that used SaslAuthenticate v1+,
//	           same mechanism--> AUTHENTICATE (re-authentication)
//	COMPLETE --SaslHandshake, other mechanism--> REAUTH_BAD_MECHANISM --> closed
//
// Any other request before COMPLETE closes the connection without an
// answer ("Unexpected Kafka request of type METADATA during SASL
// handshake."; Kafka answers the AUTHENTICATE case with an error response
// first, Samsa just closes). SaslHandshake v1+ means tokens arrive in
// SaslAuthenticate requests (KIP-152); v0 means bare size-prefixed tokens
// (protocol's RawToken), answered with bare tokens. An unknown mechanism
// answers UNSUPPORTED_SASL_MECHANISM with the enabled list and closes. A
// failed login answers SASL_AUTHENTICATION_FAILED with Kafka's message
// (PLAIN's specific ones; SCRAM's single generic "Authentication failed
// during authentication due to invalid credentials with SASL mechanism
// SCRAM-SHA-256", which does not tell whether the user exists), waits
// failedAuthDelay (Kafka's connection.failed.authentication.delay.ms,
// 100 ms) and closes. Passwords and SCRAM proofs are never logged.
//
// With connections.max.reauth.ms > 0 the SaslAuthenticate that completes
// a login carries session_lifetime_ms; once that has passed, any request
// other than the SaslHandshake starting a re-authentication closes the
// connection, as Kafka's SocketServer does. A re-authentication must
// keep the principal ("Cannot change principals during re-authentication
// from User.alice: User.bob"). A client that never authenticates is
// closed by connections.max.idle.ms like any idle connection; Kafka has
// no separate limit either.
//
// SCRAM's first step runs on github.com/xdg-go/scram (client-first
// parsing, a fresh server nonce per exchange); the client-final message is
// checked as Kafka's ScramSaslServer checks it: its nonce must end with
// the server-first nonce (librdkafka repeats its own nonce in front, which
// xdg-go's exact comparison would refuse), so a replayed client-final
// fails against the new server nonce; the proof is compared in constant
// time. Stored credentials (Kafka's
// ScramCredential: salt, StoredKey, ServerKey, iterations, never the
// password) are derived by the AlterUserScramCredentials handler from the
// salted password the client sends; fewer than 4096 iterations fail
// authentication as in Kafka.
//
// # Locking
//
// A session is used only by its connection's read loop: no lock. The
// listener settings are read-only after Build. A jwksSource's keys are
// an atomic pointer its refresher goroutine replaces (Listeners.Close
// stops it); jwksSource.mu guards the missing-kid map. tlsReloader.mu
// guards the current *tls.Config and the file stamps. The SCRAM store is
// reached through an atomic pointer set once the metadata store is open
// (SetCredentials); until then SCRAM logins fail.
package security
