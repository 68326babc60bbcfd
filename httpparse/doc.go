// Package httpparse is gowsgi's HTTP/1.1 request parser: the security
// boundary between untrusted clients and every WSGI application.
//
// It reads successive (pipelined) requests from one connection with a
// Reader, and each request's body with a Body. Parsing follows RFC 9112 and is
// deliberately strict wherever a front proxy could frame a request
// differently (request smuggling): Content-Length together with
// Transfer-Encoding, conflicting Content-Length values, Transfer-Encoding on
// HTTP/1.0, obs-fold, bare CR or LF, whitespace before a colon and malformed
// chunk sizes are all refused. Every refusal is an *Error carrying the HTTP
// status to answer with and a reason that never echoes client input.
//
// The package imports the standard library only and knows nothing of Python.
package httpparse
