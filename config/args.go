package config

import (
	"errors"
	"fmt"
	"strings"
)

// Usage is the command line ParseArgs accepts, for the binary's help text.
const Usage = "usage: samsa [server.properties] [--override key=value]...\n       samsa --version | --help"

// ErrUsage matches (errors.Is) every ParseArgs error about malformed
// arguments, so the caller can print Usage and exit with status 2. The
// errors' own text does not repeat Usage.
var ErrUsage = errors.New("invalid command line")

// usageError is a ParseArgs complaint; it is ErrUsage for errors.Is.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// ErrHelp is returned when the arguments ask for help (-h, --help); the
// caller should print Usage and exit with status 0.
var ErrHelp = errors.New("help requested")

// ErrVersion is returned for --version; the caller prints the version and
// exits with status 0.
var ErrVersion = errors.New("version requested")

// ParseArgs parses os.Args[1:] the way kafka-server-start.sh does: an
// optional properties file path first, then any number of
// "--override key=value" (or "--override=key=value"). Unlike Kafka the
// file is optional, and an override without '=' is refused rather than
// taken as an empty value, since it is almost always a typo. An override
// "key=" does set key to the empty string.
func ParseArgs(args []string) (path string, overrides []string, err error) {
	i := 0
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		path, i = args[0], 1
	}
	for ; i < len(args); i++ {
		a := args[i]
		var kv string
		switch {
		case a == "-h" || a == "--help" || a == "-help":
			return "", nil, ErrHelp
		case a == "--version" || a == "-version":
			return "", nil, ErrVersion
		case a == "--override":
			if i+1 >= len(args) {
				return "", nil, usagef("--override needs a key=value argument")
			}
			i++
			kv = args[i]
		case strings.HasPrefix(a, "--override="):
			kv = strings.TrimPrefix(a, "--override=")
		default:
			if strings.HasPrefix(a, "-") {
				return "", nil, usagef("unknown option %q", a)
			}
			return "", nil, usagef("unexpected argument %q (the properties file must come first)", a)
		}
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return "", nil, usagef("--override %q is not key=value", kv)
		}
		overrides = append(overrides, kv)
	}
	return path, overrides, nil
}
