package pyshim

// The loop's liveness as the worker reads it: how long it has taken no
// event (Stalled) and which request it runs (Running); asgistall.go.

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestASGIStalledLoop: a handler that blocks the loop shows as its age
// in Stalled, and its stack is in the traceback dump, as a WSGI call's.
func TestASGIStalledLoop(t *testing.T) {
	l := startLoop(t, "blocker", "off")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if got := l.Stalled(); got != 0 {
		t.Fatalf("Stalled = %v before any request", got)
	}
	c, err := l.OpenHTTP(httpScope("/", fmt.Sprintf("fd=%d", pr.Fd())), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// The loop takes the request, then blocks; the event posted after
	// it waits, and its age grows.
	awaitStall(t, l)
	// A loop descheduled on a busy machine stalls before its handler
	// runs: the dump shows the handler once it does.
	var dump []byte
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(string(dump), "in blocking_read"); {
		if time.Now().After(deadline) {
			t.Fatalf("the dump does not show the blocked handler:\n%s", dump)
		}
		f, err := os.CreateTemp(t.TempDir(), "tb")
		if err != nil {
			t.Fatal(err)
		}
		if err := DumpTracebacks(f.Fd()); err != nil {
			t.Fatal(err)
		}
		dump, _ = os.ReadFile(f.Name())
	}
	if loop := fmt.Sprintf("Thread 0x%016x (most recent call first):\n  File", l.Thread()); !strings.Contains(string(dump), loop) {
		t.Errorf("no %q (the loop's thread) in the dump:\n%s", loop, dump)
	}
	// Blocked in a call that lets go of the GIL: the loop names the
	// request at once.
	if got := l.Running(10 * time.Second); got != c {
		t.Errorf("Running = %p; want the blocked request's Conn %p", got, c)
	}
	pw.Write([]byte("freed"))
	if r := drive(t, c, nil); string(r.body) != "freed" {
		t.Fatalf("body %q, done %+v", r.body, r.done)
	}
	if got := l.Running(10 * time.Second); got != nil {
		t.Errorf("Running = %p on an idle loop; want nil", got)
	}
}

// awaitFile waits until the app has created path.
func awaitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app never created %s", path)
		}
		time.Sleep(time.Millisecond)
	}
}

// awaitStall waits until l has left an event untaken for 50 ms: the
// app blocks the loop. Stalled has no event to wait on; its age is the
// condition.
func awaitStall(t *testing.T, l *Loop) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for l.Stalled() < 50*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatal("the loop never showed as stalled")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestASGIRunningSpinningLoop: a handler spinning in Python code holds
// the GIL, which Running takes at a switch to name the request whose
// task runs, or whose task started the one that runs; a task in a
// context of its own names none.
func TestASGIRunningSpinningLoop(t *testing.T) {
	l := startLoop(t, "spinner", "off")
	for _, tc := range []struct {
		query string
		named bool
	}{{"", true}, {"task=1&", true}, {"task=own&", false}} {
		done := filepath.Join(t.TempDir(), "done")
		c, err := l.OpenHTTP(httpScope("/", tc.query+"path="+url.QueryEscape(done)), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		awaitStall(t, l)
		// Asked before the spinning task runs (the loop descheduled on a
		// busy machine), the loop would be in its own code.
		awaitFile(t, done+".spinning")
		want := c
		if !tc.named {
			want = nil
		}
		if got := l.Running(10 * time.Second); got != want {
			t.Errorf("%q: Running = %p; want %p", tc.query, got, want)
		}
		if err := os.WriteFile(done, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if r := drive(t, c, nil); string(r.body) != "spun" {
			t.Fatalf("%q: body %q, done %+v", tc.query, r.body, r.done)
		}
	}
}

// TestASGILagShowsALoopBlockedWhileIdle: a loop blocked with no event
// waiting (its one request spins, nothing else queued) shows no lag
// until something is queued; Lag queues a no-op then, so the next
// question sees the loop behind, as the accept gate must.
func TestASGILagShowsALoopBlockedWhileIdle(t *testing.T) {
	l := startLoop(t, "spinner", "off")
	done := filepath.Join(t.TempDir(), "done")
	c, err := l.OpenHTTP(httpScope("/", "path="+url.QueryEscape(done)), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	awaitFile(t, done+".spinning") // the request was taken: nothing waits
	if got := l.Lag(true); got != 0 {
		t.Fatalf("Lag = %v with nothing queued; want 0", got)
	}
	const wait = 20 * time.Millisecond
	time.Sleep(wait) // the no-op Lag queued is now this old: a bound time keeps
	if got := l.Lag(false); got < wait {
		t.Errorf("Lag = %v for a loop blocked %v since its no-op; want at least that", got, wait)
	}
	if err := os.WriteFile(done, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := drive(t, c, nil); string(r.body) != "spun" {
		t.Fatalf("body %q, done %+v", r.body, r.done)
	}
}
