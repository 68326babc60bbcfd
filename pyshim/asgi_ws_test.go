package pyshim

// The ASGI WebSocket cycle, driven from Go as the worker drives it
// (asgi_test.go has the loop and the helpers).

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestASGIWebSocket(t *testing.T) {
	l := startLoop(t, "ws_echo", "off")
	s := httpScope("/ws", "")
	s.Scheme = "ws"
	s.Headers = [][2][]byte{{[]byte("Sec-WebSocket-Protocol"), []byte("chat, superchat")}}
	c, err := l.OpenWebSocket(s, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var pending []Sent
	next := func() Sent {
		t.Helper()
		for {
			for len(pending) > 0 {
				ev := pending[0]
				pending = pending[1:]
				if ev.Kind != SentWant {
					return ev
				}
			}
			select {
			case <-c.Ready():
			case <-time.After(10 * time.Second):
				t.Fatal("no event within 10s")
			}
			pending = c.Take(pending)
		}
	}
	if ev := next(); ev.Kind != SentWSAccept || ev.Subprotocol != "chat" || string(ev.Headers[0][1]) != "yes" {
		t.Fatalf("first event %+v; want an accept of chat", ev)
	}
	c.Message(true, []byte("héllo"))
	if ev := next(); ev.Kind != SentWSSend || !ev.Text || string(ev.Body) != "HÉLLO" {
		t.Fatalf("text echo %+v", ev)
	}
	c.Message(false, []byte{1, 2, 3})
	if ev := next(); ev.Kind != SentWSSend || ev.Text || string(ev.Body) != "\x03\x02\x01" {
		t.Fatalf("binary echo %+v", ev)
	}
	c.Message(true, []byte("close"))
	if ev := next(); ev.Kind != SentWSClose || ev.Status != 4000 || ev.Reason != "asked" {
		t.Fatalf("close %+v", ev)
	}
	if ev := next(); ev.Kind != SentDone || ev.Traceback != "" {
		t.Fatalf("done %+v", ev)
	}

	// The client goes: the app's receive() gets its code.
	c, err = l.OpenWebSocket(s, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Kind != SentWSAccept {
		t.Fatalf("%+v", ev)
	}
	c.Disconnect(1001, "going away")
	if ev := next(); ev.Kind != SentDone || ev.Traceback != "" {
		t.Fatalf("done %+v", ev)
	}
}

func TestASGIWebSocketDenied(t *testing.T) {
	l := startLoop(t, "ws_deny", "off")
	s := httpScope("/ws", "")
	s.Scheme = "ws"
	c, err := l.OpenWebSocket(s, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	r := drive(t, c, nil)
	if r.status != 403 || string(r.body) != "no entry" || r.done.Traceback != "" {
		t.Fatalf("denial: %d %q %+v", r.status, r.body, r.done)
	}
}

// TestASGIConcurrentSendersResume: two tasks of one WebSocket wait in
// send() for room at once (each sent a whole budget); once Go has taken
// what they sent, both resume. Before the fix the second waiter took the
// first's place and the first waited for ever.
func TestASGIConcurrentSendersResume(t *testing.T) {
	l := startLoop(t, "ws_two_senders", "off")
	s := httpScope("/ws", "")
	s.Scheme = "ws"
	c, err := l.OpenWebSocket(s, 100)
	if err != nil {
		t.Fatal(err)
	}
	r := drive(t, c, nil)
	var got []string
	for _, ev := range r.events {
		if ev.Kind == SentWSSend {
			got = append(got, fmt.Sprintf("%d bytes of %q", len(ev.Body), ev.Body[:1]))
		}
	}
	want := []string{`100 bytes of "\x00"`, `100 bytes of "\x01"`, `4 bytes of "d"`}
	if fmt.Sprint(got) != fmt.Sprint(want) || r.done.Traceback != "" {
		t.Fatalf("sent %q, done %+v; want %q and no traceback", got, r.done, want)
	}
}

// TestASGIWebSocketProtocolErrors: a close code no endpoint may send, a
// close reason too long for a Close frame (the connection was dropped
// without one, the client saw 1006 and nothing was logged), or a denial
// status that is not three digits, raises in the app's
// send() (its traceback logged), instead of going to C cut to 32 bits
// (2**32+1000 was sent as 1000).
func TestASGIWebSocketProtocolErrors(t *testing.T) {
	l := startLoop(t, "ws_broken", "off")
	for _, tc := range []struct{ how, tb string }{
		{"close-code", "websocket.close code must be 1000-1003, 1007-1014 or 3000-4999, not 4294968296"},
		{"deny-status", "websocket.http.response.start status must be an int of three digits, not 4294967699"},
		// 124 UTF-8 bytes: with the code, over a control frame's 125
		{"close-reason", "websocket.close reason must be a str of at most 123 bytes in UTF-8, not 124"},
	} {
		t.Run(tc.how, func(t *testing.T) {
			s := httpScope("/ws", "how="+tc.how)
			s.Scheme = "ws"
			c, err := l.OpenWebSocket(s, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			r := drive(t, c, nil)
			for _, ev := range r.events {
				if ev.Kind == SentWSClose || ev.Kind == SentStart {
					t.Errorf("sent %+v", ev)
				}
			}
			if !strings.Contains(r.done.Traceback, tc.tb) {
				t.Fatalf("done %+v; want a traceback with %q", r.done, tc.tb)
			}
		})
	}
}
