package security

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kafka's OAuthBearerClientInitialResponse grammar (RFC 7628): a GS2
// header with an optional authzid, then key=value pairs separated by
// ^A, ended by ^A^A. Java's [\x01-\x7F&&[^=,]] is spelled out for RE2.
var (
	oauthInitialRE = regexp.MustCompile("^n,(a=((?:[\x01-\x2B\x2D-\x3C\x3E-\x7F]|=2C|=3D)+))?,\x01((?:[A-Za-z]+=[\x21-\x7E \t\r\n]+\x01)*)\x01$")
	oauthAuthRE    = regexp.MustCompile(`^(\w+) +([-_~+/.a-zA-Z0-9]+=*)$`)
)

// oauthOptions are the unsecured validator's JAAS options
// (OAuthBearerUnsecuredValidatorCallbackHandler): the principal and scope
// claim names, a required scope, and the allowable clock skew.
type oauthOptions struct {
	principalClaim string
	scopeClaim     string
	requiredScope  []string
	clockSkew      time.Duration
}

func parseOAuthOptions(opts map[string]string) (oauthOptions, error) {
	o := oauthOptions{principalClaim: "sub", scopeClaim: "scope"}
	if v := strings.TrimSpace(opts["unsecuredValidatorPrincipalClaimName"]); v != "" {
		o.principalClaim = v
	}
	if v := strings.TrimSpace(opts["unsecuredValidatorScopeClaimName"]); v != "" {
		o.scopeClaim = v
	}
	for _, s := range strings.FieldsFunc(opts["unsecuredValidatorRequiredScope"], func(r rune) bool { return r == ',' || r == ' ' }) {
		o.requiredScope = append(o.requiredScope, s)
	}
	if v := strings.TrimSpace(opts["unsecuredValidatorAllowableClockSkewMs"]); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			return o, fmt.Errorf("unsecuredValidatorAllowableClockSkewMs must be a non-negative number of milliseconds")
		}
		o.clockSkew = time.Duration(ms) * time.Millisecond
	}
	return o, nil
}

// tokenValidator is Kafka's OAUTHBEARER server callback handler: the
// unsecured validator (oauthOptions) or the JWKS one (jwksValidator).
type tokenValidator interface {
	// validate returns the token's principal and expiry, or status
	// invalid_token (or insufficient_scope with the required scope) and
	// the reason, for the log; reason never includes the token.
	validate(tok string, now time.Time) (principal string, expires time.Time, status, scope, reason string)
}

// oauthServer is Kafka's OAuthBearerSaslServer: the client's initial
// response (RFC 7628) is checked by the listener's validator, Kafka's
// default one for unsecured JWTs (alg "none", no signature; for tests and
// development, as Kafka documents it) or the JWKS one (KIP-768). A
// refused token answers the RFC 7628 error JSON ({"status":"invalid_token"})
// as a challenge; the client's ^A reply then fails authentication with
// that JSON as the message.
type oauthServer struct {
	v        tokenValidator
	errJSON  string
	reason   string
	user     string
	expires  time.Time
	generic  string
	complete bool
}

func newOAuthServer(v tokenValidator, reauth bool) *oauthServer {
	what := "authentication"
	if reauth {
		what = "re-authentication"
	}
	return &oauthServer{v: v, generic: "Authentication failed during " + what + " due to invalid credentials with SASL mechanism OAUTHBEARER"}
}

func (o *oauthServer) Step(token []byte) ([]byte, bool, error) {
	if len(token) == 1 && token[0] == 0x01 && o.errJSON != "" {
		return nil, false, &authError{clientMsg: o.errJSON, detail: o.reason}
	}
	o.errJSON, o.reason = "", ""
	m := oauthInitialRE.FindSubmatch(token)
	if m == nil {
		return nil, false, &authError{clientMsg: o.generic}
	}
	authzid := string(m[2])
	var auth string
	found := false
	for _, kv := range strings.Split(strings.TrimSuffix(string(m[3]), "\x01"), "\x01") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k == "auth" {
			auth, found = v, true
		}
	}
	am := oauthAuthRE.FindStringSubmatch(auth)
	if !found || am == nil || !strings.EqualFold(am[1], "bearer") {
		return nil, false, &authError{clientMsg: o.generic}
	}
	principal, expires, status, scope, reason := o.v.validate(am[2], time.Now())
	if status != "" {
		o.reason = reason
		o.errJSON = `{"status":"` + status + `"`
		if scope != "" {
			o.errJSON += `, "scope":"` + scope + `"`
		}
		o.errJSON += "}"
		return []byte(o.errJSON), false, nil
	}
	if authzid != "" && authzid != principal {
		return nil, false, &authError{clientMsg: fmt.Sprintf("Authentication failed: Client requested an authorization id (%s) that is different from the token's principal name (%s)", authzid, principal)}
	}
	o.user, o.expires, o.complete = principal, expires, true
	return []byte{}, true, nil
}

func (o *oauthServer) User() string { return o.user }

// Expiry is the token's expiration: the session may not outlive it
// (SaslServerAuthenticator's credential lifetime).
func (o *oauthServer) Expiry() time.Time { return o.expires }

// validate checks an unsecured JWS as Kafka's OAuthBearerUnsecuredJws and
// OAuthBearerValidationUtils do. status is "" when valid, else
// invalid_token, or insufficient_scope with the required scope.
func (opts oauthOptions) validate(tok string, now time.Time) (principal string, expires time.Time, status, scope, reason string) {
	principal, expires, status, scope = opts.validateUnsecured(tok, now)
	if status != "" {
		reason = "unsecured token refused"
	}
	return principal, expires, status, scope, reason
}

func (opts oauthOptions) validateUnsecured(tok string, now time.Time) (principal string, expires time.Time, status, scope string) {
	const invalid = "invalid_token"
	if strings.Contains(tok, "..") {
		return "", time.Time{}, invalid, ""
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[2] != "" {
		return "", time.Time{}, invalid, ""
	}
	decode := func(s string) (map[string]any, bool) {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			return nil, false
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			return nil, false
		}
		return m, true
	}
	header, ok1 := decode(parts[0])
	claims, ok2 := decode(parts[1])
	if !ok1 || !ok2 || header["alg"] != "none" {
		return "", time.Time{}, invalid, ""
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		return "", time.Time{}, invalid, ""
	}
	sub, _ := claims[opts.principalClaim].(string)
	if strings.TrimSpace(sub) == "" {
		return "", time.Time{}, invalid, ""
	}
	nowMs := float64(now.UnixMilli())
	skew := float64(opts.clockSkew.Milliseconds())
	if iat, ok := claims["iat"]; ok {
		v, isNum := iat.(float64)
		if !isNum || 1000*v > nowMs+skew || exp <= v {
			return "", time.Time{}, invalid, ""
		}
	}
	if nowMs-skew >= 1000*exp {
		return "", time.Time{}, invalid, ""
	}
	if len(opts.requiredScope) > 0 {
		have := map[string]bool{}
		switch s := claims[opts.scopeClaim].(type) {
		case string:
			for _, x := range strings.Fields(s) {
				have[x] = true
			}
		case []any:
			for _, x := range s {
				if xs, ok := x.(string); ok {
					have[xs] = true
				}
			}
		}
		for _, r := range opts.requiredScope {
			if !have[r] {
				return "", time.Time{}, "insufficient_scope", "[" + strings.Join(opts.requiredScope, ", ") + "]"
			}
		}
	}
	return sub, time.UnixMilli(int64(1000 * exp)), "", ""
}
