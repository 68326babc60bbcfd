// Package proxyproto reads the PROXY protocol header (versions 1 and 2,
// haproxy.org/download/2.9/doc/proxy-protocol.txt) that a load balancer
// sends before the first byte of a proxied connection, so the server can
// see the client's address instead of the balancer's.
//
//	"PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n" → Source 203.0.113.7:51234
//	"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c..."      → the same, in binary (v2)
//
// Parsing is strict: a header that does not follow the grammar exactly is
// refused, because a lenient reader could be fed a forged address. The
// caller decides which peers may send a header at all.
//
// The package imports the standard library only.
package proxyproto
