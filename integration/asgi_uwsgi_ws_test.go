package integration

import (
	"bufio"
	"context"
	le "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// WebSockets of the ASGI worker over --protocol uwsgi (docs/asgi.md):
// nginx's uwsgi_pass tunnels a 101 and the frames after it, as its
// proxy_pass does, with nothing more than examples/nginx/gowsgi-uwsgi.conf
// (uwsgi_params passes the handshake's fields as HTTP_* vars).

// startWSUwsgi runs asgi_ws_echo.py behind --protocol uwsgi on TCP and a
// unix socket, and returns the server, the socket and the marks dir.
func startWSUwsgi(t *testing.T, args ...string) (*server, string, string) {
	t.Helper()
	marks := t.TempDir()
	sock := filepath.Join(t.TempDir(), "gowsgi.sock")
	s := start(t, serverOpts{
		args: append([]string{"-k", "asgi", "--protocol", "uwsgi", "-b", "unix:" + sock}, append(args, "asgi_ws_echo:app")...),
		env:  []string{"ASGI_MARKS=" + marks},
	})
	return s, sock, marks
}

// nginxForUwsgi starts nginx with the uwsgi example in front of upstream.
func nginxForUwsgi(t *testing.T, upstream string) *nginxServer {
	t.Helper()
	return startNginx(t, renderExample(t, "examples/nginx/gowsgi-uwsgi.conf", map[string]string{
		"server 127.0.0.1:8001": "server " + upstream,
	}))
}

// wsUwsgiClient runs testdata/ws_uwsgi_client.py (python3-websockets)
// against nginx, killed if it runs past a minute.
func wsUwsgiClient(t *testing.T, n *nginxServer, mode string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, "/usr/bin/python3", filepath.Join(appsDir, "..", "ws_uwsgi_client.py"), mode,
		fmt.Sprintf("ws://127.0.0.1:%d", n.port))
}

// TestASGIUwsgiWebSocketBehindNginx: python3-websockets through nginx's
// uwsgi_pass, over TCP and a unix socket: the websocket scope from the
// packet, text, binary, big and fragmented messages echoed, a ping
// answered, permessage-deflate negotiated end to end, the close
// handshake begun by either side, a message over --ws-max-size (1009),
// and the two denials (403, and websocket.http.response's 401).
func TestASGIUwsgiWebSocketBehindNginx(t *testing.T) {
	for _, transport := range []string{"tcp", "unix"} {
		t.Run(transport, func(t *testing.T) {
			s, sock, marks := startWSUwsgi(t, "--ws-max-size", "262144")
			upstream := s.addr
			if transport == "unix" {
				upstream = "unix:" + sock
			}
			n := nginxForUwsgi(t, upstream)
			out, err := wsUwsgiClient(t, n, "echo").CombinedOutput()
			if err != nil {
				t.Fatalf("ws_uwsgi_client.py echo: %v\n%s\nnginx:\n%s", err, out, n.logs())
			}
			var got struct {
				Scope                asgiEcho
				Offered              []string
				Subprotocol, Deflate string
				Text                 string
				Binary, Big, Pong    bool
				Fragmented           string
				AppClose             []any `json:"app close"`
				ClientClose          int   `json:"client close"`
				TooBig               int   `json:"too big"`
				Deny                 int   `json:"/deny"`
				HTTPDeny             int   `json:"/http-deny"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			e := got.Scope
			e.check(t, asgiEcho{Type: "websocket", HTTPVersion: "1.1", Scheme: "ws",
				Path: "/echo", RawPath: "/echo", Query: "name=a", RootPath: ""})
			if fmt.Sprint(e.headerValues("upgrade"), e.headerValues("sec-websocket-version")) != "[websocket] [13]" {
				t.Errorf("the handshake's headers in the scope: %v", e.Headers)
			}
			if len(e.Client) != 2 || e.Client[0] != "127.0.0.1" || len(e.Server) != 2 || e.Server[1] != float64(n.port) {
				t.Errorf("client %v, server %v; want nginx's client and nginx's port %d", e.Client, e.Server, n.port)
			}
			if fmt.Sprint(got.Offered) != "[chat other]" || got.Subprotocol != "chat" {
				t.Errorf("scope's subprotocols %q, %q chosen; want chat and other, chat", got.Offered, got.Subprotocol)
			}
			if !strings.HasPrefix(got.Deflate, "permessage-deflate") {
				t.Errorf("Sec-WebSocket-Extensions %q; want permessage-deflate", got.Deflate)
			}
			if got.Text != "héllo ✓" || !got.Binary || !got.Big || got.Fragmented != "fragmented" || !got.Pong {
				t.Errorf("echoes: text %q, binary %v, big %v, fragmented %q, pong %v", got.Text, got.Binary, got.Big, got.Fragmented, got.Pong)
			}
			if fmt.Sprint(got.AppClose) != "[4001 bye]" || got.ClientClose != 1000 {
				t.Errorf("the app's close came as %v, the client's was answered with %d; want [4001 bye] and 1000",
					got.AppClose, got.ClientClose)
			}
			if got.TooBig != 1009 || got.Deny != 403 || got.HTTPDeny != 401 {
				t.Errorf("too big: %d, /deny: %d, /http-deny: %d; want 1009, 403, 401", got.TooBig, got.Deny, got.HTTPDeny)
			}
			s.waitFor(func() bool {
				b, _ := os.ReadFile(filepath.Join(marks, "ws-closed"))
				return strings.Contains(string(b), "name=a closed 4001\n") && strings.Contains(string(b), "name=b 1000\n") &&
					strings.Contains(string(b), "name=c 1009\n")
			})
		})
	}
}

// TestASGIUwsgiWebSocketGracefulStop: TERM closes a WebSocket that
// nginx tunnels with 1001 (going away), and the master exits once the
// app has ended.
func TestASGIUwsgiWebSocketGracefulStop(t *testing.T) {
	s, _, marks := startWSUwsgi(t)
	n := nginxForUwsgi(t, s.addr)
	cmd := wsUwsgiClient(t, n, "hold")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "connected" {
		t.Fatalf("the client did not connect: %q\nnginx:\n%s", lines.Text(), n.logs())
	}
	s.signal(syscall.SIGTERM)
	if !lines.Scan() || lines.Text() != `{"code": 1001}` {
		t.Fatalf("the client saw %q; want the close code 1001", lines.Text())
	}
	if code := s.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if b, _ := os.ReadFile(filepath.Join(marks, "ws-closed")); !strings.Contains(string(b), "name=hold 1001\n") {
		t.Errorf("the app saw %q; want its disconnect with 1001", b)
	}
}

// wsHandshakeVars are the vars nginx's uwsgi_params send for a
// WebSocket handshake to /echo?name=raw.
var wsHandshakeVars = []string{"REQUEST_METHOD", "GET", "REQUEST_URI", "/echo?name=raw", "PATH_INFO", "/echo",
	"QUERY_STRING", "name=raw", "SERVER_PROTOCOL", "HTTP/1.1", "REMOTE_ADDR", "192.0.2.7", "REMOTE_PORT", "5555",
	"SERVER_NAME", "example.org", "SERVER_PORT", "443", "HTTP_HOST", "example.org",
	"HTTP_UPGRADE", "websocket", "HTTP_CONNECTION", "Upgrade", "HTTP_SEC_WEBSOCKET_KEY", "dGhlIHNhbXBsZSBub25jZQ==",
	"HTTP_SEC_WEBSOCKET_VERSION", "13"}

// TestASGIUwsgiWebSocketRawPackets: the server side on its own, with
// packets and frames written by hand: the 101 and RFC 6455's accept key,
// a wss scope from HTTPS=on, an echo, the server's pings to a silent
// client (--ws-ping-interval), the close handshake; handshakes RFC 6455
// refuses are answered as over HTTP.
func TestASGIUwsgiWebSocketRawPackets(t *testing.T) {
	s, _, marks := startWSUwsgi(t, "--ws-ping-interval", "0.3s", "--ws-ping-timeout", "30s")
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	c.Write(uwsgiPacket(0, append(wsHandshakeVars, "HTTPS", "on")...))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" ||
		resp.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	op, scope := readServerFrame(t, br)
	if op != 0x1 {
		t.Fatalf("first frame opcode %#x; want the scope as text", op)
	}
	e := decodeEcho(t, string(scope))
	e.check(t, asgiEcho{Type: "websocket", HTTPVersion: "1.1", Scheme: "wss", Path: "/echo", RawPath: "/echo",
		Query: "name=raw", RootPath: ""})
	if fmt.Sprint(e.Client, e.Server) != "[192.0.2.7 5555] [example.org 443]" {
		t.Errorf("client %v, server %v", e.Client, e.Server)
	}
	// Silent, the client is pinged; it answers and talks.
	if op, payload := readServerFrame(t, br); op != 0x9 || len(payload) != 0 {
		t.Fatalf("while the client was silent: opcode %#x % x; want an empty ping", op, payload)
	}
	c.Write(clientFrame(0xA, nil))
	c.Write(clientFrame(0x1, []byte("hi over uwsgi")))
	if op, payload := readServerFrame(t, br, 0x9); op != 0x1 || string(payload) != "hi over uwsgi" {
		t.Fatalf("echo: opcode %#x %q", op, payload)
	}
	// The client closes; the server answers with the same code and ends.
	c.Write(clientFrame(0x8, le.BigEndian.AppendUint16(nil, 1000)))
	if op, payload := readServerFrame(t, br, 0x9); op != 0x8 || len(payload) < 2 || le.BigEndian.Uint16(payload) != 1000 {
		t.Fatalf("close answered with opcode %#x % x; want a close with 1000", op, payload)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
		t.Fatalf("after the close: % x %v; want the end of the connection", rest, err)
	}
	s.waitFor(func() bool {
		b, _ := os.ReadFile(filepath.Join(marks, "ws-closed"))
		return strings.Contains(string(b), "name=raw 1000\n")
	})

	for _, tc := range []struct {
		name   string
		vars   []string
		status int
	}{
		{"version 8", replaceVar(wsHandshakeVars, "HTTP_SEC_WEBSOCKET_VERSION", "8"), 426},
		{"HTTP/1.0", replaceVar(wsHandshakeVars, "SERVER_PROTOCOL", "HTTP/1.0"), 400},
		{"POST", replaceVar(wsHandshakeVars, "REQUEST_METHOD", "POST"), 400},
		{"no key", replaceVar(wsHandshakeVars, "HTTP_SEC_WEBSOCKET_KEY", "short"), 400},
	} {
		if status, body := uwsgiRequest(t, "tcp", s.addr, uwsgiPacket(0, tc.vars...)); status != tc.status {
			t.Errorf("%s: %d %q; want %d", tc.name, status, body, tc.status)
		}
	}
}

// replaceVar is a copy of kv with key's value replaced.
func replaceVar(kv []string, key, value string) []string {
	out := append([]string(nil), kv...)
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == key {
			out[i+1] = value
		}
	}
	return out
}

// clientFrame is one final, masked client frame (RFC 6455 §5.2, §5.3)
// of fewer than 126 payload bytes.
func clientFrame(op byte, payload []byte) []byte {
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	f := append([]byte{0x80 | op, 0x80 | byte(len(payload))}, mask[:]...)
	for i, b := range payload {
		f = append(f, b^mask[i%4])
	}
	return f
}

// readServerFrame reads the next final, unmasked server frame whose
// opcode is not among skip, and returns its opcode and payload.
func readServerFrame(t *testing.T, br *bufio.Reader, skip ...byte) (byte, []byte) {
	t.Helper()
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("reading a frame: %v", err)
		}
		if h[0]&0xF0 != 0x80 || h[1]&0x80 != 0 {
			t.Fatalf("frame head % x; want FIN, no RSV bits, unmasked", h)
		}
		n := uint64(h[1] & 0x7F)
		switch n {
		case 126:
			var ext [2]byte
			io.ReadFull(br, ext[:])
			n = uint64(le.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			io.ReadFull(br, ext[:])
			n = le.BigEndian.Uint64(ext[:])
		}
		if n > 1<<20 {
			t.Fatalf("a frame of %d bytes", n)
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			t.Fatalf("reading a frame's %d bytes: %v", n, err)
		}
		op := h[0] & 0x0F
		if !slices.Contains(skip, op) {
			return op, payload
		}
	}
}

// TestASGIWebSocketSendsWithAccept (over HTTP): what an app sends right
// after websocket.accept, taken in the same batch as the accept, goes
// out first (it was once dropped), and a client's Close is answered
// with its code.
func TestASGIWebSocketSendsWithAccept(t *testing.T) {
	marks := t.TempDir()
	s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_ws_echo:app"}, env: []string{"ASGI_MARKS=" + marks}})
	w := dialWire(t, "tcp", s.addr)
	w.c.Write([]byte("GET /echo?name=http HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	if op, scope := readServerFrame(t, w.br); op != 0x1 || decodeEcho(t, string(scope)).Type != "websocket" {
		t.Fatalf("first frame: opcode %#x %q; want the scope the app sent with its accept", op, scope)
	}
	w.c.Write(clientFrame(0x8, le.BigEndian.AppendUint16(nil, 4000)))
	if op, payload := readServerFrame(t, w.br); op != 0x8 || len(payload) < 2 || le.BigEndian.Uint16(payload) != 4000 {
		t.Fatalf("close answered with opcode %#x % x; want a close with 4000", op, payload)
	}
}

// TestASGIUwsgiWebSocketNginxReadTimeout: what docs/asgi.md says of
// uwsgi_read_timeout (here 2 s): nginx closes a tunnel gowsgi is silent
// on for that long, and the server's pings every --ws-ping-interval keep
// a quiet WebSocket open past it.
func TestASGIUwsgiWebSocketNginxReadTimeout(t *testing.T) {
	site := func(upstream string) string {
		return renderExample(t, "examples/nginx/gowsgi-uwsgi.conf", map[string]string{
			"server 127.0.0.1:8001": "server " + upstream,
			"include uwsgi_params;": "include uwsgi_params;\n        uwsgi_read_timeout 2s;",
		})
	}
	t.Run("pinged", func(t *testing.T) {
		s, _, _ := startWSUwsgi(t, "--ws-ping-interval", "0.2s", "--ws-ping-timeout", "30s")
		n := startNginx(t, site(s.addr))
		c, br := wsThroughNginx(t, n, "pinged")
		for range 15 { // 15 pings 0.2 s apart: longer than uwsgi_read_timeout
			if op, _ := readServerFrame(t, br); op != 0x9 {
				t.Fatalf("opcode %#x; want a ping", op)
			}
			c.Write(clientFrame(0xA, nil))
		}
		c.Write(clientFrame(0x1, []byte("still here")))
		if op, payload := readServerFrame(t, br, 0x9); op != 0x1 || string(payload) != "still here" {
			t.Fatalf("after the pings: opcode %#x %q; want the echo", op, payload)
		}
	})
	t.Run("silent", func(t *testing.T) {
		s, _, marks := startWSUwsgi(t, "--ws-ping-interval", "0")
		n := startNginx(t, site(s.addr))
		_, br := wsThroughNginx(t, n, "silent")
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Fatalf("% x %v; want nginx to close the silent tunnel", rest, err)
		}
		if !strings.Contains(n.logs(), "upstream timed out") {
			t.Errorf("nginx closed the tunnel, but not for uwsgi_read_timeout:\n%s", n.logs())
		}
		s.waitFor(func() bool {
			b, _ := os.ReadFile(filepath.Join(marks, "ws-closed"))
			return strings.Contains(string(b), "name=silent 1006\n")
		})
	})
}

// wsThroughNginx opens a WebSocket to /echo?name=NAME through nginx and
// reads the scope the app sends first.
func wsThroughNginx(t *testing.T, n *nginxServer, name string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET /echo?name=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", name)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake through nginx: %v %v\n%s", resp, err, n.logs())
	}
	if op, _ := readServerFrame(t, br); op != 0x1 {
		t.Fatalf("first frame opcode %#x; want the scope", op)
	}
	return c, br
}
