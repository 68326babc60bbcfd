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
// multiprocess exporter is started) keeps answering and what the hooks
// stored on `server` is still there. A HUP whose file raises keeps the
// old hooks (their state and server too). A new host at each HUP left the exporter dead after the
// first one.
func TestHookHostLivesAcrossHUP(t *testing.T) {
	dir := t.TempDir()
	sock, marks := filepath.Join(dir, "ready.sock"), filepath.Join(dir, "marks")
	good := fmt.Sprintf(`import os, socket, threading
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
        f.write("%%d %%s\n" %% (os.getpid(), server.note))
`, sock, marks)
	conf := writeConf(t, dir, "gunicorn.conf.py", good)
	s := start(t, serverOpts{args: []string{"-c", conf, "-w", "1", "basic:pid"}})
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
	first := ask()
	host, _, _ := strings.Cut(first, " ")
	if !strings.HasSuffix(first, " set-in-when-ready") {
		t.Fatalf("when_ready's server answered %q", first)
	}
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { b, _ := os.ReadFile(marks); return len(b) > 0 })
	if b, _ := os.ReadFile(marks); string(b) != host+" set-in-when-ready\n" {
		t.Fatalf("on_reload wrote %q; want it run in the same host (%s), with server.note", b, host)
	}
	if got := ask(); got != first {
		t.Fatalf("after HUP when_ready's server answered %q; want %q", got, first)
	}
	// A hook named by a module the host cannot import: the file itself
	// reads (the master's reader does not import hooks).
	writeConf(t, dir, "gunicorn.conf.py", good+"on_exit = 'no_such_module_here.on_exit'\n")
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { return len(s.loggedContaining("the server hooks cannot be loaded")) == 1 })
	writeConf(t, dir, "gunicorn.conf.py", good)
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool { b, _ := os.ReadFile(marks); return strings.Count(string(b), "\n") == 2 })
	if got := ask(); got != first {
		t.Fatalf("after a failed HUP and a good one, when_ready's server answered %q; want %q", got, first)
	}
}
