package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The ASGI worker's WebSockets (docs/asgi.md): python3-websockets
// clients against FastAPI apps, through bin/gowsgi-debian.

// wsClient runs testdata/ws_client.py (python3-websockets) against s.
func wsClient(t *testing.T, s *server, mode string) *exec.Cmd {
	t.Helper()
	return exec.Command("/usr/bin/python3", filepath.Join(appsDir, "..", "ws_client.py"), mode, "ws://"+s.address())
}

// TestASGIWebSocketChat: two clients of a FastAPI chat see each other's
// messages (permessage-deflate negotiated); binary messages, a 256 KB
// one, and a refusal before accept (403).
func TestASGIWebSocketChat(t *testing.T) {
	s, marks := startFastAPI(t)
	out, err := wsClient(t, s, "chat").CombinedOutput()
	if err != nil {
		t.Fatalf("ws_client.py chat: %v\n%s", err, out)
	}
	var got struct {
		Deflate     string
		AliceSaw    []string `json:"alice saw"`
		BobSaw      []string `json:"bob saw"`
		Reversed    []int
		BigReversed bool `json:"big reversed"`
		Deny        int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := []string{"alice: hello", "bob: hi alice, ünïcode"}
	if fmt.Sprint(got.AliceSaw) != fmt.Sprint(want) || fmt.Sprint(got.BobSaw) != fmt.Sprint(want) {
		t.Errorf("the chat: alice saw %q, bob saw %q; want %q each", got.AliceSaw, got.BobSaw, want)
	}
	if !strings.HasPrefix(got.Deflate, "permessage-deflate") {
		t.Errorf("Sec-WebSocket-Extensions %q; want permessage-deflate", got.Deflate)
	}
	if fmt.Sprint(got.Reversed) != "[3 2 1]" || !got.BigReversed || got.Deny != 403 {
		t.Errorf("binary %v, big %v, denial %d", got.Reversed, got.BigReversed, got.Deny)
	}
	s.waitFor(func() bool {
		b, _ := os.ReadFile(filepath.Join(marks, "ws-closed"))
		return strings.Contains(string(b), "alice 1000") && strings.Contains(string(b), "bob 1000")
	})
	// A handshake RFC 6455 refuses never reaches the app.
	w := dialWire(t, "tcp", s.address())
	resp, _ := w.roundTrip("GET", "GET /chat/eve HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
	if resp.StatusCode != 426 || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Errorf("version 8: %d %v; want 426 with Sec-WebSocket-Version: 13", resp.StatusCode, resp.Header)
	}
}

// stopWithClientOpen starts cmd, a WebSocket client that prints
// "connected" once it is and then a report of how the socket ended,
// sends TERM once it is connected, checks that the master exited 0
// within wait, and returns the report.
func stopWithClientOpen(t *testing.T, s *server, cmd *exec.Cmd, wait time.Duration) string {
	t.Helper()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "connected" {
		t.Fatalf("the client did not connect: %q", lines.Text())
	}
	s.signal(syscall.SIGTERM)
	if !lines.Scan() {
		t.Fatal("the client reported nothing after the stop")
	}
	report := lines.Text()
	if code := s.wait(wait); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	return report
}

// closeCode1001 is the report of a client the server closed with 1001
// (going away).
const closeCode1001 = `{"code": 1001}`

// TestASGIWebSocketGracefulStop: TERM closes an open WebSocket with 1001
// (going away), and the worker exits once its app has ended.
func TestASGIWebSocketGracefulStop(t *testing.T) {
	s, marks := startFastAPI(t)
	if got := stopWithClientOpen(t, s, wsClient(t, s, "stop"), 20*time.Second); got != closeCode1001 {
		t.Fatalf("the client saw %q; want the close code 1001", got)
	}
	if b, _ := os.ReadFile(filepath.Join(marks, "ws-closed")); !strings.Contains(string(b), "carol 1001") {
		t.Errorf("the app saw %q; want carol's disconnect with 1001", b)
	}
}

// TestASGIWebSocketStopKeepsSentMessages: the 1001 Close of a graceful
// stop follows every message whose send() returned in the app: the last
// number a counting app sent is the last its client got.
func TestASGIWebSocketStopKeepsSentMessages(t *testing.T) {
	s, marks := startFastAPI(t)
	report := stopWithClientOpen(t, s, wsClient(t, s, "ticks"), 20*time.Second)
	var got struct{ Code, Last int }
	if err := json.Unmarshal([]byte(report), &got); err != nil {
		t.Fatalf("the client's report %q: %v", report, err)
	}
	b, _ := os.ReadFile(filepath.Join(marks, "ticks"))
	if got.Code != 1001 || fmt.Sprintf("%d\n", got.Last) != string(b) {
		t.Fatalf("the client got close code %d after %d; the app sent up to %q; want 1001 after the app's last",
			got.Code, got.Last, b)
	}
}

// TestASGIWebSocketClientStopsReading: an app sending to a client that
// reads nothing stops in send() once its budget is queued, while the
// event loop serves every other request.
func TestASGIWebSocketClientStopsReading(t *testing.T) {
	s, _ := startFastAPI(t, "--response-buffer", "262144")
	w := dialWire(t, "tcp", s.address())
	w.c.Write([]byte("GET /flood HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	if line, err := w.br.ReadString('\n'); err != nil || line != "HTTP/1.1 101 Switching Protocols\r\n" {
		t.Fatalf("handshake: %q %v", line, err)
	}
	// From now on the client reads nothing. The count of messages sent
	// stops growing (the app waits in send()) while requests are served.
	var last, same int
	s.waitFor(func() bool {
		var n struct{ Sent int }
		getJSON(t, s, "/flood-sent", &n)
		if n.Sent > 0 && n.Sent == last {
			same++
		} else {
			same = 0
		}
		last = n.Sent
		return same >= 3
	})
	if code, _ := s.get("/hello/meanwhile"); code != 200 {
		t.Fatalf("another request while the flood waits: %d", code)
	}
}

// TestASGIWebSocketLimits: a message over --ws-max-size closes with 1009;
// the server pings every --ws-ping-interval and closes a connection that
// answers nothing for --ws-ping-timeout more.
func TestASGIWebSocketLimits(t *testing.T) {
	s, _ := startFastAPI(t, "--ws-max-size", "1000", "--ws-ping-interval", "0.2s", "--ws-ping-timeout", "0.2s")
	out, err := wsClient(t, s, "too-big").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != `{"code": 1009}` {
		t.Fatalf("a message over --ws-max-size: %s %v; want the close code 1009", out, err)
	}

	// A client that never answers: it is pinged, then closed.
	w := dialWire(t, "tcp", s.address())
	w.c.Write([]byte("GET /reverse HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(w.br) // until the server closes
	if err != nil {
		t.Fatalf("the silent client was not closed: %v", err)
	}
	if !bytes.HasPrefix(rest, []byte{0x89, 0x00}) {
		t.Errorf("the server sent % x; want a ping (89 00) first", rest[:min(len(rest), 8)])
	}
	// Then, as Uvicorn's keepalive: Close 1011 "keepalive ping timeout".
	closing := append([]byte{0x88, 24, 0x03, 0xf3}, "keepalive ping timeout"...)
	if !bytes.HasSuffix(rest, closing) {
		t.Errorf("the server sent % x; want it to end with a Close 1011 (% x)", rest, closing)
	}
}
