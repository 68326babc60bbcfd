package engine

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// A TCP connection comes out of accept with Nagle off (set once on the
// listener, inherited) and with its peer's address and port.
func TestAcceptTCP(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		l, err := newListener(ln, newGate(1, 1, false), make(chan struct{}, 1))
		if err != nil {
			t.Fatal(err)
		}
		client, err := net.Dial("tcp", l.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		fd, sa, err := l.accept(nil)
		if err != nil {
			t.Fatal(err)
		}
		nodelay, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
		if err != nil || nodelay != 1 {
			t.Errorf("%s: TCP_NODELAY = %d, %v; want 1", addr, nodelay, err)
		}
		if got, want := sockaddrToAddr(sa).String(), client.LocalAddr().String(); got != want {
			t.Errorf("%s: peer %s; want %s", addr, got, want)
		}
		unix.Close(fd)
		client.Close()
		l.Close()
	}
}

// oneThreadListener is a listener on 127.0.0.1 of a worker with one
// thread and no siblings, closed when the test ends.
func oneThreadListener(t *testing.T) (*listener, *gate) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ld := newGate(1, 1, false)
	l, err := newListener(ln, ld, ld.wake[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, ld
}

// fullListener is a oneThreadListener whose worker has no room (one
// connection counted), with a client already queued.
func fullListener(t *testing.T) (*listener, *gate) {
	t.Helper()
	l, ld := oneThreadListener(t)
	ld.add()
	client, err := net.Dial("tcp", l.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return l, ld
}

type acceptResult struct {
	fd  int
	err error
}

func acceptAsync(l *listener, stop chan struct{}) chan acceptResult {
	done := make(chan acceptResult, 1)
	go func() {
		fd, _, err := l.accept(stop)
		done <- acceptResult{fd, err}
	}()
	return done
}

// A worker with no room whose Python threads are live (requests keep
// taking them) takes a connection that stays queued (no sibling has room
// for it) rather than leave it waiting until its keep-alive clients pause.
func TestFullLiveWorkerTakesAQueuedConnection(t *testing.T) {
	l, ld := fullListener(t)
	stop := make(chan struct{})
	defer close(stop)
	done := acceptAsync(l, stop)
	for give := time.Now().Add(10 * time.Second); ; {
		ld.took(time.Now()) // a request takes a thread every millisecond
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			unix.Close(r.fd)
			if got := ld.active.Load(); got != 2 {
				t.Errorf("load after the forced accept: %d; want 2 (counted)", got)
			}
			return
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(give) {
			t.Fatal("a full, live worker left a queued connection waiting")
		}
	}
}

// A worker with no room whose threads took nothing since the connection
// was queued (its only thread went into a long call a moment before)
// takes nothing: the connection stays queued for a sibling, however long
// it waits.
func TestFullStuckWorkerLeavesTheQueue(t *testing.T) {
	l, ld := fullListener(t)
	ld.took(time.Now().Add(-time.Millisecond))
	stop := make(chan struct{})
	done := acceptAsync(l, stop)
	select {
	case r := <-done:
		unix.Close(r.fd)
		t.Fatalf("a stuck worker took a connection: %v", r.err)
	case <-time.After(100 * acceptGrace):
	}
	close(stop)
	if r := <-done; r.err != net.ErrClosed {
		t.Fatalf("accept after stop: %v; want net.ErrClosed", r.err)
	}
}

// While the listen queue stays empty a full worker's ticks back off to
// maxAcceptTick (each wakes a possibly idle process); a queued client
// brings them back to acceptGrace.
func TestAcceptTicksBackOffWhileTheQueueIsEmpty(t *testing.T) {
	l, _ := oneThreadListener(t)
	now := time.Now()
	for range 10 {
		if l.queuedLong(now) {
			t.Fatal("an empty queue reported as waiting")
		}
	}
	if l.tickEvery != maxAcceptTick {
		t.Fatalf("tick after 10 empty looks: %v; want %v", l.tickEvery, maxAcceptTick)
	}
	client, err := net.Dial("tcp", l.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// The handshake may finish a moment after Dial returns: look until the
	// client shows in the queue.
	for give := time.Now().Add(5 * time.Second); l.queuedSince.IsZero(); {
		if l.queuedLong(now) {
			t.Fatal("a client taken at the first look")
		}
		if time.Now().After(give) {
			t.Fatal("the dialled client never showed in the listen queue")
		}
	}
	if l.tickEvery != acceptGrace {
		t.Fatalf("tick once a client is queued: %v; want %v", l.tickEvery, acceptGrace)
	}
	if !l.queuedLong(now.Add(l.gate.patience())) {
		t.Fatal("a client queued for the whole patience is not taken")
	}
}

// Of two full workers, the one holding fewer clients per thread waits
// less before taking a queued one.
func TestPatienceGrowsWithTheClientsHeld(t *testing.T) {
	ld := newGate(2, 0, true)
	for _, tc := range []struct {
		held int
		want time.Duration
	}{{0, acceptGrace}, {3, acceptGrace}, {4, 2 * acceptGrace}, {12, 6 * acceptGrace}} {
		ld.conns = func() int { return tc.held }
		if got := ld.patience(); got != tc.want {
			t.Errorf("%d clients on 2 threads: patience %v; want %v", tc.held, got, tc.want)
		}
	}
}

// A worker with room whose app lags (an event loop that has left an
// event untaken for appBehind) leaves a queued connection to its
// siblings, even while requests keep taking slots, which lets a full
// WSGI worker force an accept; it takes the connection once the lag is
// gone.
func TestLaggingAppLeavesTheQueue(t *testing.T) {
	l, ld := oneThreadListener(t)
	var lag atomic.Int64
	lag.Store(int64(appBehind))
	ld.lag, ld.behind = func(bool) time.Duration { return time.Duration(lag.Load()) }, appBehind
	client, err := net.Dial("tcp", l.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	stop := make(chan struct{})
	defer close(stop)
	done := acceptAsync(l, stop)
	for give := time.Now().Add(100 * acceptGrace); time.Now().Before(give); {
		ld.took(time.Now())
		select {
		case r := <-done:
			unix.Close(r.fd)
			t.Fatalf("a worker whose app lags took a connection: %v", r.err)
		case <-time.After(time.Millisecond):
		}
	}
	lag.Store(int64(appBehind - time.Microsecond))
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		unix.Close(r.fd)
	case <-time.After(10 * time.Second):
		t.Fatal("the queued connection was not taken once the app caught up")
	}
}

// A graceful stop that finds a full worker's accept loop waiting for
// room (its one thread busy, a connection queued) ends the loop without
// an "accept failed": nothing failed. It was logged, and the loop went
// on until the listener was closed (a few HUPs in a hundred).
func TestAcceptLoopEndsQuietlyAtTheStop(t *testing.T) {
	var logged lockedBuffer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(testConfig(t), zerolog.New(&logged), []net.Listener{ln}, Options{App: newFakeApp(t, nil), Slots: 1})
	ln.Close() // the server accepts on its own duplicate
	l := s.lns[0]
	t.Cleanup(func() { l.Close() })
	s.gate.add() // its one thread is busy
	dialTest(t, l.addr.String())
	close(s.stop)
	s.wg.Add(1)
	done := make(chan struct{})
	go func() { s.acceptLoop(l); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the accept loop went on after the stop; logged %s", logged.b.String())
	}
	if logged.count("accept failed") != 0 {
		t.Fatalf("the stop logged %s", logged.b.String())
	}
}
