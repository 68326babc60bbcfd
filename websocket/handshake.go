package websocket

import (
	"crypto/sha1"
	"encoding/base64"
	"slices"
)

// Request is what the opening handshake reads of an HTTP request, as
// plain values, so that any HTTP parser can feed it.
type Request struct {
	// Method is the request method, case-sensitive ("GET").
	Method string
	// Major and Minor are the HTTP version: 1 and 1 for HTTP/1.1.
	Major, Minor int
	// Header returns every value of the named field, one per field line
	// in the order received, or nil when the field is absent. name is
	// given in lower case ("sec-websocket-key"); the lookup must ignore
	// ASCII case. Never nil.
	Header func(name string) []string
}

// Handshake is a valid opening handshake (RFC 6455 §4.2.1).
type Handshake struct {
	// Key is the Sec-WebSocket-Key nonce, as sent.
	Key string
	// Subprotocols are the offered Sec-WebSocket-Protocol values, in the
	// client's order of preference (§4.1 item 10); nil when none.
	Subprotocols []string
	// Extensions are the offered Sec-WebSocket-Extensions (§9.1), in the
	// client's order of preference; NegotiateDeflate reads them.
	Extensions []Extension
}

// IsUpgrade reports whether a request asks to become a WebSocket: its
// Upgrade field lists "websocket" (RFC 6455 §4.2.1 item 3, compared
// without regard to ASCII case; RFC 9110 §7.8 makes Upgrade a list).
// A request that does not is plain HTTP; one that does is then checked
// in full by ParseRequest.
func IsUpgrade(header func(name string) []string) bool {
	return listHasToken(header("upgrade"), "websocket")
}

// ParseRequest checks an opening handshake (RFC 6455 §4.2.1) and returns
// what the server answers with. A request that fails is answered with
// the returned *HandshakeError's status, header and reason (400, or 426
// for a version other than 13), not upgraded, and the connection closed.
// Origin is not checked: a server that wants to refuse cross-site pages
// does so in the application, with the field in hand (§10.2).
func ParseRequest(r Request) (*Handshake, error) {
	// §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
	if r.Method != "GET" {
		return nil, ErrMethodNotGet
	}
	if r.Major < 1 || r.Major == 1 && r.Minor < 1 {
		return nil, ErrHTTPVersion
	}
	// Item 2: a Host field (an HTTP/1.1 parser also requires it).
	if len(r.Header("host")) == 0 {
		return nil, ErrMissingHost
	}
	// Items 3 and 4: Upgrade lists websocket, Connection lists upgrade.
	if !IsUpgrade(r.Header) {
		return nil, ErrNotUpgrade
	}
	if !listHasToken(r.Header("connection"), "upgrade") {
		return nil, ErrNoConnectionUpgrade
	}
	// Item 6: Sec-WebSocket-Version 13. §11.3.5 allows one field line in
	// a request; §4.2.2 item 4 (and §4.4) answers another version with
	// the versions the server speaks, 426 Upgrade Required by custom.
	version := r.Header("sec-websocket-version")
	if len(version) > 1 {
		return nil, ErrBadVersionHeader
	}
	if len(version) == 0 || trimOWS(version[0]) != "13" {
		return nil, ErrUnsupportedVersion
	}
	// Item 5: Sec-WebSocket-Key, once (§11.3.1), base64 of 16 bytes.
	key := r.Header("sec-websocket-key")
	if len(key) != 1 || !validKey(trimOWS(key[0])) {
		return nil, ErrBadKey
	}
	h := &Handshake{Key: trimOWS(key[0])}
	var ok bool
	if h.Subprotocols, ok = parseTokenList(r.Header("sec-websocket-protocol")); !ok {
		return nil, ErrBadProtocolHeader
	}
	if h.Extensions, ok = parseExtensions(r.Header("sec-websocket-extensions")); !ok {
		return nil, ErrBadExtensionsHeader
	}
	return h, nil
}

// validKey reports whether key is the base64 (RFC 4648 §4, padded) of
// 16 bytes: 24 characters ending in "==", with no stray bits in the
// last one (Strict). "dGhlIHNhbXBsZSBub25jZQ==" → true.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var buf [18]byte
	n, err := base64.StdEncoding.Strict().Decode(buf[:], []byte(key))
	return err == nil && n == 16
}

// acceptGUID is the fixed GUID of RFC 6455 §1.3.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key: the
// base64 of SHA-1(key + GUID) (RFC 6455 §1.3, §4.2.2 item 5.4).
// "dGhlIHNhbXBsZSBub25jZQ==" → "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(acceptGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Response is what the server adds to its 101 answer.
type Response struct {
	// Subprotocol is the chosen Sec-WebSocket-Protocol, "" for none. It
	// must be one the client offered (§4.2.2 item 5.4: "/subprotocol/
	// ... MUST be derived from the client's handshake").
	Subprotocol string
	// Deflate are the negotiated permessage-deflate parameters, nil when
	// the extension is not in use.
	Deflate *DeflateParams
	// Header are extra fields (the ASGI app's "headers"), written after
	// the handshake's own. Names must be tokens and values free of
	// control bytes; the fields the handshake writes are refused.
	Header [][2]string
}

// reservedResponse are the fields AppendResponse writes or that would
// frame a body a 101 has not got.
var reservedResponse = []string{"upgrade", "connection", "sec-websocket-accept",
	"sec-websocket-protocol", "sec-websocket-extensions", "sec-websocket-version",
	"content-length", "transfer-encoding"}

// AppendResponse appends the server's 101 response head for h (RFC 6455
// §4.2.2 item 5), empty line included:
//
//	HTTP/1.1 101 Switching Protocols
//	Upgrade: websocket
//	Connection: Upgrade
//	Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
//	Sec-WebSocket-Protocol: chat                          (when chosen)
//	Sec-WebSocket-Extensions: permessage-deflate; ...     (when negotiated)
//	<extra fields>
//
// On ErrSubprotocolNotOffered, ErrReservedHeader or ErrInvalidHeader dst
// is returned unchanged.
func (h *Handshake) AppendResponse(dst []byte, resp Response) ([]byte, error) {
	if resp.Subprotocol != "" && !slices.Contains(h.Subprotocols, resp.Subprotocol) {
		return dst, ErrSubprotocolNotOffered
	}
	for _, f := range resp.Header {
		if !isToken(f[0]) || !validFieldValue(f[1]) {
			return dst, ErrInvalidHeader
		}
		if slices.ContainsFunc(reservedResponse, func(r string) bool { return equalFoldASCII(f[0], r) }) {
			return dst, ErrReservedHeader
		}
	}
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, AcceptKey(h.Key)...)
	dst = append(dst, "\r\n"...)
	if resp.Subprotocol != "" {
		dst = append(append(append(dst, "Sec-WebSocket-Protocol: "...), resp.Subprotocol...), "\r\n"...)
	}
	if resp.Deflate != nil {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = append(resp.Deflate.appendValue(dst), "\r\n"...)
	}
	for _, f := range resp.Header {
		dst = append(append(append(append(dst, f[0]...), ": "...), f[1]...), "\r\n"...)
	}
	return append(dst, "\r\n"...), nil
}

// validFieldValue: field-vchar, SP, HTAB and obs-text only (RFC 9110
// §5.5), so no CR or LF can split the response.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
