package integration

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// http.disconnect while the app waits in receive() with nothing to send
// (ASGI HTTP spec 2.4, as Uvicorn delivers it): the engine watches the
// connection of such a request (engine/watch.go) and the app hears of a
// client that closed or reset it at once, not at its next send.

const watchingLine = "watching the connection for the client going away"

// disconnectServer runs asgi_disconnect:app with debug logs (the watch's
// start is logged there) and the access log; marks is where the app
// records what receive() gave it.
func disconnectServer(t *testing.T, args ...string) (s *server, marks string) {
	t.Helper()
	marks = t.TempDir()
	args = append([]string{"-k", "asgi", "--log-level", "debug", "--access-logfile", "-"}, args...)
	s = start(t, serverOpts{args: append(args, "asgi_disconnect:app"), env: []string{"ASGI_MARKS=" + marks}})
	return s, marks
}

// waitMark waits for the line want in the file name the app writes.
func waitMark(s *server, marks, name, want string) {
	s.t.Helper()
	s.waitFor(func() bool {
		b, _ := os.ReadFile(filepath.Join(marks, name))
		return slices.Contains(strings.Split(string(b), "\n"), want)
	})
}

// waitWatching waits until the engine has begun watching n connections.
func waitWatching(s *server, n int) {
	s.t.Helper()
	s.waitFor(func() bool { return len(s.find(watchingLine)) >= n })
}

// noAppErrors fails the test if the worker logged an error for a
// request: a client that leaves is not the app's fault.
func noAppErrors(t *testing.T, s *server) {
	t.Helper()
	for _, l := range s.lines_() {
		if l.str("level") == "error" {
			t.Errorf("logged an error: %v", l)
		}
	}
}

func TestASGIDisconnectWhileWaiting(t *testing.T) {
	// --body-spill-budget 0: a body over --max-buffered-body streams.
	s, marks := disconnectServer(t, "--max-buffered-body", "65536", "--body-spill-budget", "0")
	watched := 0

	t.Run("before the response, closed", func(t *testing.T) {
		c := dial(t, s.address())
		io.WriteString(c, "POST /wait?a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
		watched++
		waitWatching(s, watched)
		c.Close()
		waitMark(s, marks, "got", "a http.disconnect after 3 bytes")
		// Nothing was answered: the access log says 499, as nginx's does.
		s.waitFor(func() bool { return strings.Contains(s.output(), `"POST /wait?a HTTP/1.1" 499 0`) })
	})

	t.Run("head and part of the body sent, reset", func(t *testing.T) {
		c := dial(t, s.address())
		io.WriteString(c, "GET /started?b HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			if line == "partial\n" {
				break
			}
		}
		watched++
		waitWatching(s, watched)
		c.(*net.TCPConn).SetLinger(0) // close with a reset
		c.Close()
		waitMark(s, marks, "got", "b http.disconnect")
		waitMark(s, marks, "got", "b send raised ClientDisconnected")
	})

	t.Run("after a streamed upload", func(t *testing.T) {
		body := strings.Repeat("u", 256<<10) // over --max-buffered-body
		c := dial(t, s.address())
		io.WriteString(c, "POST /wait?c HTTP/1.1\r\nHost: x\r\nContent-Length: 262144\r\n\r\n"+body)
		watched++
		waitWatching(s, watched)
		c.Close()
		waitMark(s, marks, "got", "c http.disconnect after 262144 bytes")
		if streamedBodies(s) == 0 {
			t.Errorf("the body was not streamed: the test does not test what it says")
		}
	})

	t.Run("mid-way through a streamed upload, closed", func(t *testing.T) {
		// The app hears http.disconnect in its body loop and returns
		// without a response: nobody to answer, no error (Uvicorn's rule).
		c := dial(t, s.address())
		io.WriteString(c, "POST /wait?d HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"+strings.Repeat("u", 200<<10))
		s.waitFor(func() bool { return streamedBodies(s) >= 2 })
		c.Close()
		s.waitFor(func() bool { return strings.Contains(s.output(), `"POST /wait?d HTTP/1.1" 499 0`) })
	})

	t.Run("a pipelined request arrives during the watch", func(t *testing.T) {
		c := dial(t, s.address())
		io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
		watched++
		waitWatching(s, watched)
		io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		if code, body := s.get("/release"); code != 200 || body != "released" {
			t.Fatalf("/release: %d %q", code, body)
		}
		br := bufio.NewReader(c)
		for _, want := range []string{"held; receive gave nothing", "hello"} {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("reading the response that should say %q: %v", want, err)
			}
			b, err := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(b) != want || err != nil {
				t.Errorf("pipelined responses: %d %q %v; want 200 %q", resp.StatusCode, b, err, want)
			}
		}
	})

	if code, body := s.get("/hello"); code != 200 || body != "hello" {
		t.Errorf("after the disconnects: %d %q", code, body)
	}
	noAppErrors(t, s)
}

// TestASGIDisconnectWhileWaitingTLSAndUwsgi: the same watch through TLS
// (the client's close_notify, then its FIN) and over the uwsgi protocol
// (the front end closes its connection when its client aborts: a raw
// packet, and nginx's uwsgi_pass).
func TestASGIDisconnectWhileWaitingTLSAndUwsgi(t *testing.T) {
	t.Run("TLS", func(t *testing.T) {
		flags, ca := tlsServerFlags(t)
		s, marks := disconnectServer(t, flags...)
		c, err := tls.Dial("tcp", s.address(), ca.clientConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /wait?t HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
		waitWatching(s, 1)
		c.Close()
		waitMark(s, marks, "got", "t http.disconnect after 5 bytes")
		noAppErrors(t, s)
	})
	t.Run("uwsgi", func(t *testing.T) {
		s, marks := disconnectServer(t, "--protocol", "uwsgi")
		c := dial(t, s.address())
		c.Write(append(uwsgiPacket(0, "REQUEST_METHOD", "POST", "REQUEST_URI", "/wait?u", "PATH_INFO", "/wait",
			"QUERY_STRING", "u", "CONTENT_LENGTH", "4", "SERVER_PROTOCOL", "HTTP/1.1"), "abcd"...))
		waitWatching(s, 1)
		c.Close()
		waitMark(s, marks, "got", "u http.disconnect after 4 bytes")
		noAppErrors(t, s)
	})
	t.Run("uwsgi behind nginx", func(t *testing.T) {
		s, marks := disconnectServer(t, "--protocol", "uwsgi")
		n := startNginx(t, renderExample(t, "examples/nginx/gowsgi-uwsgi.conf", map[string]string{
			"server 127.0.0.1:8001": "server " + s.address(),
		}))
		c := dial(t, "127.0.0.1:"+strconv.Itoa(n.port))
		io.WriteString(c, "POST /wait?n HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nnginx!")
		waitWatching(s, 1)
		c.Close() // nginx closes its uwsgi connection (uwsgi_ignore_client_abort off)
		waitMark(s, marks, "got", "n http.disconnect after 6 bytes")
		noAppErrors(t, s)
	})
}

// TestASGIDisconnectStarletteStream: Starlette's StreamingResponse
// (Debian's python3-starlette) awaits receive() beside its generator
// (listen_for_disconnect); a generator that has nothing to send for now
// is cancelled as soon as its client goes, not at a next send that
// never comes.
func TestASGIDisconnectStarletteStream(t *testing.T) {
	marks := t.TempDir()
	s := start(t, serverOpts{args: []string{"-k", "asgi", "--log-level", "debug", "starlette_events:app"},
		env: []string{"ASGI_MARKS=" + marks}, binary: debianBinary(t)})
	for i, tag := range []string{"first", "second"} {
		c := dial(t, s.address())
		io.WriteString(c, "GET /events?tag="+tag+" HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the stream: %v", err)
			}
			if line == "data: event 0\n" {
				break
			}
		}
		waitWatching(s, i+1)
		waitMark(s, marks, "events", tag+" started")
		c.Close()
		waitMark(s, marks, "events", tag+" stopped after 1")
	}
	noAppErrors(t, s)
}
