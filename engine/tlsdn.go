package engine

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
)

// distinguishedName formats a certificate's raw subject or issuer as
// nginx's $ssl_client_s_dn does (OpenSSL's X509_NAME_print_ex with
// XN_FLAG_RFC2253): the last attribute first (of a multi-valued RDN
// too, joined with "+"), OpenSSL's short names (emailAddress, UID, DC, ... where Go's
// pkix.Name.String prints an OID and moves them last), RFC 2253's
// escapes, and bytes of 0x80 and above as \XX, as OpenSSL writes them.
// An attribute OpenSSL does not name, or a value of no string type, is
// its OID and #DER in hex. Unparsable DER gives Go's own formatting.
//
//	C=US, O=Acme, Inc., CN=Bob, emailAddress=b@x → "emailAddress=b@x,CN=Bob,O=Acme\, Inc.,C=US"
func distinguishedName(raw []byte, parsed pkix.Name) string {
	var seq []dnAttrSET
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) > 0 {
		return parsed.String()
	}
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		rdn := seq[i]
		for j := len(rdn) - 1; j >= 0; j-- { // OpenSSL reverses every entry, a set's too
			a := rdn[j]
			switch {
			case j < len(rdn)-1:
				b.WriteByte('+')
			case i < len(seq)-1:
				b.WriteByte(',')
			}
			name, known := dnAttrNames[a.Type.String()]
			if !known {
				name = a.Type.String()
			}
			b.WriteString(name)
			b.WriteByte('=')
			if s, ok := dnString(a.Value); ok && known {
				writeDNValue(&b, s)
			} else {
				b.WriteByte('#')
				b.WriteString(strings.ToUpper(hex.EncodeToString(a.Value.FullBytes)))
			}
		}
	}
	return b.String()
}

// dnAttrSET is one relative distinguished name (a SET, by asn1's naming
// rule), with each value kept raw.
type dnAttrSET []dnAttr

type dnAttr struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// dnString decodes a value of one of the string types a name uses, as
// OpenSSL converts it to UTF-8 (T.61 read as Latin-1).
func dnString(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagNumericString, 26: // 26: VisibleString
		return string(v.Bytes), true
	case asn1.TagT61String:
		r := make([]rune, len(v.Bytes))
		for i, c := range v.Bytes {
			r[i] = rune(c)
		}
		return string(r), true
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), true
	}
	return "", false
}

// writeDNValue writes s with OpenSSL's RFC 2253 escapes: \ before
// ,+"\<>; anywhere, before # or a space at the start and a space at the
// end; controls and bytes of 0x80 and above as \XX.
func writeDNValue(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(b, "\\%02X", c)
		case strings.IndexByte(`,+"\<>;`, c) >= 0, (c == '#' || c == ' ') && i == 0, c == ' ' && i == len(s)-1:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
}
