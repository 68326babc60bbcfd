package integration

import (
	"strings"
	"testing"
)

// TestASGITrailerField: the app's Trailer header field, announcing the
// fields of its trailer section (RFC 9110 §6.6.2), reaches a real
// client (curl --raw) with the trailers; where no trailer section can
// follow (HTTP/1.0, an app that asked for none) it is dropped.
func TestASGITrailerField(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-k", "asgi", "asgi_trailer_field:app"}})
	curl := func(args ...string) string {
		t.Helper()
		out, errOut, err := runClient(t, "", "curl", append([]string{"-sS", "--max-time", "20", "--raw", "-i"}, args...)...)
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, errOut)
		}
		return out
	}
	out := curl(s.url("/"))
	head, body, _ := strings.Cut(out, "\r\n\r\n")
	if !strings.Contains(head+"\r\n", "\r\ntrailer: x-checksum, x-count\r\n") || !strings.Contains(head, "Transfer-Encoding: chunked") ||
		!strings.HasSuffix(body, "0\r\nx-checksum: abc\r\nx-count: 1\r\n\r\n") {
		t.Errorf("curl --raw -i: %q; want the Trailer field in the head, the trailers after the last chunk", out)
	}
	for _, args := range [][]string{{"-0", s.url("/")}, {s.url("/plain")}} {
		if out := curl(args...); strings.Contains(strings.ToLower(out), "trailer:") || !strings.HasSuffix(out, "data") && !strings.HasSuffix(out, "0\r\n\r\n") {
			t.Errorf("curl %v: %q; want no Trailer field where no trailer section follows", args, out)
		}
	}
}
