package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"
)

// errWouldBlock is what blockingAfter returns once its data is used up:
// a test reader standing in for a client that sent its request and now
// waits for the answer.
var errWouldBlock = errors.New("read past the data the client sent")

func blockingAfter(data string) io.Reader {
	return io.MultiReader(strings.NewReader(data), iotest.ErrReader(errWouldBlock))
}

func v2(cmd, fam byte, addr []byte, tlvs ...byte) string {
	var b bytes.Buffer
	b.WriteString(v2Signature)
	b.WriteByte(0x20 | cmd)
	b.WriteByte(fam)
	binary.Write(&b, binary.BigEndian, uint16(len(addr)+len(tlvs)))
	b.Write(addr)
	b.Write(tlvs)
	return b.String()
}

func inet4(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, dport)
}

func inet6(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, dport)
}

const request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

func TestReadValidHeaders(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name   string
		header string
		want   Header
	}{
		{name: "v1 tcp4", header: "PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n",
			want: Header{Version: 1, Source: ap("203.0.113.7:51234"), Dest: ap("192.0.2.1:443")}},
		{name: "v1 tcp6", header: "PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n",
			want: Header{Version: 1, Source: ap("[2001:db8::7]:65535"), Dest: ap("[2001:db8::1]:0")}},
		{name: "v1 unknown", header: "PROXY UNKNOWN\r\n", want: Header{Version: 1, Local: true}},
		{name: "v1 unknown with addresses", header: "PROXY UNKNOWN ffff:f...f ffff:f...f 65535 65535\r\n",
			want: Header{Version: 1, Local: true}},
		{name: "v1 longest", header: "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
			want: Header{Version: 1, Source: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), Dest: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}},
		{name: "v2 proxy inet", header: v2(1, 0x11, inet4("203.0.113.7", "192.0.2.1", 51234, 443)),
			want: Header{Version: 2, Source: ap("203.0.113.7:51234"), Dest: ap("192.0.2.1:443")}},
		{name: "v2 proxy inet6", header: v2(1, 0x21, inet6("2001:db8::7", "2001:db8::1", 1, 2)),
			want: Header{Version: 2, Source: ap("[2001:db8::7]:1"), Dest: ap("[2001:db8::1]:2")}},
		{name: "v2 tlvs skipped", header: v2(1, 0x11, inet4("10.0.0.1", "10.0.0.2", 3, 4), 0x04, 0x00, 0x02, 'a', 'b'),
			want: Header{Version: 2, Source: ap("10.0.0.1:3"), Dest: ap("10.0.0.2:4")}},
		{name: "v2 local health check", header: v2(0, 0x11, inet4("10.0.0.1", "10.0.0.2", 3, 4)),
			want: Header{Version: 2, Local: true}},
		{name: "v2 unspec", header: v2(1, 0x00, nil), want: Header{Version: 2, Local: true}},
		{name: "v2 unix", header: v2(1, 0x31, make([]byte, v2UnixLen)), want: Header{Version: 2, Local: true}},
	}
	for _, tt := range tests {
		for _, split := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{{"whole", func(r io.Reader) io.Reader { return r }}, {"byte by byte", iotest.OneByteReader}} {
			t.Run(tt.name+"/"+split.name, func(t *testing.T) {
				br := bufio.NewReader(split.wrap(blockingAfter(tt.header + request)))
				got, err := Read(br)
				if err != nil {
					t.Fatalf("Read(%q) = %v", tt.header, err)
				}
				if got != tt.want {
					t.Fatalf("Read(%q) = %+v; want %+v", tt.header, got, tt.want)
				}
				rest, _ := io.ReadAll(io.LimitReader(br, int64(len(request))))
				if string(rest) != request {
					t.Fatalf("after the header: %q; want the request %q untouched", rest, request)
				}
			})
		}
	}
}

func TestReadRefusesMalformedHeaders(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   error
	}{
		{name: "plain http", header: request, want: ErrNoHeader},
		{name: "http POST starts with P", header: "POST / HTTP/1.1\r\n", want: ErrNoHeader},
		{name: "lower-case proxy", header: "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", want: ErrNoHeader},
		{name: "v1 bare LF", header: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", want: ErrInvalid},
		{name: "v1 double space", header: "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", want: ErrInvalid},
		{name: "v1 trailing space", header: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", want: ErrInvalid},
		{name: "v1 missing port", header: "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", want: ErrInvalid},
		{name: "v1 ipv6 in tcp4", header: "PROXY TCP4 ::1 ::1 1 2\r\n", want: ErrInvalid},
		{name: "v1 ipv4 in tcp6", header: "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", want: ErrInvalid},
		{name: "v1 zone", header: "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", want: ErrInvalid},
		{name: "v1 port too big", header: "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", want: ErrInvalid},
		{name: "v1 port leading zero", header: "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", want: ErrInvalid},
		{name: "v1 port sign", header: "PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n", want: ErrInvalid},
		{name: "v1 ipv4 leading zero", header: "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", want: ErrInvalid},
		{name: "v1 udp", header: "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", want: ErrInvalid},
		{name: "v1 too long", header: "PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n", want: ErrInvalid},
		{name: "v2 version 1", header: "\r\n\r\n\x00\r\nQUIT\n\x11\x11\x00\x0c" + string(inet4("1.2.3.4", "5.6.7.8", 1, 2)), want: ErrInvalid},
		{name: "v2 command 2", header: v2(2, 0x11, inet4("1.2.3.4", "5.6.7.8", 1, 2)), want: ErrInvalid},
		{name: "v2 dgram", header: v2(1, 0x12, inet4("1.2.3.4", "5.6.7.8", 1, 2)), want: ErrInvalid},
		{name: "v2 family 4", header: v2(1, 0x41, nil), want: ErrInvalid},
		{name: "v2 short address block", header: v2(1, 0x21, inet4("1.2.3.4", "5.6.7.8", 1, 2)), want: ErrInvalid},
		{name: "v2 bad signature", header: "\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x00", want: ErrNoHeader},
		{name: "CRLF then http", header: "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", want: ErrNoHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bufio.NewReader(strings.NewReader(tt.header + request)))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Read(%q) = %v; want %v", tt.header, err, tt.want)
			}
		})
	}
}

// A truncated header is an I/O error (the caller's deadline or EOF), not
// a header of a different meaning.
func TestReadTruncated(t *testing.T) {
	for _, h := range []string{"PROXY TCP4 1.2.3.4", v2(1, 0x11, inet4("1.2.3.4", "5.6.7.8", 1, 2))[:20], "PRO"} {
		_, err := Read(bufio.NewReader(strings.NewReader(h)))
		if !errors.Is(err, io.EOF) {
			t.Errorf("Read(%q) = %v; want EOF", h, err)
		}
	}
}

func TestReadSkipsLongTLVsBeyondTheBuffer(t *testing.T) {
	tlvs := make([]byte, 60000)
	h := v2(1, 0x11, inet4("10.1.1.1", "10.2.2.2", 80, 81), tlvs...)
	br := bufio.NewReaderSize(blockingAfter(h+request), 4096)
	got, err := Read(br)
	if err != nil || got.Source != netip.MustParseAddrPort("10.1.1.1:80") {
		t.Fatalf("Read = %+v, %v", got, err)
	}
	rest, _ := io.ReadAll(io.LimitReader(br, int64(len(request))))
	if string(rest) != request {
		t.Fatalf("after the header: %q", rest)
	}
}
