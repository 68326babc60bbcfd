package integration

import "testing"

// TestForkedChildTakesSignals: a process the app forks (os.fork,
// multiprocessing's fork start method) runs Python only, without the Go
// runtime whose signal handlers it inherited: it gets a plain Python
// process's handlers back, so SIGTERM ends it. With Go's it swallowed
// SIGTERM, and Pool.__exit__, which terminates its workers so, waited for
// them until --timeout killed the worker.
func TestForkedChildTakesSignals(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--threads", "2", "forking:app"}})
	if code, body := s.get("/term"); code != 200 || body != "killed by signal 15" {
		t.Errorf("GET /term: %d %q; want the forked child killed by SIGTERM", code, body)
	}
	for range 5 {
		if code, body := s.get("/pool"); code != 200 || body != "[3, 2, 1, 0, 1, 2]" {
			t.Fatalf("GET /pool: %d %q; want the pool's map", code, body)
		}
	}
}
