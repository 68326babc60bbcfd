package integration

import "testing"

// TestForkedChildTakesSignals: a process the app forks (os.fork,
// multiprocessing's fork start method) runs Python only, without the Go
// runtime whose signal handlers it inherited: it gets a plain Python
// process's handlers back, so SIGTERM ends it. With Go's it swallowed
// SIGTERM, and Pool.__exit__, which terminates its workers so, waited for
// them until --timeout killed the worker.
//
// Under --preload the zygote forks the workers through CPython's fork
// hooks too, and must not have these: a worker keeps gowsgi's Python
// stop handler (a Dify-style config refuses to boot without it).
func TestForkedChildTakesSignals(t *testing.T) {
	for _, args := range [][]string{{"--threads", "2"}, {"--preload"}} {
		s := start(t, serverOpts{args: append(args, "forking:app")})
		if code, body := s.get("/term"); code != 200 || body != "killed by signal 15" {
			t.Errorf("%v: GET /term: %d %q; want the forked child killed by SIGTERM", args, code, body)
		}
		for range 5 {
			if code, body := s.get("/pool"); code != 200 || body != "[3, 2, 1, 0, 1, 2]" {
				t.Fatalf("%v: GET /pool: %d %q; want the pool's map", args, code, body)
			}
		}
		if code, body := s.get("/stop-handler"); code != 200 || body != "_stop_handler" {
			t.Errorf("%v: the worker's SIGTERM handler in Python: %d %q; want gowsgi's _stop_handler", args, code, body)
		}
	}
}
