package websocket

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

var utf8Cases = []string{
	"", "hello", "κόσμε", "€", "𝄞 clef", "\u0080", "\u07ff", "\u0800", "\uffff", "\U00010000", "\U0010ffff",
	"\xed\x9f\xbf", // U+D7FF, last before the surrogates
	"\xee\x80\x80", // U+E000, first after them
	// invalid
	"\xff", "\xfe", "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
	"\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80",
	"\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xe2\x82", "a\xe2", "\xf0\x9f\x98", "\xce\xba\xe1\xbd",
	"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
}

// Fed in every split into two pieces and in random pieces, the
// validator agrees with unicode/utf8 on the whole text.
func TestUTF8ValidatorAgreesWithStdlib(t *testing.T) {
	check := func(s string, pieces [][]byte) {
		t.Helper()
		var v utf8Validator
		ok := true
		for _, p := range pieces {
			if !v.write(p) {
				ok = false
				break
			}
		}
		got := ok && v.complete()
		if want := utf8.ValidString(s); got != want {
			t.Errorf("validator(%q in %d pieces) = %v; want %v", s, len(pieces), got, want)
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for _, s := range utf8Cases {
		b := []byte(s)
		for i := 0; i <= len(b); i++ {
			check(s, [][]byte{b[:i], b[i:]})
		}
		for range 20 {
			var pieces [][]byte
			for rest := b; len(rest) > 0; {
				n := 1 + rng.IntN(len(rest))
				pieces, rest = append(pieces, rest[:n]), rest[n:]
			}
			check(s, pieces)
		}
	}
}

// A piece that makes the text invalid is refused at once, whatever may
// follow: "a\xe2" is a valid prefix, "a\xe2(" is not.
func TestUTF8ValidatorFailsAtTheFirstBadByte(t *testing.T) {
	tests := []struct {
		pieces []string
		okUpTo int // pieces accepted before the refusal; len(pieces) for none
	}{
		{[]string{"a\xe2", "\x82", "\xac"}, 3},
		{[]string{"a\xe2", "("}, 1},
		{[]string{"\xf0", "\x9f", "\x98", "\x80"}, 4},
		{[]string{"\xf4", "\x90"}, 1}, // above U+10FFFF known at the 2nd byte
		{[]string{"\xed", "\xa0"}, 1}, // surrogate known at the 2nd byte
		{[]string{"\xe0", "\x9f"}, 1}, // overlong known at the 2nd byte
		{[]string{"ok", "\xc0"}, 1},
	}
	for _, tt := range tests {
		var v utf8Validator
		n := 0
		for _, p := range tt.pieces {
			if !v.write([]byte(p)) {
				break
			}
			n++
		}
		if n != tt.okUpTo {
			t.Errorf("pieces %q: %d accepted; want %d", tt.pieces, n, tt.okUpTo)
		}
	}
}
