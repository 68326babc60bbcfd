package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string
	}{
		{name: "unknown key", file: "workers = 2\nwokers = 3\n",
			want: "gowsgi.toml:2: wokers: unknown setting (see examples/gowsgi.toml)"},
		{name: "flag name instead of setting name", file: "\n\nmax-requests = 3",
			want: "gowsgi.toml:3: max-requests: unknown setting; the config file uses Gunicorn's setting names: max_requests"},
		{name: "flag spelling of a renamed setting", file: "preload = true",
			want: "gowsgi.toml:1: preload: unknown setting; the config file uses Gunicorn's setting names: preload_app"},
		{name: "wrong type", file: "# comment\nworkers = \"4\"",
			want: `gowsgi.toml:2: workers: want an integer, got string "4"`},
		{name: "bad value", file: "bind = [\"127.0.0.1:80\"]\n\n  timeout = -5\n",
			want: "gowsgi.toml:3: timeout: must not be negative, got -5s"},
		{name: "bad list item", file: `bind = ["127.0.0.1:80", 8000]`,
			want: "gowsgi.toml:1: bind: item 1: want a string, got integer 8000"},
		{name: "bad bind", file: `bind = "localhost:eighty"`,
			want: `gowsgi.toml:1: bind: bind "localhost:eighty": port "eighty" is not a number from 0 to 65535`},
		{name: "float seconds", file: "keepalive = 0.5",
			want: `gowsgi.toml:1: keepalive: want whole seconds or a duration string such as "1.5s", got float 0.5`},
		{name: "table", file: "workers = 1\n[server]\nworkers = 2",
			want: "gowsgi.toml:2: server: unknown setting (see examples/gowsgi.toml)"},
		{name: "command-line switch", file: `config = "other.toml"`,
			want: "gowsgi.toml:1: config: config is a command-line flag (--config), not a config file setting"},
		{name: "unsupported Gunicorn setting", file: `ssl_context = "x"`,
			want: "gowsgi.toml:1: ssl_context: Gunicorn's setting is not supported by gowsgi: the TLS context is built from --certfile, --keyfile, --ca-certs, --cert-reqs, --ssl-version and --ciphers (docs/tls.md)"},
		{name: "Gunicorn hook", file: `post_fork = "hooks.post_fork"`,
			want: "gowsgi.toml:1: post_fork: server hooks are Python functions: define them in a Python config file such as gunicorn.conf.py"},
		{name: "async worker class", file: "\nworker_class = \"eventlet\"",
			want: `gowsgi.toml:2: worker_class: worker class "eventlet" is not needed with gowsgi: its goroutines already ` +
				`make slow and idle clients cheap, so use sync (or --threads N for concurrent app calls)`},
		{name: "syntax error", file: "workers = 2\nbind = [\n",
			want: "gowsgi.toml:2: unexpected EOF; expected value"},
		{name: "duplicate key", file: "workers = 2\nworkers = 3",
			want: `gowsgi.toml:2: Key 'workers' has already been defined.`},
		{name: "umask out of range", file: "umask = 0o1000",
			want: "gowsgi.toml:1: umask: umask 0o1000 is outside 0 to 0o777"},
		{name: "int overflow", file: "workers = 9223372036854775807",
			want: "gowsgi.toml:1: workers: must be at most 10000, got 9223372036854775807"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inTempDir(t, tt.file)
			_, _, err := Load([]string{"a:b"}, env(nil), &bytes.Buffer{})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if err.Error() != tt.want {
				t.Errorf("Load error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestConfigFileValues(t *testing.T) {
	inTempDir(t, `
wsgi_app = "site.wsgi:application"
bind = "unix:/run/site.sock"      # a single string is one item
pythonpath = "/srv/a,/srv/b"      # comma-separated, as on the command line
forwarded_allow_ips = ["10.0.0.0/8", "*"]
timeout = "1m30s"
graceful_timeout = 10
umask = "022"
limit_request_body = 10485760
log_format = "json"
`)
	c, _, err := Load(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	got := []any{c.App, c.Bind, c.PythonPath, c.ForwardedAllowIPs, c.Timeout, c.GracefulTimeout, c.Umask,
		c.LimitRequestBody, c.LogFormat}
	want := []any{"site.wsgi:application", []string{"unix:/run/site.sock"}, []string{"/srv/a", "/srv/b"},
		[]string{"10.0.0.0/8", "*"}, 90 * time.Second, 10 * time.Second, 0o22, int64(10 << 20), "json"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// TestPrintConfigRoundTrip checks that --print-config output, read back
// with -c, gives the same Config.
func TestPrintConfigRoundTrip(t *testing.T) {
	dir := inTempDir(t, "")
	if err := os.Mkdir("app dir", 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"pkg.mod:create_app('x')", "-b", "[::1]:8080", "-b", "unix:/tmp/s \"q\".sock", "-w", "3",
		"--threads", "4", "-t", "2.5s", "--keep-alive", "0", "-e", "A=1,2", "-e", "B=tab\there",
		"--chdir", "app dir", "--pythonpath", "/x,/y", "-m", "027", "--preload", "--reuse-port",
		"--access-logfile", "-", "--access-logformat", `%(h)s "%(r)s" \ %({x-real-ip}i)s`, "--log-level", "debug",
		"--forwarded-allow-ips", "*", "--proxy-protocol", "--limit-request-body", "1048576", "-n", "ünïcode",
		"--user", "0", "--group", "root", "--initgroups", "--virtualenv", "/srv/venv", "--print-config"}
	first, action, err := Load(args, env(map[string]string{"WEB_CONCURRENCY": "9"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if action != ActionPrintConfig {
		t.Fatalf("action = %v", action)
	}
	var out bytes.Buffer
	if err := first.WriteTOML(&out); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "printed.toml")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	second, _, err := Load([]string{"-c", path}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("loading printed config: %v\n%s", err, out.String())
	}
	second.ConfigFile = ""
	if !reflect.DeepEqual(first, second) {
		t.Errorf("round trip changed the config:\nfirst  %+v\nsecond %+v\nprinted:\n%s", first, second, out.String())
	}
}

func TestWriteTOMLRefusesInvalidUTF8(t *testing.T) {
	c := &Config{ProcName: "bad\xff"}
	err := c.WriteTOML(&bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "proc_name") {
		t.Errorf("WriteTOML error = %v, want one naming proc_name", err)
	}
}

// TestExampleConfigFile loads examples/gowsgi.toml and checks that it
// documents every setting with its default value.
func TestExampleConfigFile(t *testing.T) {
	example, err := filepath.Abs("../examples/gowsgi.toml")
	if err != nil {
		t.Fatal(err)
	}
	inTempDir(t, "")
	fromFile, _, err := Load([]string{"-c", example}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	defaults, _, err := Load([]string{"hello:app"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	fromFile.ConfigFile = ""
	defaults.DetectASGI = false // the file names the worker class, "sync"
	if !reflect.DeepEqual(fromFile, defaults) {
		t.Errorf("example file differs from the defaults:\nfile     %+v\ndefaults %+v", fromFile, defaults)
	}
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if !bytes.Contains(data, []byte("\n"+s.name+" = ")) {
			t.Errorf("example file does not set %s", s.name)
		}
	}
}
