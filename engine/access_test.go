package engine

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/httpparse"
	"github.com/gowsgi/gowsgi/wsgi"
)

// accessTestServer is a server with only what the access log uses.
func accessTestServer(t *testing.T) (*Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "access.log")
	a, err := OpenAccessLog(&config.Config{AccessLog: path, AccessLogFormat: `%(h)s "%(r)s" %(s)s %(b)s %({x-id}i)s`})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.w.Close() })
	return &Server{conns: map[*conn]struct{}{}, extras: &Extras{Access: a}}, path
}

func (s *Server) testConn(t *testing.T, raw string) *conn {
	t.Helper()
	c := &conn{srv: s, info: wsgi.Conn{RemoteAddr: "10.0.0.9"}}
	r := httpparse.NewReader(bufio.NewReader(strings.NewReader(raw)), httpparse.DefaultLimits)
	if err := r.ReadRequest(&c.req); err != nil {
		t.Fatal(err)
	}
	s.conns[c] = struct{}{}
	return c
}

func accessLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// A request the worker dies with (timeout abort, quick stop) gets its
// line from logUnfinished, once, and the serve goroutine does not log
// it again if it finishes after all.
func TestLogUnfinished(t *testing.T) {
	s, path := accessTestServer(t)
	busy := s.testConn(t, "GET /stuck?x=1 HTTP/1.1\r\nHost: h\r\nX-Id: 7\r\n\r\n")
	s.testConn(t, "GET /idle HTTP/1.1\r\nHost: h\r\n\r\n") // between requests: no line
	start := time.Now()
	busy.beginAccess(start)
	s.LogUnfinished(504)
	s.LogUnfinished(504)
	busy.logAccess(start, time.Now())
	want := []string{`10.0.0.9 "GET /stuck?x=1 HTTP/1.1" 504 0 7`}
	if got := accessLines(t, path); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("access log %q; want %q", got, want)
	}
}

func TestLogAccessOfServerError(t *testing.T) {
	s, path := accessTestServer(t)
	c := s.testConn(t, "POST /p HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
	start := time.Now()
	c.beginAccess(start)
	c.noteError(500, 42)
	c.logAccess(start, time.Now())
	c2 := c // the next request on the connection starts from a clean record
	start = time.Now()
	c2.beginAccess(start)
	c2.logAccess(start, time.Now())
	want := `10.0.0.9 "POST /p HTTP/1.0" 500 42 -` + "\n" + `10.0.0.9 "POST /p HTTP/1.0" 0 0 -`
	if got := strings.Join(accessLines(t, path), "\n"); got != want {
		t.Fatalf("access log:\n%s\nwant:\n%s", got, want)
	}
}

func TestSentBytes(t *testing.T) {
	tests := []struct {
		name string
		rec  accessRecord
		want int64
	}{
		{"server's own error page", accessRecord{produced: 42}, 42},
		{"HEAD or 304: no body", accessRecord{produced: 10, planned: true, plan: wsgi.Plan{Framing: wsgi.FrameNone}}, 0},
		{"app sent more than Content-Length", accessRecord{produced: 10, planned: true,
			plan: wsgi.Plan{Framing: wsgi.FrameLength, ContentLength: 4}}, 4},
		{"app sent less than Content-Length", accessRecord{produced: 3, planned: true,
			plan: wsgi.Plan{Framing: wsgi.FrameLength, ContentLength: 4}}, 3},
		{"chunked", accessRecord{produced: 1000, planned: true, plan: wsgi.Plan{Framing: wsgi.FrameChunked}}, 1000},
	}
	for _, tt := range tests {
		if got := tt.rec.sent(); got != tt.want {
			t.Errorf("%s: sent() = %d; want %d", tt.name, got, tt.want)
		}
	}
}

// A repeated field shows its last value, as in the dict Gunicorn's
// atoms come from, which each field updates.
func TestAccessLineShowsTheLastOfRepeatedFields(t *testing.T) {
	s, path := accessTestServer(t)
	c := s.testConn(t, "GET /p HTTP/1.1\r\nHost: h\r\nX-Id: 1\r\nX-Id: 2\r\n\r\n")
	start := time.Now()
	c.beginAccess(start)
	c.logAccess(start, time.Now())
	if got, want := accessLines(t, path), `10.0.0.9 "GET /p HTTP/1.1" 0 0 2`; len(got) != 1 || got[0] != want {
		t.Fatalf("access log %q; want %q", got, want)
	}
	if v := responseHeader([][]byte{[]byte("Set-Cookie"), []byte("a=1"), []byte("Set-Cookie"), []byte("b=2")}, "set-cookie"); string(v) != "b=2" {
		t.Errorf("responseHeader = %q; want the last Set-Cookie", v)
	}
}
