package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"unicode/utf16"
	"unicode/utf8"
)

// Property is one key/value pair of a .properties file, with the 1-based
// line on which its logical line starts (for messages that point the
// operator at the file).
type Property struct {
	Key   string
	Value string
	Line  int
}

// ReadPropertiesFile reads and parses a .properties file; see
// ParseProperties.
func ReadPropertiesFile(path string) ([]Property, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	props, err := ParseProperties(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return props, nil
}

// ParseProperties parses data with the rules of java.util.Properties.load,
// which is how Kafka reads server.properties, so that any file Kafka
// accepts means the same thing to Samsa:
//
//   - lines end with \n, \r or \r\n; whitespace is space, tab and form feed;
//   - a line whose first non-whitespace character is '#' or '!' is a
//     comment, and blank lines are skipped;
//   - the key ends at the first unescaped '=', ':' or whitespace; whitespace
//     around the separator, and one '=' or ':' after whitespace, are
//     skipped, so "k=v", "k: v", "k v" and "k = v" are all the same;
//   - a line ending in an odd number of backslashes continues on the next
//     line, whose leading whitespace is dropped;
//   - \t \n \r \f and \uXXXX are escapes; a backslash before any other
//     character stands for that character (so "\=" or "\ " can be part of
//     a key).
//
// Entries are returned in file order; a key may appear more than once,
// and as with Properties the last one wins. The only error is a malformed
// \uXXXX escape. Where Samsa differs from Java: data that is valid UTF-8
// is read as UTF-8 (Java reads ISO-8859-1, which only matters for
// non-ASCII text, and mangles it), other data is read as ISO-8859-1 like
// Java; and a leading UTF-8 byte-order mark is ignored.
func ParseProperties(data []byte) ([]Property, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var in []rune
	if utf8.Valid(data) {
		in = []rune(string(data))
	} else {
		in = make([]rune, len(data))
		for i, b := range data {
			in[i] = rune(b)
		}
	}
	lr := newLineReader(in)
	var out []Property
	for {
		line, start, ok := lr.readLine()
		if !ok {
			return out, nil
		}
		key, value, err := splitEntry(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		out = append(out, Property{Key: key, Value: value, Line: start})
	}
}

// lineReader splits input into logical lines, a port of the state machine
// in java.util.Properties.LineReader: comments and blank lines dropped,
// continuations joined, escapes left in place for splitEntry.
type lineReader struct {
	in         []rune
	off        int
	lineStarts []int // offset at which each natural line starts
	buf        []rune
}

func newLineReader(in []rune) *lineReader {
	starts := []int{0}
	for i, c := range in {
		if c == '\n' || (c == '\r' && (i+1 >= len(in) || in[i+1] != '\n')) {
			starts = append(starts, i+1)
		}
	}
	return &lineReader{in: in, lineStarts: starts}
}

// lineOf returns the 1-based natural line containing offset pos.
func (lr *lineReader) lineOf(pos int) int {
	return sort.Search(len(lr.lineStarts), func(i int) bool { return lr.lineStarts[i] > pos })
}

func isPropSpace(c rune) bool { return c == ' ' || c == '\t' || c == '\f' }

// readLine returns the next logical line (escapes still in it) and the
// line it starts on; ok is false at the end of the input.
func (lr *lineReader) readLine() (line []rune, start int, ok bool) {
	lr.buf = lr.buf[:0]
	skipSpace := true
	appendedLineBegin := false // just joined a continuation line
	backslash := false         // odd number of backslashes so far
	for {
		if lr.off >= len(lr.in) {
			if len(lr.buf) == 0 {
				return nil, 0, false
			}
			if backslash {
				lr.buf = lr.buf[:len(lr.buf)-1]
			}
			return lr.buf, start, true
		}
		c := lr.in[lr.off]
		lr.off++
		if skipSpace {
			if isPropSpace(c) {
				continue
			}
			if !appendedLineBegin && (c == '\r' || c == '\n') {
				continue
			}
			skipSpace = false
			appendedLineBegin = false
		}
		if len(lr.buf) == 0 && (c == '#' || c == '!') {
			for lr.off < len(lr.in) {
				c = lr.in[lr.off]
				lr.off++
				if c == '\r' || c == '\n' {
					break
				}
			}
			skipSpace = true
			continue
		}
		if c != '\n' && c != '\r' {
			if len(lr.buf) == 0 {
				start = lr.lineOf(lr.off - 1)
			}
			lr.buf = append(lr.buf, c)
			backslash = c == '\\' && !backslash
			continue
		}
		// End of a natural line.
		if len(lr.buf) == 0 {
			skipSpace = true
			continue
		}
		if lr.off >= len(lr.in) || !backslash {
			if backslash {
				lr.buf = lr.buf[:len(lr.buf)-1]
			}
			return lr.buf, start, true
		}
		// Continuation: drop the backslash, join the next line.
		lr.buf = lr.buf[:len(lr.buf)-1]
		skipSpace = true
		appendedLineBegin = true
		backslash = false
		if c == '\r' && lr.in[lr.off] == '\n' {
			lr.off++
		}
	}
}

// splitEntry splits a logical line into key and value and resolves their
// escapes, as Properties.load0 does.
func splitEntry(line []rune) (key, value string, err error) {
	limit := len(line)
	keyLen, valueStart := 0, limit
	hasSep, backslash := false, false
	for keyLen < limit {
		c := line[keyLen]
		if (c == '=' || c == ':') && !backslash {
			valueStart, hasSep = keyLen+1, true
			break
		}
		if isPropSpace(c) && !backslash {
			valueStart = keyLen + 1
			break
		}
		backslash = c == '\\' && !backslash
		keyLen++
	}
	for valueStart < limit {
		c := line[valueStart]
		if !isPropSpace(c) {
			if !hasSep && (c == '=' || c == ':') {
				hasSep = true
			} else {
				break
			}
		}
		valueStart++
	}
	if key, err = unescape(line[:keyLen]); err != nil {
		return "", "", err
	}
	if value, err = unescape(line[valueStart:]); err != nil {
		return "", "", err
	}
	return key, value, nil
}

var errBadUnicodeEscape = errors.New(`malformed \uxxxx escape`)

// unescape resolves backslash escapes (Properties.loadConvert). \uXXXX
// yields a UTF-16 code unit, as in Java, so a surrogate pair written as two
// escapes becomes one character; a lone surrogate becomes U+FFFD.
func unescape(in []rune) (string, error) {
	if !slices.Contains(in, '\\') {
		return string(in), nil
	}
	units := make([]uint16, 0, len(in))
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' {
			units = utf16.AppendRune(units, c)
			continue
		}
		i++
		if i >= len(in) { // cannot happen after readLine; kept for safety
			break
		}
		c = in[i]
		switch c {
		case 'u':
			if i+4 >= len(in) {
				return "", errBadUnicodeEscape
			}
			var v uint16
			for _, h := range in[i+1 : i+5] {
				d, ok := hexDigit(h)
				if !ok {
					return "", errBadUnicodeEscape
				}
				v = v<<4 | d
			}
			units = append(units, v)
			i += 4
		case 't':
			units = append(units, '\t')
		case 'r':
			units = append(units, '\r')
		case 'n':
			units = append(units, '\n')
		case 'f':
			units = append(units, '\f')
		default:
			units = utf16.AppendRune(units, c)
		}
	}
	return string(utf16.Decode(units)), nil
}

func hexDigit(r rune) (uint16, bool) {
	switch {
	case r >= '0' && r <= '9':
		return uint16(r - '0'), true
	case r >= 'a' && r <= 'f':
		return uint16(r-'a') + 10, true
	case r >= 'A' && r <= 'F':
		return uint16(r-'A') + 10, true
	}
	return 0, false
}
