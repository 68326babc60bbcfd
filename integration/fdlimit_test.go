package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOutOfDescriptorsClosesIdleConnections: a worker with no file
// descriptor left (here an app leaks them all) cannot accept. It closes
// its idle keep-alive connections to get some back, so a new client is
// served at once rather than after an idle one's --keep-alive, and it
// logs the failing accepts once, not a line every 10 ms.
func TestOutOfDescriptorsClosesIdleConnections(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("prlimit: %v (util-linux)", err)
	}
	s := start(t, serverOpts{binary: prlimit, bare: true, args: []string{"--nofile=128:128", binary,
		"--chdir", appsDir, "-b", "127.0.0.1:0", "--keep-alive", "60", "fdleak:app"}})
	idle := dialWire(t, "tcp", s.addr)
	if resp, body := idle.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\n\r\n"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("GET / = %d %q", resp.StatusCode, body)
	}
	hog := dialWire(t, "tcp", s.addr)
	if resp, body := hog.roundTrip("GET", "GET /hog HTTP/1.1\r\nHost: h\r\n\r\n"); resp.StatusCode != 200 || !strings.HasSuffix(body, " held") {
		t.Fatalf("GET /hog = %d %q", resp.StatusCode, body)
	}
	// Both connections stay open and idle; the worker has no descriptor left.
	late := dialWire(t, "tcp", s.addr) // 20 s to be answered, a third of --keep-alive
	if resp, body := late.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\n\r\n"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("GET / from a new client = %d %q", resp.StatusCode, body)
	}
	if n := len(s.find("accept failed")); n != 1 {
		t.Errorf("%d lines of accept failed; want the first failure logged once", n)
	}
}
