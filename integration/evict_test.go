package integration

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// The order in which a full worker makes room (worker/room.go), one
// place at a time: --worker-connections 8 has a batch of one.

// dialFrom connects to addr from the loopback address local
// ("127.0.0.2"): the whole of 127/8 is this machine's.
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitOpen waits until /metrics counts n open connections.
func waitOpen(t *testing.T, s *server, admin string, n int) {
	t.Helper()
	s.waitFor(func() bool {
		_, m := adminGet(t, admin+"/metrics")
		return metricValue(m, "gowsgi_connections_open") == float64(n)
	})
}

// closedWithin reports, for each connection, whether the server closed
// it within d (all waited for at once).
func closedWithin(conns []net.Conn, d time.Duration) []bool {
	out := make([]bool, len(conns))
	done := make(chan int)
	for i, c := range conns {
		go func() {
			c.SetReadDeadline(time.Now().Add(d))
			_, err := c.Read(make([]byte, 1))
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				out[i] = true
			}
			done <- i
		}()
	}
	for range conns {
		<-done
	}
	return out
}

// getOn makes one keep-alive request on c.
func getOn(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("response: %v", err)
		}
		if line == "\r\n" {
			break
		}
	}
	if _, err := io.ReadFull(br, make([]byte, len("hello"))); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Time{})
}

func evictServer(t *testing.T) (*server, string) {
	t.Helper()
	s := start(t, serverOpts{args: []string{"--worker-connections", "8", "--first-byte-timeout", "30",
		"--keep-alive", "60", "--admin-bind", "127.0.0.1:0", "retire:app"}})
	return s, s.adminURL()
}

// TestEvictionFavoursTheFewerPlaces: of the connections that sent
// nothing, those of the client holding the most places go first, though
// another client's are older.
func TestEvictionFavoursTheFewerPlaces(t *testing.T) {
	s, admin := evictServer(t)
	var light, heavy []net.Conn
	for range 3 {
		light = append(light, dialFrom(t, "127.0.0.3", s.addr))
	}
	waitOpen(t, s, admin, 3)
	for range 5 {
		heavy = append(heavy, dialFrom(t, "127.0.0.2", s.addr))
	}
	waitOpen(t, s, admin, 8)
	c := dialFrom(t, "127.0.0.4", s.addr)
	getOn(t, c, bufio.NewReader(c))
	n := 0
	for _, closed := range closedWithin(heavy, 2*time.Second) {
		if closed {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of the heavy client's 5 connections closed; want 1", n)
	}
	for i, closed := range closedWithin(light, 100*time.Millisecond) {
		if closed {
			t.Errorf("the light client's connection %d (of the oldest) was closed", i)
		}
	}
}

// TestEvictionOrder: a connection that sent nothing goes before one
// stalled mid-head, which goes before one idle in keep-alive, though
// the keep-alive one is the oldest.
func TestEvictionOrder(t *testing.T) {
	s, admin := evictServer(t)
	keep := dialFrom(t, "127.0.0.2", s.addr)
	keepBR := bufio.NewReader(keep)
	getOn(t, keep, keepBR)
	var others []net.Conn
	for range 5 { // keep-alive ones, newer than keep
		c := dialFrom(t, "127.0.0.2", s.addr)
		getOn(t, c, bufio.NewReader(c))
		others = append(others, c)
	}
	stalled := dialFrom(t, "127.0.0.2", s.addr)
	if _, err := io.WriteString(stalled, "GET / HTTP/1.1\r\nHost: t\r\n"); err != nil {
		t.Fatal(err)
	}
	headSent := time.Now()
	silent := dialFrom(t, "127.0.0.2", s.addr)
	waitOpen(t, s, admin, 8)
	// A head is stalled once it has been in progress for a second
	// (headStallAge): age it past that.
	time.Sleep(time.Until(headSent.Add(1200 * time.Millisecond)))

	next := func() { // a newcomer, then idle in keep-alive: the newest
		t.Helper()
		c := dialFrom(t, "127.0.0.3", s.addr)
		getOn(t, c, bufio.NewReader(c))
		others = append(others, c)
	}
	next()
	if got := closedWithin([]net.Conn{silent}, 2*time.Second); !got[0] {
		t.Fatal("the silent connection was not the first closed")
	}
	next()
	if got := closedWithin([]net.Conn{stalled}, 2*time.Second); !got[0] {
		t.Fatal("the stalled head was not the second closed")
	}
	next()
	if got := closedWithin([]net.Conn{keep}, 2*time.Second); !got[0] {
		t.Fatal("the oldest keep-alive connection was not the third closed")
	}
	for i, closed := range closedWithin(others, 100*time.Millisecond) {
		if closed {
			t.Errorf("keep-alive connection %d was closed before its turn", i)
		}
	}
}
