package integration

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestEarlyHints: environ["wsgi.early_hints"] (WSGI) and the ASGI
// http.response.informational message, Gunicorn 25's, send a 103 Early
// Hints head at once, while the app still works, before its response,
// to an HTTP/1.1 client; an HTTP/1.0 client gets the response alone;
// invalid hints are logged, not sent, and the response goes on.
func TestEarlyHints(t *testing.T) {
	const want103 = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n" +
		"Link: </app.js>; rel=preload; as=script\r\n\r\n"
	for _, tc := range []struct{ name, app string }{{"wsgi", "earlyhints:app"}, {"asgi", "earlyhints:asgi"}} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{tc.app}
			if tc.name == "asgi" {
				args = []string{"-k", "asgi", tc.app}
			}
			s := start(t, serverOpts{args: args})
			mark := filepath.Join(t.TempDir(), "mark")
			c, err := net.Dial("tcp", s.address())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(15 * time.Second))
			io.WriteString(c, "GET /?wait="+mark+" HTTP/1.1\r\nHost: x\r\n\r\n")
			got := make([]byte, len(want103))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != want103 {
				t.Fatalf("first bytes %q (%v); want the 103 while the app waits:\n%q", got, err, want103)
			}
			if err := os.WriteFile(mark, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("the response after the 103: %v", err)
			}
			if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "done" {
				t.Errorf("response %d %q after the 103; want 200 \"done\"", resp.StatusCode, body)
			}

			for _, r := range []struct{ name, req string }{
				{"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n"},
				{"invalid hints", "GET /bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
			} {
				raw := rawResponse(t, s.address(), r.req)
				if !bytes.HasPrefix(raw, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(raw, []byte("\r\n\r\ndone")) ||
					bytes.Contains(raw, []byte("103")) || bytes.Contains(raw, []byte("X-Injected")) {
					t.Errorf("%s: %q; want the 200 alone", r.name, raw)
				}
			}
			s.waitFor(func() bool {
				return len(s.find("invalid informational response from the application; not sent")) == 1
			})
		})
	}
}

// rawResponse sends req on a new connection and returns all it gets
// back until the server closes it.
func rawResponse(t *testing.T, addr, req string) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	io.WriteString(c, req)
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%q: %v after %q", req, err, raw)
	}
	return raw
}
