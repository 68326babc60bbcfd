package integration

import (
	"fmt"
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
	if resp, body := idle.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\n\r\n"); resp.StatusCode != 200 || !strings.HasPrefix(body, "ok ") {
		t.Fatalf("GET / = %d %q", resp.StatusCode, body)
	}
	hog := dialWire(t, "tcp", s.addr)
	if resp, body := hog.roundTrip("GET", "GET /hog HTTP/1.1\r\nHost: h\r\n\r\n"); resp.StatusCode != 200 || !strings.HasSuffix(body, " held") {
		t.Fatalf("GET /hog = %d %q", resp.StatusCode, body)
	}
	// Both connections stay open and idle; the worker has no descriptor left.
	late := dialWire(t, "tcp", s.addr) // 20 s to be answered, a third of --keep-alive
	if resp, body := late.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\n\r\n"); resp.StatusCode != 200 || !strings.HasPrefix(body, "ok ") {
		t.Fatalf("GET / from a new client = %d %q", resp.StatusCode, body)
	}
	if n := len(s.find("accept failed")); n != 1 {
		t.Errorf("%d lines of accept failed; want the first failure logged once", n)
	}
}

// TestWorkerOutOfDescriptorsWithNothingToCloseIsReplaced: an app that
// holds every descriptor its worker has while its only connection is in
// a request leaves the worker unable to accept and nothing to close for
// one. After a while the worker asks to be replaced, as Gunicorn's
// exits at EMFILE, and the new one serves the client that waited.
func TestWorkerOutOfDescriptorsWithNothingToCloseIsReplaced(t *testing.T) {
	s := startLimited(t, "--nofile=128:128", "--threads", "2", "fdleak:app")
	first := s.workerPIDs()
	hog := dialWire(t, "tcp", s.addr)
	fmt.Fprint(hog.c, "GET /hog?seconds=60 HTTP/1.1\r\nHost: h\r\n\r\n")
	// The head and the first chunk: every descriptor is taken, and the
	// response streams on, so its connection is not idle.
	for want := "held\r\n"; ; {
		line, err := hog.br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(line, want) {
			break
		}
	}
	late := dialWire(t, "tcp", s.addr) // answered once a new worker takes it
	resp, body := late.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp.StatusCode != 200 || body == fmt.Sprintf("ok %d", first[0]) {
		t.Fatalf("GET / from a new client = %d %q; want an answer from a new worker (not %d)", resp.StatusCode, body, first[0])
	}
	l := s.find("out of file descriptors with no connection left to close: the app holds them (a leak?); replacing this worker gracefully")
	if len(l) != 1 || l[0].num("pid") != first[0] {
		t.Fatalf("retire lines %v; want one from worker %d", l, first[0])
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
