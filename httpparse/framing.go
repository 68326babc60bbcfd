package httpparse

import "math"

// fieldKind names the header fields the parser interprets.
type fieldKind uint8

const (
	fieldOther fieldKind = iota
	fieldHost
	fieldContentLength
	fieldTransferEncoding
	fieldConnection
	fieldExpect
	fieldContentType
)

// classifyField maps a field name to its kind, ignoring ASCII case.
func classifyField(name []byte) fieldKind {
	switch len(name) {
	case 4:
		if EqualFoldASCII(name, "host") {
			return fieldHost
		}
	case 6:
		if EqualFoldASCII(name, "expect") {
			return fieldExpect
		}
	case 10:
		if EqualFoldASCII(name, "connection") {
			return fieldConnection
		}
	case 12:
		if EqualFoldASCII(name, "content-type") {
			return fieldContentType
		}
	case 14:
		if EqualFoldASCII(name, "content-length") {
			return fieldContentLength
		}
	case 17:
		if EqualFoldASCII(name, "transfer-encoding") {
			return fieldTransferEncoding
		}
	}
	return fieldOther
}

// framing accumulates what the header fields say about message framing.
type framing struct {
	hosts             int
	hostValue         []byte
	contentLength     int64 // -1 until a Content-Length is seen
	transferEncoding  bool
	te                teCodings
	connClose, connKA bool
	expectContinue    bool
	contentTypes      int
	contentType       []byte
}

// frame applies the header fields to req: Host, message body length
// (RFC 9112 §6), persistence (§9.3) and Expect, then prepares req.Body.
func (r *Reader) frame(req *Request) error {
	f := framing{contentLength: -1}
	for i := range req.Headers {
		if err := f.add(&req.Headers[i]); err != nil {
			return err
		}
	}
	http11 := req.Minor == 1
	// RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, and for any
	// request with more than one Host line or an invalid Host value.
	// RFC 9110 §5.3: Host and Content-Type are singleton fields; a second
	// line cannot be combined into a list, and which one a proxy or the
	// app would keep is anyone's guess, so both are refused (as Gunicorn
	// main does; Content-Length is refused in add).
	switch {
	case f.hosts > 1:
		return ErrDuplicateHost
	case f.contentTypes > 1:
		return ErrDuplicateContentType
	case f.hosts == 0 && http11:
		return ErrMissingHost
	case f.hosts == 1 && (!validHost(f.hostValue) || !portIsDigits(f.hostValue)):
		return ErrInvalidHost
	}
	if req.Host == nil { // absolute-form authority wins (RFC 9112 §3.2.2)
		req.Host = f.hostValue
	}
	if err := f.resolveLength(req, r.lim.body); err != nil {
		return err
	}
	req.KeepAlive = !f.connClose && (http11 || f.connKA)
	req.ExpectContinue = http11 && f.expectContinue
	req.ContentType = f.contentType
	r.body.reset(req.Chunked, req.ContentLength)
	req.Body = &r.body
	return nil
}

// add records one header field.
func (f *framing) add(h *Header) error {
	switch classifyField(h.Name) {
	case fieldHost:
		f.hosts++
		f.hostValue = h.Value
	case fieldContentLength:
		// RFC 9110 §8.6 lets a recipient take repeated identical values
		// as one; Gunicorn main refuses any repeat, identical or not,
		// since a proxy that kept the other line frames the body its own
		// way. So does gowsgi, with or without equal values.
		if f.contentLength >= 0 {
			return ErrDuplicateContentLength
		}
		n, err := parseContentLength(h.Value)
		if err != nil {
			return err
		}
		f.contentLength = n
	case fieldTransferEncoding:
		f.transferEncoding = true
		return f.te.add(h.Value)
	case fieldConnection:
		for list, more := h.Value, true; more; {
			var elem []byte
			elem, list, more = cutListElement(list)
			f.connClose = f.connClose || EqualFoldASCII(elem, "close")
			f.connKA = f.connKA || EqualFoldASCII(elem, "keep-alive")
		}
	case fieldExpect:
		f.expectContinue = f.expectContinue || EqualFoldASCII(h.Value, "100-continue")
	case fieldContentType:
		f.contentTypes++
		f.contentType = h.Value
	}
	return nil
}

// resolveLength decides the message body length (RFC 9112 §6.3).
func (f *framing) resolveLength(req *Request, bodyLimit int64) error {
	req.HasContentLength = f.contentLength >= 0
	req.Chunked = false
	req.ContentLength = 0
	if f.transferEncoding {
		// RFC 9112 §6.1: a server MAY reject CL with TE; it is how
		// CL.TE / TE.CL smuggling works, so it always is rejected.
		if req.HasContentLength {
			return ErrContentLengthAndTransferCode
		}
		// RFC 9112 §6.1: an HTTP/1.0 recipient would ignore TE, so
		// the request's framing is ambiguous.
		if req.Minor == 0 {
			return ErrTransferEncodingHTTP10
		}
		if err := f.te.check(); err != nil {
			return err
		}
		req.Chunked = true
		req.ContentLength = -1
		return nil
	}
	if req.HasContentLength {
		if bodyLimit > 0 && f.contentLength > bodyLimit {
			return ErrBodyTooLarge
		}
		req.ContentLength = f.contentLength
	}
	return nil
}

// parseContentLength parses a Content-Length value: 1*DIGIT (RFC 9110
// §8.6). "42" → 42; "42, 42", "+1", "0x2", "", "42," or a value past
// int64 → ErrInvalidContentLength. The list form that §8.6 lets a
// recipient fold when its members agree is refused outright, as Gunicorn
// main and net/http do: a proxy that folds it differently (or takes the
// first member of "42, 7") would frame another body.
func parseContentLength(v []byte) (int64, error) {
	n, valid := parseDecimal(v)
	if !valid {
		return 0, ErrInvalidContentLength
	}
	return n, nil
}

// parseDecimal parses 1*DIGIT into an int64 without overflow:
// "007" → 7, "" or "1_0" or "9223372036854775808" → invalid.
func parseDecimal(s []byte) (int64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// teCodings accumulates the transfer codings of every Transfer-Encoding line,
// which together form one list (RFC 9110 §5.3).
type teCodings struct {
	chunked, other int
	lastChunked    bool
}

// add parses one Transfer-Encoding value: a list of transfer-coding
// (RFC 9112 §7): token *( OWS ";" OWS transfer-parameter ). Unlike RFC 9110
// §5.6.1, empty elements are refused: ", chunked" is a shape that a proxy
// may not read as chunked, and no real client sends it.
func (t *teCodings) add(v []byte) error {
	for list, more := v, true; more; {
		var elem []byte
		elem, list, more = cutListElement(list)
		if len(elem) == 0 {
			return ErrInvalidTransferEncoding
		}
		name, hasParams := elem, false
		for i, c := range elem {
			if c == ';' {
				name, hasParams = trimOWS(elem[:i]), true
				break
			}
		}
		if !isToken(name) {
			return ErrInvalidTransferEncoding
		}
		t.lastChunked = EqualFoldASCII(name, "chunked")
		switch {
		case t.lastChunked && hasParams:
			// chunked takes no parameters (RFC 9112 §7.1).
			return ErrInvalidTransferEncoding
		case t.lastChunked:
			t.chunked++
		default:
			t.other++
		}
	}
	return nil
}

// check decides whether the codings frame a body we can read.
func (t *teCodings) check() error {
	switch {
	case !t.lastChunked:
		// RFC 9112 §6.3: without chunked last the length is unknowable.
		return ErrChunkedNotLast
	case t.chunked > 1:
		// RFC 9112 §6.1: chunked MUST NOT be applied more than once.
		return ErrInvalidTransferEncoding
	case t.other > 0:
		// RFC 9112 §6.1: a server SHOULD answer 501 for a coding it does
		// not understand; gowsgi decodes none but chunked.
		return ErrUnsupportedTransferCoding
	}
	return nil
}
