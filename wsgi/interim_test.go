package wsgi

import (
	"errors"
	"testing"
)

func TestAppendInterim(t *testing.T) {
	link := [2][]byte{[]byte("Link"), []byte("</a.css>; rel=preload; as=style")}
	for _, tt := range []struct {
		status string
		fields [][2][]byte
		want   string
		err    error
	}{
		{"103 Early Hints", [][2][]byte{link}, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style\r\n\r\n", nil},
		{"103 Early Hints", nil, "HTTP/1.1 103 Early Hints\r\n\r\n", nil},
		{"102 Processing", nil, "HTTP/1.1 102 Processing\r\n\r\n", nil},
		{"200 OK", nil, "", ErrBadInterim},
		{"101 Switching Protocols", nil, "", ErrBadInterim},
		{"10x Odd", nil, "", ErrBadStatus},
		{"103 Early Hints", [][2][]byte{link, {[]byte("Content-Length"), []byte("0")}}, "", ErrInterimField},
		{"103 Early Hints", [][2][]byte{{[]byte("Transfer-Encoding"), []byte("chunked")}}, "", ErrInterimField},
		{"103 Early Hints", [][2][]byte{{[]byte("Link"), []byte("a\r\nX-Injected: 1")}}, "", ErrBadHeaderValue},
		{"103 Early Hints", [][2][]byte{{[]byte("Bad Name"), []byte("v")}}, "", ErrBadHeaderName},
	} {
		got, err := AppendInterim([]byte("kept"), []byte(tt.status), tt.fields)
		if !errors.Is(err, tt.err) {
			t.Errorf("%q %q: error %v, want %v", tt.status, tt.fields, err, tt.err)
		}
		if want := "kept" + tt.want; string(got) != want {
			t.Errorf("%q %q: %q, want %q", tt.status, tt.fields, got, want)
		}
	}
}
