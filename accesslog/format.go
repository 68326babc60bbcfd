package accesslog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Entry is one finished (or killed) request, as the worker saw it.
type Entry struct {
	RemoteAddr string
	Method     []byte
	RawURI     []byte // the request-target as received
	Path       []byte // percent-encoded path, without the query
	Query      []byte
	Proto      string // "HTTP/1.1"
	Status     int
	Bytes      int64 // response body bytes sent
	Start      time.Time
	Duration   time.Duration
	PID        int
	// ReqHeader, RespHeader and Environ look a value up by name; nil
	// means none. They are called only for atoms that need them.
	ReqHeader  func(name string) []byte
	RespHeader func(name string) []byte
	Environ    func(key string) (string, bool)
}

// atom kinds: the letter of %(x)s, or 'i', 'o', 'e' with a key.
type segment struct {
	lit  string
	atom byte
	key  string // lower-case header name, or environ key, for i/o/e
}

// Format is a parsed --access-logformat.
type Format struct {
	segs []segment
	json bool
}

// ErrBadFormat is returned for a format Gunicorn would not accept either.
var ErrBadFormat = errors.New("accesslog: bad format")

const atoms = "hlutrsmUqHbBfaTDLMp"

// Parse compiles a Gunicorn access log format. "%%" is a literal '%'.
func Parse(format string) (*Format, error) {
	f := &Format{json: strings.HasPrefix(strings.TrimSpace(format), "{")}
	var lit strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if strings.HasPrefix(format[i:], "%%") {
			lit.WriteByte('%')
			i++
			continue
		}
		end := strings.Index(format[i:], ")s")
		if !strings.HasPrefix(format[i:], "%(") || end < 0 {
			return nil, fmt.Errorf("%w: %q at offset %d: want %%(name)s", ErrBadFormat, format[i:min(len(format), i+8)], i)
		}
		name := format[i+2 : i+end]
		seg, err := parseAtom(name)
		if err != nil {
			return nil, err
		}
		seg.lit = lit.String()
		lit.Reset()
		f.segs = append(f.segs, seg)
		i += end + 1
	}
	if lit.Len() > 0 {
		f.segs = append(f.segs, segment{lit: lit.String()})
	}
	return f, nil
}

func parseAtom(name string) (segment, error) {
	if len(name) == 1 && strings.Contains(atoms, name) {
		return segment{atom: name[0]}, nil
	}
	if len(name) > 3 && name[0] == '{' && name[len(name)-2] == '}' {
		kind, key := name[len(name)-1], name[1:len(name)-2]
		switch kind {
		case 'i', 'o':
			return segment{atom: kind, key: strings.ToLower(key)}, nil
		case 'e':
			return segment{atom: kind, key: key}, nil
		}
	}
	return segment{}, fmt.Errorf("%w: unknown atom %%(%s)s", ErrBadFormat, name)
}

// Uses reports whether the format has the atom letter, such as 'o' for
// any %({name}o)s, so the caller collects only what will be shown.
func (f *Format) Uses(atom byte) bool {
	for _, s := range f.segs {
		if s.atom == atom {
			return true
		}
	}
	return false
}

// Append formats e onto dst, with a trailing newline.
func (f *Format) Append(dst []byte, e *Entry) []byte {
	for _, s := range f.segs {
		dst = append(dst, s.lit...)
		if s.atom != 0 {
			dst = f.appendAtom(dst, s, e)
		}
	}
	return append(dst, '\n')
}

func (f *Format) appendAtom(dst []byte, s segment, e *Entry) []byte {
	switch s.atom {
	case 'h':
		return f.esc(dst, e.RemoteAddr)
	case 'l':
		return append(dst, '-')
	case 'u':
		return f.esc(dst, orDash(basicUser(header(e.ReqHeader, "authorization"))))
	case 't':
		return e.Start.AppendFormat(dst, "[02/Jan/2006:15:04:05 -0700]")
	case 'r':
		dst = f.escBytes(dst, e.Method)
		dst = append(dst, ' ')
		dst = f.escBytes(dst, e.RawURI)
		dst = append(dst, ' ')
		return append(dst, e.Proto...)
	case 's':
		return strconv.AppendInt(dst, int64(e.Status), 10)
	case 'm':
		return f.escBytes(dst, e.Method)
	case 'U':
		return f.escBytes(dst, e.Path)
	case 'q':
		return f.escBytes(dst, e.Query)
	case 'H':
		return append(dst, e.Proto...)
	case 'b':
		if e.Bytes == 0 {
			return append(dst, '-')
		}
		return strconv.AppendInt(dst, e.Bytes, 10)
	case 'B':
		return strconv.AppendInt(dst, e.Bytes, 10)
	case 'f':
		return f.escBytes(dst, orDashBytes(header(e.ReqHeader, "referer")))
	case 'a':
		return f.escBytes(dst, orDashBytes(header(e.ReqHeader, "user-agent")))
	case 'T':
		return strconv.AppendInt(dst, int64(e.Duration/time.Second), 10)
	case 'M':
		return strconv.AppendInt(dst, int64(e.Duration/time.Millisecond), 10)
	case 'D':
		return strconv.AppendInt(dst, int64(e.Duration/time.Microsecond), 10)
	case 'L':
		return strconv.AppendFloat(dst, e.Duration.Seconds(), 'f', 6, 64)
	case 'p':
		return append(strconv.AppendInt(append(dst, '<'), int64(e.PID), 10), '>')
	case 'i':
		return f.escBytes(dst, orDashBytes(header(e.ReqHeader, s.key)))
	case 'o':
		return f.escBytes(dst, orDashBytes(header(e.RespHeader, s.key)))
	case 'e':
		if e.Environ != nil {
			if v, ok := e.Environ(s.key); ok {
				return f.esc(dst, v)
			}
		}
		return append(dst, '-')
	}
	return dst
}

func header(get func(string) []byte, name string) []byte {
	if get == nil {
		return nil
	}
	return get(name)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orDashBytes(b []byte) []byte {
	if len(b) == 0 {
		return []byte("-")
	}
	return b
}

// basicUser is the user name of "Authorization: Basic ...", as Gunicorn
// logs it for %(u)s.
func basicUser(auth []byte) string {
	const prefix = "basic "
	if len(auth) <= len(prefix) || !strings.EqualFold(string(auth[:len(prefix)]), prefix) {
		return ""
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(auth[len(prefix):])))
	if err != nil {
		return ""
	}
	user, _, _ := strings.Cut(string(dec), ":")
	return user
}

func (f *Format) esc(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = f.escByte(dst, s[i])
	}
	return dst
}

func (f *Format) escBytes(dst, b []byte) []byte {
	for _, c := range b {
		dst = f.escByte(dst, c)
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// escByte: JSON string escaping in a JSON template, nginx's \xHH
// otherwise. Bytes >= 0x80 are escaped too: values are latin-1 octets,
// not known to be UTF-8, and a log line must stay valid either way.
func (f *Format) escByte(dst []byte, c byte) []byte {
	if f.json {
		switch {
		case c == '"' || c == '\\':
			return append(dst, '\\', c)
		case c < 0x20 || c >= 0x7f:
			return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		return append(dst, c)
	}
	if c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
		return append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
	}
	return append(dst, c)
}
