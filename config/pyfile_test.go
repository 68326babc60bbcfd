package config

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// pyReport decodes a report as worker/pyconfig.py writes it.
func pyReport(t *testing.T, js string) *pyResult {
	t.Helper()
	var r pyResult
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("bad test report %s: %v", js, err)
	}
	return &r
}

// loadWithReport runs Load with -c gunicorn.conf.py and a reader that
// returns the report js.
func loadWithReport(t *testing.T, js string, args ...string) (*Config, error) {
	t.Helper()
	inTempDir(t, "")
	saved := pythonConfigReader
	t.Cleanup(func() { pythonConfigReader = saved })
	pythonConfigReader = func(spec, _ string) (*pyResult, error) { return pyReport(t, js), nil }
	c, _, err := Load(append([]string{"-c", "gunicorn.conf.py"}, args...), env(nil), &bytes.Buffer{})
	return c, err
}

func TestPythonConfigValues(t *testing.T) {
	c, err := loadWithReport(t, `{"file": "/srv/gunicorn.conf.py", "names": [
		{"name": "wsgi_app", "line": 1, "value": "mysite.wsgi:application"},
		{"name": "bind", "line": 2, "value": "0.0.0.0:8080"},
		{"name": "workers", "line": 3, "value": 5},
		{"name": "threads", "line": 4, "value": "2"},
		{"name": "timeout", "line": 5, "value": 2.5},
		{"name": "umask", "line": 6, "value": 18},
		{"name": "raw_env", "line": 7, "value": ["A=1", "B=2"]},
		{"name": "forwarded_allow_ips", "line": 8, "value": "10.0.0.1, 10.0.0.2"},
		{"name": "preload_app", "line": 9, "value": true},
		{"name": "accesslog", "line": 10, "value": null},
		{"name": "reload", "line": 11, "value": "false"},
		{"name": "secure_scheme_headers", "line": 12, "value":
			{"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}},
		{"name": "BASE_DIR", "line": 13, "value": "/srv"},
		{"name": "_private", "line": 14, "value": 1},
		{"name": "cpu_count", "line": 15, "callable": true, "arity": 0},
		{"name": "daemon", "line": 16, "value": false},
		{"name": "tmp_upload_dir", "line": 17, "value": null},
		{"name": "post_fork", "line": 18, "callable": true, "arity": 2},
		{"name": "post_request", "line": 19, "callable": true, "arity": 3}
	]}`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{"app": c.App, "bind": c.Bind, "workers": c.Workers, "threads": c.Threads,
		"worker_class": c.WorkerClass, "timeout": c.Timeout, "umask": c.Umask, "env": c.Env,
		"forwarded": c.ForwardedAllowIPs, "preload": c.Preload, "accesslog": c.AccessLog,
		"config": c.ConfigFile, "notices": c.Notices, "hooks": c.Hooks}
	want := map[string]any{"app": "mysite.wsgi:application", "bind": []string{"0.0.0.0:8080"}, "workers": 5,
		"threads": 2, "worker_class": "gthread", "timeout": 2500 * time.Millisecond, "umask": 18,
		"env": []string{"A=1", "B=2"}, "forwarded": []string{"10.0.0.1", "10.0.0.2"}, "preload": true,
		"accesslog": "", "config": "/srv/gunicorn.conf.py", "notices": []string(nil),
		"hooks": []string{"post_fork", "post_request"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config from Python:\n got %v\nwant %v", got, want)
	}
}

// TestPythonConfigPrecedence: the file < GUNICORN_CMD_ARGS < the command
// line, and the command line's app wins over wsgi_app (Gunicorn's order,
// gunicorn/app/base.py load_config).
func TestPythonConfigPrecedence(t *testing.T) {
	t.Setenv("GUNICORN_CMD_ARGS", "") // env() reads only the test's map
	inTempDir(t, "")
	saved := pythonConfigReader
	t.Cleanup(func() { pythonConfigReader = saved })
	pythonConfigReader = func(string, string) (*pyResult, error) {
		return pyReport(t, `{"names": [{"name": "workers", "value": 3}, {"name": "timeout", "value": 10},
			{"name": "keepalive", "value": 7}, {"name": "wsgi_app", "value": "file:app"}]}`), nil
	}
	c, _, err := Load([]string{"-c", "conf.py", "-t", "20", "cli:app"},
		env(map[string]string{"GUNICORN_CMD_ARGS": "-w 4 -t 30"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers != 4 || c.Timeout != 20*time.Second || c.KeepAlive != 7*time.Second || c.App != "cli:app" {
		t.Errorf("workers %d timeout %s keepalive %s app %s; want 4 20s 7s cli:app", c.Workers, c.Timeout, c.KeepAlive, c.App)
	}
}

func TestPythonConfigNotices(t *testing.T) {
	c, err := loadWithReport(t, `{"file": "/srv/gunicorn.conf.py", "names": [
		{"name": "worker_tmp_dir", "line": 3, "value": "/dev/shm"},
		{"name": "logconfig_dict", "line": 4, "value": {"version": 1}},
		{"name": "secure_scheme_headers", "line": 5, "value": {"X-Forwarded-Proto": "https"}},
		{"name": "worker", "line": 6, "value": 4},
		{"name": "config", "line": 7, "value": "other.py"},
		{"name": "log_file", "line": 8, "value": "-"},
		{"name": "host", "line": 9, "value": "0.0.0.0"},
		{"name": "use_loglevel", "line": 10, "value": "info"},
		{"name": "workers_per_core_str", "line": 11, "value": "1"}
	]}`, "app:app")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"gunicorn.conf.py:3: worker_tmp_dir is accepted and ignored: " + ignored[0].notice,
		"gunicorn.conf.py:6: worker is not a Gunicorn or gowsgi setting; ignored (did you mean workers?)",
		"gunicorn.conf.py:7: config is a command-line flag (--config); ignored in a config file",
		// A flag's spelling is warned of; the file's own helpers are not.
		"gunicorn.conf.py:8: log_file is not a Gunicorn or gowsgi setting; ignored (did you mean errorlog?)",
	}
	if !reflect.DeepEqual(c.Notices, want) {
		t.Errorf("notices:\n got %q\nwant %q", c.Notices, want)
	}
	if c.LogConfigDict != `{"version":1}` {
		t.Errorf("LogConfigDict = %q, want the dict as JSON", c.LogConfigDict)
	}
}

// TestPythonConfigActions: check_config and print_config set in a Python
// config file check or print the configuration and exit, as Gunicorn's
// do; False leaves the server to start.
func TestPythonConfigActions(t *testing.T) {
	saved := pythonConfigReader
	t.Cleanup(func() { pythonConfigReader = saved })
	for report, want := range map[string]Action{
		`{"names": [{"name": "check_config", "line": 1, "value": true}]}`:  ActionCheckConfig,
		`{"names": [{"name": "print_config", "line": 1, "value": true}]}`:  ActionPrintConfig,
		`{"names": [{"name": "check_config", "line": 1, "value": false}]}`: ActionServe,
	} {
		inTempDir(t, "")
		pythonConfigReader = func(string, string) (*pyResult, error) { return pyReport(t, report), nil }
		c, action, err := Load([]string{"-c", "gunicorn.conf.py", "app:app"}, env(nil), &bytes.Buffer{})
		if err != nil || action != want || len(c.Notices) != 0 {
			t.Errorf("%s: action %v, notices %q, %v; want %v and no notice", report, action, c.Notices, err, want)
		}
	}
}

// TestPythonConfigSSLContextHook: Gunicorn calls ssl_context only to
// serve TLS; gowsgi cannot run it, so it refuses the hook with a
// certificate and only notes it without one.
func TestPythonConfigSSLContextHook(t *testing.T) {
	const report = `{"names": [{"name": "ssl_context", "line": 3, "callable": true, "arity": 2}]}`
	_, err := loadWithReport(t, report, "--certfile", "site.pem", "app:app")
	want := "gunicorn.conf.py:3: ssl_context: gowsgi cannot run this hook: the TLS context is built from --certfile, " +
		"--keyfile, --ca-certs, --cert-reqs, --ssl-version and --ciphers (docs/tls.md)"
	if err == nil || err.Error() != want {
		t.Errorf("with --certfile: %v; want %s", err, want)
	}
	c, err := loadWithReport(t, report, "app:app")
	wantNotices := []string{"gunicorn.conf.py:3: ssl_context is never called: TLS is off (no certfile), " +
		"and Gunicorn calls it only to serve TLS"}
	if err != nil || !reflect.DeepEqual(c.Notices, wantNotices) {
		t.Errorf("without: %v, notices %q; want %q", err, c.Notices, wantNotices)
	}
}

func TestPythonConfigErrors(t *testing.T) {
	tests := []struct {
		name, report, want string
	}{
		{name: "raised", report: `{"error": "NameError: name 'x' is not defined", "line": 4}`,
			want: "gunicorn.conf.py:4: the config file raised NameError: name 'x' is not defined (traceback above)"},
		{name: "wrong type", report: `{"names": [{"name": "workers", "line": 2, "value": [1]}]}`,
			want: "gunicorn.conf.py:2: workers: want an int, got list"},
		{name: "bad value", report: `{"names": [{"name": "workers", "line": 2, "value": 0}]}`,
			want: "gunicorn.conf.py:2: workers: must be at least 1, got 0"},
		{name: "object", report: `{"names": [{"name": "bind", "line": 3, "value": {"$py": "Path", "repr": "PosixPath('/x')"}}]}`,
			want: "gunicorn.conf.py:3: bind: want a str or a list of str, got Path PosixPath('/x')"},
		{name: "function as a value", report: `{"names": [{"name": "workers", "line": 5, "callable": true, "arity": 0}]}`,
			want: "gunicorn.conf.py:5: workers: want a value, got a function"},
		{name: "bool as seconds", report: `{"names": [{"name": "timeout", "line": 1, "value": true}]}`,
			want: "gunicorn.conf.py:1: timeout: want a number of seconds, got bool True"},
		{name: "unsupported", report: `{"names": [{"name": "spew", "line": 7, "value": true}]}`,
			want: "gunicorn.conf.py:7: spew: Gunicorn's setting is not supported by gowsgi: use a Python tracer in the app instead"},
		{name: "scheme header value not a string", report: `{"names": [{"name": "secure_scheme_headers", "line": 2, "value": {"X-Scheme": 1}}]}`,
			want: "gunicorn.conf.py:2: secure_scheme_headers: X-Scheme: want the header's value as a string, got 1"},
		{name: "scheme header name not a token", report: `{"names": [{"name": "secure_scheme_headers", "line": 2, "value": {"X Scheme": "https"}}]}`,
			want: `gunicorn.conf.py:2: secure_scheme_headers: header name "X Scheme": byte ' ' is not allowed`},
		{name: "hook arity", report: `{"names": [{"name": "post_fork", "line": 9, "callable": true, "arity": 1}]}`,
			want: "gunicorn.conf.py:9: post_fork: the hook must take 2 arguments, it takes 1"},
		{name: "hook not callable", report: `{"names": [{"name": "when_ready", "line": 9, "value": 3}]}`,
			want: "gunicorn.conf.py:9: when_ready: a server hook must be a function, got int 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadWithReport(t, tt.report, "app:app")
			if err == nil || err.Error() != tt.want {
				t.Errorf("Load error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestDefaultConfigFiles(t *testing.T) {
	dir := inTempDir(t, "workers = 2")
	if err := os.WriteFile(DefaultPythonConfigFile, []byte("workers = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load([]string{"a:b"}, env(nil), &bytes.Buffer{})
	want := "both ./gunicorn.conf.py and ./gowsgi.toml exist; choose one with -c"
	if err == nil || err.Error() != want {
		t.Fatalf("Load in %s: error %v; want %s", dir, err, want)
	}
}

func TestIgnoredFlags(t *testing.T) {
	inTempDir(t, "")
	c, _, err := Load([]string{"--worker-tmp", "/dev/shm", "a:b"},
		env(map[string]string{"GUNICORN_CMD_ARGS": "--reload-engine=poll"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GUNICORN_CMD_ARGS: --reload-engine is accepted and ignored: --reload polls the app's files; there is no engine to choose",
		"--worker-tmp-dir is accepted and ignored: " + ignored[0].notice,
	}
	if !reflect.DeepEqual(c.Notices, want) || c.App != "a:b" {
		t.Errorf("notices:\n got %q\nwant %q (app %q)", c.Notices, want, c.App)
	}
}

func TestIsPythonConfig(t *testing.T) {
	for spec, want := range map[string]bool{
		"gunicorn.conf.py": true, "conf/prod.pyc": true, "python:deploy.gunicorn": true,
		"file:/etc/gunicorn/conf": true, "gowsgi.toml": false, "/etc/gowsgi/prod.toml": false,
	} {
		if got := isPythonConfig(spec); got != want {
			t.Errorf("isPythonConfig(%q) = %v; want %v", spec, got, want)
		}
	}
}
