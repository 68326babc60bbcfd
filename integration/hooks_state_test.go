package integration

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHookStateKeptOnWorker: Gunicorn passes every hook of a worker
// process the same Worker object, so configs keep their own state on
// it (worker.start_time set in pre_request, read in post_request; set
// in post_fork, read later). testdata/gunicorn/worker_state.conf.py
// logs what each hook finds; Gunicorn 26.2.2 logs the same lines. With
// --preload post_fork and post_worker_init run after the zygote's fork,
// in the worker, so the object must be the worker's there too.
func TestHookStateKeptOnWorker(t *testing.T) {
	conf, err := filepath.Abs("testdata/gunicorn/worker_state.conf.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		args []string
	}{{"fork", nil}, {"preload", []string{"--preload"}}} {
		t.Run(mode.name, func(t *testing.T) {
			args := append([]string{"-c", conf, "-w", "1"}, mode.args...)
			s := start(t, serverOpts{args: append(args, "basic:pid")})
			pid := strconv.Itoa(s.workerPIDs()[0])
			for range 2 {
				if code, body := s.get("/"); code != 200 || body != pid {
					t.Fatalf("GET /: %d %q; want 200 from worker %s", code, body, pid)
				}
			}
			// post_request runs after the response is sent.
			s.waitFor(func() bool { return len(s.loggedContaining("state post_request ")) == 2 })
			s.signal(syscall.SIGTERM)
			if code := s.wait(30 * time.Second); code != 0 {
				t.Fatalf("exit code %d after TERM; want 0", code)
			}
			want := []string{
				"state post_worker_init forked_in=" + pid + " booted=False",
				"state pre_request pid=" + pid + " forked_in=" + pid + " seen=1 booted=True",
				"state post_request seen=1 elapsed_ok=True",
				"state pre_request pid=" + pid + " forked_in=" + pid + " seen=2 booted=True",
				"state post_request seen=2 elapsed_ok=True",
				// alive is refreshed on the kept object; server is kept too.
				"state worker_exit forked_in=" + pid + " seen=2 alive=False forked_worker=" + pid,
			}
			var got []string
			for _, l := range s.loggedContaining("state ") {
				got = append(got, l.str("message"))
			}
			if len(got) != len(want) {
				t.Fatalf("the hooks logged\n%q\nwant\n%q", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("line %d: %q; want %q", i, got[i], want[i])
				}
			}
			if tb := s.loggedContaining("hook raised"); len(tb) != 0 {
				t.Errorf("a hook raised: %s", tb[0].str("message"))
			}
		})
	}
}

// TestHookHostLivesAcrossHUP: a HUP re-reads the config file in the same
// hook host, as Gunicorn's arbiter re-reads it in itself, so what
// when_ready started (here a server on a unix socket, as a Prometheus
// multiprocess exporter is started) keeps answering, what the hooks
// stored on `server` is still there, and server.cfg is the new file's.
// A HUP whose file cannot be loaded in the host (a hook that does not
// import, a logging configuration that fails) keeps the old hooks. A
// new host at each HUP left the exporter dead after the first one.
func TestHookHostLivesAcrossHUP(t *testing.T) {
	dir := t.TempDir()
	sock, marks := filepath.Join(dir, "ready.sock"), filepath.Join(dir, "marks")
	conf := func(version string, timeout int, extra string) string {
		return fmt.Sprintf(`import os, socket, threading
timeout = %[3]d
def when_ready(server):
    s = socket.socket(socket.AF_UNIX)
    s.bind(%[1]q)
    s.listen()
    def serve():
        while True:
            c, _ = s.accept()
            c.sendall(("%%d %%s" %% (os.getpid(), server.note)).encode())
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    server.note = "set-in-when-ready"
def on_reload(server):
    with open(%[2]q, "a") as f:
        f.write("on_reload %%d %%s %%d\n" %% (os.getpid(), server.note, server.cfg.timeout))
def pre_fork(server, worker):
    with open(%[2]q, "a") as f:
        f.write("pre_fork %[4]s\n")
%[5]s`, sock, marks, timeout, version, extra)
	}
	file := writeConf(t, dir, "gunicorn.conf.py", conf("A", 30, ""))
	s := start(t, serverOpts{args: []string{"-c", file, "-w", "1", "basic:pid"}})
	ask := func() string {
		t.Helper()
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatalf("when_ready's server: %v", err)
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		return string(b)
	}
	lines := func(prefix string) []string {
		b, _ := os.ReadFile(marks)
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, prefix) {
				out = append(out, l)
			}
		}
		return out
	}
	first := ask()
	host, _, _ := strings.Cut(first, " ")
	if !strings.HasSuffix(first, " set-in-when-ready") {
		t.Fatalf("when_ready's server answered %q", first)
	}
	writeConf(t, dir, "gunicorn.conf.py", conf("A", 31, ""))
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { return len(lines("on_reload")) == 1 })
	if got := lines("on_reload")[0]; got != "on_reload "+host+" set-in-when-ready 31" {
		t.Fatalf("on_reload wrote %q; want it run in the same host (%s), with server.note and the new timeout", got, host)
	}
	if got := ask(); got != first {
		t.Fatalf("after HUP when_ready's server answered %q; want %q", got, first)
	}
	// Files the master reads but the host cannot load: the old hooks stay
	// (pre_fork A, for the worker TTIN adds).
	for i, bad := range []string{
		"on_exit = 'no_such_module_here.on_exit'",
		"logconfig_dict = {'version': 1, 'handlers': {'x': {'class': 'no_such_module_here.Handler'}}}",
	} {
		writeConf(t, dir, "gunicorn.conf.py", conf("B", 32, bad))
		s.signal(syscall.SIGHUP)
		s.waitFor(func() bool { return len(s.loggedContaining("the server hooks cannot be loaded")) == i+1 })
		s.signal(syscall.SIGTTIN)
		s.waitFor(func() bool { return len(lines("pre_fork")) >= i+3 })
		if got := lines("pre_fork")[i+2]; got != "pre_fork A" {
			t.Fatalf("after a HUP the host could not load (%s), pre_fork wrote %q; want the old hook's", bad, got)
		}
	}
	writeConf(t, dir, "gunicorn.conf.py", conf("A", 33, ""))
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { return len(lines("on_reload")) == 2 })
	if got := ask(); got != first {
		t.Fatalf("after failed HUPs and a good one, when_ready's server answered %q; want %q", got, first)
	}
}
