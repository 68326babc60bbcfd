package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestASGITrailers: http.response.trailers (ASGI HTTP spec 2.4) reach a
// real client after the last chunk (RFC 9112 §7.1.2), gathered across
// more_trailers events; they are dropped where the response cannot be
// chunked (HTTP/1.0, the app's Content-Length); a refused trailer field
// (RFC 9110 §6.5.1) cuts the response and is logged.
func TestASGITrailers(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_trailers:app"}})
	curl := func(args ...string) (string, string, error) {
		return runClient(t, "", "curl", append([]string{"-sS", "--max-time", "20", "--raw", "-i"}, args...)...)
	}

	out, errOut, err := curl(s.url("/trailers"))
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, errOut)
	}
	// The two body events may leave in one chunk or two.
	const trailers = "0\r\nx-checksum: abc\r\nx-count: 2\r\nx-count: 3\r\n\r\n"
	_, body, _ := strings.Cut(out, "\r\n\r\n")
	chunks, ok := strings.CutSuffix(body, trailers)
	if !strings.Contains(out, "Transfer-Encoding: chunked\r\n") || !ok || dechunk(chunks) != "part one;part two" {
		t.Errorf("a response with trailers, as curl --raw reads it:\n%q\nwant the body, then\n%q", out, trailers)
	}

	// http.response.pathsend's file goes out with sendfile as a chunk.
	src, err := os.ReadFile(filepath.Join(appsDir, "asgi_trailers.py"))
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err = curl(s.url("/file"))
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, errOut)
	}
	_, body, _ = strings.Cut(out, "\r\n\r\n")
	chunks, ok = strings.CutSuffix(body, "0\r\nx-checksum: file\r\n\r\n")
	if !ok || dechunk(chunks) != string(src) {
		t.Errorf("pathsend with trailers: %q; want the file chunked, then the trailer", out)
	}

	out, errOut, err = curl("-0", s.url("/trailers"))
	if err != nil {
		t.Fatalf("curl -0: %v\n%s", err, errOut)
	}
	if _, body, _ := strings.Cut(out, "\r\n\r\n"); body != "part one;part two" || strings.Contains(out, "x-checksum") {
		t.Errorf("HTTP/1.0: %q; want the body alone, trailers dropped", out)
	}

	out, errOut, err = curl(s.url("/length"))
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, errOut)
	}
	if _, body, _ := strings.Cut(out, "\r\n\r\n"); body != "part one;" || !strings.Contains(out, "content-length: 9\r\n") || strings.Contains(out, "x-checksum") {
		t.Errorf("with the app's Content-Length: %q; want the body alone, trailers dropped", out)
	}

	out, _, err = curl(s.url("/bad"))
	if err == nil || !strings.Contains(out, "part two\r\n") || strings.Contains(out, "\r\n0\r\n") {
		t.Errorf("a Content-Length trailer: curl %v, %q; want the body without its last chunk, cut", err, out)
	}
	s.waitFor(func() bool {
		for _, l := range s.loggedContaining("invalid response from the application") {
			if strings.Contains(l.str("error"), "not allowed in a trailer section") && l.str("path") == "/bad" {
				return true
			}
		}
		return false
	})

	if code, body := s.get("/trailers"); code != 200 || body != "part one;part two" {
		t.Errorf("the worker after a bad trailer: %d %q", code, body)
	}
}

// dechunk joins the data of complete chunks "size CRLF data CRLF";
// anything malformed comes back as a marker the comparison fails on.
func dechunk(s string) string {
	var out strings.Builder
	for s != "" {
		size, rest, ok := strings.Cut(s, "\r\n")
		n, err := strconv.ParseUint(size, 16, 32)
		if !ok || err != nil || n == 0 || uint64(len(rest)) < n+2 || rest[n:n+2] != "\r\n" {
			return "<malformed chunks: " + strconv.Quote(s) + ">"
		}
		out.WriteString(rest[:n])
		s = rest[n+2:]
	}
	return out.String()
}
