package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Python config files as Gunicorn reads them: ./gunicorn.conf.py by
// default, -c FILE.py, -c python:MODULE, the precedence of the file,
// GUNICORN_CMD_ARGS and the command line, and Gunicorn flags gowsgi
// accepts and ignores.

// writeConf writes name in dir and returns its path.
func writeConf(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// loggedContaining returns the log lines whose message contains text.
func (s *server) loggedContaining(text string) []logLine {
	return s.linesWhere(func(m string) bool { return strings.Contains(m, text) })
}

// TestPythonConfigDefaultFile: with no -c, ./gunicorn.conf.py is read,
// executed by Python (imports, os.environ, arithmetic), and its bind,
// workers, raw_env, wsgi_app and pythonpath are used.
func TestPythonConfigDefaultFile(t *testing.T) {
	dir := t.TempDir()
	writeConf(t, dir, "gunicorn.conf.py", `
import multiprocessing
import os

bind = [os.environ["CONF_BIND"]]
workers = min(multiprocessing.cpu_count(), 2) * 1
pythonpath = `+pyQuote(appsDir)+`
raw_env = ["CONF_GREETING=hello-from-conf"]
wsgi_app = "confapp:app"
worker_tmp_dir = "/dev/shm"
forwarded_allow_ips = ["127.0.0.1"]
secure_scheme_headers = {"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}
workerz = 4
`)
	s := start(t, serverOpts{bare: true, dir: dir, env: []string{"CONF_BIND=127.0.0.1:0"}, ready: 2})
	code, body := s.get("/")
	if code != 200 || !strings.Contains(body, " hello-from-conf http") {
		t.Fatalf("GET /: %d %q; want the raw_env greeting", code, body)
	}
	if n := len(s.workerPIDs()); n != 2 {
		t.Errorf("%d workers; want the 2 of the config file", n)
	}
	for _, want := range []string{
		"gunicorn.conf.py:10: worker_tmp_dir is accepted and ignored",
		"gunicorn.conf.py:13: workerz is not a Gunicorn or gowsgi setting; ignored",
	} {
		if len(s.loggedContaining(want)) != 1 {
			t.Errorf("no notice %q", want)
		}
	}
}

// TestPythonConfigWithoutPyName: a -c file TOML cannot parse is executed
// as Python whatever its name, as Gunicorn executes any -c file
// (gunicorn -c gunicorn.conf), with a notice; a TOML file under another
// name than .toml stays TOML.
func TestPythonConfigWithoutPyName(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, dir, "gunicorn.conf", "import multiprocessing\n"+
		"workers = min(multiprocessing.cpu_count(), 2)\npreload_app = True\nraw_env = ['CONF_GREETING=from-python']\n")
	s := start(t, serverOpts{args: []string{"-c", conf, "confapp:app"}, ready: 2})
	if code, body := s.get("/"); code != 200 || !strings.Contains(body, " from-python http") {
		t.Errorf("GET / under -c gunicorn.conf: %d %q; want the raw_env greeting", code, body)
	}
	if l := s.loggedContaining(conf + " is not TOML ("); len(l) != 1 || !strings.Contains(l[0].str("message"), "read as a Python config file") {
		t.Errorf("no notice that %s was read as Python", conf)
	}

	// Valid TOML, but with a Gunicorn setting gowsgi's TOML refuses: Python.
	plain := writeConf(t, dir, "plain.conf", "workers = 1\nworker_tmp_dir = \"/dev/shm\"\nraw_env = [\"CONF_GREETING=plain\"]\n")
	s = start(t, serverOpts{args: []string{"-c", plain, "confapp:app"}})
	if code, body := s.get("/"); code != 200 || !strings.Contains(body, " plain http") {
		t.Errorf("GET / under -c plain.conf: %d %q; want the raw_env greeting", code, body)
	}
	// Neither: both readings' errors.
	broken := writeConf(t, dir, "broken.conf", "workers = 2\nbind = [\"127.0.0.1:0\"\n")
	out, _, err := runBinary(t, "-c", broken, "confapp:app")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 ||
		!strings.Contains(out, "broken.conf: neither TOML (") || !strings.Contains(out, "nor Python, as Gunicorn reads a -c file") {
		t.Errorf("-c broken.conf: %v %q; want exit 2 saying it is neither TOML nor Python", err, out)
	}

	toml := writeConf(t, dir, "gowsgi.conf", "workers = 1\npreload_app = true\nraw_env = [\"CONF_GREETING=from-toml\"]\n")
	s = start(t, serverOpts{args: []string{"-c", toml, "confapp:app"}})
	if code, body := s.get("/"); code != 200 || !strings.Contains(body, " from-toml http") {
		t.Errorf("GET / under -c gowsgi.conf (TOML): %d %q; want the raw_env greeting", code, body)
	}
	if n := len(s.loggedContaining("is not TOML")); n != 0 {
		t.Errorf("%d notices that a TOML file is not TOML", n)
	}
}

// TestPythonConfigPrecedence: config file < GUNICORN_CMD_ARGS < command
// line, as in Gunicorn, also for a file value gowsgi would refuse; -c
// python:MODULE imports the module from the working directory.
func TestPythonConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	writeConf(t, dir, "deploy/__init__.py", "")
	writeConf(t, dir, "deploy/gunicorn_conf.py", "workers = 3\nraw_env = 'CONF_GREETING=file'\nwsgi_app = 'nonexistent:app'\n"+
		"worker_class = 'gevent'\n")
	s := start(t, serverOpts{
		dir:   dir,
		args:  []string{"-c", "python:deploy.gunicorn_conf", "-e", "CONF_GREETING=cli", "-k", "sync", "confapp:app"},
		env:   []string{"GUNICORN_CMD_ARGS=-w 2 -e CONF_GREETING=env"},
		ready: 2,
	})
	if code, body := s.get("/"); code != 200 || !strings.Contains(body, " cli ") {
		t.Fatalf("GET /: %d %q; want the command line's raw_env", code, body)
	}
	if n := len(s.workerPIDs()); n != 2 {
		t.Errorf("%d workers; want GUNICORN_CMD_ARGS's 2 over the file's 3", n)
	}
	// The file's worker class, which gowsgi refuses, is replaced: only
	// the value that wins is refused, as Gunicorn loads only that class.
	if len(s.loggedContaining(`worker_class: worker class "gevent" is not needed with gowsgi`)) != 1 {
		t.Errorf("no notice that the command line replaced the file's worker class")
	}
}

// TestPythonConfigErrors: a file that raises, or sets a bad value,
// stops gowsgi with exit code 2, the file and line, and Python's
// traceback.
func TestPythonConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, file, want string }{
		{"raises", "workers = 2\nbind = BIND\n", "raises.py:2: the config file raised NameError: name 'BIND' is not defined"},
		{"bad value", "import os\n\nworkers = 'many'\n", `bad value.py:3: workers: "many" is not a whole number`},
		{"unsupported", "spew = True\n", "unsupported.py:1: spew: Gunicorn's setting is not supported by gowsgi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := writeConf(t, dir, tt.name+".py", tt.file)
			cmd := exec.Command(binary, "-c", filepath.Base(conf), "confapp:app")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Fatalf("exit code %d (%v); want 2:\n%s", code, err, out)
			}
			if !strings.Contains(string(out), "gowsgi: "+tt.want) {
				t.Errorf("output does not say %q:\n%s", tt.want, out)
			}
			if tt.name == "raises" && !strings.Contains(string(out), `File "`+conf+`", line 2, in <module>`) {
				t.Errorf("no traceback into the config file:\n%s", out)
			}
		})
	}
}

// TestPythonConfigCheckAndPrint: --check-config imports the app the
// Python file names; --print-config prints what it resolved to.
func TestPythonConfigCheckAndPrint(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, dir, "gunicorn.conf.py", "workers = 2 + 3\ntimeout = 90\nchdir = "+pyQuote(appsDir)+
		"\nwsgi_app = 'confapp:app'\n")
	cmd := exec.Command(binary, "-c", conf, "--print-config")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("--print-config: %v\n%s", err, out)
	}
	for _, want := range []string{"\nworkers = 5\n", "\ntimeout = 90\n", "\nwsgi_app = \"confapp:app\"\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--print-config does not print %q:\n%s", strings.TrimSpace(want), out)
		}
	}
	check := exec.Command(binary, "-c", conf, "--check-config")
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("--check-config: %v\n%s", err, out)
	}
	writeConf(t, dir, "gunicorn.conf.py", "chdir = "+pyQuote(appsDir)+"\nwsgi_app = 'broken_import:app'\n")
	check = exec.Command(binary, "-c", conf, "--check-config")
	if out, _ := check.CombinedOutput(); check.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "Error") {
		t.Fatalf("--check-config of a broken app: exit %d; want 1 with the error:\n%s", check.ProcessState.ExitCode(), out)
	}
}

// TestPythonConfigHUPRereads: HUP executes the Python file again.
func TestPythonConfigHUPRereads(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, dir, "gunicorn.conf.py", "workers = 1\nraw_env = ['CONF_GREETING=one']\n")
	s := start(t, serverOpts{args: []string{"-c", conf, "confapp:app"}})
	old := s.workerPIDs()
	writeConf(t, dir, "gunicorn.conf.py", "workers = 1 + 1\nraw_env = ['CONF_GREETING=two']\n")
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 2 && disjoint(pids, old) })
	if code, body := s.get("/"); code != 200 || !strings.Contains(body, " two ") {
		t.Fatalf("after HUP: %d %q; want the new raw_env", code, body)
	}
}

// TestBothDefaultConfigFilesRefused: ./gunicorn.conf.py and
// ./gowsgi.toml together are ambiguous.
func TestBothDefaultConfigFilesRefused(t *testing.T) {
	dir := t.TempDir()
	writeConf(t, dir, "gunicorn.conf.py", "workers = 2\n")
	writeConf(t, dir, "gowsgi.toml", "workers = 3\n")
	cmd := exec.Command(binary, "confapp:app")
	cmd.Dir = dir
	out, _ := cmd.CombinedOutput()
	want := "gowsgi: both ./gunicorn.conf.py and ./gowsgi.toml exist; choose one with -c"
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), want) {
		t.Fatalf("exit %d, output:\n%s\nwant 2 and %q", cmd.ProcessState.ExitCode(), out, want)
	}
}

// TestGunicornFlagsAcceptedAndIgnored: the Dockerfile line Gunicorn's
// docs recommend starts the server, with a notice.
func TestGunicornFlagsAcceptedAndIgnored(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--worker-tmp-dir", "/dev/shm", "--reload-engine", "poll", "confapp:app"}})
	if code, _ := s.get("/"); code != 200 {
		t.Fatalf("GET /: %d", code)
	}
	for _, flag := range []string{"--worker-tmp-dir", "--reload-engine"} {
		if len(s.loggedContaining(flag+" is accepted and ignored: ")) != 1 {
			t.Errorf("no notice for %s", flag)
		}
	}
}

// TestGunicornDefaultsWrittenOut: a gunicorn.conf.py that writes out
// every setting of Gunicorn 26.2.2 at its default, as configs copied
// from --print-config or the docs do (user = os.geteuid(), ssl_version
// = ssl.PROTOCOL_TLS, proxy_protocol = "off", header_map = "drop",
// logger_class, syslog_addr, ...), starts and serves.
func TestGunicornDefaultsWrittenOut(t *testing.T) {
	conf, err := filepath.Abs("testdata/gunicorn/defaults26.conf.py")
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, serverOpts{args: []string{"-c", conf, "basic:hello"}})
	if code, _ := s.get("/"); code != 200 {
		t.Fatalf("GET /: %d", code)
	}
}

// TestPythonConfigEnvironReachesWorkers: what the config file does to
// os.environ (setdefault, assignment, pop) reaches the app's workers,
// with --preload too and without any worker hook, as under Gunicorn,
// whose master runs the file and whose workers inherit its environment;
// raw_env still wins. Names the file imports or binds to objects are its
// own business, with no warning.
func TestPythonConfigEnvironReachesWorkers(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, dir, "gunicorn.conf.py", `from __future__ import annotations
import os
from os import sep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
os.environ["CONF_FROM_FILE"] = "set by the file"
os.environ["CONF_OVERRIDDEN"] = "set by the file"
os.environ.pop("CONF_REMOVED_BY_FILE")
raw_env = ["CONF_OVERRIDDEN=set by raw_env"]
settings = object()
workerz = 4
`)
	want := map[string]*string{
		"DJANGO_SETTINGS_MODULE": ptr("mysite.settings"), "CONF_FROM_FILE": ptr("set by the file"),
		"CONF_OVERRIDDEN": ptr("set by raw_env"), "CONF_REMOVED_BY_FILE": nil,
	}
	for _, preload := range []bool{false, true} {
		args := []string{"-c", conf, "envdump:app"}
		if preload {
			args = append([]string{"--preload"}, args...)
		}
		s := start(t, serverOpts{args: args, env: []string{"CONF_REMOVED_BY_FILE=from the shell"}})
		got := workerEnviron(t, s, want)
		for k, w := range want {
			if g := got[k]; (g == nil) != (w == nil) || g != nil && *g != *w {
				t.Errorf("preload %v: %s = %s; want %s", preload, k, show(g), show(w))
			}
		}
		if len(s.loggedContaining("workerz is not a Gunicorn or gowsgi setting")) != 1 {
			t.Errorf("preload %v: no warning about workerz", preload)
		}
		for _, name := range []string{"annotations", "sep", "settings"} {
			if l := s.loggedContaining(name + " is not a Gunicorn"); len(l) != 0 {
				t.Errorf("preload %v: a warning about %s, which the file imports or binds to an object", preload, name)
			}
		}
	}
}

func ptr(s string) *string { return &s }

// TestHUPAfterTheBinaryWasReplacedReadsTheConfig: a HUP after the binary
// on disk was replaced (an upgrade installed, not yet started with USR2)
// reads the config file with the running binary, as every other child
// of the master is started: the new file here cannot run at all, and
// the reload failed with "config reader failed".
func TestHUPAfterTheBinaryWasReplacedReadsTheConfig(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "gowsgi")
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := writeConf(t, dir, "gunicorn.conf.py", "workers = 1\n")
	s := start(t, serverOpts{binary: exe, args: []string{"-c", conf, "confapp:app"}})
	old := s.workerPIDs()
	broken := filepath.Join(dir, "gowsgi.new")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(broken, exe); err != nil { // as an installer replaces it
		t.Fatal(err)
	}
	writeConf(t, dir, "gunicorn.conf.py", "workers = 2\n")
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 2 && disjoint(pids, old) })
}
