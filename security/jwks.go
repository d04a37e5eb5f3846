package security

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Kafka's names of its secured OAUTHBEARER server callback handler
// (KIP-768): the current class and the one deprecated in 3.x.
const (
	validatorHandlerClass          = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
	validatorHandlerClassSecured   = "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler"
	unsecuredValidatorHandlerClass = "org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler"
)

// JWKS refresh limits from Kafka's RefreshingHttpsJwks: at most 16 key
// ids are remembered as missing, each for a minute, and a key id longer
// than 1000 characters never triggers a refresh.
const (
	missingKeyIDCacheMax   = 16
	missingKeyIDInFlight   = time.Minute
	missingKeyIDMaxLength  = 1000
	jwksFetchTimeout       = 10 * time.Second
	jwksMaxDocumentBytes   = 4 << 20
	defaultJWKSRefreshMs   = 3600000
	defaultJWKSBackoffMs   = 100
	defaultJWKSBackoffMax  = 10000
	defaultClockSkewSecond = 30
)

// jwtAlgorithms are the signature algorithms a token may use: every
// asymmetric JWS algorithm. jose4j's DISALLOW_NONE (Kafka's constraint)
// would also take HMAC with an "oct" key published in the JWKS; a JWKS
// publishes public keys, so Samsa does not.
var jwtAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// jwtSettings are the claim checks of Kafka's BrokerJwtValidator
// (ValidatorAccessTokenValidator before 4.1), read from the
// sasl.oauthbearer.* keys.
type jwtSettings struct {
	audiences []string      // sasl.oauthbearer.expected.audience; nil: any
	issuer    string        // sasl.oauthbearer.expected.issuer; "": any
	scope     string        // sasl.oauthbearer.scope.claim.name
	sub       string        // sasl.oauthbearer.sub.claim.name
	skew      time.Duration // sasl.oauthbearer.clock.skew.seconds
}

// jwksValidator validates signed JWTs as Kafka's
// OAuthBearerValidatorCallbackHandler does: the signature against a key
// of the JWKS, then exp and iat (required), nbf, aud and iss, then the
// scope, exp, sub and iat claims as ClaimValidationUtils checks them.
type jwksValidator struct {
	jwtSettings
	keys *jwksSource
}

// validate implements tokenValidator. Every refusal is invalid_token, as
// Kafka answers any ValidateException; reason says why, for the log (it
// never includes the token).
func (v *jwksValidator) validate(tok string, now time.Time) (principal string, expires time.Time, status, scope, reason string) {
	const invalid = "invalid_token"
	p, exp, err := v.check(strings.TrimSpace(tok), now)
	if err != nil {
		return "", time.Time{}, invalid, "", err.Error()
	}
	return p, exp, "", "", ""
}

func (v *jwksValidator) check(tok string, now time.Time) (string, time.Time, error) {
	// SerializedJwt: three non-empty sections.
	if tok == "" {
		return "", time.Time{}, errors.New("Empty JWT provided; expected three sections (header, payload, and signature)")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", time.Time{}, fmt.Errorf("Malformed JWT provided; expected three sections (header, payload, and signature), but %d sections provided", len(parts))
	}
	for i, name := range []string{"header", "payload", "signature"} {
		if strings.TrimSpace(parts[i]) == "" {
			return "", time.Time{}, fmt.Errorf("Malformed JWT provided; expected at least three sections (header, payload, and signature), but %s section missing", name)
		}
	}
	parsed, err := jwt.ParseSigned(tok, jwtAlgorithms)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("Could not validate the access token: %w", err)
	}
	if len(parsed.Headers) != 1 {
		return "", time.Time{}, errors.New("Could not validate the access token: not a compact JWS")
	}
	h := parsed.Headers[0]
	var std jwt.Claims
	var raw map[string]any
	if err := v.verify(parsed, h, &std, &raw); err != nil {
		return "", time.Time{}, fmt.Errorf("Could not validate the access token: %w", err)
	}
	// jose4j's JwtConsumer (NumericDateValidator): exp and iat required;
	// exp and nbf with the clock skew; exp not before iat or nbf; iat
	// has no time limit (iatAllowedSecondsInTheFuture is unset in
	// Kafka); then iss and aud.
	nowS := now.Unix()
	skew := int64(v.skew / time.Second)
	switch {
	case std.Expiry == nil:
		return "", time.Time{}, errors.New("Could not validate the access token: No Expiration Time (exp) claim present.")
	case std.IssuedAt == nil:
		return "", time.Time{}, errors.New("Could not validate the access token: No Issued At (iat) claim present.")
	case nowS >= int64(*std.Expiry)+skew:
		return "", time.Time{}, fmt.Errorf("Could not validate the access token: The JWT is no longer valid - the evaluation time %d is on or after the Expiration Time (exp=%d) claim value (even when providing %d seconds of leeway to account for clock skew).", nowS, int64(*std.Expiry), skew)
	case *std.Expiry < *std.IssuedAt:
		return "", time.Time{}, fmt.Errorf("Could not validate the access token: The Expiration Time (exp=%d) claim value cannot be before the Issued At (iat=%d) claim value.", int64(*std.Expiry), int64(*std.IssuedAt))
	case std.NotBefore != nil && *std.Expiry < *std.NotBefore:
		return "", time.Time{}, fmt.Errorf("Could not validate the access token: The Expiration Time (exp=%d) claim value cannot be before the Not Before (nbf=%d) claim value.", int64(*std.Expiry), int64(*std.NotBefore))
	case std.NotBefore != nil && nowS+skew < int64(*std.NotBefore):
		return "", time.Time{}, fmt.Errorf("Could not validate the access token: The JWT is not yet valid as the evaluation time %d is before the Not Before (nbf=%d) claim time (even when providing %d seconds of leeway to account for clock skew).", nowS, int64(*std.NotBefore), skew)
	}
	if v.issuer != "" && std.Issuer != v.issuer {
		if _, ok := raw["iss"]; !ok {
			return "", time.Time{}, errors.New("Could not validate the access token: No Issuer (iss) claim present but was expecting " + v.issuer)
		}
		return "", time.Time{}, fmt.Errorf("Could not validate the access token: Issuer (iss) claim value (%s) doesn't match expected value of %s", std.Issuer, v.issuer)
	}
	if len(v.audiences) > 0 && !slices.ContainsFunc(std.Audience, func(a string) bool { return slices.Contains(v.audiences, a) }) {
		if _, ok := raw["aud"]; !ok {
			return "", time.Time{}, errors.New("Could not validate the access token: No Audience (aud) claim present.")
		}
		return "", time.Time{}, fmt.Errorf("Could not validate the access token: Audience (aud) claim %v doesn't contain an acceptable identifier. Expected one of %v as an aud value.", []string(std.Audience), v.audiences)
	}
	// BrokerJwtValidator's claim checks (ClaimValidationUtils).
	var scopes []string
	switch s := raw[v.scope].(type) {
	case string:
		scopes = []string{s}
	case []any:
		for _, x := range s {
			xs, ok := x.(string)
			if !ok {
				return "", time.Time{}, fmt.Errorf("Could not extract the '%s' claim from the access token", v.scope)
			}
			scopes = append(scopes, xs)
		}
	}
	seen := make(map[string]bool, len(scopes))
	for _, s := range scopes {
		if err := claimString(v.scope, s); err != nil {
			return "", time.Time{}, err
		}
		s = strings.TrimSpace(s)
		if seen[s] {
			return "", time.Time{}, fmt.Errorf("%s value must not contain duplicates - %s already present", v.scope, s)
		}
		seen[s] = true
	}
	if *std.Expiry < 0 {
		return "", time.Time{}, fmt.Errorf("exp value must be non-negative; value given was \"%d\"", int64(*std.Expiry)*1000)
	}
	var sub string
	if rs, present := raw[v.sub]; present {
		s, ok := rs.(string)
		if !ok {
			return "", time.Time{}, fmt.Errorf("Could not extract the '%s' claim from the access token", v.sub)
		}
		sub = s
	}
	if err := claimString(v.sub, sub); err != nil {
		return "", time.Time{}, err
	}
	if *std.IssuedAt < 0 {
		return "", time.Time{}, fmt.Errorf("iat value must be null or non-negative; value given was \"%d\"", int64(*std.IssuedAt)*1000)
	}
	return strings.TrimSpace(sub), std.Expiry.Time(), nil
}

// claimString is ClaimValidationUtils.validateString: present, non-empty,
// not only whitespace.
func claimString(name, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s value must be non-empty", name)
	case strings.TrimSpace(v) == "":
		return fmt.Errorf("%s value must not contain only whitespace", name)
	}
	return nil
}

// verify checks the signature against the JWKS keys that may have made
// it, as jose4j's VerificationJwkSelector picks them: the header's kid
// (if any), a signing key (use absent or "sig"), an alg absent or equal
// to the header's; each candidate is tried. When no key has the kid, the
// JWKS is refreshed out of turn (RefreshingHttpsJwks.maybeExpediteRefresh)
// and this token is refused: the client's next attempt finds the new key.
func (v *jwksValidator) verify(t *jwt.JSONWebToken, h jose.Header, dest ...any) error {
	keys := v.keys.current()
	found := false
	for i := range keys {
		k := &keys[i]
		if (h.KeyID != "" && k.KeyID != h.KeyID) || (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != h.Algorithm) {
			continue
		}
		found = true
		pub := k.Public()
		if pub.Key == nil {
			continue
		}
		if err := t.Claims(pub.Key, dest...); err == nil {
			return nil
		}
	}
	if !found {
		v.keys.maybeExpediteRefresh(h.KeyID)
		return fmt.Errorf("Unable to find a suitable verification key for JWS w/ header kid %q alg %s from the %d JWKs obtained from %s", trimKeyID(h.KeyID), h.Algorithm, len(keys), v.keys.location)
	}
	return errors.New("JWS signature is invalid")
}

func trimKeyID(kid string) string {
	if len(kid) > 64 {
		return kid[:64] + "..."
	}
	return kid
}

// jwksSource holds the keys of sasl.oauthbearer.jwks.endpoint.url. An
// http(s) URL is Kafka's RefreshingHttpsJwks: fetched once at start-up
// (a failure stops the start, as it stops Kafka's broker), then every
// refresh.ms, and out of turn when a token names an unknown kid; a failed
// refresh retries with exponential backoff from retry.backoff.ms for at
// most retry.backoff.max.ms and otherwise keeps the keys it has. A file:
// URL is read once at start-up (JwksFileVerificationKeyResolver).
type jwksSource struct {
	location string
	fetch    func(ctx context.Context) ([]jose.JSONWebKey, error)
	refresh  time.Duration
	backoff  time.Duration
	maxWait  time.Duration
	log      *slog.Logger

	keys      atomic.Pointer[[]jose.JSONWebKey]
	expedite  chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	// mu guards missing: key ids recently asked for and not found, with
	// the time before which they do not trigger another refresh.
	mu      sync.Mutex
	missing map[string]time.Time
}

func (s *jwksSource) current() []jose.JSONWebKey {
	if p := s.keys.Load(); p != nil {
		return *p
	}
	return nil
}

// start fetches the keys once and, for an HTTP source, starts the
// refresher. Its error is Kafka's start-up failure.
func (s *jwksSource) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), jwksFetchTimeout)
	keys, err := s.fetch(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("The OAuth validator configuration encountered an error when initializing the VerificationKeyResolver: Could not refresh JWKS from %s: %w", s.location, err)
	}
	s.keys.Store(&keys)
	if s.refresh <= 0 {
		return nil // a file: read once
	}
	s.expedite, s.stop, s.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	s.missing = map[string]time.Time{}
	go s.loop()
	s.log.Info("JWKS validation key refresh thread started", "url", s.location, "refresh_ms", s.refresh.Milliseconds(), "keys", len(keys))
	return nil
}

func (s *jwksSource) close() {
	if s == nil || s.stop == nil {
		return
	}
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
	})
}

func (s *jwksSource) loop() {
	defer close(s.done)
	t := time.NewTicker(s.refresh)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.expedite:
		}
		s.refreshNow()
	}
}

// maybeExpediteRefresh asks for an out-of-turn refresh for an unknown key
// id unless that id asked less than a minute ago.
func (s *jwksSource) maybeExpediteRefresh(kid string) {
	if s.expedite == nil || kid == "" {
		return
	}
	if len(kid) > missingKeyIDMaxLength {
		s.log.Warn("JWT key id too long to cache; not refreshing the JWKS", "kid_prefix", kid[:64], "length", len(kid))
		return
	}
	now := time.Now()
	s.mu.Lock()
	if next, ok := s.missing[kid]; ok && next.After(now) {
		s.mu.Unlock()
		return
	}
	if len(s.missing) >= missingKeyIDCacheMax {
		var oldest string
		var at time.Time
		for k, t := range s.missing {
			if oldest == "" || t.Before(at) {
				oldest, at = k, t
			}
		}
		delete(s.missing, oldest)
	}
	s.missing[kid] = now.Add(missingKeyIDInFlight)
	s.mu.Unlock()
	select {
	case s.expedite <- struct{}{}:
	default:
	}
}

// refreshNow is RefreshingHttpsJwks.refresh: retries with backoff, keeps
// the old keys on failure, forgets found key ids as missing. Only the
// refresher goroutine calls it, so refreshes never overlap.
func (s *jwksSource) refreshNow() {
	end := time.Now().Add(s.maxWait)
	wait := s.backoff
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), jwksFetchTimeout)
		keys, err := s.fetch(ctx)
		cancel()
		if err == nil {
			s.mu.Lock()
			for _, k := range keys {
				delete(s.missing, k.KeyID)
			}
			s.mu.Unlock()
			s.keys.Store(&keys)
			s.log.Debug("OAuth JWKS refresh complete", "url", s.location, "keys", len(keys))
			return
		}
		left := time.Until(end)
		if w := min(wait, left); w > 0 {
			s.log.Warn("OAuth JWKS refresh attempt failed; retrying", "url", s.location, "attempt", attempt, "backoff_ms", w.Milliseconds(), "err", err)
			select {
			case <-s.stop:
				return
			case <-time.After(w):
			}
			wait *= 2
			continue
		}
		s.log.Warn("OAuth JWKS refresh encountered an error; not updating local JWKS cache", "url", s.location, "attempts", attempt, "err", err)
		return
	}
}

// ParseJWKS decodes a JSON Web Key Set (RFC 7517) as jose4j's
// JsonWebKeySet does: a key of an unknown type or with bad parameters is
// skipped, not an error; a document that is not a JSON object with a
// "keys" array is one.
func ParseJWKS(doc []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`not a JSON Web Key Set: no "keys" array`)
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || !k.Valid() {
			continue
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func httpJWKS(u string, client *http.Client) func(ctx context.Context) ([]jose.JSONWebKey, error) {
	return func(ctx context.Context) ([]jose.JSONWebKey, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxDocumentBytes+1))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if len(body) > jwksMaxDocumentBytes {
			return nil, fmt.Errorf("JWKS document larger than %d bytes", jwksMaxDocumentBytes)
		}
		return ParseJWKS(body)
	}
}

// oauthLookup resolves an OAUTHBEARER key of a listener as Kafka's
// ConfigurationUtils does with the listener's configs:
// listener.name.<l>.oauthbearer.<key>, then listener.name.<l>.<key>, then
// <key>. name is the key the value came from, for errors.
func oauthLookup(values map[string]string, listener, key string) (value, name string, set bool) {
	l := "listener.name." + strings.ToLower(listener) + "."
	for _, k := range []string{l + "oauthbearer." + key, l + key, key} {
		if v, ok := values[k]; ok {
			return v, k, true
		}
	}
	return "", key, false
}

// buildJWKSValidator reads the sasl.oauthbearer.* keys of a listener and
// loads its JWKS. jaas are the options of the listener's OAUTHBEARER JAAS
// line: as Kafka's JaasOptionsUtils, their ssl.truststore.* options say
// whom an https JWKS endpoint must be signed by (the system roots
// otherwise). The error names the key (a *keyError).
func buildJWKSValidator(values map[string]string, listener string, jaas map[string]string, log *slog.Logger) (*jwksValidator, error) {
	get := func(key string) (string, string, bool) {
		v, name, ok := oauthLookup(values, listener, key)
		return strings.TrimSpace(v), name, ok
	}
	num := func(key string, def, minimum int64) (int64, error) {
		v, name, ok := get(key)
		if !ok {
			return def, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, &keyError{name, "must be a number"}
		}
		if n < minimum {
			return 0, &keyError{name, fmt.Sprintf("The OAuth configuration option %s value must be at least %d", key, minimum)}
		}
		return n, nil
	}
	v := &jwksValidator{jwtSettings: jwtSettings{scope: "scope", sub: "sub"}}
	if s, name, ok := get("sasl.oauthbearer.scope.claim.name"); ok {
		if s == "" {
			return nil, &keyError{name, "The OAuth configuration option sasl.oauthbearer.scope.claim.name value must not contain only whitespace"}
		}
		v.scope = s
	}
	if s, name, ok := get("sasl.oauthbearer.sub.claim.name"); ok {
		if s == "" {
			return nil, &keyError{name, "The OAuth configuration option sasl.oauthbearer.sub.claim.name value must not contain only whitespace"}
		}
		v.sub = s
	}
	if s, _, ok := get("sasl.oauthbearer.expected.issuer"); ok && s != "" {
		v.issuer = s
	}
	if s, _, ok := get("sasl.oauthbearer.expected.audience"); ok {
		v.audiences = splitList(s)
	}
	skew, err := num("sasl.oauthbearer.clock.skew.seconds", defaultClockSkewSecond, 0)
	if err != nil {
		return nil, err
	}
	if skew > 1<<31-1 {
		_, name, _ := get("sasl.oauthbearer.clock.skew.seconds")
		return nil, &keyError{name, "must be an int"}
	}
	v.skew = time.Duration(skew) * time.Second
	raw, urlKey, ok := get("sasl.oauthbearer.jwks.endpoint.url")
	if !ok || raw == "" {
		return nil, &keyError{urlKey, `The OAuth validator for the broker requires "sasl.oauthbearer.jwks.endpoint.url" to be configured so that JWT signatures can be verified, but it was not set. Set it to the OAuth/OIDC provider's JWKS endpoint URL for this listener`}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &keyError{urlKey, fmt.Sprintf("The OAuth configuration option sasl.oauthbearer.jwks.endpoint.url contains a URL (%s) that is malformed: %v", raw, err)}
	}
	src := &jwksSource{location: raw, log: log}
	switch strings.ToLower(u.Scheme) {
	case "":
		return nil, &keyError{urlKey, fmt.Sprintf("The OAuth configuration option sasl.oauthbearer.jwks.endpoint.url contains a URL (%s) that is missing the protocol", raw)}
	case "file":
		p := u.Path
		if p == "" {
			p = u.Opaque
		}
		st, err := os.Stat(p)
		switch {
		case err != nil:
			return nil, &keyError{urlKey, fmt.Sprintf("The OAuth configuration option sasl.oauthbearer.jwks.endpoint.url contains a file (%s) that doesn't exist", p)}
		case st.IsDir():
			return nil, &keyError{urlKey, fmt.Sprintf("The OAuth configuration option sasl.oauthbearer.jwks.endpoint.url references a directory (%s), not a file", p)}
		}
		src.fetch = func(context.Context) ([]jose.JSONWebKey, error) {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			return ParseJWKS(b)
		}
	case "http", "https":
		if u.Host == "" {
			return nil, &keyError{urlKey, fmt.Sprintf("The OAuth configuration option sasl.oauthbearer.jwks.endpoint.url contains a URL (%s) that is malformed: no host", raw)}
		}
		refresh, err := num("sasl.oauthbearer.jwks.endpoint.refresh.ms", defaultJWKSRefreshMs, 0)
		if err != nil {
			return nil, err
		}
		if refresh == 0 {
			_, name, _ := get("sasl.oauthbearer.jwks.endpoint.refresh.ms")
			return nil, &keyError{name, "JWKS validation key refresh configuration value retryWaitMs value must be positive"}
		}
		backoff, err := num("sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", defaultJWKSBackoffMs, 0)
		if err != nil {
			return nil, err
		}
		backoffMax, err := num("sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", defaultJWKSBackoffMax, 0)
		if err != nil {
			return nil, err
		}
		if backoffMax < backoff {
			_, name, _ := get("sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms")
			return nil, &keyError{name, fmt.Sprintf("retryBackoffMaxMs value (%d) is less than retryBackoffMs value (%d)", backoffMax, backoff)}
		}
		src.refresh = time.Duration(refresh) * time.Millisecond
		src.backoff = time.Duration(backoff) * time.Millisecond
		src.maxWait = time.Duration(backoffMax) * time.Millisecond
		client := &http.Client{Timeout: jwksFetchTimeout}
		if strings.EqualFold(u.Scheme, "https") && (jaas["ssl.truststore.location"] != "" || jaas["ssl.truststore.certificates"] != "") {
			ts := tlsSettings{truststoreType: jaas["ssl.truststore.type"], truststoreLocation: jaas["ssl.truststore.location"],
				truststorePassword: jaas["ssl.truststore.password"], truststoreCerts: jaas["ssl.truststore.certificates"]}
			if ts.truststoreType == "" {
				ts.truststoreType = "JKS"
			}
			pool, err := ts.trustPool()
			if err != nil {
				reason := err.Error()
				var ke *keyError
				if errors.As(err, &ke) {
					reason = "JAAS option " + ke.key + ": " + ke.reason
				}
				return nil, &keyError{"", reason}
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			client.Transport = tr
		}
		src.fetch = httpJWKS(raw, client)
	default:
		return nil, &keyError{urlKey, fmt.Sprintf(`The OAuth configuration option sasl.oauthbearer.jwks.endpoint.url contains a URL (%s) that contains an invalid protocol (%s); only "http", "https", and "file" protocol are supported`, raw, strings.ToLower(u.Scheme))}
	}
	if err := src.start(); err != nil {
		return nil, &keyError{urlKey, err.Error()}
	}
	v.keys = src
	if v.issuer == "" {
		log.Warn(`The OAuth broker validator is configured with a JWKS endpoint but without "sasl.oauthbearer.expected.issuer", so it will accept a JWT bearing any (or no) "iss" (issuer) claim`, "listener", listener)
	}
	if len(v.audiences) == 0 {
		log.Warn(`The OAuth broker validator is configured with a JWKS endpoint but without "sasl.oauthbearer.expected.audience", so it will accept a JWT that does not carry an "aud" (audience) claim`, "listener", listener)
	}
	return v, nil
}
