package integration

import (
	"fmt"
	"os"
	"path/filepath"
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

func longCallOnSibling(t *testing.T, s *server) {
	// Keep-alive connections until two are held by one worker.
	byPID := map[string][]*wireConn{}
	var held []*wireConn
	var busy string
	for len(held) < 2 {
		w := dialWire(t, "tcp", s.addr)
		_, busy = w.roundTrip("GET", "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
		byPID[busy] = append(byPID[busy], w)
		held = byPID[busy]
	}
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
