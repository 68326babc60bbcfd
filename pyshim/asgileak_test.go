package pyshim

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestASGINoLeak runs many requests of every kind through one loop and
// checks that the number of allocated Python memory blocks stays flat.
func TestASGINoLeak(t *testing.T) {
	l := startLoop(t, "mix", "off")
	ws := httpScope("/ws", "")
	ws.Scheme = "ws"
	round := func() {
		request(t, l, httpScope("/hello", ""))
		request(t, l, httpScope("/stream", "n=3&size=100"))
		request(t, l, httpScope("/broken", "how=raise-after"))
		request(t, l, httpScope("/broken", "how=bad-header"))
		c, err := l.OpenHTTP(httpScope("/echo", ""), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		drive(t, c, func() { c.Body([]byte("some body"), false) })
		c, err = l.OpenWebSocket(ws, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		sent := false
		drive(t, c, func() {
			if !sent {
				c.Message(true, []byte("close"))
				sent = true
			}
		})
		c, err = l.OpenWebSocket(httpScope("/deny", ""), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		drive(t, c, nil)
	}
	blocks := func() int { return atoi(t, string(request(t, l, httpScope("/objects", "")).body)) }
	for range 50 {
		round()
	}
	before := blocks()
	const n = 1000
	for range n {
		round()
	}
	// A leak of one block in any one kind of request would add n.
	if after := blocks(); after > before+n/2 {
		t.Fatalf("allocated Python blocks grew from %d to %d over %d rounds", before, after, n)
	}
}

// TestASGIBigBodiesReleased: a long bytes body goes to Go by reference
// (asgiout.c) and its reference is dropped once Go has copied it; a
// bytearray is copied when sent, so changing it afterwards changes
// nothing.
func TestASGIBigBodiesReleased(t *testing.T) {
	l := startLoop(t, "mix", "off")
	big := make([]byte, 0, 3<<16+8192)
	for range 3 {
		for i := range 1 << 16 {
			big = append(big, byte(i))
		}
	}
	big = append(big, bytes.Repeat([]byte("y"), 8192)...)
	refs := func() int { return atoi(t, string(request(t, l, httpScope("/bigrefs", "")).body)) }
	before := refs()
	const n = 200
	for range n {
		if r := request(t, l, httpScope("/big", "")); !bytes.Equal(r.body, big) {
			t.Fatalf("body of %d bytes differs from what the app sent (%d)", len(r.body), len(big))
		}
	}
	// The last requests' references may wait for the next flush or two.
	if after := refs(); after > before+3*3 {
		t.Fatalf("references to the body sent grew from %d to %d over %d requests", before, after, n)
	}
}

// TestASGIBigBodiesReleasedWhenIdle: the references to the long bodies
// of the last response go once Go has copied them, even when no other
// request comes to make the loop take or flush again.
func TestASGIBigBodiesReleasedWhenIdle(t *testing.T) {
	logs := make(chan string, 16)
	l, err := StartLoop(LoopOptions{Loop: "asyncio", Lifespan: "off", App: "asgiapps:mix",
		Log: func(text string) {
			select {
			case logs <- text:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop(10 * time.Second) })
	request(t, l, httpScope("/big-idle", ""))
	deadline := time.After(10 * time.Second)
	for {
		select {
		case text := <-logs:
			if !strings.HasPrefix(text, "big-idle: ") {
				continue
			}
			if text != "big-idle: released" {
				t.Fatalf("the loop, idle, says %q; want the references released", text)
			}
			return
		case <-deadline:
			t.Fatal("no verdict from the app within 10 s")
		}
	}
}
