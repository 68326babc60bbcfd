// Package uwsgiproto reads request packets of the uwsgi protocol: the
// binary framing in which nginx (uwsgi_pass) and Apache
// (mod_proxy_uwsgi) hand a CGI environment to an application server.
//
// A request packet is a 4-byte header and a block of vars; the request
// body, CONTENT_LENGTH bytes, follows it on the same connection:
//
//	modifier1 uint8 | datasize uint16 LE | modifier2 uint8
//	datasize bytes of { keysize uint16 LE | key | valsize uint16 LE | value }
//
//	00 1a 00 00  0e 00 "REQUEST_METHOD" 03 00 "GET"  03 00 "FOO" 00 00
//	→ modifier1 0, vars REQUEST_METHOD="GET", FOO=""
//
// The peer is a trusted front end (the worker only accepts packets from
// --uwsgi-allow-from), but the parser is still strict: a packet must be
// exactly as long as its header says, every key must be printable
// ASCII, and a CGI var may appear once, because two CONTENT_LENGTH vars
// would leave the end of the body to whoever reads them last. So may the
// singleton request headers HTTP_HOST, HTTP_CONTENT_TYPE and
// HTTP_CONTENT_LENGTH (RFC 9110 §5.3), as in the HTTP parser.
//
// The package imports the standard library only and knows nothing of
// Python or WSGI.
package uwsgiproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gowsgi/gowsgi/httpparse"
)

// Modifier1 values gowsgi accepts. The uwsgi protocol uses modifier1 to
// pick a request handler in the uWSGI server; gowsgi only serves WSGI.
const (
	// ModifierWSGI is a plain WSGI request (nginx's default).
	ModifierWSGI = 0
	// ModifierManagePathInfo is a WSGI request whose PATH_INFO still
	// starts with SCRIPT_NAME, which the server removes (nginx
	// "uwsgi_modifier1 30", the classic way to mount an app below /).
	ModifierManagePathInfo = 30
)

// MaxVars bounds the vars of one packet, as Gunicorn's MAX_UWSGI_VARS.
const MaxVars = 1000

// headerSize is the fixed packet header: modifier1, datasize, modifier2.
const headerSize = 4

// Errors for packets that must not be served. After any of them the
// connection's framing is unknown and it must be closed.
var (
	ErrTruncated            = errors.New("uwsgiproto: connection closed inside a packet")
	ErrUnsupportedModifier  = errors.New("uwsgiproto: unsupported modifier1; only WSGI requests (0, 30) are served")
	ErrUnsupportedModifier2 = errors.New("uwsgiproto: modifier2 must be 0 for a WSGI request")
	ErrVarOverrun           = errors.New("uwsgiproto: var runs past the end of the packet")
	ErrInvalidKey           = errors.New("uwsgiproto: var key is empty or not printable ASCII")
	ErrDuplicateVar         = errors.New("uwsgiproto: CGI var or singleton header appears twice")
	ErrTooManyVars          = errors.New("uwsgiproto: too many vars")
	ErrMissingMethod        = errors.New("uwsgiproto: no REQUEST_METHOD var")
	ErrInvalidMethod        = errors.New("uwsgiproto: REQUEST_METHOD is not a token")
	ErrInvalidContentLength = errors.New("uwsgiproto: CONTENT_LENGTH is not a decimal number")
)

// Var is one key/value pair of a packet, as sent.
type Var struct {
	Key, Value []byte
}

// Packet is one request packet. Slices in Vars and Method point into
// storage the Packet owns and reuses on the next ReadPacket.
type Packet struct {
	Modifier1 uint8
	// Vars are in the order received. Keys starting with "HTTP_" may
	// repeat (nginx sends a repeated request header as repeated vars),
	// except HTTP_HOST, HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH; no
	// other key does.
	Vars []Var
	// Method is REQUEST_METHOD; never empty after a successful read.
	Method []byte
	// ContentLength is CONTENT_LENGTH, 0 when it is absent or empty.
	ContentLength int64

	head [headerSize]byte // the header being read; a field so it does not escape
	data []byte           // the vars block; reused
}

// Get returns the value of the first var named key.
func (p *Packet) Get(key string) ([]byte, bool) {
	for i := range p.Vars {
		if string(p.Vars[i].Key) == key {
			return p.Vars[i].Value, true
		}
	}
	return nil, false
}

// ReadPacket reads one request packet from r into p, reusing p's
// storage. It returns io.EOF when r ends before the first byte (the peer
// closed an unused connection), ErrTruncated when it ends inside the
// packet, one of the errors above for a packet that must be refused, or
// r's own error. The body is left unread in r.
func ReadPacket(r io.Reader, p *Packet) error {
	head := p.head[:]
	if _, err := io.ReadFull(r, head); err != nil {
		return readErr(err)
	}
	size := int(binary.LittleEndian.Uint16(head[1:3]))
	if cap(p.data) < size {
		p.data = make([]byte, size)
	}
	p.data = p.data[:size]
	if _, err := io.ReadFull(r, p.data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return readErr(err)
	}
	return p.parse(p.head)
}

func readErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return err
}

// Parse decodes a packet from its header and vars block, keeping data
// (which p then owns). It is ReadPacket without the reading.
func (p *Packet) Parse(header [4]byte, data []byte) error {
	if int(binary.LittleEndian.Uint16(header[1:3])) != len(data) {
		return ErrVarOverrun
	}
	p.data = data
	return p.parse(header)
}

func (p *Packet) parse(head [headerSize]byte) error {
	p.Modifier1 = head[0]
	p.Vars = p.Vars[:0]
	p.Method = nil
	p.ContentLength = 0
	if p.Modifier1 != ModifierWSGI && p.Modifier1 != ModifierManagePathInfo {
		return fmt.Errorf("%w (got %d)", ErrUnsupportedModifier, p.Modifier1)
	}
	if head[3] != 0 {
		return fmt.Errorf("%w (got %d)", ErrUnsupportedModifier2, head[3])
	}
	if err := p.splitVars(); err != nil {
		return err
	}
	return p.checkVars()
}

// splitVars cuts the vars block into Vars; every length must land
// inside the block and the last value must end exactly at its end.
func (p *Packet) splitVars() error {
	rest := p.data
	for len(rest) > 0 {
		if len(p.Vars) == MaxVars {
			return ErrTooManyVars
		}
		key, after, ok := cut16(rest)
		if !ok {
			return ErrVarOverrun
		}
		value, after, ok := cut16(after)
		if !ok {
			return ErrVarOverrun
		}
		if !validKey(key) {
			return ErrInvalidKey
		}
		p.Vars = append(p.Vars, Var{Key: key, Value: value})
		rest = after
	}
	return nil
}

// cut16 splits a uint16-length-prefixed string off the front of b.
func cut16(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.LittleEndian.Uint16(b))
	if len(b)-2 < n {
		return nil, nil, false
	}
	return b[2 : 2+n : 2+n], b[2+n:], true
}

// validKey accepts 1*( %x21-7E ): CGI var names and nginx's HTTP_* names
// are visible ASCII, and anything else would reach the app as an environ
// key no front end can have meant.
func validKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, b := range k {
		if b < 0x21 || b > 0x7e {
			return false
		}
	}
	return true
}

// checkVars refuses repeated CGI vars, then reads the two vars the
// framing and the request line depend on.
func (p *Packet) checkVars() error {
	for i := range p.Vars {
		k := p.Vars[i].Key
		if IsHeaderVar(k) && !isSingletonHeaderVar(k) {
			continue
		}
		for j := range i {
			if string(p.Vars[j].Key) == string(k) {
				return fmt.Errorf("%w: %q", ErrDuplicateVar, k)
			}
		}
		switch string(k) {
		case "REQUEST_METHOD":
			p.Method = p.Vars[i].Value
		case "CONTENT_LENGTH":
			n, ok := parseLength(p.Vars[i].Value)
			if !ok {
				return ErrInvalidContentLength
			}
			p.ContentLength = n
		}
	}
	if p.Method == nil {
		return ErrMissingMethod
	}
	// A token (RFC 9110 §9.1): the worker logs the method and the app
	// may echo it.
	if !httpparse.IsToken(p.Method) {
		return ErrInvalidMethod
	}
	return nil
}

// IsHeaderVar reports whether a var carries a request header: HTTP_
// and a name, as a front end turns "X-Foo: 1" into HTTP_X_FOO=1 (CGI,
// RFC 3875 §4.1.18). A bare "HTTP_" names no header (a field name is a
// non-empty token, RFC 9110 §5.1): it is a CGI var like any other, so
// it may not repeat. "HTTP_HOST" → true, "HTTP_" → false, "HTTPS" → false.
func IsHeaderVar(k []byte) bool {
	return len(k) > 5 && string(k[:5]) == "HTTP_"
}

// isSingletonHeaderVar reports the request headers that may appear once
// (RFC 9110 §5.3; Host §7.2, Content-Type §8.3, Content-Length §8.6), as
// the HTTP parser and Gunicorn main have it: a front end that passes two
// (nginx sends each header line as its own HTTP_* var) leaves the app to
// pick one, and which one it picks is what a smuggler relies on.
func isSingletonHeaderVar(k []byte) bool {
	switch string(k) {
	case "HTTP_HOST", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH":
		return true
	}
	return false
}

// parseLength accepts "" (no body, as nginx sends an absent
// Content-Length) or Content-Length's 1*DIGIT within an int64.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, true
	}
	return httpparse.ParseDecimal(v)
}
