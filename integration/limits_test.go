package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// startLimited starts gowsgi under prlimit with the resource limit
// given (such as "--nofile=128:128"), with the harness's --chdir and -b
// before args.
func startLimited(t *testing.T, limit string, args ...string) *server {
	t.Helper()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("prlimit: %v (util-linux)", err)
	}
	return start(t, serverOpts{binary: prlimit, bare: true,
		args: append([]string{limit, binary, "--chdir", appsDir, "-b", "127.0.0.1:0"}, args...)})
}

// TestOutOfDescriptorsClosesIdleConnections: a worker with no file
// descriptor left (here an app leaks them all) cannot accept. It closes
// its idle keep-alive connections to get some back, so a new client is
// served at once rather than after an idle one's --keep-alive, and it
// logs the failing accepts once, not a line every 10 ms.
func TestOutOfDescriptorsClosesIdleConnections(t *testing.T) {
	s := startLimited(t, "--nofile=128:128", "--keep-alive", "60", "fdleak:app")
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

// TestAddressSpaceLimitIsNamed: under an address-space limit (ulimit -v)
// too tight for the Go runtime's reservations, a process may fail to
// start a thread with a crash dump that names no cause; the master says
// at start what the limit is and what to use instead. 3 GiB still runs.
func TestAddressSpaceLimitIsNamed(t *testing.T) {
	s := startLimited(t, "--as=3221225472", "basic:hello")
	if code, _ := s.get("/"); code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	l := s.logged("an address-space limit (ulimit -v) under 4 GiB")
	if len(l) != 1 || l[0].num("as_limit_mib") != 3072 || l[0].str("level") != "warn" {
		t.Errorf("the warning: %v", l)
	}
}
