package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// appBehind is engine.appBehind: how long a loop must have left an event
// untaken before its worker leaves new connections to its siblings.
const appBehind = 10 * time.Millisecond

// blockedLoop is a worker whose event loop a WebSocket of asgi_block.py
// keeps blocked until release.
type blockedLoop struct {
	pid     string
	release func()
}

// blockLoop opens a WebSocket on whichever worker takes it, blocks that
// worker's loop and leaves it behind: an event it has not taken, for
// appBehind at least. It returns the worker's pid.
func blockLoop(t *testing.T, s *server) blockedLoop {
	t.Helper()
	c, br := wsHandshake(t, s.addr, "/ws")
	c.SetDeadline(time.Now().Add(30 * time.Second))
	_, pid := readServerFrame(t, br)
	path := filepath.Join(t.TempDir(), "release")
	release := func() {
		if err := os.WriteFile(path, nil, 0o644); err != nil && !os.IsExist(err) {
			t.Error(err)
		}
	}
	t.Cleanup(release) // a failed test must not leave the loop blocked
	c.Write(maskedFrame(0x1, []byte("block "+path)))
	if _, m := readServerFrame(t, br); string(m) != "blocked" {
		t.Fatalf("the app's answer to block: %q", m)
	}
	// A message the blocked loop cannot take, then a ping: the worker
	// reads frames in order and answers pings without the loop, so the
	// pong says the message is queued for the loop.
	c.Write(maskedFrame(0x1, []byte("queued")))
	c.Write(maskedFrame(0x9, []byte("p")))
	if op, _ := readServerFrame(t, br); op != 0xA {
		t.Fatalf("the answer to a ping: opcode %#x; want a pong", op)
	}
	// The message is now older than this: a lower bound that time
	// itself keeps, not a guess at how long something takes.
	time.Sleep(appBehind)
	return blockedLoop{pid: string(pid), release: func() {
		release()
		for _, want := range []string{"unblocked", "queued"} {
			if _, m := readServerFrame(t, br); string(m) != want {
				t.Errorf("after the release: %q; want %q", m, want)
			}
		}
	}}
}

// askPID sends one request on a new connection and returns the pid of
// the worker that answered it, or an error after wait.
func askPID(addr string, wait time.Duration) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return "", fmt.Errorf("%d %q %v", resp.StatusCode, b, err)
	}
	return string(b), nil
}

// TestASGIBlockedLoopLeavesConnectionsToSibling: a worker whose event
// loop is blocked (a CPU-bound handler, a blocking call) takes no new
// connection while a sibling can, as a blocked Uvicorn worker takes
// none. Its Go side used to accept them all the same: of 10 opened at
// once, about half waited for the loop.
func TestASGIBlockedLoopLeavesConnectionsToSibling(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "-w", "2", "asgi_block:app"}, ready: 2})
	blocked := blockLoop(t, s)
	const burst = 10
	answers := make(chan error, burst)
	for range burst {
		go func() {
			// A connection the blocked worker took would wait for the
			// release, which comes after all have answered.
			pid, err := askPID(s.addr, 10*time.Second)
			if err == nil && pid == blocked.pid {
				err = fmt.Errorf("answered by the blocked worker %s", pid)
			}
			answers <- err
		}()
	}
	for i := range burst {
		if err := <-answers; err != nil {
			t.Errorf("connection %d of %d opened at once while worker %s was blocked: %v", i+1, burst, blocked.pid, err)
		}
	}
	blocked.release()
	if pid, err := askPID(s.addr, 10*time.Second); err != nil {
		t.Errorf("after the release: %v", err)
	} else {
		t.Logf("after the release, answered by %s", pid)
	}
}

// TestASGISoloWorkerBlockedUntilTimeoutLosesNoConnection: the only
// worker's loop blocked until --timeout kills it takes no new connection
// meanwhile, as a blocked Uvicorn worker takes none; they wait in the
// listen queue and its replacement serves them. It took them all, and
// they died with it (an empty reply for each).
func TestASGISoloWorkerBlockedUntilTimeoutLosesNoConnection(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "-w", "1", "--timeout", "3", "asgi_block:app"}})
	blocked := blockLoop(t, s)
	time.Sleep(soloBehind) // past the lag a saturated solo loop may have
	const clients = 5
	answers := make(chan error, clients)
	for range clients {
		go func() {
			pid, err := askPID(s.addr, 20*time.Second)
			if err == nil && pid == blocked.pid {
				err = fmt.Errorf("answered by the blocked worker %s", pid)
			}
			answers <- err
		}()
	}
	for i := range clients {
		if err := <-answers; err != nil {
			t.Errorf("connection %d of %d opened while the only worker was blocked: %v", i+1, clients, err)
		}
	}
	if l := s.find("worker timeout: a request outlived --timeout; killing the worker after it logs its Python stacks"); len(l) != 1 ||
		strconv.Itoa(l[0].num("worker_pid")) != blocked.pid {
		t.Errorf("timeout lines %v; want one, for the blocked worker %s", l, blocked.pid)
	}
}

// soloBehind is engine.soloBehind: how long the only worker's loop must
// have left an event untaken before it takes no new connection.
const soloBehind = 100 * time.Millisecond

// TestASGIConnectionWaitsForALoop: when every worker's loop is blocked,
// a new connection waits in the listen queue and the first worker whose
// loop is free again takes it.
func TestASGIConnectionWaitsForALoop(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "-w", "2", "asgi_block:app"}, ready: 2})
	first := blockLoop(t, s)
	second := blockLoop(t, s) // the first worker, behind, leaves it to the other
	if first.pid == second.pid {
		t.Fatalf("both WebSockets on worker %s", first.pid)
	}
	answered := make(chan string, 1)
	go func() {
		pid, err := askPID(s.addr, 20*time.Second)
		if err != nil {
			pid = err.Error()
		}
		answered <- pid
	}()
	select {
	case pid := <-answered:
		t.Fatalf("answered while both loops were blocked: %s", pid)
	case <-time.After(200 * time.Millisecond): // a check that nothing happens has to give it time
	}
	first.release()
	if pid := <-answered; pid != first.pid {
		t.Errorf("the waiting connection was answered by %q; want the released worker %s", pid, first.pid)
	}
	second.release()
}

// TestASGILoopLagMetric: /metrics shows each ASGI worker's loop lag, so
// a blocked loop is visible before --timeout acts, and 0 again once it
// takes its events; a WSGI server has no such metric.
func TestASGILoopLagMetric(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "-w", "2", "--admin-bind", "127.0.0.1:0", "asgi_block:app"}, ready: 2})
	metrics := s.adminURL() + "/metrics"
	lags := func() []float64 {
		_, body := adminGet(t, metrics)
		var v []float64
		for _, line := range strings.Split(body, "\n") {
			if series, val, ok := strings.Cut(line, " "); ok && strings.HasPrefix(series, "gowsgi_event_loop_lag_seconds{") {
				f, _ := strconv.ParseFloat(val, 64)
				v = append(v, f)
			}
		}
		return v
	}
	s.waitFor(func() bool { return len(lags()) == 2 }) // both workers reported
	blocked := blockLoop(t, s)
	s.waitFor(func() bool { return slices.Max(lags()) >= appBehind.Seconds() })
	blocked.release()
	s.waitFor(func() bool { l := lags(); return len(l) == 2 && slices.Max(l) < appBehind.Seconds() })

	_, admin := opsServer(t, 1)
	if _, body := adminGet(t, admin+"/metrics"); strings.Contains(body, "gowsgi_event_loop_lag_seconds") {
		t.Errorf("a WSGI server shows an event loop lag:\n%s", body)
	}
}
