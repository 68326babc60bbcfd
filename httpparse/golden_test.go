package httpparse

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

var update = flag.Bool("update", false, "rewrite testdata/requests/*.golden from the parser's output")

const goldenDir = "testdata/requests"

// decodeHTTPFile turns a corpus file into wire bytes. Newlines in the file
// are layout only; the bytes are spelled with escapes: \r \n \t \0 \\ \xHH.
func decodeHTTPFile(src []byte) ([]byte, error) {
	var out []byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\n':
			continue
		case c == '\r':
			return nil, fmt.Errorf("offset %d: literal CR; write \\r", i)
		case c != '\\':
			out = append(out, c)
			continue
		}
		if i+1 == len(src) {
			return nil, fmt.Errorf("offset %d: lone backslash", i)
		}
		i++
		switch src[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 >= len(src) {
				return nil, fmt.Errorf("offset %d: short \\x escape", i)
			}
			v, err := strconv.ParseUint(string(src[i+1:i+3]), 16, 8)
			if err != nil {
				return nil, fmt.Errorf("offset %d: bad \\x escape: %v", i, err)
			}
			out = append(out, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf("offset %d: unknown escape \\%c", i, src[i])
		}
	}
	return out, nil
}

// feed is one way of delivering a request stream to the parser.
type feed struct {
	name    string
	bufSize int // bufio.Reader size
	readBuf int // size of the slices handed to Body.Read
	reader  func(in []byte) io.Reader
}

// feeds splits the input every way the golden test tries: whole, per line,
// one byte at a time, in halves and at seeded random points; and whole
// through a 16-byte bufio.Reader so every line outgrows the buffer.
var feeds = []feed{
	{name: "whole", bufSize: 4096, readBuf: 4096, reader: func(in []byte) io.Reader { return bytes.NewReader(in) }},
	{name: "tiny-buffer", bufSize: 16, readBuf: 5, reader: func(in []byte) io.Reader { return bytes.NewReader(in) }},
	{name: "per-line", bufSize: 4096, readBuf: 7, reader: func(in []byte) io.Reader { return splitLines(in) }},
	{name: "one-byte", bufSize: 4096, readBuf: 1, reader: func(in []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(in)) }},
	{name: "halves", bufSize: 4096, readBuf: 64, reader: func(in []byte) io.Reader { return splitAt(in, len(in)/2) }},
	{name: "random-1", bufSize: 64, readBuf: 3, reader: func(in []byte) io.Reader { return splitRandom(in, 1) }},
	{name: "random-2", bufSize: 4096, readBuf: 11, reader: func(in []byte) io.Reader { return splitRandom(in, 2) }},
	{name: "random-3", bufSize: 128, readBuf: 4096, reader: func(in []byte) io.Reader { return splitRandom(in, 3) }},
}

// segmentReader returns at most one segment per Read, as a socket returns
// what has arrived so far.
type segmentReader struct{ segs [][]byte }

func (s *segmentReader) Read(p []byte) (int, error) {
	for len(s.segs) > 0 && len(s.segs[0]) == 0 {
		s.segs = s.segs[1:]
	}
	if len(s.segs) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.segs[0])
	s.segs[0] = s.segs[0][n:]
	return n, nil
}

func splitAt(in []byte, points ...int) io.Reader {
	var segs [][]byte
	prev := 0
	for _, p := range points {
		segs = append(segs, in[prev:p])
		prev = p
	}
	return &segmentReader{segs: append(segs, in[prev:])}
}

func splitLines(in []byte) io.Reader {
	var points []int
	for i, c := range in {
		if c == '\n' {
			points = append(points, i+1)
		}
	}
	return splitAt(in, points...)
}

func splitRandom(in []byte, seed uint64) io.Reader {
	rng := rand.New(rand.NewPCG(seed, uint64(len(in))))
	var points []int
	for p := 0; p < len(in); {
		p += 1 + rng.IntN(24)
		if p < len(in) {
			points = append(points, p)
		}
	}
	return splitAt(in, points...)
}

// transcript reads every request of the stream and describes what the
// parser made of it: the text the golden files hold.
func transcript(in io.Reader, bufSize, readBuf int, lim Limits) string {
	var sb strings.Builder
	r := NewReader(bufio.NewReaderSize(in, bufSize), lim)
	var req Request
	for n := 1; ; n++ {
		err := r.ReadRequest(&req)
		if err != nil {
			sb.WriteString("end: " + describeError(err) + "\n")
			return sb.String()
		}
		fmt.Fprintf(&sb, "request %d\n", n)
		describeRequest(&sb, &req)
		body, err := readBody(req.Body, readBuf)
		fmt.Fprintf(&sb, "  body: %q\n", body)
		if err != nil {
			sb.WriteString("  body-error: " + describeError(err) + "\n")
			sb.WriteString("end: body error\n")
			return sb.String()
		}
		fmt.Fprintf(&sb, "  body-done: %v\n", req.Body.Done())
		for _, h := range req.Body.Trailers() {
			fmt.Fprintf(&sb, "  trailer: %q: %q\n", h.Name, h.Value)
		}
	}
}

func describeRequest(sb *strings.Builder, req *Request) {
	fmt.Fprintf(sb, "  line: %q %q HTTP/%d.%d\n", req.Method, req.Target, req.Major, req.Minor)
	fmt.Fprintf(sb, "  path: %q\n", req.Path)
	if req.Query != nil {
		fmt.Fprintf(sb, "  query: %q\n", req.Query)
	}
	if req.Host != nil {
		fmt.Fprintf(sb, "  host: %q\n", req.Host)
	}
	for _, h := range req.Headers {
		fmt.Fprintf(sb, "  header: %q: %q\n", h.Name, h.Value)
	}
	switch {
	case req.Chunked:
		fmt.Fprintf(sb, "  framing: chunked (content-length %d)\n", req.ContentLength)
	case req.HasContentLength:
		fmt.Fprintf(sb, "  framing: content-length %d\n", req.ContentLength)
	default:
		fmt.Fprintf(sb, "  framing: none (content-length %d)\n", req.ContentLength)
	}
	fmt.Fprintf(sb, "  keep-alive: %v\n  expect-continue: %v\n", req.KeepAlive, req.ExpectContinue)
	if req.ContentType != nil {
		fmt.Fprintf(sb, "  content-type: %q\n", req.ContentType)
	}
}

// readBody reads b to its end through slices of readBuf bytes.
func readBody(b *Body, readBuf int) ([]byte, error) {
	var out []byte
	p := make([]byte, readBuf)
	for {
		n, err := b.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func describeError(err error) string {
	var perr *Error
	switch {
	case errors.As(err, &perr):
		return fmt.Sprintf("%d %q", perr.Status, perr.Reason)
	case err == io.EOF:
		return "clean close"
	case err == io.ErrUnexpectedEOF:
		return "unexpected EOF"
	}
	return "other error: " + err.Error()
}

func loadCorpus(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(goldenDir, "*.http"))
	if err != nil {
		t.Fatal(err)
	}
	corpus := make(map[string][]byte, len(paths))
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		in, err := decodeHTTPFile(src)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		corpus[strings.TrimSuffix(filepath.Base(p), ".http")] = in
	}
	return corpus
}

// TestGoldenCorpus parses every corpus file, compares the transcript with
// its .golden sibling, and checks that every way of splitting the input
// gives the same transcript.
func TestGoldenCorpus(t *testing.T) {
	corpus := loadCorpus(t)
	if len(corpus) < 80 {
		t.Errorf("corpus has %d cases; want at least 80", len(corpus))
	}
	for name, in := range corpus {
		t.Run(name, func(t *testing.T) {
			golden := filepath.Join(goldenDir, name+".golden")
			whole := feeds[0]
			want := transcript(whole.reader(in), whole.bufSize, whole.readBuf, DefaultLimits)
			if *update {
				if err := os.WriteFile(golden, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			stored, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenCorpus -update)", err)
			}
			if string(stored) != want {
				t.Errorf("transcript differs from %s\ngot:\n%s\nwant:\n%s", golden, want, stored)
			}
			for _, f := range feeds[1:] {
				if got := transcript(f.reader(in), f.bufSize, f.readBuf, DefaultLimits); got != want {
					t.Errorf("feed %s: transcript differs from whole input\ngot:\n%s\nwant:\n%s", f.name, got, want)
				}
			}
		})
	}
}

// TestGoldenFilesHaveInputs catches expectation files left behind by a
// renamed or deleted case.
func TestGoldenFilesHaveInputs(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(goldenDir, "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := os.Stat(strings.TrimSuffix(p, ".golden") + ".http"); err != nil {
			t.Errorf("%s has no .http input", p)
		}
	}
}
