package wsgi

import "errors"

// ErrBadInterim is an informational head whose status is not 1xx, or is
// 101, which only a switch of protocols may send.
var ErrBadInterim = errors.New("wsgi: an informational head needs a 1xx status other than 101")

// ErrInterimField is a field an informational head may not carry: it has
// no body to frame (RFC 9110 §15.2) and does not manage the connection.
var ErrInterimField = errors.New("wsgi: framing and connection fields are not allowed in an informational head")

// AppendInterim validates an informational head (RFC 9110 §15.2: 103
// Early Hints, RFC 8297) and appends it to dst as HTTP/1.1 puts it on
// the wire, fields checked as AppendHead checks a response's; on error,
// dst comes back unchanged.
//
//	"103 Early Hints", [("Link", "</a.css>; rel=preload")] →
//	    "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
//	"200 OK" or "101 Switching Protocols" → ErrBadInterim
//	[("Content-Length", "0")] → ErrInterimField
func AppendInterim(dst, status []byte, fields [][2][]byte) ([]byte, error) {
	code, err := ParseStatus(status)
	if err != nil {
		return dst, err
	}
	if code > 199 || code == 101 {
		return dst, &HeadError{Err: ErrBadInterim}
	}
	start := len(dst)
	dst = appendStatusLine(dst, status, code)
	for _, f := range fields {
		name, value := f[0], f[1]
		if err := checkField(name, value); err != nil {
			return dst[:start], err
		}
		if hopByHop(name) || EqualFold(name, []byte("content-length")) {
			return dst[:start], &HeadError{Err: ErrInterimField, Header: string(name)}
		}
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, value...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...), nil
}
