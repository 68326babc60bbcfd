package engine

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// passPair serves two fake workers, named a and b, of one thread each,
// sharing pass sockets as a master's workers do. Closing release[i]
// lets worker i's "/long" calls return.
func passPair(t *testing.T) (addrs [2]string, apps [2]*fakeApp, release [2]chan struct{}, srvs [2]*Server) {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(pair[0]); unix.Close(pair[1]) })
	cfg := testConfig(t, "-w", "2")
	for i, name := range []string{"a", "b"} {
		rel := make(chan struct{})
		release[i] = rel
		apps[i] = newFakeApp(t, map[string]route{
			"/who": func(_ *fakeCaller, r *Request, _ func(Step) bool) []Step {
				body := name + " " + net.JoinHostPort(r.Conn.RemoteAddr, r.Conn.RemotePort)
				return []Step{head("200 OK", body, "Content-Length", strconv.Itoa(len(body)))}
			},
			"/long": func(*fakeCaller, *Request, func(Step) bool) []Step {
				<-rel
				return []Step{head("200 OK", "done", "Content-Length", "4")}
			},
		})
		send, err1 := unix.FcntlInt(uintptr(pair[0]), unix.F_DUPFD_CLOEXEC, 0)
		recv, err2 := unix.FcntlInt(uintptr(pair[1]), unix.F_DUPFD_CLOEXEC, 0)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		srvs[i], addrs[i] = serveFake(t, apps[i], cfg, 1, func(s *Server) {
			s.passer = s.newPasser(PassSockets{Send: send, Receive: recv}, true)
		})
		// Registered after serveFake's Cleanup, so it runs first: the
		// long calls end before the server drains.
		t.Cleanup(func() {
			select {
			case <-rel:
			default:
				close(rel)
			}
		})
	}
	return addrs, apps, release, srvs
}

// keepAlive is one keep-alive client connection.
type keepAlive struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAlive {
	c := dialTest(t, addr)
	t.Cleanup(func() { c.Close() })
	return &keepAlive{t: t, c: c, br: bufio.NewReader(c)}
}

// send sends a GET of each path at once (pipelined).
func (k *keepAlive) send(paths ...string) {
	k.t.Helper()
	var raw string
	for _, p := range paths {
		raw += "GET " + p + " HTTP/1.1\r\nHost: t\r\n\r\n"
	}
	if _, err := io.WriteString(k.c, raw); err != nil {
		k.t.Fatal(err)
	}
}

// read returns the next response's body.
func (k *keepAlive) read() string {
	k.t.Helper()
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		k.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		k.t.Fatal(err)
	}
	return string(b)
}

// who is what "/who" answers on k from the worker named name.
func (k *keepAlive) who(name string) string {
	return name + " " + k.c.LocalAddr().String()
}

// TestPassMovesRequestsHeldUpByALongCall: a keep-alive connection whose
// worker's only thread is in a long call (past passAfterCall) has its
// next requests (two, pipelined) served by the idle sibling, with the
// client's address, while the long call still runs; the long call's own
// client is answered when it ends.
func TestPassMovesRequestsHeldUpByALongCall(t *testing.T) {
	addrs, apps, release, _ := passPair(t)
	k := dialKeepAlive(t, addrs[0])
	k.send("/who")
	if got := k.read(); got != k.who("a") {
		t.Fatalf("first answer %q; want %q", got, k.who("a"))
	}
	<-apps[0].started
	long := dialKeepAlive(t, addrs[0])
	long.send("/long")
	if p := <-apps[0].started; p != "/long" {
		t.Fatalf("started %q", p)
	}
	k.send("/who", "/who")
	for i := range 2 {
		if got := k.read(); got != k.who("b") {
			t.Fatalf("answer %d during the long call: %q; want %q", i, got, k.who("b"))
		}
	}
	close(release[0])
	if got := long.read(); got != "done" {
		t.Fatalf("the long call's answer: %q", got)
	}
	k.send("/who")
	if got := k.read(); got != k.who("b") {
		t.Fatalf("after the long call: %q; want the connection still at b", got)
	}
}

// busyPair starts a long call on each worker of a pair, and returns a
// keep-alive connection to worker a that a accepted before.
func busyPair(t *testing.T, addrs [2]string, apps [2]*fakeApp) *keepAlive {
	t.Helper()
	k := dialKeepAlive(t, addrs[0])
	k.send("/who")
	if got := k.read(); got != k.who("a") {
		t.Fatalf("first answer %q; want %q", got, k.who("a"))
	}
	<-apps[0].started
	for i := range 2 {
		dialKeepAlive(t, addrs[i]).send("/long")
		if p := <-apps[i].started; p != "/long" {
			t.Fatalf("started %q", p)
		}
	}
	return k
}

// TestPassWaitsForAWorkerWithRoom: passed while every worker is in a
// long call, a connection waits until one has room, and is served there
// (here by b, whose call ends first: a's never does).
func TestPassWaitsForAWorkerWithRoom(t *testing.T) {
	addrs, apps, release, srvs := passPair(t)
	k := busyPair(t, addrs, apps)
	k.send("/who")
	until(t, "the connection passed", srvs[0].passer.queued)
	close(release[1])
	if got := k.read(); got != k.who("b") {
		t.Fatalf("%q; want %q", got, k.who("b"))
	}
}

// TestPassLeftoversServedByAStoppingWorker: a connection passed while
// every worker is busy is not lost when they stop: a stopping worker
// takes what is queued, room or not, and answers it (Connection: close).
func TestPassLeftoversServedByAStoppingWorker(t *testing.T) {
	addrs, apps, release, srvs := passPair(t)
	k := busyPair(t, addrs, apps)
	k.send("/who")
	until(t, "the connection passed", srvs[0].passer.queued)
	drained := make(chan struct{})
	go func() { srvs[1].Drain(); close(drained) }()
	until(t, "b stopping", srvs[1].isDraining) // before its call ends and it has room
	close(release[1])
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != k.who("b") || !resp.Close {
		t.Fatalf("%q, close %v; want %q and Connection: close", body, resp.Close, k.who("b"))
	}
	<-drained
}
