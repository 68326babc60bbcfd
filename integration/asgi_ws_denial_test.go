package integration

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// A WebSocket app that awaits receive() while it refuses the handshake
// (testdata/apps/asgi_ws_deny_receive.py). Its receive() once crashed
// the worker: the wait, applied during a websocket.http.response (ASGI
// WebSocket spec, "Denial Response" extension), went to the request
// body's feed, which a WebSocket has none of (a nil pointer in
// bodyFeed.want). The client gets the denial whole, the app's receive()
// returns websocket.disconnect with 1006 once the denial is over (as
// Uvicorn answers after a refusal: 0.17.6 after a websocket.close before
// accept, later versions after a denial too), and the same worker goes
// on serving.

// denyProbe asks the paths with python3-websockets and reports, for
// each, the status and the X-Denied-By field of the refusal.
const denyProbe = `
import asyncio, json, sys
import websockets

async def main(base):
    out = {}
    for path in sys.argv[2:]:
        try:
            async with websockets.connect(base + path, open_timeout=20):
                out[path] = "accepted"
        except websockets.exceptions.InvalidStatusCode as e:
            out[path] = "%d %s" % (e.status_code, e.headers.get("X-Denied-By"))
    print(json.dumps(out), flush=True)

asyncio.run(main(sys.argv[1]))
`

func TestASGIWebSocketDenialWhileReceiving(t *testing.T) {
	marks := t.TempDir()
	s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_ws_deny_receive:app"}, env: []string{"ASGI_MARKS=" + marks}})
	_, pid := s.get("/pid")
	if pid == "" {
		t.Fatal("no worker pid")
	}
	handshake := func(path string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	}

	for _, path := range []string{"/during", "/after"} {
		w := dialWire(t, "tcp", s.address())
		w.send(handshake(path))
		resp, body := w.response("GET")
		if resp.StatusCode != 403 || body != "not you\n" || resp.Header.Get("X-Denied-By") != "app" {
			t.Errorf("%s: %d %q %v; want the app's 403 with its body \"not you\\n\" and X-Denied-By: app",
				path, resp.StatusCode, body, resp.Header)
		}
		waitMark(s, marks, "got", path+" websocket.disconnect 1006")
	}

	// A close before accept (a 403 with no body), then receive(). The
	// connection closes after the refusal, as Uvicorn closes it.
	w := dialWire(t, "tcp", s.address())
	w.send(handshake("/close"))
	if resp, _ := w.response("GET"); resp.StatusCode != 403 || !resp.Close {
		t.Errorf("/close: %d (Connection: close %v); want 403 with Connection: close", resp.StatusCode, resp.Close)
	}
	if !w.closed() {
		t.Errorf("/close: the connection stays open after the refusal")
	}
	waitMark(s, marks, "got", "/close websocket.disconnect 1006")

	// A WebSocket client library sees the refusals as such.
	out, err := exec.Command("/usr/bin/python3", "-c", denyProbe, "ws://"+s.address(), "/during", "/after").CombinedOutput()
	if err != nil {
		t.Fatalf("python3-websockets: %v\n%s", err, out)
	}
	var seen map[string]string
	if err := json.Unmarshal(out, &seen); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, path := range []string{"/during", "/after"} {
		if seen[path] != "403 app" {
			t.Errorf("python3-websockets on %s: %q; want a refusal, 403 with X-Denied-By: app", path, seen[path])
		}
	}

	// The worker lives on: the same one serves the next request.
	if _, again := s.get("/pid"); again != pid {
		t.Errorf("worker %s answered after the denials; want %s, the one before", again, pid)
	}
	if n := len(s.find("worker started")); n != 1 {
		t.Errorf("%d workers started; want 1 (none replaced)", n)
	}
	noAppErrors(t, s)
}

// TestASGIWebSocketScopeAdvertisesTheDenialResponse: the WebSocket scope
// names the websocket.http.response extension, which frameworks look for
// before they send a denial (Quart closes with a bare 403 without it,
// Starlette raises): gowsgi served the denial all along, but no framework
// would use it.
func TestASGIWebSocketScopeAdvertisesTheDenialResponse(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_ws_ext:app"}})
	w := dialWire(t, "tcp", s.address())
	w.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if resp, body := w.response("GET"); resp.StatusCode != 401 || body != "login first\n" {
		t.Fatalf("%d %q; want the app's denial, 401 \"login first\\n\"", resp.StatusCode, body)
	}
}
