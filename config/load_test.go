package config

import (
	"bytes"
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// env builds a getenv from a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// inTempDir runs the test in a fresh directory holding ./gowsgi.toml
// with contents file, unless file is "".
func inTempDir(t *testing.T, file string) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if file != "" {
		if err := os.WriteFile(DefaultConfigFile, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadDefaults(t *testing.T) {
	inTempDir(t, "")
	c, action, err := Load([]string{"app:app"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		App:                   "app:app",
		Bind:                  []string{"127.0.0.1:8000"},
		Backlog:               2048,
		Workers:               1,
		WorkerClass:           "sync",
		DetectASGI:            true, // no worker class named
		Threads:               1,
		ASGILoop:              "auto",
		ASGILifespan:          "auto",
		WSMaxSize:             16 << 20,
		WSPingInterval:        20 * time.Second,
		WSPingTimeout:         20 * time.Second,
		WorkerConnections:     20000,
		Timeout:               30 * time.Second,
		GracefulTimeout:       30 * time.Second,
		KeepAlive:             2 * time.Second,
		HeaderTimeout:         30 * time.Second,
		FirstByteTimeout:      5 * time.Second,
		HeaderMinRate:         500,
		BodyTimeout:           30 * time.Second,
		BodyMinRate:           500,
		WriteTimeout:          30 * time.Second,
		MaxBufferedBody:       1 << 20,
		BodyMemoryBudget:      64 << 20,
		BodySpillBudget:       1 << 30,
		ResponseBuffer:        4 << 20,
		ResponseMemoryBudget:  64 << 20,
		LimitRequestLine:      4094,
		LimitRequestFields:    100,
		LimitRequestFieldSize: 8190,
		PythonPath:            []string{},
		Env:                   []string{},
		ReloadExtraFiles:      []string{},
		AccessLogFormat:       defaultAccessLogFormat,
		ErrorLog:              "-",
		LogLevel:              "info",
		SyslogAddr:            "udp://localhost:514",
		SyslogFacility:        "user",
		ForwardedAllowIPs:     []string{"127.0.0.1", "::1"},
		HeaderMap:             "drop",
		SecureSchemeHeaders:   `{"X-FORWARDED-PROTO":"https","X-FORWARDED-PROTOCOL":"ssl","X-FORWARDED-SSL":"on"}`,
		ProxyAllowFrom:        []string{"127.0.0.1"},
		Protocol:              "http",
		UwsgiAllowIPs:         []string{"127.0.0.1", "::1"},
		SSLVersion:            SSLVersionTLS12,
		PlainBind:             []string{},
		SuppressRaggedEOFs:    true,
		RequestIDHeader:       "X-Request-ID",
		ResponseHeaders:       []string{},
		ProxyHeaders:          true,
		Sendfile:              true,
		PasteGlobalConf:       []string{},
		ReloadDirs:            []string{},
		ReloadIncludes:        []string{},
		ReloadExcludes:        []string{},
	}
	if action != ActionServe {
		t.Errorf("action = %v, want ActionServe", action)
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadPrecedence(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		file  string // ./gowsgi.toml
		field func(*Config) any
		want  any
	}{
		{name: "file over default", file: "workers = 2", args: []string{"a:b"},
			field: func(c *Config) any { return c.Workers }, want: 2},
		{name: "command line over file", file: "workers = 2", args: []string{"a:b", "-w", "3"},
			field: func(c *Config) any { return c.Workers }, want: 3},
		{name: "GUNICORN_CMD_ARGS over file", file: "workers = 2", args: []string{"a:b"},
			env:   map[string]string{"GUNICORN_CMD_ARGS": "-w 5"},
			field: func(c *Config) any { return c.Workers }, want: 5},
		{name: "GOWSGI_CMD_ARGS over GUNICORN_CMD_ARGS", args: []string{"a:b"},
			env:   map[string]string{"GUNICORN_CMD_ARGS": "-w 5", "GOWSGI_CMD_ARGS": "--workers=6"},
			field: func(c *Config) any { return c.Workers }, want: 6},
		{name: "command line over GOWSGI_CMD_ARGS", args: []string{"a:b", "-w7"},
			env:   map[string]string{"GOWSGI_CMD_ARGS": "--workers=6"},
			field: func(c *Config) any { return c.Workers }, want: 7},
		{name: "WEB_CONCURRENCY sets the default", args: []string{"a:b"},
			env:   map[string]string{"WEB_CONCURRENCY": "4"},
			field: func(c *Config) any { return c.Workers }, want: 4},
		{name: "file over WEB_CONCURRENCY", file: "workers = 2", args: []string{"a:b"},
			env:   map[string]string{"WEB_CONCURRENCY": "4"},
			field: func(c *Config) any { return c.Workers }, want: 2},
		{name: "PORT sets the default bind", args: []string{"a:b"}, env: map[string]string{"PORT": "5000"},
			field: func(c *Config) any { return c.Bind }, want: []string{"0.0.0.0:5000"}},
		{name: "-b replaces the PORT default", args: []string{"a:b", "-b", "unix:/tmp/s"},
			env:   map[string]string{"PORT": "5000"},
			field: func(c *Config) any { return c.Bind }, want: []string{"unix:/tmp/s"}},
		{name: "-b replaces the file's list and repeats", file: `bind = ["10.0.0.1:1", "10.0.0.2:2"]`,
			args:  []string{"a:b", "-b", "[::1]:80", "--bind=localhost"},
			field: func(c *Config) any { return c.Bind }, want: []string{"[::1]:80", "localhost:8000"}},
		{name: "bind forms are normalised", args: []string{"a:b", "-b", "tcp://h:1", "-b", "unix://run/s",
			"-b", "[::1]", "-b", ":9", "-b", "fd://03"},
			field: func(c *Config) any { return c.Bind },
			want:  []string{"h:1", "unix:run/s", "[::1]:8000", ":9", "fd://3"}},
		{name: "env values keep commas", args: []string{"a:b", "-e", "A=x,y", "-e", "B="},
			field: func(c *Config) any { return c.Env }, want: []string{"A=x,y", "B="}},
		{name: "FORWARDED_ALLOW_IPS sets the default", args: []string{"a:b"},
			env:   map[string]string{"FORWARDED_ALLOW_IPS": "10.0.0.0/8, 192.168.1.1"},
			field: func(c *Config) any { return c.ForwardedAllowIPs }, want: []string{"10.0.0.0/8", "192.168.1.1"}},
		{name: "VIRTUAL_ENV sets the default virtualenv", args: []string{"a:b"},
			env:   map[string]string{"VIRTUAL_ENV": "/srv/venv"},
			field: func(c *Config) any { return c.Virtualenv }, want: "/srv/venv"},
		{name: "wsgi_app from the file", file: `wsgi_app = "site.wsgi:application"`,
			field: func(c *Config) any { return c.App }, want: "site.wsgi:application"},
		{name: "positional over wsgi_app", file: `wsgi_app = "site.wsgi:application"`, args: []string{"other:app"},
			field: func(c *Config) any { return c.App }, want: "other:app"},
		{name: "app in GUNICORN_CMD_ARGS", env: map[string]string{"GUNICORN_CMD_ARGS": "env:app"},
			field: func(c *Config) any { return c.App }, want: "env:app"},
		{name: "sync with threads becomes gthread", args: []string{"a:b", "--threads", "4"},
			field: func(c *Config) any { return c.WorkerClass }, want: "gthread"},
		{name: "gthread stays with one thread", args: []string{"a:b", "-k", "gthread"},
			field: func(c *Config) any { return c.WorkerClass }, want: "gthread"},
		{name: "Gunicorn class path", args: []string{"a:b", "-k", "gunicorn.workers.sync.SyncWorker"},
			field: func(c *Config) any { return c.WorkerClass }, want: "sync"},
		{name: "asgi", args: []string{"a:b", "-k", "asgi", "--threads", "4"},
			field: func(c *Config) any { return c.WorkerClass }, want: "asgi"},
		{name: "UvicornWorker is asgi", args: []string{"a:b", "-k", "uvicorn.workers.UvicornWorker"},
			field: func(c *Config) any { return c.WorkerClass }, want: "asgi"},
		{name: "uvicorn_worker's UvicornWorker is asgi", file: `worker_class = "uvicorn_worker.UvicornWorker"`, args: []string{"a:b"},
			field: func(c *Config) any { return c.WorkerClass }, want: "asgi"},
		{name: "Uvicorn's h11 worker is asgi", args: []string{"a:b", "-k", "uvicorn.workers.UvicornH11Worker"},
			field: func(c *Config) any { return c.WorkerClass }, want: "asgi"},
		{name: "Gunicorn 26's ASGI worker class path", args: []string{"a:b", "-k", "gunicorn.workers.gasgi.ASGIWorker"},
			field: func(c *Config) any { return c.WorkerClass }, want: "asgi"},
		{name: "Gunicorn's #name", file: `worker_class = "#gthread"`, args: []string{"a:b"},
			field: func(c *Config) any { return c.WorkerClass }, want: "gthread"},
		{name: "Gunicorn's entry point", args: []string{"a:b", "-k", "egg:gunicorn#gthread"},
			field: func(c *Config) any { return c.WorkerClass }, want: "gthread"},
		{name: "Gunicorn's entry point alone is sync", args: []string{"a:b", "-k", "egg:gunicorn"},
			field: func(c *Config) any { return c.WorkerClass }, want: "sync"},
		{name: "loop and lifespan", args: []string{"a:b", "-k", "asgi", "--loop", "asyncio", "--lifespan", "ON"},
			field: func(c *Config) any { return [2]string{c.ASGILoop, c.ASGILifespan} }, want: [2]string{"asyncio", "on"}},
		{name: "Gunicorn's asgi settings in the file", file: "asgi_loop = \"uvloop\"\nasgi_lifespan = \"off\"", args: []string{"a:b"},
			field: func(c *Config) any { return [2]string{c.ASGILoop, c.ASGILifespan} }, want: [2]string{"uvloop", "off"}},
		{name: "timeout in seconds", args: []string{"a:b", "-t", "120"},
			field: func(c *Config) any { return c.Timeout }, want: 120 * time.Second},
		{name: "timeout as duration", args: []string{"a:b", "--keep-alive", "1.5s"},
			field: func(c *Config) any { return c.KeepAlive }, want: 1500 * time.Millisecond},
		{name: "umask with leading zero is octal", args: []string{"a:b", "-m", "022"},
			field: func(c *Config) any { return c.Umask }, want: 0o22},
		{name: "limit 0 means Gunicorn's ceiling", args: []string{"a:b", "--limit-request-line", "0"},
			field: func(c *Config) any { return c.LimitRequestLine }, want: 8190},
		{name: "limit over the ceiling is the ceiling, as in Gunicorn", file: "limit_request_line = 8192",
			args:  []string{"a:b", "--limit-request-fields", "40000"},
			field: func(c *Config) any { return [2]int{c.LimitRequestLine, c.LimitRequestFields} }, want: [2]int{8190, 32768}},
		{name: "the command line replaces a refused file value", file: "worker_class = \"gevent\"",
			args: []string{"a:b", "-k", "sync"}, field: func(c *Config) any { return c.WorkerClass }, want: "sync"},
		{name: "field size 0 means 8190, as in Gunicorn main", args: []string{"a:b", "--limit-request-field-size", "0"},
			field: func(c *Config) any { return c.LimitRequestFieldSize }, want: 8190},
		{name: "field size 0 in the file means 8190", file: "limit_request_field_size = 0", args: []string{"a:b"},
			field: func(c *Config) any { return c.LimitRequestFieldSize }, want: 8190},
		{name: "field size over 8190 is kept", args: []string{"a:b", "--limit-request-field_size", "16384"},
			field: func(c *Config) any { return c.LimitRequestFieldSize }, want: 16384},
		{name: "boolean switched off over the file", file: "preload_app = true",
			args: []string{"a:b", "--preload=false"}, field: func(c *Config) any { return c.Preload }, want: false},
		{name: "log level case-insensitive", args: []string{"a:b", "--log-level", "WARNING"},
			field: func(c *Config) any { return c.LogLevel }, want: "warning"},
		{name: "Python's WARN alias", args: []string{"a:b", "--log-level", "warn"},
			field: func(c *Config) any { return c.LogLevel }, want: "warning"},
		{name: "Python's FATAL alias", args: []string{"a:b", "--log-level", "FATAL"},
			field: func(c *Config) any { return c.LogLevel }, want: "critical"},
		{name: "pythonpath is comma-separated", args: []string{"a:b", "--pythonpath", "/a, /b"},
			field: func(c *Config) any { return c.PythonPath }, want: []string{"/a", "/b"}},
		{name: "print-config needs no app", args: []string{"--print-config"},
			field: func(c *Config) any { return c.App }, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inTempDir(t, tt.file)
			c, _, err := Load(tt.args, env(tt.env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.field(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestLoadConfigFileSelection(t *testing.T) {
	dir := inTempDir(t, "workers = 2")
	other := filepath.Join(dir, "other.toml")
	if err := os.WriteFile(other, []byte("workers = 3"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantFile string
		want     int
	}{
		{name: "./gowsgi.toml by default", args: []string{"a:b"}, wantFile: filepath.Join(dir, "gowsgi.toml"), want: 2},
		{name: "-c replaces the default", args: []string{"a:b", "-c", "other.toml"}, wantFile: other, want: 3},
		{name: "-c from GUNICORN_CMD_ARGS", args: []string{"a:b"},
			env: map[string]string{"GUNICORN_CMD_ARGS": "-c other.toml"}, wantFile: other, want: 3},
		{name: "-c on the command line wins", args: []string{"a:b", "--config", "gowsgi.toml"},
			env:      map[string]string{"GOWSGI_CMD_ARGS": "-c other.toml"},
			wantFile: filepath.Join(dir, "gowsgi.toml"), want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Load(tt.args, env(tt.env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if c.ConfigFile != tt.wantFile || c.Workers != tt.want {
				t.Errorf("ConfigFile = %q, Workers = %d; want %q, %d", c.ConfigFile, c.Workers, tt.wantFile, tt.want)
			}
		})
	}
}

func TestLoadActions(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		want       Action
		wantStdout string // substring; "" means nothing printed
	}{
		{name: "serve", args: []string{"a:b"}, want: ActionServe},
		{name: "check", args: []string{"a:b", "--check-config"}, want: ActionCheckConfig},
		{name: "print", args: []string{"--print-config", "a:b"}, want: ActionPrintConfig},
		{name: "print implies check", args: []string{"a:b", "--check-config", "--print-config"}, want: ActionPrintConfig},
		{name: "print from GOWSGI_CMD_ARGS", args: []string{"a:b"},
			env: map[string]string{"GOWSGI_CMD_ARGS": "--print-config"}, want: ActionPrintConfig},
		{name: "help", args: []string{"--help"}, want: ActionHelp, wantStdout: "--bind ADDRESS, -b ADDRESS"},
		{name: "short help after the app", args: []string{"a:b", "-h"}, want: ActionHelp, wantStdout: "USAGE:"},
		{name: "version", args: []string{"-v"}, want: ActionVersion, wantStdout: "gowsgi version "},
		{name: "version by prefix", args: []string{"--vers"}, want: ActionVersion, wantStdout: "gowsgi version "},
		{name: "help from GUNICORN_CMD_ARGS", args: []string{"a:b"}, env: map[string]string{"GUNICORN_CMD_ARGS": "--help"},
			want: ActionHelp, wantStdout: "USAGE:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inTempDir(t, "")
			var stdout bytes.Buffer
			c, action, err := Load(tt.args, env(tt.env), &stdout)
			if err != nil {
				t.Fatal(err)
			}
			if action != tt.want {
				t.Errorf("action = %v, want %v", action, tt.want)
			}
			if (c == nil) != (tt.want == ActionHelp || tt.want == ActionVersion) {
				t.Errorf("config = %v for action %v", c, action)
			}
			if tt.wantStdout == "" && stdout.Len() > 0 || !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.wantStdout)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string // ./gowsgi.toml
		want string
	}{
		{name: "no app", want: "no WSGI app given: pass MODULE:APP (such as mysite.wsgi:application) " +
			"or set wsgi_app in the config file"},
		{name: "two apps", args: []string{"a:b", "c:d"},
			want: `unexpected argument "c:d": give one app (MODULE:APP)`},
		{name: "not a mode of --proxy-protocol", args: []string{"--proxy-protocol", "v3", "a:b"},
			want: `unexpected argument "a:b": give one app (MODULE:APP); "v3" after --proxy-protocol is not one of ` +
				`its modes (0, 1, auto, false, none, off, true, v1, v2)`},
		{name: "not a mode of --proxy-protocol=", args: []string{"--proxy-protocol=v3", "a:b"},
			want: `--proxy-protocol: "v3" is not one of 0, 1, auto, false, none, off, true, v1, v2`},
		{name: "app as a file name", args: []string{"mysite/wsgi.py"},
			want: `app "mysite/wsgi.py": give a module path, not a file name (did you mean "wsgi:application"?)`},
		{name: "bad app object", args: []string{"a:b c"}, want: `app "a:b c": "b c" is neither a name nor a call such as create_app()`},
		{name: "zero workers", args: []string{"a:b", "-w", "0"}, want: "-w: must be at least 1, got 0"},
		{name: "not a number", args: []string{"a:b", "--workers=four"}, want: `--workers: "four" is not a whole number`},
		{name: "negative timeout", args: []string{"a:b", "-t", "-1"}, want: "-t: must not be negative, got -1s"},
		{name: "bad duration", args: []string{"a:b", "--graceful-timeout", "soon"},
			want: `--graceful-timeout: "soon" is neither whole seconds nor a duration such as 1.5s`},
		{name: "zero threads", args: []string{"a:b", "--threads", "0"}, want: "--threads: must be at least 1, got 0"},
		{name: "gevent", args: []string{"a:b", "-k", "gevent"},
			want: `-k: worker class "gevent" is not needed with gowsgi: its goroutines already make slow and idle ` +
				`clients cheap, so use sync (or --threads N for concurrent app calls)`},
		{name: "unknown uvicorn class", args: []string{"a:b", "-k", "uvicorn.workers.UvicornWorkerX"},
			want: `-k: unknown worker class "uvicorn.workers.UvicornWorkerX": for an ASGI app use asgi ` +
				`(uvicorn.workers.UvicornWorker, uvicorn_worker.UvicornWorker and their H11 variants mean the same)`},
		{name: "egg entry point of gevent", args: []string{"a:b", "-k", "egg:gunicorn#gevent"},
			want: `-k: worker class "egg:gunicorn#gevent" is not needed with gowsgi: its goroutines already make slow and idle ` +
				`clients cheap, so use sync (or --threads N for concurrent app calls)`},
		{name: "another package's entry point", args: []string{"a:b", "-k", "egg:mypkg#sync"},
			want: `-k: unknown worker class "egg:mypkg#sync": gowsgi has sync and gthread for WSGI apps, asgi for ASGI apps`},
		{name: "unknown worker class", args: []string{"a:b", "-k", "mine"},
			want: `-k: unknown worker class "mine": gowsgi has sync and gthread for WSGI apps, asgi for ASGI apps`},
		{name: "unknown loop", args: []string{"a:b", "-k", "asgi", "--loop", "trio"},
			want: `--loop: unknown event loop "trio": auto, asyncio, uvloop`},
		{name: "unknown lifespan", args: []string{"a:b", "-k", "asgi", "--lifespan", "yes"},
			want: `--lifespan: unknown lifespan mode "yes": auto, on, off`},
		{name: "bind without brackets", args: []string{"a:b", "-b", "::1:80"},
			want: `-b: bind "::1:80": IPv6 addresses need brackets, as in [::1]:8000`},
		{name: "bind bad port", args: []string{"a:b", "-b", "localhost:http"},
			want: `-b: bind "localhost:http": port "http" is not a number from 0 to 65535`},
		{name: "bind port too big", args: []string{"a:b", "-b", "[::1]:65536"},
			want: `-b: bind "[::1]:65536": port "65536" is not a number from 0 to 65535`},
		{name: "bind bad fd", args: []string{"a:b", "-b", "fd://x"}, want: `-b: bind "fd://x": want fd://N with N a file descriptor number`},
		{name: "bind empty unix path", args: []string{"a:b", "--bind=unix:"}, want: `--bind: bind "unix:": empty unix socket path`},
		{name: "bind long unix path", args: []string{"a:b", "-b", "unix:/" + strings.Repeat("x", 107)},
			want: `-b: bind "unix:/` + strings.Repeat("x", 107) + `": unix socket path is 108 bytes, the limit is 107`},
		{name: "env without =", args: []string{"a:b", "-e", "FOO"}, want: `-e: env "FOO": want KEY=VALUE`},
		{name: "bad log level", args: []string{"a:b", "--log-level", "loud"},
			want: `--log-level: log level "loud": want one of debug, info, warning, error, critical`},
		{name: "bad log format", args: []string{"a:b", "--log-format", "xml"}, want: `--log-format: log format "xml": want console, json or gunicorn`},
		{name: "bad access log format", args: []string{"a:b", "--access-logformat", `%(h)s %(zz`},
			want: `--access-logformat: accesslog: bad format: "%(zz" at offset 6: want %(name)s`},
		{name: "bad access log conversion", args: []string{"a:b", "--logger-class", "m.L",
			"--access-logformat", `%(h)d`}, want: `--access-logformat: accesslog: bad format: %(h)d: h is text ` +
			`(Gunicorn fails on every request there); use %(h)s`},
		{name: "logger class not dotted", args: []string{"a:b", "--logger-class", "JSONLogger"},
			want: `--logger-class: logger class "JSONLogger": give it as module.Class, a subclass of gunicorn.glogging.Logger`},
		{name: "bad allowed ip", args: []string{"a:b", "--forwarded-allow-ips", "10.0.0.1,proxy"},
			want: `--forwarded-allow-ips: "proxy" is not *, an IP address or a CIDR network`},
		{name: "bad umask", args: []string{"a:b", "-m", "0o1000"}, want: `-m: umask "0o1000" is outside 0 to 0o777`},
		{name: "negative limit", args: []string{"a:b", "--limit-request-fields", "-1"},
			want: "--limit-request-fields: must be at least 0, got -1"},
		{name: "a refused file value the command line does not replace", file: "worker_class = \"gevent\"",
			args: []string{"a:b", "-w", "2"}, want: `gowsgi.toml:1: worker_class: worker class "gevent" is not needed with gowsgi: ` +
				"its goroutines already make slow and idle clients cheap, so use sync (or --threads N for concurrent app calls)"},
		{name: "negative field size", args: []string{"a:b", "--limit-request-field-size", "-1"},
			want: "--limit-request-field-size: must be at least 0, got -1"},
		{name: "missing chdir", args: []string{"a:b", "--chdir", "nowhere"},
			want: `--chdir: can't chdir to "nowhere": no such file or directory`},
		{name: "unknown user", args: []string{"a:b", "-u", "no-such-user-gowsgi"}, want: `-u: no such user "no-such-user-gowsgi"`},
		{name: "boolean with a value", args: []string{"a:b", "--preload=yes"}, want: `--preload: "yes" is not true or false`},
		{name: "bad PORT", args: []string{"a:b"}, env: map[string]string{"PORT": "web"},
			want: `environment: PORT: bind "0.0.0.0:web": port "web" is not a number from 0 to 65535`},
		{name: "bad WEB_CONCURRENCY", args: []string{"a:b"}, env: map[string]string{"WEB_CONCURRENCY": "0"},
			want: "environment: WEB_CONCURRENCY: must be at least 1, got 0"},
		{name: "error in GUNICORN_CMD_ARGS", args: []string{"a:b"}, env: map[string]string{"GUNICORN_CMD_ARGS": "-w 0"},
			want: "GUNICORN_CMD_ARGS: -w: must be at least 1, got 0"},
		{name: "quote in GOWSGI_CMD_ARGS", args: []string{"a:b"}, env: map[string]string{"GOWSGI_CMD_ARGS": "-e 'A=b"},
			want: "GOWSGI_CMD_ARGS: unterminated quote"},
		{name: "unsupported flag in GUNICORN_CMD_ARGS", args: []string{"a:b"},
			env:  map[string]string{"GUNICORN_CMD_ARGS": "--spew"},
			want: "GUNICORN_CMD_ARGS: --spew: Gunicorn's flag is not supported by gowsgi: use a Python tracer in the app instead"},
		{name: "missing -c file", args: []string{"a:b", "-c", "missing.toml"},
			want: "--config: open " + "DIR/missing.toml: no such file or directory"},
		{name: "ignored flag missing its value", args: []string{"a:b", "--worker-tmp-dir"},
			want: "--worker-tmp-dir: needs a value (DIR)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := inTempDir(t, tt.file)
			_, _, err := Load(tt.args, env(tt.env), &bytes.Buffer{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Load error = %v (%T), want *Error", err, err)
			}
			if got := strings.ReplaceAll(err.Error(), dir, "DIR"); got != tt.want {
				t.Errorf("Load error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// --help gives each switch's real default: the ones on by default
// (--sendfile, --suppress-ragged-eofs) once read "(default: false)".
func TestHelpShowsSwitchDefaults(t *testing.T) {
	inTempDir(t, "")
	var stdout bytes.Buffer
	if _, _, err := Load([]string{"--help"}, env(nil), &stdout); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(stdout.String(), "\n")
	checked := 0
	for _, s := range settings {
		if s.kind != kindBool || s.negation != "" {
			continue
		}
		want := "(default: " + cmp.Or(s.def, "false") + ")"
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == "--"+s.flags[0] {
				if !strings.HasSuffix(l, want) {
					t.Errorf("--help: %q; want it to end %q", strings.TrimSpace(l), want)
				}
				checked++
			}
		}
	}
	if checked < 10 {
		t.Errorf("checked %d switches in --help; want every one", checked)
	}
}
