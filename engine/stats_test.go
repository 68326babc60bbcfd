package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/gowsgi/gowsgi/httpparse"
)

func TestHistogramBuckets(t *testing.T) {
	var h atomicHistogram
	for _, d := range []time.Duration{500 * time.Microsecond, time.Millisecond, 7 * time.Millisecond, 90 * time.Second} {
		h.observe(d)
	}
	got := h.snapshot()
	// 0.5ms and 1ms are <= 0.001; 7ms <= 0.01 (index 3); 90s above every bound.
	want := map[int]uint64{0: 2, 3: 1, len(handoff.DurationBuckets): 1}
	for i, n := range got.Counts {
		if n != want[i] {
			t.Errorf("bucket %d = %d, want %d (counts %v)", i, n, want[i], got.Counts)
		}
	}
	if s := got.Sum; s < 90.008 || s > 90.009 {
		t.Errorf("sum = %v, want 90.0085", s)
	}
}

func TestMethodIndexBoundsTheLabels(t *testing.T) {
	for m, want := range map[string]string{"GET": "GET", "DELETE": "DELETE", "get": "OTHER", "PROPFIND": "OTHER", "": "OTHER"} {
		if got := methodNames[methodIndex([]byte(m))]; got != want {
			t.Errorf("methodIndex(%q) names %q, want %q", m, got, want)
		}
	}
}

func idConn(headers ...string) *conn {
	s := &Server{cfg: &config.Config{RequestIDHeader: "X-Request-ID"}, rids: newRequestIDs("X-Request-ID")}
	c := &conn{srv: s}
	for i := 0; i+1 < len(headers); i += 2 {
		c.req.Headers = append(c.req.Headers, httpparse.Header{Name: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	return c
}

func TestRequestIDKeptOrMade(t *testing.T) {
	for _, tc := range []struct {
		name, sent string
		keep       bool
	}{
		{"kept", "abc-123", true},
		{"too long", strings.Repeat("a", maxRequestIDLen+1), false},
		{"control byte", "a\x01b", false},
		{"space", "a b", false},
	} {
		c := idConn("Host", "x", "x-request-id", tc.sent)
		c.ensureRequestID()
		got := c.requestID()
		if tc.keep != (got == tc.sent) || len(got) == 0 || !validRequestID([]byte(got)) {
			t.Errorf("%s: sent %q, got %q", tc.name, tc.sent, got)
		}
		if len(c.req.Headers) != 2 {
			t.Errorf("%s: %d headers, want the id replaced in place", tc.name, len(c.req.Headers))
		}
	}
	c := idConn("Host", "x")
	c.ensureRequestID()
	if id := c.requestID(); len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("made id %q, want 32 hex digits", id)
	}
	other := idConn("Host", "x")
	other.ensureRequestID()
	if other.requestID() == c.requestID() {
		t.Error("two requests got the same id")
	}
}

func TestAppendRequestID(t *testing.T) {
	c := idConn("X-Request-ID", "r1")
	head := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
	if got := string(c.appendRequestID(head, [][2][]byte{{[]byte("Content-Length"), []byte("2")}})); got != "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Request-ID: r1\r\n\r\n" {
		t.Errorf("appended: %q", got)
	}
	set := []byte("HTTP/1.1 200 OK\r\nx-request-id: app\r\n\r\n")
	if got := string(c.appendRequestID(set, [][2][]byte{{[]byte("x-request-id"), []byte("app")}})); got != string(set) {
		t.Errorf("the app's own header was doubled: %q", got)
	}
}
