package engine

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/wsgi"
	"golang.org/x/sys/unix"
)

// sockPair returns a sock on one end of a connected stream socket pair,
// counted in l, and the other end as a plain file for the test to play
// the client with.
func sockPair(t *testing.T, l *gate) (*sock, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Small buffers: a few writes fill them.
	for _, fd := range fds {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
	}
	l.add()
	s, err := newSock(fds[0], l, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	peer := os.NewFile(uintptr(fds[1]), "peer")
	t.Cleanup(func() { s.Close(); peer.Close() })
	return s, peer
}

// waitLoad polls until l counts want connections, failing after 5 s.
func waitLoad(t *testing.T, l *gate, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.active.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("load = %d; want %d", l.active.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTryWritevReturnsWhenTheSocketIsFull(t *testing.T) {
	l := newGate(1, 0, false)
	s, _ := sockPair(t, l)
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	total := 0
	for i := 0; ; i++ {
		n, err := s.tryWritev([][]byte{chunk})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
		if i > 1000 {
			t.Fatalf("tryWritev took %d bytes without the peer reading", total)
		}
	}
	if total == 0 {
		t.Fatal("an empty socket took nothing")
	}
	if got := l.active.Load(); got != 1 {
		t.Fatalf("load after a try = %d; want 1 (a try never waits)", got)
	}
}

func TestWriteAllTimesOutWithoutProgress(t *testing.T) {
	l := newGate(1, 0, false)
	s, _ := sockPair(t, l)
	big := bytes.Repeat([]byte("y"), 1<<20)
	done := make(chan error, 1)
	go func() { done <- s.writeAll([][]byte{big}, 200*time.Millisecond) }()
	waitLoad(t, l, 0) // waiting on the peer does not count as load
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("writeAll to a peer that never reads: %v; want a deadline error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("writeAll to a peer that never reads did not time out")
	}
	if got := l.active.Load(); got != 1 {
		t.Fatalf("load after the write = %d; want 1", got)
	}
}

// A slow reader that keeps reading is served to the end: the timeout
// bounds each wait, not the whole write.
func TestWriteAllTimeoutMeasuresProgress(t *testing.T) {
	l := newGate(1, 0, false)
	s, peer := sockPair(t, l)
	data := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB
	got := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 16<<10)
		for b.Len() < len(data) {
			time.Sleep(30 * time.Millisecond) // in all, well past the timeout
			n, err := peer.Read(buf)
			b.Write(buf[:max(n, 0)])
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && err != io.EOF {
				break
			}
		}
		got <- b.Bytes()
	}()
	begin := time.Now()
	if err := s.writeAll([][]byte{data}, 300*time.Millisecond); err != nil {
		t.Fatalf("writeAll to a slow but steady reader after %v: %v", time.Since(begin), err)
	}
	if d := time.Since(begin); d < 300*time.Millisecond {
		t.Logf("the reader was faster than meant (%v): the test proved less", d)
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("the reader got %d bytes; want the %d sent", len(b), len(data))
	}
}

func TestReadCountsWaitingOnThePeer(t *testing.T) {
	l := newGate(1, 0, false)
	s, peer := sockPair(t, l)
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 16)
		n, err := s.Read(buf)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(buf[:n])
	}()
	waitLoad(t, l, 0)
	if l.hasRoom() != true {
		t.Fatal("no room while the only connection waits for its peer")
	}
	peer.Write([]byte("GET"))
	if g := <-got; g != "GET" {
		t.Fatalf("Read = %q; want GET", g)
	}
	waitLoad(t, l, 1)
	peer.Close()
	if n, err := s.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer closed = %d, %v; want 0, EOF", n, err)
	}
	s.Close()
	waitLoad(t, l, 0)
}

func TestLoadWakesTheAcceptLoopsWhenRoomReturns(t *testing.T) {
	l := newGate(2, 2, false)
	l.add()
	l.add()
	if l.hasRoom() {
		t.Fatal("room with 2 of 2 threads' worth of connections")
	}
	l.done()
	for i, w := range l.wake {
		select {
		case <-w:
		default:
			t.Fatalf("accept loop %d was not woken", i)
		}
	}
	l.done() // further room: no second signal is needed
	for i, w := range l.wake {
		select {
		case <-w:
			t.Fatalf("accept loop %d woken twice", i)
		default:
		}
	}
}

func TestOutboxKeepsOrderAndReleases(t *testing.T) {
	o := outbox{limit: 10}
	o.keep([][]byte{[]byte("abc"), nil, []byte("def")})
	if o.room() != 4 || string(o.pending()) != "abcdef" {
		t.Fatalf("after keep: room %d pending %q", o.room(), o.pending())
	}
	o.consume(4)
	o.keep([][]byte{[]byte("gh")})
	if string(o.pending()) != "efgh" {
		t.Fatalf("after consume and keep: %q", o.pending())
	}
	o.consume(4)
	if o.buf != nil || o.len() != 0 || o.room() != 10 {
		t.Fatalf("drained outbox holds storage: %v len %d", o.buf != nil, o.len())
	}
}

// The hot path: framing a one-step response and handing it to a socket
// that takes it whole allocates nothing.
func TestSendingAStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; `make unit` runs this test without it")
	}
	l := newGate(1, 0, false)
	s, peer := sockPair(t, l)
	go io.Copy(io.Discard, peer)
	c := &conn{nc: s, out: outbox{limit: 1 << 20}}
	head := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
	body := []byte("hello")
	allocs := testing.AllocsPerRun(1000, func() {
		c.w = bodyWriter{plan: wsgi.Plan{Framing: wsgi.FrameLength, ContentLength: 5, KeepAlive: true}, remaining: 5}
		bufs := append(c.step[:0], head)
		bufs = c.w.frame(bufs, body, nil)
		rest, err := c.trySend(bufs)
		if err != nil {
			t.Fatal(err)
		}
		c.out.keep(rest)
		c.out.reset()
	})
	if allocs != 0 {
		t.Fatalf("sending one step: %.1f allocations; want 0", allocs)
	}
}

func TestShedOnlyWhenThreadsAreOversubscribed(t *testing.T) {
	l := newGate(2, 0, true)
	now := time.Now()
	l.add()
	l.add()
	if l.shouldShed(now) {
		t.Fatal("shed with as many runnable connections as threads")
	}
	l.add()
	if !l.shouldShed(now) {
		t.Fatal("no shed with more runnable connections than threads")
	}
	if l.shouldShed(now.Add(shedEvery / 2)) {
		t.Fatalf("shed twice within %v", shedEvery)
	}
	if !l.shouldShed(now.Add(shedEvery)) {
		t.Fatalf("no shed %v after the last", shedEvery)
	}
	alone := newGate(1, 0, false)
	alone.add()
	alone.add()
	if alone.shouldShed(now) {
		t.Fatal("a worker without siblings shed a connection")
	}
}

// A deadline asked for a little after the one in force leaves it (never
// later than asked); one further off, earlier, or none at all moves it.
func TestReadDeadlineNearMovesOnlyWhenItMust(t *testing.T) {
	l := newGate(1, 0, false)
	s, _ := sockPair(t, l)
	base := time.Now().Add(50 * time.Millisecond)
	slack := 100 * time.Millisecond
	for _, tc := range []struct {
		name string
		ask  time.Time
		want time.Time
	}{
		{"first", base, base},
		{"within the slack later", base.Add(slack / 2), base},
		{"past the slack", base.Add(2 * slack), base.Add(2 * slack)},
		{"earlier", base, base},
		{"none", time.Time{}, time.Time{}},
		{"none again", time.Time{}, time.Time{}},
		{"again", base, base},
	} {
		s.setReadDeadlineNear(tc.ask, slack)
		if got := s.rdl.Load(); got != deadlineNanos(tc.want) {
			t.Fatalf("%s: deadline %d; want %d", tc.name, got, deadlineNanos(tc.want))
		}
	}
	// The deadline kept is the one the socket enforces.
	s.setReadDeadlineNear(base.Add(slack/2), slack)
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read from a silent peer: %v; want a deadline error", err)
	}
}

// A worker holding fewer connections sheds less often (shedHeldFull or
// more: every shedEvery), so of two saturated workers the busier gives up
// more clients and an uneven split evens out.
func TestShedIntervalFollowsTheConnectionsHeld(t *testing.T) {
	for _, tc := range []struct {
		held  int
		every time.Duration
	}{
		{held: 2, every: 4 * shedEvery},
		{held: 4, every: 2 * shedEvery},
		{held: shedHeldFull, every: shedEvery},
		{held: 40, every: shedEvery},
	} {
		l := newGate(1, 0, true)
		l.conns = func() int { return tc.held }
		l.active.Store(2)
		t0 := time.Unix(1000, 0)
		if !l.shouldShed(t0) {
			t.Fatalf("held %d: the first shed was refused", tc.held)
		}
		if l.shouldShed(t0.Add(tc.every - time.Millisecond)) {
			t.Errorf("held %d: shed again within %v", tc.held, tc.every)
		}
		if !l.shouldShed(t0.Add(tc.every)) {
			t.Errorf("held %d: no shed %v after the last", tc.held, tc.every)
		}
	}
}
