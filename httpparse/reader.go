package httpparse

import (
	"bufio"
	"bytes"
	"io"
	"math"
)

// Header is one header (or trailer) field line: the name as received and the
// value with leading and trailing SP/HTAB removed (RFC 9112 §5.1).
type Header struct {
	Name, Value []byte
}

// Request is one parsed request head. Every byte slice points into storage
// owned by the Reader and stays valid only until the next ReadRequest.
type Request struct {
	Method []byte
	// Target is the request-target exactly as received (RAW_URI).
	Target []byte
	// Path is the raw, still percent-encoded path: of the target in
	// origin-form, of the URI in absolute-form ("/" when empty), "*" for
	// asterisk-form.
	Path []byte
	// Query is what follows the first '?' up to any '#'; nil without a '?'.
	Query []byte
	// Major and Minor are 1 and 0, or 1 and 1.
	Major, Minor int
	// Headers are all field lines in the order received, Host and framing
	// fields included.
	Headers []Header
	// Host is the Host header value, or the authority of an absolute-form
	// target (RFC 9112 §3.2.2); nil when neither exists.
	Host []byte
	// ContentLength is the body length in bytes, 0 when there is no body,
	// or -1 when the body is chunked.
	ContentLength int64
	// HasContentLength is set when the request carried Content-Length.
	HasContentLength bool
	// Chunked is set when the body uses the chunked transfer coding.
	Chunked bool
	// KeepAlive tells whether the connection may carry another request
	// after this one, from the version and Connection (RFC 9112 §9.3).
	KeepAlive bool
	// ExpectContinue is set for "Expect: 100-continue" on HTTP/1.1; it is
	// ignored on HTTP/1.0 (RFC 9110 §10.1.1).
	ExpectContinue bool
	// ContentType is the Content-Type value, nil when absent.
	ContentType []byte
	// Body reads this request's body; never nil after a successful
	// ReadRequest. It is owned by the Reader and reused for the next request.
	Body *Body
}

// Reader reads successive requests from one connection. It is not safe for
// concurrent use: one connection goroutine owns it.
type Reader struct {
	br  *bufio.Reader // the connection; never nil
	lim limits

	// buf holds the current head: the request line, then each field line,
	// CRLFs removed. All slices in Request point into it. Reused.
	buf    []byte
	fields []fieldSpan // offsets into buf of each field line. Reused.
	body   Body        // req.Body of the current request. Reused.

	// err, once set, is returned by every later ReadRequest: after a bad
	// head the start of the next request is unknown.
	err error
}

// fieldSpan locates one header field line in Reader.buf.
type fieldSpan struct {
	nameStart, nameEnd, valueStart, valueEnd int
}

// NewReader returns a Reader for the connection behind br. lim's zero fields
// take the meanings documented on Limits.
func NewReader(br *bufio.Reader, lim Limits) *Reader {
	r := &Reader{br: br, lim: lim.resolve()}
	r.body.br = br
	r.body.lim = &r.lim
	return r
}

// Reset readies r for a new connection behind the same bufio.Reader
// (which the caller resets), keeping its storage.
func (r *Reader) Reset() {
	r.err = nil
	r.releaseLargeBuffers()
	r.body.reset(false, 0)
}

// ReadRequest reads the next request head into req, reusing req's storage.
//
// It returns io.EOF when the connection was closed cleanly before any byte of
// a new request, io.ErrUnexpectedEOF when it was closed inside a head, an
// *Error for a request that must be refused, ErrBodyNotDone when the previous
// body was not read to its end, or the underlying read error. After any error
// but io.EOF and ErrBodyNotDone the connection must be closed.
func (r *Reader) ReadRequest(req *Request) error {
	if r.err != nil {
		return r.err
	}
	if !r.body.Done() {
		if r.body.err != nil {
			return r.body.err
		}
		return ErrBodyNotDone
	}
	r.releaseLargeBuffers()
	err := r.readHead(req)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return err
}

// Storage kept between requests is bounded, so that one large head does
// not pin memory for the life of a keep-alive connection.
const (
	maxRetainedHead   = 64 << 10 // bytes of Reader.buf
	maxRetainedFields = 256      // entries of Reader.fields
)

// releaseLargeBuffers empties the head storage for the next request and
// drops it when an earlier request made it large.
func (r *Reader) releaseLargeBuffers() {
	r.buf = r.buf[:0]
	if cap(r.buf) > maxRetainedHead {
		r.buf = nil
	}
	r.fields = r.fields[:0]
	if cap(r.fields) > maxRetainedFields {
		r.fields = nil
	}
}

func (r *Reader) readHead(req *Request) error {
	var rl requestLine
	if err := r.readRequestLine(&rl); err != nil {
		return err
	}
	if err := r.readFields(); err != nil {
		return err
	}
	r.fill(req, &rl)
	return r.frame(req)
}

// readRequestLine skips up to maxLeadingEmptyLines empty lines (RFC 9112
// §2.2), then reads and parses the request line at the start of buf.
func (r *Reader) readRequestLine(rl *requestLine) error {
	for empty := 0; ; empty++ {
		start, end, err := r.readLine(r.lim.requestLine, ErrRequestLineTooLong)
		if err != nil {
			return err
		}
		if end > start {
			return parseRequestLine(r.buf[start:end], rl)
		}
		if empty == maxLeadingEmptyLines {
			return ErrTooManyEmptyLines
		}
	}
}

// readFields reads header field lines up to the empty line ending the head,
// checking each line and the limits as it goes.
func (r *Reader) readFields() error {
	budget := r.lim.headSection
	for {
		limit, tooLong := max(budget-2, 0), ErrHeadTooLarge
		if line := fieldLineLimit(r.lim.fieldSize); line < limit {
			limit, tooLong = line, ErrHeaderTooLarge
		}
		start, end, err := r.readLine(limit, tooLong)
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		if end == start {
			return nil
		}
		if len(r.fields) == r.lim.fields {
			return ErrTooManyHeaders
		}
		budget -= end - start + 2
		span, err := parseFieldLine(r.buf, start, end)
		if err != nil {
			return err
		}
		r.fields = append(r.fields, span)
	}
}

// fieldLineLimit is the longest field line, CRLF excluded, that fieldSize
// allows. Gunicorn counts a field line with its CRLF (header_length =
// len(line) + 2 in message.py), so with the default 8190 a line of 8188
// bytes is the longest accepted; net/http and the uwsgi protocol have no
// per-line bound to agree with.
func fieldLineLimit(fieldSize int) int {
	return max(fieldSize-2, 0)
}

// readLine appends the next line to buf without its CRLF and returns where
// it lies; see appendLine.
func (r *Reader) readLine(limit int, tooLong *Error) (start, end int, err error) {
	start = len(r.buf)
	r.buf, err = appendLine(r.buf, r.br, limit, tooLong)
	return start, len(r.buf), err
}

// appendLine reads one CRLF-terminated line from br and appends it, CRLF
// removed, to dst. It returns tooLong as soon as the line is known to be
// longer than limit bytes (limit < 0: unlimited), so an endless line never
// grows dst. It returns io.EOF only when br ended before any byte of the
// line, io.ErrUnexpectedEOF when it ended inside it.
func appendLine(dst []byte, br *bufio.Reader, limit int, tooLong *Error) ([]byte, error) {
	start := len(dst)
	if limit < 0 {
		limit = math.MaxInt - 1
	}
	for {
		frag, err := br.ReadSlice('\n')
		dst = append(dst, frag...)
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			// One byte may still be the CR of the CRLF.
			if len(dst)-start > limit+1 {
				return dst[:start], tooLong
			}
			continue
		}
		if err == io.EOF && len(dst) > start {
			if len(dst)-start > limit+1 {
				return dst[:start], tooLong
			}
			err = io.ErrUnexpectedEOF
		}
		return dst[:start], err
	}
	// The length is checked before the terminator so that the answer does
	// not depend on how much of the line the buffer held at once.
	end := len(dst) - 1
	crlf := end > start && dst[end-1] == '\r'
	if crlf {
		end--
	}
	if end-start > limit {
		return dst[:start], tooLong
	}
	// RFC 9112 §2.2: a bare LF is not a line terminator here, and a bare
	// CR anywhere is refused, so no proxy can split the line differently.
	if !crlf {
		return dst[:start], ErrBareLF
	}
	if bytes.IndexByte(dst[start:end], '\r') >= 0 {
		return dst[:start], ErrBareCR
	}
	return dst[:end], nil
}

// fill points req's slices into buf, which no longer moves for this request.
func (r *Reader) fill(req *Request, rl *requestLine) {
	if rl.emptyPath {
		// Absolute-form without a path: RFC 9110 §4.2.3 makes it "/", or
		// "*" for OPTIONS (RFC 9112 §3.2.4).
		c := byte('/')
		if rl.isOptions {
			c = '*'
		}
		rl.path = span{len(r.buf), len(r.buf) + 1}
		r.buf = append(r.buf, c)
	}
	b := r.buf
	req.Method = rl.method.of(b)
	req.Target = rl.target.of(b)
	req.Path = rl.path.of(b)
	req.Query = nil
	if rl.hasQuery {
		req.Query = rl.query.of(b)
	}
	req.Major, req.Minor = rl.major, rl.minor
	req.Host = nil
	if rl.hasAuthority {
		req.Host = rl.authority.of(b)
	}
	if cap(req.Headers) < len(r.fields) {
		req.Headers = make([]Header, 0, len(r.fields))
	}
	req.Headers = req.Headers[:len(r.fields)]
	for i, f := range r.fields {
		req.Headers[i] = Header{
			Name:  b[f.nameStart:f.nameEnd:f.nameEnd],
			Value: b[f.valueStart:f.valueEnd:f.valueEnd],
		}
	}
}
