package integration

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A streamed body (over the budgets) and the connection it came on.

// TestUnreadStreamedBodyClosesAndSaysSo: an app that answers without
// reading a streamed body (over the budgets) gets its response sent
// with Connection: close, as the connection then closes (the rest of
// the body is not read); the head said keep-alive, and a client that
// reused the connection met a reset.
func TestUnreadStreamedBodyClosesAndSaysSo(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--body-memory-budget", "0", "--body-spill-budget", "0", "bodies:app"}})
	c := dial(t, s.addr)
	fmt.Fprintf(c, "POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", 3<<20)
	c.Write(make([]byte, 256<<10)) // of 3 MiB: most of the body is still to come
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "hello" || !resp.Close {
		t.Fatalf("%d %q, Connection %q; want 200 hello with Connection: close", resp.StatusCode, body, resp.Header.Get("Connection"))
	}
}

// TestReadStreamedBodyKeepsTheConnection: a streamed body the app reads
// to its end leaves the connection open for the next request. The app
// could see the body's end before the engine knew the client had sent
// it all, and 4% of such responses said Connection: close (or the
// connection was closed under the client).
func TestReadStreamedBodyKeepsTheConnection(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--body-memory-budget", "0", "--body-spill-budget", "0", "bodies:app"}})
	c := dial(t, s.address())
	br := bufio.NewReader(c)
	body := make([]byte, 200<<10)
	for i := range 60 {
		fmt.Fprintf(c, "POST /digest?exact=1 HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", len(body))
		if _, err := c.Write(body); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		answer, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Close || !strings.HasSuffix(string(answer), fmt.Sprintf(" %d stream", len(body))) {
			t.Fatalf("request %d: %d %q, close %v; want 200, the whole body streamed, keep-alive", i, resp.StatusCode, answer, resp.Close)
		}
	}
}

// TestTrickledStreamedBodyIsCut: a body streaming to the app (past the
// budgets, so the app's thread waits while the client sends) that the
// client trickles below --body-min-rate is cut once its grace
// (--first-byte-timeout) is spent: the client gets a 408 and the only
// thread is free for the next request. Before, one byte every few
// seconds held the thread for good, and --timeout never fired.
func TestTrickledStreamedBodyIsCut(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--threads", "1", "--body-memory-budget", "0", "--body-spill-budget", "0",
		"--first-byte-timeout", "1", "--body-min-rate", "1000", "bodies:app"}})
	c := dial(t, s.addr)
	fmt.Fprintf(c, "POST /digest HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", 10<<30)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // 10 bytes a second
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Fatalf("%d, close %v; want 408 and a close", resp.StatusCode, resp.Close)
	}
	s.waitFor(func() bool { return len(s.find("the request body arrived slower than --body-min-rate; cut")) == 1 })
	if code, body := s.get("/hello"); code != 200 || body != "hello" {
		t.Fatalf("the next request: %d %q; want the thread free", code, body)
	}
}

// TestSlowReaderOfAStreamedBodyIsNotCut: the time an app takes before
// and between its reads of a streamed body is its own, not the client's:
// a client that sent everything at once is not cut by --body-min-rate
// while the app waits longer than the grace before reading.
func TestSlowReaderOfAStreamedBodyIsNotCut(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--body-memory-budget", "0", "--body-spill-budget", "0",
		"--first-byte-timeout", "2", "--body-min-rate", "10000000", "bodies:app"}})
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	c := dial(t, s.addr)
	body := make([]byte, 4<<20)
	fmt.Fprintf(c, "POST /digest?arrived=%s&gate=%s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", dir, gate, len(body))
	go c.Write(body) // as fast as the buffers take it
	eventually(t, "the app's call", func() bool { entries, _ := os.ReadDir(dir); return len(entries) == 1 })
	time.Sleep(4 * time.Second) // the app's own delay: twice the grace
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasSuffix(string(answer), fmt.Sprintf(" %d stream", len(body))) {
		t.Fatalf("%d %q; want 200 and the whole body streamed", resp.StatusCode, answer)
	}
}

// TestHugeReadOfAStoredOrStreamedBody: read(n) with an n no body has
// (10**12, sys.maxsize) returns the body, as it does for a body in
// memory and under Gunicorn, also when the body was spilled to a file
// or streams from the connection; io.BufferedReader made room for n
// first and raised MemoryError or OverflowError.
func TestHugeReadOfAStoredOrStreamedBody(t *testing.T) {
	body := make([]byte, 3<<20)
	rand.Read(body)
	sum := sha256.Sum256(body)
	for kind, args := range map[string][]string{
		"memory": nil,
		"file":   {"--body-memory-budget", "0"},
		"stream": {"--body-memory-budget", "0", "--body-spill-budget", "0"},
	} {
		t.Run(kind, func(t *testing.T) {
			s := start(t, serverOpts{args: append(args, "--max-buffered-body", "4194304", "bodies:app")})
			code, answer := do(t, http.MethodPost, s.url("/digest?huge=1"), string(body))
			want := fmt.Sprintf("%x %d %s", sum, len(body), kind)
			if code != 200 || answer != want {
				t.Fatalf("%d %q; want 200 %q", code, answer, want)
			}
		})
	}
}
