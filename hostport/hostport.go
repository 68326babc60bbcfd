// Package hostport reads the HOST:PORT syntax Gunicorn's settings share
// (--bind, --statsd-host; gunicorn.util.parse_address): "host:port",
// "host", "[v6]:port" and "[v6]". config checks --bind with it and
// statsd --statsd-host, so the two settings read one syntax with the
// same messages. It imports only the standard library.
package hostport

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Split splits s into a host and a port, defaultPort when s names none.
// The host is an IPv6 literal (without its brackets), an IPv4 literal, a
// DNS name, or "" (":8000": all interfaces to a listener; the caller
// says whether it may be empty). The port is not checked: each caller
// knows its range.
//
//	"localhost:80" → "localhost", "80"
//	"[::1]"        → "::1", defaultPort
//	":80"          → "", "80"
//	"::1:80"       → IPv6 addresses need brackets, as in [::1]:defaultPort
func Split(s, defaultPort string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", errors.New("missing ] after the IPv6 address")
		}
		host, rest := s[1:end], s[end+1:]
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Is6() {
			return "", "", fmt.Errorf("%q is not an IPv6 address", host)
		}
		switch {
		case rest == "":
			return host, defaultPort, nil
		case strings.HasPrefix(rest, ":"):
			return host, rest[1:], nil
		}
		return "", "", fmt.Errorf("unexpected %q after ]", rest)
	}
	if strings.Count(s, ":") > 1 {
		return "", "", errors.New("IPv6 addresses need brackets, as in [::1]:" + defaultPort)
	}
	host, port, found := strings.Cut(s, ":")
	if !found {
		port = defaultPort
	}
	if !ValidHost(host) {
		return "", "", fmt.Errorf("%q is not a host name or IPv4 address", host)
	}
	return host, port, nil
}

// ValidHost accepts "", IPv4 literals and DNS names (letters, digits,
// '-', '.', and '_' as resolvers take it), up to 253 bytes: "statsd.local"
// → true, "stats d" → false.
func ValidHost(h string) bool {
	if len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}
