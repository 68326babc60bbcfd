package integration

import (
	"bufio"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestBodyTimeout: --body-timeout bounds each wait for body bytes, and 0
// means none: neither the header nor the keep-alive deadline still in
// force may cut a slow upload short (a request head that arrives whole
// sets no header deadline of its own).
func TestBodyTimeout(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		s := start(t, serverOpts{args: []string{"--header-timeout", "1", "--keep-alive", "1",
			"--body-timeout", "0", "basic:echo"}})
		c := dial(t, s.addr)
		br := bufio.NewReader(c)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok")
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("first request: %v", err)
		} else {
			io.Copy(io.Discard, resp.Body)
		}
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabcde")
		time.Sleep(1600 * time.Millisecond) // past both the header and the keep-alive timeout
		io.WriteString(c, "fghij")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("a slow body with --body-timeout 0 was cut short: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "abcdefghij" {
			t.Fatalf("slow upload: %d %q; want 200 abcdefghij", resp.StatusCode, body)
		}
	})
	t.Run("one second", func(t *testing.T) {
		s := start(t, serverOpts{args: []string{"--body-timeout", "1", "basic:echo"}})
		c := dial(t, s.addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabcde")
		expectClosed(t, c, 5*time.Second)
	})
}
