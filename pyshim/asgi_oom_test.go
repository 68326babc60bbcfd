package pyshim

// A loop out of memory loses no request: the events of a take it could
// not make, and the requests it could not start, wait and are handled
// again (asgi.c asgi_take, asgi.py Runtime.wake and handle).

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestASGITakeOutOfMemory: when the loop cannot make the Python objects
// of the events it takes (out of memory), none is lost: they stay
// queued, in order, and are taken again shortly, so the requests they
// carry are served once memory comes back, the first one first.
func TestASGITakeOutOfMemory(t *testing.T) {
	l := startLoop(t, "take_fails", "off")
	// 0: the list fails; 5: a scope fails partway, after the list and,
	// when the queue starts with the no-op Stalled posted, that event.
	// One allocation fails: the take must raise all the same.
	for _, after := range []int{0, 5} {
		what := fmt.Sprintf("after %d", after)
		blocker, release := blockLoop(t, l, fmt.Sprintf("after=%d", after))
		first, second := openQueued(t, l, false)
		release()
		if r := drive(t, blocker, nil); string(r.body) != "MemoryError" {
			t.Fatalf("%s: the blocker's take: %q, done %+v; want MemoryError", what, r.body, r.done)
		}
		checkServedInOrder(t, what, first, second)
	}
}

// TestASGIStartOutOfMemory: when the loop cannot make a request's
// cycle or task (out of memory), that request and the rest of its batch
// wait and are started again shortly, in order: none is lost. The
// first queued request is HTTP, then a WebSocket; with "dispatch" the
// loop fails to deliver an event before them (a body for the blocker),
// and only that event is lost.
func TestASGIStartOutOfMemory(t *testing.T) {
	l := startLoop(t, "start_fails", "off")
	for _, cls := range []string{"HTTPCycle", "WSCycle", "dispatch"} {
		blocker, release := blockLoop(t, l, "cls="+cls)
		if cls == "dispatch" {
			if err := blocker.Body([]byte("x"), false); err != nil {
				t.Fatal(err)
			}
		}
		first, second := openQueued(t, l, cls == "WSCycle")
		release()
		if r := drive(t, blocker, nil); string(r.body) != "armed" {
			t.Fatalf("%s: the blocker: %q, done %+v", cls, r.body, r.done)
		}
		checkServedInOrder(t, cls, first, second)
	}
}

// blockLoop opens a request whose app blocks the loop reading a pipe
// (fd=N added to query), waits until it does, and returns it with the
// function that lets it go on.
func blockLoop(t *testing.T, l *Loop, query string) (*Conn, func()) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	blocker, err := l.OpenHTTP(httpScope("/", fmt.Sprintf("fd=%d&%s", pr.Fd(), query)), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	awaitStall(t, l) // what comes now waits in the queue, to be taken in one batch
	return blocker, func() { pw.Write([]byte("go")) }
}

// openQueued opens two requests behind a blocked loop, the first a
// WebSocket if ws, and waits until both are in the loop's queue.
func openQueued(t *testing.T, l *Loop, ws bool) (first, second *Conn) {
	t.Helper()
	var err error
	if ws {
		s := httpScope("/ws", "")
		s.Scheme = "ws"
		first, err = l.OpenWebSocket(s, 1<<20)
	} else {
		first, err = l.OpenHTTP(httpScope("/", ""), 1<<20)
	}
	if err != nil {
		t.Fatal(err)
	}
	if second, err = l.OpenHTTP(httpScope("/", ""), 1<<20); err != nil {
		t.Fatal(err)
	}
	awaitPosted(t, l)
	return first, second
}

// checkServedInOrder checks that first and second were served, first
// first: their apps answer how many requests came before them and
// themselves (a WebSocket as its one message).
func checkServedInOrder(t *testing.T, what string, first, second *Conn) {
	t.Helper()
	r1, r2 := drive(t, first, nil), drive(t, second, nil)
	for _, ev := range r1.events {
		if ev.Kind == SentWSSend {
			r1.body = ev.Body
		}
	}
	n, err := strconv.Atoi(string(r1.body))
	if err != nil || string(r2.body) != strconv.Itoa(n+1) || r1.done.Traceback != "" || r2.done.Traceback != "" {
		t.Fatalf("%s: the queued requests answered %q and %q (done %+v, %+v); want n and n+1", what, r1.body, r2.body, r1.done, r2.done)
	}
}

// awaitPosted waits until every event posted to l is in the loop's
// queue.
func awaitPosted(t *testing.T, l *Loop) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		done := len(l.pend) == 0 && !l.handing
		l.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("posted events never reached the loop's queue")
		}
		time.Sleep(time.Millisecond)
	}
}
