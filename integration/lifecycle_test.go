package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Signals and supervision of the real binary, each under load. Short
// timeouts keep every test to a few seconds.

func TestLifecycleTermUnderLoadDropsNothing(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "gowsgi.pid")
	s := start(t, serverOpts{args: []string{"-w", "2", "--graceful-timeout", "5", "-p", pidfile, "lifecycle:app"}, ready: 2})
	if readPidfile(pidfile) != s.cmd.Process.Pid {
		t.Fatalf("pidfile holds %d; want the master %d", readPidfile(pidfile), s.cmd.Process.Pid)
	}
	l := startLoad(t, s.url("/?ms=30"), 6)
	l.waitOK(60)
	s.signal(syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code after TERM = %d; want 0", code)
	}
	l.requireNoFailures(true) // after the stop, refused is the right answer
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile left after exit")
	}
}

// TestLifecycleTermServesQueuedConnections fills the listen backlog
// behind a worker that accepts one connection at a time, then stops the
// server: every queued connection is served, none is reset.
func TestLifecycleTermServesQueuedConnections(t *testing.T) {
	termServesQueuedConnections(t, func(s *server) { s.signal(syscall.SIGTERM) })
}

// TestLifecycleGroupTermServesQueuedConnections: the same when TERM
// goes to the master and its workers at once, as systemd's default
// KillMode=control-group and Heroku send it. A worker that stopped at
// its own TERM left the queued connections to be reset.
func TestLifecycleGroupTermServesQueuedConnections(t *testing.T) {
	termServesQueuedConnections(t, func(s *server) {
		if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	})
}

func termServesQueuedConnections(t *testing.T, term func(s *server)) {
	mark := filepath.Join(t.TempDir(), "in-flight")
	s := start(t, serverOpts{args: []string{"--worker-connections", "1", "--graceful-timeout", "10", "lifecycle:app"}})
	type result struct {
		i    int
		resp string
		err  error
	}
	results := make(chan result, 4)
	// send returns once the connection is established, that is queued
	// in the kernel when no worker takes it, and reads in the background.
	send := func(i int, target string) {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", target)
		go func() {
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			b, err := io.ReadAll(c)
			results <- result{i: i, resp: string(b), err: err}
		}()
	}
	send(0, "/?ms=1000&mark="+mark)
	s.waitFor(func() bool { _, err := os.Stat(mark); return err == nil })
	for i := 1; i <= 3; i++ {
		send(i, "/")
	}
	term(s)
	for range 4 {
		r := <-results
		if r.err != nil || !strings.HasPrefix(r.resp, "HTTP/1.1 200 ") {
			t.Errorf("connection %d: %q, %v; want a 200", r.i, r.resp, r.err)
		}
	}
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d; want 0", code)
	}
}

// TestLifecycleTermToOneWorkerReplacesIt: a TERM sent to one worker
// alone (Gunicorn's way to recycle one) stops that worker gracefully,
// finishing its request, and the master starts another; the server
// serves on.
func TestLifecycleTermToOneWorkerReplacesIt(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--graceful-timeout", "30", "lifecycle:app"}})
	worker := s.workerPIDs()[0]
	c, gate := requestHeldAtGate(t, s)
	if err := syscall.Kill(worker, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitFor(func() bool {
		for _, l := range s.find("stopping worker") {
			if l.num("worker_pid") == worker && l.str("reason") == "it was sent TERM" {
				return true
			}
		}
		return false
	})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if b, err := io.ReadAll(c); err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 200 ") {
		t.Fatalf("the request in flight: %q, %v; want a 200", b, err)
	}
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 1 && pids[0] != worker })
	if code, _ := s.get("/"); code != 200 {
		t.Fatalf("GET after the worker was replaced: %d", code)
	}
	select {
	case <-s.exited:
		t.Fatal("the master exited")
	default:
	}
}

// TestLifecycleTermRefusesNewConnections: once a graceful stop has
// served the queued connections, a new connection is refused at once
// (the socket listens no more), not left to retry until the master
// exits, while the request in flight still finishes.
func TestLifecycleTermRefusesNewConnections(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--graceful-timeout", "30", "lifecycle:app"}})
	c, gate := requestHeldAtGate(t, s)
	s.signal(syscall.SIGTERM)
	s.waitFor(func() bool { return len(s.loggedContaining("graceful stop")) > 0 })
	d := net.Dialer{Timeout: 5 * time.Second}
	if nc, err := d.Dial("tcp", s.addr); !errors.Is(err, syscall.ECONNREFUSED) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("a new connection during the stop: %v; want it refused", err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if b, err := io.ReadAll(c); err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 200 ") {
		t.Fatalf("the request in flight: %q, %v; want a 200", b, err)
	}
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit code %d; want 0", code)
	}
	if len(s.loggedContaining("accept failed")) > 0 {
		t.Errorf("the worker's accept loop met the stopped socket as a failure")
	}
}

// requestHeldAtGate sends lifecycle:app a request that waits in the app
// until the returned gate file exists, and returns once the app has it.
func requestHeldAtGate(t *testing.T, s *server) (net.Conn, string) {
	t.Helper()
	dir := t.TempDir()
	mark, gate := filepath.Join(dir, "in-flight"), filepath.Join(dir, "gate")
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET /?mark=%s&gate=%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", mark, gate)
	s.waitFor(func() bool { _, err := os.Stat(mark); return err == nil })
	return c, gate
}

// writeModule writes dir/name.py.
func writeModule(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".py"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// A rewrite within the same second must not look unchanged to an
	// importer comparing mtimes with a stale .pyc.
	os.RemoveAll(filepath.Join(dir, "__pycache__"))
}

func versionApp(version string) string {
	return fmt.Sprintf(`import os
VERSION = %q

def app(environ, start_response):
    body = ("%%s %%d" %% (VERSION, os.getpid())).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
`, version)
}

func disjoint(a, b []int) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func TestLifecycleHUPReloadsCodeAndConfigUnderLoad(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, dir, "hupapp", versionApp("v1"))
	conf := filepath.Join(dir, "gowsgi.toml")
	os.WriteFile(conf, []byte("workers = 2\n"), 0o644)
	s := start(t, serverOpts{args: []string{"-c", conf, "--pythonpath", dir, "hupapp:app"}, ready: 2})
	l := startLoad(t, s.url("/"), 6)
	l.waitOK(40)
	old := s.workerPIDs()

	writeModule(t, dir, "hupapp", versionApp("v2"))
	os.WriteFile(conf, []byte("workers = 3\n"), 0o644)
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 3 && disjoint(pids, old) })
	if pid := s.cmd.Process.Pid; s.find("reloaded: the new workers serve; the old ones finish their requests")[0].num("pid") != pid {
		t.Fatalf("the reload was not done by the same master %d", pid)
	}
	for range 10 {
		if code, body := s.get("/"); code != 200 || !strings.HasPrefix(body, "v2 ") {
			t.Fatalf("after HUP: %d %q; want the new code, v2", code, body)
		}
	}
	l.requireNoFailures(false)
}

func TestLifecycleHUPWithBrokenAppKeepsOldWorkers(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, dir, "hupapp", versionApp("v1"))
	s := start(t, serverOpts{args: []string{"-w", "2", "--pythonpath", dir, "hupapp:app"}, ready: 2})
	l := startLoad(t, s.url("/"), 6)
	l.waitOK(40)
	old := s.workerPIDs()

	writeModule(t, dir, "hupapp", "def app(environ, start_response:\n    pass\n")
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { return len(s.logged("reload failed")) == 1 })
	l.waitOK(40)
	if now := s.workerPIDs(); !slices.Equal(now, old) {
		t.Fatalf("workers %v after a failed reload; want the old ones %v", now, old)
	}
	if code, body := s.get("/"); code != 200 || !strings.HasPrefix(body, "v1 ") {
		t.Fatalf("after a failed reload: %d %q; want the old code, v1", code, body)
	}
	if out := s.output(); !strings.Contains(out, "SyntaxError") {
		t.Errorf("the log does not show why the new code failed")
	}

	writeModule(t, dir, "hupapp", versionApp("v3"))
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 2 && disjoint(pids, old) })
	if code, body := s.get("/"); code != 200 || !strings.HasPrefix(body, "v3 ") {
		t.Fatalf("after fixing the app: %d %q; want v3", code, body)
	}
	l.requireNoFailures(false)
}

func TestLifecycleTTINAndTTOUUnderLoad(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "lifecycle:app"}, ready: 2})
	l := startLoad(t, s.url("/?ms=5"), 6)
	l.waitOK(30)
	oldest := s.find("worker started")[0].num("worker_pid")
	s.signal(syscall.SIGTTIN)
	s.waitFor(func() bool { return len(s.workerPIDs()) == 3 })
	s.signal(syscall.SIGTTOU)
	s.waitFor(func() bool { return len(s.workerPIDs()) == 2 })
	if slices.Contains(s.workerPIDs(), oldest) {
		t.Fatalf("TTOU did not stop the oldest worker %d", oldest)
	}
	s.signal(syscall.SIGTTOU)
	s.waitFor(func() bool { return len(s.workerPIDs()) == 1 })
	// Signals pending together are handled lowest number first, so
	// each waits for the effect of the one before.
	s.signal(syscall.SIGTTOU) // at one worker: ignored
	s.waitFor(func() bool { return len(s.find("TTOU ignored: one worker is the minimum")) == 1 })
	s.signal(syscall.SIGTTIN)
	s.waitFor(func() bool { return len(s.workerPIDs()) == 2 })
	if n := len(s.find("one worker less")); n != 2 {
		t.Fatalf("%d workers removed; want 2 (3 to 1)", n)
	}
	l.waitOK(30)
	l.requireNoFailures(false)
}

func TestLifecycleKilledWorkerUnderLoad(t *testing.T) {
	const clients = 6
	s := start(t, serverOpts{args: []string{"-w", "2", "lifecycle:app"}, ready: 2})
	l := startLoad(t, s.url("/?ms=20"), clients)
	l.waitOK(40)
	victim := s.workerPIDs()[0]
	syscall.Kill(victim, syscall.SIGKILL)
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 2 && !slices.Contains(pids, victim) })
	// Only the requests the killed worker held may fail: at most one per
	// client, each having one request at a time.
	if n := l.failed.Load(); n > clients {
		t.Errorf("%d requests failed around the kill; want at most %d", n, clients)
	}
	before := l.failed.Load()
	l.waitOK(60)
	if n := l.failed.Load() - before; n != 0 {
		t.Errorf("%d requests failed after the replacement was ready: %v", n, l.firstFailures())
	}
	if l.refused.Load() != 0 {
		t.Errorf("%d connections refused: the listeners must outlive a worker", l.refused.Load())
	}
}

// TestLifecycleStuckWorkerIsDumpedAndReplaced: an app call blocked in C
// with the GIL held outlives --timeout; the log names the request and
// marks its thread in the dump, at the stuck line (or, on a machine so
// starved that the call was not yet in Python code after --timeout,
// says so: stuckDump), and a new worker takes over.
func TestLifecycleStuckWorkerIsDumpedAndReplaced(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "--timeout", "2", "lifecycle:app"}, ready: 2})
	l := startLoad(t, s.url("/"), 4)
	l.waitOK(20)
	go http.Get(s.url("/stuck?id=7")) // never answered: its worker is killed
	s.waitFor(func() bool { return len(s.logged("worker timeout: a request outlived")) == 1 })
	timeout := s.logged("worker timeout: a request outlived")[0]
	if timeout.str("method") != "GET" || timeout.str("path") != "/stuck" || timeout.num("elapsed") < 2000 {
		t.Fatalf("timeout log line %v; want GET /stuck after 2000ms or more", timeout)
	}
	victim := timeout.num("worker_pid")
	s.stuckDump(victim, "/stuck", fmt.Sprintf("lifecycle.py\", line %d in stuck", lineOf(t, "lifecycle.py", "STUCK-HERE")))
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 2 && !slices.Contains(pids, victim) })
	exited := s.find("worker exited")
	if last := exited[len(exited)-1]; last.num("worker_pid") != victim || last.str("signal") != "killed" {
		t.Fatalf("exit of the stuck worker logged as %v; want SIGKILL", last)
	}
	// Requests that landed on the stuck worker may have failed with it;
	// once it is replaced nothing fails.
	before := l.failed.Load()
	l.waitOK(40)
	if n := l.failed.Load() - before; n != 0 {
		t.Errorf("%d requests failed after the replacement: %v", n, l.firstFailures())
	}
}

// TestLifecycleStoppedMasterKeepsLiveWorkers: a master stopped for
// longer than --timeout (SIGSTOP, a debugger) while its workers go on
// finds them alive when it continues: it reads their heartbeats before
// it judges their silence, where it used to kill every worker at once
// (Gunicorn's arbiter finds its workers' files fresh). A worker that was
// stopped too is still caught: the marker that the judging happened.
func TestLifecycleStoppedMasterKeepsLiveWorkers(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "--timeout", "1", "basic:hello"}, ready: 2})
	pids := s.workerPIDs()
	live, frozen := pids[0], pids[1]
	s.signal(syscall.SIGSTOP)
	if err := syscall.Kill(frozen, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(frozen, syscall.SIGCONT) })
	time.Sleep(4 * time.Second) // the pause itself: four timeouts
	s.signal(syscall.SIGCONT)
	s.waitFor(func() bool { return len(s.logged("the master ran late")) == 1 })
	s.waitFor(func() bool { return len(s.logged("worker timeout")) > 0 })
	for _, l := range s.logged("worker timeout") {
		if l.num("worker_pid") != frozen {
			t.Errorf("%v; want only the stopped worker %d judged stuck, not the live one %d", l, frozen, live)
		}
	}
	if code, _ := s.get("/"); code != 200 {
		t.Errorf("GET / = %d after the pause", code)
	}
}

func TestLifecycleMaxRequestsRecyclesWithoutFailures(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "--max-requests", "40", "--max-requests-jitter", "10", "lifecycle:app"}, ready: 2})
	l := startLoad(t, s.url("/"), 6)
	s.waitFor(func() bool { return len(s.find("worker exited")) >= 4 })
	l.waitOK(20)
	l.requireNoFailures(false)
	for _, line := range s.find("worker exited") {
		if line.str("signal") != "" || line.num("exit_code") != 0 {
			t.Errorf("a recycled worker did not exit cleanly: %v", line)
		}
	}
	if n := len(s.logged("worker reached --max-requests")); n < 4 {
		t.Errorf("%d workers retired for --max-requests; want 4 or more", n)
	}
}

func TestLifecycleUSR1ReopensLogFiles(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "error.log")
	s := start(t, serverOpts{args: []string{"-w", "2", "--error-logfile", logPath, "--log-format", "json", "lifecycle:app"}, ready: -1})
	eventually(t, "two workers ready in the log file", func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Count(string(b), `"worker ready"`) == 2
	})
	os.Rename(logPath, logPath+".1") // what logrotate does
	s.signal(syscall.SIGUSR1)
	eventually(t, "master and workers writing to the new file", func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Count(string(b), "reopened") >= 1 && strings.Count(string(b), `"role":"worker"`) >= 2
	})
}

// TestLifecycleReloadOnCodeChange: with --reload an edited module is
// served by new workers, and a syntax error keeps the old ones.
func TestLifecycleReloadOnCodeChange(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, dir, "devapp", versionApp("v1"))
	s := start(t, serverOpts{args: []string{"--reload", "--pythonpath", dir, "devapp:app"}})
	l := startLoad(t, s.url("/"), 4)
	l.waitOK(20)
	served := func(version string) func() bool {
		return func() bool { code, body := s.get("/"); return code == 200 && strings.HasPrefix(body, version+" ") }
	}
	writeModule(t, dir, "devapp", versionApp("v2"))
	s.waitFor(served("v2"))

	writeModule(t, dir, "devapp", "def app(environ, start_response:\n")
	s.waitFor(func() bool { return len(s.logged("reload failed")) == 1 })
	if !served("v2")() {
		t.Fatalf("a syntax error took the running code down")
	}
	if !strings.Contains(s.output(), "SyntaxError") {
		t.Errorf("the log does not show the syntax error")
	}
	writeModule(t, dir, "devapp", versionApp("v3"))
	s.waitFor(served("v3"))
	l.requireNoFailures(false)
}
