package zkdata

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Security znodes of Kafka 3.9's ZooKeeper mode: SCRAM credentials and
// client quotas live in the config entities (/config/users,
// /config/clients, /config/ips; kafka.zk.ConfigEntityZNode), ACLs under
// /kafka-acl and /kafka-acl-extended (kafka.zk.ZkAclStore, written by
// kafka.security.authorizer.AclAuthorizer).
const (
	ConfigUsersPath   = "/config/users"
	ConfigClientsPath = "/config/clients"
	ConfigIPsPath     = "/config/ips"
	// DefaultEntity is the name of the <default> quota entity
	// (ZooKeeperInternals.DEFAULT_STRING).
	DefaultEntity = "<default>"

	LiteralACLPath         = "/kafka-acl"
	ExtendedACLPath        = "/kafka-acl-extended"
	LiteralACLChangesPath  = "/kafka-acl-changes"
	ExtendedACLChangesPath = "/kafka-acl-extended-changes"
	// ACLChangePrefix is the sequential change znodes' name prefix
	// (ZkAclChangeStore.SequenceNumberPrefix).
	ACLChangePrefix = "acl_changes_"
)

// Kafka's wire numbers of the resource types, pattern types, operations
// and permission types (org.apache.kafka.common.resource.ResourceType,
// PatternType, acl.AclOperation, acl.AclPermissionType).
const (
	patternLiteral  int8 = 3
	patternPrefixed int8 = 4
)

// resourceTypeEnum are ResourceType's Java enum names by wire number.
var resourceTypeEnum = []string{"UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"}

// operationEnum are AclOperation's Java enum names by wire number.
var operationEnum = []string{"UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
	"CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS"}

// permissionEnum are AclPermissionType's Java enum names by wire number.
var permissionEnum = []string{"UNKNOWN", "ANY", "DENY", "ALLOW"}

// pascalCase is SecurityUtils.toPascalCase: TRANSACTIONAL_ID becomes
// TransactionalId.
func pascalCase(enum string) string {
	var b strings.Builder
	up := true
	for _, c := range enum {
		switch {
		case c == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(c)))
			up = false
		default:
			b.WriteString(strings.ToLower(string(c)))
		}
	}
	return b.String()
}

// byName finds a name in enum the way SecurityUtils' NAME_TO_* maps do:
// the PascalCase name or its upper-case form. Only concrete values (not
// UNKNOWN, not ANY) are returned.
func byName(enum []string, name string) (int8, bool) {
	for i := 2; i < len(enum); i++ {
		if p := pascalCase(enum[i]); name == p || name == strings.ToUpper(p) {
			return int8(i), true
		}
	}
	return 0, false
}

func concrete(enum []string, v int8) bool { return v >= 2 && int(v) < len(enum) }

// ResourceTypeName is SecurityUtils.resourceTypeName, the name in ACL
// znode paths: "Topic", "Group", "Cluster", "TransactionalId",
// "DelegationToken", "User"; "" for a type that is not concrete.
func ResourceTypeName(rt int8) string {
	if !concrete(resourceTypeEnum, rt) {
		return ""
	}
	return pascalCase(resourceTypeEnum[rt])
}

// ResourceTypeByName parses a resource type path segment as
// SecurityUtils.resourceType does (PascalCase or upper case).
func ResourceTypeByName(name string) (int8, bool) { return byName(resourceTypeEnum, name) }

// ACLResource is a resource pattern as ACL znodes key it: Kafka's
// ResourcePattern with the wire numbers of its type and pattern type
// (only LITERAL 3 and PREFIXED 4 are stored).
type ACLResource struct {
	ResourceType int8
	PatternType  int8
	Name         string
}

// ACLResourcePath is ResourceZNode.path: /kafka-acl/<Type>/<name> for a
// literal pattern, /kafka-acl-extended/prefixed/<Type>/<name> for a
// prefixed one. The name is not escaped (Kafka does not escape it
// either), so a name ZooKeeper cannot hold is an error.
func ACLResourcePath(r ACLResource) (string, error) {
	rt := ResourceTypeName(r.ResourceType)
	if rt == "" {
		return "", fmt.Errorf("acl resource: resource type %d is not concrete", r.ResourceType)
	}
	if r.Name == "" || r.Name == "." || r.Name == ".." || strings.ContainsAny(r.Name, "/\x00") || !utf8.ValidString(r.Name) {
		return "", fmt.Errorf("acl resource: name %q cannot be a znode name", r.Name)
	}
	root, err := ACLRootPath(r.PatternType)
	if err != nil {
		return "", err
	}
	return root + "/" + rt + "/" + r.Name, nil
}

// ACLRootPath is the store of a pattern type (ZkAclStore.aclPath):
// /kafka-acl for LITERAL, /kafka-acl-extended/prefixed for PREFIXED.
func ACLRootPath(patternType int8) (string, error) {
	switch patternType {
	case patternLiteral:
		return LiteralACLPath, nil
	case patternPrefixed:
		return ExtendedACLPath + "/prefixed", nil
	}
	return "", fmt.Errorf("acl resource: pattern type %d is not stored", patternType)
}

// ACLPaths are the znodes AclAuthorizer creates when it starts
// (KafkaZkClient.createAclPaths): each store's root and one child per
// concrete resource type, and the two change paths.
func ACLPaths() []string {
	var out []string
	for _, pt := range []int8{patternLiteral, patternPrefixed} {
		root, _ := ACLRootPath(pt)
		out = append(out, root)
		for rt := int8(2); int(rt) < len(resourceTypeEnum); rt++ {
			out = append(out, root+"/"+ResourceTypeName(rt))
		}
	}
	return append(out, LiteralACLChangesPath, ExtendedACLChangesPath)
}

// ACLEntry is one access control entry of a resource znode (Kafka's
// AclEntry): principal "Type:name", host, and operation and permission
// as wire numbers.
type ACLEntry struct {
	Principal  string
	Host       string
	Operation  int8
	Permission int8
}

type aclEntryJSON struct {
	Principal      string `json:"principal"`
	PermissionType string `json:"permissionType"`
	Operation      string `json:"operation"`
	Host           string `json:"host"`
}

// EncodeACLs is ResourceZNode.encode (AclEntry.toJsonCompatibleMap):
// {"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow",
// "operation":"Read","host":"*"}]}, names in PascalCase
// (SecurityUtils.operationName, permissionTypeName).
func EncodeACLs(entries []ACLEntry) []byte {
	js := struct {
		Version int            `json:"version"`
		ACLs    []aclEntryJSON `json:"acls"`
	}{Version: 1, ACLs: make([]aclEntryJSON, 0, len(entries))}
	for _, e := range entries {
		js.ACLs = append(js.ACLs, aclEntryJSON{Principal: e.Principal, Host: e.Host,
			PermissionType: pascalCase(pick(permissionEnum, e.Permission)), Operation: pascalCase(pick(operationEnum, e.Operation))})
	}
	return marshal(js)
}

func pick(enum []string, v int8) string {
	if v < 0 || int(v) >= len(enum) {
		return enum[0]
	}
	return enum[v]
}

// DecodeACLs is AclEntry.fromBytes: an empty znode has no ACLs; otherwise
// "version" must be 1 and every entry must have a principal of the form
// type:name, a host, and a known concrete operation and permission type
// (PascalCase or upper case names).
func DecodeACLs(data []byte) ([]ACLEntry, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var js struct {
		Version *json.Number `json:"version"`
		ACLs    []struct {
			Principal      *string `json:"principal"`
			PermissionType *string `json:"permissionType"`
			Operation      *string `json:"operation"`
			Host           *string `json:"host"`
		} `json:"acls"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&js); err != nil {
		return nil, fmt.Errorf("acl znode: %w", err)
	}
	if js.Version == nil || js.Version.String() != "1" {
		return nil, errors.New("acl znode: version is not 1")
	}
	out := make([]ACLEntry, 0, len(js.ACLs))
	for i, a := range js.ACLs {
		if a.Principal == nil || a.PermissionType == nil || a.Operation == nil || a.Host == nil {
			return nil, fmt.Errorf("acl znode: entry %d lacks a field", i)
		}
		if !strings.Contains(*a.Principal, ":") {
			return nil, fmt.Errorf("acl znode: expected a string in format principalType:principalName but got %s", *a.Principal)
		}
		op, ok := byName(operationEnum, *a.Operation)
		if !ok {
			return nil, fmt.Errorf("acl znode: unknown operation %q", *a.Operation)
		}
		perm, ok := byName(permissionEnum, *a.PermissionType)
		if !ok {
			return nil, fmt.Errorf("acl znode: unknown permission type %q", *a.PermissionType)
		}
		out = append(out, ACLEntry{Principal: *a.Principal, Host: *a.Host, Operation: op, Permission: perm})
	}
	return out, nil
}

// EncodeACLChange is the data of an ACL change notification
// (ZkAclChangeStore.createChangeNode): for a literal resource the UTF-8
// text "<RESOURCE_TYPE>:<name>" under /kafka-acl-changes
// (LiteralAclChangeStore, the Java enum name, e.g. TOPIC:t), for any
// other the JSON {"version":1,"resourceType":"TOPIC","name":"t",
// "patternType":"PREFIXED"} under /kafka-acl-extended-changes
// (ExtendedAclChangeEvent). It returns the change path to create the
// sequential znode under.
func EncodeACLChange(r ACLResource) (changesPath string, data []byte) {
	rt := pick(resourceTypeEnum, r.ResourceType)
	if r.PatternType == patternLiteral {
		return LiteralACLChangesPath, []byte(rt + ":" + r.Name)
	}
	pt := "UNKNOWN"
	if r.PatternType == patternPrefixed {
		pt = "PREFIXED"
	}
	return ExtendedACLChangesPath, marshal(struct {
		Version      int    `json:"version"`
		ResourceType string `json:"resourceType"`
		Name         string `json:"name"`
		PatternType  string `json:"patternType"`
	}{1, rt, r.Name, pt})
}

// enumByName is ResourceType.fromString / PatternType.fromString: the
// Java enum name, case-insensitively.
func enumByName(enum []string, name string) (int8, bool) {
	for i := 2; i < len(enum); i++ {
		if strings.EqualFold(enum[i], name) {
			return int8(i), true
		}
	}
	return 0, false
}

// DecodeLiteralACLChange is LiteralAclChangeStore.decode: "TYPE:name".
func DecodeLiteralACLChange(data []byte) (ACLResource, error) {
	typ, name, ok := strings.Cut(string(data), ":")
	if !ok {
		return ACLResource{}, fmt.Errorf("acl change: expected a string in format ResourceType:ResourceName but got %q", data)
	}
	rt, ok := enumByName(resourceTypeEnum, typ)
	if !ok {
		return ACLResource{}, fmt.Errorf("acl change: unknown resource type %q", typ)
	}
	return ACLResource{ResourceType: rt, PatternType: patternLiteral, Name: name}, nil
}

// DecodeExtendedACLChange is ExtendedAclChangeStore.decode: version at
// most 1, a known resource type and pattern type.
func DecodeExtendedACLChange(data []byte) (ACLResource, error) {
	var js struct {
		Version      int     `json:"version"`
		ResourceType *string `json:"resourceType"`
		Name         *string `json:"name"`
		PatternType  *string `json:"patternType"`
	}
	if err := json.Unmarshal(data, &js); err != nil {
		return ACLResource{}, fmt.Errorf("acl change: %w", err)
	}
	if js.Version > 1 {
		return ACLResource{}, fmt.Errorf("acl change: unsupported version %d", js.Version)
	}
	if js.ResourceType == nil || js.Name == nil || js.PatternType == nil {
		return ACLResource{}, errors.New("acl change: missing fields")
	}
	rt, ok := enumByName(resourceTypeEnum, *js.ResourceType)
	if !ok {
		return ACLResource{}, fmt.Errorf("acl change: unknown resource type %q", *js.ResourceType)
	}
	var pt int8
	switch strings.ToUpper(*js.PatternType) {
	case "LITERAL":
		pt = patternLiteral
	case "PREFIXED":
		pt = patternPrefixed
	default:
		return ACLResource{}, fmt.Errorf("acl change: pattern type %q", *js.PatternType)
	}
	return ACLResource{ResourceType: rt, PatternType: pt, Name: *js.Name}, nil
}

// ---------------------------------------------------------------- entity names

// Sanitize is Kafka's Sanitizer.sanitize, how user, client id and IP
// entity names become znode names: Java's URLEncoder (letters, digits and
// ".-_*" kept, space as '+', every other UTF-8 byte as %XX upper-case),
// then '*' as %2A and '+' as %20.
func Sanitize(name string) string {
	var b strings.Builder
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// Desanitize is Sanitizer.desanitize (Java's URLDecoder): %XX is a byte,
// '+' a space; a malformed escape or bytes that are not UTF-8 are an
// error.
func Desanitize(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b.WriteByte(' ')
		case '%':
			if i+2 >= len(s) {
				return "", fmt.Errorf("entity name %q: incomplete escape", s)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("entity name %q: bad escape", s)
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	if !utf8.ValidString(b.String()) {
		return "", fmt.Errorf("entity name %q: not UTF-8", s)
	}
	return b.String(), nil
}

// ---------------------------------------------------------------- SCRAM

// ScramCredential is Kafka's ScramCredential as a user config entity
// stores it.
type ScramCredential struct {
	Salt, StoredKey, ServerKey []byte
	Iterations                 int32
}

// String is ScramCredentialUtils.credentialToString:
// "salt=<b64>,stored_key=<b64>,server_key=<b64>,iterations=<n>", standard
// base64 with padding; the value of the SCRAM-SHA-256 or SCRAM-SHA-512
// key of /config/users/<user>.
func (c ScramCredential) String() string {
	e := base64.StdEncoding
	return "salt=" + e.EncodeToString(c.Salt) + ",stored_key=" + e.EncodeToString(c.StoredKey) +
		",server_key=" + e.EncodeToString(c.ServerKey) + ",iterations=" + strconv.Itoa(int(c.Iterations))
}

// ParseScramCredential is ScramCredentialUtils.credentialFromString:
// comma-separated key=value tokens (a later key wins), exactly the four
// keys salt, stored_key, server_key and iterations, base64 values
// (padding optional, as Java's decoder) and a decimal iteration count,
// which must also be positive here.
func ParseScramCredential(s string) (ScramCredential, error) {
	props := map[string]string{}
	for _, tok := range strings.Split(s, ",") {
		i := strings.IndexByte(tok, '=')
		if i <= 0 {
			return ScramCredential{}, errors.New("scram credential: credentials not valid")
		}
		props[tok[:i]] = tok[i+1:]
	}
	if len(props) != 4 {
		return ScramCredential{}, errors.New("scram credential: credentials not valid")
	}
	var c ScramCredential
	for _, f := range []struct {
		key string
		dst *[]byte
	}{{"salt", &c.Salt}, {"stored_key", &c.StoredKey}, {"server_key", &c.ServerKey}} {
		v, ok := props[f.key]
		if !ok {
			return ScramCredential{}, fmt.Errorf("scram credential: no %s", f.key)
		}
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(v); err != nil {
				return ScramCredential{}, fmt.Errorf("scram credential: %s: %w", f.key, err)
			}
		}
		*f.dst = b
	}
	it, ok := props["iterations"]
	if !ok {
		return ScramCredential{}, errors.New("scram credential: no iterations")
	}
	n, err := strconv.ParseInt(it, 10, 32)
	if err != nil || n <= 0 {
		return ScramCredential{}, fmt.Errorf("scram credential: iterations %q", it)
	}
	c.Iterations = int32(n)
	return c, nil
}

// ---------------------------------------------------------------- quota values

// FormatQuotaValue is the text ZkAdminManager.alterClientQuotas stores
// for a quota: a LONG or INT key (producer_byte_rate, consumer_byte_rate,
// connection_creation_rate) as a decimal integer, a DOUBLE key
// (request_percentage, controller_mutation_rate and any other) as Java's
// Double.toString ("200.0", "1.0E7", "1.0E-4").
func FormatQuotaValue(key string, v float64) string {
	switch key {
	case "producer_byte_rate", "consumer_byte_rate", "connection_creation_rate":
		if v >= -math.MaxInt64 && v <= math.MaxInt64 {
			return strconv.FormatInt(int64(v+1e-6), 10)
		}
	}
	return JavaDouble(v)
}

// JavaDouble is Java's Double.toString: the shortest digits that read
// back as v, plain with at least one fractional digit for
// 1e-3 <= |v| < 1e7, otherwise d.dddE<exp>.
func JavaDouble(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	case v == 0:
		if math.Signbit(v) {
			return "-0.0"
		}
		return "0.0"
	}
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	e := strconv.FormatFloat(v, 'e', -1, 64) // d.ddde±XX
	mant, expS, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expS)
	digits := strings.Replace(mant, ".", "", 1)
	if v >= 1e-3 && v < 1e7 {
		var intPart, frac string
		if exp >= 0 {
			for len(digits) < exp+1 {
				digits += "0"
			}
			intPart, frac = digits[:exp+1], digits[exp+1:]
		} else {
			intPart, frac = "0", strings.Repeat("0", -exp-1)+digits
		}
		if frac == "" {
			frac = "0"
		}
		return sign + intPart + "." + frac
	}
	frac := digits[1:]
	if frac == "" {
		frac = "0"
	}
	return sign + digits[:1] + "." + frac + "E" + strconv.Itoa(exp)
}

// ParseQuotaValue reads a stored quota as Kafka's broker does
// (String.toDouble, surrounding white space ignored).
func ParseQuotaValue(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("quota value %q: %w", s, err)
	}
	return v, nil
}

// marshal is json.Marshal without HTML escaping: Kafka's Jackson writes
// "<default>" as is.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
