package engine

import (
	"strings"
	"testing"
)

// trailerRoutes answer with a body in two steps and trailers on the
// last one; /one has it all in one step (a body the engine holds whole
// must still be chunked), /length brings its own Content-Length, /bad
// a refused trailer field (RFC 9110 §6.5.1), /crlf a value that would
// split the trailer section.
func trailerRoutes() map[string]route {
	trailers := [][2][]byte{{[]byte("X-Checksum"), []byte("abc")}, {[]byte("X-Count"), []byte("2")}}
	withTrailers := func(first Step, last Step) []Step {
		first.TrailersFollow = true
		last.Trailers = trailers
		return []Step{first, last}
	}
	return map[string]route{
		"/two": func(*fakeCaller, *Request, func(Step) bool) []Step {
			return withTrailers(head("200 OK", "one;"), Step{Body: []byte("two")})
		},
		"/one": func(*fakeCaller, *Request, func(Step) bool) []Step {
			s := head("200 OK", "whole")
			s.TrailersFollow, s.Trailers = true, trailers
			return []Step{s}
		},
		"/length": func(*fakeCaller, *Request, func(Step) bool) []Step {
			return withTrailers(head("200 OK", "one;", "Content-Length", "7"), Step{Body: []byte("two")})
		},
		"/bad": func(*fakeCaller, *Request, func(Step) bool) []Step {
			s := withTrailers(head("200 OK", "one;"), Step{Body: []byte("two")})
			s[1].Trailers = [][2][]byte{{[]byte("Transfer-Encoding"), []byte("chunked")}}
			return s
		},
		"/crlf": func(*fakeCaller, *Request, func(Step) bool) []Step {
			s := withTrailers(head("200 OK", "one;"), Step{Body: []byte("two")})
			s[1].Trailers = [][2][]byte{{[]byte("X-Split"), []byte("a\r\nX-Evil: 1")}}
			return s
		},
	}
}

// Trailers follow the last chunk (RFC 9112 §7.1.2) on HTTP/1.1, and are
// dropped where the response is not chunked; an invalid one cuts the
// response before its last chunk, and the engine serves on.
func TestServeTrailers(t *testing.T) {
	app := newFakeApp(t, trailerRoutes())
	_, addr := serveFake(t, app, testConfig(t), 1)
	const section = "0\r\nX-Checksum: abc\r\nX-Count: 2\r\n\r\n"

	for path, body := range map[string]string{"/two": "one;two", "/one": "whole"} {
		resp := roundTrip(t, addr, get(path))
		h, got := bodyOf(t, resp)
		if !strings.Contains(h, "Transfer-Encoding: chunked") || got != body || !strings.HasSuffix(resp, "\r\n"+section) {
			t.Errorf("%s: %q; want %q chunked, then the trailer section", path, resp, body)
		}
	}

	resp := roundTrip(t, addr, "GET /two HTTP/1.0\r\nHost: t\r\n\r\n")
	if h, got := bodyOf(t, resp); strings.Contains(h, "chunked") || got != "one;two" {
		t.Errorf("HTTP/1.0: %q; want the body alone, trailers dropped", resp)
	}
	resp = roundTrip(t, addr, get("/length"))
	if h, got := bodyOf(t, resp); !strings.Contains(h, "Content-Length: 7") || got != "one;two" {
		t.Errorf("the app's Content-Length: %q; want the body alone, trailers dropped", resp)
	}
	resp = roundTrip(t, addr, "HEAD /two HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	if _, got := bodyOf(t, resp); got != "" {
		t.Errorf("HEAD: %q; want no body and no trailers", resp)
	}

	for _, path := range []string{"/bad", "/crlf"} {
		resp := roundTrip(t, addr, "GET "+path+" HTTP/1.1\r\nHost: t\r\n\r\n") // keep-alive asked
		if !strings.HasPrefix(resp, "HTTP/1.1 200 OK") || !strings.HasSuffix(resp, "3\r\ntwo\r\n") {
			t.Errorf("%s: %q; want the body without its last chunk, and the connection closed", path, resp)
		}
	}
	if _, got := bodyOf(t, roundTrip(t, addr, get("/two"))); got != "one;two" {
		t.Errorf("after the invalid trailers: %q", got)
	}
}
