package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The environ, wsgi.input and wsgi.errors of PEP 3333, seen by apps that
// wsgiref.validate checks (testdata/apps/pep3333.py).

// environOf sends raw on a fresh connection to the environ app and
// returns the environ it saw.
func environOf(t *testing.T, network, addr, raw string) map[string]any {
	t.Helper()
	w := dialWire(t, network, addr)
	resp, body := w.roundTrip("GET", raw)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("%v in %q", err, body)
	}
	return env
}

// expectEnviron compares env with want: a string is a str value, a
// [type, repr] pair a non-str one; nil means the key must be absent.
func expectEnviron(t *testing.T, env map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, ok := env[k]
		switch {
		case v == nil && ok:
			t.Errorf("%s = %#v; want it absent", k, got)
		case v != nil && !ok:
			t.Errorf("%s is missing; want %#v", k, v)
		case v != nil && fmt.Sprint(got) != fmt.Sprint(v):
			t.Errorf("%s = %#v; want %#v", k, got, v)
		}
	}
}

func TestEnvironOverTCP(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:environ"}})
	w := dialWire(t, "tcp", s.addr)
	_, clientPort, _ := net.SplitHostPort(w.c.LocalAddr().String())
	// Percent-encoded and raw non-ASCII bytes, a repeated header, a
	// fragment, and a header name with an underscore (dropped).
	target := "/a%20b/caf\xc3\xa9/%C3%A9%FF?x=1&y=%20&z=%C3%A9#frag"
	resp, body := w.roundTrip("GET", "GET "+target+" HTTP/1.1\r\nHost: test.example:8080\r\n"+
		"X-Multi: 1\r\nX-Multi: 2\r\nX_Multi: spoof\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	expectEnviron(t, env, map[string]any{
		"REQUEST_METHOD": "GET",
		"SCRIPT_NAME":    "",
		// the bytes of the decoded path, each as one latin-1 character
		"PATH_INFO":             "/a b/caf\u00c3\u00a9/\u00c3\u00a9\u00ff",
		"QUERY_STRING":          "x=1&y=%20&z=%C3%A9",
		"RAW_URI":               "/a%20b/caf\u00c3\u00a9/%C3%A9%FF?x=1&y=%20&z=%C3%A9#frag",
		"SERVER_NAME":           "test.example",
		"SERVER_PORT":           "8080",
		"SERVER_PROTOCOL":       "HTTP/1.1",
		"SERVER_SOFTWARE":       "gowsgi",
		"REMOTE_ADDR":           "127.0.0.1",
		"REMOTE_PORT":           clientPort,
		"HTTP_HOST":             "test.example:8080",
		"HTTP_X_MULTI":          "1, 2", // without the X_Multi spoof
		"CONTENT_TYPE":          nil,
		"CONTENT_LENGTH":        nil,
		"wsgi.version":          []any{"tuple", "(1, 0)"},
		"wsgi.url_scheme":       "http",
		"wsgi.multithread":      []any{"bool", "False"},
		"wsgi.multiprocess":     []any{"bool", "False"}, // one worker, as Gunicorn's cfg.workers > 1
		"wsgi.run_once":         []any{"bool", "False"},
		"wsgi.input_terminated": []any{"bool", "True"},
		"wsgi.input":            []any{"Input", nil},
		"wsgi.errors":           []any{"Errors", nil},
		"wsgi.file_wrapper":     []any{"type", nil},
	})
}

func TestEnvironOfABody(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--threads", "2", "-w", "2", "pep3333:environ"}, ready: 2})
	env := environOf(t, "tcp", s.addr, "POST /form HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Content-Length: 3\r\nConnection: close\r\n\r\nabc")
	expectEnviron(t, env, map[string]any{
		"REQUEST_METHOD":      "POST",
		"CONTENT_TYPE":        "text/plain; charset=utf-8",
		"CONTENT_LENGTH":      "3",
		"HTTP_CONTENT_TYPE":   nil,
		"HTTP_CONTENT_LENGTH": nil,
		"SERVER_PORT":         "80",
		"QUERY_STRING":        "",
		"wsgi.multithread":    []any{"bool", "True"},
		"wsgi.multiprocess":   []any{"bool", "True"},
	})
	// A worker forked by the preload zygote says the same.
	for workers, want := range map[string]string{"1": "False", "2": "True"} {
		s := start(t, serverOpts{args: []string{"--preload", "-w", workers, "pep3333:environ"}, ready: int(workers[0] - '0')})
		env := environOf(t, "tcp", s.addr, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		expectEnviron(t, env, map[string]any{"wsgi.multiprocess": []any{"bool", want}})
	}
}

func TestEnvironOverUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	start(t, serverOpts{args: []string{"-b", "unix:" + sock, "pep3333:environ"}})
	// With a Host, the server keys come from it, as over TCP.
	env := environOf(t, "unix", sock, "GET / HTTP/1.1\r\nHost: example.org:8443\r\nConnection: close\r\n\r\n")
	expectEnviron(t, env, map[string]any{
		"SERVER_NAME": "example.org", "SERVER_PORT": "8443",
		"REMOTE_ADDR": "", "REMOTE_PORT": nil, // Gunicorn's choice: the peer has no address
	})
	// Without one (HTTP/1.0), the socket path and the scheme's port:
	// PEP 3333 wants both non-empty.
	env = environOf(t, "unix", sock, "GET / HTTP/1.0\r\n\r\n")
	expectEnviron(t, env, map[string]any{"SERVER_NAME": sock, "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.0"})
}

// TestScriptNameFromTheServerEnvironment: the mount point comes from the
// server's SCRIPT_NAME variable, or --root-path.
func TestScriptNameFromTheServerEnvironment(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts serverOpts
	}{
		{"environment", serverOpts{args: []string{"pep3333:environ"}, env: []string{"SCRIPT_NAME=/mount/"}}},
		{"--env", serverOpts{args: []string{"-e", "SCRIPT_NAME=/mount", "pep3333:environ"}}},
		// Gunicorn's (ASGI) and Uvicorn's flag, over the variable.
		{"--root-path", serverOpts{args: []string{"--root-path", "/mount", "pep3333:environ"}, env: []string{"SCRIPT_NAME=/other"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.opts)
			var env map[string]any
			getJSON(t, s, "/mount/x/y?q", &env)
			expectEnviron(t, env, map[string]any{"SCRIPT_NAME": "/mount", "PATH_INFO": "/x/y", "QUERY_STRING": "q"})
			getJSON(t, s, "/mount", &env)
			expectEnviron(t, env, map[string]any{"SCRIPT_NAME": "/mount", "PATH_INFO": ""})
		})
	}
}

func TestWSGIInput(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:input_ops"}})
	const body = "line one\nline two\nthree\n\nlast"
	tests := []struct {
		ops  string
		want []any
	}{
		{"read:-1", []any{body}},
		{"read:4,read:0,read:5,read:-1", []any{"line", "", " one\n", "line two\nthree\n\nlast"}},
		{"readline,readline:4,readline,readline:100", []any{"line one\n", "line", " two\n", "three\n"}},
		{"readlines", []any{[]any{"line one\n", "line two\n", "three\n", "\n", "last"}}},
		{"readlines:10,read:-1", []any{[]any{"line one\n", "line two\n"}, "three\n\nlast"}},
		{"read:2,iter", []any{"li", []any{"ne one\n", "line two\n", "three\n", "\n", "last"}}},
		{"read:-1,read:1,readline,readlines", []any{body, "", "", []any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.ops, func(t *testing.T) {
			code, got := do(t, http.MethodPost, s.url("/?ops="+tt.ops), body)
			if code != 200 {
				t.Fatalf("status %d: %s", code, got)
			}
			if want, _ := json.Marshal(tt.want); got != string(want) {
				t.Fatalf("ops %s gave %s; want %s", tt.ops, got, want)
			}
		})
	}
	t.Run("no body", func(t *testing.T) {
		code, got := do(t, http.MethodGet, s.url("/?ops=read:-1,read:10,readline,readlines,iter"), "")
		if want := `["","","",[],[]]`; code != 200 || got != want {
			t.Fatalf("a body-less request read %d %s; want %s", code, got, want)
		}
	})
}

func TestWSGIInputChunkedAndLarge(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:digest"}})
	// 8 MiB sent chunked (no length known up front): de-chunked, EOF at
	// its end.
	payload := bytes.Repeat([]byte("0123456789abcdef"), 512<<10)
	req, _ := http.NewRequest(http.MethodPost, s.url("/"), io.MultiReader(bytes.NewReader(payload)))
	req.ContentLength = -1
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(payload)
	want := strconv.Itoa(len(payload)) + " " + hex.EncodeToString(sum[:]) + " "
	if resp.StatusCode != 200 || !strings.HasPrefix(string(got), want) {
		t.Fatalf("chunked upload: %d %q; want %q...", resp.StatusCode, got, want)
	}
}

func TestWSGIInputReadAllAndTerminated(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:input_raw"}})
	w := dialWire(t, "tcp", s.addr)
	resp, body := w.roundTrip("POST", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
	if want := `hello world|[11,"","11",true]`; resp.StatusCode != 200 || body != want {
		t.Fatalf("chunked body read with read(): %d %q; want %q", resp.StatusCode, body, want)
	}
}

func TestUnreadBodyDoesNotLeakIntoTheNextRequest(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:ignore_body"}})
	w := dialWire(t, "tcp", s.addr)
	// The body looks like a request: if it were not consumed, it would be
	// served as one.
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
	resp, body := w.roundTrip("POST", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: "+strconv.Itoa(len(smuggled))+"\r\n\r\n"+smuggled)
	if resp.StatusCode != 200 || body != "ignored" {
		t.Fatalf("first response %d %q", resp.StatusCode, body)
	}
	resp, body = w.roundTrip("GET", "GET /second HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 || body != "ignored" {
		t.Fatalf("second response %d %q", resp.StatusCode, body)
	}
	if rest := w.rest(); rest != "" {
		t.Fatalf("extra bytes after the second response: %q", rest)
	}
}

func TestWSGIErrorsGoToTheErrorLog(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:errors"}})
	if code, body := s.get("/?tag=T7"); code != 200 || body != "logged" {
		t.Fatalf("GET = %d %q", code, body)
	}
	want := []string{"first T7 line\nsecond T7\nthird T7", "fourth T7", "fifth T7", "sixth T7"}
	var got []string
	s.waitFor(func() bool {
		got = got[:0]
		for _, l := range s.logWhere(func(l logLine) bool { return l.str("source") == "wsgi.errors" }) {
			if l.str("source") == "wsgi.errors" {
				got = append(got, l.str("message"))
				if l.str("role") != "worker" || l.num("worker") != 1 || l.num("pid") == 0 {
					t.Errorf("wsgi.errors line without the worker's context: %v", l)
				}
			}
		}
		return len(got) >= len(want)
	})
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("wsgi.errors logged %q; want %q", got, want)
	}
}

// TestHeaderMapRefuse: with --header-map refuse (Gunicorn's header_map),
// a request with a header name that has an underscore gets a 400 and a
// close, where the default drops the header; a trusted proxy's
// SCRIPT_NAME header still passes, as Gunicorn's forwarder_headers let it.
func TestHeaderMapRefuse(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--header-map", "refuse", "pep3333:environ"}})
	for _, tc := range []struct {
		header string
		want   int
	}{{"X_Custom: 1", 400}, {"X-Custom: 1", 200}, {"SCRIPT_NAME: /mount", 200}} {
		raw := rawResponse(t, s.address(), "GET /mount/x HTTP/1.1\r\nHost: t\r\n"+tc.header+"\r\nConnection: close\r\n\r\n")
		if want := fmt.Sprintf("HTTP/1.1 %d ", tc.want); !bytes.HasPrefix(raw, []byte(want)) {
			t.Errorf("%s: %q; want %s", tc.header, raw, want)
		}
		if tc.header == "SCRIPT_NAME: /mount" && !bytes.Contains(raw, []byte(`"SCRIPT_NAME": "/mount"`)) {
			t.Errorf("a trusted proxy's SCRIPT_NAME header is not the mount point: %q", raw)
		}
	}
	if n := len(s.linesWhere(func(m string) bool { return m == "bad request" })); n != 1 {
		t.Errorf("%d bad request lines; want the refused one", n)
	}
}
