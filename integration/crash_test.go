package integration

import (
	"strings"
	"testing"
)

// TestWorkerCrashInCReportsThePythonStack: an app that crashes in C code
// (a segfault, as in a broken extension module) has its worker write
// the Python stack of every thread and die by SIGSEGV, which the master
// logs and replaces, as a Gunicorn worker dies (its master logs "was
// sent SIGSEGV!"). Before, Go's runtime printed its goroutines and the
// worker exited with code 2.
func TestWorkerCrashInCReportsThePythonStack(t *testing.T) {
	for _, args := range [][]string{{"lifecycle:app"}, {"--preload", "lifecycle:app"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			s := start(t, serverOpts{args: args})
			victim := s.workerPIDs()[0]
			w := dialWire(t, "tcp", s.addr)
			w.send("GET /segv HTTP/1.1\r\nHost: t\r\n\r\n")
			if rest := w.rest(); rest != "" {
				t.Fatalf("GET /segv answered %q; want the connection cut", rest)
			}
			s.waitFor(func() bool { return len(s.find("worker exited")) == 1 })
			exit := s.find("worker exited")[0]
			if exit.num("worker_pid") != victim || exit.str("signal") != "segmentation fault" {
				t.Fatalf("the crashed worker's exit: %v; want pid %d, signal segmentation fault", exit, victim)
			}
			out := s.output()
			for _, want := range []string{
				"Fatal Python error: Segmentation fault in C code the worker ran; the Python stack of every thread",
				"lifecycle.py\", line 87 in segv\n", "in app\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("the output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "goroutine ") {
				t.Errorf("Go's crash report, not the app's:\n%s", out)
			}
			s.waitFor(func() bool { return len(s.find("worker ready")) == 2 })
			if code, _ := s.get("/"); code != 200 {
				t.Fatalf("the replacement worker: %d", code)
			}
		})
	}
}
