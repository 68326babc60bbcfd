package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Loading the app: the spec grammar, --chdir, --pythonpath, --env,
// virtualenvs, and an app that grabs signals at import.

func TestAppSpecs(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"loading", "module default"},
		{"loading:application", "module default"},
		{"loading:factory('hi')", "hi!"},
		{"loading:factory('hi', punct='?')", "hi?"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s := start(t, serverOpts{args: []string{tt.spec}})
			if code, body := s.get("/"); code != 200 || body != tt.want {
				t.Fatalf("%s: %d %q; want %q", tt.spec, code, body, tt.want)
			}
		})
	}
}

// TestBadAppSpecsStopWithAClearMessage: the exit codes are Gunicorn's:
// 4 (App failed to load) when the spec names nothing that can serve, 3
// (Worker failed to boot) when importing the module raised, with the
// traceback in the log.
func TestBadAppSpecsStopWithAClearMessage(t *testing.T) {
	tests := []struct {
		spec, want string
		exit       int // 2: refused with the command line; 3: the import raised; 4: no app
	}{
		{"loading.py", `did you mean "loading:application"?`, 2},
		{"apps/loading.py:factory('x')", `did you mean "loading:factory('x')"?`, 2},
		{"loading:nothing_here", "failed to find attribute 'nothing_here' in 'loading'", 4},
		{"loading:factory(os.getcwd())", "factory arguments in 'factory(os.getcwd())' must be literals", 4},
		{"loading:os", "the application 'loading:os' is not callable", 4},
		{"loading:factory()", "loading:factory: the factory's arguments do not fit: missing a required argument: 'greeting'", 4},
		{"loading:factory('x', colour=1)", "got an unexpected keyword argument 'colour'", 4},
		{"broken_import:app", "ModuleNotFoundError: No module named 'this_module_does_not_exist_gowsgi'", 3},
		{"broken_syntax:app", "SyntaxError", 3},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s := start(t, serverOpts{args: []string{tt.spec}, ready: -1})
			if code := s.wait(20 * time.Second); code != tt.exit {
				t.Fatalf("exit code %d; want %d", code, tt.exit)
			}
			out := s.output()
			if !strings.Contains(out, tt.want) {
				t.Fatalf("the log does not say %q:\n%s", tt.want, out)
			}
			if tt.exit == 3 && !strings.Contains(out, "Traceback (most recent call last)") {
				t.Fatalf("no traceback for an import that raised:\n%s", out)
			}
		})
	}
}

// TestAppOfTheOtherKindIsRefused: an ASGI app under a WSGI worker class
// named, or a WSGI app under the ASGI worker, stops the server at load
// with the worker class it needs (Gunicorn serves a 500 with a TypeError
// for each request instead), also when the app is preloaded in the
// zygote.
func TestAppOfTheOtherKindIsRefused(t *testing.T) {
	const needsASGI, needsWSGI = "is an ASGI app (its __call__ is async); serve it with --worker-class asgi",
		"is a WSGI app (it takes environ and start_response); serve it without --worker-class asgi"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-k", "sync", "asgi_raw:app"}, "'asgi_raw:app' " + needsASGI},
		{[]string{"-k", "gthread", "--threads", "4", "asgi_raw:app"}, "'asgi_raw:app' " + needsASGI},
		{[]string{"-k", "asgi", "basic:hello"}, "'basic:hello' " + needsWSGI},
		{[]string{"-k", "asgi", "flaskapp:app"}, "'flaskapp:app' " + needsWSGI},
		{[]string{"-k", "asgi", "--preload", "flaskapp:app"}, "'flaskapp:app' " + needsWSGI},
		{[]string{"-k", "sync", "--preload", "asgi_raw:app"}, "'asgi_raw:app' " + needsASGI},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			s := start(t, serverOpts{args: tt.args, ready: -1})
			if code := s.wait(20 * time.Second); code != 4 {
				t.Fatalf("exit code %d; want 4 (the app could not be loaded)", code)
			}
			if out := s.output(); !strings.Contains(out, tt.want) {
				t.Fatalf("the log does not say %q:\n%s", tt.want, out)
			}
		})
	}
}

// TestAsyncAppServedWithoutWorkerClass: with no worker class named, an
// async app is served as ASGI (Uvicorn's command line, `gowsgi main:app
// --host ... --port ...`, works unchanged), imported in the worker or
// preloaded in the zygote, and a WSGI app beside it as WSGI.
func TestAsyncAppServedWithoutWorkerClass(t *testing.T) {
	for _, args := range [][]string{{"asgi_raw:app"}, {"--preload", "asgi_raw:app"}, {"--threads", "4", "asgi_raw:app"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			s := start(t, serverOpts{args: args})
			code, body := s.get("/scope?x=1")
			var scope struct {
				Type, Path  string
				ASGI        map[string]string
				QueryString string `json:"query_string"`
			}
			if code != 200 || json.Unmarshal([]byte(body), &scope) != nil || scope.Type != "http" ||
				scope.ASGI["version"] != "3.0" || scope.QueryString != "x=1" {
				t.Fatalf("GET /scope?x=1: %d %q; want the app's ASGI scope", code, body)
			}
			if l := s.loggedContaining("the app is async: served as ASGI"); len(l) == 0 {
				t.Errorf("no worker says it serves the app as ASGI:\n%s", s.output())
			}
		})
	}
	s := start(t, serverOpts{args: []string{"basic:hello"}})
	if code, body := s.get("/"); code != 200 || body != "Hello, World!" {
		t.Errorf("a WSGI app with no worker class named: %d %q", code, body)
	}
	if l := s.loggedContaining("served as ASGI"); len(l) != 0 {
		t.Errorf("a WSGI app logged as served as ASGI: %v", l)
	}
}

func TestChdirEnvAndPythonPath(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(a, "pp_first.py"), []byte(
		"import pp_second\n"+
			"def app(environ, start_response):\n"+
			"    start_response('200 OK', [('Content-Type', 'text/plain')])\n"+
			"    return [pp_second.VALUE.encode()]\n"), 0o644)
	os.WriteFile(filepath.Join(b, "pp_second.py"), []byte("VALUE = 'from the second path'\n"), 0o644)
	s := start(t, serverOpts{args: []string{"--pythonpath", a + "," + b, "pp_first:app"}})
	if code, body := s.get("/"); code != 200 || body != "from the second path" {
		t.Fatalf("--pythonpath: %d %q", code, body)
	}

	s = start(t, serverOpts{args: []string{"-e", "GOWSGI_TEST_VALUE=a=b c", "loading:env"}})
	if code, body := s.get("/"); code != 200 || body != "a=b c|"+appsDir {
		t.Fatalf("-e and --chdir: %d %q; want %q", code, body, "a=b c|"+appsDir)
	}
}

func TestAppCannotTakeAwayTermAtImport(t *testing.T) {
	s := start(t, serverOpts{args: []string{"grab_signals:app"}})
	stolen := map[int]bool{}
	for _, l := range s.find("the app installed a handler for a signal gowsgi needs; it was restored") {
		stolen[l.num("signal")] = true
	}
	if len(stolen) != 2 || !stolen[int(syscall.SIGTERM)] || !stolen[int(syscall.SIGINT)] {
		t.Fatalf("warnings for signals %v; want TERM and INT", stolen)
	}
	if code, body := s.get("/"); code != 200 || body != "still mine" {
		t.Fatalf("GET: %d %q", code, body)
	}
	worker := s.workerPIDs()[0]
	// A real TERM, straight to the worker: Go's handler must run.
	if err := syscall.Kill(worker, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitFor(func() bool {
		for _, l := range s.find("graceful stop") {
			if l.num("pid") == worker {
				return true
			}
		}
		return false
	})
	s.signal(syscall.SIGTERM)
	if code := s.wait(20 * time.Second); code != 0 {
		t.Fatalf("master exit code %d after TERM; want 0", code)
	}
}

// makeVenv creates a virtualenv with the test's python3 (the one gowsgi
// embeds) holding one module of its own.
func makeVenv(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "venv")
	out, err := exec.Command("python3", "-m", "venv", "--without-pip", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m venv: %v\n%s", err, out)
	}
	site, err := filepath.Glob(filepath.Join(dir, "lib", "python3.*", "site-packages"))
	if err != nil || len(site) != 1 {
		t.Fatalf("no site-packages in the venv: %v %v", site, err)
	}
	os.WriteFile(filepath.Join(site[0], "venv_only_module.py"), []byte("VALUE = 'only in the venv'\n"), 0o644)
	return dir
}

func TestVirtualenv(t *testing.T) {
	venv := makeVenv(t)
	want := venv + "|only in the venv|flask=False"
	for _, tt := range []struct {
		name string
		opts serverOpts
	}{
		{"--virtualenv", serverOpts{args: []string{"--virtualenv", venv, "venvapp:app"}}},
		{"$VIRTUAL_ENV", serverOpts{args: []string{"venvapp:app"}, env: []string{"VIRTUAL_ENV=" + venv}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.opts)
			if code, body := s.get("/"); code != 200 || body != want {
				t.Fatalf("%d %q; want %q", code, body, want)
			}
		})
	}
}

func TestVirtualenvOfAnotherPythonIsRefused(t *testing.T) {
	venv := makeVenv(t)
	cfg := filepath.Join(venv, "pyvenv.cfg")
	b, _ := os.ReadFile(cfg)
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "version") {
			lines = append(lines, l)
		}
	}
	os.WriteFile(cfg, []byte(strings.Join(append(lines, "version = 3.9.2"), "\n")), 0o644)
	s := start(t, serverOpts{args: []string{"--virtualenv", venv, "venvapp:app"}, ready: -1})
	if code := s.wait(20 * time.Second); code == 0 {
		t.Fatal("gowsgi started with a virtualenv of another Python")
	}
	if out := s.output(); !strings.Contains(out, "is for Python 3.9 but gowsgi embeds Python 3.11") {
		t.Fatalf("no clear message about the version:\n%s", out)
	}
}
