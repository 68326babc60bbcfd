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

// TestAtexitFunctionsRunAsWorkersExit: a worker that ends runs the
// functions the app registered with atexit, after worker_exit, as a
// Gunicorn worker's sys.exit does; telemetry flushes its buffers there.
// Once per worker, on a graceful stop, a quick stop, a --max-requests
// retirement and with --preload (registered in the zygote, run in each
// forked worker). What the app printed to a block-buffered stdout (a
// pipe, no PYTHONUNBUFFERED) is flushed then, as Python's exit does.
func TestAtexitFunctionsRunAsWorkersExit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		workers int
		stop    syscall.Signal
	}{
		{"graceful stop", []string{"-w", "2"}, 2, syscall.SIGTERM},
		{"quick stop", []string{"-w", "2"}, 2, syscall.SIGINT},
		{"preloaded", []string{"-w", "2", "--preload"}, 2, syscall.SIGTERM},
		{"retired by --max-requests", []string{"--max-requests", "1"}, 1, syscall.SIGTERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "atexit")
			s := start(t, serverOpts{args: append(tc.args, "atexitapp:app"),
				env: []string{"ATEXIT_FILE=" + file, "PYTHONUNBUFFERED="}, ready: tc.workers})
			pids := s.workerPIDs()
			code, body := s.get("/pid")
			if code != 200 {
				t.Fatalf("GET /pid: %d", code)
			}
			printed := "printed by " + strings.TrimSpace(body) + "\n"
			if tc.name == "retired by --max-requests" {
				s.waitFor(func() bool { return strings.Contains(readFileString(file), "flushed "+strconv.Itoa(pids[0])) })
				s.waitFor(func() bool { return len(s.workerPIDs()) == 1 && s.workerPIDs()[0] != pids[0] })
				pids = append(pids, s.workerPIDs()...)
			}
			s.signal(tc.stop)
			if code := s.wait(30 * time.Second); code != 0 {
				t.Fatalf("exit code %d; want 0", code)
			}
			var flushed []int
			for _, l := range strings.Split(strings.TrimSpace(readFileString(file)), "\n") {
				pid, _ := strconv.Atoi(strings.TrimPrefix(l, "flushed "))
				flushed = append(flushed, pid)
			}
			slices.Sort(flushed)
			slices.Sort(pids)
			if !slices.Equal(flushed, pids) {
				t.Errorf("atexit ran in %v; want once in each worker, %v", flushed, pids)
			}
			if strings.Count(s.output(), printed) != 1 {
				t.Errorf("output lacks the app's print %q:\n%s", printed, s.output())
			}
		})
	}
}

// TestNonDaemonThreadsFinishBeforeAtexit: as Python's exit does, a
// worker that ends waits for the app's non-daemon threads (a queue
// draining its last items), then runs the atexit functions.
func TestNonDaemonThreadsFinishBeforeAtexit(t *testing.T) {
	file := filepath.Join(t.TempDir(), "atexit")
	s := start(t, serverOpts{args: []string{"atexitapp:app"}, env: []string{"ATEXIT_FILE=" + file}})
	pid := strconv.Itoa(s.workerPIDs()[0])
	if code, _ := s.get("/thread"); code != 200 {
		t.Fatalf("GET /thread: %d", code)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d; want 0", code)
	}
	if got, want := readFileString(file), "thread-done "+pid+"\nflushed "+pid+"\n"; got != want {
		t.Errorf("the worker ended with %q; want the thread's work, then atexit: %q", got, want)
	}
	if len(s.loggedContaining("waiting for the app's non-daemon threads to end: Thread-")) != 1 {
		t.Errorf("the worker did not say which threads it waited for")
	}
}

func readFileString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
