package httpparse

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func newTestReader(input string) *Reader {
	return NewReader(bufio.NewReader(strings.NewReader(input)), DefaultLimits)
}

func headerValue(req *Request, name string) (string, bool) {
	for _, h := range req.Headers {
		if strings.EqualFold(string(h.Name), name) {
			return string(h.Value), true
		}
	}
	return "", false
}

func TestReadRequestGet(t *testing.T) {
	r := newTestReader("GET /a/b%20c?x=1&y=2#frag HTTP/1.1\r\nHost: example.com\r\n" +
		"User-Agent:  curl/8.0 \t\r\nAccept: */*\r\n\r\n")
	var req Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatalf("ReadRequest: %v", err)
	}
	checks := []struct{ field, got, want string }{
		{"Method", string(req.Method), "GET"},
		{"Target", string(req.Target), "/a/b%20c?x=1&y=2#frag"},
		{"Path", string(req.Path), "/a/b%20c"},
		{"Query", string(req.Query), "x=1&y=2"},
		{"Host", string(req.Host), "example.com"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q; want %q", c.field, c.got, c.want)
		}
	}
	if req.Major != 1 || req.Minor != 1 {
		t.Errorf("version = %d.%d; want 1.1", req.Major, req.Minor)
	}
	if ua, _ := headerValue(&req, "User-Agent"); ua != "curl/8.0" {
		t.Errorf("User-Agent = %q; want %q (only SP/HTAB trimmed)", ua, "curl/8.0")
	}
	if len(req.Headers) != 3 {
		t.Errorf("len(Headers) = %d; want 3", len(req.Headers))
	}
	if !req.KeepAlive || req.Chunked || req.HasContentLength || req.ContentLength != 0 {
		t.Errorf("KeepAlive=%v Chunked=%v HasContentLength=%v ContentLength=%d; want true false false 0",
			req.KeepAlive, req.Chunked, req.HasContentLength, req.ContentLength)
	}
	if req.Body == nil || !req.Body.Done() {
		t.Fatalf("Body = %v; want a done empty body", req.Body)
	}
	if err := r.ReadRequest(&req); err != io.EOF {
		t.Errorf("ReadRequest at clean close = %v; want io.EOF", err)
	}
}

func TestReadRequestNoQuery(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		wantQuery    []byte
	}{
		{name: "no question mark", target: "/p", wantQuery: nil},
		{name: "empty query", target: "/p?", wantQuery: []byte{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestReader("GET " + tc.target + " HTTP/1.1\r\nHost: h\r\n\r\n")
			var req Request
			if err := r.ReadRequest(&req); err != nil {
				t.Fatal(err)
			}
			if (req.Query == nil) != (tc.wantQuery == nil) || string(req.Query) != string(tc.wantQuery) {
				t.Errorf("Query = %#v; want %#v", req.Query, tc.wantQuery)
			}
		})
	}
}

func TestReadRequestContentLengthBody(t *testing.T) {
	r := newTestReader("POST /submit HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n" +
		"Content-Length: 11\r\n\r\nhello worldGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
	var req Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	if !req.HasContentLength || req.ContentLength != 11 || string(req.ContentType) != "text/plain" {
		t.Errorf("HasContentLength=%v ContentLength=%d ContentType=%q; want true 11 text/plain",
			req.HasContentLength, req.ContentLength, req.ContentType)
	}
	if req.Body.Done() {
		t.Error("Body.Done() before reading; want false")
	}
	if err := r.ReadRequest(&req); !errors.Is(err, ErrBodyNotDone) {
		t.Fatalf("ReadRequest with unread body = %v; want ErrBodyNotDone", err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil || string(body) != "hello world" {
		t.Fatalf("body = %q, %v; want %q, nil", body, err, "hello world")
	}
	if !req.Body.Done() {
		t.Error("Body.Done() after EOF = false")
	}
	if err := r.ReadRequest(&req); err != nil {
		t.Fatalf("pipelined ReadRequest: %v", err)
	}
	if string(req.Path) != "/next" {
		t.Errorf("second Path = %q; want /next", req.Path)
	}
}

func TestReadRequestChunkedBody(t *testing.T) {
	r := newTestReader("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n6;name=\"v\"\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n")
	var req Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	if !req.Chunked || req.ContentLength != -1 {
		t.Fatalf("Chunked=%v ContentLength=%d; want true -1", req.Chunked, req.ContentLength)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil || string(body) != "hello world" {
		t.Fatalf("body = %q, %v; want %q, nil", body, err, "hello world")
	}
	tr := req.Body.Trailers()
	if len(tr) != 1 || string(tr[0].Name) != "X-Checksum" || string(tr[0].Value) != "abc" {
		t.Errorf("Trailers = %q; want [X-Checksum: abc]", tr)
	}
	if err := r.ReadRequest(&req); err != io.EOF {
		t.Errorf("ReadRequest after body = %v; want io.EOF", err)
	}
}

func TestReadRequestKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		name, version, connection string
		want                      bool
	}{
		{name: "1.1 default", version: "1.1", want: true},
		{name: "1.1 close", version: "1.1", connection: "close", want: false},
		{name: "1.1 close in list", version: "1.1", connection: "Upgrade, Close", want: false},
		{name: "1.0 default", version: "1.0", want: false},
		{name: "1.0 keep-alive", version: "1.0", connection: "Keep-Alive", want: true},
		{name: "1.0 keep-alive and close", version: "1.0", connection: "keep-alive, close", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			head := "GET / HTTP/" + tc.version + "\r\nHost: h\r\n"
			if tc.connection != "" {
				head += "Connection: " + tc.connection + "\r\n"
			}
			var req Request
			if err := newTestReader(head + "\r\n").ReadRequest(&req); err != nil {
				t.Fatal(err)
			}
			if req.KeepAlive != tc.want {
				t.Errorf("KeepAlive = %v; want %v", req.KeepAlive, tc.want)
			}
		})
	}
}

func TestReadRequestExpectContinue(t *testing.T) {
	for _, tc := range []struct {
		name, version string
		want          bool
	}{
		{name: "HTTP/1.1", version: "1.1", want: true},
		{name: "HTTP/1.0 ignored", version: "1.0", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req Request
			in := "PUT /f HTTP/" + tc.version + "\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx"
			if err := newTestReader(in).ReadRequest(&req); err != nil {
				t.Fatal(err)
			}
			if req.ExpectContinue != tc.want {
				t.Errorf("ExpectContinue = %v; want %v", req.ExpectContinue, tc.want)
			}
		})
	}
}

func TestReadRequestBasicErrors(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		want        *Error
	}{
		{name: "missing host", input: "GET / HTTP/1.1\r\n\r\n", want: ErrMissingHost},
		{name: "HTTP/2.0", input: "GET / HTTP/2.0\r\nHost: h\r\n\r\n", want: ErrVersionUnsupported},
		{name: "lower-case version", input: "GET / http/1.1\r\nHost: h\r\n\r\n", want: ErrMalformedVersion},
		{name: "HTTP/0.9 request line", input: "GET /\r\n\r\n", want: ErrMalformedRequest},
		{name: "bare LF", input: "GET / HTTP/1.1\nHost: h\r\n\r\n", want: ErrBareLF},
		{name: "CL and TE", input: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", want: ErrContentLengthAndTransferCode},
		{name: "bad chunk size", input: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", want: ErrInvalidChunkSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestReader(tc.input)
			var req Request
			err := r.ReadRequest(&req)
			if err == nil {
				_, err = io.ReadAll(req.Body)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v; want %v", err, tc.want)
			}
			var perr *Error
			if !errors.As(err, &perr) || perr.Status != tc.want.Status {
				t.Errorf("errors.As status = %v; want %d", perr, tc.want.Status)
			}
		})
	}
}

func TestReadRequestTruncatedHead(t *testing.T) {
	r := newTestReader("GET / HTTP/1.1\r\nHost: h\r\n")
	var req Request
	if err := r.ReadRequest(&req); err != io.ErrUnexpectedEOF {
		t.Errorf("ReadRequest = %v; want io.ErrUnexpectedEOF", err)
	}
}

func TestReadRequestErrorIsSticky(t *testing.T) {
	r := newTestReader("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
	var req Request
	for i := 0; i < 2; i++ {
		if err := r.ReadRequest(&req); !errors.Is(err, ErrMissingHost) {
			t.Fatalf("ReadRequest #%d = %v; want ErrMissingHost", i, err)
		}
	}
}

func TestBodyDiscard(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		chunked    bool
		max        int64
		wantErr    error
	}{
		{name: "length within", body: "abcdef", max: 6},
		{name: "length over", body: "abcdef", max: 5, wantErr: ErrDiscardLimit},
		{name: "chunked within", body: "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", chunked: true, max: 6},
		{name: "chunked over", body: "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", chunked: true, max: 5, wantErr: ErrDiscardLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			framing := "Content-Length: 6\r\n"
			if tc.chunked {
				framing = "Transfer-Encoding: chunked\r\n"
			}
			r := newTestReader("POST / HTTP/1.1\r\nHost: h\r\n" + framing + "\r\n" + tc.body + "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
			var req Request
			if err := r.ReadRequest(&req); err != nil {
				t.Fatal(err)
			}
			if err := req.Body.Discard(tc.max); err != tc.wantErr {
				t.Fatalf("Discard(%d) = %v; want %v", tc.max, err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			if err := r.ReadRequest(&req); err != nil || string(req.Path) != "/2" {
				t.Errorf("next request = %q, %v; want /2, nil", req.Path, err)
			}
		})
	}
}

func TestEnvironSafeName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{name: "X-Auth-User", want: true},
		{name: "Accept2", want: true},
		{name: "X_Auth_User", want: false},
		{name: "X.Auth", want: false},
		{name: "", want: false},
	} {
		if got := EnvironSafeName([]byte(tc.name)); got != tc.want {
			t.Errorf("EnvironSafeName(%q) = %v; want %v", tc.name, got, tc.want)
		}
	}
}

func TestLargeHeadStorageIsReleased(t *testing.T) {
	big := "GET /big HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 8000)+"\r\n", 20) + "\r\n"
	r := newTestReader(big + "GET /small HTTP/1.1\r\nHost: h\r\n\r\n")
	var req Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	if cap(r.buf) <= maxRetainedHead {
		t.Fatalf("head storage after a %d-byte head is only %d bytes; the test does not exercise release", len(big), cap(r.buf))
	}
	if err := r.ReadRequest(&req); err != nil || string(req.Path) != "/small" {
		t.Fatalf("second request = %q, %v", req.Path, err)
	}
	if cap(r.buf) > maxRetainedHead {
		t.Errorf("head storage kept at %d bytes after a small request; want at most %d", cap(r.buf), maxRetainedHead)
	}
}

// A Reader reset for a new connection forgets the old one's sticky
// error and unread body.
func TestResetStartsAFreshConnection(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab"))
	r := NewReader(br, DefaultLimits)
	var req Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatalf("first request: %v", err)
	}
	if err := r.ReadRequest(&req); !errors.Is(err, ErrBodyNotDone) {
		t.Fatalf("with the body unread: %v; want ErrBodyNotDone", err)
	}
	br.Reset(strings.NewReader("GET /bad path HTTP/1.1\r\n\r\n"))
	r.Reset()
	if err := r.ReadRequest(&req); err == nil {
		t.Fatal("a malformed request line was accepted")
	}
	br.Reset(strings.NewReader("GET /next HTTP/1.1\r\nHost: b\r\n\r\n"))
	r.Reset()
	if err := r.ReadRequest(&req); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
	if string(req.Path) != "/next" || string(req.Host) != "b" || !req.Body.Done() {
		t.Fatalf("after Reset: path %q host %q body done %v", req.Path, req.Host, req.Body.Done())
	}
}
