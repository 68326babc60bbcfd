package engine

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// watchRoutes: /wait watches its client (Request.WatchClient) and tells
// seen what came first: the client's going, after which it fails as an
// app that returns on http.disconnect does, or a release, after which it
// answers.
func watchRoutes(seen chan<- string, release <-chan struct{}) map[string]route {
	return map[string]route{
		"/wait": func(_ *fakeCaller, r *Request, _ func(Step) bool) []Step {
			gone := r.WatchClient()
			if r.WatchClient() != gone {
				seen <- "a second call gave another channel"
			}
			seen <- "watching"
			select {
			case <-gone:
				seen <- "gone"
				return []Step{{Failed: true, Traceback: "the app ended: its client went away"}}
			case <-release:
				seen <- "released"
				return []Step{head("200 OK", "released")}
			}
		},
		"/hello": func(*fakeCaller, *Request, func(Step) bool) []Step {
			return []Step{head("200 OK", "hello")}
		},
	}
}

func expectSeen(t *testing.T, seen <-chan string, want string) {
	t.Helper()
	select {
	case got := <-seen:
		if got != want {
			t.Fatalf("the app saw %q; want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the app never saw %q", want)
	}
}

// A client that closes while the app waits is seen at once; nothing is
// answered, and the engine serves on.
func TestWatchClientSeesTheClientGo(t *testing.T) {
	seen, release := make(chan string, 8), make(chan struct{})
	app := newFakeApp(t, watchRoutes(seen, release))
	_, addr := serveFake(t, app, testConfig(t), 1)
	for _, reset := range []bool{false, true} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
		expectSeen(t, seen, "watching")
		if reset {
			c.(*net.TCPConn).SetLinger(0)
		}
		c.Close()
		expectSeen(t, seen, "gone")
	}
	if resp := roundTrip(t, addr, get("/hello")); resp == "" {
		t.Error("no answer after the clients left")
	}
}

// Bytes that arrive during the watch (the next, pipelined request) end
// it without a disconnect, and are the next request read.
func TestWatchClientKeepsAPipelinedRequest(t *testing.T) {
	seen, release := make(chan string, 8), make(chan struct{}, 1)
	app := newFakeApp(t, watchRoutes(seen, release))
	_, addr := serveFake(t, app, testConfig(t), 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
	expectSeen(t, seen, "watching")
	io.WriteString(c, get("/hello"))
	release <- struct{}{}
	expectSeen(t, seen, "released")
	br := bufio.NewReader(c)
	for _, want := range []string{"released", "hello"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the response %q: %v", want, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != want {
			t.Errorf("%d %q; want 200 %q", resp.StatusCode, b, want)
		}
	}
}
