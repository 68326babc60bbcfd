package httpparse

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseChunkLine(t *testing.T) {
	for _, tc := range []struct {
		line     string
		wantSize int64
		wantErr  *Error
	}{
		{line: "0", wantSize: 0},
		{line: "1a", wantSize: 26},
		{line: "1A", wantSize: 26},
		{line: "000010", wantSize: 16},
		{line: "7fffffffffffffff", wantSize: 1<<63 - 1},
		{line: "5;a", wantSize: 5},
		{line: "5;a=b;c=\"d e\"", wantSize: 5},
		{line: "5; a = b ;c", wantSize: 5},
		{line: "5;a=\"\\\"\"", wantSize: 5},
		{line: "000000000000000a", wantSize: 10},
		{line: "0000000000000000a", wantErr: ErrInvalidChunkSize},
		{line: "", wantErr: ErrInvalidChunkSize},
		{line: "8000000000000000", wantErr: ErrInvalidChunkSize},
		{line: "ffffffffffffffffff", wantErr: ErrInvalidChunkSize},
		{line: "0x5", wantErr: ErrInvalidChunkSize},
		{line: "-5", wantErr: ErrInvalidChunkSize},
		{line: "+5", wantErr: ErrInvalidChunkSize},
		{line: "5_0", wantErr: ErrInvalidChunkSize},
		{line: " 5", wantErr: ErrInvalidChunkSize},
		{line: "5g", wantErr: ErrInvalidChunkSize},
		{line: "5 ", wantErr: ErrInvalidChunkSize},
		{line: "5 ;a", wantErr: ErrInvalidChunkSize},
		{line: "5\t;a", wantErr: ErrInvalidChunkSize},
		{line: "5;", wantErr: ErrInvalidChunkExtension},
		{line: "5;a;", wantErr: ErrInvalidChunkExtension},
		{line: "5;a ", wantErr: ErrInvalidChunkExtension},
		{line: "5;a=", wantErr: ErrInvalidChunkExtension},
		{line: "5;a=\"b", wantErr: ErrInvalidChunkExtension},
		{line: "5;a=b c", wantErr: ErrInvalidChunkExtension},
		{line: "5;a=\"b\\", wantErr: ErrInvalidChunkExtension},
		{line: "5;a=\"\x01\"", wantErr: ErrInvalidChunkExtension},
		{line: "5;=b", wantErr: ErrInvalidChunkExtension},
	} {
		size, err := parseChunkLine([]byte(tc.line))
		if tc.wantErr != nil {
			if err != tc.wantErr {
				t.Errorf("parseChunkLine(%q) = %d, %v; want error %v", tc.line, size, err, tc.wantErr)
			}
			continue
		}
		if err != nil || size != tc.wantSize {
			t.Errorf("parseChunkLine(%q) = %d, %v; want %d, nil", tc.line, size, err, tc.wantSize)
		}
	}
}

// errWouldBlock marks a read past what a test's client has sent.
var errWouldBlock = errors.New("read past the bytes the client sent: would block")

// sentSoFar returns the given bytes, then errWouldBlock: a client that has
// not sent the rest yet.
type sentSoFar struct{ r io.Reader }

func (s *sentSoFar) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		return n, errWouldBlock
	}
	return n, err
}

func chunkedReader(t *testing.T, in io.Reader) *Request {
	t.Helper()
	head := "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	r := NewReader(bufio.NewReader(io.MultiReader(strings.NewReader(head), in)), DefaultLimits)
	var req Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	return &req
}

func TestChunkedReadReturnsDataWithoutWaitingForNextChunk(t *testing.T) {
	req := chunkedReader(t, &sentSoFar{strings.NewReader("5\r\nhello")})
	p := make([]byte, 64)
	n, err := req.Body.Read(p)
	if err != nil || string(p[:n]) != "hello" {
		t.Fatalf("Read = %q, %v; want %q, nil without reading further", p[:n], err, "hello")
	}
	if req.Body.Done() {
		t.Error("Done() = true before the last chunk arrived")
	}
}

func TestChunkedDoneRightAfterLastDataWhenBuffered(t *testing.T) {
	req := chunkedReader(t, strings.NewReader("5\r\nhello\r\n0\r\nX-T: v\r\n\r\n"))
	p := make([]byte, 5)
	if n, err := io.ReadFull(req.Body, p); err != nil || n != 5 {
		t.Fatalf("ReadFull = %d, %v", n, err)
	}
	if !req.Body.Done() {
		t.Error("Done() = false after the last data byte with the last chunk buffered")
	}
	if tr := req.Body.Trailers(); len(tr) != 1 || string(tr[0].Value) != "v" {
		t.Errorf("Trailers() = %q; want one trailer X-T: v", tr)
	}
	if n, err := req.Body.Read(p); n != 0 || err != io.EOF {
		t.Errorf("Read after done = %d, %v; want 0, io.EOF", n, err)
	}
}

func TestChunkedTrailersNilBeforeDone(t *testing.T) {
	req := chunkedReader(t, &sentSoFar{strings.NewReader("5\r\nhello\r\n0\r\nX-T: v\r\n")})
	if _, err := io.ReadAll(req.Body); !errors.Is(err, errWouldBlock) {
		t.Fatalf("ReadAll = %v; want the client's missing bytes", err)
	}
	if tr := req.Body.Trailers(); tr != nil {
		t.Errorf("Trailers() before the end = %q; want nil", tr)
	}
}

func TestChunkedErrorIsStickyAndBlocksNextRequest(t *testing.T) {
	in := "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n" +
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
	r := newTestReader(in)
	var req Request
	if err := r.ReadRequest(&req); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(req.Body); err != ErrMissingChunkCRLF {
		t.Fatalf("ReadAll = %v; want ErrMissingChunkCRLF", err)
	}
	if _, err := req.Body.Read(make([]byte, 8)); err != ErrMissingChunkCRLF {
		t.Errorf("second Read = %v; want the same sticky error", err)
	}
	if err := req.Body.Discard(1 << 20); err != ErrMissingChunkCRLF {
		t.Errorf("Discard = %v; want the same sticky error", err)
	}
	if req.Body.Done() {
		t.Error("Done() = true after a malformed body")
	}
	if err := r.ReadRequest(&req); err != ErrMissingChunkCRLF {
		t.Errorf("ReadRequest after a malformed body = %v; want ErrMissingChunkCRLF", err)
	}
}

func TestBodyZeroLengthRead(t *testing.T) {
	for _, framing := range []string{"Content-Length: 3\r\n\r\nabc", "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"} {
		r := newTestReader("POST / HTTP/1.1\r\nHost: h\r\n" + framing)
		var req Request
		if err := r.ReadRequest(&req); err != nil {
			t.Fatal(err)
		}
		if n, err := req.Body.Read(nil); n != 0 || err != nil {
			t.Errorf("%q: Read(nil) = %d, %v; want 0, nil", framing, n, err)
		}
		if b, err := io.ReadAll(req.Body); string(b) != "abc" || err != nil {
			t.Errorf("%q: ReadAll = %q, %v; want abc", framing, b, err)
		}
	}
}
