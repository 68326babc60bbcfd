package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A worker stuck past --timeout logs the Python stack of every thread,
// with the thread of the timed-out request marked. --timeout counts
// from when the request took its Python thread, so its call may not be
// in Python code yet (waiting for the GIL another thread holds, or not
// yet scheduled on a starved machine); the log line's "call" field says
// where it was, read from the dump itself, and the test holds the log
// to what the marked thread shows.

// Where a timed-out request's call was: worker/stacks.go's call* values.
const (
	callInPython = "in Python code"
	callGIL      = "waiting for the GIL"
	callAround   = "holding the GIL, in gowsgi's code around the app"
	callOutside  = "in gowsgi's code, not calling Python"
)

// stuckDump waits for the stack dump of worker victim, stuck past
// --timeout on a GET of path, and checks that the dump agrees with its
// "call" field: the request's thread, marked, shows want (a frame, as
// faulthandler prints it) when the call is in Python code, and no
// Python frame otherwise. It returns the log line.
func (s *server) stuckDump(victim int, path, want string) logLine {
	s.t.Helper()
	var dump logLine
	s.waitFor(func() bool {
		for _, line := range s.logged("worker timeout: the Python stack") {
			if line.num("pid") == victim {
				dump = line
				return true
			}
		}
		return false
	})
	call, msg := dump.str("call"), dump.str("message")
	s.t.Logf("the timed-out request's call: %s", call)
	if dump.str("method") != "GET" || dump.str("path") != path {
		s.t.Fatalf("the dump names %s %s; want GET %s: %v", dump.str("method"), dump.str("path"), path, dump)
	}
	if call == callOutside {
		// No thread to mark: the call had not called into Python.
		if dump.str("thread") != "" || !strings.Contains(msg, "; the request's call was not in Python code ("+call+"):\n") {
			s.t.Fatalf("a call outside Python logged as %v", dump)
		}
		return dump
	}
	header := fmt.Sprintf("Thread %s (most recent call first; GET %s for ", dump.str("thread"), path)
	at := strings.Index(msg, header)
	if dump.str("thread") == "" || at < 0 {
		s.t.Fatalf("no thread marked %q in the dump: %v", header, dump)
	}
	block, _, _ := strings.Cut(msg[at:], "\n\n")
	block = strings.TrimSuffix(block, "\n") // the dump's last thread
	head, frames, _ := strings.Cut(block, "\n")
	if !strings.HasSuffix(head, ", "+call+"):") {
		s.t.Fatalf("the marked thread says %q; the log line says %q", head, call)
	}
	switch call {
	case callInPython:
		if !strings.Contains(frames, want) {
			s.t.Fatalf("the request's thread is in Python code but not at %q:\n%s", want, block)
		}
	case callGIL, callAround:
		if frames != "  <no Python frame>" || !strings.Contains(msg, "; the request's call was not in Python code ("+call+"):\n") {
			s.t.Fatalf("a call %s logged as %q with the thread:\n%s", call, dump.str("message")[:strings.Index(msg, "\n")], block)
		}
	default:
		s.t.Fatalf("call %q in %v", call, dump)
	}
	return dump
}

// TestLifecycleTimeoutWhileAnotherThreadHoldsTheGIL: a request whose
// call never gets the GIL (an app thread keeps it, blocked in C) is a
// stuck worker too, as a Gunicorn worker that cannot run its heartbeat
// is: after --timeout the log says the call was waiting for the GIL,
// shows the thread that holds it at its line, and the worker is
// replaced.
func TestLifecycleTimeoutWhileAnotherThreadHoldsTheGIL(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "1", "--timeout", "2", "lifecycle:app"}})
	victim := s.workerPIDs()[0]
	fifo := filepath.Join(t.TempDir(), "go")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := s.get("/hold-gil?fifo=" + fifo)
	tid, fd, ok := strings.Cut(body, " ")
	if code != http.StatusOK || !ok {
		t.Fatalf("/hold-gil = %d %q", code, body)
	}
	// Opening the FIFO waits for the app thread to open it; the byte
	// sends it on to take the GIL and block in read(2) with it.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(fd)
	inRead := fmt.Sprintf("%d %#x ", unix.SYS_READ, n)
	sc := fmt.Sprintf("/proc/%d/task/%s/syscall", victim, tid)
	eventually(t, "the app thread blocked in read(2) holding the GIL", func() bool {
		b, _ := os.ReadFile(sc)
		return strings.HasPrefix(string(b), inRead)
	})
	go func() { // never answered: its worker is killed
		if resp, err := http.Get(s.url("/?id=victim")); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	s.waitFor(func() bool { return len(s.logged("worker timeout: a request outlived")) == 1 })
	if line := s.logged("worker timeout: a request outlived")[0]; line.num("worker_pid") != victim || line.str("path") != "/" {
		t.Fatalf("timeout logged as %v; want GET / on worker %d", line, victim)
	}
	dump := s.stuckDump(victim, "/", "")
	if got := dump.str("call"); got != callGIL {
		t.Fatalf("call = %q; want %q", got, callGIL)
	}
	holder := fmt.Sprintf("lifecycle.py\", line %d in hold", lineOf(t, "lifecycle.py", "GIL-HELD-HERE"))
	if !strings.Contains(dump.str("message"), holder) {
		t.Fatalf("the dump does not show the thread holding the GIL at %q:\n%s", holder, dump.str("message"))
	}
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 1 && !slices.Contains(pids, victim) })
}

// TestTimeoutBoundsARetiringWorker: a call that outlives --timeout in a
// worker already being replaced (--max-requests 1: it retires as its
// first request runs) is aborted at --timeout, as Gunicorn's arbiter
// times every worker; it ran on until --graceful-timeout.
func TestTimeoutBoundsARetiringWorker(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "1", "--timeout", "2", "--max-requests", "1", "--graceful-timeout", "120",
		"lifecycle:app"}})
	victim := s.workerPIDs()[0]
	go func() { // cut when its worker is killed
		if resp, err := http.Get(s.url("/?ms=100000")); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	s.waitFor(func() bool {
		for _, l := range s.find("stopping worker") {
			if l.num("worker_pid") == victim {
				return true
			}
		}
		return false
	})
	s.waitFor(func() bool { return len(s.logged("worker timeout: a request outlived")) == 1 })
	if line := s.logged("worker timeout: a request outlived")[0]; line.num("worker_pid") != victim {
		t.Fatalf("timeout logged as %v; want worker %d", line, victim)
	}
	s.waitFor(func() bool { pids := s.workerPIDs(); return len(pids) == 1 && !slices.Contains(pids, victim) })
}

// TestTimeoutSparesAStoppingWorkersShutdown: once a stopping worker's
// requests are done, its shutdown (here an atexit function; an ASGI
// app's background tasks and lifespan shutdown alike) sends no
// heartbeats and is bounded by --graceful-timeout only, not --timeout.
func TestTimeoutSparesAStoppingWorkersShutdown(t *testing.T) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "atexit-done")
	writeModule(t, dir, "slow_atexit", fmt.Sprintf(`import atexit, time
def _bye():
    time.sleep(4)
    open(%q, "w").close()
atexit.register(_bye)
def app(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
`, mark))
	s := start(t, serverOpts{args: []string{"--chdir", dir, "-w", "1", "--timeout", "2", "--max-requests", "1",
		"--graceful-timeout", "60", "slow_atexit:app"}})
	victim := s.workerPIDs()[0]
	if code, _ := s.get("/"); code != 200 {
		t.Fatalf("GET: %d", code)
	}
	s.waitFor(func() bool {
		for _, l := range s.find("worker exited") {
			if l.num("worker_pid") == victim {
				return true
			}
		}
		return false
	})
	if _, err := os.Stat(mark); err != nil {
		t.Fatalf("the atexit function did not finish: %v", err)
	}
	if n := len(s.logged("worker timeout")); n != 0 {
		t.Fatalf("%d worker timeouts for a worker shutting down", n)
	}
}
