package integration

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// TestFileWrapperLengthOverTheFile: a wsgi.file_wrapper response whose
// Content-Length is longer than what the file holds from its position
// goes out with the file's length (as Waitress sends it), the connection
// stays open for the next request, and the app's error is logged as a
// warning; a shorter Content-Length still limits the body.
func TestFileWrapperLengthOverTheFile(t *testing.T) {
	path, content := randomFile(t, 300<<10+5)
	s := start(t, serverOpts{args: []string{"pep3333:file_region"}})
	w := dialWire(t, "tcp", s.addr)
	for _, tt := range []struct {
		name, query string
		want        []byte
	}{
		{name: "longer by a byte", query: "&seek=1000&cl=" + strconv.Itoa(len(content)-999), want: content[1000:]},
		{name: "much longer", query: "&seek=7&cl=" + strconv.Itoa(10*len(content)), want: content[7:]},
		{name: "shorter, still honoured", query: "&seek=10&cl=100", want: content[10:110]},
	} {
		resp, body := w.roundTrip("GET", "GET /?path="+path+tt.query+" HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp.StatusCode != 200 || !bytes.Equal([]byte(body), tt.want) ||
			resp.Header.Get("Content-Length") != strconv.Itoa(len(tt.want)) || resp.Close {
			t.Fatalf("%s: %d, %d bytes, Content-Length %q, close %v; want 200, %d bytes and their length, kept open",
				tt.name, resp.StatusCode, len(body), resp.Header.Get("Content-Length"), resp.Close, len(tt.want))
		}
	}
	s.waitFor(func() bool {
		n := 0
		for _, l := range s.lines_() {
			if l.str("level") == "warn" && strings.Contains(l.str("message"), "longer than its wsgi.file_wrapper file") {
				n++
			}
		}
		return n == 2
	})
}
