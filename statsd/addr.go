package statsd

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gowsgi/gowsgi/hostport"
)

// Errors of the setting grammars, wrapped with the bad value; and the
// reason a datagram is lost before any dial was tried.
var (
	errNotConnected = errors.New("statsd: not connected")

	ErrAddr   = errors.New("statsd: want HOST:PORT, [IPv6]:PORT or unix:PATH")
	ErrPrefix = errors.New("statsd: a prefix may not hold ':', '|', '@', '#', spaces or bytes outside printable ASCII")
	ErrTags   = errors.New("statsd: tags may not hold '|', spaces or bytes outside printable ASCII")
)

// DefaultPort is where StatsD listens unless told otherwise, and the
// port Gunicorn assumes for a host without one.
const DefaultPort = 8125

// unixPathMax is sizeof(sun_path) minus the NUL on Linux.
const unixPathMax = 107

// Addr is where the metrics go: a UDP host and port, or a unix datagram
// socket. Exactly one of Path and Host is set.
type Addr struct {
	Host string // a DNS name or an IP literal, without brackets
	Port int
	Path string // a unix datagram socket
}

// ParseAddr reads --statsd-host as Gunicorn's validate_statsd_address
// does (gunicorn/config.py), and returns "" for "" (no StatsD):
//
//	"localhost:8125" → {Host: localhost, Port: 8125}
//	"statsd"         → {Host: statsd, Port: 8125}   the default port
//	"[::1]:9125"     → {Host: ::1, Port: 9125}
//	"unix:/run/dsd.sock", "unix:///run/dsd.sock" → {Path: /run/dsd.sock}
//	"unix:8125"      → {Host: unix, Port: 8125}     Gunicorn's rule for a host named unix
//	"fd://3", "a:b", ":8125", "unix:" → error
//
// Gunicorn lower-cases the host; so does ParseAddr.
func ParseAddr(s string) (Addr, error) {
	switch {
	case strings.HasPrefix(s, "unix:") && isDigits(s[len("unix:"):]):
		port, err := parsePort(s[len("unix:"):])
		if err != nil {
			return Addr{}, fmt.Errorf("%w: %q: %w", ErrAddr, s, err)
		}
		return Addr{Host: "unix", Port: port}, nil
	case strings.HasPrefix(s, "unix:"):
		path := strings.TrimPrefix(strings.TrimPrefix(s, "unix:"), "//")
		switch {
		case path == "":
			return Addr{}, fmt.Errorf("%w: %q: empty socket path", ErrAddr, s)
		case len(path) > unixPathMax:
			return Addr{}, fmt.Errorf("%w: %q: the socket path is %d bytes, the limit is %d", ErrAddr, s, len(path), unixPathMax)
		case strings.IndexByte(path, 0) >= 0:
			return Addr{}, fmt.Errorf("%w: %q: NUL byte in the socket path", ErrAddr, s)
		}
		return Addr{Path: path}, nil
	case strings.HasPrefix(s, "fd://"):
		return Addr{}, fmt.Errorf("%w: %q: a file descriptor cannot be a StatsD address", ErrAddr, s)
	}
	host, port, err := splitHostPort(strings.TrimPrefix(s, "tcp://"))
	if err != nil {
		return Addr{}, fmt.Errorf("%w: %q: %w", ErrAddr, s, err)
	}
	return Addr{Host: strings.ToLower(host), Port: port}, nil
}

// String is the address in the syntax ParseAddr reads back to the same
// Addr: "host:8125", "[::1]:8125" or "unix:/path".
func (a Addr) String() string {
	if a.Path != "" {
		if strings.HasPrefix(a.Path, "//") || isDigits(a.Path) {
			return "unix://" + a.Path
		}
		return "unix:" + a.Path
	}
	if strings.Contains(a.Host, ":") {
		return "[" + a.Host + "]:" + strconv.Itoa(a.Port)
	}
	return a.Host + ":" + strconv.Itoa(a.Port)
}

// splitHostPort is hostport.Split with StatsD's rules: a host is
// required (metrics need a destination) and the port is 1 to 65535.
func splitHostPort(s string) (host string, port int, err error) {
	host, p, err := hostport.Split(s, strconv.Itoa(DefaultPort))
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		return "", 0, fmt.Errorf("%q is not a host name or IPv4 address", host)
	}
	port, err = parsePort(p)
	return host, port, err
}

func parsePort(s string) (int, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return int(n), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CheckPrefix accepts a --statsd-prefix that keeps each metric one
// StatsD line: no field separators (':', '|', '@', '#'), no spaces, and
// only printable ASCII (Gunicorn encodes each line as ASCII and fails to
// send any other).
func CheckPrefix(p string) error {
	if i := strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r > '~' || strings.ContainsRune(":|@#", r) }); i >= 0 {
		return fmt.Errorf("%w: %q has %q at byte %d", ErrPrefix, p, p[i], i)
	}
	return nil
}

// CheckTags accepts --dogstatsd-tags: a comma-delimited list such as
// "env:prod,service:web", appended to every line after "|#" as
// Gunicorn does. A '|' would start another field of the line.
func CheckTags(t string) error {
	if i := strings.IndexFunc(t, func(r rune) bool { return r <= ' ' || r > '~' || r == '|' }); i >= 0 {
		return fmt.Errorf("%w: %q has %q at byte %d", ErrTags, t, t[i], i)
	}
	return nil
}

// gunicornPrefix is Gunicorn's rule for the prefix,
// re.sub(r"^(.+[^.]+)\.*$", r"\g<1>.", statsd_prefix): trailing dots
// become one dot, and one is added when missing. Like Gunicorn's, it
// leaves alone a prefix the pattern does not match, so a one-character
// prefix gets no dot ("a" → "agunicorn.requests"): dashboards built on
// Gunicorn's names keep working.
var gunicornPrefix = regexp.MustCompile(`^(.+[^.]+)\.*$`)

// Prefix returns what goes before each metric name for --statsd-prefix p:
//
//	"" → "";  "app" → "app.";  "app..." → "app.";  "a.b" → "a.b.";  "a" → "a"
func Prefix(p string) string {
	return gunicornPrefix.ReplaceAllString(p, "${1}.")
}
