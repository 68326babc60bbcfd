package httpparse

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
)

// browserRequest is a typical 500-byte browser navigation.
var browserRequest = "GET /articles/2024/06/strict-parsers?ref=home&page=2 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"Connection: keep-alive\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Accept-Language: en-US,en;q=0.9,fr;q=0.8\r\n" +
	"Cookie: session=4f2a9c1e8b7d6a5f; theme=dark\r\n" +
	"\r\n"

// apiRequest is an API call with 20 header fields and a small JSON body.
var apiRequest = "POST /api/v2/orders/12345/items?expand=price HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"User-Agent: example-sdk-go/1.8.2\r\n" +
	"Accept: application/json\r\n" +
	"Accept-Encoding: gzip\r\n" +
	"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl\r\n" +
	"Content-Type: application/json\r\n" +
	"Content-Length: 27\r\n" +
	"X-Request-Id: 6f1c3a52-9d2e-4b8f-a1c7-0e5d9b3f2a61\r\n" +
	"X-Correlation-Id: 0e5d9b3f2a61\r\n" +
	"X-Forwarded-For: 203.0.113.7\r\n" +
	"X-Forwarded-Proto: https\r\n" +
	"X-Real-Ip: 203.0.113.7\r\n" +
	"Traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n" +
	"Tracestate: vendor=opaque\r\n" +
	"Idempotency-Key: 8d3e1f02\r\n" +
	"Cache-Control: no-cache\r\n" +
	"Pragma: no-cache\r\n" +
	"Origin: https://app.example.com\r\n" +
	"Accept-Language: en\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n" +
	`{"sku":"A-1","quantity":2}`

// replayReader returns msg over and over, like a client pipelining the
// same request forever.
type replayReader struct {
	msg string
	off int
}

func (r *replayReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.msg[r.off:])
		n += c
		r.off = (r.off + c) % len(r.msg)
	}
	return n, nil
}

var benchInputs = []struct{ name, msg string }{
	{name: "browser-500B", msg: browserRequest},
	{name: "api-20-headers", msg: apiRequest},
}

// BenchmarkReadRequest compares this parser with net/http.ReadRequest on the
// same bytes, each reading successive requests off one connection and
// draining their bodies.
func BenchmarkReadRequest(b *testing.B) {
	for _, in := range benchInputs {
		b.Run(in.name+"/httpparse", func(b *testing.B) {
			r := NewReader(bufio.NewReader(&replayReader{msg: in.msg}), DefaultLimits)
			var req Request
			b.SetBytes(int64(len(in.msg)))
			b.ReportAllocs()
			for b.Loop() {
				if err := r.ReadRequest(&req); err != nil {
					b.Fatal(err)
				}
				if err := req.Body.Discard(1 << 20); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/net-http", func(b *testing.B) {
			br := bufio.NewReader(&replayReader{msg: in.msg})
			b.SetBytes(int64(len(in.msg)))
			b.ReportAllocs()
			for b.Loop() {
				req, err := http.ReadRequest(br)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, req.Body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAllocationBudget holds the head scan to at most one allocation per
// request on a warm Reader (the Headers array of a new Request), and to zero
// once the Request is reused.
func TestAllocationBudget(t *testing.T) {
	for _, in := range benchInputs {
		t.Run(in.name, func(t *testing.T) {
			r := NewReader(bufio.NewReader(&replayReader{msg: in.msg}), DefaultLimits)
			var reused Request
			readOne := func(req *Request) {
				if err := r.ReadRequest(req); err != nil {
					t.Fatal(err)
				}
				if err := req.Body.Discard(1 << 20); err != nil {
					t.Fatal(err)
				}
			}
			readOne(&reused) // warm the Reader's buffers
			if got := testing.AllocsPerRun(100, func() { readOne(&reused) }); got != 0 {
				t.Errorf("allocs per request, reused Request = %v; want 0", got)
			}
			fresh := func() {
				reused.Headers = nil
				readOne(&reused)
			}
			if got := testing.AllocsPerRun(100, fresh); got > 1 {
				t.Errorf("allocs per request, fresh Headers = %v; want <= 1", got)
			}
		})
	}
}

func TestBenchInputsAreWhatTheyClaim(t *testing.T) {
	if n := len(browserRequest); n < 450 || n > 550 {
		t.Errorf("browser request is %d bytes; want about 500", n)
	}
	if n := strings.Count(apiRequest, "\r\n") - 2; n != 20 {
		t.Errorf("API request has %d header fields; want 20", n)
	}
}
