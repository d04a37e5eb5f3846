package security

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// PrincipalMapper maps a client certificate's distinguished name to a
// principal name with ssl.principal.mapping.rules, as Kafka's
// SslPrincipalMapper does: a comma-separated list of DEFAULT (the DN as
// is) and RULE:pattern/replacement/[L|U] entries, tried in order; the
// first whose pattern matches the whole DN gives the name.
type PrincipalMapper struct {
	rules []mappingRule
}

type mappingRule struct {
	isDefault   bool
	re          *regexp.Regexp
	full        *regexp.Regexp // re anchored at both ends: Java's matches()
	replacement string         // Go template syntax (${1}), converted from Java's
	lower       bool
	upper       bool
}

// Kafka's own rule grammar (SslPrincipalMapper.RULE_PATTERN).
const rulePattern = `(DEFAULT)|RULE:((\\.|[^\\/])*)/((\\.|[^\\/])*)/([LU]?).*?|(.*?)`

var (
	ruleSplitter = regexp.MustCompile(`\s*(` + rulePattern + `)\s*(,\s*|$)`)
	ruleParser   = regexp.MustCompile(`^(?:` + rulePattern + `)`)
)

// ParsePrincipalMappingRules parses ssl.principal.mapping.rules. Empty
// means DEFAULT. Patterns are Go regular expressions (RE2): Java-only
// constructs such as look-arounds fail here with an error.
func ParsePrincipalMappingRules(s string) (*PrincipalMapper, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = "DEFAULT"
	}
	var parts []string
	for _, m := range ruleSplitter.FindAllStringSubmatch(s, -1) {
		parts = append(parts, m[1])
	}
	pm := &PrincipalMapper{}
	for _, rule := range parts {
		m := ruleParser.FindStringSubmatchIndex(rule)
		if m == nil {
			return nil, fmt.Errorf("invalid rule: %s", rule)
		}
		if m[1] != len(rule) {
			return nil, fmt.Errorf("invalid rule: `%s`, unmatched substring: `%s`", rule, rule[m[1]:])
		}
		group := func(i int) (string, bool) {
			if m[2*i] < 0 {
				return "", false
			}
			return rule[m[2*i]:m[2*i+1]], true
		}
		if _, ok := group(1); ok {
			pm.rules = append(pm.rules, mappingRule{isDefault: true})
			continue
		}
		pat, ok := group(2)
		if !ok {
			continue // empty rules are ignored
		}
		repl, _ := group(4)
		flag, _ := group(6)
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, fmt.Errorf("invalid rule pattern %q: %w", pat, err)
		}
		full, err := regexp.Compile(`^(?:` + pat + `)$`)
		if err != nil {
			return nil, fmt.Errorf("invalid rule pattern %q: %w", pat, err)
		}
		pm.rules = append(pm.rules, mappingRule{re: re, full: full, replacement: javaReplacement(repl, re.NumSubexp()),
			lower: flag == "L", upper: flag == "U"})
	}
	return pm, nil
}

// javaReplacement converts a java.util.regex replacement ($n group
// references, backslash escapes) to Go's Expand syntax. A reference to a
// group the pattern lacks is shortened digit by digit and, if still too
// large, kept literally, as Kafka's escapeLiteralBackReferences does.
func javaReplacement(r string, groups int) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '\\' && i+1 < len(r):
			i++
			if r[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(r[i])
			}
		case c == '$':
			j := i + 1
			for j < len(r) && r[j] >= '0' && r[j] <= '9' {
				j++
			}
			digits := r[i+1 : j]
			if digits == "" {
				b.WriteString("$$")
				continue
			}
			// Java reads as many digits as still name a group.
			k := 1
			for k < len(digits) {
				n, _ := strconv.Atoi(digits[:k+1])
				if n > groups {
					break
				}
				k++
			}
			n, _ := strconv.Atoi(digits[:k])
			if n > groups && !strings.HasPrefix(digits, "0") && groups > 0 {
				b.WriteString("$$" + digits)
			} else {
				b.WriteString("${" + digits[:k] + "}" + digits[k:])
			}
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Name maps a distinguished name to a principal name.
func (pm *PrincipalMapper) Name(dn string) (string, error) {
	for _, r := range pm.rules {
		if r.isDefault {
			return dn, nil
		}
		if !r.full.MatchString(dn) {
			continue
		}
		out := r.re.ReplaceAllString(dn, r.replacement)
		switch {
		case r.lower:
			out = strings.ToLower(out)
		case r.upper:
			out = strings.ToUpper(out)
		}
		return out, nil
	}
	return "", fmt.Errorf("no rules apply to %s", dn)
}

// SubjectDN renders a certificate's subject as Java's
// X500Principal.getName() does (RFC 2253): the RDNs from the last to the
// first, known attribute types by name (CN, OU, O, L, ST, C, STREET, DC,
// UID), others as dotted OIDs with a #hex DER value. Go's names differ
// from Java's for SERIALNUMBER and POSTALCODE, which Java prints as OIDs.
func SubjectDN(cert *x509.Certificate) string {
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil {
		return cert.Subject.String()
	}
	return rdns.String()
}
