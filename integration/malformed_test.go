package integration

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// smuggled follows every bad request on the same connection: the server
// must answer the bad one and close, never serve this.
const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

// TestMalformedRequestsOverTCP sends raw malformed and smuggling-shaped
// requests to the real binary: each gets its status and the connection
// closes, so the bytes after it are never served as a request.
func TestMalformedRequestsOverTCP(t *testing.T) {
	s := start(t, serverOpts{args: []string{"--limit-request-body", "10", "basic:echo"}})
	tests := []struct {
		name, raw string
		status    string
	}{
		{name: "Content-Length with Transfer-Encoding", status: "400",
			raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{name: "two different Content-Lengths", status: "400",
			raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
		{name: "signed Content-Length", status: "400",
			raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc"},
		{name: "Transfer-Encoding not ending in chunked", status: "400",
			raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"},
		{name: "Transfer-Encoding on HTTP/1.0", status: "400",
			raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{name: "obs-fold", status: "400",
			raw: "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n"},
		{name: "space before the colon", status: "400",
			raw: "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"},
		{name: "bare LF line ending", status: "400",
			raw: "GET / HTTP/1.1\nHost: x\n\n"},
		{name: "NUL in a header value", status: "400",
			raw: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"},
		{name: "HTTP/1.1 without Host", status: "400",
			raw: "GET / HTTP/1.1\r\n\r\n"},
		{name: "two Hosts", status: "400",
			raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
		{name: "unsupported version", status: "505",
			raw: "GET / HTTP/1.2\r\nHost: x\r\n\r\n"},
		{name: "request line over --limit-request-line", status: "414",
			raw: "GET /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "header over --limit-request-field_size", status: "431",
			raw: "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 9000) + "\r\n\r\n"},
		{name: "more than --limit-request-fields headers", status: "431",
			raw: "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-N: 1\r\n", 101) + "\r\n"},
		{name: "body over --limit-request-body", status: "413",
			raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"},
		{name: "chunk size with 0x", status: "400",
			raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n"},
		{name: "chunk without its CRLF", status: "400",
			raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"},
		{name: "asterisk-form without OPTIONS", status: "400",
			raw: "GET * HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { requireOneAnswerThenClose(t, s.addr, tt.raw, tt.status) })
	}
}

// requireOneAnswerThenClose sends raw followed by smuggled on one
// connection and requires one response with the status, saying
// Connection: close, and the connection closed after it: the bytes after
// the request are never served as a request.
func requireOneAnswerThenClose(t *testing.T, addr, raw, status string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw+smuggled); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, err := io.ReadAll(c) // returns once the server closes
	if err != nil {
		t.Fatalf("reading until the server closes: %v (got %q)", err, all)
	}
	got := string(all)
	if !strings.HasPrefix(got, "HTTP/1.1 "+status+" ") {
		t.Fatalf("response %q; want status %s", firstLine(got), status)
	}
	if n := strings.Count(got, "HTTP/1.1 "); n != 1 {
		t.Fatalf("%d responses on the connection; the bytes after the request were served:\n%s", n, got)
	}
	if !strings.Contains(got, "Connection: close\r\n") {
		t.Errorf("the response does not say Connection: close")
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}
