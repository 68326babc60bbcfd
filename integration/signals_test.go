package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Python signal handlers (worker/signals.go): a handler an app installs
// for SIGTERM at import, or a config's post_worker_init installs (Dify's
// chains to the one it finds, and refuses to boot when that is not a
// function), would take the signal from gowsgi's Go side, and the master's
// TERM would never stop the worker. gowsgi gives them a function to chain
// to, keeps the signals its own, and runs the app's handler when the
// signal stops the worker, as Gunicorn's worker would.

// hookHandlerConf is a config whose post_worker_init installs handlers as
// Dify's does: TERM's chains to the one it finds; QUIT's (what the
// master sends its workers on a quick stop) raises.
const hookHandlerConf = `import os, signal

def post_worker_init(worker):
    prev = signal.getsignal(signal.SIGTERM)
    if not callable(prev):
        raise RuntimeError("the server's SIGTERM handler is not installed before post_worker_init")

    def on_term(signum, frame):
        with open(os.environ["SIG_FILE"], "a") as f:
            f.write("hook-term-handler %d\n" % os.getpid())
        prev(signum, frame)

    def on_quit(signum, frame):
        with open(os.environ["SIG_FILE"], "a") as f:
            f.write("hook-quit-handler %d\n" % os.getpid())
        raise RuntimeError("cleanup failed")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGQUIT, on_quit)
`

func TestAppSignalHandlersRunAtStop(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	if err := os.WriteFile(conf, []byte(hookHandlerConf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		stop syscall.Signal
		want string // the line each worker writes
	}{
		{"installed at import", []string{"-w", "2", "sighandlers:app"}, syscall.SIGTERM, "term-handler"},
		{"installed at import, preloaded", []string{"-w", "2", "--preload", "sighandlers:app"}, syscall.SIGTERM,
			"term-handler"},
		{"installed by post_worker_init", []string{"-w", "2", "-c", conf, "basic:hello"}, syscall.SIGTERM,
			"hook-term-handler"},
		{"raising, on a quick stop", []string{"-w", "2", "-c", conf, "basic:hello"}, syscall.SIGINT, "hook-quit-handler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "signals")
			// A long graceful timeout: a worker that missed the TERM
			// would hold the exit up far beyond the wait below.
			s := start(t, serverOpts{args: append([]string{"--graceful-timeout", "120"}, tc.args...),
				env: []string{"SIG_FILE=" + file}, ready: 2})
			pids := s.workerPIDs()
			s.signal(tc.stop)
			if code := s.wait(30 * time.Second); code != 0 {
				t.Fatalf("exit code %d; want 0", code)
			}
			b, _ := os.ReadFile(file)
			var ran []int
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if name, pid, ok := strings.Cut(l, " "); ok && name == tc.want {
					n, _ := strconv.Atoi(pid)
					ran = append(ran, n)
				}
			}
			slices.Sort(ran)
			slices.Sort(pids)
			if !slices.Equal(ran, pids) {
				t.Errorf("%s ran in %v; want once in each worker, %v:\n%s", tc.want, ran, pids, b)
			}
			if strings.HasPrefix(tc.name, "installed at import") && !strings.Contains(string(b), "import-prev-callable=True") {
				t.Errorf("at import, signal.getsignal(SIGTERM) was not a function:\n%s", b)
			}
			if tc.stop == syscall.SIGINT && len(s.loggedContaining("RuntimeError: cleanup failed")) != 2 {
				t.Errorf("the raising handler's traceback is not logged once per worker")
			}
		})
	}
}

// TestAppCannotTakeAwayTheGracefulStop: an app that takes the master's
// graceful stop signal at import (SIG_IGN on SIGRTMIN+6) gets it put
// back, with a warning, and a HUP still stops its worker gracefully; it
// was killed after --graceful-timeout.
func TestAppCannotTakeAwayTheGracefulStop(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, dir, "takes_rt6", `import signal
signal.signal(signal.SIGRTMIN + 6, signal.SIG_IGN)
def app(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
`)
	s := start(t, serverOpts{args: []string{"--chdir", dir, "-w", "1", "--graceful-timeout", "60", "takes_rt6:app"}})
	old := s.workerPIDs()[0]
	s.waitFor(func() bool {
		for _, l := range s.find("the app installed a handler for a signal gowsgi needs; it was restored") {
			if l.num("signal") == 40 {
				return true
			}
		}
		return false
	})
	s.signal(syscall.SIGHUP)
	s.waitFor(func() bool {
		for _, l := range s.find("worker exited") {
			if l.num("worker_pid") == old {
				return true
			}
		}
		return false
	})
	if code, body := s.get("/"); code != 200 || body != "ok" {
		t.Fatalf("after the reload: %d %q", code, body)
	}
}
