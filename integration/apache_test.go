package integration

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestApacheProxyHTTP runs examples/apache/gowsgi-http.conf in real
// Apache (mod_proxy_http) in front of gowsgi.
func TestApacheProxyHTTP(t *testing.T) {
	s := start(t, serverOpts{args: []string{"deploy:app"}})
	h := startApache(t, renderExample(t, "examples/apache/gowsgi-http.conf", map[string]string{
		"http://127.0.0.1:8000/": "http://" + s.addr + "/",
	}))
	t.Run("get", func(t *testing.T) {
		env := getEnviron(t, http.DefaultClient, h.url("/environ?q=a%20b"), http.Header{"X-Forwarded-For": {"203.0.113.7"}})
		checkEnviron(t, env, map[string]string{
			"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/environ", "QUERY_STRING": "q=a%20b",
			"HTTP_HOST":              "127.0.0.1:" + strconv.Itoa(h.port),
			"HTTP_X_FORWARDED_FOR":   "203.0.113.7, 127.0.0.1",
			"HTTP_X_FORWARDED_PROTO": "http", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1",
		})
	})
	t.Run("upload 10 MiB", func(t *testing.T) { checkUpload(t, h.url("/upload"), 10<<20) })
	t.Run("streaming response", func(t *testing.T) { checkStreaming(t, h.url(streamPath)) })
}

// TestApacheProxyWebSocket: the same example file tunnels an ASGI app's
// WebSocket (upgrade=websocket): the handshake, text and binary messages
// both ways, and the close.
func TestApacheProxyWebSocket(t *testing.T) {
	t.Setenv("ASGI_MARKS", t.TempDir())
	s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_ws_echo:app"}})
	h := startApache(t, renderExample(t, "examples/apache/gowsgi-http.conf", map[string]string{
		"http://127.0.0.1:8000/": "http://" + s.addr + "/",
	}))
	c, br := wsHandshake(t, "127.0.0.1:"+strconv.Itoa(h.port), "/chat?apache")
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var scope map[string]any
	if op, b := readServerFrame(t, br); op != 0x1 || json.Unmarshal(b, &scope) != nil {
		t.Fatalf("first message: opcode %#x %q; want the scope as text", op, b)
	}
	if scope["type"] != "websocket" || scope["path"] != "/chat" || scope["query_string"] != "apache" {
		t.Errorf("the scope through Apache: %v", scope)
	}
	for _, m := range []struct {
		op      byte
		payload string
	}{{0x1, "hello through Apache"}, {0x2, "\x00\x01\x02"}} {
		c.Write(maskedFrame(m.op, []byte(m.payload)))
		if op, b := readServerFrame(t, br); op != m.op || string(b) != m.payload {
			t.Errorf("echo of %q: opcode %#x %q", m.payload, op, b)
		}
	}
	c.Write(maskedFrame(0x1, []byte("close 4000 done")))
	if op, b := readServerFrame(t, br); op != 0x8 || len(b) < 2 || int(b[0])<<8|int(b[1]) != 4000 {
		t.Errorf("the app's close: opcode %#x %q; want a close with 4000", op, b)
	}
}
