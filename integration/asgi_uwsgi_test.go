package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// asgiEcho is what testdata/apps/asgi_echo.py answers: the scope and
// the request body.
type asgiEcho struct {
	Type        string     `json:"type"`
	HTTPVersion string     `json:"http_version"`
	Method      string     `json:"method"`
	Scheme      string     `json:"scheme"`
	Path        string     `json:"path"`
	RawPath     string     `json:"raw_path"`
	Query       string     `json:"query_string"`
	RootPath    string     `json:"root_path"`
	Headers     [][]string `json:"headers"`
	Client      []any      `json:"client"`
	Server      []any      `json:"server"`
	Body        string     `json:"body"`
}

func decodeEcho(t *testing.T, body string) asgiEcho {
	t.Helper()
	var e asgiEcho
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("%v: %q", err, body)
	}
	return e
}

// headerValues are the values of the scope's headers named name, in order.
func (e *asgiEcho) headerValues(name string) []string {
	var vs []string
	for _, h := range e.Headers {
		if h[0] == name {
			vs = append(vs, h[1])
		}
	}
	return vs
}

func (e *asgiEcho) check(t *testing.T, want asgiEcho) {
	t.Helper()
	got := *e
	got.Headers, got.Client, got.Server, got.Body = nil, nil, nil, ""
	want.Headers, want.Client, want.Server, want.Body = nil, nil, nil, ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("scope\n got %+v\nwant %+v", got, want)
	}
}

// TestASGIUwsgiBehindNginx: an ASGI app behind nginx's uwsgi_pass
// (examples/nginx/gowsgi-uwsgi.conf, Debian's uwsgi_params), over TCP
// and a unix socket: the scope comes from the packet's CGI vars, the
// request body reaches receive().
func TestASGIUwsgiBehindNginx(t *testing.T) {
	for _, transport := range []string{"tcp", "unix"} {
		t.Run(transport, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "gowsgi.sock")
			s := start(t, serverOpts{args: []string{"-k", "asgi", "--protocol", "uwsgi", "-b", "unix:" + sock, "asgi_echo:app"}})
			upstream := s.addr
			if transport == "unix" {
				upstream = "unix:" + sock
			}
			n := startNginx(t, renderExample(t, "examples/nginx/gowsgi-uwsgi.conf", map[string]string{
				"server 127.0.0.1:8001": "server " + upstream,
			}))
			t.Run("root", func(t *testing.T) {
				req, _ := http.NewRequest("GET", n.url("/a%20b/c?q=a%20b&x=1"), nil)
				req.Header.Add("X-Tag", "one")
				req.Header.Add("X-Tag", "two")
				e := nginxEcho(t, req)
				e.check(t, asgiEcho{Type: "http", HTTPVersion: "1.1", Method: "GET", Scheme: "http",
					Path: "/a b/c", RawPath: "/a%20b/c", Query: "q=a%20b&x=1", RootPath: ""})
				if tags := e.headerValues("x-tag"); fmt.Sprint(tags) != "[one two]" {
					t.Errorf("x-tag headers %q; want one and two, apart (headers %v)", tags, e.Headers)
				}
				if h := e.headerValues("host"); fmt.Sprint(h) != "[127.0.0.1]" {
					t.Errorf("host %q (headers %v)", h, e.Headers)
				}
				if len(e.Client) != 2 || e.Client[0] != "127.0.0.1" || e.Client[1] == float64(0) {
					t.Errorf("client %v; want 127.0.0.1 and the port nginx saw", e.Client)
				}
				if len(e.Server) != 2 || e.Server[1] != float64(n.port) {
					t.Errorf("server %v; want nginx's port %d", e.Server, n.port)
				}
			})
			t.Run("mounted with modifier1 30, POST body", func(t *testing.T) {
				body := strings.Repeat("0123456789", 10000)
				req, _ := http.NewRequest("POST", n.url("/app/in%2Fside/x?y=2"), strings.NewReader(body))
				req.Header.Set("Content-Type", "text/plain; charset=utf-8")
				e := nginxEcho(t, req)
				e.check(t, asgiEcho{Type: "http", HTTPVersion: "1.1", Method: "POST", Scheme: "http",
					Path: "/app/in/side/x", RawPath: "/app/in%2Fside/x", Query: "y=2", RootPath: "/app"})
				if e.Body != body {
					t.Errorf("body: %d bytes came; want %d", len(e.Body), len(body))
				}
				if ct, cl := e.headerValues("content-type"), e.headerValues("content-length"); fmt.Sprint(ct) != "[text/plain; charset=utf-8]" ||
					fmt.Sprint(cl) != "["+strconv.Itoa(len(body))+"]" {
					t.Errorf("content-type %q, content-length %q (headers %v)", ct, cl, e.Headers)
				}
			})
		})
	}
}

func nginxEcho(t *testing.T, req *http.Request) asgiEcho {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, %v: %s", resp.StatusCode, err, b)
	}
	return decodeEcho(t, string(b))
}

// TestASGIUwsgiPackets: packets as other front ends write them. Without
// REQUEST_URI the path comes from SCRIPT_NAME and PATH_INFO; HTTPS=on
// makes the scheme https and UWSGI_SCHEME does nothing, as for WSGI.
// WebSocket upgrades in packets: asgi_uwsgi_ws_test.go.
func TestASGIUwsgiPackets(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "--protocol", "uwsgi", "asgi_echo:app"}})
	t.Run("PATH_INFO, HTTPS", func(t *testing.T) {
		status, body := uwsgiRequest(t, "tcp", s.addr, uwsgiPacket(0,
			"REQUEST_METHOD", "PUT", "SCRIPT_NAME", "/m", "PATH_INFO", "/p q", "QUERY_STRING", "k=v",
			"SERVER_PROTOCOL", "HTTP/1.0", "SERVER_NAME", "example.org", "SERVER_PORT", "443",
			"REMOTE_ADDR", "192.0.2.7", "REMOTE_PORT", "5555", "HTTPS", "on", "HTTP_X_A_B", "c"))
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		e := decodeEcho(t, body)
		e.check(t, asgiEcho{Type: "http", HTTPVersion: "1.0", Method: "PUT", Scheme: "https",
			Path: "/m/p q", RawPath: "/m/p q", Query: "k=v", RootPath: "/m"})
		if fmt.Sprint(e.Client, e.Server) != "[192.0.2.7 5555] [example.org 443]" {
			t.Errorf("client %v, server %v", e.Client, e.Server)
		}
		if fmt.Sprint(e.Headers) != "[[x-a-b c]]" {
			t.Errorf("headers %v", e.Headers)
		}
	})
	t.Run("UWSGI_SCHEME", func(t *testing.T) {
		status, body := uwsgiRequest(t, "tcp", s.addr, uwsgiPacket(0,
			"REQUEST_METHOD", "GET", "REQUEST_URI", "/ws", "UWSGI_SCHEME", "https", "wsgi.url_scheme", "https"))
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		e := decodeEcho(t, body)
		e.check(t, asgiEcho{Type: "http", HTTPVersion: "1.1", Method: "GET", Scheme: "http",
			Path: "/ws", RawPath: "/ws", RootPath: ""})
		if len(e.Client) != 2 || e.Client[0] != "127.0.0.1" {
			t.Errorf("client %v; want the connection's peer", e.Client)
		}
	})
}
