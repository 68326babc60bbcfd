package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/rs/zerolog"
)

// fakeApp is an application written in Go, for serving real requests
// over real sockets through the engine without Python. A route returns
// the steps of its response; Start hands out the first, Next the rest.
// Every Caller checks that the engine keeps the Caller contract, and
// the test fails at Cleanup if it did not.
type fakeApp struct {
	t      *testing.T
	routes map[string]route

	mu       sync.Mutex
	broken   []string // contract violations seen
	callers  int      // made
	closed   int      // closed
	aborts   int      // Abort of an open response
	started  chan string
	stuck    chan *fakeCaller // a call parked in "/stuck" until Interrupt
	entered  atomic.Int64     // Callers between Enter and Leave
	requests atomic.Int64
	// interruptHolds, when set, keeps Interrupt from returning until it
	// is closed, as a real one may be descheduled after raising while
	// the interrupted call unwinds and is answered.
	interruptHolds chan struct{}
}

// route computes a response. write is Start's write, called as the app
// would while it runs; nil when the engine passed none.
type route func(c *fakeCaller, r *Request, write func(Step) bool) []Step

func newFakeApp(t *testing.T, routes map[string]route) *fakeApp {
	a := &fakeApp{t: t, routes: routes, started: make(chan string, 64), stuck: make(chan *fakeCaller, 4)}
	return a
}

func (a *fakeApp) NewCaller() Caller {
	a.mu.Lock()
	a.callers++
	a.mu.Unlock()
	return &fakeCaller{app: a, interrupted: make(chan struct{}, 1)}
}

// Prepare marks the request as prepared: Start checks that it was, for
// this request (engine.Preparer).
func (a *fakeApp) Prepare(r *Request) {
	r.State = "prepared " + string(r.Head.Path)
	r.Var = func(name string) (string, bool) { return "", false }
}

func (a *fakeApp) violation(format string, args ...any) {
	a.mu.Lock()
	a.broken = append(a.broken, fmt.Sprintf(format, args...))
	a.mu.Unlock()
}

// check fails the test on any contract violation seen so far.
func (a *fakeApp) check() {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range a.broken {
		a.t.Error("the engine broke the Caller contract: " + b)
	}
}

type fakeCaller struct {
	app         *fakeApp
	steps       []Step
	open        bool
	inCall      atomic.Bool // in Start or Next: the engine must not call again
	enteredFlag bool
	closed      bool
	interrupted chan struct{}
	// since and began are what Interrupt was given.
	since *atomic.Int64
	began int64
}

func (c *fakeCaller) Enter() {
	if c.enteredFlag {
		c.app.violation("Enter twice without Leave")
	}
	c.enteredFlag = true
	c.app.entered.Add(1)
}

func (c *fakeCaller) Leave() {
	if !c.enteredFlag {
		c.app.violation("Leave without Enter")
	}
	if c.open {
		c.app.violation("Leave with the response open")
	}
	c.enteredFlag = false
	c.app.entered.Add(-1)
}

func (c *fakeCaller) Start(r *Request, write func(Step) bool) Step {
	if !c.inCall.CompareAndSwap(false, true) {
		c.app.violation("Start during a call")
	}
	defer c.inCall.Store(false)
	if !c.enteredFlag {
		c.app.violation("Start before Enter")
	}
	if c.open {
		c.app.violation("Start with a response open")
	}
	if c.closed {
		c.app.violation("Start after Close")
	}
	c.app.requests.Add(1)
	path := string(r.Head.Path)
	if r.State != "prepared "+path {
		c.app.violation("Start of %s without Prepare (state %v)", path, r.State)
	}
	select {
	case c.app.started <- path:
	default:
	}
	h, ok := c.app.routes[path]
	if !ok {
		h = func(*fakeCaller, *Request, func(Step) bool) []Step {
			return []Step{head("404 Not Found", "not found", "Content-Length", "9")}
		}
	}
	c.steps = h(c, r, write)
	return c.next()
}

func (c *fakeCaller) next() Step {
	if len(c.steps) == 0 {
		c.open = false
		return Step{Done: true}
	}
	s := c.steps[0]
	c.steps = c.steps[1:]
	if len(c.steps) == 0 && !s.Failed {
		s.Done = true
	}
	c.open = !s.Done && !s.Failed
	return s
}

func (c *fakeCaller) Next() Step {
	if !c.inCall.CompareAndSwap(false, true) {
		c.app.violation("Next during a call")
	}
	defer c.inCall.Store(false)
	if !c.open {
		c.app.violation("Next with no response open")
	}
	if !c.enteredFlag {
		c.app.violation("Next outside Enter and Leave")
	}
	return c.next()
}

func (c *fakeCaller) Open() bool { return c.open }

func (c *fakeCaller) Abort() string {
	if !c.open {
		return ""
	}
	c.app.mu.Lock()
	c.app.aborts++
	c.app.mu.Unlock()
	c.open, c.steps = false, nil
	return ""
}

func (c *fakeCaller) Interrupt(since *atomic.Int64, began int64) (string, bool) {
	if since.Load() != began {
		return "", false
	}
	c.since, c.began = since, began
	select {
	case c.interrupted <- struct{}{}:
	default:
	}
	if c.app.interruptHolds != nil {
		<-c.app.interruptHolds
	}
	return "fake stack\n", true
}

func (c *fakeCaller) Close() {
	if c.open {
		c.app.violation("Close with a response open")
	}
	c.closed = true
	c.app.mu.Lock()
	c.app.closed++
	c.app.mu.Unlock()
}

// head is a first step with status, body and header pairs.
func head(status, body string, headers ...string) Step {
	s := Step{HasHead: true, Status: []byte(status), Body: []byte(body)}
	for i := 0; i+1 < len(headers); i += 2 {
		s.Headers = append(s.Headers, [2][]byte{[]byte(headers[i]), []byte(headers[i+1])})
	}
	return s
}

var nopLog = zerolog.Nop()

// testConfig is the default configuration with args applied.
func testConfig(t *testing.T, args ...string) *config.Config {
	t.Helper()
	cfg, _, err := config.Load(append(args, "app:app"), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// serveFake starts a server for app on a loopback listener and returns
// it with the address; Cleanup drains it and checks the contract. prep
// run before it serves.
func serveFake(t *testing.T, app *fakeApp, cfg *config.Config, slots int, prep ...func(*Server)) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(cfg, nopLog, []net.Listener{ln}, Options{App: app, Slots: slots})
	ln.Close() // the server accepts on its own duplicate, as a worker does on the master's
	if len(s.lns) != 1 {
		t.Fatal("the server has no listener")
	}
	addr := s.lns[0].addr.String()
	for _, p := range prep {
		p(s)
	}
	s.Serve()
	t.Cleanup(func() {
		if !s.isDraining() { // a test may have stopped it
			s.Drain()
		}
		if n := app.entered.Load(); n != 0 {
			t.Errorf("%d Callers entered and never left", n)
		}
		app.check()
	})
	return s, addr
}

// dialTest connects to addr, with 10 s for everything that follows.
func dialTest(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// roundTrip sends raw on a new connection and returns everything the
// server sends until it closes the connection.
func roundTrip(t *testing.T, addr, raw string) string {
	t.Helper()
	c := dialTest(t, addr)
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("reading the response: %v", err)
	}
	return string(b)
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "read"
}

func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
}

// bodyOf splits a response at its head and returns the head and the
// body, dechunked when chunked.
func bodyOf(t *testing.T, resp string) (string, string) {
	t.Helper()
	h, b, ok := bytes.Cut([]byte(resp), []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no response head in %q", resp)
	}
	if !bytes.Contains(bytes.ToLower(h), []byte("transfer-encoding: chunked")) {
		return string(h), string(b)
	}
	var out []byte
	for {
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		if !ok {
			t.Fatalf("truncated chunked body %q", b)
		}
		n, err := strconv.ParseInt(string(line), 16, 64)
		if err != nil || int64(len(rest)) < n+2 {
			t.Fatalf("bad chunk %q", b)
		}
		if n == 0 {
			return string(h), string(out)
		}
		out = append(out, rest[:n]...)
		b = rest[n+2:]
	}
}
