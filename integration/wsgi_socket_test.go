package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// environ["gunicorn.socket"] (engine/takeover.go): a Flask app serving
// WebSockets as Flask-Sock does under Gunicorn's threaded worker, on the
// socket itself (testdata/apps/wsgisocket.py), with python3-websockets
// as the client; through bin/gowsgi-debian, which has Flask and wsproto.

func startSocketApp(t *testing.T, args ...string) (*server, string) {
	t.Helper()
	marks := t.TempDir()
	s := start(t, serverOpts{
		args:   append(args[:len(args):len(args)], "wsgisocket:app"),
		env:    []string{"MARKS=" + marks},
		binary: debianBinary(t),
	})
	return s, marks
}

// socketClient runs testdata/wsgi_socket_client.py against addr.
func socketClient(addr string, args ...string) *exec.Cmd {
	args = append([]string{filepath.Join(appsDir, "..", "wsgi_socket_client.py")}, args...)
	return exec.Command("/usr/bin/python3", append(args, "ws://"+addr)...)
}

const askWS = "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// A WebSocket session on the offered socket: text, binary, a 300,000
// character message, a ping, and the app's Close; plain requests are not
// offered the socket, and a request that asks for a WebSocket but is
// answered normally keeps its connection.
func TestWSGISocketWebSocket(t *testing.T) {
	s, marks := startSocketApp(t, "--threads", "4", "--access-logfile", "-")
	workers := fmt.Sprint(s.workerPIDs())
	out, err := socketClient(s.address(), "echo").CombinedOutput()
	if err != nil {
		t.Fatalf("wsgi_socket_client.py echo: %v\n%s", err, out)
	}
	var got struct {
		Echo      string
		Reversed  []int
		Big, Pong bool
		Code      int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Echo != "echo: hello" || fmt.Sprint(got.Reversed) != "[3 2 1]" || !got.Big || !got.Pong || got.Code != 1000 {
		t.Errorf("the session: %+v", got)
	}
	s.waitFor(func() bool {
		b, _ := os.ReadFile(filepath.Join(marks, "ended"))
		return string(b) == "close 1000"
	})
	if code, body := s.get("/plain"); code != 200 || body != "socket offered: False" {
		t.Errorf("a plain request: %d %q", code, body)
	}
	w := dialWire(t, "tcp", s.address())
	if resp, body := w.roundTrip("GET", "GET /ws-refuse HTTP/1.1\r\n"+askWS); resp.StatusCode != 426 || body != "no WebSocket here" {
		t.Errorf("an upgrade answered normally: %d %q", resp.StatusCode, body)
	}
	if resp, body := w.roundTrip("GET", "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 || body != "socket offered: False" {
		t.Errorf("the next request on that connection: %d %q", resp.StatusCode, body)
	}
	if now := fmt.Sprint(s.workerPIDs()); now != workers {
		t.Errorf("workers %s, then %s", workers, now)
	}
	// The session's access line says 101: the switch the app made.
	s.waitFor(func() bool { return strings.Contains(s.output(), `"GET /ws HTTP/1.1" 101 `) })
}

// Behind nginx's uwsgi_pass, which tunnels the connection after the
// app's 101 as proxy_pass does.
func TestWSGISocketBehindNginxUwsgi(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "gowsgi.sock")
	startSocketApp(t, "--protocol", "uwsgi", "-b", "unix:"+sock)
	n := nginxForUwsgi(t, "unix:"+sock)
	out, err := socketClient(fmt.Sprintf("127.0.0.1:%d", n.port), "echo").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `{"echo": "echo: hello", "reversed": [3, 2, 1], "big": true, "pong": true, "code": 1000}`) {
		t.Fatalf("through nginx: %v\n%s\n%s", err, out, n.logs())
	}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/plain", n.port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "socket offered: False" {
		t.Errorf("a plain request through nginx: %d %q", resp.StatusCode, body)
	}
}

// An app that raises after it used the socket: its traceback is logged,
// nothing is written after its own bytes (no 500), and the worker lives.
func TestWSGISocketErrorAfterTakeover(t *testing.T) {
	s, _ := startSocketApp(t)
	w := dialWire(t, "tcp", s.address())
	w.send("GET /ws-raise HTTP/1.1\r\n" + askWS)
	if line, err := w.br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 101 ") {
		t.Fatalf("handshake: %q %v", line, err)
	}
	for line := ""; line != "\r\n"; {
		line, _ = w.br.ReadString('\n')
	}
	w.c.Write(clientFrame(0x1, []byte("hello")))
	if op, p := readServerFrame(t, w.br); op != 0x1 || string(p) != "echo: hello" {
		t.Fatalf("echo: %x %q", op, p)
	}
	w.c.Write(clientFrame(0x8, []byte{0x03, 0xe8}))
	if op, p := readServerFrame(t, w.br); op != 0x8 || string(p) != "\x03\xe8" {
		t.Fatalf("the answer to Close: %x %q", op, p)
	}
	if rest := w.rest(); rest != "" {
		t.Fatalf("after the app's Close the client got %q", rest)
	}
	s.waitFor(func() bool {
		return len(s.linesWhere(func(m string) bool {
			return strings.HasPrefix(m, "error handling request:\n") && strings.Contains(m, "RuntimeError: after the session")
		})) == 1
	})
	if code, _ := s.get("/plain"); code != 200 {
		t.Errorf("after the error: %d", code)
	}
}

// A session is not a stuck call: it outlives --timeout.
func TestWSGISocketSessionOutlivesTimeout(t *testing.T) {
	s, _ := startSocketApp(t, "--timeout", "1")
	workers := fmt.Sprint(s.workerPIDs())
	out, err := socketClient(s.address(), "linger", "2.5").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `{"echoes": ["echo: one", "echo: two"]}`) {
		t.Fatalf("a session of 2.5 s with --timeout 1: %v\n%s", err, out)
	}
	if now := fmt.Sprint(s.workerPIDs()); now != workers || len(s.find("worker timeout")) > 0 {
		t.Errorf("workers %s, then %s; timeouts logged: %v", workers, now, s.find("worker timeout"))
	}
}

// A graceful stop ends an open session at once: the app's reader sees
// the client gone, the app closes with 1001 (going away), and the master
// exits long before --graceful-timeout.
func TestWSGISocketGracefulStop(t *testing.T) {
	s, marks := startSocketApp(t, "--graceful-timeout", "120")
	if got := stopWithClientOpen(t, s, socketClient(s.address(), "hold"), 60*time.Second); got != closeCode1001 { // asgi_websocket_test.go
		t.Fatalf("the client saw %q; want the close code 1001", got)
	}
	if b, _ := os.ReadFile(filepath.Join(marks, "ended")); string(b) != "eof" {
		t.Errorf("the session ended with %q; want the reader's eof", b)
	}
}

// A request that asked for a WebSocket but was answered without the
// socket is no session: the rest of its response is timed by --timeout.
func TestWSGISocketNotTakenIsTimed(t *testing.T) {
	s, _ := startSocketApp(t, "--timeout", "1")
	w := dialWire(t, "tcp", s.address())
	w.send("GET /ws-stream?sleep=30 HTTP/1.1\r\n" + askWS)
	if line, err := w.br.ReadString('\n'); err != nil || line != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("status line %q (%v)", line, err)
	}
	s.waitFor(func() bool { return len(s.loggedContaining("worker timeout")) > 0 })
}
