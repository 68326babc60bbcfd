package pyshim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// startLoop runs app (a spec in testdata/asgiapps.py) on a new loop,
// stopped when the test ends.
func startLoop(t *testing.T, app, lifespan string) *Loop {
	t.Helper()
	l, err := StartLoop(LoopOptions{Loop: "asyncio", Lifespan: lifespan, App: "asgiapps:" + app,
		Log: func(text string) { t.Log("loop: " + text) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Stop(10 * time.Second); err != nil {
			t.Error(err)
		}
	})
	return l
}

func httpScope(path, query string) *Scope {
	return &Scope{HTTPVersion: "1.1", Method: "GET", Scheme: "http", RawPath: []byte(path), Query: []byte(query),
		Client: Addr{Host: "127.0.0.1", Port: 40000}, Server: Addr{Host: "127.0.0.1", Port: 8000}}
}

// response is what an app sent, gathered.
type response struct {
	status   int
	headers  map[string]string
	body     []byte
	events   []Sent
	done     Sent
	bodyMsgs int
}

// drive takes c's events until SentDone, calling onWant for each
// SentWant; bounded by a deadline.
func drive(t *testing.T, c *Conn, onWant func()) response {
	t.Helper()
	r := response{headers: map[string]string{}}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-c.Ready():
		case <-deadline:
			t.Fatalf("no SentDone within 10s; so far %+v", r.events)
		}
		for _, ev := range c.Take(nil) {
			r.events = append(r.events, ev)
			switch ev.Kind {
			case SentStart:
				r.status = ev.Status
				for _, h := range ev.Headers {
					r.headers[string(h[0])] = string(h[1])
				}
			case SentBody:
				r.body = append(r.body, ev.Body...)
				r.bodyMsgs++
			case SentWant:
				if onWant != nil {
					onWant()
				}
			case SentDone:
				r.done = ev
				return r
			}
		}
	}
}

func request(t *testing.T, l *Loop, s *Scope) response {
	t.Helper()
	c, err := l.OpenHTTP(s, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return drive(t, c, func() { c.Body(nil, false) })
}

func TestASGIScope(t *testing.T) {
	l := startLoop(t, "scope_json", "on")
	if err := l.Startup(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	s := httpScope("/caf%C3%A9/a%2Fb%zz", "q=1&x=%20")
	s.Method, s.Scheme, s.RootPath = "POST", "https", "/mount"
	s.Headers = [][2][]byte{{[]byte("Content-Type"), []byte("text/plain")}, {[]byte("X-Dup"), []byte("1")}, {[]byte("x-dup"), []byte("2")}}
	s.Server = Addr{Host: "/run/app.sock", Port: -1}
	for range 2 { // the second request sees no trace of the first's state change
		r := request(t, l, s)
		if r.status != 200 || r.done.Traceback != "" {
			t.Fatalf("status %d, traceback %s", r.status, r.done.Traceback)
		}
		var got map[string]any
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatalf("%v: %s", err, r.body)
		}
		want := map[string]any{
			"type": "http", "asgi": map[string]any{"version": "3.0", "spec_version": "2.4"},
			"http_version": "1.1", "method": "POST", "scheme": "https",
			"path": "/café/a/b%zz", "raw_path": "/caf%C3%A9/a%2Fb%zz", "query_string": "q=1&x=%20",
			"root_path": "/mount",
			"headers":   []any{[]any{"content-type", "text/plain"}, []any{"x-dup", "1"}, []any{"x-dup", "2"}},
			"client":    []any{"127.0.0.1", 40000.0}, "server": []any{"/run/app.sock", nil},
			"state":      map[string]any{"db": "connected", "mine": "per request"},
			"extensions": map[string]any{"http.response.pathsend": map[string]any{}, "http.response.trailers": map[string]any{}, "http.response.zerocopysend": map[string]any{}},
		}
		for k, v := range want {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("scope[%q] = %v; want %v", k, got[k], v)
			}
		}
		if len(got) != len(want) {
			t.Errorf("scope has %d keys, want %d: %v", len(got), len(want), got)
		}
	}
	if err := l.Shutdown(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestASGIRequestBodyInChunks(t *testing.T) {
	l := startLoop(t, "echo", "off")
	c, err := l.OpenHTTP(httpScope("/", ""), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{"one,", "two,", "three"}
	r := drive(t, c, func() {
		// Each chunk only when the app asks: the read-ahead a
		// connection keeps is its own choice.
		p := parts[0]
		parts = parts[1:]
		c.Body([]byte(p), len(parts) > 0)
	})
	if string(r.body) != "one,two,three" || r.headers["x-events"] != "3" || r.done.Status != DoneComplete {
		t.Fatalf("body %q, %s events, done %+v", r.body, r.headers["x-events"], r.done)
	}
}

// countKind is how many of evs are of kind k.
func countKind(evs []Sent, k SentKind) int {
	n := 0
	for i := range evs {
		if evs[i].Kind == k {
			n++
		}
	}
	return n
}

// TestASGISendAwaitsWhenTheBudgetIsFull: an app streaming faster than
// its connection takes stops in send() once its budget is queued, while
// the loop goes on serving others.
func TestASGISendAwaitsWhenTheBudgetIsFull(t *testing.T) {
	l := startLoop(t, "stream", "off")
	const size, n, budget = 16 << 10, 40, 64 << 10
	c, err := l.OpenHTTP(httpScope("/", fmt.Sprintf("n=%d&size=%d", n, size)), budget)
	if err != nil {
		t.Fatal(err)
	}
	// Another request on the same loop completes meanwhile; by then the
	// stream's task has run as far as it can (asyncio runs ready tasks in
	// order), so what c holds is what its budget let through.
	if r := request(t, l, httpScope("/", "n=1&size=1")); r.done.Status != DoneComplete {
		t.Fatalf("the other request: %+v", r.done)
	}
	bodies := countKind(c.Take(nil), SentBody)
	if bodies != budget/size {
		t.Fatalf("%d body events queued before the app waited; want %d (budget %d, %d each)", bodies, budget/size, budget, size)
	}
	r := drive(t, c, nil)
	total := bodies*size + len(r.body)
	if total != n*size || r.done.Status != DoneComplete {
		t.Fatalf("%d bytes in all, done %+v; want %d", total, r.done, n*size)
	}
}

func TestASGIProtocolErrors(t *testing.T) {
	l := startLoop(t, "broken", "off")
	for _, tc := range []struct {
		how, tb  string
		reached  int
		bodyPart string
	}{
		{how: "body-first", tb: "http.response.body sent before http.response.start", reached: DoneNothingSent},
		{how: "twice", tb: "after the response body was complete", reached: DoneComplete, bodyPart: "done"},
		{how: "raise-before", tb: "ValueError: failed before the response", reached: DoneNothingSent},
		{how: "raise-after", tb: "ValueError: failed in the middle", reached: DoneStarted, bodyPart: "part"},
		{how: "return", tb: "returned without starting a response", reached: DoneNothingSent},
		// A refused start queued nothing: the engine answers 500, not a
		// start it never got; and a corrected one is taken.
		{how: "bad-header", tb: "ASGI header names must be bytes, not str", reached: DoneNothingSent},
		{how: "start-retry", tb: "", reached: DoneComplete, bodyPart: "fixed"},
		{how: "unknown", tb: "unexpected ASGI message type 'http.response.nonsense'", reached: DoneNothingSent},
		// Before the fix the int's object header was sent as the value.
		{how: "mutated-header", tb: "ASGI header values must be bytes, not int", reached: DoneNothingSent},
	} {
		t.Run(tc.how, func(t *testing.T) {
			r := request(t, l, httpScope("/", "how="+tc.how))
			if !strings.Contains(r.done.Traceback, tc.tb) || r.done.Status != tc.reached || string(r.body) != tc.bodyPart {
				t.Fatalf("done %+v, body %q; want status %d, body %q, a traceback with %q",
					r.done, r.body, tc.reached, tc.bodyPart, tc.tb)
			}
		})
	}
	// The loop lives on.
	if r := request(t, l, httpScope("/", "how=raise-before")); r.done.Traceback == "" {
		t.Fatal("no traceback the second time")
	}
}

func TestASGIDisconnect(t *testing.T) {
	l := startLoop(t, "disconnect", "off")
	c, err := l.OpenHTTP(httpScope("/", ""), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	wants := 0
	r := drive(t, c, func() {
		wants++
		if wants == 1 {
			c.Body([]byte("all"), false)
		} else {
			c.Disconnect(0, "") // the app waits beyond the body: the client goes
		}
	})
	if !r.done.ClientGone || !strings.Contains(r.done.Traceback, "ClientDisconnected") || r.status != 0 {
		t.Fatalf("done %+v, status %d; want ClientDisconnected raised by send, nothing sent", r.done, r.status)
	}
}

func TestASGILifespan(t *testing.T) {
	t.Run("failed", func(t *testing.T) {
		l := startLoop(t, "lifespan_fail", "auto")
		err := l.Startup(10 * time.Second)
		var appErr *AppError
		if !errors.As(err, &appErr) || appErr.Traceback != "the database is down" {
			t.Fatalf("Startup = %v; want the app's message", err)
		}
	})
	t.Run("raises, auto", func(t *testing.T) {
		l := startLoop(t, "lifespan_raise", "auto")
		if err := l.Startup(10 * time.Second); !errors.Is(err, ErrLifespanUnsupported) {
			t.Fatalf("Startup = %v; want ErrLifespanUnsupported", err)
		}
		if r := request(t, l, httpScope("/", "")); string(r.body) != "hello" {
			t.Fatalf("after an unsupported lifespan: %q %+v", r.body, r.done)
		}
		if err := l.Shutdown(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("raises, on", func(t *testing.T) {
		l := startLoop(t, "lifespan_raise", "on")
		err := l.Startup(10 * time.Second)
		var appErr *AppError
		if !errors.As(err, &appErr) || !strings.Contains(appErr.Traceback, "RuntimeError: this app knows no lifespan") {
			t.Fatalf("Startup = %v; want the traceback", err)
		}
	})
	t.Run("off", func(t *testing.T) {
		l := startLoop(t, "lifespan_raise", "off")
		if err := l.Startup(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	})
}

func TestASGI2App(t *testing.T) {
	l := startLoop(t, "ASGI2", "off")
	if r := request(t, l, httpScope("/", "")); string(r.body) != "hello" || r.done.Traceback != "" {
		t.Fatalf("%q %+v", r.body, r.done)
	}
}

// TestASGIStopCancels: a call that runs on is counted (AwaitCalls times
// out on it); Stop ends the loop all the same, and its Conn gets
// SentDone with the cancellation.
func TestASGIStopCancels(t *testing.T) {
	l, err := StartLoop(LoopOptions{Loop: "asyncio", Lifespan: "off", App: "asgiapps:sleeper"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.OpenHTTP(httpScope("/", ""), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for range c.Ready() { // the app runs once it waits in receive()
		if evs := c.Take(nil); len(evs) > 0 && evs[0].Kind == SentWant {
			break
		}
	}
	if l.Calls() != 1 || l.AwaitCalls(10*time.Millisecond) {
		t.Fatalf("%d calls, AwaitCalls true; want the sleeper's call running", l.Calls())
	}
	if err := l.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if l.Calls() != 0 || !l.AwaitCalls(time.Minute) {
		t.Fatalf("%d calls after Stop; want none", l.Calls())
	}
	r := drive(t, c, nil)
	if !strings.Contains(r.done.Traceback, "CancelledError") {
		t.Fatalf("done %+v", r.done)
	}
	if _, err := l.OpenHTTP(httpScope("/", ""), 1); !errors.Is(err, ErrLoopStopped) {
		t.Fatalf("OpenHTTP after Stop = %v", err)
	}
}

// TestASGILoopChoice: --loop uvloop fails clearly where uvloop is not
// importable, and auto then picks asyncio; where it is, both pick it.
func TestASGILoopChoice(t *testing.T) {
	if _, err := StartLoop(LoopOptions{Loop: "trio"}); err == nil || !strings.Contains(err.Error(), `unknown event loop "trio"`) {
		t.Fatalf("Loop trio: %v", err)
	}
	auto, err := StartLoop(LoopOptions{Loop: "auto", Lifespan: "off", App: "asgiapps:hello"})
	if err != nil {
		t.Fatal(err)
	}
	autoName := auto.Name()
	if err := auto.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	uv, err := StartLoop(LoopOptions{Loop: "uvloop", Lifespan: "off", App: "asgiapps:hello"})
	if err != nil {
		if autoName != "asyncio" || !strings.Contains(err.Error(), "No module named 'uvloop'") {
			t.Fatalf("auto chose %q; uvloop: %v", autoName, err)
		}
		return
	}
	defer uv.Stop(10 * time.Second)
	if autoName != "uvloop" || uv.Name() != "uvloop" {
		t.Fatalf("auto chose %q, uvloop %q", autoName, uv.Name())
	}
	if r := request(t, uv, httpScope("/", "")); string(r.body) != "hello" {
		t.Fatalf("on uvloop: %q %+v", r.body, r.done)
	}
}

func TestPercentDecode(t *testing.T) {
	for in, want := range map[string]string{
		"/plain": "/plain", "/a%20b": "/a b", "/%2F%2f": "///", "/x%41": "/xA", "/bad%zz%2": "/bad%zz%2", "%": "%",
		"/%C3%A9": "/\xc3\xa9", "/%e9": "/\xe9",
	} {
		if got := string(percentDecode([]byte(in))); got != want {
			t.Errorf("percentDecode(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestASGICancel: Cancel ends a task waiting in an await; its traceback
// shows where it waited.
func TestASGICancel(t *testing.T) {
	l := startLoop(t, "sleeper", "off")
	c, err := l.OpenHTTP(httpScope("/", ""), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	cancelled := false
	r := drive(t, c, func() {
		if !cancelled {
			c.Cancel()
			cancelled = true
		}
	})
	if !strings.Contains(r.done.Traceback, "CancelledError") || !strings.Contains(r.done.Traceback, "in sleeper") {
		t.Fatalf("done %+v", r.done)
	}
}

// TestASGIConcurrentReceivers: two tasks of one request await receive()
// at once; each gets one of the two body events. Before the fix the
// second waiter took the first's place and the first waited for ever.
func TestASGIConcurrentReceivers(t *testing.T) {
	l := startLoop(t, "two_receivers", "off")
	c, err := l.OpenHTTP(httpScope("/", ""), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	sent := false
	r := drive(t, c, func() {
		if !sent {
			sent = true
			c.Body([]byte("a"), true)
			c.Body([]byte("b"), false)
		}
	})
	if b := string(r.body); (b != "a|b" && b != "b|a") || r.done.Traceback != "" {
		t.Fatalf("body %q, done %+v; want both bodies, one each", b, r.done)
	}
}
