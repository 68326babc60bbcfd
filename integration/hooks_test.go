package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Gunicorn's server hooks, from a real config file
// (testdata/gunicorn/events.conf.py): each hook appends its process id,
// its name and what it saw to a file; the tests check that it ran at
// its moment, in its process (the hook host for the master's hooks, the
// worker for the worker's), with the objects real hooks use.

// hookEvent is one line of the events file.
type hookEvent struct {
	pid    int
	name   string
	fields []string
}

func readEvents(t *testing.T, path string) []hookEvent {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []hookEvent
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		pid, _ := strconv.Atoi(f[0])
		out = append(out, hookEvent{pid: pid, name: f[1], fields: f[2:]})
	}
	return out
}

// events returns the events named name; index returns the position of
// the first one whose fields start with fields, or -1.
func eventsNamed(evs []hookEvent, name string) []hookEvent {
	var out []hookEvent
	for _, e := range evs {
		if e.name == name {
			out = append(out, e)
		}
	}
	return out
}

func eventIndex(evs []hookEvent, name string, fields ...string) int {
	for i, e := range evs {
		if e.name == name && len(e.fields) >= len(fields) && slices.Equal(e.fields[:len(fields)], fields) {
			return i
		}
	}
	return -1
}

func hookConf(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("testdata/gunicorn/events.conf.py")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHooksRunAtTheirMoment drives a server through a request, TTIN,
// HUP and INT, and checks every hook against Gunicorn's documented
// moment and process.
func TestHooksRunAtTheirMoment(t *testing.T) {
	evFile := filepath.Join(t.TempDir(), "events")
	s := start(t, serverOpts{args: []string{"-c", hookConf(t), "-w", "2", "basic:hello"},
		env: []string{"HOOK_EVENTS=" + evFile}, ready: 2})
	master := strconv.Itoa(s.cmd.Process.Pid)

	req, _ := http.NewRequest("GET", s.url("/x?y=1"), nil)
	req.Header.Set("X-Hook-Test", "yes")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /x: %d", resp.StatusCode)
	}
	s.waitFor(func() bool { return len(eventsNamed(readEvents(t, evFile), "post_request")) == 1 })

	s.signal(syscall.SIGTTIN)
	s.waitFor(func() bool { return len(s.workerPIDs()) == 3 })
	three := s.workerPIDs()
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { return len(eventsNamed(readEvents(t, evFile), "on_reload")) == 1 })
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 2 && disjoint(pids, three) })
	second := s.workerPIDs()
	s.signal(syscall.SIGHUP) // the same count: Gunicorn's nworkers_changed(2, 2)
	s.waitFor(func() bool { return len(eventsNamed(readEvents(t, evFile), "on_reload")) == 2 })
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 2 && disjoint(pids, second) })
	last := s.workerPIDs()
	s.signal(syscall.SIGINT)
	if code := s.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after INT; want 0", code)
	}
	evs := readEvents(t, evFile)

	workers := map[int]bool{}
	for _, l := range s.find("worker ready") {
		workers[l.num("worker_pid")] = true
	}
	// The master's hooks run in the hook host: neither the Go master nor
	// a worker, with server.pid the master's.
	for _, name := range []string{"nworkers_changed", "on_starting", "when_ready", "pre_fork", "on_reload",
		"child_exit", "on_exit"} {
		got := eventsNamed(evs, name)
		if len(got) == 0 {
			t.Errorf("%s never ran", name)
		}
		for _, e := range got {
			if strconv.Itoa(e.pid) == master || workers[e.pid] || e.fields[0] != master {
				t.Errorf("%s ran in pid %d with server.pid %s; want the hook host, with the master's %s",
					name, e.pid, e.fields[0], master)
			}
		}
	}
	// Gunicorn's order at start: nworkers_changed(2, None) as the arbiter
	// sets up, on_starting, when_ready once listening, then pre_fork.
	order := []int{
		eventIndex(evs, "nworkers_changed", master, "2", "None"),
		eventIndex(evs, "on_starting", master, "2", "30"),
		eventIndex(evs, "when_ready", master, "[('127.0.0.1',0)]", "30"), // Gunicorn's shapes: cfg.address parsed
		eventIndex(evs, "pre_fork", master, "[booting]", "1"),
	}
	if slices.Contains(order, -1) || !slices.IsSorted(order) {
		t.Errorf("start order (nworkers_changed, on_starting, when_ready, pre_fork) at %v", order)
	}
	if forks := eventsNamed(evs, "pre_fork"); len(forks) < 3 || forks[0].fields[3] != "1" || forks[1].fields[3] != "2" ||
		forks[2].fields[3] != "3" {
		t.Errorf("pre_fork events %+v; want server.forks counting 1, 2, 3 on one server object", forks)
	} else if forks[0].fields[4] != "0" || forks[1].fields[4] != "1" || forks[2].fields[4] != "2" {
		t.Errorf("pre_fork events %+v; want server.WORKERS to hold the workers earlier pre_forks noted", forks)
	}
	if eventIndex(evs, "nworkers_changed", master, "3", "2") < 0 {
		t.Errorf("TTIN ran no nworkers_changed(3, 2)")
	}
	if eventIndex(evs, "nworkers_changed", master, "2", "3") < 0 {
		t.Errorf("HUP back to the file's 2 workers ran no nworkers_changed(2, 3)")
	}
	if eventIndex(evs, "nworkers_changed", master, "2", "2") < 0 {
		t.Errorf("a HUP with the same count ran no nworkers_changed(2, 2), as Gunicorn's reload does")
	}
	if reloads := eventsNamed(evs, "on_reload"); len(reloads) != 2 || reloads[0].fields[1] != "2" {
		t.Errorf("on_reload events %+v; want two, the first seeing server.num_workers 2 (the new count)", reloads)
	}
	if evs[len(evs)-1].name != "on_exit" {
		t.Errorf("the last hook was %s; want on_exit", evs[len(evs)-1].name)
	}
	for pid := range workers {
		p := strconv.Itoa(pid)
		fork := eventIndex(evs, "post_fork", master, p, master)
		initd := eventIndex(evs, "post_worker_init", p, "hello")
		exit := eventIndex(evs, "worker_exit", master, p, "False")
		child := eventIndex(evs, "child_exit", master, p)
		if fork < 0 || initd < fork || exit < initd || child < 0 {
			t.Errorf("worker %d: post_fork at %d, post_worker_init at %d, worker_exit at %d, child_exit at %d",
				pid, fork, initd, exit, child)
		}
		if initd >= 0 && !strings.HasPrefix(evs[initd].fields[2], "raises:worker.tmp_has_no_meaning_in_gowsgi:") {
			t.Errorf("worker.tmp: %s; want an AttributeError saying it has no meaning", evs[initd].fields[2])
		}
		if initd >= 0 && evs[initd].fields[len(evs[initd].fields)-1] != "True" {
			t.Errorf("post_worker_init: worker.app.callable is not worker.wsgi: %v", evs[initd].fields)
		}
		// What pre_fork stored on the worker, in the hook host, is on the
		// worker's own object and on the master's in child_exit.
		if fork >= 0 && child >= 0 {
			f, c := evs[fork].fields, evs[child].fields
			if f[len(f)-1] != "noted-"+f[3] || c[len(c)-1] != f[len(f)-1] {
				t.Errorf("worker %d: post_fork saw note %s, child_exit %s; want noted-%s in both", pid,
					f[len(f)-1], c[len(c)-1], f[3])
			}
		}
		for _, i := range []int{fork, initd, exit} {
			if i >= 0 && evs[i].pid != pid {
				t.Errorf("worker %d: %s ran in pid %d", pid, evs[i].name, evs[i].pid)
			}
		}
	}
	for _, pid := range last {
		if i := eventIndex(evs, "worker_int", strconv.Itoa(pid), "False"); i < 0 || evs[i].pid != pid {
			t.Errorf("worker %d got INT but ran no worker_int in its process", pid)
		}
	}
	pre, post := eventsNamed(evs, "pre_request"), eventsNamed(evs, "post_request")
	if len(pre) != 1 || !slices.Equal(pre[0].fields[1:], []string{"GET", "/x", "y=1", "yes"}) || !workers[pre[0].pid] {
		t.Errorf("pre_request: %+v", pre)
	}
	if len(post) != 1 || post[0].pid != pre[0].pid ||
		!slices.Equal(post[0].fields[1:], []string{"/x?y=1", "/x", "200", "True", "text/plain"}) {
		t.Errorf("post_request: %+v; want the same worker, req.started kept from pre_request", post)
	}
	if l := s.loggedContaining("on_starting hook: 2 workers"); len(l) != 1 || l[0].str("level") != "warn" ||
		l[0].str("source") != "hooks" {
		t.Errorf("server.log.warning from on_starting: %v", l)
	}
	if len(s.loggedContaining("post_fork hook in ")) != len(workers) {
		t.Errorf("worker.log.info from post_fork is not in the error log once per worker")
	}
}

// TestHookFailures: a hook that raises is logged with its traceback;
// where Gunicorn stops the server, gowsgi stops with Gunicorn's exit
// code; elsewhere the server goes on.
func TestHookFailures(t *testing.T) {
	stops := []struct {
		name, hook string
		exit       int
	}{
		{"on_starting", "def on_starting(server):\n    raise ValueError('no start')\n", 1},
		{"when_ready", "def when_ready(server):\n    raise ValueError('not ready')\n", 1},
		{"post_fork", "def post_fork(server, worker):\n    raise ValueError('bad fork')\n", 3},
		{"pre_fork", "def pre_fork(server, worker):\n    raise ValueError('no fork')\n", 1},
	}
	for _, tt := range stops {
		t.Run(tt.name, func(t *testing.T) {
			conf := writeConf(t, t.TempDir(), "gunicorn.conf.py", tt.hook)
			s := start(t, serverOpts{args: []string{"-c", conf, "basic:hello"}, ready: -1})
			if code := s.wait(20 * time.Second); code != tt.exit {
				t.Fatalf("exit code %d; want %d", code, tt.exit)
			}
			tb := s.loggedContaining("the " + tt.name + " hook raised:")
			if len(tb) == 0 || !strings.Contains(tb[0].str("message"), "ValueError: ") ||
				!strings.Contains(tb[0].str("message"), conf+`", line 2, in `+tt.name) {
				t.Errorf("no traceback of the %s hook in the log", tt.name)
			}
		})
	}

	t.Run("request hooks", func(t *testing.T) {
		conf := writeConf(t, t.TempDir(), "gunicorn.conf.py", `
def pre_request(worker, req):
    if req.path == "/pre":
        raise ValueError("pre_request refused " + req.path)

def post_request(worker, req, environ, resp):
    if req.path == "/post":
        raise ValueError("post_request failed after %d" % resp.status_code)
`)
		s := start(t, serverOpts{args: []string{"-c", conf, "basic:pid"}})
		_, before := s.get("/")
		if code, _ := s.get("/pre"); code != 500 {
			t.Errorf("pre_request raised: %d; want 500, as Gunicorn answers", code)
		}
		if code, _ := s.get("/post"); code != 200 {
			t.Errorf("post_request raised after the response: %d; want the app's 200", code)
		}
		if code, after := s.get("/"); code != 200 || after != before {
			t.Errorf("after the failing hooks: %d from worker %s; want 200 from the same worker %s", code, after, before)
		}
		s.waitFor(func() bool { return len(s.loggedContaining("ValueError: post_request failed after 200")) == 1 })
		if len(s.loggedContaining("ValueError: pre_request refused /pre")) != 1 {
			t.Errorf("the pre_request traceback is not logged")
		}
	})

	t.Run("child_exit", func(t *testing.T) {
		conf := writeConf(t, t.TempDir(), "gunicorn.conf.py", "def child_exit(server, worker):\n    raise ValueError('child')\n")
		s := start(t, serverOpts{args: []string{"-c", conf, "basic:hello"}})
		syscall.Kill(s.workerPIDs()[0], syscall.SIGKILL)
		if code := s.wait(20 * time.Second); code != 1 {
			t.Fatalf("exit code %d after child_exit raised; want 1, as Gunicorn's main loop stops", code)
		}
	})
}

// TestHookWorkerAbort: worker_abort, then worker_exit, run in the worker
// whose request outlived --timeout, before the master kills it (a
// Gunicorn worker leaves its abort handler by sys.exit, and worker_exit
// runs on the way out).
func TestHookWorkerAbort(t *testing.T) {
	evFile := filepath.Join(t.TempDir(), "events")
	mark := filepath.Join(t.TempDir(), "mark")
	s := start(t, serverOpts{args: []string{"-c", hookConf(t), "-t", "1", "basic:slow"},
		env: []string{"HOOK_EVENTS=" + evFile}})
	pid := s.workerPIDs()[0]
	go tryGet(s.url("/?seconds=30&mark=" + mark))
	s.waitFor(func() bool { _, err := os.Stat(mark); return err == nil })
	s.waitFor(func() bool { return eventIndex(readEvents(t, evFile), "worker_abort", strconv.Itoa(pid)) >= 0 })
	if i := eventIndex(readEvents(t, evFile), "worker_abort", strconv.Itoa(pid)); readEvents(t, evFile)[i].pid != pid {
		t.Errorf("worker_abort did not run in the worker %d", pid)
	}
	s.waitFor(func() bool { return len(s.find("worker exited")) == 1 })
	evs := readEvents(t, evFile)
	abort, exit := eventIndex(evs, "worker_abort", strconv.Itoa(pid)), eventIndex(evs, "worker_exit", strconv.Itoa(s.cmd.Process.Pid), strconv.Itoa(pid))
	if exit < 0 || evs[exit].pid != pid || exit < abort {
		t.Errorf("events %v; want worker_exit in the aborted worker %d after its worker_abort", evs, pid)
	}
}

// TestHooksAsImportStrings: a hook given as "module.function", which
// Gunicorn imports, from --pythonpath in the workers and the hook host.
func TestHooksAsImportStrings(t *testing.T) {
	dir := t.TempDir()
	writeConf(t, dir, "myhooks.py", `
import os

def ready(server):
    server.log.info("string hook when_ready in %d", os.getpid())

def fork(server, worker):
    worker.log.info("string hook post_fork in %d", worker.pid)
`)
	conf := writeConf(t, dir, "gunicorn.conf.py", "when_ready = 'myhooks.ready'\npost_fork = 'myhooks.fork'\n")
	s := start(t, serverOpts{args: []string{"-c", conf, "--pythonpath", dir, "basic:hello"}})
	pid := s.workerPIDs()[0]
	if len(s.loggedContaining("string hook when_ready in ")) != 1 {
		t.Errorf("when_ready given as a string did not run")
	}
	if len(s.loggedContaining("string hook post_fork in "+strconv.Itoa(pid))) != 1 {
		t.Errorf("post_fork given as a string did not run in worker %d", pid)
	}
}

// TestNoHelperOutlivesTheMaster: the zygote of --preload and the hook
// host have exited, reaped by the master, when it exits; left behind
// they would be orphans (a zombie under an init that does not reap).
func TestNoHelperOutlivesTheMaster(t *testing.T) {
	evFile := filepath.Join(t.TempDir(), "events")
	s := start(t, serverOpts{args: []string{"-c", hookConf(t), "--preload", "--log-level", "debug", "basic:hello"},
		env: []string{"HOOK_EVENTS=" + evFile}})
	var helpers []int
	for _, l := range s.find("zygote started") {
		helpers = append(helpers, l.num("zygote_pid"))
	}
	for _, l := range s.find("hook host ready") {
		helpers = append(helpers, l.num("hook_host_pid"))
	}
	if len(helpers) != 2 || slices.Contains(helpers, 0) {
		t.Fatalf("helper pids %v; want the zygote's and the hook host's", helpers)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d; want 0", code)
	}
	for _, pid := range helpers {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			t.Errorf("helper %d is still there after the master exited: %s", pid, stat)
		}
	}
}

// TestHookHostTracebackShowsGowsgisLines: a traceback through gowsgi's
// own Python in the hook host names each embedded source and shows its
// line, as one through a file does. Run as bare "<string>" sources, they
// showed no line (CPython 3.11, 3.12) or the line of another such source
// (3.13, which keeps "<string>" sources in linecache).
func TestHookHostTracebackShowsGowsgisLines(t *testing.T) {
	conf := writeConf(t, t.TempDir(), "gunicorn.conf.py",
		"logconfig_dict = {'version': 1, 'handlers': {'h': {'class': 'logging.StreamHandler'}}}\n"+
			"def on_starting(server):\n    pass\n")
	s := start(t, serverOpts{args: []string{"-c", conf, "basic:hello"}, ready: -1})
	if code := s.wait(20 * time.Second); code == 0 {
		t.Fatalf("exit code 0 with a logconfig_dict that cannot work")
	}
	failed := s.linesWhere(func(string) bool { return true })
	var tb string
	for _, l := range failed {
		if e := l.str("error"); strings.Contains(e, "Traceback") {
			tb = e
		}
	}
	if strings.Contains(tb, `File "<string>"`) {
		t.Errorf("a frame of an unnamed source:\n%s", tb)
	}
	frame := regexp.MustCompile(`File "<gowsgi>/_gowsgi_logging\.py", line \d+, in _apply_config\n +(.*)\n`)
	if m := frame.FindStringSubmatch(tb); m == nil || !strings.Contains(m[1], "dictConfig(") {
		t.Errorf("the frame of _gowsgi_logging's _apply_config does not show its call of dictConfig:\n%s", tb)
	}
}

// TestWorkerExitRunsWhenTheAppFailsToLoad: a worker whose app import
// raises runs worker_exit before it exits, as Gunicorn's spawn_worker
// does in its finally; the master then stops with exit code 3.
func TestWorkerExitRunsWhenTheAppFailsToLoad(t *testing.T) {
	evFile := filepath.Join(t.TempDir(), "events")
	s := start(t, serverOpts{args: []string{"-c", hookConf(t), "-w", "1", "broken_import:app"},
		env: []string{"HOOK_EVENTS=" + evFile}, ready: -1})
	if code := s.wait(30 * time.Second); code != 3 {
		t.Fatalf("exit code %d; want 3 (the workers cannot boot)", code)
	}
	evs := readEvents(t, evFile)
	forks := eventsNamed(evs, "post_fork")
	if len(forks) == 0 {
		t.Fatalf("no post_fork in %v", evs)
	}
	for _, f := range forks {
		if eventIndex(evs, "worker_exit", strconv.Itoa(s.cmd.Process.Pid), strconv.Itoa(f.pid), "True") < 0 {
			t.Errorf("worker %d raised at import and ran no worker_exit with worker.alive True (Gunicorn's): %v", f.pid, evs)
		}
	}
}
