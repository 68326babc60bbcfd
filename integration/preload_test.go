package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// whoami is what the preload.py apps answer: which process serves, its
// parent, and which process imported the app's module.
type whoami struct {
	PID        int      `json:"pid"`
	PPID       int      `json:"ppid"`
	ImportedBy int      `json:"imported_by"`
	Frozen     int      `json:"frozen"` // gc.get_freeze_count()
	Marker     *string  `json:"marker"` // $GOWSGI_ZYGOTE as the app sees it
	Threads    []string `json:"threads"`
	Version    string   `json:"version"`
}

func (s *server) whoami() whoami {
	s.t.Helper()
	code, body := s.get("/")
	var w whoami
	if err := json.Unmarshal([]byte(body), &w); code != 200 || err != nil {
		s.t.Fatalf("GET /: %d %q (%v); want 200 and JSON", code, body, err)
	}
	return w
}

// zygotes returns the pids of the zygotes that loaded the app, in order.
func (s *server) zygotes() []int {
	var pids []int
	for _, l := range s.find("zygote loaded the app") {
		pids = append(pids, l.num("zygote_pid"))
	}
	return pids
}

func (s *server) zygoteExited(pid int) bool {
	for _, l := range s.find("zygote exited") {
		if l.num("zygote_pid") == pid {
			return true
		}
	}
	return false
}

func TestPreloadForksWorkersFromOneImport(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "--preload", "preload:app"}, ready: 2})
	zygotes := s.zygotes()
	if len(zygotes) != 1 {
		t.Fatalf("zygotes %v; want one", zygotes)
	}
	for range 6 {
		w := s.whoami()
		switch {
		case w.ImportedBy != zygotes[0] || w.PID == zygotes[0]:
			t.Fatalf("worker %d runs a module imported by %d; want one imported by the zygote %d", w.PID, w.ImportedBy, zygotes[0])
		case w.PPID != s.cmd.Process.Pid:
			t.Fatalf("worker %d has parent %d; want the master %d", w.PID, w.PPID, s.cmd.Process.Pid)
		case !slices.Contains(s.workerPIDs(), w.PID):
			t.Fatalf("served by %d, not one of the workers %v", w.PID, s.workerPIDs())
		case w.Frozen == 0:
			t.Fatalf("gc.get_freeze_count() = 0 in a worker; want the app's objects frozen")
		case w.Marker != nil:
			t.Fatalf("the app sees GOWSGI_ZYGOTE=%q; want it unset", *w.Marker)
		}
	}
	for _, l := range s.find("booted") {
		if l["preloaded"] != true {
			t.Errorf("booted line %v; want preloaded=true", l)
		}
	}
}

func TestPreloadWithoutGCFreeze(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--preload", "--no-gc-freeze", "preload:app"}})
	if w := s.whoami(); w.Frozen != 0 || w.ImportedBy == w.PID {
		t.Fatalf("--no-gc-freeze: freeze count %d, imported by %d in worker %d; want 0, by the zygote", w.Frozen, w.ImportedBy, w.PID)
	}
}

func TestPreloadRespawnsAKilledWorkerFromTheZygote(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "1", "--preload", "preload:app"}})
	old := s.whoami()
	syscall.Kill(old.PID, syscall.SIGKILL)
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 1 && pids[0] != old.PID })
	if w := s.whoami(); w.ImportedBy != old.ImportedBy || w.PID == old.PID {
		t.Fatalf("replacement %d runs a module imported by %d; want the zygote's import, %d", w.PID, w.ImportedBy, old.ImportedBy)
	}
	if n := len(s.find("zygote started")); n != 1 {
		t.Fatalf("%d zygotes started; want the first one to fork the replacement", n)
	}
}

func TestPreloadKilledZygoteIsReplaced(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "1", "--preload", "preload:app"}})
	first := s.zygotes()[0]
	worker := s.whoami()
	syscall.Kill(first, syscall.SIGKILL)
	s.waitFor(func() bool { return s.zygoteExited(first) })
	if w := s.whoami(); w.PID != worker.PID {
		t.Fatalf("after the zygote died, served by %d; want the worker %d still serving", w.PID, worker.PID)
	}

	syscall.Kill(worker.PID, syscall.SIGKILL)
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 1 && pids[0] != worker.PID })
	zygotes := s.zygotes()
	if len(zygotes) != 2 {
		t.Fatalf("zygotes %v; want a second one", zygotes)
	}
	if w := s.whoami(); w.ImportedBy != zygotes[1] {
		t.Fatalf("the respawned worker runs a module imported by %d; want the new zygote %d", w.ImportedBy, zygotes[1])
	}
}

// preloadVersionApp is preload.py's app with a version, for reloads.
func preloadVersionApp(version string) string {
	return fmt.Sprintf(`import json, os
IMPORTED_BY = os.getpid()

def app(environ, start_response):
    body = json.dumps({"pid": os.getpid(), "imported_by": IMPORTED_BY, "version": %q}).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
`, version)
}

func TestPreloadHUPReloadsTheCode(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, dir, "preloadhup", preloadVersionApp("v1"))
	s := start(t, serverOpts{args: []string{"-w", "2", "--preload", "--pythonpath", dir, "preloadhup:app"}, ready: 2})
	l := startLoad(t, s.url("/"), 4)
	l.waitOK(20)
	old, first := s.workerPIDs(), s.zygotes()[0]

	writeModule(t, dir, "preloadhup", preloadVersionApp("v2"))
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 2 && disjoint(pids, old) })
	second := s.zygotes()[1]
	for range 6 {
		if w := s.whoami(); w.Version != "v2" || w.ImportedBy != second {
			t.Fatalf("after HUP: %+v; want v2 imported by the new zygote %d", w, second)
		}
	}
	s.waitFor(func() bool { return s.zygoteExited(first) })
	l.requireNoFailures(false)
}

func TestPreloadHUPWithBrokenCodeKeepsServing(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, dir, "preloadhup", preloadVersionApp("v1"))
	s := start(t, serverOpts{args: []string{"-w", "2", "--preload", "--pythonpath", dir, "preloadhup:app"}, ready: 2})
	l := startLoad(t, s.url("/"), 4)
	l.waitOK(20)
	old := s.workerPIDs()

	writeModule(t, dir, "preloadhup", "def app(environ, start_response:\n    pass\n")
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { return len(s.logged("reload failed")) == 1 })
	l.waitOK(20)
	if now := s.workerPIDs(); !slices.Equal(now, old) {
		t.Fatalf("workers %v after a failed reload; want the old ones %v", now, old)
	}
	if w := s.whoami(); w.Version != "v1" {
		t.Fatalf("after a failed reload: %+v; want the old code, v1", w)
	}
	if n := strings.Count(s.output(), "SyntaxError"); n != 1 {
		t.Errorf("the log shows %d SyntaxErrors; want the zygote's one", n)
	}
	l.requireNoFailures(false)
}

// TestPreloadBrokenAppStopsWithCode3: an import that raises in the
// zygote is Gunicorn's worker boot error, logged as the app's failure.
func TestPreloadBrokenAppStopsWithCode3(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "3", "--preload", "broken_import:app"}, ready: -1})
	if code := s.wait(20 * time.Second); code != 3 {
		t.Fatalf("exit code = %d; want 3", code)
	}
	out := s.output()
	if !strings.Contains(out, "Traceback") || strings.Count(out, "ModuleNotFoundError") != 1 {
		t.Errorf("output %q; want the zygote's traceback, once", out)
	}
	if !strings.Contains(out, "failed to load the application") {
		t.Errorf("output %q; want it to say the application failed to load", out)
	}
}

func TestPreloadWarnsAboutThreadsStartedAtImport(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--preload", "preload:with_thread()"}})
	warned := s.find("the app started threads while it was imported; the forked workers do not have them")
	if len(warned) != 1 || !strings.Contains(fmt.Sprint(warned[0]["threads"]), "preload-test-ticker") {
		t.Fatalf("warnings %v; want one naming preload-test-ticker", warned)
	}
	if w := s.whoami(); slices.Contains(w.Threads, "preload-test-ticker") {
		t.Fatalf("worker threads %v; the ticker cannot have survived fork", w.Threads)
	}
}

func TestPreloadCheckAndPrintConfig(t *testing.T) {
	code, stdout, stderr := runOnce(t, nil, "--check-config", "--preload", "--chdir", appsDir, "preload:app")
	if code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("--check-config --preload: exit %d, %q, %q; want 0 and silence", code, stdout, stderr)
	}
	code, _, stderr = runOnce(t, nil, "--check-config", "--preload", "--chdir", appsDir, "broken_import:app")
	if code != 1 || !strings.Contains(stderr, "ModuleNotFoundError") {
		t.Fatalf("--check-config --preload of a broken app: exit %d, %q; want 1 and the traceback", code, stderr)
	}
	code, stdout, _ = runOnce(t, nil, "--print-config", "--preload", "--no-gc-freeze", "preload:app")
	if code != 0 || !strings.Contains(stdout, "preload_app = true\n") || !strings.Contains(stdout, "no_gc_freeze = true\n") {
		t.Fatalf("--print-config: exit %d, %q; want preload_app and no_gc_freeze true", code, stdout)
	}
}

// What the app prints while imported appears once: not lost in the
// zygote's buffer, not repeated by every worker forked with a copy of it.
func TestPreloadPrintsImportOutputOnce(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "--preload", "preload:printing()"}, ready: 2,
		env: []string{"PYTHONUNBUFFERED="}}) // block-buffered, as stdout to a pipe is by default
	s.whoami()
	s.signal(syscall.SIGTERM)
	if code := s.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d after TERM; want 0", code)
	}
	if n := strings.Count(s.output(), "preload-test: printed at import"); n != 1 {
		t.Fatalf("the import's output appears %d times; want once", n)
	}
}

// USR2 with --preload: the new master runs its own zygote, from the new
// binary, and serves on alone once the old master is told to stop.
func TestPreloadUSR2Upgrade(t *testing.T) {
	dir := t.TempDir()
	exe, pidfile := filepath.Join(dir, "gowsgi"), filepath.Join(dir, "gowsgi.pid")
	copyBinary(t, exe)
	s := start(t, serverOpts{binary: exe, args: []string{"-w", "2", "-p", pidfile, "--preload", "preload:app"}, ready: 2})
	l := startLoad(t, s.url("/"), 4)
	l.waitOK(20)

	copyBinary(t, exe+".new")
	if err := os.Rename(exe+".new", exe); err != nil {
		t.Fatal(err)
	}
	release := inodeOf(t, exe)
	s.signal(syscall.SIGUSR2)
	s.waitFor(func() bool { return len(s.logged("upgrade: the new master serves")) == 1 })
	newMaster := readPidfile(pidfile + ".2")
	if newMaster == 0 || newMaster == s.cmd.Process.Pid {
		t.Fatalf("PIDFILE.2 = %d; want the new master", newMaster)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(15 * time.Second); code != 0 {
		t.Fatalf("old master exit code %d; want 0", code)
	}
	eventually(t, "the new master to take over the pidfile", func() bool { return readPidfile(pidfile) == newMaster })
	l.waitOK(20)
	w := s.whoami()
	if w.PPID != newMaster || parentOf(w.ImportedBy) != newMaster || w.ImportedBy == w.PID {
		t.Fatalf("after the upgrade %+v; want a worker of the new master %d forked by its zygote (parent of %d: %d)",
			w, newMaster, w.ImportedBy, parentOf(w.ImportedBy))
	}
	if got := inodeOf(t, "/proc/"+strconv.Itoa(w.ImportedBy)+"/exe"); got != release {
		t.Fatalf("the new zygote runs binary inode %d; want the new release %d", got, release)
	}
	l.requireNoFailures(false)
	syscall.Kill(newMaster, syscall.SIGTERM)
	eventually(t, "the new master to exit", func() bool { return readPidfile(pidfile) == 0 })
}

// allPreloaded checks that every worker that booted was forked.
func (s *server) allPreloaded() {
	s.t.Helper()
	for _, l := range s.find("booted") {
		if l["preloaded"] != true {
			s.t.Fatalf("a worker booted without the zygote: %v", l)
		}
	}
}

// The arbiter supervises forked workers as it does re-executed ones: a
// stuck one is dumped, killed and replaced by a fork.
func TestPreloadStuckWorkerIsDumpedAndReplaced(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "--preload", "--timeout", "2", "lifecycle:app"}, ready: 2})
	go http.Get(s.url("/stuck?id=7")) // never answered: its worker is killed
	s.waitFor(func() bool { return len(s.logged("worker timeout: a request outlived")) == 1 })
	victim := s.logged("worker timeout: a request outlived")[0].num("worker_pid")
	s.stuckDump(victim, "/stuck", fmt.Sprintf("lifecycle.py\", line %d in stuck", lineOf(t, "lifecycle.py", "STUCK-HERE")))
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 2 && !slices.Contains(pids, victim) })
	s.allPreloaded()
	if n := len(s.find("zygote started")); n != 1 {
		t.Fatalf("%d zygotes started; want the replacement forked by the first", n)
	}
}

func TestPreloadMaxRequestsTTINAndTTOU(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "--preload", "--max-requests", "30", "lifecycle:app"}, ready: 2})
	l := startLoad(t, s.url("/"), 4)
	s.waitFor(func() bool { return len(s.find("worker exited")) >= 2 })
	s.signal(syscall.SIGTTIN)
	s.waitFor(func() bool { return len(s.logged("one worker more")) == 1 && len(s.workerPIDs()) == 3 })
	s.signal(syscall.SIGTTOU)
	s.waitFor(func() bool { return len(s.logged("one worker less")) == 1 && len(s.workerPIDs()) == 2 })
	l.waitOK(20)
	l.requireNoFailures(false)
	for _, line := range s.find("worker exited") {
		if line.str("signal") != "" || line.num("exit_code") != 0 {
			t.Errorf("a worker did not exit cleanly: %v", line)
		}
	}
	s.allPreloaded()
	if n := len(s.find("zygote started")); n != 1 {
		t.Fatalf("%d zygotes started; want one forking every worker", n)
	}
}

// With --user, the zygote gives the unix socket its owner and mode as
// root, then imports the app, and forks the workers, as the user.
func TestPreloadDropsPrivilegesBeforeTheImport(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("dropping privileges needs root")
	}
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		os.Chmod(d, 0o755) // the forked workers open the access log as nobody
	}
	sock, access := filepath.Join(dir, "app.sock"), filepath.Join(dir, "access.log")
	s := start(t, serverOpts{binary: debianBinary(t), args: []string{"-b", "unix:" + sock,
		"-u", "nobody", "-g", "nogroup", "-m", "007", "--access-logfile", access, "--preload", "peer:ids"}})
	if code, body := s.get("/"); code != 200 || body != "65534 65534 " {
		t.Fatalf("GET / = %d %q; want uid 65534, gid 65534 and no supplementary groups", code, body)
	}
	zygote, _ := os.ReadFile("/proc/" + strconv.Itoa(s.zygotes()[0]) + "/status")
	if !strings.Contains(string(zygote), "\nUid:\t65534\t65534\t65534\t65534\n") {
		t.Errorf("the zygote does not run as nobody:\n%s", zygote)
	}
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65534 || fi.Mode().Perm() != 0o770 {
		t.Errorf("%s: owner %d:%d mode %v; want 65534:65534 0770", sock, st.Uid, st.Gid, fi.Mode().Perm())
	}
}

// TestPreloadStopDuringImport: TERM while the zygote still imports the
// app stops the server at once, as Gunicorn does, where the master's
// loop, waiting for the import, saw it only when the import timed out
// (30 s) and then started another zygote, five times, to exit 3.
func TestPreloadStopDuringImport(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate") // never made: the import waits
	s := start(t, serverOpts{args: []string{"--preload", "-w", "2", "slowimport:app"},
		env: []string{"SLOW_IMPORT_GATE=" + gate}, ready: -1})
	s.waitFor(func() bool { return len(s.find("zygote started")) == 1 })
	s.signal(syscall.SIGTERM)
	if code := s.wait(10 * time.Second); code != 0 {
		t.Errorf("exit code %d after TERM during the import; want 0", code)
	}
	if n := len(s.find("zygote started")); n != 1 {
		t.Errorf("%d zygotes started; want none after the TERM", n)
	}
	if l := s.find("cannot start a worker"); len(l) != 0 {
		t.Errorf("a stop reported as a failure: %v", l)
	}
}
