package websocket

// Header field syntax for the handshake: tokens (RFC 9110 §5.6.2),
// comma-separated lists (§5.6.1) and the extension list of RFC 6455
// §9.1. A table, not unicode functions: a Unicode-aware class would let
// NBSP and friends through.
var tokenTable [256]bool // tchar

func init() {
	for c := 0; c < 128; c++ {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		tokenTable[c] = alnum || contains("!#$%&'*+-.^_`|~", byte(c))
	}
}

func contains(set string, c byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

// isToken reports whether s is a non-empty token: "chat" → true,
// "v1.json" → true, "" → false, "a b" → false, "a,b" → false.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenTable[s[i]] {
			return false
		}
	}
	return true
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes SP and HTAB from both ends: " a b\t" → "a b".
func trimOWS(s string) string {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// equalFoldASCII compares s with lower (lower-case ASCII), ignoring ASCII
// case only: ("Upgrade", "upgrade") → true; a Kelvin sign is not a "k".
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// listHasToken reports whether any of the comma-separated lists in values
// has an element equal to lower, ignoring ASCII case:
// (["keep-alive, Upgrade"], "upgrade") → true.
func listHasToken(values []string, lower string) bool {
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v = cutComma(v)
			if equalFoldASCII(trimOWS(elem), lower) {
				return true
			}
		}
	}
	return false
}

func cutComma(s string) (before, after string) {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// parseTokenList parses lines of 1#token (RFC 6455 §4.3, §11.3.4:
// Sec-WebSocket-Protocol), several lines being one list (RFC 9110
// §5.3). Empty elements are skipped, as §5.6.1 asks of a recipient:
// ["chat, v2.chat", "x"] → [chat v2.chat x]; ["a b"] → not ok.
func parseTokenList(values []string) ([]string, bool) {
	var out []string
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v = cutComma(v)
			elem = trimOWS(elem)
			if elem == "" {
				continue
			}
			if !isToken(elem) {
				return nil, false
			}
			out = append(out, elem)
		}
	}
	return out, true
}

// Extension is one offer of Sec-WebSocket-Extensions (RFC 6455 §9.1),
// in the order the client sent it (its preference).
type Extension struct {
	Name   string
	Params []ExtensionParam
}

// ExtensionParam is a parameter of an extension offer. Value is the
// token, or the unquoted content of a quoted-string (which §9.1 requires
// to be a token too); HasValue tells "x" from "x=…".
type ExtensionParam struct {
	Name, Value string
	HasValue    bool
}

// parseExtensions parses lines of the extension-list grammar of RFC 6455
// §9.1, with OWS around the separators:
//
//	extension-list = 1#extension
//	extension      = extension-token *( ";" extension-param )
//	extension-param = token [ "=" (token | quoted-string) ]
//
// "permessage-deflate; client_max_window_bits, x-foo; a=\"1\"" →
// [{permessage-deflate [{client_max_window_bits}]} {x-foo [{a 1}]}].
func parseExtensions(values []string) ([]Extension, bool) {
	var out []Extension
	for _, v := range values {
		p := extParser{s: v}
		for {
			p.skipOWS()
			if p.eof() {
				break
			}
			if p.peek() == ',' { // an empty list element (RFC 9110 §5.6.1)
				p.i++
				continue
			}
			ext, ok := p.extension()
			if !ok {
				return nil, false
			}
			out = append(out, ext)
			p.skipOWS()
			if p.eof() {
				break
			}
			if p.peek() != ',' {
				return nil, false
			}
			p.i++
		}
	}
	return out, true
}

type extParser struct {
	s string
	i int
}

func (p *extParser) eof() bool  { return p.i >= len(p.s) }
func (p *extParser) peek() byte { return p.s[p.i] }

func (p *extParser) skipOWS() {
	for !p.eof() && isOWS(p.peek()) {
		p.i++
	}
}

func (p *extParser) token() string {
	start := p.i
	for !p.eof() && tokenTable[p.peek()] {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string (RFC 9110 §5.6.4) whose content, after
// unescaping, must be a token (RFC 6455 §9.1).
func (p *extParser) quoted() (string, bool) {
	p.i++ // the opening DQUOTE
	var b []byte
	for !p.eof() {
		c := p.peek()
		p.i++
		switch c {
		case '"':
			s := string(b)
			return s, isToken(s)
		case '\\':
			if p.eof() {
				return "", false
			}
			c = p.peek()
			p.i++
		}
		b = append(b, c)
	}
	return "", false
}

func (p *extParser) extension() (Extension, bool) {
	ext := Extension{Name: p.token()}
	if ext.Name == "" {
		return ext, false
	}
	for {
		p.skipOWS()
		if p.eof() || p.peek() != ';' {
			return ext, true
		}
		p.i++
		p.skipOWS()
		param := ExtensionParam{Name: p.token()}
		if param.Name == "" {
			return ext, false
		}
		p.skipOWS()
		if !p.eof() && p.peek() == '=' {
			p.i++
			p.skipOWS()
			param.HasValue = true
			if !p.eof() && p.peek() == '"' {
				var ok bool
				if param.Value, ok = p.quoted(); !ok {
					return ext, false
				}
			} else if param.Value = p.token(); param.Value == "" {
				return ext, false
			}
		}
		ext.Params = append(ext.Params, param)
	}
}
