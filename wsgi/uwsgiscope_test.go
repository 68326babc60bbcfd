package wsgi

import (
	"fmt"
	"testing"

	"github.com/gowsgi/gowsgi/httpparse/uwsgiproto"
)

func TestUwsgiScope(t *testing.T) {
	mounted := Conn{ScriptName: "/srv", Scheme: "https", ServerName: "/run/g.sock"}
	cases := []struct {
		name string
		p    *uwsgiproto.Packet
		c    Conn
		want string
	}{
		{"nginx's uwsgi_params", packet(t, 0, append(nginxVars, "HTTP_COOKIE", "a=1", "HTTP_COOKIE", "b=2",
			"HTTP_CONTENT_TYPE", "x/spoof")...), uwsgiConn,
			`/café /caf%C3%A9 "x=1" "" 1.1 example.com 80 203.0.113.9 "40000" http ` +
				`[[host example.com] [cookie a=1] [cookie b=2]]`},
		{"CONTENT_TYPE and CONTENT_LENGTH", packet(t, 0, "REQUEST_METHOD", "POST", "PATH_INFO", "/",
			"CONTENT_LENGTH", "3", "HTTP_CONTENT_LENGTH", "9", "HTTP_A", "b", "CONTENT_TYPE", "text/plain"), uwsgiConn,
			`/ / "" "" 1.1 127.0.0.1 8000 127.0.0.1 "5555" http [[a b] [content-type text/plain] [content-length 3]]`},
		{"modifier1 30 cuts SCRIPT_NAME", packet(t, 30, "REQUEST_METHOD", "GET", "SCRIPT_NAME", "/app",
			"PATH_INFO", "/app/x", "REQUEST_URI", "/app/x?", "SERVER_PROTOCOL", "HTTP/2.0", "HTTPS", "on"), uwsgiConn,
			`/app/x /app/x "" "/app" 2 127.0.0.1 8000 127.0.0.1 "5555" https []`},
		{"SCRIPT_NAME without modifier1 30 is kept", packet(t, 0, "REQUEST_METHOD", "GET", "SCRIPT_NAME", "/app",
			"PATH_INFO", "/x", "REMOTE_ADDR", "10.0.0.1"), uwsgiConn,
			`/app/x /app/x "" "/app" 1.1 127.0.0.1 8000 10.0.0.1 "" http []`},
		{"the server's mount point, unix socket, magic vars", packet(t, 0, "REQUEST_METHOD", "GET",
			"REQUEST_URI", "/srv/a%20b?q", "UWSGI_SCHEME", "http", "REQUEST_SCHEME", "ftp", "HTTP_X_LONG_NAME_HERE", "v"), mounted,
			`/srv/a b /srv/a%20b "q" "/srv" 1.1 /run/g.sock   "" https [[x-long-name-here v]]`},
	}
	var s UwsgiScope // reused, as the worker does
	for _, tc := range cases {
		s.ReadUwsgi(tc.p, &tc.c)
		got := fmt.Sprintf("%s %s %q %q %s %s %s %s %q %s %s", s.Path, s.RawPath, s.Query, s.ScriptName, s.HTTPVersion,
			s.ServerName, s.ServerPort, s.RemoteAddr, s.RemotePort, s.Scheme, s.Headers)
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// The handshake fields of a WebSocket upgrade as nginx passes them.
func TestUwsgiHeaderAndVersion(t *testing.T) {
	p := packet(t, 0, "REQUEST_METHOD", "GET", "SERVER_PROTOCOL", "HTTP/1.1", "HTTP_UPGRADE", "websocket",
		"HTTP_SEC_WEBSOCKET_PROTOCOL", "a", "HTTP_SEC_WEBSOCKET_PROTOCOL", "b", "HTTP_SEC_WEBSOCKET_KEYX", "no",
		"SEC_WEBSOCKET_KEY", "no", "HTTP_SEC_WEBSOCKET_KEY", "k")
	cases := []struct{ name, want string }{
		{"upgrade", "[websocket]"},
		{"sec-websocket-protocol", "[a b]"},
		{"sec-websocket-key", "[k]"},
		{"origin", "[]"},
	}
	for _, tc := range cases {
		if got := fmt.Sprintf("%s", UwsgiHeader(p, tc.name)); got != tc.want {
			t.Errorf("UwsgiHeader(%q) = %s; want %s", tc.name, got, tc.want)
		}
	}
	versions := []struct {
		protocol     string
		major, minor int
	}{{"HTTP/1.0", 1, 0}, {"HTTP/1.1", 1, 1}, {"HTTP/2.0", 2, 0}, {"", 1, 1}, {"SPDY/3", 1, 1}}
	for _, v := range versions {
		kv := []string{"REQUEST_METHOD", "GET"}
		if v.protocol != "" {
			kv = append(kv, "SERVER_PROTOCOL", v.protocol)
		}
		if major, minor := UwsgiHTTPVersion(packet(t, 0, kv...)); major != v.major || minor != v.minor {
			t.Errorf("SERVER_PROTOCOL %q: %d.%d; want %d.%d", v.protocol, major, minor, v.major, v.minor)
		}
	}
}
