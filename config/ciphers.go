package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Gunicorn hands its `ciphers` setting to Python's SSLContext.set_ciphers
// and Uvicorn its --ssl-ciphers (default "TLSv1"), so the values people
// run with are OpenSSL cipher strings: Mozilla's lists with DHE suites,
// "HIGH:!aNULL:!MD5", "ECDHE+AESGCM". selectCiphers reads them as OpenSSL
// 3.0 does (ssl_cipher_process_rulestr and ssl_cipher_apply_rule in
// ssl/ssl_ciph.c), over the TLS 1.2 suites Go implements: what it selects
// is what OpenSSL selects from the same string, less the suites Go lacks.
// The selection is exact because an OpenSSL rule moves or keeps each
// suite by the suite's own properties, so the order among Go's suites
// never depends on the others'. TestCiphersAsOpenSSLSelects checks it
// against the openssl command.

// The property bits of a suite, as OpenSSL's SSL_k*, SSL_a*, SSL_e* and
// SSL_MAC bits; only their distinctness matters here.
const (
	kRSA uint32 = 1 << iota
	kDHE
	kECDHE
	kPSK
	kRSAPSK
	kECDHEPSK
	kDHEPSK
	kSRP
)

const (
	aRSA uint32 = 1 << iota
	aDSS
	aNULL
	aECDSA
	aPSK
	aSRP
)

const (
	eDES uint32 = 1 << iota
	e3DES
	eRC2
	eIDEA
	eNULL
	eAES128
	eAES256
	eCAMELLIA128
	eCAMELLIA256
	eSEED
	eAES128GCM
	eAES256GCM
	eAES128CCM
	eAES256CCM
	eAES128CCM8
	eAES256CCM8
	eCHACHA20
	eARIA128GCM
	eARIA256GCM

	eAESCCM8 = eAES128CCM8 | eAES256CCM8
	eAESCCM  = eAES128CCM | eAES256CCM | eAESCCM8
	eAESGCM  = eAES128GCM | eAES256GCM
	eAES     = eAES128 | eAES256 | eAESGCM | eAESCCM
	eARIA    = eARIA128GCM | eARIA256GCM
	eCBC     = eDES | e3DES | eRC2 | eIDEA | eAES128 | eAES256 | eCAMELLIA128 | eCAMELLIA256 | eSEED
)

const (
	mMD5 uint32 = 1 << iota
	mSHA1
	mSHA256
	mSHA384
	mAEAD
)

// Strength classes (OpenSSL's SSL_STRONG_MASK bits) and the one bit of
// its SSL_DEFAULT_MASK.
const (
	sLOW uint8 = 1 << (iota + 1)
	sMEDIUM
	sHIGH
	sFIPS
	sNotDefault

	strongMask = sLOW | sMEDIUM | sHIGH | sFIPS
)

// TLS versions as OpenSSL's min_tls: the oldest version a suite works in.
const (
	minSSL3  = 0x0300
	minTLS1  = 0x0301
	minTLS12 = 0x0303
)

// cipherPattern is what one item of a cipher string selects: suites
// having one of the bits of each non-zero mask, or the one suite id.
type cipherPattern struct {
	kx, auth, enc, mac uint32
	minTLS             uint16
	strength           uint8
	id                 uint16 // a suite named outright, else 0
}

// goSuite is a TLS 1.2 suite Go implements, as OpenSSL describes it.
type goSuite struct {
	openssl string
	id      uint16
	bits    int // strength_bits: the cipher's key size
	p       cipherPattern
}

// goSuites are Go's TLS 1.2 suites (tls.CipherSuites) in the order
// OpenSSL lists them before a cipher string applies (`openssl ciphers
// ALL`); each one's kx, auth, enc, mac, min_tls and strength are
// OpenSSL's (ssl/s3_lib.c).
var goSuites = []goSuite{
	{"ECDHE-ECDSA-AES256-GCM-SHA384", tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 256,
		cipherPattern{kECDHE, aECDSA, eAES256GCM, mAEAD, minTLS12, sHIGH | sFIPS, 0}},
	{"ECDHE-RSA-AES256-GCM-SHA384", tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, 256,
		cipherPattern{kECDHE, aRSA, eAES256GCM, mAEAD, minTLS12, sHIGH | sFIPS, 0}},
	{"ECDHE-ECDSA-CHACHA20-POLY1305", tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 256,
		cipherPattern{kECDHE, aECDSA, eCHACHA20, mAEAD, minTLS12, sHIGH, 0}},
	{"ECDHE-RSA-CHACHA20-POLY1305", tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, 256,
		cipherPattern{kECDHE, aRSA, eCHACHA20, mAEAD, minTLS12, sHIGH, 0}},
	{"ECDHE-ECDSA-AES128-GCM-SHA256", tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 128,
		cipherPattern{kECDHE, aECDSA, eAES128GCM, mAEAD, minTLS12, sHIGH | sFIPS, 0}},
	{"ECDHE-RSA-AES128-GCM-SHA256", tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 128,
		cipherPattern{kECDHE, aRSA, eAES128GCM, mAEAD, minTLS12, sHIGH | sFIPS, 0}},
	{"ECDHE-ECDSA-AES256-SHA", tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, 256,
		cipherPattern{kECDHE, aECDSA, eAES256, mSHA1, minTLS1, sHIGH | sFIPS, 0}},
	{"ECDHE-RSA-AES256-SHA", tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, 256,
		cipherPattern{kECDHE, aRSA, eAES256, mSHA1, minTLS1, sHIGH | sFIPS, 0}},
	{"ECDHE-ECDSA-AES128-SHA", tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, 128,
		cipherPattern{kECDHE, aECDSA, eAES128, mSHA1, minTLS1, sHIGH | sFIPS, 0}},
	{"ECDHE-RSA-AES128-SHA", tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, 128,
		cipherPattern{kECDHE, aRSA, eAES128, mSHA1, minTLS1, sHIGH | sFIPS, 0}},
}

// cipherAliases are OpenSSL 3.0's selection keywords (cipher_aliases in
// ssl/ssl_ciph.c). Those that match none of Go's suites are listed too:
// combined with others by "+", they make the item select nothing, as
// there. OpenSSL leaves out the keywords of algorithms its providers
// lack, so on Debian's and Ubuntu's OpenSSL 3 RC4, RC2, IDEA, SEED and
// the GOST ones are unknown words; they are left out here too.
var cipherAliases = map[string]cipherPattern{
	"ALL":                 {enc: ^eNULL},
	"COMPLEMENTOFALL":     {enc: eNULL},
	"COMPLEMENTOFDEFAULT": {strength: sNotDefault},

	"kRSA": {kx: kRSA}, "kEDH": {kx: kDHE}, "kDHE": {kx: kDHE}, "DH": {kx: kDHE},
	"kEECDH": {kx: kECDHE}, "kECDHE": {kx: kECDHE}, "ECDH": {kx: kECDHE},
	"kPSK": {kx: kPSK}, "kRSAPSK": {kx: kRSAPSK}, "kECDHEPSK": {kx: kECDHEPSK}, "kDHEPSK": {kx: kDHEPSK},
	"kSRP": {kx: kSRP},

	"aRSA": {auth: aRSA}, "aDSS": {auth: aDSS}, "DSS": {auth: aDSS}, "aNULL": {auth: aNULL},
	"aECDSA": {auth: aECDSA}, "ECDSA": {auth: aECDSA}, "aPSK": {auth: aPSK},
	"aSRP": {auth: aSRP},

	"EDH": {kx: kDHE, auth: ^aNULL}, "DHE": {kx: kDHE, auth: ^aNULL},
	"EECDH": {kx: kECDHE, auth: ^aNULL}, "ECDHE": {kx: kECDHE, auth: ^aNULL},
	"NULL": {enc: eNULL}, "RSA": {kx: kRSA, auth: aRSA},
	"ADH": {kx: kDHE, auth: aNULL}, "AECDH": {kx: kECDHE, auth: aNULL},
	"PSK": {kx: kPSK | kRSAPSK | kECDHEPSK | kDHEPSK}, "SRP": {kx: kSRP},

	"3DES": {enc: e3DES}, "eNULL": {enc: eNULL},
	"AES128": {enc: eAES128 | eAES128GCM | eAES128CCM | eAES128CCM8},
	"AES256": {enc: eAES256 | eAES256GCM | eAES256CCM | eAES256CCM8},
	"AES":    {enc: eAES}, "AESGCM": {enc: eAESGCM}, "AESCCM": {enc: eAESCCM}, "AESCCM8": {enc: eAESCCM8},
	"CAMELLIA128": {enc: eCAMELLIA128}, "CAMELLIA256": {enc: eCAMELLIA256},
	"CAMELLIA": {enc: eCAMELLIA128 | eCAMELLIA256}, "CHACHA20": {enc: eCHACHA20},
	"ARIA": {enc: eARIA}, "ARIAGCM": {enc: eARIA}, "ARIA128": {enc: eARIA128GCM}, "ARIA256": {enc: eARIA256GCM},
	"CBC": {enc: eCBC},

	"MD5": {mac: mMD5}, "SHA1": {mac: mSHA1}, "SHA": {mac: mSHA1}, "SHA256": {mac: mSHA256}, "SHA384": {mac: mSHA384},

	"SSLv3": {minTLS: minSSL3}, "TLSv1": {minTLS: minTLS1}, "TLSv1.0": {minTLS: minTLS1}, "TLSv1.2": {minTLS: minTLS12},

	"LOW": {strength: sLOW}, "MEDIUM": {strength: sMEDIUM}, "HIGH": {strength: sHIGH},
	"FIPS": {enc: ^eNULL, strength: sFIPS},
}

// cipherRule is what an item's prefix asks: OpenSSL's CIPHER_ADD (none),
// CIPHER_DEL ("-"), CIPHER_ORD ("+") and CIPHER_KILL ("!").
type cipherRule int

const (
	ruleAdd cipherRule = iota
	ruleDel
	ruleOrd
	ruleKill
)

// cipherList is OpenSSL's CIPHER_ORDER list over Go's suites: the order
// and which of them are active. A suite killed by "!" is out of the
// order for good.
type cipherList struct {
	order  []int  // indices into goSuites
	active []bool // by index into goSuites
}

// apply is ssl_cipher_apply_rule: ADD appends each matching inactive
// suite to the end, ORD moves each matching active one to the end, DEL
// moves each matching active one to the front (walking backwards, so
// that they keep their order) and makes it inactive, KILL removes it for
// good. bits >= 0 restricts the rule to suites of that strength.
func (l *cipherList) apply(p cipherPattern, rule cipherRule, bits int) {
	walk := slices.Clone(l.order)
	if rule == ruleDel {
		slices.Reverse(walk)
	}
	for _, i := range walk {
		s := &goSuites[i]
		if (bits >= 0 && s.bits != bits) || !p.matches(s) {
			continue
		}
		switch {
		case rule == ruleAdd && !l.active[i], rule == ruleOrd && l.active[i]: // ORD leaves it active
			l.active[i] = true
			l.order = append(slices.DeleteFunc(l.order, func(j int) bool { return j == i }), i)
		case rule == ruleDel && l.active[i]:
			l.active[i] = false
			l.order = append([]int{i}, slices.DeleteFunc(l.order, func(j int) bool { return j == i })...)
		case rule == ruleKill:
			l.active[i] = false
			l.order = slices.DeleteFunc(l.order, func(j int) bool { return j == i })
		}
	}
}

// matches is the test of ssl_cipher_apply_rule: a suite named outright
// must also have the properties of the words beside it.
func (p cipherPattern) matches(s *goSuite) bool {
	if p.id != 0 && p.id != s.id {
		return false
	}
	return (p.kx == 0 || p.kx&s.p.kx != 0) && (p.auth == 0 || p.auth&s.p.auth != 0) &&
		(p.enc == 0 || p.enc&s.p.enc != 0) && (p.mac == 0 || p.mac&s.p.mac != 0) &&
		(p.minTLS == 0 || p.minTLS == s.p.minTLS) &&
		(p.strength&strongMask == 0 || p.strength&strongMask&s.p.strength != 0) &&
		(p.strength&sNotDefault == 0 || s.p.strength&sNotDefault != 0)
}

// and narrows p by the next word's q, as the "+" of "ECDHE+AESGCM"
// does, starting from the zero pattern (the loop body of
// ssl_cipher_process_rulestr); false when the two cannot both hold
// (OpenSSL then ignores the item).
func (p cipherPattern) and(q cipherPattern, named bool) (cipherPattern, bool) {
	for _, m := range []struct {
		mask *uint32
		next uint32
	}{{&p.kx, q.kx}, {&p.auth, q.auth}, {&p.enc, q.enc}, {&p.mac, q.mac}} {
		switch {
		case m.next == 0:
		case *m.mask == 0:
			*m.mask = m.next
		default:
			if *m.mask &= m.next; *m.mask == 0 {
				return p, false
			}
		}
	}
	if strong := q.strength & strongMask; strong != 0 {
		if p.strength&strongMask == 0 {
			p.strength = strong // an assignment there too: it drops a sNotDefault before it
		} else if p.strength &= strong | ^strongMask; p.strength&strongMask == 0 {
			return p, false
		}
	}
	if q.strength&sNotDefault != 0 {
		p.strength |= sNotDefault
	}
	if named {
		p.id = q.id
	}
	if q.minTLS != 0 {
		if p.minTLS != 0 && p.minTLS != q.minTLS {
			return p, false
		}
		p.minTLS = q.minTLS
	}
	return p, true
}

// lookupCipherWord finds an alias or one of Go's suites by OpenSSL's
// name or, beyond OpenSSL 3.0, by IANA's. The names of suites Go lacks
// (DHE-RSA-AES128-GCM-SHA256) are unknown words here, where OpenSSL
// knows them: either way they select nothing of Go's, and only an item
// glued to one without a separator ("DHE-RSA-AES128-GCM-SHA256!HIGH")
// reads differently (OpenSSL reads on after a name it knows, and skips
// to the next separator after one it does not).
func lookupCipherWord(w string) (p cipherPattern, named, ok bool) {
	if p, ok := cipherAliases[w]; ok {
		return p, false, true
	}
	for _, s := range goSuites {
		if w == s.openssl || w == tls.CipherSuiteName(s.id) {
			p := s.p
			p.id = s.id
			return p, true, true
		}
	}
	return cipherPattern{}, false, false
}

// cipherSelection is what a cipher string selects from Go's suites.
type cipherSelection struct {
	ids []uint16
	// unmatched are the items that add suites (no prefix) but name none
	// Go implements: DHE suites, kRSA ones, names OpenSSL does not know.
	unmatched []string
}

// errCipherCommand is OpenSSL's SSL_R_INVALID_COMMAND.
var errCipherCommand = errors.New("not OpenSSL cipher-string syntax")

// defaultCipherRules is what a leading "DEFAULT" stands for in OpenSSL 3.0
// (OSSL_default_cipher_list).
const defaultCipherRules = "ALL:!COMPLEMENTOFDEFAULT:!eNULL"

// selectCiphers reads s as OpenSSL 3.0 reads a cipher string
// (ssl_create_cipher_list), over Go's TLS 1.2 suites:
//
//	"ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256" → the first (the second: unmatched)
//	"HIGH:!aNULL:!MD5" → all ten, in OpenSSL's order
//	"ECDHE+AESGCM" → the four ECDHE AES-GCM suites
//	"TLSv1" (Uvicorn's default) → the four ECDHE AES-CBC-SHA suites
//	"HIGH:@STRENGTH" → sorted by key size, stably
//	"HIGH:@SECLEVEL=4" → the 256-bit AEAD suites (level 4 refuses SHA-1 and keys under 192 bits)
//
// Items are separated by ':', ' ', ',' or ';'; unknown words select
// nothing, as in OpenSSL. An error for a character or "@" command
// OpenSSL refuses, and for Suite B mode.
func selectCiphers(s string) (cipherSelection, error) {
	var sel cipherSelection
	l := cipherList{order: make([]int, len(goSuites)), active: make([]bool, len(goSuites))}
	for i := range l.order {
		l.order[i] = i
	}
	for _, p := range []string{"SUITEB128ONLY", "SUITEB128C2", "SUITEB128", "SUITEB192"} {
		if strings.HasPrefix(s, p) {
			return sel, fmt.Errorf("%s: Suite B mode (RFC 6460) is not served: name its suites instead, "+
				"such as ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384", p)
		}
	}
	if rest, ok := strings.CutPrefix(s, "DEFAULT"); ok {
		if _, err := l.applyRules(defaultCipherRules, nil); err != nil {
			return sel, err
		}
		s = strings.TrimPrefix(rest, ":")
	}
	level, err := l.applyRules(s, &sel.unmatched)
	if err != nil {
		return sel, err
	}
	for _, i := range l.order {
		s := &goSuites[i]
		// The security level's floor (ssl_security_default_callback):
		// from level 4, 192-bit keys and no SHA-1 MAC.
		if !l.active[i] || (level >= 4 && (s.bits < 192 || s.p.mac == mSHA1)) {
			continue
		}
		sel.ids = append(sel.ids, s.id)
	}
	return sel, nil
}

// applyRules applies the items of rules in turn, scanning them as
// ssl_cipher_process_rulestr does: an item is an optional prefix, then
// words joined by '+'; an item whose words are all known applies, and
// scanning goes on right after it ("HIGH!aNULL" is two items); an item
// with an unknown word, or words that cannot hold together, is skipped
// to the next separator. It returns the @SECLEVEL asked (else -1) and
// adds to unmatched the items that add nothing Go has.
func (l *cipherList) applyRules(rules string, unmatched *[]string) (level int, err error) {
	level = -1
	for i := 0; i < len(rules); {
		start, rule, command := i, ruleAdd, false
		switch c := rules[i]; {
		case isCipherSep(rune(c)):
			i++
			continue
		case c == '-':
			rule, i = ruleDel, i+1
		case c == '+':
			rule, i = ruleOrd, i+1
		case c == '!':
			rule, i = ruleKill, i+1
		case c == '@':
			command, i = true, i+1
		}
		var p cipherPattern
		found := true
		for {
			n := cipherWordLen(rules[i:])
			if n == 0 {
				item := rules[start:]
				if j := strings.IndexFunc(item[1:], isCipherSep); j >= 0 {
					item = item[:j+1]
				}
				return level, fmt.Errorf("%q: %w", item, errCipherCommand)
			}
			word := rules[i : i+n]
			i += n
			if command {
				if level, err = cipherCommand(word, level, l); err != nil {
					return level, err
				}
				break
			}
			multi := i < len(rules) && rules[i] == '+'
			if multi {
				i++
			}
			q, named, ok := lookupCipherWord(word)
			if ok {
				p, ok = p.and(q, named)
			}
			if !ok {
				found = false
				break
			}
			if !multi {
				break
			}
		}
		if command || !found {
			for i < len(rules) && !isCipherSep(rune(rules[i])) {
				i++
			}
		} else {
			l.apply(p, rule, -1)
		}
		if command || rule != ruleAdd || unmatched == nil {
			continue
		}
		if !found || !slices.ContainsFunc(goSuites, func(s goSuite) bool { return p.matches(&s) }) {
			*unmatched = append(*unmatched, rules[start:i])
		}
	}
	return level, nil
}

// cipherCommand runs an "@" item: STRENGTH sorts the active suites by key
// size, biggest first, keeping their order otherwise (ORD for each size
// in turn, as ssl_cipher_strength_sort); SECLEVEL=N sets the level.
func cipherCommand(word string, level int, l *cipherList) (int, error) {
	switch {
	case word == "STRENGTH":
		for _, bits := range []int{256, 128} {
			l.apply(cipherPattern{}, ruleOrd, bits)
		}
		return level, nil
	case len(word) == len("SECLEVEL=N") && strings.HasPrefix(word, "SECLEVEL=") && word[9] >= '0' && word[9] <= '5':
		return int(word[9] - '0'), nil
	}
	return level, fmt.Errorf("%q: %w: the commands are @STRENGTH and @SECLEVEL=0 to 5", "@"+word, errCipherCommand)
}

// cipherWordLen is the length of the word s starts with: OpenSSL's
// letters, digits, '-', '_', '.' and '='.
func cipherWordLen(s string) int {
	for i, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == '=') {
			return i
		}
	}
	return len(s)
}

func isCipherSep(r rune) bool { return r == ':' || r == ' ' || r == ',' || r == ';' }
