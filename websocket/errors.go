package websocket

import (
	"errors"
	"strconv"
)

// CloseError is a frame or message the Reader refuses: the peer broke
// RFC 6455 or RFC 7692, or a limit. The caller fails the connection
// (RFC 6455 §7.1.7): it sends a Close frame with Code and Reason
// (AppendClose), stops reading, and closes the TCP connection once the
// frame is written. Reason is a fixed string that never echoes peer bytes
// and fits a close frame (≤ 123 bytes).
//
// The Reader returns the shared values below; compare with errors.Is and
// do not modify them.
type CloseError struct {
	Code   CloseCode
	Reason string
}

func (e *CloseError) Error() string {
	return "websocket: " + strconv.Itoa(int(e.Code)) + " " + e.Reason
}

// Frame errors (RFC 6455 §5.2, §5.4, §5.5; RFC 7692 §6).
var (
	ErrUnmasked             = &CloseError{CloseProtocolError, "client frame not masked"}
	ErrReservedBits         = &CloseError{CloseProtocolError, "reserved bits set"}
	ErrReservedOpcode       = &CloseError{CloseProtocolError, "reserved opcode"}
	ErrFragmentedControl    = &CloseError{CloseProtocolError, "fragmented control frame"}
	ErrControlTooLong       = &CloseError{CloseProtocolError, "control frame payload over 125 bytes"}
	ErrLengthHighBit        = &CloseError{CloseProtocolError, "payload length with the most significant bit set"}
	ErrUnexpectedContinue   = &CloseError{CloseProtocolError, "continuation frame without a message"}
	ErrExpectedContinuation = &CloseError{CloseProtocolError, "new message before the last one ended"}
	ErrCompressedControl    = &CloseError{CloseProtocolError, "compressed bit on a control or continuation frame"}
	ErrBadClosePayload      = &CloseError{CloseProtocolError, "close frame payload of 1 byte"}
	ErrBadCloseCode         = &CloseError{CloseProtocolError, "invalid close code"}
	ErrBadDeflate           = &CloseError{CloseProtocolError, "invalid compressed data"}
)

// Data errors (RFC 6455 §8.1, §10.4).
var (
	ErrInvalidUTF8   = &CloseError{CloseInvalidPayload, "text message is not valid UTF-8"}
	ErrInvalidReason = &CloseError{CloseInvalidPayload, "close reason is not valid UTF-8"}
	ErrMessageTooBig = &CloseError{CloseMessageTooBig, "message too big"}
)

// HandshakeError is an opening handshake the server refuses (RFC 6455
// §4.2.1, §4.2.2). The caller answers with Status, the fields in Header
// (426 carries "Sec-WebSocket-Version: 13", RFC 6455 §4.4), and Reason,
// a fixed string that never echoes the request, then closes the
// connection. Shared values: do not modify them.
type HandshakeError struct {
	Status int
	Reason string
	Header [][2]string
}

func (e *HandshakeError) Error() string {
	return "websocket: handshake " + strconv.Itoa(e.Status) + " " + e.Reason
}

// Handshake errors.
var (
	ErrMethodNotGet        = &HandshakeError{Status: 400, Reason: "WebSocket handshake must use GET"}
	ErrHTTPVersion         = &HandshakeError{Status: 400, Reason: "WebSocket handshake needs HTTP/1.1"}
	ErrMissingHost         = &HandshakeError{Status: 400, Reason: "missing Host header"}
	ErrNotUpgrade          = &HandshakeError{Status: 400, Reason: "Upgrade header does not name websocket"}
	ErrNoConnectionUpgrade = &HandshakeError{Status: 400, Reason: "Connection header does not contain upgrade"}
	ErrBadKey              = &HandshakeError{Status: 400, Reason: "Sec-WebSocket-Key is not a base64 16-byte nonce"}
	ErrBadVersionHeader    = &HandshakeError{Status: 400, Reason: "Sec-WebSocket-Version appears more than once"}
	ErrUnsupportedVersion  = &HandshakeError{Status: 426, Reason: "unsupported WebSocket version",
		Header: [][2]string{{"Sec-WebSocket-Version", "13"}}}
	ErrBadProtocolHeader   = &HandshakeError{Status: 400, Reason: "malformed Sec-WebSocket-Protocol header"}
	ErrBadExtensionsHeader = &HandshakeError{Status: 400, Reason: "malformed Sec-WebSocket-Extensions header"}
)

// Errors that are the caller's, not the peer's.
var (
	// ErrClosed is returned by Reader.Next after it returned a Close
	// event: RFC 6455 §5.5.1 ends the data after a Close frame.
	ErrClosed = errors.New("websocket: close frame already received")
	// ErrSubprotocolNotOffered: RFC 6455 §4.2.2 lets the server pick only
	// a subprotocol the client offered.
	ErrSubprotocolNotOffered = errors.New("websocket: subprotocol not offered by the client")
	// ErrReservedHeader: an extra response field names a field this
	// package writes (Upgrade, Connection, Sec-WebSocket-*) or framing.
	ErrReservedHeader = errors.New("websocket: response header is set by the handshake")
	// ErrInvalidHeader: an extra response field's name is not a token or
	// its value holds CR, LF, NUL or another control byte.
	ErrInvalidHeader = errors.New("websocket: invalid response header")
	// ErrInvalidCloseCode: a code AppendClose may not put on the wire.
	ErrInvalidCloseCode = errors.New("websocket: invalid close code")
	// ErrCloseReason: a close reason over 123 bytes or not UTF-8.
	ErrCloseReason = errors.New("websocket: close reason over 123 bytes or not UTF-8")
)
