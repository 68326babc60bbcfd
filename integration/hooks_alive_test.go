package integration

import (
	"strconv"
	"strings"
	"testing"
)

// TestHookSetsWorkerNotAlive: a post_request hook that sets
// worker.alive = False (real configs do it to recycle a worker whose
// memory grew) gets the worker replaced, as Gunicorn's leaves its loop:
// the master starts a new one and stops this one once its requests are
// done; no request is lost meanwhile.
func TestHookSetsWorkerNotAlive(t *testing.T) {
	conf := writeConf(t, t.TempDir(), "gunicorn.conf.py", `
_served = 0

def post_request(worker, req, environ, resp):
    global _served
    _served += 1
    if _served == 2 and worker.age == 1:  # the first worker only, not its replacement
        worker.alive = False
    worker.log.info("post_request %d alive=%s" % (_served, worker.alive))
`)
	s := start(t, serverOpts{args: []string{"-c", conf, "-w", "1", "basic:pid"}})
	first := strconv.Itoa(s.workerPIDs()[0])
	for range 2 {
		if code, body := s.get("/"); code != 200 || body != first {
			t.Fatalf("GET /: %d %q; want 200 from worker %s", code, body, first)
		}
	}
	s.waitFor(func() bool {
		return len(s.loggedContaining("the hook set worker.alive = False; the master replaces this worker")) == 1
	})
	// Every request is answered, by the old worker or its replacement,
	// until the replacement alone serves.
	s.waitFor(func() bool {
		code, body := s.get("/")
		if code != 200 {
			t.Fatalf("GET / during the replacement: %d %q", code, body)
		}
		return body != first && len(s.workerPIDs()) == 1
	})
	if lines := s.loggedContaining("post_request 2 alive=False"); len(lines) != 1 {
		t.Errorf("the hook did not see its own worker.alive = False: %v", lines)
	}
	exited := false
	for _, l := range s.find("worker exited") {
		exited = exited || strconv.Itoa(l.num("worker_pid")) == first
	}
	if !exited {
		t.Errorf("worker %s did not exit:\n%s", first, strings.Join(strings.Split(s.output(), "\n")[:20], "\n"))
	}
}
