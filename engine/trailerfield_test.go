package engine

import (
	"strings"
	"testing"
)

// The app's Trailer fields announce its trailers (RFC 9110 §6.6.2): kept
// where trailers follow a chunked body, dropped where they cannot.
func TestServeTrailerFieldAnnounced(t *testing.T) {
	trailers := [][2][]byte{{[]byte("X-Checksum"), []byte("abc")}}
	app := newFakeApp(t, map[string]route{
		"/announced": func(*fakeCaller, *Request, func(Step) bool) []Step {
			first := head("200 OK", "one;", "Trailer", "X-Checksum", "trailer", "X-Count")
			first.TrailersFollow = true
			return []Step{first, {Body: []byte("two"), Trailers: trailers}}
		},
		"/none": func(*fakeCaller, *Request, func(Step) bool) []Step { // says Trailer, sends none
			return []Step{head("200 OK", "one;", "Trailer", "X-Checksum"), {Body: []byte("two")}}
		},
	})
	_, addr := serveFake(t, app, testConfig(t), 1)
	resp := roundTrip(t, addr, get("/announced"))
	h, body := bodyOf(t, resp)
	if !strings.Contains(h, "\r\nTrailer: X-Checksum\r\ntrailer: X-Count") || body != "one;two" ||
		!strings.HasSuffix(resp, "0\r\nX-Checksum: abc\r\n\r\n") {
		t.Errorf("trailers announced: %q; want the app's Trailer fields in the head, in order", resp)
	}
	for _, req := range []string{
		"GET /announced HTTP/1.0\r\nHost: t\r\n\r\n", // not chunked: the trailers are dropped
		get("/none"),
	} {
		if resp := roundTrip(t, addr, req); strings.Contains(strings.ToLower(resp), "trailer:") {
			t.Errorf("%q: %q; want no Trailer field where no trailer section follows", req, resp)
		}
	}
}
