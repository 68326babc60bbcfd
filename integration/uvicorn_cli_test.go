package integration

import (
	"strings"
	"testing"
)

// TestUvicornCommandLine: a command line written for Uvicorn runs with
// `uvicorn` replaced by `gowsgi -k asgi`: --host and --port bind (port 0:
// any free one, as Uvicorn), --factory calls the app spec, --access-log
// writes access lines to stdout, and Uvicorn's timeout names apply.
func TestUvicornCommandLine(t *testing.T) {
	s := start(t, serverOpts{bare: true, args: []string{"--chdir", appsDir, "-k", "asgi", "asgi_block:make",
		"--host", "127.0.0.1", "--port", "0", "--factory", "--access-log", "--timeout-keep-alive", "5",
		"--limit-max-requests", "1000", "--workers", "2"}, ready: 2})
	if !strings.HasPrefix(s.address(), "127.0.0.1:") {
		t.Fatalf("listening on %q; want 127.0.0.1", s.address())
	}
	code, body := s.get("/")
	if code != 200 || body == "" {
		t.Fatalf("GET /: %d %q", code, body)
	}
	s.waitFor(func() bool { return strings.Contains(s.output(), `"GET / HTTP/1.1" 200`) })
	if n := len(s.linesWhere(func(m string) bool { return strings.Contains(m, "accepted and ignored") })); n != 0 {
		t.Errorf("%d notices for flags gowsgi reads as Uvicorn does; want none:\n%s", n, s.output())
	}
}

// TestUvicornVariables: a container set up with Uvicorn's variables
// (UVICORN_HOST, UVICORN_PORT, UVICORN_WORKERS, UVICORN_APP, ...) serves
// as they say, each one noticed. (Which source wins: config's tests.)
func TestUvicornVariables(t *testing.T) {
	s := start(t, serverOpts{bare: true, args: []string{"--chdir", appsDir, "-k", "asgi"},
		env: []string{"UVICORN_HOST=127.0.0.1", "UVICORN_PORT=0", "UVICORN_APP=asgi_block:make", "UVICORN_FACTORY=true",
			"UVICORN_WORKERS=2", "UVICORN_ACCESS_LOG=1"},
		ready: 2})
	if !strings.HasPrefix(s.address(), "127.0.0.1:") {
		t.Fatalf("listening on %q; want 127.0.0.1", s.address())
	}
	if code, body := s.get("/"); code != 200 || body == "" {
		t.Fatalf("GET /: %d %q", code, body)
	}
	s.waitFor(func() bool { return strings.Contains(s.output(), `"GET / HTTP/1.1" 200`) })
	for _, want := range []string{
		"UVICORN_HOST, UVICORN_PORT, UVICORN_APP: read as Uvicorn's --host 127.0.0.1 and --port 0 and app asgi_block:make",
		"UVICORN_FACTORY: read as Uvicorn's --factory true",
		"UVICORN_WORKERS: read as Uvicorn's --workers 2",
	} {
		if len(s.find(want)) != 1 {
			t.Errorf("no notice %q", want)
		}
	}
}
