package accesslog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
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
	// ReqHeaders, RespHeaders and Vars list every request field,
	// response field (the app's) and environ key with its value, for
	// the atoms Python's logging gets (AppendAtoms); nil means none.
	ReqHeaders  iter.Seq2[[]byte, []byte]
	RespHeaders iter.Seq2[[]byte, []byte]
	Vars        iter.Seq2[[]byte, []byte]
}

// atom kinds: the letter of %(x)s, or 'i', 'o', 'e' with a key.
type segment struct {
	lit  string
	atom byte
	key  string    // lower-case header name, or environ key, for i/o/e
	conv *convSpec // nil for a plain %(x)s
}

// convSpec is what a Python %-conversion adds to %(x)s: flags, width,
// precision, and s or d ("%(h)-15s", "%(D)8d", "%(M)05d").
type convSpec struct {
	left, zero, plus, space bool
	width, prec             int // prec -1: none
	verb                    byte
}

// numericAtoms are those Gunicorn gives as numbers, so %d takes them.
const numericAtoms = "TDMB"

// Format is a parsed --access-logformat.
type Format struct {
	segs    []segment
	esc     escaping
	unknown []string // ParseOpen: the atoms it writes as "-", %(name)s each
}

// ErrBadFormat is returned for a format Gunicorn would not accept either,
// or, by Parse, would print "-" for (an unknown atom).
var ErrBadFormat = errors.New("accesslog: bad format")

const atoms = "hlutrsmUqHbBfaTDLMp"

// Parse compiles a Gunicorn access log format. "%%" is a literal '%'.
func Parse(format string) (*Format, error) { return parse(format, false) }

// ParseOpen is Parse where atoms it does not know are "-", as Gunicorn's
// SafeAtoms answers for a key the atoms lack: with a logger class, whose
// atoms() may add them, they are no typo.
func ParseOpen(format string) (*Format, error) { return parse(format, true) }

func parse(format string, open bool) (*Format, error) {
	f := &Format{esc: escNginx}
	if strings.HasPrefix(strings.TrimSpace(format), "{") {
		f.esc = escJSON
	}
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
		end := closingParen(format, i)
		if !strings.HasPrefix(format[i:], "%(") || end < 0 {
			return nil, fmt.Errorf("%w: %q at offset %d: want %%(name)s", ErrBadFormat, format[i:min(len(format), i+8)], i)
		}
		name := format[i+2 : end]
		seg, err := parseAtom(name)
		unknown := err != nil && open
		if unknown {
			seg, err = segment{atom: 'l'}, nil // the atom that is always "-"
			f.unknown = append(f.unknown, "%("+name+")s")
		}
		if err != nil {
			return nil, err
		}
		conv, n, err := parseConv(format[end+1:])
		if err != nil {
			return nil, fmt.Errorf("%w: %%(%s)%s: %v", ErrBadFormat, name, format[end+1:min(len(format), end+1+n+1)], err)
		}
		if unknown {
			conv = nil // the class's atoms() gives its type
		}
		if conv != nil && conv.verb == 'd' && !(len(name) == 1 && strings.Contains(numericAtoms, name)) {
			return nil, fmt.Errorf("%w: %%(%s)%s: %s is text (Gunicorn fails on every request there); use %%(%s)s",
				ErrBadFormat, name, format[end+1:end+1+n], name, name)
		}
		seg.conv = conv
		seg.lit = lit.String()
		lit.Reset()
		f.segs = append(f.segs, seg)
		i = end + n
	}
	if lit.Len() > 0 {
		f.segs = append(f.segs, segment{lit: lit.String()})
	}
	return f, nil
}

// closingParen is the index of the ")" that closes the "%(" at i,
// nested parentheses counted, as Python's %-formatting counts them; -1
// when there is none.
func closingParen(format string, i int) int {
	depth := 0
	for j := i + 1; j < len(format); j++ {
		switch format[j] {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return j
			}
		}
	}
	return -1
}

// parseConv reads what follows "%(name)": flags, width, precision and
// the conversion, s or d (i and u are d). It returns nil for a plain s,
// and the length read.
func parseConv(s string) (*convSpec, int, error) {
	c := &convSpec{prec: -1}
	i := 0
	for ; i < len(s) && strings.IndexByte("-+ 0#", s[i]) >= 0; i++ {
		switch s[i] {
		case '-':
			c.left = true
		case '+':
			c.plus = true
		case ' ':
			c.space = true
		case '0':
			c.zero = true
		}
	}
	digits := func() int {
		n := 0
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9' && n < 1000; i++ {
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	c.width = digits()
	if i < len(s) && s[i] == '.' {
		i++
		c.prec = digits()
	}
	if i >= len(s) {
		return nil, i, errors.New("no conversion")
	}
	switch s[i] {
	case 's':
		c.verb = 's'
	case 'd', 'i', 'u':
		c.verb = 'd'
	default:
		return nil, i, fmt.Errorf("conversion %q is not supported: use s, or d for T, D, M and B", s[i])
	}
	if c.verb == 's' && *c == (convSpec{prec: -1, verb: 's'}) {
		return nil, i + 1, nil
	}
	return c, i + 1, nil
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

// UnknownAtoms are the atoms of a ParseOpen format it writes as "-",
// such as %(asctime)s copied from a Python logging format.
func (f *Format) UnknownAtoms() []string { return f.unknown }

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
		switch {
		case s.conv != nil:
			dst = s.conv.apply(dst, e.appendAtom(nil, s.atom, s.key, f.esc))
		case s.atom != 0:
			dst = e.appendAtom(dst, s.atom, s.key, f.esc)
		}
	}
	return append(dst, '\n')
}

// apply appends v, an atom as %(x)s shows it, as Python's conversion
// would: for d, v is digits (a numeric atom), given a sign and at least
// prec digits; then padded to width, on the left unless left-aligned
// (with zeros for a right-aligned d with the 0 flag); s truncates to
// prec.
func (c *convSpec) apply(dst, v []byte) []byte {
	var sign string
	if c.verb == 'd' {
		switch {
		case c.plus:
			sign = "+"
		case c.space:
			sign = " "
		}
		if len(v) < c.prec {
			v = append([]byte(strings.Repeat("0", c.prec-len(v))), v...)
		}
	} else if c.prec >= 0 && len(v) > c.prec {
		v = v[:c.prec]
	}
	pad := c.width - len(sign) - len(v)
	switch {
	case pad <= 0:
		dst = append(append(dst, sign...), v...)
	case c.left:
		dst = append(append(dst, sign...), v...)
		dst = append(dst, strings.Repeat(" ", pad)...)
	case c.zero && c.verb == 'd':
		dst = append(append(dst, sign...), strings.Repeat("0", pad)...)
		dst = append(dst, v...)
	default:
		dst = append(dst, strings.Repeat(" ", pad)...)
		dst = append(append(dst, sign...), v...)
	}
	return dst
}

// appendAtom appends the value of the atom (a letter, or 'i', 'o', 'e'
// with key) as esc writes it.
func (e *Entry) appendAtom(dst []byte, atom byte, key string, esc escaping) []byte {
	switch atom {
	case 'h':
		return esc.appendString(dst, e.RemoteAddr)
	case 'l':
		return append(dst, '-')
	case 'u':
		return esc.appendString(dst, orDash(basicUser(header(e.ReqHeader, "authorization"))))
	case 't':
		return e.Start.AppendFormat(dst, "[02/Jan/2006:15:04:05 -0700]")
	case 'r':
		dst = esc.appendBytes(dst, e.Method)
		dst = append(dst, ' ')
		dst = esc.appendBytes(dst, e.RawURI)
		dst = append(dst, ' ')
		return append(dst, e.Proto...)
	case 's':
		return strconv.AppendInt(dst, int64(e.Status), 10)
	case 'm':
		return esc.appendBytes(dst, e.Method)
	case 'U':
		return esc.appendBytes(dst, e.Path)
	case 'q':
		return esc.appendBytes(dst, e.Query)
	case 'H':
		return append(dst, e.Proto...)
	case 'b', 'B':
		// b is "0" for an empty body, as Gunicorn writes it
		// (str(resp.sent)), not Apache's "-": log parsers and dashboards
		// built on Gunicorn's lines read a number there.
		return strconv.AppendInt(dst, e.Bytes, 10)
	case 'f':
		return esc.appendBytes(dst, orDashBytes(header(e.ReqHeader, "referer")))
	case 'a':
		return esc.appendBytes(dst, orDashBytes(header(e.ReqHeader, "user-agent")))
	case 'T':
		return strconv.AppendInt(dst, int64(e.Duration/time.Second), 10)
	case 'M':
		return strconv.AppendInt(dst, int64(e.Duration/time.Millisecond), 10)
	case 'D':
		return strconv.AppendInt(dst, int64(e.Duration/time.Microsecond), 10)
	case 'L':
		// Gunicorn's "%d.%06d" of the whole microseconds: truncated,
		// where a float would round the last digit up.
		us := int64(e.Duration / time.Microsecond)
		dst = append(strconv.AppendInt(dst, us/1e6, 10), '.')
		var digits [8]byte
		frac := strconv.AppendInt(digits[:0], us%1e6, 10)
		return append(append(dst, "000000"[len(frac):]...), frac...)
	case 'p':
		return append(strconv.AppendInt(append(dst, '<'), int64(e.PID), 10), '>')
	case 'i':
		return esc.appendBytes(dst, orDashBytes(header(e.ReqHeader, key)))
	case 'o':
		return esc.appendBytes(dst, orDashBytes(header(e.RespHeader, key)))
	case 'e':
		if e.Environ != nil {
			if v, ok := e.Environ(key); ok {
				return esc.appendString(dst, v)
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

// escaping is how a value is written into a line.
type escaping uint8

const (
	escNginx escaping = iota // '"', '\\' and bytes outside printable ASCII as \xHH, as nginx does
	escJSON                  // JSON string escapes, in a JSON template
	escNone                  // as it is: Python's logging gets the values themselves (atoms.go)
)

func (esc escaping) appendString(dst []byte, s string) []byte {
	if esc == escNone {
		return append(dst, s...)
	}
	for i := 0; i < len(s); i++ {
		dst = esc.appendByte(dst, s[i])
	}
	return dst
}

func (esc escaping) appendBytes(dst, b []byte) []byte {
	if esc == escNone {
		return append(dst, b...)
	}
	for _, c := range b {
		dst = esc.appendByte(dst, c)
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendByte: JSON string escaping in a JSON template, nginx's \xHH
// otherwise. Bytes >= 0x80 are escaped too: values are latin-1 octets,
// not known to be UTF-8, and a log line must stay valid either way.
func (esc escaping) appendByte(dst []byte, c byte) []byte {
	if esc == escJSON {
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
