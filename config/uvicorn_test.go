package config

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Uvicorn's command line runs with `uvicorn` replaced by `gowsgi -k asgi`.
func TestUvicornCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		check func(*Config) bool
	}{
		{[]string{"--host", "0.0.0.0", "--port", "8001", "--workers", "4"},
			func(c *Config) bool { return slices.Equal(c.Bind, []string{"0.0.0.0:8001"}) && c.Workers == 4 }},
		{[]string{"--port", "9000"}, func(c *Config) bool { return slices.Equal(c.Bind, []string{"127.0.0.1:9000"}) }},
		{[]string{"--host", "::1"}, func(c *Config) bool { return slices.Equal(c.Bind, []string{"[::1]:8000"}) }},
		{[]string{"--uds", "/run/app.sock"}, func(c *Config) bool { return slices.Equal(c.Bind, []string{"unix:/run/app.sock"}) }},
		{[]string{"--fd", "3"}, func(c *Config) bool { return slices.Equal(c.Bind, []string{"fd://3"}) }},
		{[]string{"--factory"}, func(c *Config) bool { return c.App == "main:create()" }},
		{[]string{"--timeout-keep-alive", "5", "--limit-max-requests", "100", "--timeout-graceful-shutdown", "7",
			"--limit-max-requests-jitter", "10"},
			func(c *Config) bool {
				return c.KeepAlive == 5*time.Second && c.MaxRequests == 100 && c.GracefulTimeout == 7*time.Second &&
					c.MaxRequestsJitter == 10
			}},
		{[]string{"--access-log", "--app-dir", "src", "--log-level", "trace"},
			func(c *Config) bool {
				return c.AccessLog == "-" && slices.Equal(c.PythonPath, []string{"src"}) && c.LogLevel == "debug"
			}},
		// Uvicorn's proxy headers, on by default as there.
		{[]string{"--no-proxy-headers"}, func(c *Config) bool { return !c.ProxyHeaders }},
		{[]string{"--proxy-headers"}, func(c *Config) bool { return c.ProxyHeaders }},
		{[]string{"--no-proxy-headers", "--proxy-headers"}, func(c *Config) bool { return c.ProxyHeaders }},
		// Gunicorn's abbreviations mean what they mean to Gunicorn.
		{[]string{"--time", "30"}, func(c *Config) bool { return c.Timeout == 30*time.Second && c.KeepAlive == 2*time.Second }},
	} {
		inTempDir(t, "")
		c, _, err := Load(append(append([]string{"-k", "asgi"}, tc.args...), "main:create"), env(nil), &bytes.Buffer{})
		if err != nil || !tc.check(c) {
			t.Errorf("%v: %v; got bind %v app %q workers %d keepalive %v access %q pythonpath %v level %s timeout %v",
				tc.args, err, c.Bind, c.App, c.Workers, c.KeepAlive, c.AccessLog, c.PythonPath, c.LogLevel, c.Timeout)
		}
	}
}

// TestUvicornHeader: Uvicorn's --header NAME:VALUE (and
// UVICORN_HEADERS) become response headers; Gunicorn reads --header as
// --header-map, whose values never hold a ':'.
func TestUvicornHeader(t *testing.T) {
	inTempDir(t, "")
	c, _, err := Load([]string{"--header", "X-Frame-Options:DENY", "--header", "server: edge ", "--header", "drop", "a:b"},
		env(map[string]string{"UVICORN_HEADERS": "X-A:1 X-B:2"}), &bytes.Buffer{})
	want := []string{"X-Frame-Options: DENY", "server: edge"}
	if err != nil || !slices.Equal(c.ResponseHeaders, want) {
		t.Errorf("--header: %v %q; want %q", err, c.ResponseHeaders, want)
	}
	c, _, err = Load([]string{"a:b"}, env(map[string]string{"UVICORN_HEADERS": "X-A:1 X-B:2"}), &bytes.Buffer{})
	if want := []string{"X-A: 1", "X-B: 2"}; err != nil || !slices.Equal(c.ResponseHeaders, want) {
		t.Errorf("UVICORN_HEADERS: %v %q; want %q", err, c.ResponseHeaders, want)
	}
}

// TestUvicornInterface: Uvicorn's --interface names the worker class;
// auto, its default, leaves it unnamed (an async app is then ASGI).
func TestUvicornInterface(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		class  string
		detect bool
		err    string
	}{
		{args: []string{"--interface", "asgi3"}, class: WorkerClassASGI},
		{args: []string{"--interface", "asgi2"}, class: WorkerClassASGI},
		{args: []string{"--interface", "wsgi"}, class: "sync"},
		{args: []string{"--interface", "auto"}, class: "sync", detect: true},
		{args: nil, class: "sync", detect: true},
		{args: []string{"--interface", "auto", "--threads", "4"}, class: "gthread", detect: true},
		{args: []string{"-k", "gthread"}, class: "gthread"},
		{args: []string{"--interface", "rsgi"}, err: "--interface rsgi: want auto, asgi3, asgi2 or wsgi"},
	} {
		inTempDir(t, "")
		c, _, err := Load(append(tc.args, "main:app"), env(nil), &bytes.Buffer{})
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: %v; want an error saying %q", tc.args, err, tc.err)
			}
		case err != nil || c.WorkerClass != tc.class || c.DetectASGI != tc.detect:
			t.Errorf("%v: %v, worker class %q, detect %v; want %q, %v", tc.args, err, c.WorkerClass, c.DetectASGI, tc.class, tc.detect)
		}
	}
}

func TestUvicornFlagsNoticedOrRefused(t *testing.T) {
	inTempDir(t, "")
	c, _, err := Load([]string{"--no-access-log", "--http", "httptools", "--ws", "websockets",
		"--limit-concurrency", "500", "a:b"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.LimitConcurrency != 500 {
		t.Errorf("LimitConcurrency %d; want --limit-concurrency's 500", c.LimitConcurrency)
	}
	for i, prefix := range []string{"--no-access-log is accepted and ignored: ",
		"--http is accepted and ignored: ", "--ws is accepted and ignored: "} {
		if i >= len(c.Notices) || !strings.HasPrefix(c.Notices[i], prefix) {
			t.Errorf("notices %q; want [%d] to begin %q", c.Notices, i, prefix)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--ws", "none"}, "--ws none: gowsgi cannot turn WebSockets off"},
		{[]string{"--env-file", ".env"}, `--env-file: ".env": no such file or directory`},
		{[]string{"--header", "Content-Length:3"}, `--header: response header "Content-Length:3": gowsgi writes Content-Length itself`},
		{[]string{"--header", "X-A"}, `--header-map: "X-A": want drop or refuse`}, // Gunicorn's reading
		{[]string{"--port", "http"}, "--port http: want a port number"},
		{[]string{"--fd", "x"}, "--fd x: want a file descriptor number"},
		{[]string{"--factory", "main"}, "--factory: app \"main\" names no factory"},
	} {
		inTempDir(t, "")
		args := tc.args
		if args[0] != "--factory" {
			args = append(args, "a:b")
		}
		_, _, err := Load(args, env(nil), &bytes.Buffer{})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: error %v; want it to begin %q", tc.args, err, tc.want)
		}
	}
}

// What the Uvicorn flags do not change: a Gunicorn command line reads
// as before.
func TestUvicornFlagsLeaveGunicornsAlone(t *testing.T) {
	inTempDir(t, "")
	c, _, err := Load([]string{"-b", "127.0.0.1:7000", "--keep-alive", "4", "a:b"}, env(nil), &bytes.Buffer{})
	if err != nil || !reflect.DeepEqual(c.Bind, []string{"127.0.0.1:7000"}) || c.KeepAlive != 4*time.Second || len(c.Notices) != 0 {
		t.Errorf("bind %v keepalive %v notices %q err %v", c.Bind, c.KeepAlive, c.Notices, err)
	}
}
