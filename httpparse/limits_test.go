package httpparse

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func manyFields(n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "X-F%d: v\r\n", i)
	}
	return sb.String()
}

func chunkedPost(body string) string {
	return "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body
}

var limitCases = []struct {
	name    string
	limits  Limits
	input   string
	wantErr *Error // nil: the request is served
}{
	{
		name:   "request line at a custom limit",
		limits: Limits{RequestLine: 20},
		input:  "GET /123456 HTTP/1.1\r\nHost: h\r\n\r\n", // 20 bytes
	},
	{
		name:    "request line one past a custom limit",
		limits:  Limits{RequestLine: 20},
		input:   "GET /1234567 HTTP/1.1\r\nHost: h\r\n\r\n",
		wantErr: ErrRequestLineTooLong,
	},
	{
		name:   "request line unlimited when 0",
		limits: Limits{RequestLine: 0},
		input:  "GET /" + strings.Repeat("a", 100000) + " HTTP/1.1\r\nHost: h\r\n\r\n",
	},
	{
		name:    "request line limit counts only the request line",
		limits:  Limits{RequestLine: 16},
		input:   "\r\nGET / HTTP/1.1\r\nHost: a-long-host-name.example\r\n\r\n",
		wantErr: nil,
	},
	{
		name:   "fields at a custom limit",
		limits: Limits{Fields: 3},
		input:  "GET / HTTP/1.1\r\nHost: h\r\n" + manyFields(2) + "\r\n",
	},
	{
		name:    "fields one past a custom limit",
		limits:  Limits{Fields: 3},
		input:   "GET / HTTP/1.1\r\nHost: h\r\n" + manyFields(3) + "\r\n",
		wantErr: ErrTooManyHeaders,
	},
	{
		name:   "fields 0 means Gunicorn's ceiling of 32768",
		limits: Limits{Fields: 0},
		input:  "GET / HTTP/1.1\r\nHost: h\r\n" + manyFields(32767) + "\r\n",
	},
	{
		name:    "fields 0 still refuses 32769",
		limits:  Limits{Fields: 0},
		input:   "GET / HTTP/1.1\r\nHost: h\r\n" + manyFields(32768) + "\r\n",
		wantErr: ErrTooManyHeaders,
	},
	{
		name:   "field size at a custom limit counts the CRLF, as Gunicorn does",
		limits: Limits{FieldSize: 12},
		input:  "GET / HTTP/1.1\r\nHost: h\r\nX-A: 12345\r\n\r\n", // 10 bytes + CRLF
	},
	{
		name:    "field size one past a custom limit",
		limits:  Limits{FieldSize: 12},
		input:   "GET / HTTP/1.1\r\nHost: h\r\nX-A: 123456\r\n\r\n",
		wantErr: ErrHeaderTooLarge,
	},
	{
		name:    "field size counts trailing whitespace",
		limits:  Limits{FieldSize: 12},
		input:   "GET / HTTP/1.1\r\nHost: h\r\nX-A: 12345 \r\n\r\n",
		wantErr: ErrHeaderTooLarge,
	},
	{
		name:   "field size 0 means Gunicorn main's default 8190: 8188 bytes + CRLF accepted",
		limits: Limits{FieldSize: 0},
		input:  "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", 8188-len("X-Big: ")) + "\r\n\r\n",
	},
	{
		name:    "field size 0 means 8190, not unlimited: 8189 bytes + CRLF refused",
		limits:  Limits{FieldSize: 0},
		input:   "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", 8189-len("X-Big: ")) + "\r\n\r\n",
		wantErr: ErrHeaderTooLarge,
	},
	{
		name:    "negative field size means 8190 too",
		limits:  Limits{FieldSize: -1},
		input:   "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", 10000) + "\r\n\r\n",
		wantErr: ErrHeaderTooLarge,
	},
	{
		name:    "field size bounds each trailer line too",
		limits:  Limits{FieldSize: 30, TrailerBytes: 100},
		input:   chunkedPost("0\r\nX-A: " + strings.Repeat("t", 24) + "\r\n\r\n"), // 29 bytes + CRLF
		wantErr: ErrHeaderTooLarge,
	},
	{
		name:   "a trailer line at the field size is accepted",
		limits: Limits{FieldSize: 30, TrailerBytes: 100},
		input:  chunkedPost("0\r\nX-A: " + strings.Repeat("t", 23) + "\r\n\r\n"), // 28 bytes + CRLF
	},
	{
		name:   "body at the Content-Length limit",
		limits: Limits{Body: 5},
		input:  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
	},
	{
		name:    "body past the Content-Length limit",
		limits:  Limits{Body: 5},
		input:   "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nhello!",
		wantErr: ErrBodyTooLarge,
	},
	{
		name:   "chunked body at the limit",
		limits: Limits{Body: 5},
		input:  chunkedPost("2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n"),
	},
	{
		name:    "chunked body past the limit across chunks",
		limits:  Limits{Body: 5},
		input:   chunkedPost("2\r\nhe\r\n4\r\nllo!\r\n0\r\n\r\n"),
		wantErr: ErrBodyTooLarge,
	},
	{
		name:    "chunk size announcing more than the limit",
		limits:  Limits{Body: 1 << 20},
		input:   chunkedPost("7fffffffffffffff\r\nx"),
		wantErr: ErrBodyTooLarge,
	},
	{
		name:   "trailers at the limit",
		limits: Limits{TrailerBytes: 10},
		input:  chunkedPost("0\r\nX-T: 123\r\n\r\n"), // 8 + CRLF = 10
	},
	{
		name:    "trailers past the limit",
		limits:  Limits{TrailerBytes: 10},
		input:   chunkedPost("0\r\nX-T: 1234\r\n\r\n"),
		wantErr: ErrTrailersTooLarge,
	},
	{
		name:    "trailer bytes add up across fields",
		limits:  Limits{TrailerBytes: 20},
		input:   chunkedPost("0\r\nX-A: 1234\r\nX-B: 1234\r\nX-C: 1\r\n\r\n"),
		wantErr: ErrTrailersTooLarge,
	},
	{
		name:    "trailer fields count against Fields",
		limits:  Limits{Fields: 2},
		input:   chunkedPost("0\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n\r\n"),
		wantErr: ErrTooManyHeaders,
	},
}

func TestLimits(t *testing.T) {
	for _, tc := range limitCases {
		t.Run(tc.name, func(t *testing.T) {
			paths, _, err := serveAll(tc.input, tc.limits)
			if tc.wantErr == nil {
				if err != nil || len(paths) != 1 {
					t.Fatalf("served %q, error %v; want one request, no error", paths, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v; want %v", err, tc.wantErr)
			}
		})
	}
}

func TestDefaultLimitsAreGunicorns(t *testing.T) {
	want := Limits{RequestLine: 4094, Fields: 100, FieldSize: 8190, Body: 0, TrailerBytes: 8190}
	if DefaultLimits != want {
		t.Errorf("DefaultLimits = %+v; want %+v", DefaultLimits, want)
	}
}
