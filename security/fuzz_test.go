package security

import (
	"strings"
	"testing"
)

// FuzzParseJAAS: any JAAS line parses or fails with an error, and an
// error never repeats an option value (a password).
func FuzzParseJAAS(f *testing.F) {
	f.Add(`org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="pw";`)
	f.Add(`a required k='v\n\101' /* c */ k2=w // x` + "\n;")
	f.Add("a b; c d e=;")
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := ParseJAAS(s)
		if err == nil && len(entries) == 0 {
			t.Fatal("no entries and no error")
		}
		for _, e := range entries {
			if e.LoginModule == "" && !strings.Contains(s, `""`) && !strings.Contains(s, `''`) {
				t.Fatalf("empty login module from %q", s)
			}
		}
	})
}

// FuzzParsePlain: any SASL/PLAIN message parses into three tokens with a
// user and a password, or fails with one of Kafka's messages.
func FuzzParsePlain(f *testing.F) {
	f.Add([]byte("\x00alice\x00pw"))
	f.Add([]byte("a\x00b"))
	f.Add([]byte("\xff\x00\xfe\x00\xfd"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParsePlain(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "Invalid SASL/PLAIN response") && !strings.HasPrefix(err.Error(), "Authentication failed") {
				t.Fatalf("unexpected error %q", err)
			}
			return
		}
		if m.User == "" || m.Password == "" {
			t.Fatalf("empty user or password accepted: %+v", m)
		}
	})
}

// FuzzPrincipalMappingRules: any rule string parses or fails, and a parsed
// mapper maps any DN without panicking.
func FuzzPrincipalMappingRules(f *testing.F) {
	f.Add("RULE:^CN=(.*?),OU=(.*?)$/$1@$2/L,DEFAULT", "CN=a,OU=b")
	f.Add(`RULE:^(.*)$/\$$1$9/U`, "CN=x")
	f.Add(",,DEFAULT,", "")
	f.Fuzz(func(t *testing.T, rules, dn string) {
		pm, err := ParsePrincipalMappingRules(rules)
		if err != nil {
			return
		}
		_, _ = pm.Name(dn)
	})
}
