package accesslog

import (
	"encoding/binary"
	"unicode/utf8"
)

// Gunicorn's atoms for Python's logging. With a logging configuration
// (logconfig_dict, logconfig_json, logconfig) Gunicorn writes each
// request's access record through Python's logging, in
// glogging.Logger.access:
//
//	self.access_log.info(self.cfg.access_log_format, SafeAtoms(atoms))
//
// so a formatter's %(message)s is the format filled in from the atoms,
// and record.args is the atoms dict itself. AppendAtoms encodes that
// dict, with the values and Python types Gunicorn's atoms() gives, for
// pyshim to build it; SafeAtoms (worker/pylogging.py) then escapes '"'
// and answers "-" for a missing key, as Gunicorn's does.

// The kinds of value in the encoding: the Python type the value becomes.
const (
	KindText = 's' // str, from latin-1 bytes, as Gunicorn decodes the request
	KindUTF8 = 'u' // str, from UTF-8: %(u)s's user name, which Gunicorn decodes so
	KindInt  = 'i' // int, from decimal digits
)

// AppendAtoms appends e's atoms to dst, one entry each:
//
//	[kind u8][key length u16][key][value length u32][value]
//
// lengths in native byte order, e.g. 's' 1 "h" 9 "127.0.0.1". Letter
// atoms come first, then {name}i for each request field, {name}o for
// each response field and {key}e for each environ key, lower case: as
// in Gunicorn's dict, a later entry of the same key (a repeated field)
// replaces the value of an earlier one.
//
// asgi: as Gunicorn's asgi worker gives them, %(s)s is an int and the
// response fields are the app's own, with Transfer-Encoding: chunked
// added when Gunicorn would chunk the body; its sync and gthread workers
// give the status code as text, and leave out the hop-by-hop fields a
// WSGI app may not set (Response.process_headers). RespHeaders is nil
// when the app gave no response head.
func AppendAtoms(dst []byte, e *Entry, asgi bool) []byte {
	for i := 0; i < len(atoms); i++ {
		atom, kind := atoms[i], byte(KindText)
		switch {
		case atom == 'B' || atom == 'T' || atom == 'D' || atom == 'M' || atom == 's' && asgi:
			kind = KindInt
		case atom == 'u':
			kind = KindUTF8
		}
		dst = append(dst, kind)
		dst = binary.NativeEndian.AppendUint16(dst, 1)
		dst = append(dst, atom)
		at := len(dst)
		dst = e.appendGunicornAtom(append(dst, 0, 0, 0, 0), atom)
		binary.NativeEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	if e.ReqHeaders != nil {
		for name, value := range e.ReqHeaders {
			dst = appendNamed(dst, name, 'i', value)
		}
	}
	if e.RespHeaders != nil {
		framed := false // the app gave Content-Length or Transfer-Encoding
		for name, value := range e.RespHeaders {
			framed = framed || equalFold(name, "content-length") || equalFold(name, "transfer-encoding")
			if asgi || !hopByHop(name, value) {
				dst = appendNamed(dst, name, 'o', value)
			}
		}
		if asgi && !framed && e.chunkedByGunicorn() {
			dst = appendNamed(dst, []byte("transfer-encoding"), 'o', []byte("chunked"))
		}
	}
	if e.Vars != nil {
		for key, value := range e.Vars {
			dst = appendNamed(dst, key, 'e', value)
		}
	}
	return dst
}

// appendGunicornAtom appends a letter atom's value as Gunicorn's atoms()
// computes it, where that differs from the line gowsgi writes itself
// (appendAtom): %(t)s is the time of the record, the request's end;
// %(U)s, %(f)s and %(a)s are read from the environ, PATH_INFO
// percent-decoded; a user name that is not UTF-8 is "-", as when
// Gunicorn fails to decode it.
func (e *Entry) appendGunicornAtom(dst []byte, atom byte) []byte {
	switch atom {
	case 't':
		return e.Start.Add(e.Duration).AppendFormat(dst, "[02/Jan/2006:15:04:05 -0700]")
	case 'U':
		if v, ok := e.environ("PATH_INFO"); ok {
			return append(dst, v...)
		}
	case 'f', 'a':
		key := "HTTP_REFERER"
		if atom == 'a' {
			key = "HTTP_USER_AGENT"
		}
		if v, ok := e.environ(key); ok {
			return append(dst, v...)
		} else if e.Environ != nil {
			return append(dst, '-')
		}
	case 'u':
		if user := basicUser(header(e.ReqHeader, "authorization")); user != "" && utf8.ValidString(user) {
			return append(dst, user...)
		}
		return append(dst, '-')
	}
	return e.appendAtom(dst, atom, "", escNone)
}

// chunkedByGunicorn reports whether Gunicorn's asgi worker chunks the
// body of a response that gave no framing of its own, adding the field
// to the headers it logs: an HTTP/1.1 response that may have a body.
func (e *Entry) chunkedByGunicorn() bool {
	noBody := string(e.Method) == "HEAD" || e.Status < 200 || e.Status == 204 || e.Status == 304
	return e.Proto == "HTTP/1.1" && !noBody
}

func (e *Entry) environ(key string) (string, bool) {
	if e.Environ == nil {
		return "", false
	}
	return e.Environ(key)
}

// appendNamed appends the entry "{name}kind", name in lower case.
func appendNamed(dst, name []byte, kind byte, value []byte) []byte {
	dst = append(dst, KindText)
	dst = binary.NativeEndian.AppendUint16(dst, uint16(len(name)+3))
	dst = append(dst, '{')
	for _, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	dst = append(dst, '}', kind)
	dst = binary.NativeEndian.AppendUint32(dst, uint32(len(value)))
	return append(dst, value...)
}

// hopHeaders are Gunicorn's util.hop_headers: the hop-by-hop fields,
// and Server and Date, which it writes itself.
var hopHeaders = []string{"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
	"trailers", "transfer-encoding", "server", "date"}

// hopByHop reports whether Gunicorn leaves the response field out of a
// WSGI response's headers: one of hopHeaders, or Upgrade but for
// "Upgrade: websocket".
func hopByHop(name, value []byte) bool {
	if equalFold(name, "upgrade") {
		return !equalFold(value, "websocket")
	}
	for _, h := range hopHeaders {
		if equalFold(name, h) {
			return true
		}
	}
	return false
}

// equalFold compares b with the lower-case ASCII s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
