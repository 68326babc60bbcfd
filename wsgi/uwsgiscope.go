package wsgi

import (
	"bytes"

	"github.com/gowsgi/gowsgi/httpparse/uwsgiproto"
)

// UwsgiScope is what an ASGI scope takes from a uwsgi packet
// (--protocol uwsgi with --worker-class asgi). Its slices point into
// the packet or into its own storage; reuse it across requests.
type UwsgiScope struct {
	// Path is the decoded path: ScriptName then the environ's PATH_INFO,
	// the full path as ASGI's path is (spec 2.4 "path" and "root_path").
	Path []byte
	// RawPath is REQUEST_URI's path as sent; without REQUEST_URI, Path.
	RawPath    []byte
	Query      []byte
	ScriptName string
	// HTTPVersion is SERVER_PROTOCOL's version as ASGI spells it: "1.0",
	// "1.1" (also when absent or unknown), "2", "3".
	HTTPVersion string
	ServerName  string
	ServerPort  string
	RemoteAddr  string
	RemotePort  string // "" when unknown
	Scheme      string
	// Headers are the HTTP_* vars as header fields (HTTP_X_A_B ->
	// x-a-b), one per var in order, repeats kept, then CONTENT_TYPE and
	// CONTENT_LENGTH when not empty.
	Headers [][2][]byte
	names   []byte // storage of the header names
}

// ReadUwsgi fills s from p by BuildUwsgi's rules, so an ASGI app sees
// the request a WSGI app would: the same path, mount point, query,
// addresses and scheme (HTTPS, then REQUEST_SCHEME, then c.Scheme;
// uWSGI's magic vars, UWSGI_SCHEME included, and wsgi.* do nothing, as
// for WSGI). Headers differ from the environ's only in keeping repeated
// HTTP_* vars apart, as ASGI keeps repeated header lines. HTTP_CONTENT_TYPE
// and HTTP_CONTENT_LENGTH are left out: CGI carries those headers as
// CONTENT_TYPE and CONTENT_LENGTH, and CONTENT_LENGTH is what framed
// the body.
func (s *UwsgiScope) ReadUwsgi(p *uwsgiproto.Packet, c *Conn) {
	var v uwsgiVars
	var contentType, contentLength []byte
	s.names = s.names[:0]
	clear(s.Headers)
	s.Headers = s.Headers[:0]
	for i := range p.Vars {
		key, value := p.Vars[i].Key, p.Vars[i].Value
		switch {
		case isMagicVar(key), v.take(key, value):
		case string(key) == "CONTENT_TYPE":
			contentType = value
		case string(key) == "CONTENT_LENGTH":
			contentLength = value
		case string(key) == "HTTP_CONTENT_TYPE", string(key) == "HTTP_CONTENT_LENGTH":
		case uwsgiproto.IsHeaderVar(key):
			s.addHeader(key[len("HTTP_"):], value)
		}
	}
	if len(contentType) > 0 {
		s.addHeader([]byte("CONTENT_TYPE"), contentType)
	}
	if len(contentLength) > 0 {
		s.addHeader([]byte("CONTENT_LENGTH"), contentLength)
	}
	s.fillNames()

	scriptName, strip := c.ScriptName, c.ScriptName != ""
	if v.has&hasScriptName != 0 {
		scriptName, strip = string(v.scriptName), p.Modifier1 == uwsgiproto.ModifierManagePathInfo
	}
	s.ScriptName = scriptName
	s.Path = appendUwsgiPath(append(s.Path[:0], scriptName...), &v, scriptName, strip)
	s.RawPath = s.Path
	if v.has&hasRequestURI != 0 {
		s.RawPath, _, _ = bytes.Cut(v.requestURI, []byte("?"))
	}
	s.Query = orDerivedQuery(&v)
	s.HTTPVersion = asgiVersion(v.protocol)
	s.ServerName = stringOr(v.serverName, v.has&hasServerName != 0, c.ServerName)
	s.ServerPort = stringOr(v.serverPort, v.has&hasServerPort != 0, c.ServerPort)
	s.RemoteAddr = stringOr(v.remoteAddr, v.has&hasRemoteAddr != 0, c.RemoteAddr)
	switch {
	case v.has&hasRemotePort != 0:
		s.RemotePort = string(v.remotePort)
	case v.has&hasRemoteAddr == 0:
		s.RemotePort = c.RemotePort // the connection's own peer
	default:
		s.RemotePort = ""
	}
	s.Scheme = uwsgiScheme(&v, c.Scheme)
}

// addHeader adds the field named after a CGI var name (ACCEPT_ENCODING
// -> accept-encoding); its name is placed by fillNames once s.names no
// longer grows.
func (s *UwsgiScope) addHeader(cgiName, value []byte) {
	start := len(s.names)
	for _, b := range cgiName {
		switch {
		case b == '_':
			b = '-'
		case 'A' <= b && b <= 'Z':
			b += 'a' - 'A'
		}
		s.names = append(s.names, b)
	}
	// The name's end is kept in the slot until fillNames.
	s.Headers = append(s.Headers, [2][]byte{s.names[start:len(s.names):len(s.names)], value})
}

// fillNames points every header name into the final s.names, which an
// append may have moved.
func (s *UwsgiScope) fillNames() {
	at := 0
	for i := range s.Headers {
		n := len(s.Headers[i][0])
		s.Headers[i][0] = s.names[at : at+n : at+n]
		at += n
	}
}

// asgiVersion maps SERVER_PROTOCOL to the scope's http_version.
func asgiVersion(protocol []byte) string {
	switch string(protocol) {
	case "HTTP/1.0":
		return "1.0"
	case "HTTP/2.0", "HTTP/2":
		return "2"
	case "HTTP/3.0", "HTTP/3":
		return "3"
	}
	return "1.1"
}

func stringOr(value []byte, sent bool, fallback string) string {
	if sent {
		return string(value)
	}
	return fallback
}

// UwsgiHeader returns the values of the request header named lower (in
// lower case) that a front end passed as HTTP_* vars, one per var in
// the order sent (nginx sends a repeated header line as a repeated var);
// nil when there is none. "sec-websocket-key" reads
// HTTP_SEC_WEBSOCKET_KEY. A header whose name holds "_" cannot be told
// from one with "-" here; front ends drop such names (nginx's
// underscores_in_headers off), as the environ does.
func UwsgiHeader(p *uwsgiproto.Packet, lower string) [][]byte {
	var vs [][]byte
	for i := range p.Vars {
		if isHeaderVarFor(p.Vars[i].Key, lower) {
			vs = append(vs, p.Vars[i].Value)
		}
	}
	return vs
}

// isHeaderVarFor reports whether key is the CGI var of the header named
// lower: "HTTP_X_A_B" for "x-a-b".
func isHeaderVarFor(key []byte, lower string) bool {
	if len(key) != len("HTTP_")+len(lower) || string(key[:5]) != "HTTP_" {
		return false
	}
	for i := 0; i < len(lower); i++ {
		b := lower[i]
		switch {
		case b == '-':
			b = '_'
		case 'a' <= b && b <= 'z':
			b -= 'a' - 'A'
		}
		if key[5+i] != b {
			return false
		}
	}
	return true
}

// UwsgiHTTPVersion is the client's HTTP version, from SERVER_PROTOCOL
// ("HTTP/1.0" → 1, 0), as the scope's http_version reads it: 1.1 when
// absent or unknown.
func UwsgiHTTPVersion(p *uwsgiproto.Packet) (major, minor int) {
	protocol, _ := p.Get("SERVER_PROTOCOL")
	switch asgiVersion(protocol) {
	case "1.0":
		return 1, 0
	case "2":
		return 2, 0
	case "3":
		return 3, 0
	}
	return 1, 1
}
