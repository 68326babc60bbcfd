package wsgi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gowsgi/gowsgi/httpparse"
)

// Errors in what an app passed to start_response. Each makes the worker
// answer 500 instead of sending the head.
var (
	ErrBadStatus        = errors.New("wsgi: status must be a 3-digit code, a space and a reason phrase")
	ErrBadHeaderName    = errors.New("wsgi: response header name is not a token")
	ErrBadHeaderValue   = errors.New("wsgi: response header value contains a control character")
	ErrBadContentLength = errors.New("wsgi: response Content-Length is not a single non-negative integer")
	// ErrInterimStatus: a 1xx status is interim (RFC 9110 §15.2), and the
	// app gives one response, which must be final; only a switch of
	// protocols (Exchange.Switching) may be 101.
	ErrInterimStatus = errors.New("wsgi: a 1xx status is interim; the response must be final (200 or above)")
)

// HeadError is a response head the app got wrong; it says which header.
type HeadError struct {
	Err    error
	Header string // the offending header name, "" for the status
	Value  string // the offending status or header value, when there is one
}

// maxQuotedValue bounds how much of a bad value the error quotes.
const maxQuotedValue = 120

func (e *HeadError) Error() string {
	s := e.Err.Error()
	if e.Header != "" {
		s += ": " + strconv.Quote(e.Header)
	}
	if e.Value != "" || e.Header == "" && errors.Is(e.Err, ErrBadStatus) {
		v, more := e.Value, ""
		if len(v) > maxQuotedValue {
			v, more = v[:maxQuotedValue], "..."
		}
		s += ": " + strconv.Quote(v) + more
	}
	return s
}

func (e *HeadError) Unwrap() error { return e.Err }

// Framing says how the body that follows a head is delimited on the wire.
type Framing uint8

const (
	FrameLength  Framing = iota // Content-Length bytes (possibly 0)
	FrameChunked                // chunked transfer coding (HTTP/1.1)
	FrameClose                  // delimited by closing the connection (HTTP/1.0)
	FrameNone                   // no body at all: HEAD, 1xx, 204, 304
)

// Exchange describes the request side of the framing decision.
type Exchange struct {
	Minor     int  // HTTP/1.Minor of the request
	Head      bool // the method is HEAD
	KeepAlive bool // the request allows another request on the connection
	// BodyLen is the total body length when the whole body is already
	// known (the app finished in one step), else -1.
	BodyLen int64
	// Switching: the head switches protocols (101, RFC 9110 §15.2.2), the
	// one 1xx status a response may have.
	Switching bool
}

// Plan is the outcome of WriteHead: how to send the body and whether the
// connection stays open afterwards.
type Plan struct {
	Code          int
	Framing       Framing
	ContentLength int64 // for FrameLength: exactly this many body bytes
	KeepAlive     bool
}

// hopByHop are the connection-specific fields of RFC 9110 §7.6.1 that a
// WSGI app must not set (PEP 3333 "Other HTTP Features"); the server
// owns the connection and frames the body itself, so they are dropped.
func hopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return EqualFold(name, []byte("te"))
	case 7:
		return EqualFold(name, []byte("trailer")) || EqualFold(name, []byte("upgrade"))
	case 10:
		return EqualFold(name, []byte("connection")) || EqualFold(name, []byte("keep-alive"))
	case 17:
		return EqualFold(name, []byte("transfer-encoding"))
	case 18:
		return EqualFold(name, []byte("proxy-authenticate"))
	case 19:
		return EqualFold(name, []byte("proxy-authorization"))
	}
	return false
}

// ParseStatus checks "NNN reason" (RFC 9112 §4 status-line, as PEP 3333
// asks of the status string) and returns the code. A bare "NNN" is taken
// too, as Gunicorn and uWSGI take it (and wsgiref.validate only warns):
// apps that pass str(code) work there.
//
//	"200 OK" → 200;  "404 " → 404;  "200" → 200;  "20x OK" → error
func ParseStatus(status []byte) (int, error) {
	if len(status) < 3 || len(status) > 3 && status[3] != ' ' {
		return 0, badStatus(status)
	}
	code := 0
	for _, b := range status[:3] {
		if b < '0' || b > '9' {
			return 0, badStatus(status)
		}
		code = code*10 + int(b-'0')
	}
	if code < 100 {
		return 0, badStatus(status)
	}
	for _, b := range status[3:] {
		if isCTL(b) && b != '\t' {
			return 0, badStatus(status)
		}
	}
	return code, nil
}

// badStatus is made only on the error path: ParseStatus must not allocate.
func badStatus(status []byte) error { return &HeadError{Err: ErrBadStatus, Value: string(status)} }

// appendStatusLine appends "HTTP/1.1 " and a status ParseStatus took,
// with the code's usual reason phrase when the app gave none ("200"):
// the space after the code is not optional (RFC 9112 §4).
func appendStatusLine(dst, status []byte, code int) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = append(dst, status...)
	if len(status) == 3 {
		dst = append(append(dst, ' '), ReasonPhrase(code)...)
	}
	return append(dst, "\r\n"...)
}

// ReasonPhrase is the reason phrase of code as RFC 9110 §15 names it
// ("" for a code it does not name); Go's http.StatusText still has RFC
// 7231's names for four of them.
func ReasonPhrase(code int) string {
	switch code {
	case http.StatusRequestEntityTooLarge:
		return "Content Too Large"
	case http.StatusRequestURITooLong:
		return "URI Too Long"
	case http.StatusRequestedRangeNotSatisfiable:
		return "Range Not Satisfiable"
	case http.StatusUnprocessableEntity:
		return "Unprocessable Content"
	}
	return http.StatusText(code)
}

func isCTL(b byte) bool { return b < 0x20 || b == 0x7f }

// AppendHead validates the app's status and headers and appends the
// HTTP/1.1 response head to dst, with Date and Server (unless the app set
// them), the framing headers and Connection. It never writes any part of
// a head it rejects.
//
// headers are (name, value) pairs; a slice rather than an iterator, so
// the per-response path does not allocate.
func AppendHead(dst []byte, status []byte, headers [][2][]byte, x Exchange, date []byte) ([]byte, Plan, error) {
	var p Plan
	code, err := ParseStatus(status)
	if err != nil {
		return dst, p, err
	}
	if code < 200 && !x.Switching {
		return dst, p, &HeadError{Err: ErrInterimStatus, Value: string(status)}
	}
	p.Code = code
	start := len(dst)
	dst = appendStatusLine(dst, status, code)
	appLength := int64(-1)
	appClose, haveDate, haveServer, advertise := false, false, false, false
	for _, h := range headers {
		name, value := h[0], h[1]
		if err := checkField(name, value); err != nil {
			return dst[:start], p, err
		}
		switch {
		case !x.Switching && EqualFold(name, []byte("upgrade")):
			// The protocols the server offers (RFC 9110 §7.8), which a
			// 426 must name (§15.5.22); with "upgrade" in Connection
			// below. A 101's Upgrade is the engine's to write.
			advertise = true
		case hopByHop(name):
			if EqualFold(name, []byte("connection")) && hasToken(value, "close") {
				appClose = true
			}
			continue
		case EqualFold(name, []byte("content-length")):
			value = httpparse.TrimOWS(value) // " 5 ": Gunicorn strips values too
			n, ok := httpparse.ParseDecimal(value)
			if !ok || (appLength >= 0 && n != appLength) {
				return dst[:start], p, &HeadError{Err: ErrBadContentLength, Header: string(name), Value: string(h[1])}
			}
			if appLength >= 0 {
				continue // an identical duplicate
			}
			appLength = n
			if code == 204 || code < 200 {
				continue // RFC 9110 §8.6: never in 1xx or 204
			}
		case EqualFold(name, []byte("date")):
			haveDate = true
		case EqualFold(name, []byte("server")):
			haveServer = true
		}
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		// Without the whitespace around it (RFC 9110 §5.5: not part of
		// the value), as Gunicorn strips it: Django writes every cookie
		// with a leading space.
		dst = append(dst, httpparse.TrimOWS(value)...)
		dst = append(dst, "\r\n"...)
	}
	if !haveDate {
		dst = append(append(append(dst, "Date: "...), date...), "\r\n"...)
	}
	if !haveServer {
		dst = append(dst, "Server: gowsgi\r\n"...)
	}
	p.KeepAlive = x.KeepAlive && !appClose
	switch {
	case x.Head || code < 200 || code == 204 || code == 304:
		p.Framing = FrameNone
		// HEAD: the length a GET would get, which 204 and 304 do not
		if appLength < 0 && x.BodyLen > 0 && x.Head && code >= 200 && code != 204 && code != 304 {
			dst = appendLength(dst, x.BodyLen)
		}
	case appLength >= 0:
		p.Framing, p.ContentLength = FrameLength, appLength
	case x.BodyLen >= 0:
		p.Framing, p.ContentLength = FrameLength, x.BodyLen
		dst = appendLength(dst, x.BodyLen)
	case x.Minor >= 1:
		p.Framing = FrameChunked
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	default:
		p.Framing = FrameClose
		p.KeepAlive = false
	}
	if !p.KeepAlive || x.Minor == 0 || advertise {
		dst = append(dst, "Connection: "...)
		sep := ""
		switch {
		case !p.KeepAlive:
			dst, sep = append(dst, "close"...), ", "
		case x.Minor == 0:
			dst, sep = append(dst, "keep-alive"...), ", "
		}
		if advertise {
			dst = append(append(dst, sep...), "upgrade"...)
		}
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...), p, nil
}

func appendLength(dst []byte, n int64) []byte {
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, "\r\n"...)
}

// checkField enforces RFC 9110 §5.1 token names and §5.5 values without
// CR, LF, NUL or other controls but HTAB, so an app can never split a
// response or smuggle a header.
func checkField(name, value []byte) error {
	if len(name) == 0 {
		return &HeadError{Err: ErrBadHeaderName}
	}
	if !httpparse.IsToken(name) {
		return &HeadError{Err: ErrBadHeaderName, Header: string(name)}
	}
	for _, b := range value {
		if isCTL(b) && b != '\t' {
			return &HeadError{Err: ErrBadHeaderValue, Header: string(name), Value: string(value)}
		}
	}
	return nil
}

// hasToken reports whether a comma-separated list contains tok,
// case-insensitively (RFC 9110 §5.6.1).
func hasToken(list []byte, tok string) bool {
	for len(list) > 0 {
		i := 0
		for i < len(list) && list[i] != ',' {
			i++
		}
		item := httpparse.TrimOWS(list[:i])
		if EqualFold(item, []byte(tok)) {
			return true
		}
		if i == len(list) {
			break
		}
		list = list[i+1:]
	}
	return false
}
