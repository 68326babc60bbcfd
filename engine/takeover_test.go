package engine

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// takeoverRoutes use the offered descriptor as a WSGI app does through
// environ["gunicorn.socket"]: blocking (Python's socket is), on the
// request's own call. sessions gets how each session ended; fds the
// descriptor /refuse was offered.
func takeoverRoutes(sessions chan<- string, fds chan<- int) map[string]route {
	return map[string]route{
		"/offer": func(_ *fakeCaller, r *Request, _ func(Step) bool) []Step {
			if _, ok := r.Socket(); ok {
				return []Step{head("200 OK", "offered", "Content-Length", "7")}
			}
			return []Step{head("200 OK", "not offered", "Content-Length", "11")}
		},
		// A session: the app answers the upgrade itself, echoes one line,
		// then reads until the client or a graceful stop ends the stream.
		"/take": func(_ *fakeCaller, r *Request, _ func(Step) bool) []Step {
			fd, ok := r.Socket()
			if !ok {
				return []Step{head("500 Internal Server Error", "no socket", "Content-Length", "9")}
			}
			unix.SetNonblock(fd, false)
			unix.Write(fd, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
			var line []byte
			buf := make([]byte, 64)
			for {
				n, err := unix.Read(fd, buf)
				if n <= 0 || err != nil {
					sessions <- "eof before a line"
					return []Step{{Taken: true, Done: true}}
				}
				line = append(line, buf[:n]...)
				if strings.HasSuffix(string(line), "\n") {
					break
				}
			}
			unix.Write(fd, append([]byte("echo "), line...))
			for {
				if n, err := unix.Read(fd, buf); n <= 0 || err != nil {
					break
				}
			}
			sessions <- "eof"
			// What the app returns after using the socket is never sent.
			return []Step{{Taken: true, Done: true, HasHead: true, Status: []byte("500 Oops"), Body: []byte("not sent")}}
		},
		// The app looks at the socket, makes it blocking as Python's
		// setblocking(True) would, and answers normally.
		"/refuse": func(_ *fakeCaller, r *Request, _ func(Step) bool) []Step {
			fd, ok := r.Socket()
			if ok {
				unix.SetNonblock(fd, false)
				fds <- fd
			}
			return []Step{head("426 Upgrade Required", "no", "Content-Length", "2")}
		},
	}
}

const askWebSocket = "Host: t\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// askTakeover sends a WebSocket request for path on a new connection
// and reads the response head: it returns the connection, its reader
// past the head, and the status line.
func askTakeover(t *testing.T, addr, path string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	c := dialTest(t, addr)
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\n"+askWebSocket)
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	for line := status; err == nil && line != "\r\n"; {
		line, err = br.ReadString('\n')
	}
	if err != nil {
		t.Fatalf("the head of %s (%q): %v", path, status, err)
	}
	return c, br, status
}

func serveTakeover(t *testing.T, sessions chan string, fds chan int) (*Server, string) {
	t.Helper()
	app := newFakeApp(t, takeoverRoutes(sessions, fds))
	return serveFake(t, app, testConfig(t), 2, func(s *Server) { s.offerSockets = true })
}

// Only a request that asks to become a WebSocket, with nothing read
// past its head, is offered the connection.
func TestSocketOfferedOnlyToAWebSocketRequest(t *testing.T) {
	_, addr := serveTakeover(t, nil, nil)
	for name, c := range map[string]struct{ raw, want string }{
		"websocket":           {"GET /offer HTTP/1.1\r\n" + askWebSocket, "offered"},
		"plain":               {get("/offer"), "not offered"},
		"h2c":                 {"GET /offer HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n", "not offered"},
		"Upgrade alone":       {"GET /offer HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n\r\n", "not offered"},
		"HTTP/1.0":            {"GET /offer HTTP/1.0\r\n" + askWebSocket, "not offered"},
		"a body":              {"GET /offer HTTP/1.1\r\nContent-Length: 3\r\n" + askWebSocket + "abc", "not offered"},
		"bytes past the head": {"GET /offer HTTP/1.1\r\n" + askWebSocket + "GET /offer HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "not offered"},
	} {
		if _, body := bodyOf(t, firstResponse(t, addr, c.raw)); body != c.want {
			t.Errorf("%s: %q; want %q", name, body, c.want)
		}
	}
	// Not at all unless the app asked for it (ASGI does not).
	app := newFakeApp(t, takeoverRoutes(nil, nil))
	_, plain := serveFake(t, app, testConfig(t), 1)
	if _, body := bodyOf(t, firstResponse(t, plain, "GET /offer HTTP/1.1\r\n"+askWebSocket)); body != "not offered" {
		t.Errorf("without OfferSockets: %q", body)
	}
}

// firstResponse sends raw and returns the first response, read by its
// Content-Length.
func firstResponse(t *testing.T, addr, raw string) string {
	t.Helper()
	c := dialTest(t, addr)
	defer c.Close()
	io.WriteString(c, raw)
	br := bufio.NewReader(c)
	var resp strings.Builder
	length := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("head %q: %v", resp.String(), err)
		}
		resp.WriteString(line)
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if line == "\r\n" {
			break
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		t.Fatal(err)
	}
	return resp.String() + string(body)
}

// An app that took the connection over speaks alone on it: nothing of
// what it returns is sent, the connection closes when it returns, and
// the call is no stuck call for --timeout meanwhile.
func TestTakenConnectionIsTheApps(t *testing.T) {
	sessions := make(chan string, 1)
	s, addr := serveTakeover(t, sessions, nil)
	c, br, status := askTakeover(t, addr, "/take")
	if status != "HTTP/1.1 101 Switching Protocols\r\n" {
		t.Fatalf("the app's own head: %q", status)
	}
	io.WriteString(c, "hi\n")
	if line, err := br.ReadString('\n'); line != "echo hi\n" {
		t.Fatalf("echo: %q (%v)", line, err)
	}
	if call, _ := s.oldestCall(); call != nil {
		t.Errorf("the session's call counts for --timeout")
	}
	c.(*net.TCPConn).CloseWrite()
	if got := <-sessions; got != "eof" {
		t.Fatalf("session: %s", got)
	}
	if rest, err := io.ReadAll(br); len(rest) != 0 || err != nil {
		t.Fatalf("after the session the client got %q (%v); want nothing and a close", rest, err)
	}
}

// A graceful stop ends a session that reads: the app's read sees the
// client gone, and the stop does not wait out the session.
func TestGracefulStopEndsATakenSession(t *testing.T) {
	sessions := make(chan string, 1)
	s, addr := serveTakeover(t, sessions, nil)
	c, br, _ := askTakeover(t, addr, "/take")
	io.WriteString(c, "hi\n")
	if line, err := br.ReadString('\n'); line != "echo hi\n" {
		t.Fatalf("echo: %q (%v)", line, err)
	}
	drained := make(chan struct{})
	go func() {
		s.Drain()
		close(drained)
	}()
	select {
	case got := <-sessions:
		if got != "eof" {
			t.Fatalf("session: %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the session still reads 10s after the graceful stop began")
	}
	<-drained // the request is over: Cleanup checks the Caller left
}

// An app that looked at the socket, made it blocking and answered
// normally leaves a connection the engine serves on, non-blocking again.
func TestOfferedSocketIsNonBlockingAfterTheCall(t *testing.T) {
	fds := make(chan int, 1)
	_, addr := serveTakeover(t, nil, fds)
	c, br, status := askTakeover(t, addr, "/refuse")
	if status != "HTTP/1.1 426 Upgrade Required\r\n" {
		t.Fatalf("got %q", status)
	}
	io.ReadFull(br, make([]byte, 2))
	fd := <-fds
	// The response is out, so the engine reclaimed the descriptor; the
	// connection is still open (keep-alive), so fd is still its.
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || flags&unix.O_NONBLOCK == 0 {
		t.Fatalf("flags %#x (%v): the connection stayed blocking", flags, err)
	}
	io.WriteString(c, get("/offer"))
	if line, _ := br.ReadString('\n'); line != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("the next request on the connection: %q", line)
	}
}
