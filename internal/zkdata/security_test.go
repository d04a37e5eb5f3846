package zkdata

import (
	"bytes"
	"reflect"
	"testing"
)

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"alice":        "alice",
		"a b*c+~@/é":   "a%20b%2Ac%2B%7E%40%2F%C3%A9",
		"User.x-y_z09": "User.x-y_z09",
		"::1":          "%3A%3A1",
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
		if back, err := Desanitize(want); err != nil || back != in {
			t.Errorf("Desanitize(%q) = %q, %v", want, back, err)
		}
	}
	if got, err := Desanitize("a+b"); err != nil || got != "a b" {
		t.Errorf("Desanitize(a+b) = %q, %v", got, err)
	}
	for _, bad := range []string{"%", "%4", "%zz", "%FF"} {
		if _, err := Desanitize(bad); err == nil {
			t.Errorf("Desanitize(%q) succeeded", bad)
		}
	}
}

func TestScramCredentialString(t *testing.T) {
	c := ScramCredential{Salt: []byte{1, 2, 3, 4}, StoredKey: []byte("stored-key-bytes"), ServerKey: []byte{0xff, 0xfe}, Iterations: 4096}
	const want = "salt=AQIDBA==,stored_key=c3RvcmVkLWtleS1ieXRlcw==,server_key=//4=,iterations=4096"
	if got := c.String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	back, err := ParseScramCredential(want)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("parse: %+v, %v", back, err)
	}
	// Java's decoder does not require padding; order does not matter.
	if back, err := ParseScramCredential("iterations=4096,server_key=//4,stored_key=c3RvcmVkLWtleS1ieXRlcw,salt=AQIDBA"); err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("unpadded: %+v, %v", back, err)
	}
	for _, bad := range []string{"", "salt=AQ==", "salt=AQ==,stored_key=AQ==,server_key=AQ==,iterations=x",
		"salt=AQ==,stored_key=AQ==,server_key=AQ==,iterations=1,extra=1", "=x,salt=AQ==,stored_key=AQ==,server_key=AQ==",
		"salt=!!,stored_key=AQ==,server_key=AQ==,iterations=1", "salt=AQ==,stored_key=AQ==,server_key=AQ==,iterations=0"} {
		if _, err := ParseScramCredential(bad); err == nil {
			t.Errorf("ParseScramCredential(%q) succeeded", bad)
		}
	}
}

func TestACLsFormat(t *testing.T) {
	entries := []ACLEntry{{Principal: "User:alice", Host: "*", Operation: 3, Permission: 3},
		{Principal: "User:bob", Host: "10.0.0.1", Operation: 12, Permission: 2}}
	const want = `{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow","operation":"Read","host":"*"},` +
		`{"principal":"User:bob","permissionType":"Deny","operation":"IdempotentWrite","host":"10.0.0.1"}]}`
	if got := EncodeACLs(entries); string(got) != want {
		t.Fatalf("EncodeACLs = %s\nwant          %s", got, want)
	}
	if back, err := DecodeACLs([]byte(want)); err != nil || !reflect.DeepEqual(back, entries) {
		t.Fatalf("DecodeACLs: %+v, %v", back, err)
	}
	// ZkData's own example, with the upper-cased PascalCase names
	// SecurityUtils also accepts.
	kafka := `{"version": 1, "acls": [ { "host":"host1", "permissionType": "DENY","operation": "DESCRIBECONFIGS","principal": "User:alice"}]}`
	got, err := DecodeACLs([]byte(kafka))
	if err != nil || len(got) != 1 || got[0] != (ACLEntry{Principal: "User:alice", Host: "host1", Operation: 10, Permission: 2}) {
		t.Fatalf("DecodeACLs(kafka example) = %+v, %v", got, err)
	}
	for _, bad := range []string{`{"version":2,"acls":[]}`, `{"acls":[]}`, `{"version":1,"acls":[{"principal":"alice","permissionType":"Allow","operation":"Read","host":"*"}]}`,
		`{"version":1,"acls":[{"principal":"User:a","permissionType":"Any","operation":"Read","host":"*"}]}`,
		`{"version":1,"acls":[{"principal":"User:a","permissionType":"Allow","operation":"Unknown","host":"*"}]}`,
		`{"version":1,"acls":[{"principal":"User:a","permissionType":"Allow","operation":"Read"}]}`, `[1]`,
		// SecurityUtils knows DescribeConfigs and DESCRIBECONFIGS, not the enum name.
		`{"version":1,"acls":[{"principal":"User:a","permissionType":"Allow","operation":"DESCRIBE_CONFIGS","host":"*"}]}`} {
		if _, err := DecodeACLs([]byte(bad)); err == nil {
			t.Errorf("DecodeACLs(%s) succeeded", bad)
		}
	}
	for rt, name := range map[int8]string{2: "Topic", 3: "Group", 4: "Cluster", 5: "TransactionalId", 6: "DelegationToken", 7: "User"} {
		if got := ResourceTypeName(rt); got != name {
			t.Errorf("ResourceTypeName(%d) = %q", rt, got)
		}
		if back, ok := ResourceTypeByName(name); !ok || back != rt {
			t.Errorf("ResourceTypeByName(%q) = %d", name, back)
		}
	}
}

func TestACLPathsAndChanges(t *testing.T) {
	lit := ACLResource{ResourceType: 2, PatternType: 3, Name: "orders"}
	pre := ACLResource{ResourceType: 5, PatternType: 4, Name: "tx-"}
	if p, err := ACLResourcePath(lit); err != nil || p != "/kafka-acl/Topic/orders" {
		t.Fatalf("literal path %q, %v", p, err)
	}
	if p, err := ACLResourcePath(pre); err != nil || p != "/kafka-acl-extended/prefixed/TransactionalId/tx-" {
		t.Fatalf("prefixed path %q, %v", p, err)
	}
	if _, err := ACLResourcePath(ACLResource{ResourceType: 3, PatternType: 3, Name: "a/b"}); err == nil {
		t.Fatal("a name with '/' got a path")
	}
	path, data := EncodeACLChange(lit)
	if path != "/kafka-acl-changes" || string(data) != "TOPIC:orders" {
		t.Fatalf("literal change %s %s", path, data)
	}
	if back, err := DecodeLiteralACLChange(data); err != nil || back != lit {
		t.Fatalf("literal change back %+v %v", back, err)
	}
	path, data = EncodeACLChange(pre)
	const want = `{"version":1,"resourceType":"TRANSACTIONAL_ID","name":"tx-","patternType":"PREFIXED"}`
	if path != "/kafka-acl-extended-changes" || string(data) != want {
		t.Fatalf("extended change %s %s", path, data)
	}
	if back, err := DecodeExtendedACLChange(data); err != nil || back != pre {
		t.Fatalf("extended change back %+v %v", back, err)
	}
	if back, err := DecodeLiteralACLChange([]byte("Group:a:b")); err != nil || back.Name != "a:b" || back.ResourceType != 3 {
		t.Fatalf("name with ':' %+v %v", back, err)
	}
}

func TestJavaDouble(t *testing.T) {
	for v, want := range map[float64]string{200: "200.0", 1e7: "1.0E7", 0.001: "0.001", 1e-4: "1.0E-4",
		12345678.9: "1.23456789E7", 0.5: "0.5", 100.25: "100.25", 9999999: "9999999.0", 1.5e300: "1.5E300", -2: "-2.0"} {
		if got := JavaDouble(v); got != want {
			t.Errorf("JavaDouble(%v) = %q, want %q", v, got, want)
		}
	}
	if got := FormatQuotaValue("producer_byte_rate", 1048576); got != "1048576" {
		t.Errorf("producer_byte_rate = %q", got)
	}
	if got := FormatQuotaValue("request_percentage", 50); got != "50.0" {
		t.Errorf("request_percentage = %q", got)
	}
	if v, err := ParseQuotaValue(" 1.0E7 "); err != nil || v != 1e7 {
		t.Errorf("ParseQuotaValue = %v, %v", v, err)
	}
}

func TestConfigChangeNoHTMLEscape(t *testing.T) {
	if got := EncodeConfigChange("users/<default>/clients/c"); !bytes.Equal(got, []byte(`{"version":2,"entity_path":"users/<default>/clients/c"}`)) {
		t.Fatalf("EncodeConfigChange = %s", got)
	}
}

// FuzzDecodeSecurity feeds arbitrary bytes to the security znode decoders:
// none may panic, and whatever decodes must encode and decode to the same.
func FuzzDecodeSecurity(f *testing.F) {
	f.Add([]byte(`{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow","operation":"Read","host":"*"}]}`))
	f.Add([]byte(`{"version":1,"resourceType":"TOPIC","name":"t","patternType":"PREFIXED"}`))
	f.Add([]byte(`TOPIC:orders`))
	f.Add([]byte(`salt=AQIDBA==,stored_key=AQ==,server_key=//4=,iterations=4096`))
	f.Add([]byte(`a%20b%2A`))
	f.Add([]byte(`1.0E7`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if es, err := DecodeACLs(data); err == nil {
			if again, err := DecodeACLs(EncodeACLs(es)); err != nil || len(again) != len(es) || len(es) > 0 && !reflect.DeepEqual(again, es) {
				t.Fatalf("acls round trip: %+v -> %+v, %v", es, again, err)
			}
		}
		if r, err := DecodeLiteralACLChange(data); err == nil {
			if _, enc := EncodeACLChange(r); true {
				if again, err := DecodeLiteralACLChange(enc); err != nil || again != r {
					t.Fatalf("literal change round trip: %+v -> %+v, %v", r, again, err)
				}
			}
		}
		if r, err := DecodeExtendedACLChange(data); err == nil && r.PatternType == 4 {
			_, enc := EncodeACLChange(r)
			if again, err := DecodeExtendedACLChange(enc); err != nil || again != r {
				t.Fatalf("extended change round trip: %+v -> %+v, %v", r, again, err)
			}
		}
		if c, err := ParseScramCredential(string(data)); err == nil {
			if again, err := ParseScramCredential(c.String()); err != nil || !reflect.DeepEqual(normScram(again), normScram(c)) {
				t.Fatalf("scram round trip: %+v -> %+v, %v", c, again, err)
			}
		}
		if s, err := Desanitize(string(data)); err == nil {
			if again, err := Desanitize(Sanitize(s)); err != nil || again != s {
				t.Fatalf("sanitize round trip: %q -> %q, %v", s, again, err)
			}
		}
		if v, err := ParseQuotaValue(string(data)); err == nil {
			if again, err := ParseQuotaValue(JavaDouble(v)); err != nil || again != v && v == v {
				t.Fatalf("quota value round trip: %v -> %v, %v", v, again, err)
			}
		}
	})
}

func normScram(c ScramCredential) ScramCredential {
	for _, b := range []*[]byte{&c.Salt, &c.StoredKey, &c.ServerKey} {
		if len(*b) == 0 {
			*b = nil
		}
	}
	return c
}
