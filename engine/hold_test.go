package engine

import (
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// heldConn is a connection on a loopback TCP socket with an outbox of
// 4 MiB, as a response's loop sees it, and the client's end.
func heldConn(t *testing.T) (*conn, net.Conn) {
	t.Helper()
	s, client := tcpSockPair(t)
	return held(t, s), client
}

// held makes s a connection with an outbox of 4 MiB and its holder.
func held(t *testing.T, s *sock) *conn {
	t.Helper()
	c := &conn{nc: s}
	c.out.limit = 4 << 20
	c.hold.start(c)
	t.Cleanup(c.hold.stop)
	return c
}

// unixSockPair returns a sock on one end of a Unix stream socket pair
// and the other end. A Unix socket that refused a write stays full
// until its peer reads: a write lands in the peer's queue at once. A
// loopback TCP socket may take more bytes a moment after it refused
// some, without a read, when the kernel sends what it had queued (its
// softirq work, late on a loaded machine): a test that needs a socket
// that stays full uses this pair.
func unixSockPair(t *testing.T) (*sock, net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[1]), "peer")
	peer, err := net.FileConn(f) // a duplicate
	f.Close()
	if err != nil {
		unix.Close(fds[0])
		t.Fatal(err)
	}
	unix.SetNonblock(fds[0], true)
	s, err := newSock(fds[0], newGate(1, 0, false), peer.RemoteAddr(), peer.LocalAddr())
	if err != nil {
		peer.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); peer.Close() })
	return s, peer
}

// endWaitWithin runs endWait and fails the test if it does not return
// within d: it must never wait on the client.
func endWaitWithin(t *testing.T, c *conn, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.hold.endWait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("endWait still waiting after %v", d)
		return nil
	}
}

// awaitFlush waits for the timer to take the outbox to send it, and
// fails the test if it does not within 5 s of the wait's start.
func awaitFlush(t *testing.T, c *conn) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); c.hold.state.Load() != holdFlushing; {
		if time.Now().After(deadline) {
			t.Fatal("the timer did not take the held bytes while the app ran")
		}
		time.Sleep(time.Millisecond)
	}
}

// Held bytes reach the client while the app runs (PEP 3333: a server
// that holds a block back keeps sending while the next is produced):
// the timer sends them although the connection goroutine is still
// "in the app" here.
func TestHeldBytesGoOutWhileTheAppRuns(t *testing.T) {
	c, client := heldConn(t)
	c.out.keep([][]byte{[]byte("held "), []byte("block")})
	c.hold.beginWait(time.Now())
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len("held block"))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatalf("the held bytes did not arrive while the app ran: %v", err)
	}
	if string(got) != "held block" {
		t.Fatalf("client got %q", got)
	}
	if err := endWaitWithin(t, c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := c.out.len(); n != 0 {
		t.Fatalf("outbox holds %d bytes after they were sent", n)
	}
}

// A client that reads nothing keeps its socket full: the timer sends
// nothing then, and the response loop gets its outbox back at once,
// with the bytes still in it.
func TestHeldFlushNeverWaitsOnTheClient(t *testing.T) {
	s, _ := unixSockPair(t)
	c := held(t, s)
	fill := make([]byte, 1<<20)
	for {
		n, err := c.nc.tryWritev([][]byte{fill})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	c.out.keep([][]byte{make([]byte, 1000)})
	c.hold.beginWait(time.Now())
	awaitFlush(t, c) // which finds the socket full
	if err := endWaitWithin(t, c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := c.out.len(); n != 1000 {
		t.Fatalf("outbox holds %d bytes; want the 1000 the full socket did not take", n)
	}
}

// A client gone while its bytes were held: the response loop learns it
// from endWait, to end the app's iterator.
func TestHeldFlushReportsAGoneClient(t *testing.T) {
	c, client := heldConn(t)
	client.(*net.TCPConn).SetLinger(0) // close with a reset
	client.Close()
	time.Sleep(10 * time.Millisecond)
	c.out.keep([][]byte{[]byte("for nobody")})
	c.hold.beginWait(time.Now())
	awaitFlush(t, c)
	err := endWaitWithin(t, c, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "sendmsg") {
		t.Fatalf("endWait = %v; want the failed sendmsg", err)
	}
}

func TestMayHold(t *testing.T) {
	c, _ := heldConn(t)
	now := time.Now()
	if !c.hold.mayHold(1000, now) {
		t.Error("a small block with an empty outbox is not held")
	}
	if c.hold.mayHold(holdBytes+1, now) {
		t.Error("a block over holdBytes is held")
	}
	c.out.keep([][]byte{make([]byte, holdBytes-100)})
	c.hold.since.Store(monoNanos(now)) // held at now; no timer to send them
	if !c.hold.mayHold(100, now) {
		t.Error("a block that fills the outbox up to holdBytes is not held")
	}
	if c.hold.mayHold(101, now) {
		t.Error("a block that takes the outbox past holdBytes is held")
	}
	if c.hold.mayHold(1, now.Add(holdTime)) {
		t.Error("a block is held behind bytes that have waited holdTime")
	}

	small, _ := heldConn(t)
	small.out.limit = 10 // --response-buffer 10
	if small.hold.mayHold(11, now) {
		t.Error("a block over --response-buffer is held")
	}
}
