package integration

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// start_response, write(), framing, close() and wsgi.file_wrapper,
// checked on the wire (testdata/apps/pep3333.py).

// noValidatorComplaints fails the test if wsgiref.validate reported an
// iterator that was never closed: it can only print that.
func noValidatorComplaints(t *testing.T, s *server) {
	t.Helper()
	if out := s.output(); strings.Contains(out, "without being closed") {
		t.Fatalf("wsgiref.validate saw an iterator that was never closed:\n%s", out)
	}
}

// markLines returns the lines a test app appended to the file at path.
func markLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(strings.TrimSpace(string(b)))
}

func TestResponseFraming(t *testing.T) {
	// The same app returning a list (every block known at once) and
	// behind wsgiref.validate (an iterator: each block sent as it comes).
	servers := map[string]*server{
		"list":      start(t, serverOpts{args: []string{"pep3333:framing_list"}}),
		"validated": start(t, serverOpts{args: []string{"pep3333:framing"}}),
	}
	long := strings.Repeat("0123456789", 10000) // 100000 bytes
	tests := []struct {
		name, app, method, query, proto string
		wantBody                        string
		wantLength                      int64 // -1: no Content-Length
		wantChunked, wantClose          bool
	}{
		{name: "known body gets a length", app: "list", method: "GET", query: "size=5", proto: "1.1",
			wantBody: "01234", wantLength: 5},
		{name: "iterated body is chunked", app: "validated", method: "GET", query: "size=5", proto: "1.1",
			wantBody: "01234", wantLength: -1, wantChunked: true},
		{name: "big blocks are chunked", app: "list", method: "GET", query: "size=100000&chunk=20000", proto: "1.1",
			wantBody: long, wantLength: -1, wantChunked: true},
		{name: "write() streamed body is chunked", app: "validated", method: "GET", query: "size=100000&chunk=20000&write=1", proto: "1.1",
			wantBody: long, wantLength: -1, wantChunked: true},
		{name: "HTTP/1.0 stream is delimited by close", app: "validated", method: "GET", query: "size=100000&chunk=20000", proto: "1.0",
			wantBody: long, wantLength: -1, wantClose: true},
		{name: "app length honoured", app: "validated", method: "GET", query: "size=100000&chunk=20000&cl=100000", proto: "1.1",
			wantBody: long, wantLength: 100000},
		{name: "longer body truncated at the app length", app: "validated", method: "GET", query: "size=100000&chunk=20000&cl=30000", proto: "1.1",
			wantBody: long[:30000], wantLength: 30000},
		{name: "HEAD sends no body", app: "list", method: "HEAD", query: "size=5", proto: "1.1",
			wantBody: "", wantLength: 5},
		{name: "HEAD of a stream sends no body", app: "validated", method: "HEAD", query: "size=100000&chunk=20000", proto: "1.1",
			wantBody: "", wantLength: -1},
		{name: "204 has no body", app: "validated", method: "GET", query: "status=204+No+Content", proto: "1.1",
			wantBody: "", wantLength: -1},
		{name: "304 has no body", app: "validated", method: "GET", query: "status=304+Not+Modified", proto: "1.1",
			wantBody: "", wantLength: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := dialWire(t, "tcp", servers[tt.app].addr)
			req := tt.method + " /?" + tt.query + " HTTP/" + tt.proto + "\r\nHost: h\r\n\r\n"
			resp, body := w.roundTrip(tt.method, req)
			if resp.StatusCode >= 300 && resp.StatusCode != 304 {
				t.Fatalf("status %d: %q", resp.StatusCode, body)
			}
			if body != tt.wantBody {
				t.Errorf("body has %d bytes; want %d", len(body), len(tt.wantBody))
			}
			if cl := resp.Header.Get("Content-Length"); tt.wantLength >= 0 && cl != strconv.FormatInt(tt.wantLength, 10) ||
				tt.wantLength < 0 && cl != "" {
				t.Errorf("Content-Length %q; want %d", cl, tt.wantLength)
			}
			if chunked := len(resp.TransferEncoding) > 0; chunked != tt.wantChunked {
				t.Errorf("chunked = %v; want %v", chunked, tt.wantChunked)
			}
			if resp.Header.Get("Date") == "" || resp.Header.Get("Server") != "gowsgi" {
				t.Errorf("Date %q, Server %q", resp.Header.Get("Date"), resp.Header.Get("Server"))
			}
			if tt.wantClose {
				if !w.closed() {
					t.Fatal("a close-delimited response left the connection open")
				}
				return
			}
			// The connection is still in step: no stray body bytes.
			resp, body = w.roundTrip("GET", "GET /?size=3 HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp.StatusCode != 200 || body != "012" {
				t.Fatalf("next request on the connection: %d %q", resp.StatusCode, body)
			}
		})
	}
	noValidatorComplaints(t, servers["validated"])
}

func TestShortBodyClosesTheConnection(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:short_body"}})
	w := dialWire(t, "tcp", s.addr)
	w.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	raw := w.rest()
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	if !strings.Contains(head, "Content-Length: 100") || body != "0123456789" {
		t.Fatalf("response %q; want the declared length and the 10 bytes, then close", raw)
	}
}

func TestCloseIsCalledExactlyOnce(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "1", "pep3333:tracked"}})
	dir := t.TempDir()
	tests := []struct {
		name, query string
		wantStatus  int // 0: the connection is cut after the head
	}{
		{"success", "n=3", 200},
		{"success with big chunks", "n=3&size=100000", 200},
		{"error before anything was sent", "n=3&fail=0", 500},
		{"error after the first block was sent", "n=3&fail=1", 0},
		{"error after big blocks were sent", "n=3&size=100000&fail=2", 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mark := filepath.Join(dir, strconv.Itoa(i))
			w := dialWire(t, "tcp", s.addr)
			w.send("GET /?" + tt.query + "&mark=" + mark + " HTTP/1.1\r\nHost: h\r\n\r\n")
			if tt.wantStatus == 0 {
				raw := w.rest()
				if !strings.HasPrefix(raw, "HTTP/1.1 200 ") || strings.HasSuffix(raw, "0\r\n\r\n") {
					t.Fatalf("a failure after the head must cut the chunked body short; got %d bytes ending %q",
						len(raw), raw[max(0, len(raw)-10):])
				}
			} else if resp, _ := w.response("GET"); resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d; want %d", resp.StatusCode, tt.wantStatus)
			}
			s.waitFor(func() bool { return len(markLines(t, mark)) > 0 })
			if code, _ := s.get("/?n=1"); code != 200 { // the worker moved on
				t.Fatalf("next request: %d", code)
			}
			if m := markLines(t, mark); len(m) != 1 {
				t.Fatalf("close() ran %d times; want exactly once", len(m))
			}
		})
	}
	noValidatorComplaints(t, s)
}

func TestCloseIsCalledWhenTheClientGoesAway(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:endless"}})
	mark := filepath.Join(t.TempDir(), "mark")
	w := dialWire(t, "tcp", s.addr)
	w.send("GET /?mark=" + mark + " HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, err := http.ReadResponse(w.br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("head: %v %v", resp, err)
	}
	buf := make([]byte, 1<<16)
	w.br.Read(buf)
	w.c.Close()
	s.waitFor(func() bool { return len(markLines(t, mark)) > 0 })
	if code, _ := s.get("/?n=1"); code != 200 {
		t.Fatalf("after the client left: %d", code)
	}
	if m := markLines(t, mark); len(m) != 1 {
		t.Fatalf("close() ran %d times; want once", len(m))
	}
}

func TestBrokenAppsGet500AndTheWorkerLives(t *testing.T) {
	tests := []struct {
		app, inLog string
	}{
		{"str_body", "must produce bytes, not str"},
		{"raise_before", "raised before start_response"},
		{"raise_after_start", "raised after start_response"},
		{"not_latin1", "not latin-1"},
		{"bad_status", "status must be a 3-digit code"},
		{"bad_header", "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			s := start(t, serverOpts{args: []string{"pep3333:" + tt.app}})
			pids := s.workerPIDs()
			w := dialWire(t, "tcp", s.addr)
			w.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			raw := w.rest() // a 500 closes the connection
			if !strings.HasPrefix(raw, "HTTP/1.1 500 ") || strings.Contains(raw, "evil") || strings.Contains(raw, "never") {
				t.Fatalf("response %q; want a clean 500", raw)
			}
			s.waitFor(func() bool { return strings.Contains(s.output(), tt.inLog) })
			if code, _ := s.get("/"); code != 500 {
				t.Fatalf("second request: %d; want 500 again from the same worker", code)
			}
			if now := s.workerPIDs(); len(now) != 1 || now[0] != pids[0] {
				t.Fatalf("worker pids went from %v to %v", pids, now)
			}
		})
	}
}

// TestBareStatusCodeGetsItsReason: start_response("201", ...) is
// answered as Gunicorn and uWSGI answer it, with the usual reason phrase.
func TestBareStatusCodeGetsItsReason(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:bare_status"}})
	w := dialWire(t, "tcp", s.addr)
	w.send("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	if raw := w.rest(); !strings.HasPrefix(raw, "HTTP/1.1 201 Created\r\n") || !strings.HasSuffix(raw, "\r\n\r\nmade") {
		t.Fatalf("response %q; want a 201 Created with the body", raw)
	}
}

// TestHeaderPairsAsGunicornTakesThem: response headers given as
// dict.items(), a tuple or a list of lists are sent, as Gunicorn and uWSGI
// send them (PEP 3333 asks for a list of tuples); a dict, whose items are
// its keys, is still a 500.
func TestHeaderPairsAsGunicornTakesThem(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:header_pairs"}})
	for _, kind := range []string{"items", "tuple", "lists"} {
		resp, err := http.Get(s.url("/?as=" + kind))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Pairs") != "yes" || string(body) != kind {
			t.Errorf("headers as %s: %d %v %q; want 200 with X-Pairs", kind, resp.StatusCode, resp.Header, body)
		}
	}
	if code, _ := s.get("/?as=dict"); code != 500 {
		t.Errorf("headers as a dict: %d; want 500", code)
	}
	s.waitFor(func() bool { return len(s.loggedContaining("response header 0 must be a (str, str) tuple")) == 1 })
}

func TestFailureAfterTheHeadCutsTheConnection(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:raise_mid_body"}})
	mark := filepath.Join(t.TempDir(), "mark")
	w := dialWire(t, "tcp", s.addr)
	w.send("GET /?mark=" + mark + " HTTP/1.1\r\nHost: h\r\n\r\n")
	raw := w.rest()
	if !strings.HasPrefix(raw, "HTTP/1.1 200 ") || strings.HasSuffix(raw, "0\r\n\r\n") {
		t.Fatalf("got %d bytes ending %q; want a chunked body cut short", len(raw), raw[max(0, len(raw)-10):])
	}
	s.waitFor(func() bool { return strings.Contains(s.output(), "raised after the head was sent") })
	if m := markLines(t, mark); len(m) != 1 {
		t.Fatalf("close() ran %d times; want once", len(m))
	}
}

func TestStartResponseWithExcInfo(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:exc_info"}})
	w := dialWire(t, "tcp", s.addr)
	resp, body := w.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp.StatusCode != 500 || resp.Status != "500 Oops" || resp.Header.Get("X-Replaced") != "yes" || body != "error page" {
		t.Fatalf("early exc_info: %q %v %q; want the replacement head and body", resp.Status, resp.Header, body)
	}
	// Once a block went out, the head has been sent: start_response
	// re-raises, and the connection is cut after the block.
	w.send("GET /?late=1 HTTP/1.1\r\nHost: h\r\n\r\n")
	if raw := w.rest(); !strings.HasPrefix(raw, "HTTP/1.1 200 ") || !strings.HasSuffix(raw, "\r\n7\r\npartial\r\n") {
		t.Fatalf("late exc_info: %q; want the 200 head and the first block, then the cut", raw)
	}
	s.waitFor(func() bool { return strings.Contains(s.output(), "KeyError: 'late failure'") })
	noValidatorComplaints(t, s)
}

// randomFile writes size random bytes to a file in a test directory,
// for the wsgi.file_wrapper apps to send.
func randomFile(t *testing.T, size int) (path string, content []byte) {
	t.Helper()
	content = make([]byte, size)
	rand.Read(content)
	path = filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, content
}

func TestFileWrapper(t *testing.T) {
	path, content := randomFile(t, 3<<20+17)
	s := start(t, serverOpts{args: []string{"pep3333:file_region"}})
	mark := filepath.Join(t.TempDir(), "mark")
	base := "/?path=" + path + "&mark=" + mark
	tests := []struct {
		name, method, query, proto string
		want                       []byte
		wantLength                 string
	}{
		{"whole file gets a length", "GET", "", "1.1", content, strconv.Itoa(len(content))},
		{"from the current position", "GET", "&seek=1000", "1.1", content[1000:], strconv.Itoa(len(content) - 1000)},
		{"limited by the app's length", "GET", "&seek=1000&cl=5000", "1.1", content[1000:6000], "5000"},
		{"HTTP/1.0", "GET", "&seek=7", "1.0", content[7:], strconv.Itoa(len(content) - 7)},
		{"HEAD", "HEAD", "", "1.1", nil, strconv.Itoa(len(content))},
		{"empty remainder", "GET", "&seek=" + strconv.Itoa(len(content)), "1.1", nil, "0"},
		// A big write() goes out first, so the file follows as a chunk.
		{"chunked after write()", "GET", "&prefix=20000&seek=3", "1.1",
			append(bytes.Repeat([]byte("p"), 20000), content[3:]...), ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := dialWire(t, "tcp", s.addr)
			resp, body := w.roundTrip(tt.method, tt.method+" "+base+tt.query+" HTTP/"+tt.proto+"\r\nHost: h\r\n\r\n")
			if resp.StatusCode != 200 || !bytes.Equal([]byte(body), tt.want) || resp.Header.Get("Content-Length") != tt.wantLength {
				t.Fatalf("%d, %d bytes, Content-Length %q; want 200, %d bytes, %q",
					resp.StatusCode, len(body), resp.Header.Get("Content-Length"), len(tt.want), tt.wantLength)
			}
			s.waitFor(func() bool { return len(markLines(t, mark)) > 2*i })
			if m := markLines(t, mark); len(m) != 2*(i+1) || m[len(m)-1] != "True" {
				t.Fatalf("close marks %q; want the file closed once more", m)
			}
		})
	}
}

func TestFileWrapperIteratedWhenItCannotBeSent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.txt")
	os.WriteFile(path, []byte(strings.Repeat("validated ", 10000)), 0o600)
	// The validator wraps the result, so the server sees a plain iterable.
	s := start(t, serverOpts{args: []string{"pep3333:file_validated"}})
	code, body := do(t, http.MethodGet, s.url("/?path="+path+"&seek=10"), "")
	if code != 200 || body != strings.Repeat("validated ", 9999) {
		t.Fatalf("validated file_wrapper: %d, %d bytes", code, len(body))
	}
	noValidatorComplaints(t, s)
	s2 := start(t, serverOpts{args: []string{"pep3333:file_like"}})
	code, body = do(t, http.MethodGet, s2.url("/"), "")
	if code != 200 || body != strings.Repeat("abcdefghij", 5000) {
		t.Fatalf("file-like without fileno: %d, %d bytes", code, len(body))
	}
}

func TestWriteCallable(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:framing"}})
	code, body := do(t, http.MethodGet, s.url("/?size=25&chunk=10&write=1"), "")
	if code != 200 || body != "0123456789012345678901234" {
		t.Fatalf("write(): %d %q", code, body)
	}
	noValidatorComplaints(t, s)
}

// TestBlocksAreNotDelayed: each block a generator yields reaches the
// client while the generator produces the next one (PEP 3333
// "Buffering and Streaming"), so an app can stream events; here the
// generator waits for the client to have the first block.
func TestBlocksAreNotDelayed(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:waits"}})
	mark := filepath.Join(t.TempDir(), "got-tick")
	w := dialWire(t, "tcp", s.addr)
	w.send("GET /?mark=" + mark + " HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "tick\n" {
		t.Fatalf("first block %q, %v", first, err)
	}
	if err := os.WriteFile(mark, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "tock waited=True" {
		t.Fatalf("rest %q, %v; want the app to have seen the client get the first block", rest, err)
	}
	noValidatorComplaints(t, s)
}

// TestSmallBlocksShareSegments: small blocks that a generator yields
// back to back go out gathered (worker/hold.go), so 64 blocks of 1 KiB
// reach the client in a few TCP segments rather than one each.
func TestSmallBlocksShareSegments(t *testing.T) {
	s := start(t, serverOpts{args: []string{"pep3333:tracked"}})
	w := dialWire(t, "tcp", s.addr)
	w.send("GET /?n=1 HTTP/1.1\r\nHost: h\r\n\r\n")
	w.response("GET")
	before := dataSegmentsIn(t, w.c)
	w.send("GET /?n=64&size=1024 HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, body := w.response("GET")
	if resp.StatusCode != 200 || body != strings.Repeat("x", 64<<10) {
		t.Fatalf("status %d, %d bytes; want 200 and 64 KiB of x", resp.StatusCode, len(body))
	}
	// One 64 KiB segment and the rest, when every block comes within
	// a millisecond of the one before; a busy machine may add a few.
	if segs := dataSegmentsIn(t, w.c) - before; segs > 16 {
		t.Fatalf("the response came in %d segments; want the 64 blocks gathered into a few", segs)
	}
	noValidatorComplaints(t, s)
}

// dataSegmentsIn is how many segments with data the connection has
// received so far (TCP_INFO).
func dataSegmentsIn(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	if cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return info.Data_segs_in
}
