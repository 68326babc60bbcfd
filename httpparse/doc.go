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
//   - Gunicorn's limits: request line, field count and field size.
//
// Accepted here, refused by net/http:
//   - A Content-Length list of identical values ("5, 5"), per RFC 9110 §8.6.
//   - Up to 8 empty lines before a request line, per RFC 9112 §2.2.
//   - Targets net/url cannot parse (bad %-escapes): the raw target is kept
//     and decoded later, as Gunicorn does.
//
// The differential test in this package checks that no other disagreement
// exists on the framing decision.
//
// The package imports the standard library only and knows nothing of Python.
package httpparse
