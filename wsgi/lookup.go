package wsgi

import (
	"encoding/binary"
	"iter"

	"github.com/gowsgi/gowsgi/httpparse"
)

// Lookup finds key in the environ encoded by the last Build, comparing
// names ASCII case-insensitively as Gunicorn's %({key}e)s access log atom
// does. It sees what the server put in the environ, not keys the app
// added; the value is a copy. It is for the access log, not the hot path:
// it walks the whole encoding.
func (e *Environ) Lookup(key string) (string, bool) {
	for name, value := range e.All() {
		if EqualFold(string(name), key) {
			return string(value), true
		}
	}
	return "", false
}

// environKeyBytes are EnvironKeys as the byte slices All yields.
var environKeyBytes = func() [][]byte {
	b := make([][]byte, len(EnvironKeys))
	for i, k := range EnvironKeys {
		b[i] = []byte(k)
	}
	return b
}()

// All lists the keys and values of the environ encoded by the last
// Build, in order, as the server built them; both point into e's
// storage (or are shared: do not modify them) and stay valid until the
// next Build. For the access log's atoms, which Gunicorn gives for
// every environ key.
func (e *Environ) All() iter.Seq2[[]byte, []byte] {
	return func(yield func(key, value []byte) bool) {
		b := e.buf
		for len(b) > 0 {
			var name []byte
			if id := b[0]; id != 0 {
				if int(id) > len(EnvironKeys) || len(b) < 5 {
					return
				}
				name, b = environKeyBytes[id-1], b[1:]
			} else {
				if len(b) < 3 {
					return
				}
				n := int(binary.NativeEndian.Uint16(b[1:]))
				if len(b) < 3+n {
					return
				}
				name, b = b[3:3+n], b[3+n:]
			}
			if len(b) < 4 {
				return
			}
			m := int(binary.NativeEndian.Uint32(b))
			if len(b) < 4+m {
				return
			}
			if !yield(name, b[4:4+m]) {
				return
			}
			b = b[4+m:]
		}
	}
}

// BuildASGIAccess encodes the environ Gunicorn's asgi worker builds for
// its access log (ASGIProtocol._build_environ), whose keys are the
// {key}e atoms of an ASGI request: REQUEST_METHOD, RAW_URI, PATH_INFO
// (the path percent-decoded), QUERY_STRING, SERVER_PROTOCOL, REMOTE_ADDR
// ("-" for a unix-socket peer) and HTTP_NAME for every field, Content-
// Type and Content-Length included; a repeated field has its last value,
// at its first field's place, as in Gunicorn's dict.
// remoteAddr is the client's address, "" for none.
func (e *Environ) BuildASGIAccess(req *httpparse.Request, remoteAddr string) {
	e.buf = e.buf[:0]
	e.addID(idMethod, req.Method)
	e.addID(idRawURI, req.Target)
	at := len(e.buf)
	e.addID(idPathInfo, nil)
	e.buf = AppendUnescapedPath(e.buf, req.Path)
	binary.NativeEndian.PutUint32(e.buf[at+1:], uint32(len(e.buf)-at-5))
	e.addID(idQueryString, req.Query)
	if req.Minor == 0 {
		e.addString(idProtocol, "HTTP/1.0")
	} else {
		e.addString(idProtocol, "HTTP/1.1")
	}
	if remoteAddr == "" {
		remoteAddr = "-"
	}
	e.addString(idRemoteAddr, remoteAddr)
	fields := indexFields(req.Headers)
	for i := range req.Headers {
		h := &req.Headers[i]
		if fields.repeated(i) {
			continue
		}
		value := h.Value
		for j := fields.after(i); j >= 0; j = fields.after(j) {
			value = req.Headers[j].Value
		}
		key := appendHTTPKey(e.name[:0], h.Name)
		e.addKey(key, value)
	}
}
