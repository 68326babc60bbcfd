package wsgi

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/httpparse"
)

var httpKey = regexp.MustCompile(`^HTTP_[A-Z0-9_]+$`)

// FuzzEnviron feeds any request the parser accepts, under any mount
// point, through Build and checks what PEP 3333 promises the app: the
// required keys, well-formed header keys, no HTTP_CONTENT_*, and a path
// split whose halves add up to the decoded request path.
func FuzzEnviron(f *testing.F) {
	for _, seed := range []struct{ raw, mount string }{
		{"GET / HTTP/1.1\r\nHost: h\r\n\r\n", ""},
		{"GET /app/a%20b?q=1#f HTTP/1.1\r\nHost: [::1]:80\r\nX-A: 1\r\nx-a: 2\r\n\r\n", "/app"},
		{"POST /x HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc", "/x/"},
		{"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", ""},
		{"GET http://example.com:81/p%ff?x HTTP/1.1\r\nHost: example.com:81\r\n\r\n", "p"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n0\r\n\r\n", ""},
		{"GET /shop/a HTTP/1.1\r\nHost: h\r\nSCRIPT_NAME: /shop/\r\nPATH_INFO: /x\r\n\r\n", "/app"},
	} {
		f.Add([]byte(seed.raw), seed.mount, int64(3))
	}
	f.Fuzz(func(t *testing.T, raw []byte, mount string, bodyLen int64) {
		r := httpparse.NewReader(bufio.NewReader(bytes.NewReader(raw)), httpparse.DefaultLimits)
		var req httpparse.Request
		if r.ReadRequest(&req) != nil {
			return
		}
		for _, forwarder := range []bool{false, true} {
			c := testConn
			c.ScriptName, c.Forwarder = MountPoint(mount), forwarder
			checkEnviron(t, &req, &c, bodyLen)
		}
	})
}

// checkEnviron builds req's environ and checks FuzzEnviron's promises.
// A trusted proxy (c.Forwarder) may name the mount point in a
// SCRIPT_NAME header.
func checkEnviron(t *testing.T, req *httpparse.Request, c *Conn, bodyLen int64) {
	t.Helper()
	var e Environ
	e.Build(req, c, max(bodyLen, -1))
	env := decode(t, e.Bytes())
	for _, k := range []string{"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING",
		"SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "wsgi.url_scheme"} {
		if _, ok := env[k]; !ok {
			t.Fatalf("%s missing from %q", k, env)
		}
	}
	if env["SERVER_NAME"] == "" || env["SERVER_PORT"] == "" {
		t.Fatalf("empty SERVER_NAME or SERVER_PORT: %q", env)
	}
	for k, v := range env {
		if strings.HasPrefix(k, "HTTP_") && !httpKey.MatchString(k) {
			t.Fatalf("header key %q", k)
		}
		if k == "HTTP_CONTENT_TYPE" || k == "HTTP_CONTENT_LENGTH" {
			t.Fatalf("%s present", k)
		}
		if k == "CONTENT_LENGTH" && strings.Trim(v, "0123456789") != "" {
			t.Fatalf("CONTENT_LENGTH %q", v)
		}
	}
	if strings.Contains(env["QUERY_STRING"], "#") {
		t.Fatalf("fragment in QUERY_STRING %q", env["QUERY_STRING"])
	}
	if got, want := env["SCRIPT_NAME"]+env["PATH_INFO"], string(AppendUnescapedPath(nil, req.Path)); got != want &&
		got != env["SCRIPT_NAME"]+want {
		t.Fatalf("SCRIPT_NAME %q + PATH_INFO %q; the request path is %q", env["SCRIPT_NAME"], env["PATH_INFO"], want)
	}
	if _, ok := env["HTTP_SCRIPT_NAME"]; ok && !c.Forwarder {
		t.Fatalf("HTTP_SCRIPT_NAME from a peer that is no trusted proxy")
	}
}
