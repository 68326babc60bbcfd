package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testhooksBinary builds, once, bin/gowsgi-testhooks: gowsgi with the
// gowsgi_testhooks build tag, whose X-Gowsgi-Test-Panic request header
// makes a connection goroutine panic (worker/testhook_panic.go). The
// hook is in no other build.
var testhooksBinary = sync.OnceValues(func() (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin", "gowsgi-testhooks")
	build := exec.Command("make", "-C", root, "--no-print-directory", "build", "BIN="+bin)
	build.Env = append(os.Environ(), "GOFLAGS=-tags=gowsgi_testhooks")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make build with gowsgi_testhooks: %v\n%s", err, out)
	}
	return bin, nil
})

// panicRequest sends a GET path with the test header and returns the
// status (0 when none came) and the body read until the connection ended.
func panicRequest(t *testing.T, addr, path, at string) (int, string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\nX-Gowsgi-Test-Panic: %s\r\n\r\n", path, at)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), err
}

// TestPanicIsContainedToItsConnection: a Go panic while serving a
// request (before anything was sent, after the head and part of the
// body, inside the app's write() callback from C) closes that connection
// only: 500 when nothing was sent, else a cut; the panic is logged with
// its stack and counted; requests in flight on the same worker (one
// thread busy with a slow response) finish, and the worker, never
// replaced, goes on serving with all its Python threads.
func TestPanicIsContainedToItsConnection(t *testing.T) {
	bin, err := testhooksBinary()
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, serverOpts{binary: bin, args: []string{"--threads", "2", "--admin-bind", "127.0.0.1:0",
		"--log-format", "json", "bodies:app"}})
	pid := s.workerPIDs()[0]

	// A request in flight throughout: 2 MiB, 256 KiB every 50 ms.
	inflight := make(chan error, 1)
	go func() {
		code, err := getWorkerErr(s.url("/big?n=8&delay_ms=50"))
		if err == nil && code != 200 {
			err = fmt.Errorf("status %d", code)
		}
		inflight <- err
	}()

	marks := t.TempDir()
	for _, tc := range []struct {
		at, path string
		want500  bool
	}{
		{at: "respond", path: "/big?mark=" + marks + "/respond", want500: true}, // after the app ran, holding its Python thread
		{at: "sent", path: "/big?mark=" + marks + "/sent"},                      // after the head and the first block went out
		{at: "write", path: "/write", want500: true},                            // in write()'s hook, inside the app's call (C frames)
	} {
		code, body, err := panicRequest(t, s.addr, tc.path, tc.at)
		switch {
		case tc.want500 && (code != 500 || err != nil):
			t.Errorf("panic at %s: %d %q %v; want a 500", tc.at, code, body, err)
		case !tc.want500 && (code != 200 || err == nil):
			t.Errorf("panic at %s: %d, %d bytes, %v; want the 200 cut short", tc.at, code, len(body), err)
		}
	}
	// The app's iterables were closed, not left open in a reused exchange.
	waitForFile(t, marks+"/respond")
	waitForFile(t, marks+"/sent")
	if err := <-inflight; err != nil {
		t.Errorf("the request in flight during the panics: %v", err)
	}
	// Both Python threads are free: two requests that wait for each other.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, err := getWorkerErr(s.url("/together?n=2")); err != nil || code != 200 {
				t.Errorf("after the panics, a request needing both threads: %d %v", code, err)
			}
		}()
	}
	wg.Wait()
	if pids := s.workerPIDs(); len(pids) != 1 || pids[0] != pid {
		t.Errorf("workers %v after the panics; want the same one, %d", pids, pid)
	}
	logged := 0
	for _, l := range s.lines_() {
		if strings.HasPrefix(l.str("message"), "panic serving a connection") && strings.Contains(l.str("message"), "goroutine ") &&
			strings.HasPrefix(l.str("panic"), "test panic at ") {
			logged++
		}
	}
	if logged != 3 {
		t.Errorf("%d panics logged with their stack; want 3", logged)
	}
	admin := s.adminURL()
	s.waitFor(func() bool {
		_, m := adminGet(t, admin+"/metrics")
		return metricValue(m, "gowsgi_connection_panics_total") == 3
	})
}
