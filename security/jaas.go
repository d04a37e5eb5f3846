package security

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// JAASEntry is one login module of a JAAS configuration line such as
// sasl.jaas.config:
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="pw";
type JAASEntry struct {
	LoginModule string
	// Flag is REQUIRED, REQUISITE, SUFFICIENT or OPTIONAL (upper case).
	Flag    string
	Options map[string]string
}

// ParseJAAS parses a JAAS configuration value as Kafka's JaasConfig does:
// "<loginModuleClass> <controlFlag> (<optionName>=<optionValue>)*;", one
// or more entries, tokenized like java.io.StreamTokenizer with Kafka's
// settings ("//" and "/* */" comments, '-', '_' and '$' as word
// characters, single- or double-quoted values with Java escapes). Errors
// carry Kafka's messages and never the option values, which are secrets.
//
// One difference: Java's tokenizer turns an unquoted token that starts
// with a digit or '.' into a number without text; Kafka then fails with
// "Value not specified for key" for such a value and stores a null key
// for such a key. Samsa fails in both cases.
func ParseJAAS(s string) ([]JAASEntry, error) {
	t := jaasTokenizer{s: s}
	var out []JAASEntry
	for {
		tok := t.next()
		if tok.kind == tokEOF {
			break
		}
		e, err := t.entry(tok)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("login module not specified in JAAS config")
	}
	return out, nil
}

func (t *jaasTokenizer) entry(first jaasToken) (JAASEntry, error) {
	if first.kind != tokWord && first.kind != tokQuoted {
		return JAASEntry{}, fmt.Errorf("login module class not specified in JAAS config")
	}
	e := JAASEntry{LoginModule: first.text, Options: map[string]string{}}
	flag := t.next()
	if flag.kind == tokEOF {
		return JAASEntry{}, fmt.Errorf("login module control flag not specified in JAAS config")
	}
	if flag.kind != tokWord && flag.kind != tokQuoted {
		return JAASEntry{}, fmt.Errorf("login module control flag is not available in the JAAS config")
	}
	switch f := strings.ToUpper(flag.text); f {
	case "REQUIRED", "REQUISITE", "SUFFICIENT", "OPTIONAL":
		e.Flag = f
	default:
		return JAASEntry{}, fmt.Errorf("invalid login module control flag '%s' in JAAS config", flag.text)
	}
	for {
		key := t.next()
		if key.kind == tokEOF || key.kind == tokChar && key.char == ';' {
			if key.kind == tokEOF {
				return JAASEntry{}, fmt.Errorf("JAAS config entry not terminated by semi-colon")
			}
			return e, nil
		}
		if key.kind != tokWord && key.kind != tokQuoted {
			return JAASEntry{}, fmt.Errorf("unexpected token in JAAS config options of %s", e.LoginModule)
		}
		eq := t.next()
		if eq.kind != tokChar || eq.char != '=' {
			return JAASEntry{}, fmt.Errorf("value not specified for key '%s' in JAAS config", key.text)
		}
		val := t.next()
		if val.kind != tokWord && val.kind != tokQuoted {
			return JAASEntry{}, fmt.Errorf("value not specified for key '%s' in JAAS config", key.text)
		}
		e.Options[key.text] = val.text
	}
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokQuoted
	tokNumber
	tokChar
)

type jaasToken struct {
	kind tokKind
	text string
	char rune
}

type jaasTokenizer struct {
	s string
	i int
}

func isJAASWordStart(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 160 || c == '-' || c == '_' || c == '$'
}

func isJAASWordPart(c rune) bool {
	return isJAASWordStart(c) || c >= '0' && c <= '9' || c == '.'
}

func (t *jaasTokenizer) peek() (rune, int) {
	if t.i >= len(t.s) {
		return -1, 0
	}
	r := rune(t.s[t.i])
	if r < 0x80 {
		return r, 1
	}
	// Invalid UTF-8 is one U+FFFD per byte, as Java's decoder reads it.
	return utf8.DecodeRuneInString(t.s[t.i:])
}

func (t *jaasTokenizer) next() jaasToken {
	for {
		c, n := t.peek()
		switch {
		case c < 0:
			return jaasToken{kind: tokEOF}
		case c <= ' ':
			t.i += n
		case c == '/':
			rest := t.s[t.i:]
			if strings.HasPrefix(rest, "/*") {
				end := strings.Index(rest[2:], "*/")
				if end < 0 {
					t.i = len(t.s)
				} else {
					t.i += 2 + end + 2
				}
				continue
			}
			// "//" and, '/' being Java's default comment character, a
			// lone '/' both comment out the rest of the line.
			end := strings.IndexAny(rest, "\r\n")
			if end < 0 {
				t.i = len(t.s)
			} else {
				t.i += end
			}
		case isJAASWordStart(c):
			start := t.i
			for {
				c, n := t.peek()
				if c < 0 || !isJAASWordPart(c) {
					break
				}
				t.i += n
			}
			return jaasToken{kind: tokWord, text: t.s[start:t.i]}
		case c >= '0' && c <= '9' || c == '.':
			seenDot := false
			for {
				c, n := t.peek()
				if c == '.' && !seenDot {
					seenDot = true
				} else if c < '0' || c > '9' {
					break
				}
				t.i += n
			}
			return jaasToken{kind: tokNumber}
		case c == '"' || c == '\'':
			t.i += n
			return jaasToken{kind: tokQuoted, text: t.quoted(c)}
		default:
			t.i += n
			return jaasToken{kind: tokChar, char: c}
		}
	}
}

// quoted reads a quoted string up to the closing quote, a line end or the
// end of input, with java.io.StreamTokenizer's escapes.
func (t *jaasTokenizer) quoted(q rune) string {
	var b strings.Builder
	for {
		c, n := t.peek()
		if c < 0 || c == '\n' || c == '\r' {
			return b.String()
		}
		t.i += n
		if c == q {
			return b.String()
		}
		if c != '\\' {
			b.WriteRune(c)
			continue
		}
		e, n := t.peek()
		if e < 0 {
			return b.String()
		}
		t.i += n
		switch e {
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		default:
			if e >= '0' && e <= '7' {
				v := e - '0'
				max := 2
				if e > '3' {
					max = 1
				}
				for k := 0; k < max; k++ {
					d, n := t.peek()
					if d < '0' || d > '7' {
						break
					}
					v = v*8 + d - '0'
					t.i += n
				}
				b.WriteRune(v)
			} else {
				b.WriteRune(e)
			}
		}
	}
}
