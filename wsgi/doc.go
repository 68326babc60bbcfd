// Package wsgi is the pure-Go core of PEP 3333: it maps a parsed HTTP
// request to an encoded WSGI environ, and validates and frames the
// status and headers an app returns. It has no cgo and never touches
// Python objects, so all of it is tested without an interpreter.
//
// The environ encoding is the contract with package pyshim, which turns
// it into a dict: a sequence of entries
//
//	[u8 key id] ([u16 len][key] when the id is 0) [u32 len][value]
//
// in native byte order, keys and values as latin-1 bytes. Ids 1..n name
// EnvironKeys[id-1], which pyshim interns once at start-up.
//
// It may import httpparse; it must not import pyshim, worker or master.
package wsgi
