// Package httpparse is gowsgi's HTTP/1.1 request parser: the security
// boundary between untrusted clients and every WSGI application.
//
// A Reader reads successive (pipelined) requests from one connection; each
// Request carries a Body that must be read or discarded to its end before
// the next ReadRequest. Parsing follows RFC 9112 and is deliberately strict
// wherever a front proxy could frame a request differently (request
// smuggling). Every refusal is an *Error carrying the HTTP status to answer
// with and a reason that never echoes client input; after one, the
// connection must be closed.
//
// # Rules that follow Gunicorn main (26.x)
//
// Each has a golden case under testdata/requests:
//   - Host and Content-Type are singleton fields (RFC 9110 §5.3, §7.2,
//     §8.3): a second line is refused with 400, equal value or not
//     (host-duplicate, content-type-duplicate-refused).
//   - Content-Length may appear once, as 1*DIGIT (RFC 9110 §8.6): a repeated
//     line and the list form "5, 5" are refused with 400, although §8.6
//     lets a recipient fold agreeing values; a proxy that folds or picks
//     differently would frame another body
//     (cl-identical-duplicate-lines-refused, cl-list-identical-values-refused).
//   - Trailer fields that frame, route, authenticate or modify the request
//     (Host, Content-Length, Transfer-Encoding, Trailer, TE, Authorization,
//     Proxy-Authorization, Expect, Max-Forwards) are refused with 400
//     (RFC 9110 §6.5.1: a recipient MUST NOT merge them into the header
//     section; a proxy that does would act on a field gowsgi never saw).
//     Other trailers are kept apart in Body.Trailers, never merged
//     (trailer-*-refused, trailer-content-type-accepted).
//   - A field line counts with its CRLF against Limits.FieldSize, as
//     Gunicorn's header_length does: with 8190, 8188 bytes plus CRLF is the
//     longest line (limit-field-size-line-*); FieldSize 0 means 8190, not
//     unlimited (RFC 9110 §5.4 lets a server bound field lines, 431 per
//     RFC 6585 §5).
//
// # Deliberate differences from net/http
//
// Refused here, accepted by net/http.ReadRequest and its Server:
//   - Content-Length together with Transfer-Encoding (net/http lets chunked win).
//   - Transfer-Encoding on HTTP/1.0 (net/http ignores it and frames by Content-Length).
//   - obs-fold (net/textproto unfolds it), a bare LF as line end, whitespace
//     before a header colon (net/textproto drops it).
//   - HTTP/1.2 to 1.9 (505), asterisk-form without OPTIONS, CONNECT (501),
//     absolute-form other than http(s), with userinfo or a percent-encoded
//     authority.
//   - Chunk extensions that do not match RFC 9112 §7.1.1, and whitespace
//     after a chunk size.
//   - Repeated identical Content-Length lines, a second Content-Type, and
//     the forbidden trailer fields above.
//   - Gunicorn's limits: request line, field count and field size.
//
// Accepted here, refused by net/http:
//   - Up to 8 empty lines before a request line, per RFC 9112 §2.2.
//   - Targets net/url cannot parse (bad %-escapes): the raw target is kept
//     and decoded later, as Gunicorn does.
//
// The differential test in this package checks that no other disagreement
// exists on the framing decision.
//
// The package imports the standard library only and knows nothing of Python.
package httpparse
