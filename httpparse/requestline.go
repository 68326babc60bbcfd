package httpparse

import "bytes"

// span locates bytes in Reader.buf by offset, so that a parse can start
// before buf stops growing.
type span struct{ start, end int }

// of returns the bytes of s in b, capped so an append cannot overwrite what
// follows.
func (s span) of(b []byte) []byte { return b[s.start:s.end:s.end] }

// requestLine is the parsed request line, as offsets into Reader.buf.
type requestLine struct {
	method, target, path, query, authority span
	major, minor                           int
	hasQuery, hasAuthority                 bool
	emptyPath                              bool // absolute-form without a path
	isOptions                              bool
}

// parseRequestLine parses line, which starts at offset 0 of Reader.buf
// (RFC 9112 §3): method SP request-target SP HTTP-version, with exactly one
// SP between them. "GET /a?b HTTP/1.1" → method "GET", path "/a", query "b".
func parseRequestLine(line []byte, rl *requestLine) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return ErrMalformedRequest
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 < 0 {
		return ErrMalformedRequest
	}
	sp2 += sp1 + 1
	method, target, version := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if len(method) == 0 || len(target) == 0 {
		return ErrMalformedRequest
	}
	var err error
	if rl.major, rl.minor, err = parseVersion(version); err != nil {
		return err
	}
	if !isToken(method) {
		return ErrInvalidMethod
	}
	if !isConventionalMethod(method) {
		return ErrUnconventionalMethod
	}
	rl.method = span{0, sp1}
	rl.target = span{sp1 + 1, sp2}
	rl.isOptions = string(method) == "OPTIONS"
	for _, c := range target {
		if !targetTable[c] {
			return ErrInvalidTarget
		}
	}
	return parseTarget(string(method) == "CONNECT", target, sp1+1, rl)
}

// isConventionalMethod reports whether a method token is what Gunicorn
// (since 22.0, without --permit-unconventional-http-method), nginx and
// Uvicorn's parsers take for a method: 3 to 20 characters, no lower-case
// letter or '#'. RFC 9110 §9.1 makes "get" a method distinct from GET;
// a proxy or an app that folds case would route it as GET, so the three
// refuse it rather than pass it on.
func isConventionalMethod(method []byte) bool {
	if len(method) < 3 || len(method) > 20 {
		return false
	}
	for _, c := range method {
		if 'a' <= c && c <= 'z' || c == '#' {
			return false
		}
	}
	return true
}

// parseVersion parses HTTP-version (RFC 9112 §2.3): "HTTP/" DIGIT "." DIGIT,
// case-sensitive. "HTTP/1.1" → 1, 1; "HTTP/2.0" → ErrVersionUnsupported;
// "HTTP/1.10" or "http/1.1" → ErrMalformedVersion.
func parseVersion(v []byte) (major, minor int, err error) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, 0, ErrMalformedVersion
	}
	major, minor = int(v[5]-'0'), int(v[7]-'0')
	if major != 1 || minor > 1 {
		return 0, 0, ErrVersionUnsupported
	}
	return major, minor, nil
}

// parseTarget classifies the request-target by its form (RFC 9112 §3.2) and
// locates path, query and authority. off is the target's offset in buf.
func parseTarget(isConnect bool, target []byte, off int, rl *requestLine) error {
	switch {
	case isConnect:
		// RFC 9112 §3.2.3: CONNECT takes authority-form only. gowsgi is
		// not a tunnel, so a well-formed CONNECT is refused as unsupported.
		if !isAuthorityForm(target) {
			return ErrInvalidTarget
		}
		return ErrConnectUnsupported
	case target[0] == '/':
		splitPathQuery(target, off, rl)
		return nil
	case len(target) == 1 && target[0] == '*':
		// RFC 9112 §3.2.4: asterisk-form only for a server-wide OPTIONS.
		if !rl.isOptions {
			return ErrAsteriskNotOptions
		}
		rl.path = span{off, off + 1}
		return nil
	}
	if n := httpSchemePrefix(target); n > 0 {
		return parseAbsoluteForm(target, off, n, rl)
	}
	if isAuthorityForm(target) {
		return ErrAuthorityNotConnect
	}
	return ErrInvalidTarget
}

// splitPathQuery splits an origin-form target or the path-abempty of an
// absolute URI at the first '?', dropping any fragment:
// "/a?b#c" → path "/a", query "b"; "/a#b?c" → path "/a", no query.
func splitPathQuery(s []byte, off int, rl *requestLine) {
	end := len(s)
	if i := bytes.IndexByte(s, '#'); i >= 0 {
		end = i
	}
	if q := bytes.IndexByte(s[:end], '?'); q >= 0 {
		rl.path = span{off, off + q}
		rl.query = span{off + q + 1, off + end}
		rl.hasQuery = true
		return
	}
	rl.path = span{off, off + end}
}

// httpSchemePrefix returns the length of a leading "http://" or "https://",
// scheme case-insensitive, or 0. Absolute-form is accepted for these schemes
// only: an origin server has no business with others.
func httpSchemePrefix(t []byte) int {
	for _, p := range [...]string{"http://", "https://"} {
		if len(t) > len(p) && EqualFoldASCII(t[:len(p)-3], p[:len(p)-3]) && string(t[len(p)-3:len(p)]) == "://" {
			return len(p)
		}
	}
	return 0
}

// parseAbsoluteForm handles "http://authority/path?query" (RFC 9112 §3.2.2).
// The authority must be a non-empty host[:port] without userinfo, which
// RFC 9110 §4.2.4 deprecates and which hides the real host from log readers,
// and without percent-encoding.
func parseAbsoluteForm(target []byte, off, schemeLen int, rl *requestLine) error {
	rest := target[schemeLen:]
	authEnd := len(rest)
	for i, c := range rest {
		if c == '/' || c == '?' || c == '#' {
			authEnd = i
			break
		}
	}
	authority := rest[:authEnd]
	// A percent-encoded authority would reach HTTP_HOST raw while URL
	// parsers decode it; no client sends one, so it is refused.
	if len(authority) == 0 || !validHost(authority) || !portIsDigits(authority) || bytes.IndexByte(authority, '%') >= 0 {
		return ErrInvalidTarget
	}
	base := off + schemeLen
	rl.authority = span{base, base + authEnd}
	rl.hasAuthority = true
	splitPathQuery(rest[authEnd:], base+authEnd, rl)
	rl.emptyPath = rl.path.start == rl.path.end
	return nil
}

// isAuthorityForm reports whether t is uri-host ":" port (RFC 9112 §3.2.3):
// "example.com:443" → true, "[::1]:8080" → true, "example.com" → false.
func isAuthorityForm(t []byte) bool {
	colon := bytes.LastIndexByte(t, ':')
	if colon <= 0 || colon == len(t)-1 || !validHost(t[:colon]) {
		return false
	}
	for _, c := range t[colon+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validHost reports whether h uses only the characters of uri-host [":"
// port] (RFC 3986 §3.2.2, as net/http's httpguts.ValidHostHeader): no '@',
// '/', whitespace or controls. The empty string is valid (RFC 9110 §7.2).
func validHost(h []byte) bool {
	for _, c := range h {
		if !hostTable[c] {
			return false
		}
	}
	return true
}

// portIsDigits reports whether the port of a Host value, if it has one,
// is digits (RFC 3986 §3.2.3, port = *DIGIT), so that SERVER_PORT is a
// number: "h:abc", "h:80:x" → false; "h", "h:", "h:8080", "[::1]:8080" →
// true. An IPv6 address must be in brackets (§3.2.2): a bare "::1",
// which net/http lets through, gave SERVER_NAME ':' and SERVER_PORT '1'.
func portIsDigits(h []byte) bool {
	port := h
	if len(h) > 0 && h[0] == '[' {
		end := bytes.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		port = h[end+1:]
		if len(port) == 0 {
			return true
		}
		if port[0] != ':' {
			return false
		}
		port = port[1:]
	} else {
		colon := bytes.IndexByte(h, ':')
		if colon < 0 {
			return true
		}
		port = h[colon+1:] // a second ':' is not a digit
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
