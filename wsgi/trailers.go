package wsgi

import (
	"errors"
	"strings"
)

// ErrForbiddenTrailer is a trailer field that RFC 9110 §6.5.1 keeps out
// of trailers: one a recipient needs before the body (framing, routing,
// request modifiers, authentication, response control, content
// metadata).
var ErrForbiddenTrailer = errors.New("wsgi: response trailer field not allowed in a trailer section")

// forbiddenTrailers are the fields refused in a trailer section (RFC
// 9110 §6.5.1): the framing and connection fields (§6.1, §7.6.1), Host
// (routing), the request modifiers and authentication fields (§10.1,
// §11, §13, §14), response control data (§10.2, RFC 9111) and the
// content's metadata (§8.3-8.4, §14.4). Go's net/http refuses about
// the same list.
var forbiddenTrailers = map[string]bool{
	"age": true, "authorization": true, "cache-control": true, "connection": true,
	"content-encoding": true, "content-length": true, "content-range": true, "content-type": true,
	"date": true, "expect": true, "expires": true, "host": true, "if-match": true,
	"if-modified-since": true, "if-none-match": true, "if-range": true, "if-unmodified-since": true,
	"keep-alive": true, "location": true, "max-forwards": true, "pragma": true,
	"proxy-authenticate": true, "proxy-authorization": true, "proxy-connection": true,
	"range": true, "retry-after": true, "set-cookie": true, "te": true, "trailer": true,
	"transfer-encoding": true, "upgrade": true, "vary": true, "www-authenticate": true,
}

// AppendTrailers validates trailer fields as AppendHead validates
// header fields (token names, no CR, LF, NUL or other controls in
// values), refuses the fields of forbiddenTrailers, and appends the
// trailer section with its closing empty line to dst (RFC 9112 §7.1.2);
// on error, dst comes back unchanged.
//
//	[("x-checksum", "abc")] → "x-checksum: abc\r\n\r\n"
//	[("content-length", "5")] → ErrForbiddenTrailer
func AppendTrailers(dst []byte, fields [][2][]byte) ([]byte, error) {
	start := len(dst)
	for _, f := range fields {
		name, value := f[0], f[1]
		if err := checkField(name, value); err != nil {
			return dst[:start], err
		}
		if forbiddenTrailers[strings.ToLower(string(name))] {
			return dst[:start], &HeadError{Err: ErrForbiddenTrailer, Header: string(name)}
		}
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, value...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...), nil
}
