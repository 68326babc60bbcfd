package engine

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// openKeepAlive opens n connections to addr, each after one request
// answered and idle in keep-alive.
func openKeepAlive(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for range n {
		c := dialTest(t, addr)
		conns = append(conns, c)
		if _, err := io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "\r\n" {
				break
			}
		}
		if _, err := io.ReadFull(br, make([]byte, 5)); err != nil {
			t.Fatal(err)
		}
	}
	return conns
}

// waitOpen waits until the server counts n open connections.
func waitOpen(t *testing.T, s *Server, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.openConns.Load() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open; want %d", s.openConns.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The memory of a burst of connections goes back to the system once they
// have ended, not after the runtime's forced collections (minutes); a
// few connections coming and going do not trigger it.
func TestReleaseAfterBurst(t *testing.T) {
	app := newFakeApp(t, helloRoutes)
	s, addr := serveFake(t, app, testConfig(t, "--keep-alive", "30"), 2)

	few := openKeepAlive(t, addr, releaseBurstConns/2)
	for _, c := range few {
		c.Close()
	}
	waitOpen(t, s, 0)
	if s.ReleaseAfterBurst() {
		t.Fatalf("released after %d connections; want a burst of %d", len(few), releaseBurstConns)
	}

	burst := openKeepAlive(t, addr, releaseBurstConns+50)
	if s.ReleaseAfterBurst() {
		t.Fatal("released while the burst's connections were open")
	}
	for _, c := range burst[:len(burst)/4] {
		c.Close()
	}
	waitOpen(t, s, int64(len(burst)-len(burst)/4))
	if s.ReleaseAfterBurst() {
		t.Fatal("released while most of the burst was still open")
	}
	for _, c := range burst[len(burst)/4:] {
		c.Close()
	}
	waitOpen(t, s, 0)
	if !s.ReleaseAfterBurst() {
		t.Fatal("the burst ended and its memory was not released")
	}
	if s.ReleaseAfterBurst() {
		t.Fatal("released twice for one burst")
	}
}
