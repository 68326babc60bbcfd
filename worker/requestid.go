package worker

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/gowsgi/gowsgi/httpparse"
)

// Request ids (--request-id-header, X-Request-ID by default). A
// client's id is kept when it is a plausible id; otherwise the worker
// makes one. The id reaches the app as a request header (so the environ
// has HTTP_X_REQUEST_ID), the client in the response head, the access
// log through %({x-request-id}i)s, and the error log as request_id.

// maxRequestIDLen bounds an id taken from a client.
const maxRequestIDLen = 200

// requestIDName is the header's name as configured and in lower case;
// cached by the stats, made here for servers without them (unit tests).
func (s *server) requestIDName() (name []byte, lower string) {
	if s.stats != nil {
		return s.stats.ridName, s.stats.ridLower
	}
	return []byte(s.cfg.RequestIDHeader), strings.ToLower(s.cfg.RequestIDHeader)
}

// requestIDBytes is the current request's id, nil before
// ensureRequestID; it points into the request's storage.
func (c *conn) requestIDBytes() []byte {
	if c.srv.cfg.RequestIDHeader == "" {
		return nil
	}
	_, lower := c.srv.requestIDName()
	return requestHeader(c.req.Headers, lower)
}

// requestID is the current request's id as a string, for log lines.
func (c *conn) requestID() string { return string(c.requestIDBytes()) }

// ensureRequestID keeps a valid id the client sent, or sets a new one,
// before the environ is built. uwsgi packets carry their own vars.
func (c *conn) ensureRequestID() {
	if c.srv.cfg.RequestIDHeader == "" || c.uwsgi != nil {
		return
	}
	name, lower := c.srv.requestIDName()
	for i := range c.req.Headers {
		h := &c.req.Headers[i]
		if asciiEqualLower(h.Name, lower) {
			if !validRequestID(h.Value) {
				h.Value = newRequestID()
			}
			return
		}
	}
	c.req.Headers = append(c.req.Headers, httpparse.Header{Name: name, Value: newRequestID()})
}

// validRequestID: 1 to maxRequestIDLen visible ASCII bytes, so the id
// is safe to echo in a header and a log line.
func validRequestID(v []byte) bool {
	if len(v) == 0 || len(v) > maxRequestIDLen {
		return false
	}
	for _, b := range v {
		if b <= ' ' || b >= 0x7f {
			return false
		}
	}
	return true
}

// newRequestID is 128 random bits in hex.
func newRequestID() []byte {
	var b [16]byte
	rand.Read(b[:])
	out := make([]byte, 32)
	hex.Encode(out, b[:])
	return out
}

// appendRequestID adds the id to a response head that ends with its
// empty line, unless the app set the header itself.
func (c *conn) appendRequestID(head []byte) []byte {
	id := c.requestIDBytes()
	name, lower := c.srv.requestIDName()
	if len(id) == 0 || len(head) < 4 || hasField(head, lower) {
		return head
	}
	head = head[:len(head)-2] // before the final CRLF
	head = append(head, name...)
	head = append(head, ": "...)
	head = append(head, id...)
	return append(head, "\r\n\r\n"...)
}

// hasField reports whether a response head has a field named lower.
func hasField(head []byte, lower string) bool {
	for len(head) > 0 {
		line := head
		if i := bytes.Index(head, crlf); i >= 0 {
			line, head = head[:i], head[i+2:]
		} else {
			head = nil
		}
		if n, _, ok := bytes.Cut(line, []byte(":")); ok && asciiEqualLower(n, lower) {
			return true
		}
	}
	return false
}
