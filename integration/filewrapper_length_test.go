package integration

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestFileWrapperLengthOverTheFile: a wsgi.file_wrapper response whose
// Content-Length is longer than what the file holds from its position
// (a file truncated after the app took its size) keeps the app's
// Content-Length, sends what the file holds and closes the connection,
// so the client sees the body cut off, as under Gunicorn and uWSGI,
// rather than a complete-looking shorter file; the app's error is logged
// as a warning. A shorter Content-Length still limits the body, on a
// connection that stays open. With sendfile and without.
func TestFileWrapperLengthOverTheFile(t *testing.T) {
	path, content := randomFile(t, 300<<10+5)
	for _, args := range [][]string{{"pep3333:file_region"}, {"--no-sendfile", "pep3333:file_region"}} {
		s := start(t, serverOpts{args: args})
		for _, tt := range []struct {
			name, query string
			cl          int
			want        []byte
		}{
			{name: "longer by a byte", query: "&seek=1000", cl: len(content) - 999, want: content[1000:]},
			{name: "much longer", query: "&seek=7", cl: 10 * len(content), want: content[7:]},
			{name: "shorter, still honoured", query: "&seek=10", cl: 100, want: content[10:110]},
		} {
			w := dialWire(t, "tcp", s.addr)
			w.send("GET /?path=" + path + tt.query + "&cl=" + strconv.Itoa(tt.cl) + " HTTP/1.1\r\nHost: h\r\n\r\n")
			resp, err := http.ReadResponse(w.br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatalf("%v %s: %v", args, tt.name, err)
			}
			body, err := io.ReadAll(resp.Body)
			short := len(tt.want) < tt.cl
			if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != strconv.Itoa(tt.cl) ||
				!bytes.Equal(body, tt.want) || short != errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%v %s: %d, Content-Length %q, %d bytes (%v); want 200, %d, %d bytes, cut off %v",
					args, tt.name, resp.StatusCode, resp.Header.Get("Content-Length"), len(body), err, tt.cl, len(tt.want), short)
			}
			if !short { // kept open: the next request is served
				w.send("GET /?path=" + path + "&cl=1 HTTP/1.1\r\nHost: h\r\n\r\n")
				if resp, body := w.response("GET"); resp.StatusCode != 200 || body != string(content[:1]) {
					t.Fatalf("%v %s: the next request got %d %q", args, tt.name, resp.StatusCode, body)
				}
			}
		}
		s.waitFor(func() bool {
			return len(s.linesWhere(func(m string) bool {
				return strings.HasPrefix(m, "the app's body is shorter than its Content-Length")
			})) == 2
		})
	}
}
