package integration

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
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
