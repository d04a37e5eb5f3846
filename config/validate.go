package config

import (
	"errors"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// validator checks one value the way Kafka's ConfigDef does: parse it as
// the declared type (after trimming, as ConfigDef.parseType trims), then
// apply the declared range or set of allowed values. A value that passes
// is returned in the form Kafka prints the parsed value in DescribeConfigs
// (ConfigDef.convertToString), e.g. " TRUE" becomes "true" and "+5"
// becomes "5".
type validator struct {
	typ ConfigType

	// Integer bounds (INT, SHORT, LONG), inclusive, applied when bounded.
	bounded bool
	lo, hi  int64
	also    []int64 // further allowed values outside [lo, hi] (gzip's -1)

	// DOUBLE bounds, inclusive, used when fbounded.
	fbounded bool
	flo, fhi float64

	// oneOf lists the allowed values of a STRING, or of every element of
	// a LIST; case-sensitive, as in Kafka's ValidString and ValidList.
	oneOf []string

	// element, if set, must match every element of a LIST.
	element *regexp.Regexp
	// star allows a LIST to be exactly "*" (throttled replica lists).
	star bool

	// valid is Kafka's human-readable rendering of the constraint, as
	// shown in the "Valid Values" column of Kafka's configuration docs;
	// "" when any value of the type is accepted.
	valid string
}

func boolean() validator { return validator{typ: TypeBoolean} }
func str() validator     { return validator{typ: TypeString} }
func long() validator    { return validator{typ: TypeLong} }
func integer() validator { return validator{typ: TypeInt} }
func strIn(vals ...string) validator {
	return validator{typ: TypeString, oneOf: vals, valid: "[" + strings.Join(vals, ", ") + "]"}
}
func listIn(vals ...string) validator {
	return validator{typ: TypeList, oneOf: vals, valid: "[" + strings.Join(vals, ", ") + "]"}
}

// atLeast and between mirror ConfigDef.Range.atLeast / between, and
// render the constraint the same way Kafka does ("[1,...]", "[1,...,17]").
func intAtLeast(lo int64) validator  { return rangeOf(TypeInt, lo, math.MaxInt32, false) }
func longAtLeast(lo int64) validator { return rangeOf(TypeLong, lo, math.MaxInt64, false) }
func intBetween(lo, hi int64) validator {
	return rangeOf(TypeInt, lo, hi, true)
}

func rangeOf(t ConfigType, lo, hi int64, showHi bool) validator {
	v := validator{typ: t, bounded: true, lo: lo, hi: hi}
	if showHi {
		v.valid = "[" + i64(lo) + ",...," + i64(hi) + "]"
	} else {
		v.valid = "[" + i64(lo) + ",...]"
	}
	return v
}

// rangeReason says what an out-of-range value should have been.
func (v validator) rangeReason() string {
	var r string
	switch {
	case v.fbounded:
		r = "must be between " + fmtFloat(v.flo) + " and " + fmtFloat(v.fhi)
	case v.hi == math.MaxInt64 || (v.typ == TypeInt && v.hi == math.MaxInt32):
		r = "must be at least " + i64(v.lo)
	default:
		r = "must be between " + i64(v.lo) + " and " + i64(v.hi)
	}
	for _, n := range v.also {
		r += " or " + i64(n)
	}
	return r
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func doubleBetween(lo, hi float64) validator {
	return validator{typ: TypeDouble, fbounded: true, flo: lo, fhi: hi,
		valid: "[" + fmtFloat(lo) + ",...," + fmtFloat(hi) + "]"}
}

// javaTrim removes what Java's String.trim removes: every char <= ' '.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

// listSep is Java's "\\s*,\\s*", the separator ConfigDef uses for LIST
// values (Java's \s is ASCII whitespace including vertical tab).
var listSep = regexp.MustCompile(`[ \t\n\v\f\r]*,[ \t\n\v\f\r]*`)

// splitList splits a LIST value as ConfigDef does: "" is the empty list,
// and empty elements are kept ("a,,b" has three elements), so that a
// validator can reject them as Kafka does.
func splitList(s string) []string {
	s = javaTrim(s)
	if s == "" {
		return nil
	}
	return listSep.Split(s, -1)
}

// check validates raw and returns its canonical form, or an error whose
// text is the reason (the caller adds key and value).
func (v validator) check(raw string) (string, error) {
	s := javaTrim(raw)
	switch v.typ {
	case TypeBoolean:
		switch strings.ToLower(s) {
		case "true", "false":
			return strings.ToLower(s), nil
		}
		return "", errors.New("must be true or false")
	case TypeInt, TypeShort, TypeLong:
		n, err := parseInteger(s, v.typ)
		if err != nil {
			return "", err
		}
		if v.bounded && (n < v.lo || n > v.hi) && !slices.Contains(v.also, n) {
			return "", errors.New(v.rangeReason())
		}
		return strconv.FormatInt(n, 10), nil
	case TypeDouble:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) {
			return "", errors.New("not a number")
		}
		if v.fbounded && (f < v.flo || f > v.fhi) {
			return "", errors.New(v.rangeReason())
		}
		return javaDouble(f), nil
	case TypeString, TypeClass, TypePassword:
		if v.oneOf != nil && !slices.Contains(v.oneOf, s) {
			return "", errors.New("must be one of " + v.valid)
		}
		return s, nil
	case TypeList:
		elems := splitList(s)
		if v.star && len(elems) == 1 && elems[0] == "*" {
			return "*", nil
		}
		for _, e := range elems {
			if v.oneOf != nil && !slices.Contains(v.oneOf, e) {
				return "", errors.New("every element must be one of " + v.valid)
			}
			if v.element != nil && !v.element.MatchString(e) {
				return "", errors.New("must be * or a list of partitionId:brokerId pairs")
			}
		}
		return strings.Join(elems, ","), nil
	}
	return s, nil
}

// parseInteger parses like Java's Integer/Short/Long.parseInt: optional
// sign, decimal digits, nothing else, within the type's range.
func parseInteger(s string, t ConfigType) (int64, error) {
	bits := 64
	what := "a 64-bit integer"
	switch t {
	case TypeInt:
		bits, what = 32, "a 32-bit integer"
	case TypeShort:
		bits, what = 16, "a 16-bit integer"
	}
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, errors.New("out of range for " + what)
		}
		return 0, errors.New("not an integer")
	}
	return n, nil
}

// javaDouble formats f the way Java's Double.toString does for the values
// configs use: "0.5", "1.0", "1.0E-4", "1.7976931348623157E308".
func javaDouble(f float64) string {
	if math.IsInf(f, 0) {
		if f > 0 {
			return "Infinity"
		}
		return "-Infinity"
	}
	a := math.Abs(f)
	if f == 0 || (a >= 1e-3 && a < 1e7) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsRune(s, '.') {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64) // e.g. 1E-04, 1.5E+308
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.ContainsRune(mant, '.') {
		mant += ".0"
	}
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(exp, "+-0")
	if neg {
		exp = "-" + exp
	}
	return mant + "E" + exp
}
