package integration

// Smoke tests run against every CPython gowsgi is built for: make test
// runs them (-run Smoke) once more for each interpreter in PYTHONS, with
// GOWSGI_BINARY naming a binary built for it and GOWSGI_PYTHON that
// interpreter. The whole suite runs on the default build only.

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pyInfo is what pythons.py's interpreter() reports about a process.
type pyInfo struct {
	PID            int    `json:"pid"`
	Version        string `json:"version"`
	Executable     string `json:"executable"`
	BaseExecutable string `json:"base_executable"`
	Prefix         string `json:"prefix"`
	// Mark is onlyhere.MARK, for /onlyhere (pip_test.go).
	Mark string `json:"mark"`
}

// builtPython is the interpreter the binary under test was built for,
// as it reports itself when run: $GOWSGI_PYTHON, else python3 (the
// default of make build).
func builtPython(t *testing.T) pyInfo {
	t.Helper()
	return builtPythonOf(t, cmp.Or(os.Getenv("GOWSGI_PYTHON"), "python3"))
}

// builtPythonOf is what python reports about itself when run.
func builtPythonOf(t *testing.T, python string) pyInfo {
	t.Helper()
	out, err := exec.Command(python, "-c", "import json, sys, os; print(json.dumps({"+
		"'pid': os.getpid(), 'version': sys.version, 'executable': sys.executable, "+
		"'base_executable': sys._base_executable, 'prefix': sys.prefix}))").Output()
	if err != nil {
		t.Fatalf("%s: %v", python, err)
	}
	var info pyInfo
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("%s printed %q: %v", python, out, err)
	}
	return info
}

// getInfo asks the app at path for an interpreter() report.
func getInfo(t *testing.T, s *server, path string) pyInfo {
	t.Helper()
	code, body := s.get(path)
	var info pyInfo
	if err := json.Unmarshal([]byte(body), &info); code != 200 || err != nil {
		t.Fatalf("GET %s = %d %q", path, code, body)
	}
	return info
}

// lineOf is the number of the line of testdata/apps/file holding marker.
func lineOf(t *testing.T, file, marker string) int {
	t.Helper()
	f, err := os.Open(filepath.Join(appsDir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), marker) {
			return n
		}
	}
	t.Fatalf("no %s line in %s", marker, file)
	return 0
}

// logged reports whether a log line's message holds every one of parts.
func (s *server) loggedAll(parts ...string) bool {
	for _, l := range s.lines_() {
		found := true
		for _, p := range parts {
			found = found && strings.Contains(l.str("message"), p)
		}
		if found {
			return true
		}
	}
	return false
}

// TestSmokeServe: the app runs on the interpreter the binary was built
// for, serves a streamed body, gowsgi stack shows where a request waits,
// HUP replaces the worker and TERM stops the server cleanly.
func TestSmokeServe(t *testing.T) {
	t.Parallel()
	want := builtPython(t)
	s := start(t, serverOpts{args: []string{"-w", "1", "--threads", "2", "--admin-bind", "127.0.0.1:0", "pythons:app"}})
	admin := s.adminURL()
	info := getInfo(t, s, "/")
	if info.Version != want.Version {
		t.Fatalf("the app runs Python %q; want %q", info.Version, want.Version)
	}

	resp, err := client.Get(s.url("/stream?n=50"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	var wantBody strings.Builder
	for i := range 50 {
		fmt.Fprintf(&wantBody, "chunk %d\n", i)
	}
	if err != nil || string(body) != wantBody.String() || len(resp.TransferEncoding) != 1 {
		t.Fatalf("streamed response: %v %q %v; want 50 chunks, chunked", err, body, resp.TransferEncoding)
	}

	mark := filepath.Join(t.TempDir(), "waiting")
	done := make(chan int, 1)
	go func() { done <- tryGet(s.url("/slow?mark=" + mark)) }()
	waitForFile(t, mark)
	out, err := exec.Command(binary, "stack", "--admin-bind", strings.TrimPrefix(admin, "http://"),
		strconv.Itoa(info.PID)).CombinedOutput()
	os.Remove(mark)
	where := fmt.Sprintf("pythons.py\", line %d in app", lineOf(t, "pythons.py", "SLOW-HERE"))
	if err != nil || !strings.Contains(string(out), where) {
		t.Errorf("gowsgi stack %d: %v; want %s in\n%s", info.PID, err, where, out)
	}
	if code := <-done; code != 200 {
		t.Fatalf("the request gowsgi stack looked at = %d; want 200", code)
	}

	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 1 && pids[0] != info.PID })
	if now := getInfo(t, s, "/"); now.PID == info.PID || now.Version != want.Version {
		t.Fatalf("after HUP: served by %d on %q; want a new worker on the same Python", now.PID, now.Version)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code after TERM = %d; want 0", code)
	}
}

// TestSmokeRequestTimeout: a pure-Python loop past --request-timeout is
// answered 504 and its stack is logged.
func TestSmokeRequestTimeout(t *testing.T) {
	t.Parallel()
	s := start(t, serverOpts{args: []string{"-w", "1", "--request-timeout", "1", "pythons:app"}})
	if code, _ := s.get("/loop"); code != 504 {
		t.Fatalf("/loop = %d; want 504", code)
	}
	where := fmt.Sprintf("pythons.py\", line %d, in app", lineOf(t, "pythons.py", "LOOP-HERE"))
	s.waitFor(func() bool { return s.loggedAll("request timeout", where) })
	if info := getInfo(t, s, "/"); info.PID != s.workerPIDs()[0] {
		t.Fatalf("after the timeout, served by %d; want the same worker", info.PID)
	}
}

// TestSmokeWorkerTimeout: a preloaded (forked) worker, whose
// sys.executable is the python gowsgi was built for too, stuck in C with
// the GIL held past --timeout is dumped, with the stuck line (or, when
// its call was not in Python code yet, where it was: stuckDump), and
// replaced.
func TestSmokeWorkerTimeout(t *testing.T) {
	t.Parallel()
	want := builtPython(t)
	s := start(t, serverOpts{args: []string{"-w", "1", "--preload", "--timeout", "2", "pythons:app"}})
	victim := s.workerPIDs()[0]
	if info := getInfo(t, s, "/"); info.Executable != want.Executable {
		t.Errorf("sys.executable of a preloaded worker = %q; want %q", info.Executable, want.Executable)
	}
	go tryGet(s.url("/stuck")) // never answered: its worker is killed
	// The dump shows the stuck line when the call was in Python code
	// after --timeout; on a starved machine it may not be there yet, and
	// the dump says where it was instead (stuckDump checks either).
	s.stuckDump(victim, "/stuck", fmt.Sprintf("pythons.py\", line %d in app", lineOf(t, "pythons.py", "STUCK-HERE")))
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 1 && pids[0] != victim })
	if code, _ := s.get("/"); code != http.StatusOK {
		t.Fatalf("the replacement answered %d", code)
	}
}

// TestSmokeAppStartsRealPython: sys.executable in an app is the python
// gowsgi was built for, so subprocess and multiprocessing's spawn and
// forkserver start that Python, not gowsgi.
func TestSmokeAppStartsRealPython(t *testing.T) {
	t.Parallel()
	want := builtPython(t)
	s := start(t, serverOpts{args: []string{"-w", "1", "pythons:app"}})
	worker := getInfo(t, s, "/")
	if worker.Executable != want.Executable || worker.BaseExecutable != want.BaseExecutable || worker.Prefix != want.Prefix {
		t.Fatalf("in the app: sys.executable %q, sys._base_executable %q, sys.prefix %q; want %q, %q, %q",
			worker.Executable, worker.BaseExecutable, worker.Prefix, want.Executable, want.BaseExecutable, want.Prefix)
	}
	for _, path := range []string{"/subprocess", "/spawn", "/forkserver"} {
		child := getInfo(t, s, path)
		if child.PID == worker.PID || child.Version != want.Version || child.Executable != want.Executable {
			t.Errorf("%s started pid %d (worker %d), Python %q at %q; want another process on %q at %q",
				path, child.PID, worker.PID, child.Version, child.Executable, want.Version, want.Executable)
		}
	}
}

// TestSmokeVersionNamesPython: gowsgi --version and the start-up log
// name the embedded CPython and the interpreter it was built for.
func TestSmokeVersionNamesPython(t *testing.T) {
	t.Parallel()
	want := builtPython(t)
	version, _, _ := strings.Cut(want.Version, " ")
	out, err := exec.Command(binary, "--version").Output()
	line := fmt.Sprintf("CPython %s (", version)
	if err != nil || !strings.Contains(string(out), line) || !strings.Contains(string(out), "libpython") ||
		!strings.HasSuffix(string(out), ", built for "+want.Executable+"\n") {
		t.Fatalf("gowsgi --version: %v\n%s\nwant %q... built for %s", err, out, line, want.Executable)
	}
	s := start(t, serverOpts{args: []string{"-w", "1", "pythons:app"}})
	if l := s.find("starting gowsgi on CPython " + version); len(l) != 1 || l[0].str("python_executable") != want.Executable {
		t.Fatalf("start-up log %v; want CPython %s built for %s", l, version, want.Executable)
	}
}

// debianPackages holds Debian's python3-flask (DEB_PACKAGES); pure
// Python, so it imports on every CPython (its C speedups, built for
// Debian's 3.11, are skipped elsewhere and fall back to Python).
const debianPackages = "/usr/lib/python3/dist-packages"

// TestSmokeFlask: a real framework app (Flask, from Debian's packages,
// under wsgiref.validate) is served by every CPython, a streamed
// response included.
func TestSmokeFlask(t *testing.T) {
	t.Parallel()
	s := start(t, serverOpts{args: []string{"-w", "1", "--pythonpath", debianPackages, "flaskapp"}})
	if code, body := s.get("/hello/smoke"); code != 200 || body != "Hello, smoke!" {
		t.Fatalf("GET /hello/smoke = %d %q", code, body)
	}
	if code, body := s.get("/json?a=1"); code != 200 || !strings.Contains(body, `"args":{"a":"1"}`) {
		t.Fatalf("GET /json = %d %q", code, body)
	}
	if code, body := s.get("/stream?n=3&tag=t"); code != 200 || body != "chunk 0 of t\nchunk 1 of t\nchunk 2 of t\n" {
		t.Fatalf("GET /stream = %d %q", code, body)
	}
}
