package engine

import (
	"bytes"
	"io"
	"math"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// until polls cond, which reads atomics the server's goroutines set,
// for up to 10 s.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still not: %s", what)
		}
	}
}

// streamRoute answers n steps of chunk each, with a Content-Length.
func streamRoute(chunk []byte, n int) route {
	return func(*fakeCaller, *Request, func(Step) bool) []Step {
		steps := []Step{head("200 OK", "", "Content-Length", strconv.Itoa(n*len(chunk)))}
		for range n {
			steps = append(steps, Step{Big: chunk})
		}
		return steps
	}
}

// nonReaders opens n connections that ask for path and read nothing yet.
func nonReaders(t *testing.T, addr, path string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialTest(t, addr)
		io.WriteString(conns[i], get(path))
	}
	return conns
}

// readAllBodies reads each connection's whole response and checks its
// body length.
//
// All at once: read one after the other, the last clients would sit
// unread for longer than --write-timeout on a slow run (-race, a busy
// machine), and the server would rightly cut them.
func readAllBodies(t *testing.T, conns []net.Conn, want int) {
	t.Helper()
	got := make([][]byte, len(conns))
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		c.SetDeadline(time.Now().Add(2 * time.Minute)) // a hang's bound, not a speed test's
		wg.Go(func() { got[i], errs[i] = io.ReadAll(c) })
	}
	wg.Wait()
	for i := range conns {
		if errs[i] != nil {
			t.Fatalf("client %d: %v", i, errs[i])
		}
		if _, body := bodyOf(t, string(got[i])); len(body) != want {
			t.Fatalf("client %d got %d body bytes; want %d", i, len(body), want)
		}
	}
}

// Clients that read nothing hold at most --response-memory-budget of a
// worker's memory in all, not --response-buffer each: past the budget
// their responses wait parked, and every byte still arrives.
func TestOutboxesStayWithinTheWorkersBudget(t *testing.T) {
	// 10 MiB each: a loopback connection whose client reads nothing
	// takes about 4.1 MiB into its socket buffers (tcp_wmem's 4 MiB send
	// buffer, grown as the kernel sees fit), and a response must still
	// have more than the budget left after that to park. With 5 MiB,
	// the last response fitted on some days and the test failed.
	const budget, clients, steps = 1 << 20, 8, 160
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	app := newFakeApp(t, map[string]route{"/stream": streamRoute(chunk, steps)})
	s, addr := serveFake(t, app, testConfig(t, "--response-buffer", "4194304",
		"--response-memory-budget", strconv.Itoa(budget)), 1)
	conns := nonReaders(t, addr, "/stream", clients)
	until(t, "every response parked", func() bool { return s.parked.Load() == clients })
	// Each outbox may overshoot by the step it kept last, and storage
	// grows by doubling.
	if held := s.outboxes.held.Load(); held > 2*budget+clients*int64(len(chunk)) {
		t.Fatalf("the outboxes hold %d bytes; the budget is %d (each would hold 4 MiB without it)", held, budget)
	}
	readAllBodies(t, conns, steps*len(chunk))
	until(t, "the outboxes' storage given back", func() bool { return s.outboxes.held.Load() == 0 })
}

// Past maxParked, a response waits for its client holding its slot
// (each parked one keeps an OS thread, and Go ends a process at 10,000),
// said once in the log; every client still gets its whole response.
func TestParkedResponsesAreBounded(t *testing.T) {
	chunk := bytes.Repeat([]byte("y"), 1<<20)
	app := newFakeApp(t, map[string]route{"/stream": streamRoute(chunk, 16)})
	var logged lockedBuffer
	s, addr := serveFake(t, app, testConfig(t, "--response-buffer", "65536"), 2, func(s *Server) {
		s.maxParked = 1
		s.log = zerolog.New(&logged)
	})
	conns := nonReaders(t, addr, "/stream", 2)
	until(t, "the second response refused parking", func() bool { return logged.count("holding their slots") == 1 })
	if n := s.parked.Load(); n != 1 {
		t.Fatalf("%d responses parked; want 1", n)
	}
	// The wait for the client is not the app's time: a worker killed for
	// --timeout here once lost every connection it held.
	until(t, "the slot waiting for its client out of --timeout's sight", func() bool {
		oldest, _ := s.oldestCall()
		return oldest == nil
	})
	readAllBodies(t, conns, 16*len(chunk))
	if n := s.parked.Load(); n != 0 {
		t.Fatalf("%d parked after the responses; want 0", n)
	}
}

// Only Callers that keep their OS thread while parked (WSGI) are bounded:
// an ASGI response parks without one.
func TestParkingBoundIsForPinnedThreads(t *testing.T) {
	for _, pins := range []bool{true, false} {
		s := newServer(testConfig(t), nopLog, nil, Options{App: newFakeApp(t, nil), Slots: 1, PinsThreads: pins})
		if want := map[bool]int64{true: maxParkedResponses, false: math.MaxInt64}[pins]; s.maxParked != want {
			t.Errorf("PinsThreads %v: at most %d parked; want %d", pins, s.maxParked, want)
		}
	}
}
