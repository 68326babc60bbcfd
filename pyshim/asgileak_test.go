package pyshim

import "testing"

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
