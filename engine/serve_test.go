package engine

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The engine serving real HTTP/1.1 over loopback sockets to a Go
// application (fakeapp_test.go), under -race in `make test`.

var helloRoutes = map[string]route{
	"/hello": func(*fakeCaller, *Request, func(Step) bool) []Step {
		return []Step{head("200 OK", "hello", "Content-Type", "text/plain", "Content-Length", "5")}
	},
}

func TestServeHello(t *testing.T) {
	app := newFakeApp(t, helloRoutes)
	_, addr := serveFake(t, app, testConfig(t), 2)
	resp := roundTrip(t, addr, get("/hello"))
	h, body := bodyOf(t, resp)
	if !strings.HasPrefix(h, "HTTP/1.1 200 OK\r\n") || body != "hello" {
		t.Fatalf("response %q", resp)
	}
	for _, want := range []string{"Content-Length: 5", "Connection: close", "X-Request-ID: "} {
		if !strings.Contains(h, want) {
			t.Errorf("head lacks %q:\n%s", want, h)
		}
	}
}

// Pipelined requests on one keep-alive connection are answered in
// order, each by its own call.
func TestServePipelinedInOrder(t *testing.T) {
	app := newFakeApp(t, map[string]route{
		"/a": func(*fakeCaller, *Request, func(Step) bool) []Step {
			return []Step{head("200 OK", "first", "Content-Length", "5")}
		},
		"/b": func(*fakeCaller, *Request, func(Step) bool) []Step {
			return []Step{head("201 Created", "second", "Content-Length", "6")}
		},
	})
	_, addr := serveFake(t, app, testConfig(t), 1)
	resp := roundTrip(t, addr, "GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	first := strings.Index(resp, "HTTP/1.1 200 OK")
	second := strings.Index(resp, "HTTP/1.1 201 Created")
	if first != 0 || second < 0 || !strings.HasSuffix(resp, "second") || !strings.Contains(resp[:second], "first") {
		t.Fatalf("pipelined responses out of order or missing: %q", resp)
	}
	if got := app.requests.Load(); got != 2 {
		t.Fatalf("%d calls; want 2", got)
	}
}

// A response of many steps without a length is chunked, every step's
// bytes in order (some gathered while the app runs: the holder).
func TestServeStreamedSteps(t *testing.T) {
	const n = 200
	var want strings.Builder
	app := newFakeApp(t, map[string]route{
		"/stream": func(*fakeCaller, *Request, func(Step) bool) []Step {
			steps := []Step{head("200 OK", "start;")}
			for i := range n {
				s := Step{Body: []byte(strconv.Itoa(i) + ";")}
				if i%7 == 0 {
					s.Big = bytes.Repeat([]byte{'b'}, 20000)
				}
				steps = append(steps, s)
			}
			return steps
		},
	})
	want.WriteString("start;")
	for i := range n {
		want.WriteString(strconv.Itoa(i) + ";")
		if i%7 == 0 {
			want.WriteString(strings.Repeat("b", 20000))
		}
	}
	_, addr := serveFake(t, app, testConfig(t), 1)
	h, body := bodyOf(t, roundTrip(t, addr, get("/stream")))
	if !strings.Contains(h, "Transfer-Encoding: chunked") {
		t.Fatalf("head %q; want chunked", h)
	}
	if body != want.String() {
		t.Fatalf("body of %d bytes differs from the %d the app produced", len(body), want.Len())
	}
}

// What the app writes while Start runs (PEP 3333's write()) goes out
// with the head first, then the steps Start and Next return.
func TestServeEarlyWrites(t *testing.T) {
	app := newFakeApp(t, map[string]route{
		"/write": func(c *fakeCaller, r *Request, write func(Step) bool) []Step {
			if write == nil {
				c.app.violation("Start without a write function")
				return []Step{head("500 Internal Server Error", "")}
			}
			if !write(head("200 OK", "early;")) || !write(Step{Body: []byte("again;")}) {
				c.app.violation("write reported a gone client")
			}
			return []Step{{Body: []byte("late")}}
		},
	})
	_, addr := serveFake(t, app, testConfig(t), 1)
	h, body := bodyOf(t, roundTrip(t, addr, get("/write")))
	if !strings.HasPrefix(h, "HTTP/1.1 200 OK") || body != "early;again;late" {
		t.Fatalf("head %q body %q", h, body)
	}
}

// An app that fails before its head gets a 500 and the connection
// closes; the engine serves on.
func TestServeAppFailureBeforeTheHead(t *testing.T) {
	app := newFakeApp(t, map[string]route{
		"/fail": func(*fakeCaller, *Request, func(Step) bool) []Step {
			return []Step{{Failed: true, Traceback: "Traceback: boom"}}
		},
		"/hello": helloRoutes["/hello"],
		"/invalid": func(*fakeCaller, *Request, func(Step) bool) []Step {
			return []Step{head("OK", "x"), {Body: []byte("never sent")}}
		},
	})
	_, addr := serveFake(t, app, testConfig(t), 1)
	resp := roundTrip(t, addr, get("/fail"))
	if !strings.HasPrefix(resp, "HTTP/1.1 500 ") || !strings.Contains(resp, "The application failed.") {
		t.Fatalf("failed app answered %q", resp)
	}
	resp = roundTrip(t, addr, get("/invalid"))
	if !strings.HasPrefix(resp, "HTTP/1.1 500 ") || !strings.Contains(resp, "invalid response") {
		t.Fatalf("invalid head answered %q", resp)
	}
	app.mu.Lock()
	aborts := app.aborts
	app.mu.Unlock()
	if aborts != 1 {
		t.Errorf("%d aborts; want the invalid response's one", aborts)
	}
	if _, body := bodyOf(t, roundTrip(t, addr, get("/hello"))); body != "hello" {
		t.Fatalf("after the failures: %q", body)
	}
}

// An app that fails after its head went out gets its connection cut:
// the client sees a truncated body, not a complete-looking one.
func TestServeAppFailureMidBody(t *testing.T) {
	app := newFakeApp(t, map[string]route{
		"/failmid": func(*fakeCaller, *Request, func(Step) bool) []Step {
			return []Step{head("200 OK", "part;"), {Body: []byte("more;")}, {Failed: true, Traceback: "boom"}}
		},
	})
	_, addr := serveFake(t, app, testConfig(t), 1)
	resp := roundTrip(t, addr, get("/failmid"))
	if !strings.HasPrefix(resp, "HTTP/1.1 200 OK") || !strings.Contains(resp, "part;") || strings.HasSuffix(resp, "0\r\n\r\n") {
		t.Fatalf("cut response %q; want the head and bytes so far, without the last chunk", resp)
	}
}

// The app reads the request body whole, in memory or from a file, with
// Content-Length and chunked.
func TestServeRequestBody(t *testing.T) {
	app := newFakeApp(t, map[string]route{
		"/echo": func(c *fakeCaller, r *Request, _ func(Step) bool) []Step {
			data := r.Body.Data
			if r.Body.File != nil {
				b, err := io.ReadAll(r.Body.File)
				if err != nil {
					return []Step{{Failed: true, Traceback: err.Error()}}
				}
				data = b
			}
			if r.BodyLen != int64(len(data)) {
				c.app.violation("BodyLen %d for a body of %d bytes", r.BodyLen, len(data))
			}
			return []Step{head("200 OK", "", "Content-Length", strconv.Itoa(len(data))), {Big: data}}
		},
	})
	_, addr := serveFake(t, app, testConfig(t), 2)
	for _, size := range []int{0, 10, 300 << 10} {
		body := strings.Repeat("x", size)
		resp := roundTrip(t, addr, "POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: "+
			strconv.Itoa(size)+"\r\n\r\n"+body)
		if _, got := bodyOf(t, resp); got != body {
			t.Fatalf("%d bytes sent, %d echoed: %.200q", size, len(got), resp)
		}
		chunked := "POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
		if size > 0 {
			chunked += strconv.FormatInt(int64(size), 16) + "\r\n" + body + "\r\n"
		}
		resp = roundTrip(t, addr, chunked+"0\r\n\r\n")
		if _, got := bodyOf(t, resp); got != body {
			t.Fatalf("chunked: %d bytes sent, %d echoed", size, len(got))
		}
	}
}

// A client that does not read a response too big for the outbox does
// not keep the app's only slot: the response is parked, another client
// is served meanwhile, and the first still gets every byte.
func TestServeSlowClientDoesNotHoldTheSlot(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB: more than socket buffers and outbox
	app := newFakeApp(t, map[string]route{
		"/big": func(*fakeCaller, *Request, func(Step) bool) []Step {
			return []Step{head("200 OK", "", "Content-Length", strconv.Itoa(len(big))), {Big: big}, {Body: []byte("ignored: past Content-Length")}}
		},
		"/hello": helloRoutes["/hello"],
	})
	_, addr := serveFake(t, app, testConfig(t, "--response-buffer", "65536"), 1)
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, get("/big"))
	if p := <-app.started; p != "/big" {
		t.Fatalf("started %q", p)
	}
	// The slot is back once the response is parked on the slow client.
	if _, body := bodyOf(t, roundTrip(t, addr, get("/hello"))); body != "hello" {
		t.Fatalf("the second client got %q", body)
	}
	slow.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(slow)
	if err != nil {
		t.Fatal(err)
	}
	if _, body := bodyOf(t, string(got)); body != string(big) {
		t.Fatalf("the slow client got %d body bytes; want %d", len(body), len(big))
	}
}

// A file region goes out after the bytes before it, with its length as
// Content-Length when the app gave none.
func TestServeFileRegion(t *testing.T) {
	content := bytes.Repeat([]byte("file-bytes;"), 50000)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	app := newFakeApp(t, map[string]route{
		"/file": func(*fakeCaller, *Request, func(Step) bool) []Step {
			s := head("200 OK", "")
			s.File = FileRegion{Fd: fd, Offset: 11, Len: int64(len(content) - 11)}
			return []Step{s, {}} // the step after a file closes the response
		},
	})
	_, addr := serveFake(t, app, testConfig(t), 1)
	h, body := bodyOf(t, roundTrip(t, addr, get("/file")))
	if !strings.Contains(h, "Content-Length: "+strconv.Itoa(len(content)-11)) || body != string(content[11:]) {
		t.Fatalf("head %q, %d body bytes; want %d", h, len(body), len(content)-11)
	}
}

// --request-timeout interrupts a call that runs too long and the client
// gets a 504; the slot serves on.
func TestServeRequestTimeoutInterrupts(t *testing.T) {
	app := newFakeApp(t, map[string]route{
		"/stuck": func(c *fakeCaller, _ *Request, _ func(Step) bool) []Step {
			<-c.interrupted
			return []Step{{Failed: true, Traceback: "TimeoutError"}}
		},
		"/hello": helloRoutes["/hello"],
	})
	retired := make(chan struct{}, 1)
	s, addr := serveFake(t, app, testConfig(t, "--request-timeout", "1"), 1,
		func(s *Server) {
			s.StartStats(func(stuck bool) {
				if stuck {
					retired <- struct{}{}
				}
			})
		})
	answer := make(chan string, 1)
	go func() { answer <- roundTrip(t, addr, get("/stuck")) }()
	if p := <-app.started; p != "/stuck" {
		t.Fatalf("started %q", p)
	}
	// The reporter's tick, a little past the timeout of the call in
	// flight (the slot's clock is set before Start).
	var resp string
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for resp == "" {
		select {
		case resp = <-answer:
		case <-tick.C:
			s.Tick(time.Now().Add(1100 * time.Millisecond))
		}
	}
	if !strings.HasPrefix(resp, "HTTP/1.1 504 ") {
		t.Fatalf("timed-out call answered %q", resp)
	}
	// The interrupting goroutine counts the timeout once its exception is
	// raised; the call's thread may unwind and send the 504 first.
	if n := waitTimeoutsCounted(s, 1); n != 1 {
		t.Errorf("%d timeouts counted; want 1", n)
	}
	select {
	case <-retired:
		t.Error("the worker asked to be replaced for a call that stopped")
	default:
	}
	if _, body := bodyOf(t, roundTrip(t, addr, get("/hello"))); body != "hello" {
		t.Fatalf("after the timeout: %q", body)
	}
}

// The interrupted call may unwind and be answered before Interrupt
// returns (the interrupting goroutine descheduled after raising, as
// under load): the answer is still the 504, not the 500 of a failure.
func TestServeRequestTimeoutAnswers504BeforeInterruptReturns(t *testing.T) {
	app := newFakeApp(t, map[string]route{
		"/stuck": func(c *fakeCaller, _ *Request, _ func(Step) bool) []Step {
			<-c.interrupted
			return []Step{{Failed: true, Traceback: "TimeoutError"}}
		},
	})
	app.interruptHolds = make(chan struct{})
	s, addr := serveFake(t, app, testConfig(t, "--request-timeout", "1"), 1,
		func(s *Server) { s.StartStats(func(bool) {}) })
	answer := make(chan string, 1)
	go func() { answer <- roundTrip(t, addr, get("/stuck")) }()
	if p := <-app.started; p != "/stuck" {
		t.Fatalf("started %q", p)
	}
	s.Tick(time.Now().Add(1100 * time.Millisecond))
	resp := <-answer
	close(app.interruptHolds)
	if !strings.HasPrefix(resp, "HTTP/1.1 504 ") {
		t.Fatalf("timed-out call answered %q", resp)
	}
}

// A graceful stop waits for the call in flight, which gets its whole
// response with Connection: close.
func TestServeDrainWaitsForTheCallInFlight(t *testing.T) {
	release := make(chan struct{})
	app := newFakeApp(t, map[string]route{
		"/slow": func(*fakeCaller, *Request, func(Step) bool) []Step {
			<-release
			return []Step{head("200 OK", "done", "Content-Length", "4")}
		},
	})
	s, addr := serveFake(t, app, testConfig(t), 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
	<-app.started
	drained := make(chan struct{})
	go func() { s.Drain(); close(drained) }()
	select {
	case <-drained:
		t.Fatal("Drain returned with a call in flight")
	case <-time.After(50 * time.Millisecond): // a negative check: Drain must still be waiting
	}
	close(release)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	got, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	h, body := bodyOf(t, string(got))
	if body != "done" || !strings.Contains(h, "Connection: close") {
		t.Fatalf("response during the stop: %q", got)
	}
	<-drained
}

// fakeHooks records what the request hooks were given.
type fakeHooks struct {
	mu      sync.Mutex
	pre     []string
	post    []string // status codes
	failPre bool
	// change, when set, is what pre_request changes of req.
	change func(req map[string]any) *RequestChange
}

func (h *fakeHooks) Runs() (bool, bool) { return true, true }

func (h *fakeHooks) PreRequest(req map[string]any, key string) (*RequestChange, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pre = append(h.pre, req["path"].(string))
	if h.failPre {
		return nil, errors.New("pre_request raised")
	}
	if h.change != nil {
		return h.change(req), nil
	}
	return nil, nil
}

func (h *fakeHooks) PostRequest(req, resp map[string]any, key string, r *Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.post = append(h.post, strconv.Itoa(resp["status_code"].(int))+" "+req["path"].(string))
}

// pre_request runs before the app and a failure answers 500 without
// calling it; post_request sees the status sent.
func TestServeRequestHooks(t *testing.T) {
	app := newFakeApp(t, helloRoutes)
	hooks := new(fakeHooks)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := New(testConfig(t), nopLog, []net.Listener{ln}, Options{App: app, Slots: 1, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	s.Serve()
	t.Cleanup(func() {
		if !s.isDraining() {
			s.Drain()
		}
	})
	addr := s.lns[0].addr.String()
	if _, body := bodyOf(t, roundTrip(t, addr, get("/hello"))); body != "hello" {
		t.Fatalf("with hooks: %q", body)
	}
	hooks.mu.Lock()
	hooks.failPre = true
	hooks.mu.Unlock()
	if resp := roundTrip(t, addr, get("/hello")); !strings.HasPrefix(resp, "HTTP/1.1 500 ") {
		t.Fatalf("after a failing pre_request: %q", resp)
	}
	s.Drain() // post_request runs after the response: wait for the connections
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	if strings.Join(hooks.pre, ",") != "/hello,/hello" || strings.Join(hooks.post, ",") != "200 /hello,500 /hello" {
		t.Fatalf("pre %v post %v", hooks.pre, hooks.post)
	}
	if n := app.requests.Load(); n != 1 {
		t.Fatalf("the app was called %d times; want once (not after the failing pre_request)", n)
	}
}

// waitTimeoutsCounted waits, up to 5 s, for the request-timeout counter
// to reach want, and returns it.
func waitTimeoutsCounted(s *Server, want uint64) uint64 {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := s.stats.timeouts.Load()
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(time.Millisecond)
	}
}
