package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// Header is a parsed PROXY header.
type Header struct {
	// Version is 1 (text) or 2 (binary).
	Version int
	// Local: the header carries no client address (v1 "UNKNOWN", v2
	// LOCAL command or an unspecified or unix family); the caller keeps
	// the connection's own addresses.
	Local bool
	// Source is the client, Dest the address it connected to; both are
	// zero when Local.
	Source, Dest netip.AddrPort
}

// Errors of Read, all wrapping ErrInvalid except ErrNoHeader.
var (
	// ErrNoHeader: the connection does not start with a PROXY header.
	ErrNoHeader = errors.New("proxyproto: no PROXY protocol header")
	// ErrInvalid: a header started but breaks the grammar.
	ErrInvalid = errors.New("proxyproto: invalid PROXY protocol header")
)

// Limits from the specification.
const (
	maxV1Line   = 107 // "PROXY TCP6 " + two full IPv6 addresses, two ports, CRLF
	v2FixedLen  = 16  // signature, version/command, family, length
	v2INETLen   = 12  // two IPv4 addresses, two ports
	v2INET6Len  = 36  // two IPv6 addresses, two ports
	v2UnixLen   = 216 // two 108-byte paths
	v2Signature = "\r\n\r\n\x00\r\nQUIT\n"
)

// Read consumes a PROXY header from the start of r, leaving the bytes
// after it (the proxied stream) unread. It never reads past the header,
// so a short header followed by a request that waits for its answer does
// not block. The caller sets a read deadline.
func Read(r *bufio.Reader) (Header, error) {
	first, err := r.Peek(1)
	if err != nil {
		return Header{}, err
	}
	switch first[0] {
	case 'P':
		return readV1(r)
	case '\r':
		return readV2(r)
	}
	return Header{}, ErrNoHeader
}

func invalid(what string) error { return &parseError{what} }

type parseError struct{ what string }

func (e *parseError) Error() string { return ErrInvalid.Error() + ": " + e.what }
func (e *parseError) Unwrap() error { return ErrInvalid }

// readV1 reads "PROXY" SP proto SP src SP dst SP sport SP dport CRLF, or
// "PROXY UNKNOWN" followed by anything up to CRLF (spec §2.1).
func readV1(r *bufio.Reader) (Header, error) {
	if sig, err := r.Peek(len("PROXY ")); err != nil || string(sig) != "PROXY " {
		if err == nil || len(sig) > 0 && !bytes.HasPrefix([]byte("PROXY "), sig) {
			return Header{}, ErrNoHeader
		}
		return Header{}, err
	}
	line, err := peekLine(r)
	if err != nil {
		return Header{}, err
	}
	r.Discard(len(line))
	line = line[:len(line)-1] // the LF
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return Header{}, invalid("v1 line not terminated by CRLF")
	}
	line = line[:len(line)-1]
	rest := line[len("PROXY "):]
	if bytes.HasPrefix(rest, []byte("UNKNOWN")) && (len(rest) == 7 || rest[7] == ' ') {
		return Header{Version: 1, Local: true}, nil
	}
	fields := bytes.Split(rest, []byte(" "))
	if len(fields) != 5 {
		return Header{}, invalid("v1 wants: proto src dst sport dport, single spaces")
	}
	var want6 bool
	switch string(fields[0]) {
	case "TCP4":
	case "TCP6":
		want6 = true
	default:
		return Header{}, invalid("v1 protocol is not TCP4, TCP6 or UNKNOWN")
	}
	src, err1 := v1Addr(fields[1], fields[3], want6)
	dst, err2 := v1Addr(fields[2], fields[4], want6)
	if err := errors.Join(err1, err2); err != nil {
		return Header{}, err
	}
	return Header{Version: 1, Source: src, Dest: dst}, nil
}

// peekLine returns the buffered bytes up to and including the first LF,
// waiting for more input only while none is found, and refusing a line
// longer than maxV1Line. The bytes are not consumed.
func peekLine(r *bufio.Reader) ([]byte, error) {
	n := 1
	for {
		buf, err := r.Peek(n)
		if err != nil {
			return nil, err
		}
		buf, _ = r.Peek(r.Buffered()) // everything that already arrived
		if i := bytes.IndexByte(buf[:min(len(buf), maxV1Line)], '\n'); i >= 0 {
			return buf[:i+1], nil
		}
		if len(buf) >= maxV1Line {
			return nil, invalid("v1 line longer than 107 bytes")
		}
		n = len(buf) + 1
	}
}

// v1Addr parses an address in the family the protocol names and a
// decimal port 0-65535 without leading zeros.
func v1Addr(host, port []byte, want6 bool) (netip.AddrPort, error) {
	ip, err := netip.ParseAddr(string(host))
	if err != nil || ip.Zone() != "" || ip.Is6() != want6 {
		return netip.AddrPort{}, invalid("v1 address does not match its protocol")
	}
	if len(port) == 0 || len(port) > 5 || (port[0] == '0' && len(port) > 1) {
		return netip.AddrPort{}, invalid("v1 port is not a decimal 0-65535")
	}
	p, err := strconv.ParseUint(string(port), 10, 16)
	if err != nil {
		return netip.AddrPort{}, invalid("v1 port is not a decimal 0-65535")
	}
	return netip.AddrPortFrom(ip, uint16(p)), nil
}

// readV2 reads the binary header (spec §2.2): the 12-byte signature,
// version and command, family and transport, a big-endian length, the
// address block, then TLVs, which are skipped.
func readV2(r *bufio.Reader) (Header, error) {
	fixed, err := r.Peek(v2FixedLen)
	if err != nil {
		if len(fixed) > 0 && !bytes.HasPrefix([]byte(v2Signature), fixed) {
			return Header{}, ErrNoHeader
		}
		return Header{}, err
	}
	if string(fixed[:12]) != v2Signature {
		return Header{}, ErrNoHeader
	}
	verCmd, famProto := fixed[12], fixed[13]
	length := int(binary.BigEndian.Uint16(fixed[14:16]))
	if verCmd>>4 != 2 {
		return Header{}, invalid("v2 version is not 2")
	}
	h := Header{Version: 2}
	var local bool
	switch verCmd & 0x0f {
	case 0x0: // LOCAL: a health check from the proxy itself
		local = true
	case 0x1: // PROXY
	default:
		return Header{}, invalid("v2 command is neither LOCAL nor PROXY")
	}
	addrLen, err := v2AddrLen(famProto)
	if err != nil {
		return Header{}, err
	}
	if length < addrLen {
		return Header{}, invalid("v2 length shorter than its address block")
	}
	if !local && addrLen > 0 && famProto>>4 != 0x3 {
		block, err := r.Peek(v2FixedLen + addrLen)
		if err != nil {
			return Header{}, err
		}
		h.Source, h.Dest = v2Addrs(famProto>>4, block[v2FixedLen:])
	}
	h.Local = !h.Source.IsValid()
	if _, err := r.Discard(v2FixedLen + length); err != nil {
		return Header{}, err
	}
	return h, nil
}

// v2AddrLen is the address block size of a family/transport byte.
func v2AddrLen(famProto byte) (int, error) {
	switch famProto & 0x0f {
	case 0x0, 0x1: // UNSPEC or STREAM; DGRAM cannot carry HTTP
	default:
		return 0, invalid("v2 transport is not a stream")
	}
	switch famProto >> 4 {
	case 0x0:
		return 0, nil
	case 0x1:
		return v2INETLen, nil
	case 0x2:
		return v2INET6Len, nil
	case 0x3:
		return v2UnixLen, nil
	}
	return 0, invalid("v2 address family unknown")
}

func v2Addrs(family byte, b []byte) (src, dst netip.AddrPort) {
	n := 4
	if family == 0x2 {
		n = 16
	}
	srcIP, _ := netip.AddrFromSlice(b[:n])
	dstIP, _ := netip.AddrFromSlice(b[n : 2*n])
	ports := b[2*n:]
	return netip.AddrPortFrom(srcIP, binary.BigEndian.Uint16(ports[0:2])),
		netip.AddrPortFrom(dstIP, binary.BigEndian.Uint16(ports[2:4]))
}
