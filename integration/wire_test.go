package integration

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Helpers for tests that need the exact bytes on the wire: net/http's
// client would normalise the request and hide the framing of the
// response.

// wireConn is one raw client connection.
type wireConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialWire(t *testing.T, network, addr string) *wireConn {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &wireConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (w *wireConn) send(raw string) {
	w.t.Helper()
	if _, err := io.WriteString(w.c, raw); err != nil {
		w.t.Fatalf("sending %q: %v", raw, err)
	}
}

// response reads one response to a request with method and returns it
// with its whole body.
func (w *wireConn) response(method string) (*http.Response, string) {
	w.t.Helper()
	resp, err := http.ReadResponse(w.br, &http.Request{Method: method})
	if err != nil {
		w.t.Fatalf("reading the response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		w.t.Fatalf("reading the response body: %v", err)
	}
	return resp, string(b)
}

// roundTrip sends raw and reads the response to it.
func (w *wireConn) roundTrip(method, raw string) (*http.Response, string) {
	w.t.Helper()
	w.send(raw)
	return w.response(method)
}

// rest reads everything until the server closes the connection, and
// fails if it does not.
func (w *wireConn) rest() string {
	w.t.Helper()
	b, err := io.ReadAll(w.br)
	if err != nil {
		w.t.Fatalf("the server did not close the connection: %v (read %q)", err, b)
	}
	return string(b)
}

// closed reports whether the server closed the connection, waiting up
// to 5 s for it.
func (w *wireConn) closed() bool {
	w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := w.br.ReadByte()
	return err == io.EOF || (err != nil && strings.Contains(err.Error(), "reset"))
}

// getJSON sends a GET on a fresh connection and decodes the JSON body.
func getJSON(t *testing.T, s *server, target string, v any) {
	t.Helper()
	w := dialWire(t, "tcp", s.addr)
	resp, body := w.roundTrip("GET", "GET "+target+" HTTP/1.1\r\nHost: test.example:8080\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %q", target, resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %q", target, err, body)
	}
}

// logWhere returns the log lines for which keep is true.
func (s *server) logWhere(keep func(logLine) bool) []logLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logLine
	for _, l := range s.lines {
		if keep(l) {
			out = append(out, l)
		}
	}
	return out
}
