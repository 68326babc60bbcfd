package wsgi

import (
	"errors"
	"testing"
)

func TestAppendTrailers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields [][2][]byte
		want   string
		err    error
	}{
		{name: "none", want: "\r\n"},
		{name: "two", fields: [][2][]byte{{[]byte("X-Sum"), []byte("1")}, {[]byte("grpc-status"), []byte("0")}},
			want: "X-Sum: 1\r\ngrpc-status: 0\r\n\r\n"},
		{name: "framing", fields: [][2][]byte{{[]byte("Content-Length"), []byte("5")}}, err: ErrForbiddenTrailer},
		{name: "routing", fields: [][2][]byte{{[]byte("host"), []byte("x")}}, err: ErrForbiddenTrailer},
		{name: "bad name", fields: [][2][]byte{{[]byte("X Sum"), []byte("1")}}, err: ErrBadHeaderName},
		{name: "CRLF in value", fields: [][2][]byte{{[]byte("X-Sum"), []byte("1\r\nX-Evil: 2")}}, err: ErrBadHeaderValue},
		{name: "NUL in value", fields: [][2][]byte{{[]byte("X-Sum"), []byte("1\x00")}}, err: ErrBadHeaderValue},
	} {
		got, err := AppendTrailers([]byte("0\r\n"), tc.fields)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: AppendTrailers(%q) error %v; want %v", tc.name, tc.fields, err, tc.err)
			continue
		}
		want := "0\r\n" + tc.want
		if tc.err != nil {
			want = "0\r\n" // unchanged on error
		}
		if string(got) != want {
			t.Errorf("%s: AppendTrailers(%q) = %q; want %q", tc.name, tc.fields, got, want)
		}
	}
}
