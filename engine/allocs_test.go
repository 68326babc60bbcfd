package engine

import (
	"bytes"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// cannedApp answers every request with the same steps and allocates
// nothing itself, so that what a request costs in allocations is the
// engine's own.
type cannedApp struct{ steps []Step }

func (a *cannedApp) NewCaller() Caller { return &cannedCaller{app: a} }

type cannedCaller struct {
	app  *cannedApp
	next int
}

func (c *cannedCaller) Enter() {}
func (c *cannedCaller) Leave() {}
func (c *cannedCaller) Start(r *Request, write func(Step) bool) Step {
	c.next = 0
	return c.Next()
}
func (c *cannedCaller) Next() Step {
	if c.next == len(c.app.steps) {
		return Step{Done: true}
	}
	c.next++
	return c.app.steps[c.next-1]
}
func (c *cannedCaller) Open() bool    { return c.next < len(c.app.steps) }
func (c *cannedCaller) Abort() string { c.next = len(c.app.steps); return "" }
func (c *cannedCaller) Close()        {}
func (c *cannedCaller) Interrupt(*atomic.Int64, int64) (string, bool) {
	return "", false
}

// A keep-alive request costs the engine no allocation: at tens of
// thousands of requests a second, each one would be work for Go's
// collector on the worker's one core. In one step (a WSGI app returning
// a list), and in two, as a framework's response iterable gives its
// body and then ends: the first step is held in the outbox until the
// second says whether more comes.
func TestKeepAliveRequestAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; `make unit` runs this test without it")
	}
	oneStep := head("200 OK", "hello", "Content-Type", "text/plain", "Content-Length", "5")
	oneStep.Done = true
	first := head("200 OK", "hel", "Content-Type", "text/plain", "Content-Length", "5")
	for name, steps := range map[string][]Step{
		"one step":  {oneStep},
		"two steps": {first, {Body: []byte("lo"), Done: true}},
	} {
		t.Run(name, func(t *testing.T) { checkNoAllocations(t, steps) })
	}
}

// checkNoAllocations serves keep-alive requests answered with steps over
// loopback, and fails if one allocates.
func checkNoAllocations(t *testing.T, steps []Step) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(testConfig(t), nopLog, []net.Listener{ln}, Options{App: &cannedApp{steps: steps}, Slots: 1})
	ln.Close()
	s.Serve()
	t.Cleanup(s.Drain)
	c, err := net.Dial("tcp", s.lns[0].addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	req := []byte("GET /hello HTTP/1.1\r\nHost: t\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n")
	var buf [4096]byte
	end := []byte("\r\n\r\nhello")
	exchange := func() {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		n := 0
		for !bytes.HasSuffix(buf[:n], end) {
			m, err := c.Read(buf[n:])
			if err != nil {
				t.Fatalf("after %q: %v", buf[:n], err)
			}
			n += m
		}
		if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200 OK\r\n")) {
			t.Fatalf("response %q", buf[:n])
		}
	}
	for range 100 { // the connection's buffers and the slot's storage grow first
		exchange()
	}
	if n := testing.AllocsPerRun(1000, exchange); n != 0 {
		t.Fatalf("%.2f allocations per keep-alive request; want 0", n)
	}
}
