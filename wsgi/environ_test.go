package wsgi

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/httpparse"
)

// decode turns an encoded environ back into a map, as pyshim does.
func decode(t *testing.T, b []byte) map[string]string {
	t.Helper()
	m := map[string]string{}
	for len(b) > 0 {
		id := b[0]
		b = b[1:]
		var key string
		if id == 0 {
			n := binary.NativeEndian.Uint16(b)
			key, b = string(b[2:2+n]), b[2+n:]
		} else {
			key = EnvironKeys[id-1]
		}
		n := binary.NativeEndian.Uint32(b)
		if _, dup := m[key]; dup {
			t.Fatalf("key %q encoded twice", key)
		}
		m[key], b = string(b[4:4+n]), b[4+n:]
	}
	return m
}

func parse(t *testing.T, raw string) *httpparse.Request {
	t.Helper()
	r := httpparse.NewReader(bufio.NewReader(strings.NewReader(raw)), httpparse.DefaultLimits)
	var req httpparse.Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return &req
}

var testConn = Conn{RemoteAddr: "10.0.0.7", RemotePort: "5555", ServerName: "127.0.0.1", ServerPort: "8000", Scheme: "http"}

func TestEnvironMapping(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		conn    Conn
		bodyLen int64
		want    map[string]string // keys that must have these values
		absent  []string
	}{{
		name: "get with query",
		raw:  "GET /a%20b/c?x=1&y=%20#frag HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: t\r\n\r\n",
		conn: testConn, bodyLen: -1,
		want: map[string]string{
			"REQUEST_METHOD": "GET", "PATH_INFO": "/a b/c", "QUERY_STRING": "x=1&y=%20",
			"RAW_URI": "/a%20b/c?x=1&y=%20#frag", "SERVER_NAME": "example.com", "SERVER_PORT": "8080",
			"SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7", "REMOTE_PORT": "5555",
			"HTTP_HOST": "example.com:8080", "HTTP_USER_AGENT": "t", "SCRIPT_NAME": "", "wsgi.url_scheme": "http",
		},
		absent: []string{"CONTENT_TYPE", "CONTENT_LENGTH"},
	}, {
		name: "a TLS connection's variables, not spoofed by a header",
		raw:  "GET / HTTP/1.1\r\nHost: h\r\nSSL-Client-Verify: SUCCESS\r\n\r\n",
		conn: Conn{RemoteAddr: "10.0.0.7", RemotePort: "5555", ServerName: "h", ServerPort: "443", Scheme: "https",
			Vars: [][2]string{{"HTTPS", "on"}, {"SSL_CLIENT_VERIFY", "NONE"}}},
		bodyLen: -1,
		want: map[string]string{"wsgi.url_scheme": "https", "SERVER_PORT": "443", "HTTPS": "on",
			"SSL_CLIENT_VERIFY": "NONE", "HTTP_SSL_CLIENT_VERIFY": "SUCCESS"},
	}, {
		name: "post body keys are not HTTP_",
		raw:  "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc",
		conn: testConn, bodyLen: 3,
		want:   map[string]string{"CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "3", "SERVER_PORT": "80"},
		absent: []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"},
	}, {
		name: "chunked upload buffered whole gets a real length, and is no longer chunked",
		raw:  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nX-After: 1\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		conn: testConn, bodyLen: 3,
		want:   map[string]string{"CONTENT_LENGTH": "3", "HTTP_X_AFTER": "1"},
		absent: []string{"HTTP_TRANSFER_ENCODING", "HTTP_TRAILER"},
	}, {
		name: "repeated headers joined, underscore names dropped",
		raw:  "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX_Auth_User: evil\r\nx-a: 2\r\n\r\n",
		conn: testConn, bodyLen: -1,
		want:   map[string]string{"HTTP_X_A": "1, 2"},
		absent: []string{"HTTP_X_AUTH_USER"},
	}, {
		name: "mount point stripped from PATH_INFO",
		raw:  "GET /app/x/y HTTP/1.1\r\nHost: h\r\n\r\n",
		conn: Conn{ScriptName: "/app", Scheme: "https"}, bodyLen: -1,
		want: map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/x/y", "SERVER_PORT": "443"},
	}, {
		name: "mount point is a segment prefix only",
		raw:  "GET /apple HTTP/1.1\r\nHost: h\r\n\r\n",
		conn: Conn{ScriptName: "/app", Scheme: "http"}, bodyLen: -1,
		want: map[string]string{"PATH_INFO": "/apple"},
	}, {
		name: "a trusted proxy's SCRIPT_NAME header is the mount point",
		raw:  "GET /shop/cart HTTP/1.1\r\nHost: h\r\nSCRIPT_NAME: /x\r\nScript_Name: /shop/\r\nPATH_INFO: /p\r\nX_Other: 1\r\n\r\n",
		conn: Conn{ScriptName: "/app", Scheme: "http", Forwarder: true}, bodyLen: -1,
		want: map[string]string{"SCRIPT_NAME": "/shop", "PATH_INFO": "/cart", "HTTP_SCRIPT_NAME": "/x, /shop/",
			"HTTP_PATH_INFO": "/p"},
		absent: []string{"HTTP_X_OTHER"},
	}, {
		name: "anyone else's SCRIPT_NAME header is dropped",
		raw:  "GET /app/cart HTTP/1.1\r\nHost: h\r\nSCRIPT_NAME: /shop\r\nPATH_INFO: /p\r\n\r\n",
		conn: Conn{ScriptName: "/app", Scheme: "http"}, bodyLen: -1,
		want:   map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/cart"},
		absent: []string{"HTTP_SCRIPT_NAME", "HTTP_PATH_INFO"},
	}, {
		name: "non-ASCII percent-decoded bytes kept as latin-1",
		raw:  "GET /caf%C3%A9/%ff HTTP/1.0\r\n\r\n",
		conn: testConn, bodyLen: -1,
		want: map[string]string{"PATH_INFO": "/caf\xc3\xa9/\xff", "SERVER_PROTOCOL": "HTTP/1.0",
			"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000"},
	}, {
		name: "repeated cookies joined with semicolons",
		raw:  "GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
		conn: testConn, bodyLen: -1,
		want: map[string]string{"HTTP_COOKIE": "a=1; b=2"},
	}, {
		name: "unix-socket peer has an empty REMOTE_ADDR and no REMOTE_PORT",
		raw:  "GET / HTTP/1.0\r\n\r\n",
		conn: Conn{ServerName: "/run/app.sock", ServerPort: "80", Scheme: "http"}, bodyLen: -1,
		want:   map[string]string{"REMOTE_ADDR": "", "SERVER_NAME": "/run/app.sock", "SERVER_PORT": "80"},
		absent: []string{"REMOTE_PORT"},
	}, {
		name: "client SCRIPT_NAME header cannot move the mount point",
		raw:  "GET /app/x HTTP/1.1\r\nHost: h\r\nScript-Name: /app\r\nSCRIPT_NAME: /app\r\n\r\n",
		conn: testConn, bodyLen: -1,
		want:   map[string]string{"SCRIPT_NAME": "", "PATH_INFO": "/app/x", "HTTP_SCRIPT_NAME": "/app"},
		absent: []string{"HTTP_SCRIPT__NAME"},
	}, {
		name: "no query: empty QUERY_STRING, fragment never included",
		raw:  "GET /p#frag?x HTTP/1.1\r\nHost: h\r\n\r\n",
		conn: testConn, bodyLen: -1,
		want: map[string]string{"QUERY_STRING": "", "PATH_INFO": "/p"},
	}, {
		name: "chunked body of unknown length has no CONTENT_LENGTH",
		raw:  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
		conn: testConn, bodyLen: -1,
		absent: []string{"CONTENT_LENGTH", "HTTP_CONTENT_LENGTH", "CONTENT_TYPE"},
	}, {
		name: "empty host and port in Host (fuzz finding) fall back to the listener and the default port",
		raw:  "GET / HTTP/1.0\r\nHost: :\r\n\r\n",
		conn: testConn, bodyLen: -1,
		want: map[string]string{"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": ":"},
	}, {
		name: "empty port in Host means the scheme's default",
		raw:  "GET / HTTP/1.1\r\nHost: h:\r\n\r\n",
		conn: Conn{ServerName: "127.0.0.1", ServerPort: "8443", Scheme: "https"}, bodyLen: -1,
		want: map[string]string{"SERVER_NAME": "h", "SERVER_PORT": "443"},
	}, {
		name: "ipv6 host",
		raw:  "GET / HTTP/1.1\r\nHost: [::1]:9000\r\n\r\n",
		conn: testConn, bodyLen: -1,
		want: map[string]string{"SERVER_NAME": "[::1]", "SERVER_PORT": "9000"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Environ
			e.Build(parse(t, tt.raw), &tt.conn, tt.bodyLen)
			got := decode(t, e.Bytes())
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q; want %q", k, got[k], v)
				}
			}
			for _, k := range tt.absent {
				if v, ok := got[k]; ok {
					t.Errorf("%s = %q; want absent", k, v)
				}
			}
		})
	}
}

func TestAppendUnescapedPath(t *testing.T) {
	for in, want := range map[string]string{
		"/a%20b": "/a b", "/100%": "/100%", "/%zz": "/%zz", "/%4": "/%4", "/%41%42": "/AB", "/%2F": "/\x2f",
	} {
		if got := string(AppendUnescapedPath(nil, []byte(in))); got != want {
			t.Errorf("AppendUnescapedPath(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestEnvironBuildAllocs(t *testing.T) {
	req := parse(t, "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: x\r\nAccept: */*\r\nX-Custom-Header: v\r\n\r\n")
	var e Environ
	e.Build(req, &testConn, -1)
	if n := testing.AllocsPerRun(100, func() { e.Build(req, &testConn, -1) }); n != 0 {
		t.Fatalf("Environ.Build allocates %v times per request; want 0", n)
	}
	proxied := testConn
	proxied.Forwarder = true // a trusted proxy's request without a SCRIPT_NAME header
	if n := testing.AllocsPerRun(100, func() { e.Build(req, &proxied, -1) }); n != 0 {
		t.Fatalf("Environ.Build allocates %v times per proxied request; want 0", n)
	}
}

func BenchmarkEnvironBuild(b *testing.B) {
	r := httpparse.NewReader(bufio.NewReader(strings.NewReader(
		"GET /api/v1/items?id=42 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: text/html\r\nAccept-Language: en\r\nAccept-Encoding: gzip\r\nCookie: a=b\r\nX-Request-Id: abc\r\n\r\n")), httpparse.DefaultLimits)
	var req httpparse.Request
	if err := r.ReadRequest(&req); err != nil {
		b.Fatal(err)
	}
	var e Environ
	for _, forwarder := range []bool{false, true} {
		c := testConn
		c.Forwarder = forwarder
		b.Run(fmt.Sprintf("forwarder=%v", forwarder), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Build(&req, &c, -1)
			}
		})
	}
}

func TestNewConn(t *testing.T) {
	tcp := func(ip string, port int) *net.TCPAddr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	tests := []struct {
		name          string
		local, remote net.Addr
		scheme        string
		want          Conn
	}{{
		name: "tcp v4", local: tcp("127.0.0.1", 8000), remote: tcp("10.0.0.7", 5555), scheme: "http",
		want: Conn{RemoteAddr: "10.0.0.7", RemotePort: "5555", ServerName: "127.0.0.1", ServerPort: "8000", Scheme: "http"},
	}, {
		name: "tcp v6 has no brackets", local: tcp("::1", 443), remote: tcp("::1", 40000), scheme: "https",
		want: Conn{RemoteAddr: "::1", RemotePort: "40000", ServerName: "::1", ServerPort: "443", Scheme: "https"},
	}, {
		name:  "unix socket",
		local: &net.UnixAddr{Name: "/run/app.sock", Net: "unix"}, remote: &net.UnixAddr{Name: "", Net: "unix"},
		want: Conn{ServerName: "/run/app.sock", ServerPort: "80", Scheme: "http"},
	}, {
		name:  "unnamed unix socket, https",
		local: &net.UnixAddr{Name: "@", Net: "unix"}, remote: &net.UnixAddr{Name: "@", Net: "unix"}, scheme: "https",
		want: Conn{ServerName: "localhost", ServerPort: "443", Scheme: "https"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewConn(tt.local, tt.remote, tt.scheme, ""); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("NewConn = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestMountPoint(t *testing.T) {
	for in, want := range map[string]string{"": "", "/": "", "//": "", "/app": "/app", "/app/": "/app", "app": "/app", "/a/b/": "/a/b"} {
		if got := MountPoint(in); got != want {
			t.Errorf("MountPoint(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestAppendMountedPath(t *testing.T) {
	for _, tc := range []struct {
		raw, root, want string
		ok              bool
	}{
		{"/items", "/api", "/api/items", true},
		{"/api/items", "/api", "", false},
		{"/api", "/api", "", false},
		{"/apis", "/api", "/api/apis", true},
		{"/%61pi/x", "/api", "", false}, // under root once decoded
		{"/caf%C3%A9", "/m", "/m/caf\xc3\xa9", true},
		{"/items", "", "", false},
		{"*", "/api", "", false}, // OPTIONS *
	} {
		got, ok := AppendMountedPath([]byte("keep"), []byte(tc.raw), tc.root)
		if ok != tc.ok || string(got) != "keep"+tc.want {
			t.Errorf("AppendMountedPath(%q, %q) = %q, %v; want %q, %v", tc.raw, tc.root, got, ok, "keep"+tc.want, tc.ok)
		}
	}
}
