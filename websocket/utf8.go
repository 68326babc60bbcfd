package websocket

import "unicode/utf8"

// utf8Validator checks UTF-8 that arrives in pieces (the fragments of a
// text message, RFC 6455 §5.6, §8.1), so that invalid text fails the
// connection at the first bad byte rather than when the message ends: a
// peer cannot make the server buffer megabytes of text that is already
// known to be invalid. A sequence may be split anywhere between pieces.
//
// need is the number of continuation bytes still expected; lo and hi
// bound the next one (Unicode Table 3-7, which excludes overlong forms,
// surrogates and code points above U+10FFFF). The zero value expects a
// new character.
type utf8Validator struct {
	need   uint8
	lo, hi byte
}

// write checks the next piece p and reports whether the text so far can
// still be valid UTF-8.
func (v *utf8Validator) write(p []byte) bool {
	for v.need > 0 {
		if len(p) == 0 {
			return true
		}
		if !v.step(p[0]) {
			return false
		}
		p = p[1:]
	}
	// Everything before a trailing incomplete sequence goes through the
	// standard library's validator, whose ASCII path is fast; only the
	// tail (at most 3 bytes) is stepped by hand.
	cut := len(p)
	for j := len(p) - 1; j >= 0 && j >= len(p)-3; j-- {
		if c := p[j]; c < 0x80 {
			break
		} else if c >= 0xC0 {
			if !utf8.FullRune(p[j:]) {
				cut = j
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		return false
	}
	for _, c := range p[cut:] {
		if !v.step(c) {
			return false
		}
	}
	return true
}

// complete reports whether the text ends at a character boundary.
func (v *utf8Validator) complete() bool { return v.need == 0 }

// step takes one byte: "\xE2" then "\x82" then "\xAC" (€) → true each.
func (v *utf8Validator) step(c byte) bool {
	if v.need > 0 {
		if c < v.lo || c > v.hi {
			return false
		}
		v.need, v.lo, v.hi = v.need-1, 0x80, 0xBF
		return true
	}
	switch {
	case c < 0x80:
	case c >= 0xC2 && c <= 0xDF:
		v.need, v.lo, v.hi = 1, 0x80, 0xBF
	case c == 0xE0: // no overlong 3-byte forms
		v.need, v.lo, v.hi = 2, 0xA0, 0xBF
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		v.need, v.lo, v.hi = 2, 0x80, 0xBF
	case c == 0xED: // no surrogates U+D800-DFFF
		v.need, v.lo, v.hi = 2, 0x80, 0x9F
	case c == 0xF0: // no overlong 4-byte forms
		v.need, v.lo, v.hi = 3, 0x90, 0xBF
	case c >= 0xF1 && c <= 0xF3:
		v.need, v.lo, v.hi = 3, 0x80, 0xBF
	case c == 0xF4: // nothing above U+10FFFF
		v.need, v.lo, v.hi = 3, 0x80, 0x8F
	default: // continuation byte without a lead, C0, C1, F5-FF
		return false
	}
	return true
}
