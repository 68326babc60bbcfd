package httpparse

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// serveAll reads every request of input as a server loop would, draining
// each body, and returns the paths served and the error that ended the
// stream (nil for a clean close).
func serveAll(input string, lim Limits) (paths []string, bodies []string, err error) {
	r := NewReader(bufio.NewReader(strings.NewReader(input)), lim)
	var req Request
	for {
		if err := r.ReadRequest(&req); err != nil {
			if err == io.EOF {
				err = nil
			}
			return paths, bodies, err
		}
		paths = append(paths, string(req.Path))
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return paths, bodies, err
		}
		bodies = append(bodies, string(body))
	}
}

const smuggled = "GET /admin HTTP/1.1\r\nHost: internal\r\n\r\n"

// smugglingCases are request shapes that front proxies and back ends have
// framed differently in published desync attacks. Each either is refused or
// yields exactly the requests listed; none may surface /admin unless the
// stream plainly pipelines it.
var smugglingCases = []struct {
	name      string
	input     string
	wantErr   *Error
	wantPaths []string
}{
	{
		name:    "CL.TE: proxy uses Content-Length, back end chunked",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		wantErr: ErrContentLengthAndTransferCode,
	},
	{
		name:    "TE.CL: proxy chunked, back end uses Content-Length",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n" + smuggled + "\r\n0\r\n\r\n",
		wantErr: ErrContentLengthAndTransferCode,
	},
	{
		name:    "TE.TE: obfuscated coding name",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: cow\r\n\r\n0\r\n\r\n" + smuggled,
		wantErr: ErrChunkedNotLast,
	},
	{
		name:    "TE with space before colon (Waitress CVE-2019-16789 family)",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled,
		wantErr: ErrSpaceBeforeColon,
	},
	{
		name:    "TE value with leading vertical tab",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n",
		wantErr: ErrInvalidHeaderValue,
	},
	{
		name:    "TE hidden in obs-fold",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nX-Pad: x\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
		wantErr: ErrObsFold,
	},
	{
		name:    "TE after a bare LF (Waitress CVE-2019-16785)",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nX-Pad: x\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
		wantErr: ErrBareLF,
	},
	{
		name:    "TE after a bare CR",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nX-Pad: x\rTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
		wantErr: ErrBareCR,
	},
	{
		name:    "chunked not last (Gunicorn CVE-2024-1135)",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled,
		wantErr: ErrChunkedNotLast,
	},
	{
		name:    "chunked applied twice",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		wantErr: ErrInvalidTransferEncoding,
	},
	{
		name:    "Transfer-Encoding on HTTP/1.0 (Gunicorn CVE-2024-6827 family)",
		input:   "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		wantErr: ErrTransferEncodingHTTP10,
	},
	{
		name:    "two differing Content-Length lines (Waitress CVE-2019-16792)",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 41\r\n\r\n" + smuggled,
		wantErr: ErrDuplicateContentLength,
	},
	{
		name:    "two identical Content-Length lines (Gunicorn main refuses any repeat)",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 41\r\nContent-Length: 41\r\n\r\n" + smuggled,
		wantErr: ErrDuplicateContentLength,
	},
	{
		name:    "Content-Length list with differing values",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 41\r\n\r\n" + smuggled,
		wantErr: ErrInvalidContentLength,
	},
	{
		name:    "Content-Length list with identical values (PortSwigger CL list)",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 41, 41\r\n\r\n" + smuggled,
		wantErr: ErrInvalidContentLength,
	},
	{
		name:    "two Content-Type lines",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n" + smuggled,
		wantErr: ErrDuplicateContentType,
	},
	{
		name:    "Content-Length in a chunked trailer",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 41\r\n\r\n" + smuggled,
		wantErr: ErrForbiddenTrailer,
	},
	{
		name:    "Transfer-Encoding in a chunked trailer",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\ntransfer-encoding: chunked\r\n\r\n" + smuggled,
		wantErr: ErrForbiddenTrailer,
	},
	{
		name:    "Host in a chunked trailer",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHost: internal\r\n\r\n" + smuggled,
		wantErr: ErrForbiddenTrailer,
	},
	{
		name:    "Content-Length with sign",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +41\r\n\r\n" + smuggled,
		wantErr: ErrInvalidContentLength,
	},
	{
		name:    "Content-Length wrapping past int64",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551657\r\n\r\n" + smuggled,
		wantErr: ErrInvalidContentLength,
	},
	{
		name:    "Content-Length with NUL",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\x0041\r\n\r\n" + smuggled,
		wantErr: ErrInvalidHeaderValue,
	},
	{
		name:    "chunk size with 0x prefix read as 0 by lenient parsers",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x29\r\n" + smuggled + "\r\n0\r\n\r\n",
		wantErr: ErrInvalidChunkSize,
	},
	{
		name:    "chunk size wrapping past int64",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000029\r\n" + smuggled + "\r\n0\r\n\r\n",
		wantErr: ErrInvalidChunkSize,
	},
	{
		name:    "chunk size terminated by bare LF",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\n\r\n" + smuggled,
		wantErr: ErrBareLF,
	},
	{
		name:    "chunk extension hiding a line end",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;\n29\r\nxx\r\n0\r\n\r\n",
		wantErr: ErrBareLF,
	},
	{
		name:    "chunk data longer than its size",
		input:   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxx\r\n0\r\n\r\n" + smuggled,
		wantErr: ErrMissingChunkCRLF,
	},
	{
		name:    "duplicate Host with different values",
		input:   "GET / HTTP/1.1\r\nHost: public\r\nHost: internal\r\n\r\n",
		wantErr: ErrDuplicateHost,
	},
	{
		name:      "Content-Length body holding a request is only a body",
		input:     "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled,
		wantPaths: []string{"/upload"},
	},
	{
		name:      "chunked body holding a request is only a body",
		input:     "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + strconv.FormatInt(int64(len(smuggled)), 16) + "\r\n" + smuggled + "\r\n0\r\n\r\n",
		wantPaths: []string{"/upload"},
	},
	{
		name:      "plain pipelining after an empty body",
		input:     "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n" + smuggled,
		wantPaths: []string{"/upload", "/admin"},
	},
	{
		name:      "Transfer-Encoding value with HTAB is still chunked",
		input:     "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\t\r\n\r\n0\r\n\r\n" + smuggled,
		wantPaths: []string{"/upload", "/admin"},
	},
}

func TestSmugglingShapes(t *testing.T) {
	for _, tc := range smugglingCases {
		t.Run(tc.name, func(t *testing.T) {
			paths, _, err := serveAll(tc.input, DefaultLimits)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("error = %v; want %v", err, tc.wantErr)
				}
				if len(paths) > 1 {
					t.Errorf("served %q before refusing; want at most the first request", paths)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v; want a clean stream", err)
			}
			if strings.Join(paths, " ") != strings.Join(tc.wantPaths, " ") {
				t.Errorf("served %q; want %q", paths, tc.wantPaths)
			}
		})
	}
}
