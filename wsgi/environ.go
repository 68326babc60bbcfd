package wsgi

import (
	"encoding/binary"
	"strconv"

	"github.com/gowsgi/gowsgi/httpparse"
)

// EnvironKeys are the keys an encoded environ refers to by id (index+1):
// the CGI keys every request has and the most common request headers,
// so neither side builds these strings per request.
var EnvironKeys = []string{
	"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING",
	"CONTENT_TYPE", "CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT",
	"SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "RAW_URI",
	"wsgi.url_scheme",
	"HTTP_HOST", "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING",
	"HTTP_ACCEPT_LANGUAGE", "HTTP_CONNECTION", "HTTP_COOKIE", "HTTP_REFERER",
	"HTTP_CACHE_CONTROL", "HTTP_ORIGIN", "HTTP_AUTHORIZATION", "HTTP_PRAGMA",
	"HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
	"HTTP_X_REAL_IP", "HTTP_X_REQUEST_ID", "HTTP_IF_NONE_MATCH",
	"HTTP_IF_MODIFIED_SINCE", "HTTP_UPGRADE_INSECURE_REQUESTS",
	"HTTP_SEC_FETCH_SITE", "HTTP_SEC_FETCH_MODE", "HTTP_SEC_FETCH_DEST",
	"HTTP_SEC_FETCH_USER", "HTTP_DNT", "HTTP_TRANSFER_ENCODING", "HTTP_EXPECT",
}

// keyID maps an environ key to its id; built from EnvironKeys.
var keyID = func() map[string]uint8 {
	m := make(map[string]uint8, len(EnvironKeys))
	for i, k := range EnvironKeys {
		m[k] = uint8(i + 1)
	}
	return m
}()

func mustID(key string) uint8 {
	id, ok := keyID[key]
	if !ok {
		panic("wsgi: " + key + " missing from EnvironKeys")
	}
	return id
}

var (
	idMethod        = mustID("REQUEST_METHOD")
	idScriptName    = mustID("SCRIPT_NAME")
	idPathInfo      = mustID("PATH_INFO")
	idQueryString   = mustID("QUERY_STRING")
	idContentType   = mustID("CONTENT_TYPE")
	idContentLength = mustID("CONTENT_LENGTH")
	idServerName    = mustID("SERVER_NAME")
	idServerPort    = mustID("SERVER_PORT")
	idProtocol      = mustID("SERVER_PROTOCOL")
	idRemoteAddr    = mustID("REMOTE_ADDR")
	idRemotePort    = mustID("REMOTE_PORT")
	idRawURI        = mustID("RAW_URI")
	idURLScheme     = mustID("wsgi.url_scheme")
)

// Conn is what the environ takes from the connection rather than the
// request. The worker fills it once per connection.
type Conn struct {
	RemoteAddr string // "" for a unix-socket peer
	RemotePort string // "" for a unix-socket peer: REMOTE_PORT is left out
	ServerName string // the listener's host, used when a request has no Host
	ServerPort string
	Scheme     string // "http" or "https"
	// ScriptName is the mount point (the server's SCRIPT_NAME variable),
	// without a trailing slash; "" at the root.
	ScriptName string
	// Forwarder: the peer is a trusted proxy (--forwarded-allow-ips). As
	// Gunicorn's default forwarder_headers let it, its SCRIPT_NAME and
	// PATH_INFO headers reach the environ (HTTP_SCRIPT_NAME,
	// HTTP_PATH_INFO), and a SCRIPT_NAME header is the request's mount
	// point instead of ScriptName.
	Forwarder bool
	// Vars are more CGI variables of the connection, added to every
	// request's environ as they are: on a TLS connection HTTPS,
	// SSL_PROTOCOL and the client certificate's SSL_CLIENT_* (mod_ssl's
	// names). Keys are upper case with underscores, so no request header
	// (HTTP_*) can spoof them.
	Vars [][2]string
}

// Environ encodes one request's environ. The zero value is ready; reuse
// it across requests to avoid allocating.
type Environ struct {
	buf  []byte
	name [128]byte // scratch for header keys
}

// Bytes returns the encoding built by the last Build; valid until the
// next Build.
func (e *Environ) Bytes() []byte { return e.buf }

func (e *Environ) addID(id uint8, value []byte) {
	e.buf = append(e.buf, id)
	e.buf = binary.NativeEndian.AppendUint32(e.buf, uint32(len(value)))
	e.buf = append(e.buf, value...)
}

func (e *Environ) addString(id uint8, value string) {
	e.buf = append(e.buf, id)
	e.buf = binary.NativeEndian.AppendUint32(e.buf, uint32(len(value)))
	e.buf = append(e.buf, value...)
}

func (e *Environ) addKey(key, value []byte) {
	if id := keyID[string(key)]; id != 0 {
		e.addID(id, value)
		return
	}
	e.buf = append(e.buf, 0)
	e.buf = binary.NativeEndian.AppendUint16(e.buf, uint16(len(key)))
	e.buf = append(e.buf, key...)
	e.buf = binary.NativeEndian.AppendUint32(e.buf, uint32(len(value)))
	e.buf = append(e.buf, value...)
}

// addPair adds a key that has no id.
func (e *Environ) addPair(key, value string) {
	e.buf = append(e.buf, 0)
	e.buf = binary.NativeEndian.AppendUint16(e.buf, uint16(len(key)))
	e.buf = append(e.buf, key...)
	e.buf = binary.NativeEndian.AppendUint32(e.buf, uint32(len(value)))
	e.buf = append(e.buf, value...)
}

// Build encodes the environ of req (PEP 3333 "environ Variables").
// bodyLen is the length of the body the app will read when the server
// buffered it whole (so a chunked upload gets a real CONTENT_LENGTH), or
// -1 when unknown.
func (e *Environ) Build(req *httpparse.Request, c *Conn, bodyLen int64) {
	e.buf = e.buf[:0]
	e.addID(idMethod, req.Method)
	scriptName := c.ScriptName
	if c.Forwarder {
		if v := lastHeader(req.Headers, "script_name"); v != nil {
			scriptName = MountPoint(string(v))
		}
	}
	e.buildPath(req.Path, scriptName)
	e.addID(idQueryString, req.Query)
	e.addID(idRawURI, req.Target)
	if req.Minor == 0 {
		e.addString(idProtocol, "HTTP/1.0")
	} else {
		e.addString(idProtocol, "HTTP/1.1")
	}
	e.addString(idURLScheme, c.Scheme)
	e.addString(idRemoteAddr, c.RemoteAddr)
	if c.RemotePort != "" {
		e.addString(idRemotePort, c.RemotePort) // a unix-socket peer has none
	}
	e.buildServer(req.Host, c)
	for _, kv := range c.Vars {
		e.addPair(kv[0], kv[1])
	}
	if req.ContentType != nil {
		e.addID(idContentType, req.ContentType)
	}
	dechunked := bodyLen >= 0 && req.Chunked
	switch {
	case bodyLen >= 0 && (req.HasContentLength || req.Chunked):
		e.addID(idContentLength, strconv.AppendInt(e.name[:0], bodyLen, 10))
	case req.HasContentLength:
		e.addID(idContentLength, strconv.AppendInt(e.name[:0], req.ContentLength, 10))
	}
	e.buildHeaders(req.Headers, c.Forwarder, dechunked)
}

// lastHeader is the value of the last field named name, or nil.
func lastHeader(hs []httpparse.Header, name string) []byte {
	var v []byte
	for i := range hs {
		if EqualFold(hs[i].Name, []byte(name)) {
			v = hs[i].Value
		}
	}
	return v
}

// ForwarderHeader reports whether name is one of the headers with an
// underscore that a trusted proxy may send (Conn.Forwarder).
func ForwarderHeader(name []byte) bool {
	return EqualFold(name, []byte("script_name")) || EqualFold(name, []byte("path_info"))
}

// buildPath sets SCRIPT_NAME and PATH_INFO: the path percent-decoded to
// bytes (PEP 3333 wants them as latin-1 native strings), with the mount
// point removed when it prefixes the path (Gunicorn's convention).
func (e *Environ) buildPath(rawPath []byte, scriptName string) {
	e.addString(idScriptName, scriptName)
	e.buf = append(e.buf, idPathInfo)
	lenAt := len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0)
	start := len(e.buf)
	e.buf = AppendUnescapedPath(e.buf, rawPath)
	if scriptName != "" {
		p := e.buf[start:]
		if hasPathPrefix(p, scriptName) {
			n := copy(p, p[len(scriptName):])
			e.buf = e.buf[:start+n]
		}
	}
	binary.NativeEndian.PutUint32(e.buf[lenAt:], uint32(len(e.buf)-start))
}

// hasPathPrefix reports whether path starts with prefix at a segment
// boundary: "/app" prefixes "/app" and "/app/x", not "/apple".
func hasPathPrefix(path []byte, prefix string) bool {
	if len(path) < len(prefix) || string(path[:len(prefix)]) != prefix {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}

// buildServer sets SERVER_NAME and SERVER_PORT from the Host header
// when there is one (RFC 9112 §3.2), else from the listener. PEP 3333
// wants both non-empty, and a valid Host may leave either empty: an
// empty host ("Host: :80", RFC 3986 §3.2.2 allows an empty reg-name)
// takes the listener's name, an empty or absent port ("Host: h:",
// RFC 3986 §3.2.3) the scheme's default.
func (e *Environ) buildServer(host []byte, c *Conn) {
	if len(host) == 0 {
		e.addString(idServerName, c.ServerName)
		e.addString(idServerPort, c.ServerPort)
		return
	}
	name, port := splitHostPort(host)
	if len(name) == 0 {
		e.addString(idServerName, c.ServerName)
	} else {
		e.addID(idServerName, name)
	}
	if len(port) == 0 {
		if c.Scheme == "https" {
			e.addString(idServerPort, "443")
		} else {
			e.addString(idServerPort, "80")
		}
		return
	}
	e.addID(idServerPort, port)
}

// splitHostPort splits "host:port", "[v6]:port", "host" and "[v6]".
func splitHostPort(host []byte) (name, port []byte) {
	end := len(host)
	if host[0] == '[' {
		for i := range host {
			if host[i] == ']' {
				if i+1 < len(host) && host[i+1] == ':' {
					return host[:i+1], host[i+2:]
				}
				return host[:i+1], nil
			}
		}
		return host, nil
	}
	for i := end - 1; i >= 0; i-- {
		if host[i] == ':' {
			return host[:i], host[i+1:]
		}
	}
	return host, nil
}

// buildHeaders adds HTTP_* keys. Content-Type and Content-Length are
// CONTENT_TYPE/CONTENT_LENGTH only. Names with anything but letters,
// digits and '-' are dropped: "X_Auth_User" would otherwise alias
// "X-Auth-User" (Gunicorn's header_map "drop"), but for a trusted
// proxy's forwarder headers. Repeated fields are joined with ", " (RFC
// 9110 §5.3), except Cookie, whose pairs are joined with "; " (RFC 6265
// §5.4; HTTP/2 proxies split it into fields). dechunked: the body was
// chunked and read whole, and CONTENT_LENGTH is its length.
func (e *Environ) buildHeaders(hs []httpparse.Header, forwarder, dechunked bool) {
	fields := indexFields(hs)
	for i := range hs {
		h := &hs[i]
		safe := httpparse.EnvironSafeName(h.Name) || forwarder && ForwarderHeader(h.Name)
		if !safe || isContentHeader(h.Name) || fields.repeated(i) {
			continue
		}
		// A chunked body read whole reaches the app as a plain body of
		// CONTENT_LENGTH bytes; HTTP_TRANSFER_ENCODING would say it is
		// still chunked, and apps that decode chunked input themselves
		// (Bottle) or refuse it (httpbin) would fail on it. Waitress
		// drops it the same way.
		if dechunked && (EqualFold(h.Name, []byte("transfer-encoding")) || EqualFold(h.Name, []byte("trailer"))) {
			continue // Trailer announced fields of the chunked framing, which is gone
		}
		key := appendHTTPKey(e.name[:0], h.Name)
		value := h.Value
		sep := ", "
		if EqualFold(h.Name, []byte("cookie")) {
			sep = "; "
		}
		var joined []byte
		for j := fields.after(i); j >= 0; j = fields.after(j) {
			if joined == nil {
				joined = append([]byte(nil), value...)
			}
			joined = append(append(joined, sep...), hs[j].Value...)
		}
		if joined != nil {
			value = joined
		}
		e.addKey(key, value)
	}
}

func isContentHeader(name []byte) bool {
	return EqualFold(name, []byte("content-type")) || EqualFold(name, []byte("content-length"))
}

// appendHTTPKey appends the CGI key of a header field name (RFC 3875
// §4.1.18): "X-Forwarded-For" → "HTTP_X_FORWARDED_FOR".
func appendHTTPKey(dst, name []byte) []byte {
	dst = append(dst, "HTTP_"...)
	for _, b := range name {
		switch {
		case b == '-':
			b = '_'
		case 'a' <= b && b <= 'z':
			b -= 'a' - 'A'
		}
		dst = append(dst, b)
	}
	return dst
}

// EqualFold compares ASCII names case-insensitively; header names are
// tokens, so no Unicode folding applies. Strings (environ keys) and
// bytes (header names) share it.
func EqualFold[T string | []byte](a, b T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// AppendUnescapedPath appends the percent-decoded path (RFC 3986 §2.1).
// A '%' not followed by two hex digits is kept as is, as Python's
// urllib.parse.unquote_to_bytes does.
//
//	"/a%20b" → "/a b";  "/100%" → "/100%";  "/%e9t%C3%A9" → "/\xe9t\xc3\xa9"
func AppendUnescapedPath(dst, path []byte) []byte {
	for i := 0; i < len(path); i++ {
		b := path[i]
		if b == '%' && i+2 < len(path) && isHex(path[i+1]) && isHex(path[i+2]) {
			dst = append(dst, unhex(path[i+1])<<4|unhex(path[i+2]))
			i += 2
			continue
		}
		dst = append(dst, b)
	}
	return dst
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

func unhex(b byte) byte {
	switch {
	case b <= '9':
		return b - '0'
	case b >= 'a':
		return b - 'a' + 10
	default:
		return b - 'A' + 10
	}
}
