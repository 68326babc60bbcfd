package proxyproto

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzRead checks that Read never panics, never consumes more than a
// header may hold, and on success leaves the rest of the stream as it
// was. Seeds: testdata/fuzz/FuzzRead and the table below.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n",
		"PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n",
		"PROXY UNKNOWN\r\n",
		v2(1, 0x11, inet4("10.0.0.1", "10.0.0.2", 3, 4)),
		v2(1, 0x21, inet6("2001:db8::7", "2001:db8::1", 1, 2)),
		v2(0, 0x00, nil, 1, 0, 1, 'x'),
		request,
	} {
		f.Add([]byte(seed + request))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cr := &countingReader{r: bytes.NewReader(data)}
		br := bufio.NewReader(cr)
		h, err := Read(br)
		consumed := cr.n - int64(br.Buffered())
		if consumed > v2FixedLen+65535 {
			t.Fatalf("consumed %d bytes", consumed)
		}
		if err != nil {
			return
		}
		if h.Version == 1 && consumed > maxV1Line {
			t.Fatalf("v1 header of %d bytes accepted", consumed)
		}
		if h.Local == h.Source.IsValid() {
			t.Fatalf("Local=%v with Source %v", h.Local, h.Source)
		}
		rest, _ := io.ReadAll(br)
		if !bytes.Equal(rest, data[consumed:]) {
			t.Fatalf("rest of the stream changed")
		}
		if h.Version == 1 && !strings.HasSuffix(string(data[:consumed]), "\r\n") {
			t.Fatalf("v1 header without CRLF accepted: %q", data[:consumed])
		}
	})
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
