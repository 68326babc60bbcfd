package websocket

import (
	"encoding/binary"
	"unicode/utf8"
)

// Opcode is a frame's opcode (RFC 6455 §5.2, §11.8).
type Opcode byte

const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// isControl: opcodes with the high bit set are control frames (§5.5).
func (op Opcode) isControl() bool { return op&0x8 != 0 }

// known reports whether op is defined; %x3-7 and %xB-F are reserved
// (RFC 6455 §5.2) and fail the connection.
func (op Opcode) known() bool {
	switch op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return true
	}
	return false
}

// First header byte bits and the second byte's mask bit (RFC 6455 §5.2).
const (
	bitFin    = 0x80
	bitRsv1   = 0x40 // RFC 7692 §6: "Per-Message Compressed"
	bitRsv2   = 0x20
	bitRsv3   = 0x10
	bitMask   = 0x80
	maxHeader = 14 // 2 + 8 (64-bit length) + 4 (masking key)

	// MaxControlPayload is the largest control frame payload (§5.5).
	MaxControlPayload = 125
	// MaxCloseReason is the longest close reason: the payload less the
	// 2-byte code (§5.5.1).
	MaxCloseReason = MaxControlPayload - 2
)

// CloseCode is a close frame's status code (RFC 6455 §7.4).
type CloseCode uint16

// The codes of RFC 6455 §7.4.1 and the IANA "WebSocket Close Code
// Number Registry" (§11.7) that a server sends or receives.
const (
	CloseNormal          CloseCode = 1000
	CloseGoingAway       CloseCode = 1001
	CloseProtocolError   CloseCode = 1002
	CloseUnsupportedData CloseCode = 1003
	// CloseNoStatus (1005) is what a Close frame without a code reports;
	// it never goes on the wire (§7.4.1).
	CloseNoStatus CloseCode = 1005
	// CloseAbnormal (1006) names a connection that ended without a Close
	// frame; it never goes on the wire (§7.4.1).
	CloseAbnormal        CloseCode = 1006
	CloseInvalidPayload  CloseCode = 1007
	ClosePolicyViolation CloseCode = 1008
	CloseMessageTooBig   CloseCode = 1009
	CloseMandatoryExt    CloseCode = 1010
	CloseInternalError   CloseCode = 1011
	CloseServiceRestart  CloseCode = 1012 // IANA registry
	CloseTryAgainLater   CloseCode = 1013 // IANA registry
	CloseBadGateway      CloseCode = 1014 // IANA registry
)

// ValidOnWire reports whether c may appear in a Close frame, sent or
// received (RFC 6455 §7.4.1, §7.4.2): 1000-1003, 1007-1014, and 3000-4999
// (libraries, frameworks and applications). 0-999 are unused, 1004 is
// reserved, 1005, 1006 and 1015 are never sent, and 1016-2999 are kept
// for future revisions of the protocol: a received one fails the
// connection with 1002, as Autobahn's test suite expects.
func (c CloseCode) ValidOnWire() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// AppendFrame appends one server frame (unmasked: RFC 6455 §5.1, a
// server never masks) holding payload, with the FIN bit as given, and
// returns the extended slice. The length takes the shortest of the
// three encodings, as §5.2 requires. For example
// AppendFrame(nil, OpText, true, []byte("Hello")) is
// 0x81 0x05 0x48 0x65 0x6c 0x6c 0x6f (§5.7).
//
// The caller keeps the frame rules: a control frame is final and at most
// 125 bytes (§5.5), a text message is UTF-8 (§5.6).
func AppendFrame(dst []byte, op Opcode, fin bool, payload []byte) []byte {
	return appendFrame(dst, op, fin, false, payload)
}

func appendFrame(dst []byte, op Opcode, fin, compressed bool, payload []byte) []byte {
	dst = appendHeader(dst, op, fin, compressed, len(payload))
	return append(dst, payload...)
}

func appendHeader(dst []byte, op Opcode, fin, compressed bool, n int) []byte {
	b0 := byte(op)
	if fin {
		b0 |= bitFin
	}
	if compressed {
		b0 |= bitRsv1
	}
	switch {
	case n <= 125:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, b0, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(n))
	}
}

// AppendClose appends a Close frame with code and reason (RFC 6455
// §5.5.1). CloseNoStatus sends an empty Close frame (no code, no reason):
// what a peer that got one echoes. Otherwise code must be ValidOnWire
// and reason UTF-8 of at most 123 bytes; the slice is returned unchanged
// with ErrInvalidCloseCode or ErrCloseReason when they are not.
func AppendClose(dst []byte, code CloseCode, reason string) ([]byte, error) {
	if code == CloseNoStatus {
		if reason != "" {
			return dst, ErrCloseReason
		}
		return append(dst, bitFin|byte(OpClose), 0), nil
	}
	if !code.ValidOnWire() {
		return dst, ErrInvalidCloseCode
	}
	if len(reason) > MaxCloseReason || !utf8.ValidString(reason) {
		return dst, ErrCloseReason
	}
	dst = append(dst, bitFin|byte(OpClose), byte(2+len(reason)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...), nil
}

// AppendPong appends the Pong that answers a Ping carrying payload: the
// same application data (RFC 6455 §5.5.3). payload is at most 125 bytes
// when it comes from a Ping event.
func AppendPong(dst, payload []byte) []byte {
	return appendFrame(dst, OpPong, true, false, payload)
}

// AppendPing appends a Ping with payload (≤ 125 bytes), e.g. to probe an
// idle connection (RFC 6455 §5.5.2).
func AppendPing(dst, payload []byte) []byte {
	return appendFrame(dst, OpPing, true, false, payload)
}

// maskBytes XORs b with key, starting at key offset pos, and returns the
// offset for the byte after b (RFC 6455 §5.3). Word-at-a-time: a frame of
// a megabyte is unmasked in place without a per-byte loop.
func maskBytes(key [4]byte, pos int, b []byte) int {
	pos &= 3
	for len(b) > 0 && pos != 0 {
		b[0] ^= key[pos]
		b = b[1:]
		pos = (pos + 1) & 3
	}
	if len(b) >= 8 {
		k32 := uint64(binary.LittleEndian.Uint32(key[:]))
		k := k32 | k32<<32
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	return pos
}
