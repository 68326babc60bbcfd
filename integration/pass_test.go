package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestKeepAliveRequestHeldUpByALongCallGoesToTheSibling: with
// Gunicorn's sync worker (one thread), a request on a keep-alive
// connection whose worker is in a long call is served by the idle
// sibling instead of waiting for the call (docs/worker.md, "Passing a
// connection"); the long call's client is answered when it ends, and
// the moved connection goes on serving. Workers re-executed or forked
// by the --preload zygote alike.
func TestKeepAliveRequestHeldUpByALongCallGoesToTheSibling(t *testing.T) {
	for _, preload := range []bool{false, true} {
		t.Run(fmt.Sprintf("preload=%v", preload), func(t *testing.T) {
			args := []string{"-w", "2", "--keep-alive", "30", "lifecycle:app"}
			if preload {
				args = append([]string{"--preload"}, args...)
			}
			longCallOnSibling(t, start(t, serverOpts{args: args}))
		})
	}
}

// twoOnOneWorker opens keep-alive connections to lifecycle:app until
// one worker holds two, and returns them with that worker's pid.
func twoOnOneWorker(t *testing.T, s *server) ([]*wireConn, string) {
	t.Helper()
	byPID := map[string][]*wireConn{}
	for {
		w := dialWire(t, "tcp", s.addr)
		_, pid := w.roundTrip("GET", "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
		byPID[pid] = append(byPID[pid], w)
		if len(byPID[pid]) == 2 {
			return byPID[pid], pid
		}
	}
}

func longCallOnSibling(t *testing.T, s *server) {
	held, busy := twoOnOneWorker(t, s)
	dir := t.TempDir()
	mark, gate := filepath.Join(dir, "in-flight"), filepath.Join(dir, "gate")
	held[0].send(fmt.Sprintf("GET /?mark=%s&gate=%s HTTP/1.1\r\nHost: t\r\n\r\n", mark, gate))
	s.waitFor(func() bool { _, err := os.Stat(mark); return err == nil })

	held[1].c.SetDeadline(time.Now().Add(10 * time.Second)) // the long call lasts until the gate opens
	_, pid := held[1].roundTrip("GET", "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	if pid == busy {
		t.Fatalf("answered by the busy worker %s", pid)
	}
	if _, err := os.Stat(gate); err == nil {
		t.Fatal("the gate is open")
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, got := held[0].response("GET"); got != busy {
		t.Fatalf("the long call answered from %q; want its worker %s", got, busy)
	}
	if _, again := held[1].roundTrip("GET", "GET / HTTP/1.1\r\nHost: t\r\n\r\n"); again != pid {
		t.Fatalf("the moved connection's next request: from %s; want %s, which holds it now", again, pid)
	}
}

// TestPassedConnectionServedDuringAGracefulStop: a connection passed
// while both workers are in long calls, and still waiting to be taken
// when the graceful stop reaches the workers (the master's quiesce waits
// for it only half --graceful-timeout), is answered by a stopping
// worker, not dropped.
func TestPassedConnectionServedDuringAGracefulStop(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "2", "--keep-alive", "30", "--graceful-timeout", "4",
		"--log-level", "debug", "lifecycle:app"}})
	held, _ := twoOnOneWorker(t, s)
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	for i, w := range []*wireConn{held[0], dialWire(t, "tcp", s.addr)} { // busy, then its sibling
		mark := filepath.Join(dir, fmt.Sprint("in-flight-", i))
		w.send(fmt.Sprintf("GET /?mark=%s&gate=%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", mark, gate))
		s.waitFor(func() bool { _, err := os.Stat(mark); return err == nil })
	}
	held[1].send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	s.waitFor(func() bool { return len(s.loggedContaining("its connection goes to a sibling worker")) == 1 })
	s.signal(syscall.SIGTERM)
	s.waitFor(func() bool {
		n := 0
		for _, l := range s.find("graceful stop") {
			if l.str("role") == "worker" {
				n++
			}
		}
		return n == 2
	})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	held[1].c.SetDeadline(time.Now().Add(10 * time.Second))
	if resp, pid := held[1].response("GET"); resp.StatusCode != 200 || pid == "" || !resp.Close {
		t.Fatalf("the passed request: %d %q, close %v; want 200 from a worker, and Connection: close", resp.StatusCode, pid, resp.Close)
	}
}
