package wsgi

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/gowsgi/gowsgi/httpparse/uwsgiproto"
)

// packet builds and parses a uwsgi packet from key/value pairs.
func packet(t testing.TB, modifier1 uint8, kv ...string) *uwsgiproto.Packet {
	t.Helper()
	var block []byte
	for _, s := range kv {
		block = binary.LittleEndian.AppendUint16(block, uint16(len(s)))
		block = append(block, s...)
	}
	head := [4]byte{modifier1}
	binary.LittleEndian.PutUint16(head[1:3], uint16(len(block)))
	var p uwsgiproto.Packet
	if err := p.Parse(head, block); err != nil {
		t.Fatalf("packet %q: %v", kv, err)
	}
	return &p
}

// nginxVars are the vars of Debian's /etc/nginx/uwsgi_params for
// GET /caf%C3%A9?x=1 from 203.0.113.9.
var nginxVars = []string{
	"QUERY_STRING", "x=1", "REQUEST_METHOD", "GET", "CONTENT_TYPE", "", "CONTENT_LENGTH", "",
	"REQUEST_URI", "/caf%C3%A9?x=1", "PATH_INFO", "/caf\xc3\xa9", "DOCUMENT_ROOT", "/usr/share/nginx/html",
	"SERVER_PROTOCOL", "HTTP/1.1", "REQUEST_SCHEME", "http", "REMOTE_ADDR", "203.0.113.9",
	"REMOTE_PORT", "40000", "SERVER_PORT", "80", "SERVER_NAME", "example.com", "HTTP_HOST", "example.com",
}

var uwsgiConn = Conn{RemoteAddr: "127.0.0.1", RemotePort: "5555", ServerName: "127.0.0.1", ServerPort: "8000", Scheme: "http"}

func TestBuildUwsgi(t *testing.T) {
	tests := []struct {
		name      string
		modifier1 uint8
		vars      []string
		conn      Conn
		want      map[string]string
		absent    []string
	}{{
		name: "nginx uwsgi_params", vars: nginxVars, conn: uwsgiConn,
		want: map[string]string{
			"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/caf\xc3\xa9", "QUERY_STRING": "x=1",
			"RAW_URI": "/caf%C3%A9?x=1", "REQUEST_URI": "/caf%C3%A9?x=1", "SERVER_NAME": "example.com", "SERVER_PORT": "80",
			"SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.9", "REMOTE_PORT": "40000",
			"wsgi.url_scheme": "http", "CONTENT_TYPE": "", "CONTENT_LENGTH": "", "HTTP_HOST": "example.com",
			"DOCUMENT_ROOT": "/usr/share/nginx/html", "REQUEST_SCHEME": "http",
		},
	}, {
		name: "HTTPS on makes https", vars: append(nginxVars[:len(nginxVars):len(nginxVars)], "HTTPS", "on"),
		conn: uwsgiConn, want: map[string]string{"wsgi.url_scheme": "https", "HTTPS": "on"},
	}, {
		name: "REQUEST_SCHEME https makes https",
		vars: []string{"REQUEST_METHOD", "GET", "REQUEST_SCHEME", "https"}, conn: uwsgiConn,
		want: map[string]string{"wsgi.url_scheme": "https"},
	}, {
		name: "HTTPS off keeps the connection's scheme",
		vars: []string{"REQUEST_METHOD", "GET", "HTTPS", "off"}, conn: uwsgiConn,
		want: map[string]string{"wsgi.url_scheme": "http"},
	}, {
		name: "magic vars are dropped, in any case",
		vars: []string{"REQUEST_METHOD", "GET", "UWSGI_SCRIPT", "evil:app", "UWSGI_FILE", "/tmp/evil.py",
			"UWSGI_CHDIR", "/", "UWSGI_SCHEME", "https", "uwsgi_pyhome", "/venv", "wsgi.url_scheme", "https",
			"wsgi.input", "x"},
		conn:   uwsgiConn,
		want:   map[string]string{"wsgi.url_scheme": "http"},
		absent: []string{"UWSGI_SCRIPT", "UWSGI_FILE", "UWSGI_CHDIR", "UWSGI_SCHEME", "uwsgi_pyhome", "wsgi.input"},
	}, {
		name: "repeated headers joined, cookies with semicolons",
		vars: []string{"REQUEST_METHOD", "GET", "HTTP_X_TAG", "one", "HTTP_COOKIE", "a=1", "HTTP_X_TAG", "two",
			"HTTP_COOKIE", "b=2", "HTTP_X_TAG", "three"},
		conn: uwsgiConn,
		want: map[string]string{"HTTP_X_TAG": "one, two, three", "HTTP_COOKIE": "a=1; b=2"},
	}, {
		name: "modifier1 30 cuts SCRIPT_NAME off PATH_INFO", modifier1: 30,
		vars: []string{"REQUEST_METHOD", "GET", "SCRIPT_NAME", "/app", "PATH_INFO", "/app/hello"}, conn: uwsgiConn,
		want: map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/hello"},
	}, {
		name: "modifier1 30 cuts only at a segment boundary", modifier1: 30,
		vars: []string{"REQUEST_METHOD", "GET", "SCRIPT_NAME", "/app", "PATH_INFO", "/apple"}, conn: uwsgiConn,
		want: map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/apple"},
	}, {
		name: "modifier1 0 leaves a sent SCRIPT_NAME and PATH_INFO alone (Apache)",
		vars: []string{"REQUEST_METHOD", "GET", "SCRIPT_NAME", "/app", "PATH_INFO", "/app/x"}, conn: uwsgiConn,
		want: map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/app/x"},
	}, {
		name: "server mount point applies when no SCRIPT_NAME is sent",
		vars: []string{"REQUEST_METHOD", "GET", "PATH_INFO", "/mnt/x"},
		conn: Conn{ServerName: "h", ServerPort: "80", Scheme: "http", ScriptName: "/mnt"},
		want: map[string]string{"SCRIPT_NAME": "/mnt", "PATH_INFO": "/x"},
	}, {
		name: "missing keys completed from REQUEST_URI and the connection",
		vars: []string{"REQUEST_METHOD", "POST", "REQUEST_URI", "/a%20b/c?q=1&r=%20"}, conn: uwsgiConn,
		want: map[string]string{
			"PATH_INFO": "/a b/c", "QUERY_STRING": "q=1&r=%20", "SCRIPT_NAME": "", "RAW_URI": "/a%20b/c?q=1&r=%20",
			"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
			"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "5555",
		},
	}, {
		name: "nothing but a method", vars: []string{"REQUEST_METHOD", "GET"},
		conn: Conn{ServerName: "/run/app.sock", ServerPort: "80", Scheme: "http"},
		want: map[string]string{
			"PATH_INFO": "", "QUERY_STRING": "", "SCRIPT_NAME": "", "REMOTE_ADDR": "",
			"SERVER_NAME": "/run/app.sock", "SERVER_PORT": "80",
		},
		absent: []string{"RAW_URI", "REMOTE_PORT"},
	}, {
		name: "a sent REMOTE_ADDR without a port does not borrow the proxy's port",
		vars: []string{"REQUEST_METHOD", "GET", "REMOTE_ADDR", "198.51.100.1"}, conn: uwsgiConn,
		want:   map[string]string{"REMOTE_ADDR": "198.51.100.1"},
		absent: []string{"REMOTE_PORT"},
	}, {
		name: "a sent RAW_URI is replaced by REQUEST_URI's",
		vars: []string{"REQUEST_METHOD", "GET", "RAW_URI", "/spoof", "REQUEST_URI", "/real"}, conn: uwsgiConn,
		want: map[string]string{"RAW_URI": "/real", "PATH_INFO": "/real"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Environ
			e.BuildUwsgi(packet(t, tt.modifier1, tt.vars...), &tt.conn)
			got := decode(t, e.Bytes())
			for k, v := range tt.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %q (present %v); want %q", k, g, ok, v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s present; want absent", k)
				}
			}
			for _, k := range []string{"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING",
				"SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "wsgi.url_scheme"} {
				if _, ok := got[k]; !ok {
					t.Errorf("PEP 3333 key %s missing", k)
				}
			}
		})
	}
}

// TestBuildUwsgiCapturedPackets builds the environ of packets recorded
// from nginx and Apache and checks the keys an app relies on.
func TestBuildUwsgiCapturedPackets(t *testing.T) {
	tests := []struct {
		file string
		want map[string]string
	}{
		{"nginx-get-query.uwsgi", map[string]string{"PATH_INFO": "/caf\xc3\xa9/x", "QUERY_STRING": "a=1&b=%20",
			"SCRIPT_NAME": "", "REQUEST_METHOD": "GET", "HTTP_USER_AGENT": "test"}},
		{"nginx-mounted-modifier30.uwsgi", map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/hello"}},
		{"nginx-post-form.uwsgi", map[string]string{"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "15",
			"CONTENT_TYPE": "application/x-www-form-urlencoded"}},
		{"nginx-repeated-header.uwsgi", map[string]string{"HTTP_X_TAG": "one, two", "HTTP_COOKIE": "a=1; b=2"}},
		{"apache-get-query.uwsgi", map[string]string{"PATH_INFO": "/caf\xc3\xa9/x", "QUERY_STRING": "a=1&b=%20",
			"SCRIPT_NAME": ""}},
		{"apache-mounted.uwsgi", map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/hello", "QUERY_STRING": "q=1"}},
		{"apache-post-form.uwsgi", map[string]string{"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "15"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("..", "httpparse", "uwsgiproto", "testdata", "packets", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var p uwsgiproto.Packet
			if err := uwsgiproto.ReadPacket(bytes.NewReader(in), &p); err != nil {
				t.Fatal(err)
			}
			var e Environ
			e.BuildUwsgi(&p, &uwsgiConn)
			got := decode(t, e.Bytes())
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q; want %q", k, got[k], v)
				}
			}
			if got["wsgi.url_scheme"] != "http" || got["REMOTE_ADDR"] != "127.0.0.1" {
				t.Errorf("scheme %q, REMOTE_ADDR %q", got["wsgi.url_scheme"], got["REMOTE_ADDR"])
			}
		})
	}
}

func BenchmarkBuildUwsgiNginx(b *testing.B) {
	p := packet(b, 0, nginxVars...)
	var e Environ
	for b.Loop() {
		e.BuildUwsgi(p, &uwsgiConn)
	}
}

// FuzzBuildUwsgi builds the environ of every packet the parser accepts.
// Invariants: no panic, no key encoded twice, PEP 3333's required keys
// present, no magic var and no wsgi.* key but the server's own.
func FuzzBuildUwsgi(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "httpparse", "uwsgiproto", "testdata", "packets", "*.uwsgi"))
	for _, name := range files {
		in, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var p uwsgiproto.Packet
		if uwsgiproto.ReadPacket(bytes.NewReader(in), &p) != nil {
			return
		}
		var e Environ
		e.BuildUwsgi(&p, &uwsgiConn)
		got := decode(t, e.Bytes())
		for _, k := range []string{"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING",
			"SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "wsgi.url_scheme"} {
			if _, ok := got[k]; !ok {
				t.Fatalf("PEP 3333 key %s missing", k)
			}
		}
		for k := range got {
			if isMagicVar([]byte(k)) && k != "wsgi.url_scheme" {
				t.Fatalf("%q reached the environ", k)
			}
		}
	})
}
